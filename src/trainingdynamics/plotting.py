"""The book's one plotting style: a seaborn theme, a fixed palette, labelled axes, readable fonts.

A figure wider than the page's content column is shown shrunk to fit it, and its fonts with it;
:func:`figure` scales the fonts up so that the smallest text is at least :data:`MIN_FONT` points
*as rendered*, and allows at most :data:`MAX_COLUMNS` panels per row.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

PALETTE = "colorblind"
DPI = 110  # of the PNGs embedded in the pages
PAGE_WIDTH = 7.5  # inches of the book theme's content column (720 CSS pixels)
CSS_DPI = 96
MIN_FONT = 9.5  # points, the smallest text as rendered on the page
SMALLEST_FONT = 11.0  # points: the tick labels of seaborn's "notebook" context at font scale 1
MAX_COLUMNS = 3


def rendered_scale(width: float) -> float:
    """How much a figure ``width`` inches wide is magnified on the page (< 1: shrunk to fit)."""
    return min(DPI / CSS_DPI, PAGE_WIDTH / width)


def font_scale(width: float) -> float:
    """Seaborn's font scale that renders the smallest text at ≥ MIN_FONT points."""
    return max(1.0, MIN_FONT / (SMALLEST_FONT * rendered_scale(width)))


def use_style(scale: float = 1.0) -> None:
    """Apply the book's theme, fonts scaled by ``scale``, to every later figure."""
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font_scale=scale)
    plt.rcParams.update({"figure.dpi": DPI, "savefig.dpi": 150, "axes.titleweight": "bold"})


def colors(n: int) -> list[tuple[float, float, float]]:
    """``n`` colours from the book's palette."""
    return sns.color_palette(PALETTE, n)


def figure(
    ncols: int = 1, nrows: int = 1, *, width: float = 6.0, height: float = 3.6, **kwargs
) -> tuple[Figure, Axes]:
    """A styled figure with a grid of axes; each panel is ``width × height`` inches."""
    if ncols > MAX_COLUMNS:
        raise ValueError(f"at most {MAX_COLUMNS} panels per row fit the page, got ncols={ncols}")
    scale = font_scale(width * ncols)
    use_style(scale)
    # larger fonts need taller panels, or their labels leave the axes no room
    size = (width * ncols, height * nrows * scale)
    return plt.subplots(nrows, ncols, figsize=size, layout="constrained", **kwargs)


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


def glue_figure(name: str, fig: Figure) -> None:
    """Hand ``fig`` to the page as the glued figure ``name`` (shown where the text places it)."""
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)  # or the inline backend shows it a second time, at the end of the cell
