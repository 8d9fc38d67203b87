"""The book's one plotting style: a seaborn theme, a fixed palette, labelled axes."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

PALETTE = "colorblind"


def use_style() -> None:
    """Apply the book's theme to every later figure."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.titleweight": "bold"})


def colors(n: int) -> list[tuple[float, float, float]]:
    """``n`` colours from the book's palette."""
    return sns.color_palette(PALETTE, n)


def figure(
    ncols: int = 1, nrows: int = 1, *, width: float = 6.0, height: float = 3.6, **kwargs
) -> tuple[Figure, Axes]:
    """A styled figure with a grid of axes; each panel is ``width × height`` inches."""
    use_style()
    return plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), layout="constrained", **kwargs
    )


def label(ax: Axes, xlabel: str, ylabel: str, title: str | None = None) -> Axes:
    """Label both axes (with units) and optionally title the panel."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def shade_intervals(
    ax: Axes,
    intervals: Sequence[tuple[float, float]],
    *,
    color: str = "0.85",
    label: str | None = None,
) -> None:
    """Shade x-intervals (e.g. detected plateaus) behind the data."""
    for i, (start, stop) in enumerate(intervals):
        ax.axvspan(start, stop, color=color, zorder=0, label=label if i == 0 else None)
