"""Progress: a bar on a terminal, plain lines in a log, nothing when switched off."""

from __future__ import annotations

import io

from tqdm import tqdm

from trainingdynamics import progress


def test_log_lines_turn_redraws_into_one_line_per_state() -> None:
    stream = io.StringIO()
    lines = progress.LogLines(stream)
    lines.write("\rchapter: cell 0 of 2")
    lines.write("\rchapter: cell 0 of 2")  # a redraw of the same state
    lines.write("\rchapter: cell 1 of 2\rchapter: cell 2 of 2\n")
    assert stream.getvalue().splitlines() == [
        "chapter: cell 0 of 2",
        "chapter: cell 1 of 2",
        "chapter: cell 2 of 2",
    ]


def test_cell_progress_in_a_log_is_one_line_per_cell(monkeypatch, capsys) -> None:
    monkeypatch.delenv(progress.PROGRESS_VARIABLE, raising=False)
    monkeypatch.setattr("sys.stderr.isatty", lambda: False)
    options = progress.cell_progress("quickstart")
    bar = tqdm(total=2, **options)
    bar.update(1), bar.update(1), bar.close()
    assert capsys.readouterr().err.splitlines() == [f"quickstart: cell {k} of 2" for k in range(3)]


def test_cell_progress_is_off_when_switched_off(monkeypatch) -> None:
    monkeypatch.setenv(progress.PROGRESS_VARIABLE, "0")
    assert progress.cell_progress("quickstart") is False
