"""Figures of the plateaus chapter: functions the notebook calls."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainingdynamics.diagnostics.activation import (
    active_intervals,
    detect_phases,
)
from trainingdynamics.models.shallow import (
    Params,
    forward,
)
from trainingdynamics.plotting import colors, figure, label, shade_intervals
from trainingdynamics.studies.plateaus.analysis import _record_index, lower_bound_excess, run_view
from trainingdynamics.studies.plateaus.chapter import (
    PlateausResult,
    _first_converged,
    _polished_sets,
)
from trainingdynamics.studies.plateaus.experiment import Experiment
from trainingdynamics.studies.plateaus.stationary import Polished, _converged_gaps, _neuron_lines


def _plot_convergence(
    polished: Polished, summary: pd.DataFrame, ax, *, prefix: str = "", offset: int = 0
) -> int:
    """L_t − L_A against the GD step inside the frozen pattern, one line per converged run
    (semi-log); returns the line count."""
    gaps = _converged_gaps(polished, summary)
    steps = polished.restart.trajectory.steps
    palette = colors(offset + max(len(gaps), 1))[offset : offset + len(gaps)]
    for colour, (flat, _, gap) in zip(palette, gaps, strict=True):
        name = f"{prefix}{summary.at[flat, 'target']}, seed {summary.at[flat, 'seed']}"
        ax.semilogy(steps, np.maximum(gap, 1e-18), color=colour, label=name)
    ax.set_ylim(1e-18, None)
    label(
        ax,
        "GD step from the perturbed stationary point",
        "$L_t - L_A$",
        "Linear convergence inside a fixed pattern",
    )
    return len(gaps)


def plot_all_convergence(result: PlateausResult):
    """:func:`plot_convergence` for the main and the (C1)-regime polished runs on one axis."""
    fig, ax = figure(width=6.5)
    curves = 0
    for name, polished, summary in _polished_sets(result):
        prefix = name.split(" (")[0] + ": "
        curves += _plot_convergence(polished, summary, ax, prefix=prefix, offset=curves)
    if curves:
        ax.legend()
    return fig


def plot_loss_and_pattern(experiment: Experiment, index: tuple[int, ...], title: str):
    """Loss vs step (log-log) with detected plateaus shaded, above a raster of count changes k_j(t)
    − k_j(0)."""
    x, y, t = run_view(experiment, index)
    phases = detect_phases(t.steps, t.loss)
    fig, (top, bottom) = figure(1, 2, width=7.5, height=2.8, sharex=True)
    keep = t.steps >= 1
    top.loglog(t.steps[keep], t.loss[keep], color=colors(1)[0])
    shade_intervals(top, phases.plateaus, label="detected plateau")
    if phases.plateaus:
        top.legend(loc="lower left")
    label(top, "", "training loss L", title)
    change = t.counts[keep] - t.counts[0]
    order = np.argsort(change[-1], kind="stable")
    limit = max(1, np.abs(change).max())
    mesh = bottom.pcolormesh(
        t.steps[keep],
        np.arange(change.shape[-1] + 1),
        change[:, order].T[:, :-1],
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        shading="flat",
    )
    bottom.set_xscale("log")
    fig.colorbar(mesh, ax=bottom, label="k_j(t) − k_j(0) (points)")
    label(bottom, "GD step t", "neuron j")
    return fig


def _plot_local_lines(x: np.ndarray, y: np.ndarray, p: Params, ax, count: int = 3) -> None:
    """Data, N(x), and for the ``count`` neurons with largest |c_j| the LS lines of y and of N over
    A_j."""
    network = forward(x, p)
    lo, hi = active_intervals(x, p.w, p.b)
    ax.plot(x, y, "o", ms=3, color="0.5", label="data y")
    ax.plot(x, network, color="k", lw=1.2, label="network N(x)")
    eligible = np.flatnonzero(hi - lo >= 2)
    for colour, j in zip(
        colors(count), eligible[np.argsort(-np.abs(p.c[eligible]))][:count], strict=False
    ):
        xs, line_y, line_n = _neuron_lines(x, y, network, lo[j], hi[j])
        ax.plot(xs, line_y, color=colour, lw=3, alpha=0.5, label=f"LS line of y on A_{j}")
        ax.plot(xs, line_n, color=colour, lw=1, ls="--", label=f"LS line of N on A_{j}")
    ax.legend(ncol=2)


def plot_loss_and_level(result: PlateausResult, index: tuple[int, ...]):
    """L_t and its pattern least-squares level L_{A(t)} (left), ‖∇L‖ (right); plateaus shaded."""
    levels, _ = lower_bound_excess(result.main, index)
    _, _, run = run_view(result.main, index)
    phases = detect_phases(run.steps, run.loss)
    keep = run.steps >= 1
    fig, (left, right) = figure(2, 1, width=5.0)
    loss_colour, level_colour = colors(2)
    left.loglog(run.steps[keep], run.loss[keep], label="loss $L_t$", color=loss_colour)
    level = np.maximum(levels[keep], 1e-16)
    label_a = "pattern least squares $L_{A(t)}$"
    left.loglog(run.steps[keep], level, "--", label=label_a, color=level_colour)
    shade_intervals(left, phases.plateaus)
    left.legend()
    label(left, "GD step t", "loss", "Loss and its pattern least-squares level")
    right.loglog(run.steps[keep], run.grad_norm[keep], color=colors(3)[2])
    shade_intervals(right, phases.plateaus)
    label(right, "GD step t", "gradient norm ‖∇L‖", "Gradient norm")
    return fig


def plot_stationary_points(result: PlateausResult, index: tuple[int, ...]):
    """Local lines at the first converged polished run (left) and at the end of the last plateau of
    run ``index``."""
    fig, (left, right) = figure(2, 1, width=5.2)
    converged = _first_converged(result)
    if converged is not None:
        polished_runs, index_c, name = converged
        xs, ys, _ = run_view(polished_runs.experiment, index_c)
        point = polished_runs.point.map(lambda a: a[index_c])
        _plot_local_lines(xs, ys, point, left)
        label(left, "input x", "output", f"Stationary point ({name})")
    x, y, run = run_view(result.main, index)
    phases = detect_phases(run.steps, run.loss)
    end = _record_index(run, phases.plateaus[-1][1]) if phases.plateaus else -1
    _plot_local_lines(x, y, run.at(end), right)
    label(right, "input x", "output", f"At step {run.steps[end]} of the run above")
    return fig
