"""The runner and CLI: parameter validation, caching, failure isolation, timeouts and atomic outputs.

The runner is exercised on ``probe``, a tiny fixture chapter (no torch, a kernel in about a second)
registered for the test with quickstart's ``Config`` for validation; the real chapters are executed
once per session by the quick build (tests/conftest.py), whose records the determinism test reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from trainingdynamics import runner
from trainingdynamics.chapters import CHAPTERS
from trainingdynamics.cli import main
from trainingdynamics.runner import Layout, run_chapters

pytestmark = pytest.mark.slow

PROBE_PARAMETERS = 'profile = "quick"\nseed = 0\ndevice = "cpu"\nsteps = None\nn_samples = None'
PROBE_VERDICT = """from trainingdynamics.claims import at_least, verdict

steps = 3000 if steps is None else steps
verdict("{name}", [at_least("enough_steps", "the run has enough steps", steps + 0 * seed, 100,
                            source="ours", reference="a runner test fixture", reason="any step count below 100 fails")])"""


def insert_before_verdict(notebook: Path, source: str) -> None:
    nb = nbformat.read(notebook, as_version=4)
    verdict_cell = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "verdict(" in c.source)
    nb.cells.insert(verdict_cell, nbformat.v4.new_code_cell(source))
    nbformat.write(nb, notebook)


def make_probe(layout: Layout, name: str, monkeypatch: pytest.MonkeyPatch, extra_cell: str = "") -> None:
    """Register the fixture chapter ``name``: a parameters cell, an optional extra cell and a one-claim verdict."""
    parameters = nbformat.v4.new_code_cell(PROBE_PARAMETERS, metadata={"tags": ["parameters"]})
    cells = [nbformat.v4.new_markdown_cell(f"# {name}"), parameters]
    cells += [nbformat.v4.new_code_cell(extra_cell)] if extra_cell else []
    metadata = nbformat.read(layout.source("quickstart"), as_version=4).metadata  # its kernelspec, for papermill
    nb = nbformat.v4.new_notebook(cells=[*cells, nbformat.v4.new_code_cell(PROBE_VERDICT.format(name=name))], metadata=metadata)
    nbformat.write(nb, layout.source(name))
    if name not in runner.CHAPTERS:
        monkeypatch.setattr(runner, "CHAPTERS", (*runner.CHAPTERS, name))
    real_study = runner.study
    monkeypatch.setattr(runner, "study", lambda chapter: real_study(chapter if chapter in CHAPTERS else "quickstart"))


@pytest.fixture
def probe(book_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    """A book copy with the ``probe`` fixture chapter registered."""
    layout = Layout(book_copy)
    make_probe(layout, "probe", monkeypatch)
    return layout


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


def test_run_records_claims_then_hits_the_cache(probe, capsys) -> None:
    (first,) = run_chapters(["probe"], probe)
    assert first.status == "reproduced" and not first.cached
    record = json.loads(probe.claims("probe").read_text())
    assert record["passed"] and record["run"]["parameters"]["profile"] == "quick"
    assert [c["name"] for c in record["claims"]] == ["enough_steps"] and record["claims"][0]["source"] == "ours"
    assert probe.executed("probe").is_file()
    (second,) = run_chapters(["probe"], probe)
    assert second.cached
    assert main(["--root", str(probe.root), "list"]) == 0
    assert "quickstart   not run" in capsys.readouterr().out


def test_changed_parameters_or_notebook_miss_the_cache_and_reach_the_notebook(probe) -> None:
    run_chapters(["probe"], probe)
    (changed,) = run_chapters(["probe"], probe, overrides={"seed": 1, "steps": 2500, "n_samples": 30})
    assert not changed.cached
    record = json.loads(probe.claims("probe").read_text())
    assert record["run"]["parameters"]["seed"] == 1
    executed = probe.executed("probe").read_text()
    assert "seed = 1" in executed and "steps = 2500" in executed and "n_samples = 30" in executed
    insert_before_verdict(probe.source("probe"), "print('edited')")
    (edited,) = run_chapters(["probe"], probe, overrides={"seed": 1, "steps": 2500, "n_samples": 30})
    assert not edited.cached
    (forced,) = run_chapters(["probe"], probe, overrides={"seed": 1, "steps": 2500, "n_samples": 30}, force=True)
    assert not forced.cached and forced.status == "reproduced"


def test_failing_claims_fail_the_chapter_name_the_claim_and_keep_the_notebook(probe) -> None:
    assert main(["--root", str(probe.root), "run", "probe", "-p", "steps=10"]) == 1
    record = json.loads(probe.claims("probe").read_text())
    assert not record["passed"]
    assert record["run"]["error"] == "claims did not pass: enough_steps: failed (value 10, must be ≥ 100)"
    assert probe.failed("probe").is_file() and not probe.executed("probe").exists()


def test_one_failing_chapter_does_not_stop_the_others(probe, monkeypatch) -> None:
    make_probe(probe, "broken", monkeypatch, "raise RuntimeError('boom')")
    outcomes = run_chapters(["broken", "probe"], probe)
    assert [(o.chapter, o.status) for o in outcomes] == [("broken", "error"), ("probe", "reproduced")]
    assert "boom" in outcomes[0].message


def test_a_hung_cell_times_out(probe, monkeypatch) -> None:
    make_probe(probe, "hung", monkeypatch, "import time; time.sleep(60)")
    (outcome,) = run_chapters(["hung"], probe, cell_timeout=3)
    assert outcome.status == "error" and outcome.seconds < 45
    assert "timed out" in outcome.message.lower() or "timeout" in outcome.message.lower()


def test_a_killed_kernel_fails_the_chapter(probe, monkeypatch) -> None:
    make_probe(probe, "killed", monkeypatch, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    (outcome,) = run_chapters(["killed"], probe)
    assert outcome.status == "error" and outcome.message


def test_interrupted_run_leaves_the_previous_outputs(probe, monkeypatch) -> None:
    run_chapters(["probe"], probe)
    before = (probe.executed("probe").read_bytes(), probe.claims("probe").read_bytes())
    import papermill

    def interrupted(input_path, output_path, **kwargs):
        Path(output_path).write_text("{half a notebook")
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_chapters(["probe"], probe, force=True)
    assert (probe.executed("probe").read_bytes(), probe.claims("probe").read_bytes()) == before


def test_the_kernel_gets_one_blas_thread_unless_the_caller_chose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    with runner.kernel_environment(tmp_path / "claims.json", Layout(tmp_path)):
        assert (os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"]) == ("1", "3")
    assert "OMP_NUM_THREADS" not in os.environ and os.environ["MKL_NUM_THREADS"] == "3"
