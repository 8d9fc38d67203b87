"""The plotting style: fonts readable on the rendered page, at most three panels per row."""

from __future__ import annotations

import matplotlib
import pytest

from trainingdynamics import plotting

matplotlib.use("Agg")


def smallest_font(fig) -> float:
    """The smallest font size (points) of any text in the figure, once drawn."""
    fig.canvas.draw()
    return min(t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text())


@pytest.mark.parametrize(("ncols", "width"), [(1, 6.0), (2, 6.0), (3, 4.6), (3, 6.0)])
def test_smallest_text_is_readable_on_the_page(ncols: int, width: float) -> None:
    fig, axes = plotting.figure(ncols, width=width)
    for ax in [axes] if ncols == 1 else axes:
        ax.plot([0, 1], [0, 1], label="curve")
        plotting.label(ax, "step", "loss", "title")
        ax.legend()
    rendered = smallest_font(fig) * plotting.rendered_scale(width * ncols)
    assert rendered >= plotting.MIN_FONT - 1e-9
    matplotlib.pyplot.close(fig)


def test_more_than_three_panels_per_row_are_refused() -> None:
    with pytest.raises(ValueError, match="at most 3 panels per row"):
        plotting.figure(4)
