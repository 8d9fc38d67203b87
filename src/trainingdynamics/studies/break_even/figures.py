"""The chapter's figures: trajectories with break-even points, peaks against the knobs, the EoS."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from trainingdynamics import plotting
from trainingdynamics.studies.break_even.analysis import (
    Grid,
    conditioning_after_break_even,
    covariance_peak,
    grid_runs,
    hessian_peak,
)
from trainingdynamics.studies.break_even.config import EDGE_BAND
from trainingdynamics.studies.break_even.experiment import BreakEvenResult, SGDRun

_GRID_SYMBOLS = {"lr": r"\eta", "batch": "B", "bn": r"\eta"}


def plot_trajectories(result: BreakEvenResult, grid: Grid) -> Figure:
    """λ_H^1, λ_K^1 and Tr K against the step per value of the grid's knob, break-even points
    marked.
    """
    symbol = _GRID_SYMBOLS[grid]
    groups = grid_runs(result, grid)
    fig, axes = plotting.figure(3, width=4.6, height=3.4)
    panels = [
        ("hessian_top", r"$\lambda_H^1$ (loss/param²)", "top Hessian eigenvalue"),
        ("covariance_top", r"$\lambda_K^1$ (loss²/param²)", "top gradient-covariance eigenvalue"),
        ("covariance_trace", r"Tr $K$ (loss²/param²)", "total gradient variance"),
    ]
    for color, (value, runs) in zip(plotting.colors(len(groups)), groups.items(), strict=True):
        for i, t in enumerate(runs):
            for ax, (quantity, _, _) in zip(axes, panels, strict=True):
                ax.plot(
                    t.steps + 1,
                    getattr(t, quantity),
                    color=color,
                    alpha=1.0 if i == 0 else 0.45,
                    lw=1.4,
                    label=f"${symbol}$ = {value:g}" if i == 0 else None,
                )
                ax.plot(
                    t.steps[t.break_even] + 1,
                    getattr(t, quantity)[t.break_even],
                    "o",
                    color=color,
                    ms=5,
                    mec="black",
                    mew=0.6,
                )
        if grid != "batch":
            axes[0].axhline(2 / value, color=color, ls="--", lw=0.9)
    for ax, (_, ylabel, title) in zip(axes, panels, strict=True):
        ax.set(xscale="log", yscale="log")
        plotting.label(ax, "SGD step + 1", ylabel, title)
    axes[0].legend(fontsize=8)
    return fig


def _peak_summary(
    groups: dict[float, list[SGDRun]], summary: Callable[[SGDRun], float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Knob values and the median, min and max over seeds of ``summary(trajectory)``."""
    knobs = np.array(list(groups))
    values = [np.array([summary(t) for t in runs]) for runs in groups.values()]
    return (
        knobs,
        np.array([np.median(v) for v in values]),
        np.array([v.min() for v in values]),
        np.array([v.max() for v in values]),
    )


def plot_peaks(result: BreakEvenResult) -> Figure:
    """max λ_H^1, max λ_K^1 and K's conditioning against η (± BatchNorm), max λ_K^1 against B."""
    fig, axes = plotting.figure(2, nrows=2, width=4.6, height=3.3)
    axes = axes.ravel()
    k = result.cfg.condition_k
    panels = [
        (axes[0], hessian_peak, r"peak of $\lambda_H^1$ (loss/param²)"),
        (axes[1], covariance_peak, r"peak of $\lambda_K^1$ (loss²/param²)"),
        (
            axes[2],
            conditioning_after_break_even,
            rf"best $\lambda_K^{{{k}}}/\lambda_K^1$ after break-even",
        ),
    ]
    palette = plotting.colors(3)
    for grid, color, name in (
        ("lr", palette[0], "plain CNN"),
        ("bn", palette[1], "with BatchNorm"),
    ):
        groups = grid_runs(result, grid)
        for ax, summary, ylabel in panels:
            x, median, low, high = _peak_summary(groups, summary)
            ax.errorbar(
                x,
                median,
                yerr=[median - low, high - median],
                color=color,
                marker="o",
                capsize=3,
                label=name,
            )
            ax.set(
                xscale="log",
                yscale="log" if summary is not conditioning_after_break_even else "linear",
            )
            plotting.label(ax, r"learning rate $\eta$", ylabel)
    etas = np.array(result.cfg.learning_rates)
    axes[0].plot(etas, 2 / etas, "k--", lw=0.9, label=r"$2/\eta$")
    axes[0].legend(fontsize=8)
    x, median, low, high = _peak_summary(grid_runs(result, "batch"), covariance_peak)
    axes[3].errorbar(
        x, median, yerr=[median - low, high - median], color=palette[2], marker="o", capsize=3
    )
    axes[3].set(xscale="log", yscale="log")
    plotting.label(
        axes[3],
        rf"batch size $B$ ($\eta$ = {result.cfg.batch_lr:g})",
        r"peak of $\lambda_K^1$ (loss²/param²)",
    )
    return fig


def plot_edge_of_stability(result: BreakEvenResult) -> Figure:
    """Full-batch GD: λ_H^1 against the step, 2/η and the [1.5/η, 2.5/η] band, and the loss."""
    fig, axes = plotting.figure(2, width=5.0, height=3.4)
    for color, e in zip(plotting.colors(len(result.edge)), result.edge, strict=True):
        axes[0].plot(e.steps, e.sharpness, color=color, label=rf"$\eta$ = {e.lr:g}")
        axes[0].axhline(2 / e.lr, color=color, ls="--", lw=0.9)
        axes[0].fill_between(
            [e.midpoint, len(e.loss)],
            EDGE_BAND[0] / e.lr,
            EDGE_BAND[1] / e.lr,
            color=color,
            alpha=0.12,
            lw=0,
        )
        axes[1].plot(np.arange(len(e.loss)), e.loss, color=color)
    axes[0].set_yscale("log")
    plotting.label(
        axes[0], "GD step", r"sharpness $\lambda_H^1$ (loss/param²)", r"sharpness; dashed: $2/\eta$"
    )
    axes[1].set_yscale("log")
    plotting.label(
        axes[1],
        "GD step",
        r"training loss $\frac{1}{2}\|f - y\|^2$ (mean)",
        "loss (non-monotone at the edge)",
    )
    axes[0].legend(fontsize=8)
    return fig
