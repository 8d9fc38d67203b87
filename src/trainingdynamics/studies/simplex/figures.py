"""The chapter's figures: loss along the vertices, running estimates of L*, steps and densities."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from trainingdynamics import plotting
from trainingdynamics.algorithms.simplex import distinct_vertices
from trainingdynamics.studies.simplex.analysis import (
    _density_medians,
    _running_estimates,
    _vertex_losses,
    decay_statistics,
)
from trainingdynamics.studies.simplex.experiment import SimplexRuns


def plot_loss(result: SimplexRuns) -> Figure:
    """L_k at every vertex of each deep run (left) and the remaining gap L_k − L_K, log scale."""
    colors = plotting.colors(len(result.seeds))
    fig, (ax_loss, ax_gap) = plotting.figure(ncols=2)
    for trace, s, c in zip(result.deep, result.seeds, colors, strict=True):
        k = np.arange(trace.pivots + 1)
        ax_loss.plot(k, trace.direct_losses, color=c, label=f"seed {s} ({trace.status})")
        gap = trace.direct_losses - trace.direct_losses[-1]
        ax_gap.semilogy(k[gap > 0], gap[gap > 0], color=c)
    plotting.label(
        ax_loss, "vertex k (pivots)", "L1 loss $L_k$ (sum over data)", "Loss at iterated vertices"
    )
    plotting.label(ax_gap, "vertex k (pivots)", "$L_k - L_K$", "Remaining gap (log scale)")
    ax_loss.legend(fontsize=8)
    return fig


def plot_running_estimates(result: SimplexRuns) -> Figure:
    """Per deep run: L_k at the distinct vertices, the running L̂*(k) and the 0.8K mark."""
    colors = plotting.colors(len(result.seeds))
    fig, axes = plotting.figure(ncols=len(result.seeds), width=3.2, height=3.0, squeeze=False)
    for ax, trace, s, c in zip(axes[0], result.deep, result.seeds, colors, strict=True):
        losses = _vertex_losses(trace)
        ks, estimates = _running_estimates(trace)
        decay = decay_statistics(trace)
        ax.plot(np.arange(len(losses)), losses, color=c, label="$L_k$")
        ax.axvline(decay.window_stop, ls=":", color="0.5", lw=1, label="0.8K")
        ax.plot(ks, estimates, "o", ms=3, color="0.3", label=r"$\hat L^\star(k)$")
        ax.axhline(losses[-1], ls="--", color="k", lw=1, label="final loss")
        if losses[0] > losses[-1]:  # a run certified at its first vertex has nothing to zoom into
            ax.set_ylim(losses[-1] - 0.5 * (losses[0] - losses[-1]), losses[0])
        plotting.label(ax, "distinct vertex k", "L1 loss", f"seed {s}")
    axes[0][0].legend(fontsize=7)
    return fig


def plot_steps_and_density(result: SimplexRuns) -> Figure:
    """Steps and distance to the last vertex of the first deep run; median boundary densities."""
    trace = result.deep[0]
    thetas = trace.thetas[distinct_vertices(trace)]
    fig, (ax_step, ax_density) = plotting.figure(ncols=2)
    steps = np.linalg.norm(np.diff(thetas, axis=0), axis=1)
    ax_step.semilogy(steps, ".", ms=2, label=r"step $\|\theta_{k+1}-\theta_k\|$")
    ax_step.semilogy(np.linalg.norm(thetas - thetas[-1], axis=1), label="distance to last vertex")
    plotting.label(
        ax_step,
        "distinct vertex k",
        "length in parameter space",
        f"Steps, deep network, seed {result.seeds[0]}",
    )
    ax_step.legend(fontsize=8)
    width = 0.38
    medians = _density_medians(result.table)
    for j, (column, name) in enumerate(
        [("density start", "first vertex"), ("density end", "last vertex")]
    ):
        ax_density.bar(
            np.arange(len(medians)) + (j - 0.5) * width,
            medians[column],
            width,
            label=name,
            color=plotting.colors(2)[j],
        )
    ax_density.set_xticks(np.arange(len(medians)), medians.index)
    plotting.label(
        ax_density,
        "network",
        "crossings per unit length (median)",
        f"Boundary density on lines of length 2ρ = {2 * result.cfg.ray_radius}",
    )
    ax_density.legend(fontsize=8)
    return fig
