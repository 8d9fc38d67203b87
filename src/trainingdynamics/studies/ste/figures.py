"""The chapter's figures: each takes the run's result and draws one figure of the notebook."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from trainingdynamics import plotting
from trainingdynamics.algorithms import ste as S

from .analysis import _continuation, _trajectory_cosines
from .config import RATIO_DISTANCES, RATIO_FIT_FROM
from .experiment import SteResult
from .quantized import LEARNING_RATE_KINDS, REPELLED_STARTS
from .toy import landscape


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Columns with a finite entry: their indices and the median, min and max over rows."""
    kept = np.flatnonzero(np.isfinite(values).any(axis=0))
    finite = values[:, kept]
    return kept, np.nanmedian(finite, axis=0), np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)


def plot_band(ax, x: np.ndarray, values: np.ndarray, color, label: str | None = None) -> None:
    """Median over rows of ``values`` (runs × x) as a line, min to max shaded; NaN columns out."""
    columns, median, low, high = _band(values)
    ax.plot(np.asarray(x)[columns], median, color=color, label=label)
    ax.fill_between(np.asarray(x)[columns], low, high, color=color, alpha=0.2)


def _colours() -> list[tuple[float, float, float]]:
    """One colour per STE, in the order of ``STES``."""
    return plotting.colors(len(S.STES))


def plot_landscape(result: SteResult) -> Figure:
    """f along θ for v = v*, v at the spurious minima, and the best v for each θ."""
    thetas = np.linspace(1e-3, np.pi, 300)
    fig, ax = plotting.figure()
    curves = landscape(result.teacher, thetas)
    for (name, curve), color in zip(curves.items(), plotting.colors(3), strict=True):
        ax.plot(thetas, curve, label=name, color=color)
    ax.axvline(np.pi, color="0.5", ls=":")
    plotting.label(ax, "angle θ between w and w* (rad)", "population loss f", "f along θ")
    ax.legend()
    return fig


def plot_correlations(result: SteResult) -> Figure:
    """cos(E g_w, ∂f/∂w) at random points (histogram) and along coarse GD (band over starts)."""
    fig, (ax_points, ax_paths) = plotting.figure(ncols=2)
    for ste, color in zip(S.STES, _colours(), strict=True):
        ax_points.hist(
            result.cosines[ste],
            bins=30,
            range=(0, 1),
            histtype="step",
            lw=2,
            color=color,
            label=ste,
        )
        along = _trajectory_cosines(result, ste, stride=10)
        plot_band(ax_paths, 10 * np.arange(along.shape[1]), along, color, ste)
    plotting.label(ax_points, "cos(E g_w, ∂f/∂w)", "number of random points", "At random points")
    plotting.label(ax_paths, "coarse GD step", "cos(E g_w, ∂f/∂w)", "Along coarse GD")
    ax_points.legend()
    ax_paths.legend()
    return fig


def plot_descent(result: SteResult) -> Figure:
    """f and θ along coarse GD from random starts: expected gradient (thick), mini-batch (thin)."""
    fig, axes = plotting.figure(ncols=3, nrows=2, width=4.2, height=3.2, sharex=True)
    for column, (ste, color) in enumerate(zip(S.STES, _colours(), strict=True)):
        ax_loss, ax_theta = axes[0, column], axes[1, column]
        for paths, colour, width in ((result.descent, color, 1.5), (result.sampled, "0.3", 0.5)):
            for path in paths[ste]:
                ax_loss.semilogy(np.maximum(path.loss, 1e-12), color=colour, lw=width)
                ax_theta.plot(path.theta, color=colour, lw=width)
        plotting.label(ax_loss, "", "population loss f (floor 1e-12)", f"{ste} STE")
        plotting.label(ax_theta, "coarse GD step", "θ (rad)")
    return fig


def plot_near_minimum(result: SteResult) -> Figure:
    """θ and ‖w‖ of coarse GD started near a spurious minimum, expected and mini-batch."""
    fig, (ax_theta, ax_norm) = plotting.figure(ncols=2)
    for ste, color in zip(S.STES, _colours(), strict=True):
        expected, sampled = result.near_minimum[ste], result.near_minimum_sampled[ste]
        ax_theta.plot(expected.theta, color=color, lw=2, label=f"{ste} (expected)")
        thin = {"color": color, "lw": 0.6, "alpha": 0.7}
        ax_theta.plot(sampled.theta, label=f"{ste} (mini-batch)", **thin)
        ax_norm.semilogy(expected.w_norm, color=color, lw=2, label=f"{ste} (expected)")
        ax_norm.semilogy(sampled.w_norm, **thin)
    plotting.label(ax_theta, "coarse GD step", "θ (rad)", "Angle, started near θ = π")
    plotting.label(ax_norm, "coarse GD step", "‖w‖", "Norm of w")
    ax_theta.legend()
    ax_norm.legend()
    return fig


def plot_ratios(result: SteResult) -> Figure:
    """Theorem 1's ratio along paths into the spurious minimum, per STE; the fit range shaded."""
    fig, ax = plotting.figure()
    for ste, color in zip(S.STES, _colours(), strict=True):
        plot_band(ax, RATIO_DISTANCES, result.ratios[ste], color, ste)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    ax.axvspan(RATIO_FIT_FROM, RATIO_DISTANCES[-1], color="0.9", zorder=0)
    plotting.label(
        ax,
        "distance t to the spurious minimum (θ = π − t)",
        "‖E g_w‖² / (‖∂f/∂v‖² + ⟨E g_w, ∂f/∂w⟩)",
        "Theorem 1's ratio along paths into the minimum",
    )
    ax.legend()
    return fig


def plot_digits(result: SteResult) -> Figure:
    """Training loss and held-out accuracy per quantized epoch, one row per bit width."""
    cfg = result.cfg
    fig, axes = plotting.figure(ncols=2, nrows=len(cfg.bits), width=5.0, height=3.0)
    axes = np.atleast_2d(axes)
    for row, bits in enumerate(cfg.bits):
        for ste, color in zip(S.STES, _colours(), strict=True):
            run = result.digits.quantized[(bits, ste)]
            epochs_axis = np.arange(run["train_loss"].shape[1])
            plot_band(axes[row, 0], epochs_axis, run["train_loss"], color, ste)
            plot_band(axes[row, 1], epochs_axis, run["test_accuracy"], color, ste)
        axes[row, 0].set_yscale("log")
        plotting.label(
            axes[row, 0],
            "quantized epoch (0: pre-trained weights)",
            "training loss (full set)",
            f"{bits}-bit activations",
        )
        title = f"{bits}-bit activations"
        plotting.label(axes[row, 1], "quantized epoch", "held-out accuracy", title)
    axes[0, 0].legend()
    return fig


def plot_repelled(result: SteResult) -> Figure:
    """Training loss of each STE continued from the ReLU-type minima, per bits, start and rate."""
    cfg, kinds = result.cfg, LEARNING_RATE_KINDS
    rows = [(bits, start) for bits in cfg.bits for start in REPELLED_STARTS]
    fig, axes = plotting.figure(ncols=len(kinds), nrows=len(rows), width=3.8, height=2.8)
    axes = np.atleast_2d(axes)
    for row, (bits, start) in enumerate(rows):
        for column, kind in enumerate(kinds):
            ax = axes[row, column]
            for ste, color in zip(S.STES, _colours(), strict=True):
                losses = _continuation(result, bits, start, ste, kind)
                plot_band(ax, np.arange(losses.shape[1]), losses, color, ste)
            ax.set_yscale("log")
            rate = cfg.learning_rate if kind == "training" else cfg.small_learning_rate
            ylabel = "training loss" if column == 0 else ""
            title = f"{bits} bits, from {start}, lr {rate:g}"
            plotting.label(ax, "continued epoch", ylabel, title)
    axes[0, 0].legend()
    return fig
