"""The chapter's figures: trajectories with break-even points, peaks against the knobs, the EoS."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from trainingdynamics import plotting
from trainingdynamics.studies.break_even import summaries as S
from trainingdynamics.studies.break_even.analysis import Grid, grid_runs
from trainingdynamics.studies.break_even.config import EDGE_BAND
from trainingdynamics.studies.break_even.experiment import BreakEvenResult
from trainingdynamics.studies.break_even.sgd import SGDRun

_GRID_SYMBOLS = {"lr": r"\eta", "batch": "B", "bn": r"\eta"}
_PANELS = [
    ("hessian_top", r"$\lambda_H^1$ (loss/param²)", "top Hessian eigenvalue"),
    ("covariance_top", r"$\lambda_K^1$ (loss²/param²)", "top gradient-covariance eigenvalue"),
    ("trace_ratio", r"Tr $K/\lambda_K^1$", "conditioning of K (paper's metric)"),
    ("stability", "Eq. 1 left side", "stability along $e_H^1$ (1: break-even)"),
]


def _mark(ax, t: SGDRun, series: np.ndarray, color: str) -> None:
    """The sharpness peak (dot) and the Eq. 1 break-even point (star) of one run."""
    p = S.peak_index(t)
    ax.plot(t.steps[p] + 1, series[p], "o", color=color, ms=5, mec="black", mew=0.6)
    if t.break_even is not None:
        b = t.break_even
        ax.plot(t.steps[b] + 1, series[b], "*", color=color, ms=10, mec="black", mew=0.6)


def plot_trajectories(result: BreakEvenResult, grid: Grid) -> Figure:
    """λ_H^1, λ_K^1, Tr K/λ_K^1 and Eq. 1's left side against the step per value of the grid's
    knob; dots: sharpness peaks, stars: Eq. 1 break-even points.
    """
    symbol = _GRID_SYMBOLS[grid]
    groups = grid_runs(result, grid)
    fig, axes = plotting.figure(2, nrows=2, width=4.6, height=3.3)
    axes = axes.ravel()
    for color, (value, runs) in zip(plotting.colors(len(groups)), groups.items(), strict=True):
        for i, t in enumerate(runs):
            for ax, (quantity, _, _) in zip(axes, _PANELS, strict=True):
                series = getattr(t, quantity)
                label = f"${symbol}$ = {value:g}" if i == 0 else None
                ax.plot(t.steps + 1, series, color=color, alpha=1.0 if i == 0 else 0.45, lw=1.2,
                        label=label)  # fmt: skip
                _mark(ax, t, series, color)
        if grid != "batch":
            axes[0].axhline(2 / value, color=color, ls="--", lw=0.9)
    axes[3].axhline(1.0, color="black", ls=":", lw=1.0)
    for ax, (_, ylabel, title) in zip(axes, _PANELS, strict=True):
        ax.set(xscale="log", yscale="log" if ax is not axes[2] else "linear")
        plotting.label(ax, "SGD step + 1", ylabel, title)
    axes[0].legend()
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


def _errorbar(ax, groups: dict, summary: Callable[[SGDRun], float], **style: object) -> None:
    """Median over seeds against the knob, with the range over seeds."""
    x, median, low, high = _peak_summary(groups, summary)
    ax.errorbar(x, median, yerr=[median - low, high - median], marker="o", capsize=3, **style)


def plot_peaks(result: BreakEvenResult) -> Figure:
    """Against η (± BatchNorm): max λ_H^1, max λ_K^1, max Tr K/λ_K^1 after the peak, max Tr H,
    max Tr K; and max λ_K^1 against B.
    """
    fig, axes = plotting.figure(3, nrows=2, width=4.0, height=3.2)
    axes = axes.ravel()
    panels = [
        (S.hessian_peak, r"max $\lambda_H^1$ (loss/param²)", "log"),
        (S.covariance_peak, r"max $\lambda_K^1$ (loss²/param²)", "log"),
        (S.trace_ratio_after_peak, r"max Tr $K/\lambda_K^1$ after the peak", "linear"),
        (S.hessian_trace_peak, r"max Tr $H$ (Hutchinson)", "log"),
        (S.covariance_trace_peak, r"max Tr $K$", "log"),
    ]
    palette = plotting.colors(3)
    for grid, color, name in (("lr", palette[0], "plain CNN"), ("bn", palette[1], "BatchNorm")):
        groups = grid_runs(result, grid)
        for ax, (summary, ylabel, scale) in zip(axes, panels, strict=False):
            _errorbar(ax, groups, summary, color=color, label=name)
            ax.set(xscale="log", yscale=scale)
            plotting.label(ax, r"learning rate $\eta$", ylabel)
    bn = grid_runs(result, "bn")
    _errorbar(axes[2], bn, S.minibatch_ratio_after_peak, color=palette[1], ls="--",
              label="BatchNorm, mini-batch K")  # fmt: skip
    etas = np.array(result.cfg.learning_rates)
    axes[0].plot(etas, 2 / etas, "k--", lw=0.9, label=r"$2/\eta$")
    axes[0].legend()
    axes[2].legend()
    _errorbar(axes[5], grid_runs(result, "batch"), S.covariance_peak, color=palette[2])
    axes[5].set(xscale="log", yscale="log")
    plotting.label(axes[5], rf"batch size $B$ ($\eta$ = {result.cfg.batch_lr:g})",
                   r"max $\lambda_K^1$ (loss²/param²)")  # fmt: skip
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
    axes[0].legend()
    return fig


def plot_hessian_density(result: BreakEvenResult) -> Figure:
    """The Hessian's spectral density (SLQ) at initialisation and at the end of the smallest and
    largest learning rates' runs, on one grid; dashed: 2/η.
    """
    runs = [t for t in result.runs.values() if t.densities]
    densities = [d for t in runs for d in t.densities.values()]
    lo = min(float(d.nodes.min()) for d in densities)
    hi = max(float(d.nodes.max()) for d in densities)
    sigma = 0.01 * (hi - lo)
    grid = np.linspace(lo - 5 * sigma, hi + 5 * sigma, 512)
    fig, axes = plotting.figure(len(runs), width=4.6, height=3.4, squeeze=False)
    for ax, t in zip(axes[0], runs, strict=True):
        for (stage, density), color in zip(t.densities.items(), plotting.colors(2), strict=True):
            when = "initialisation" if stage == "start" else f"step {t.steps[-1]:,}"
            ax.semilogy(
                grid, np.maximum(density.density(grid, sigma), 1e-8), color=color, label=when
            )
        ax.axvline(2 / t.lr, color="0.4", ls="--", lw=1, label=r"$2/\eta$")
        reached = "break-even reached" if t.break_even is not None else "break-even not reached"
        plotting.label(ax, r"eigenvalue $\lambda$ of $H$", "density", f"η = {t.lr:g} ({reached})")
        ax.set_ylim(bottom=1e-6)
        ax.legend()
    return fig
