"""Figures of the ANLS chapter: functions the notebook calls."""

from __future__ import annotations

import numpy as np

from trainingdynamics.algorithms.anls import (
    plane_forward,
)
from trainingdynamics.models.shallow import (
    forward,
)
from trainingdynamics.plotting import colors, figure, label
from trainingdynamics.studies.anls.experiment import Runs
from trainingdynamics.studies.anls.planes import PlaneExperiment


def plot_planes(experiment: PlaneExperiment):
    """Loss of every ANLS run and of GD (median) by iteration, and the hyperplanes of the first ANLS
    network."""
    fig, (curves, plane) = figure(2, 1, width=4.6, height=3.6)
    anls_color, gd_color = colors(2)
    for k, r in enumerate(experiment.anls):
        curves.loglog(
            np.arange(1, len(r.losses) + 1),
            np.maximum(r.losses, 1e-34),
            color=anls_color,
            alpha=0.4,
            lw=1,
            label="ANLS (ours), each run" if k == 0 else None,
        )
    curves.loglog(
        experiment.gd_steps + 1,
        np.median(experiment.gd_loss, axis=0),
        color=gd_color,
        lw=2,
        label="GD, median",
    )
    curves.legend()
    label(curves, "iteration / step + 1", "training loss L", "|x₁| + |x₂| on a 2-D grid")
    network = experiment.anls[0].networks[-1]
    X = experiment.X
    plane.scatter(X[:, 0], X[:, 1], c=plane_forward(X, network), cmap="viridis", s=14)
    t = np.linspace(-1.5, 1.5, 2)
    for w, b in zip(
        network.w, network.b, strict=True
    ):  # w·x + b = 0 through the point −b w (unit normal), along w⊥
        plane.plot(-b * w[0] - t * w[1], -b * w[1] + t * w[0], color="k", lw=1)
    plane.set_xlim(-1.1, 1.1), plane.set_ylim(-1.1, 1.1)
    label(plane, "input x₁", "input x₂", "ANLS network: hyperplanes, colour N(x)")
    return fig


def plot_losses(runs: Runs, seed_index: int = 0):
    """Loss of ANLS, GD and Adam from one initialisation: against iterations (left) and wall-clock
    seconds (right).

    Iterations and steps are shifted by one for the log axis; ANLS's start (0 s) is drawn at 0.1 ms.
    """
    fig, (by_step, by_time) = figure(2, 1, width=5.0, height=3.4)
    anls_run = runs.anls[seed_index]
    gd_steps, gd_loss = runs.gd.steps, runs.gd.loss[seed_index]
    per_gd_step = runs.gd_seconds / len(runs.anls) / max(int(gd_steps[-1]), 1)
    per_adam_step = runs.adam_seconds / len(runs.anls) / max(int(runs.adam_steps[-1]), 1)
    anls_color, gd_color, adam_color = colors(3)
    iterations = np.arange(len(anls_run.losses))
    for ax, (anls_x, gd_x, adam_x) in (
        (by_step, (iterations + 1, gd_steps + 1, runs.adam_steps + 1)),
        (
            by_time,
            (
                anls_run.seconds + 1e-4,
                (gd_steps + 1) * per_gd_step,
                (runs.adam_steps + 1) * per_adam_step,
            ),
        ),
    ):
        ax.loglog(gd_x, gd_loss, color=gd_color, label="GD")
        ax.loglog(adam_x, runs.adam_loss[seed_index], color=adam_color, label="Adam")
        ax.loglog(
            anls_x,
            np.maximum(anls_run.losses, 1e-34),
            "o-",
            ms=3,
            color=anls_color,
            label="ANLS (ours)",
        )
    label(by_step, "iteration / step + 1", "training loss L", f"{runs.target}: by iteration")
    label(by_time, "wall-clock time (s)", "training loss L", f"{runs.target}: by time")
    by_step.legend()
    return fig


def plot_rasters(runs: Runs, seed_index: int = 0):
    """Changes of the activation counts k_j(t) − k_j(0): ANLS per iteration beside GD per recorded
    step (log axis)."""
    anls_change = runs.anls[seed_index].counts(len(runs.x))
    anls_change = anls_change - anls_change[0]
    keep = runs.gd.steps >= 1
    gd_change = runs.gd.counts[seed_index][keep] - runs.gd.counts[seed_index][0]
    limit = max(1, np.abs(anls_change).max(), np.abs(gd_change).max())
    style = dict(cmap="RdBu_r", vmin=-limit, vmax=limit, shading="flat")
    neurons = np.arange(anls_change.shape[1] + 1)
    fig, (left, right) = figure(2, 1, width=5.0, height=3.0)
    left.pcolormesh(np.arange(len(anls_change) + 1) - 0.5, neurons, anls_change.T, **style)
    mesh = right.pcolormesh(runs.gd.steps[keep], neurons, gd_change.T[:, :-1], **style)
    right.set_xscale("log")
    fig.colorbar(mesh, ax=right, label="k_j(t) − k_j(0) (points)")
    label(left, "ANLS iteration", "neuron j", "ANLS: a move every iteration")
    label(right, "GD step", "neuron j", "GD: long frozen stretches")
    return fig


def plot_fits(runs: list[Runs], seed_index: int = 0):
    """Data and the final networks of ANLS and GD for each target (first initialisation)."""
    fig, axes = figure(len(runs), 1, width=3.6, height=3.0)
    for ax, r in zip(np.atleast_1d(axes), runs, strict=True):
        fine = np.linspace(r.x[0], r.x[-1], 400)
        a = r.anls[seed_index]
        gd_final = r.gd.final.map(lambda v: v[seed_index])
        ax.plot(r.x, r.y, "o", ms=3, color="0.5", label="data")
        ax.plot(fine, forward(fine, gd_final), color=colors(3)[1], label="GD")
        ax.plot(fine, forward(fine, a.params), color=colors(3)[0], label="ANLS (ours)")
        label(ax, "input x", "output N(x)", r.target)
    np.atleast_1d(axes)[0].legend()
    return fig
