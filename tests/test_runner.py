"""The runner and CLI: parameter validation, caching, failure isolation, timeouts and atomic outputs."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from trainingdynamics import runner
from trainingdynamics.cli import main
from trainingdynamics.runner import Layout, run_chapters

pytestmark = pytest.mark.slow


def insert_before_verdict(notebook: Path, source: str) -> None:
    nb = nbformat.read(notebook, as_version=4)
    verdict_cell = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "verdict(" in c.source)
    nb.cells.insert(verdict_cell, nbformat.v4.new_code_cell(source))
    nbformat.write(nb, notebook)


def make_variant(layout: Layout, name: str, extra_cell: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Register a copy of the quickstart chapter under ``name`` with one extra cell."""
    notebook = layout.source(name)
    notebook.write_bytes(layout.source("quickstart").read_bytes())
    insert_before_verdict(notebook, extra_cell)
    monkeypatch.setattr(runner, "CHAPTERS", (*runner.CHAPTERS, name))
    real_study = runner.study
    monkeypatch.setattr(runner, "study", lambda chapter: real_study("quickstart" if chapter == name else chapter))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "quickstart", "-p", "profile=bogus"], "unknown profile 'bogus'"),
        (["run", "quickstart", "-p", "nosuch=1"], "declares no parameter nosuch"),
        (["run", "quickstart", "-p", "steps=-5"], "steps must be positive"),
        (["run", "quickstart", "-p", "step_fraction=fast"], "must be a number"),
        (["run", "quickstart", "-p", "seed=-1"], "seed must be an integer in [0, 4294967295]"),
        (["run", "quickstart", "-p", "seed=99999999999999999999"], "seed must be an integer in [0, 4294967295]"),
        (["run", "quickstart", "-p", "noise=1e999"], "noise must be a finite number"),
        (["run", "quickstart", "-p", "step_fraction=nan"], "must be a number"),
        (["run", "quickstart", "-p", "seed=1", "-p", "seed=2"], "seed is given twice"),
        (["run", "quickstart", "--cell-timeout", "0"], "--cell-timeout must be a positive"),
        (["run", "quickstart", "--cell-timeout", "-1"], "--cell-timeout must be a positive"),
        (["run", "quikstart"], "did you mean 'quickstart'?"),
        (["run", "quickstart", "-p", "device=tpu"], "unknown device"),
        (["run", "quickstart", "-p", "steps"], "not of the form name=value"),
        (["run", "nosuch"], "unknown chapter 'nosuch'; choose from: quickstart"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(book_copy, capsys, argv, message) -> None:
    assert main(["--root", str(book_copy), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (book_copy / "_build" / "claims").exists()


def test_run_records_claims_then_hits_the_cache(book_copy, capsys) -> None:
    layout = Layout(book_copy)
    (first,) = run_chapters(["quickstart"], layout)
    assert first.status == "reproduced" and not first.cached
    record = json.loads(layout.claims("quickstart").read_text())
    assert record["passed"] and record["run"]["parameters"]["profile"] == "quick"
    assert {c["name"] for c in record["claims"]} >= {"min_norm_error", "rate_bound"}
    assert layout.executed("quickstart").is_file()
    (second,) = run_chapters(["quickstart"], layout)
    assert second.cached
    assert main(["--root", str(book_copy), "list"]) == 0
    assert "quickstart   reproduced" in capsys.readouterr().out


def test_changed_parameters_or_notebook_miss_the_cache(book_copy) -> None:
    layout = Layout(book_copy)
    run_chapters(["quickstart"], layout)
    (changed_seed,) = run_chapters(["quickstart"], layout, overrides={"seed": 1})
    assert not changed_seed.cached
    record = json.loads(layout.claims("quickstart").read_text())
    assert record["run"]["parameters"]["seed"] == 1
    insert_before_verdict(layout.source("quickstart"), "print('edited')")
    (edited,) = run_chapters(["quickstart"], layout, overrides={"seed": 1})
    assert not edited.cached


def test_parameters_reach_the_notebook(book_copy) -> None:
    layout = Layout(book_copy)
    run_chapters(["quickstart"], layout, overrides={"steps": 2500, "n_samples": 30})
    executed = layout.executed("quickstart").read_text()
    assert "steps = 2500" in executed and "n_samples = 30" in executed


def test_failing_claims_fail_the_chapter_and_keep_the_notebook(book_copy) -> None:
    layout = Layout(book_copy)
    assert main(["--root", str(book_copy), "run", "quickstart", "-p", "steps=10"]) == 1
    record = json.loads(layout.claims("quickstart").read_text())
    assert not record["passed"] and "claims did not pass: min_norm_error: failed (value " in record["run"]["error"]
    assert layout.failed("quickstart").is_file() and not layout.executed("quickstart").exists()


def test_one_failing_chapter_does_not_stop_the_others(book_copy, monkeypatch) -> None:
    layout = Layout(book_copy)
    make_variant(layout, "broken", "raise RuntimeError('boom')", monkeypatch)
    outcomes = run_chapters(["broken", "quickstart"], layout)
    assert [(o.chapter, o.status) for o in outcomes] == [("broken", "error"), ("quickstart", "reproduced")]
    assert "boom" in outcomes[0].message


def test_a_hung_cell_times_out(book_copy, monkeypatch) -> None:
    layout = Layout(book_copy)
    make_variant(layout, "hung", "import time; time.sleep(60)", monkeypatch)
    (outcome,) = run_chapters(["hung"], layout, cell_timeout=3)
    assert outcome.status == "error" and outcome.seconds < 45
    assert "timed out" in outcome.message.lower() or "timeout" in outcome.message.lower()


def test_a_killed_kernel_fails_the_chapter(book_copy, monkeypatch) -> None:
    layout = Layout(book_copy)
    make_variant(layout, "killed", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)", monkeypatch)
    (outcome,) = run_chapters(["killed"], layout)
    assert outcome.status == "error" and outcome.message


def test_interrupted_run_leaves_the_previous_outputs(book_copy, monkeypatch) -> None:
    layout = Layout(book_copy)
    run_chapters(["quickstart"], layout)
    before = (layout.executed("quickstart").read_bytes(), layout.claims("quickstart").read_bytes())
    import papermill

    def interrupted(input_path, output_path, **kwargs):
        Path(output_path).write_text("{half a notebook")
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_chapters(["quickstart"], layout, force=True)
    assert (layout.executed("quickstart").read_bytes(), layout.claims("quickstart").read_bytes()) == before


def test_forced_rerun_gives_bit_identical_claims(book_copy) -> None:
    layout = Layout(book_copy)

    def values() -> list[float]:
        return [c["value"] for c in json.loads(layout.claims("quickstart").read_text())["claims"]]

    run_chapters(["quickstart"], layout, overrides={"seed": 3})
    first = values()
    (again,) = run_chapters(["quickstart"], layout, overrides={"seed": 3}, force=True)
    assert not again.cached and values() == first


def test_the_kernel_gets_one_blas_thread_unless_the_caller_chose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    with runner.kernel_environment(tmp_path / "claims.json", Layout(tmp_path)):
        assert (os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"]) == ("1", "3")
    assert "OMP_NUM_THREADS" not in os.environ and os.environ["MKL_NUM_THREADS"] == "3"
