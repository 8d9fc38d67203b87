"""The runner and CLI: parameter validation, caching, failure isolation, timeouts and atomic
outputs.

The runner is exercised on ``probe``, a tiny fixture chapter (no torch, a kernel in about a second)
registered for the test with quickstart's ``Config`` for validation; the real chapters are executed
once per session by the quick build (tests/conftest.py), whose records the determinism test reads.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from trainingdynamics import runner
from trainingdynamics.chapters import CHAPTERS
from trainingdynamics.cli import main, summary
from trainingdynamics.runner import Layout, run_chapters

pytestmark = pytest.mark.slow

PROBE_PARAMETERS = 'profile = "quick"\nseed = 0\ndevice = "cpu"\noverrides = {}'
PROBE_VERDICT = """from trainingdynamics.claims import at_least, verdict

steps = overrides.get("steps", 3000)
claim = at_least("enough_steps", "the run has enough steps", steps + 0 * seed, 100, source="ours",
                 reference="a runner test fixture", reason="any step count below 100 fails")
verdict("{name}", [claim])"""


def insert_before_verdict(notebook: Path, source: str) -> None:
    nb = nbformat.read(notebook, as_version=4)
    verdict_cell = next(
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "verdict(" in c.source
    )
    nb.cells.insert(verdict_cell, nbformat.v4.new_code_cell(source))
    nbformat.write(nb, notebook)


def make_probe(
    layout: Layout, name: str, monkeypatch: pytest.MonkeyPatch, extra_cell: str = ""
) -> None:
    """Register the fixture chapter ``name``: a parameters cell, an optional extra cell and a
    one-claim verdict."""
    parameters = nbformat.v4.new_code_cell(PROBE_PARAMETERS, metadata={"tags": ["parameters"]})
    cells = [nbformat.v4.new_markdown_cell(f"# {name}"), parameters]
    cells += [nbformat.v4.new_code_cell(extra_cell)] if extra_cell else []
    metadata = nbformat.read(
        layout.source("quickstart"), as_version=4
    ).metadata  # its kernelspec, for papermill
    nb = nbformat.v4.new_notebook(
        cells=[*cells, nbformat.v4.new_code_cell(PROBE_VERDICT.format(name=name))],
        metadata=metadata,
    )
    nbformat.write(nb, layout.source(name))
    if name not in runner.CHAPTERS:
        monkeypatch.setattr(runner, "CHAPTERS", (*runner.CHAPTERS, name))
    real_study = runner.study
    monkeypatch.setattr(
        runner,
        "study",
        lambda chapter: real_study(chapter if chapter in CHAPTERS else "quickstart"),
    )


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
        (["run", "quickstart", "-p", "nosuch=1"], "unknown parameter(s) nosuch"),
        (["run", "quickstart", "-p", "steps=-5"], "steps must lie in [10, 1000000]"),
        (["run", "quickstart", "-p", "steps=2"], "steps must lie in [10, 1000000]"),
        (["run", "quickstart", "-p", "steps=1e12"], "steps must lie in [10, 1000000]"),
        (["run", "quickstart", "-p", "lr=1e999"], "unknown parameter(s) lr"),
        (["run", "quickstart", "-p", "step_fraction=fast"], "must be a number"),
        (["run", "quickstart", "-p", "seed=-1"], "seed must be an integer in [0, 4294967295]"),
        (
            ["run", "quickstart", "-p", "seed=99999999999999999999"],
            "seed must be an integer in [0, 4294967295]",
        ),
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
    assert first.status == "reproduced" and not first.cached and first.slot == "probe"
    record = json.loads(probe.claims("probe").read_text())
    assert (
        record["passed"]
        and record["run"]["parameters"]["profile"] == "quick"
        and record["run"]["blas_threads"] == 1
    )
    assert [c["name"] for c in record["claims"]] == ["enough_steps"] and record["claims"][0][
        "source"
    ] == "ours"
    assert runner.notebook_key(probe.executed("probe")) == record["run"]["key"]
    err = capsys.readouterr().err
    assert "[1/1] probe: running" in err
    assert re.search(r"\[1/1\] probe: reproduced in [0-9.]+ s; 1 claim: 1 holds \(ours\)", err)
    (second,) = run_chapters(["probe"], probe)
    assert second.cached and second.seconds == record["run"]["seconds"]
    seconds = record["run"]["seconds"]
    assert f"[1/1] probe: cached (recorded run {seconds:.1f} s); 1 claim: 1 holds (ours)" in (
        capsys.readouterr().err
    )
    assert "cached (recorded run: " in summary([second])
    assert main(["--root", str(probe.root), "list"]) == 0
    assert "quickstart   not run" in capsys.readouterr().out


def test_each_set_of_parameters_has_its_own_slot_and_a_failure_keeps_the_passing_pair(
    probe,
) -> None:
    (plain,) = run_chapters(["probe"], probe)
    pair = (probe.executed("probe").read_bytes(), probe.claims("probe").read_bytes())
    (changed,) = run_chapters(
        ["probe"], probe, overrides={"seed": 1, "steps": 2500, "n_samples": 30}
    )
    assert not changed.cached and changed.slot.startswith("probe@")
    executed = probe.executed(changed.slot).read_text()
    injected = next(
        c.source
        for c in nbformat.reads(executed, as_version=4).cells
        if "injected-parameters" in c.metadata.get("tags", [])
    )
    assert "seed = 1" in injected and 'overrides = {"steps": 2500, "n_samples": 30}' in injected
    (failed,) = run_chapters(["probe"], probe, overrides={"steps": 10})
    assert failed.status == "failed" and probe.failed_record(failed.slot).is_file()
    assert (probe.executed("probe").read_bytes(), probe.claims("probe").read_bytes()) == pair
    (again,) = run_chapters(["probe"], probe)
    assert again.cached  # the default record survived the other runs: no re-execution
    insert_before_verdict(probe.source("probe"), "print('edited')")
    (edited,) = run_chapters(["probe"], probe)
    assert not edited.cached
    (forced,) = run_chapters(["probe"], probe, force=True)
    assert not forced.cached and forced.status == "reproduced"


def test_a_stale_failure_copy_is_removed_when_the_slot_passes_again(probe, monkeypatch) -> None:
    make_probe(probe, "flaky", monkeypatch, "assert overrides, 'the first run fails'")
    (first,) = run_chapters(["flaky"], probe)
    assert (
        first.status == "error"
        and probe.failed("flaky").is_file()
        and probe.failed_record("flaky").is_file()
    )
    assert runner.last_result("flaky", probe) == "failed"
    make_probe(probe, "flaky", monkeypatch)
    (second,) = run_chapters(["flaky"], probe)
    assert (
        second.status == "reproduced"
        and not probe.failed("flaky").exists()
        and not probe.failed_record("flaky").exists()
    )
    assert runner.last_result("flaky", probe) == "reproduced"


def test_a_record_and_notebook_from_different_runs_are_not_a_cache_hit(probe) -> None:
    run_chapters(["probe"], probe)
    record = probe.claims("probe").read_bytes()
    run_chapters(["probe"], probe, force=True, overrides={"steps": 2000})
    # a notebook of another run beside this record, as when a run dies between its two writes
    probe.executed("probe").write_bytes(
        probe.executed(
            run_chapters(["probe"], probe, overrides={"steps": 2000})[0].slot
        ).read_bytes()
    )
    probe.claims("probe").write_bytes(record)
    (outcome,) = run_chapters(["probe"], probe)
    assert (
        not outcome.cached
        and runner.notebook_key(probe.executed("probe"))
        == json.loads(probe.claims("probe").read_text())["run"]["key"]
    )


def test_a_failed_claims_write_leaves_no_pair_that_passes_for_cached(probe, monkeypatch) -> None:
    (first,) = run_chapters(["probe"], probe)
    pair = (probe.executed("probe").read_bytes(), probe.claims("probe").read_bytes())
    real_write = runner.atomic_write_text

    def claims_unwritable(path, text):
        if Path(path).parent.name == "claims":
            raise PermissionError(13, "Permission denied", str(path))
        real_write(path, text)

    monkeypatch.setattr(runner, "atomic_write_text", claims_unwritable)
    with pytest.raises(PermissionError):
        run_chapters(
            ["probe"], probe, overrides={"seed": 5}
        )  # the seed-5 run cannot write its record
    with pytest.raises(PermissionError):
        run_chapters(["probe"], probe, force=True)
    monkeypatch.setattr(runner, "atomic_write_text", real_write)
    assert (probe.executed("probe").read_bytes(), probe.claims("probe").read_bytes()) == pair
    assert not list(probe.scratch.iterdir())  # no temporaries left
    (second,) = run_chapters(["probe"], probe)
    assert second.cached and second.seconds == round(first.seconds, 2)
    (seed_five,) = run_chapters(["probe"], probe, overrides={"seed": 5})
    assert not seed_five.cached  # nothing half-written was taken for a result


def test_failing_claims_fail_the_chapter_name_the_claim_and_keep_the_notebook(
    probe, capsys
) -> None:
    assert main(["--root", str(probe.root), "run", "probe", "-p", "steps=10"]) == 1
    assert "enough_steps: failed (value 10, must be ≥ 100)" in capsys.readouterr().out
    (slot,) = [p.stem for p in probe.failed_record("x").parent.glob("probe@*.json")]
    record = json.loads(probe.failed_record(slot).read_text())
    assert not record["passed"]
    assert (
        record["run"]["error"]
        == "claims did not pass: enough_steps: failed (value 10, must be ≥ 100)"
    )
    assert (
        probe.failed(slot).is_file()
        and not probe.executed(slot).exists()
        and not probe.claims(slot).exists()
    )


def test_one_failing_chapter_does_not_stop_the_others_and_the_error_names_the_cell(
    probe, monkeypatch
) -> None:
    make_probe(probe, "broken", monkeypatch, "x = 1\nraise RuntimeError('boom')")
    outcomes = run_chapters(["broken", "probe"], probe)
    assert [(o.chapter, o.status) for o in outcomes] == [
        ("broken", "error"),
        ("probe", "reproduced"),
    ]
    assert outcomes[0].message == "RuntimeError: boom (in code cell 2 (x = 1))"


def test_a_hung_cell_times_out_and_the_message_names_the_cell(probe, monkeypatch) -> None:
    make_probe(probe, "hung", monkeypatch, "import time; time.sleep(60)")
    (outcome,) = run_chapters(["hung"], probe, cell_timeout=3)
    assert outcome.status == "error" and outcome.seconds < 45
    assert "timed out" in outcome.message.lower() or "timeout" in outcome.message.lower()
    assert outcome.message.endswith("(in code cell 2 (import time; time.sleep(60)))")


def test_a_killed_kernel_fails_the_chapter(probe, monkeypatch) -> None:
    make_probe(
        probe, "killed", monkeypatch, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"
    )
    (outcome,) = run_chapters(["killed"], probe)
    assert outcome.status == "error" and outcome.message


def test_interrupted_run_leaves_the_previous_outputs_and_no_temporaries(probe, monkeypatch) -> None:
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
    assert not list(probe.scratch.iterdir())


def test_stale_temporaries_of_dead_processes_are_swept(probe) -> None:
    probe.scratch.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale, alive = (
        probe.scratch / f"probe.{dead.stdout.strip()}.ipynb",
        probe.scratch / f"other.{os.getppid()}.json",
    )
    stale.write_text("{}"), alive.write_text("{}")
    run_chapters(["probe"], probe)
    assert not stale.exists() and alive.exists()


@pytest.mark.parametrize(
    ("signum", "status", "word"),
    [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")],
)
def test_a_signal_stops_the_run_with_one_line_and_no_debris(
    book_copy, signum, status, word
) -> None:
    layout = Layout(book_copy)
    nb = nbformat.read(layout.source("quickstart"), as_version=4)
    nb.cells.insert(2, nbformat.v4.new_code_cell("import time; time.sleep(60)"))
    nbformat.write(nb, layout.source("quickstart"))
    command = [
        sys.executable,
        "-m",
        "trainingdynamics",
        "--root",
        str(book_copy),
        "run",
        "quickstart",
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while (
        not (layout.scratch.is_dir() and list(layout.scratch.glob("*.ipynb")))
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    time.sleep(3)  # the kernel is running the sleeping cell
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == status
    assert [line for line in err.splitlines() if not line.startswith("[1/1]")] == [
        f"{word}: the kernel was stopped and no partial output was kept"
    ], err
    assert not list(layout.scratch.iterdir()) and not (layout.build / "claims").exists()


def test_a_malformed_record_is_treated_as_absent_and_said_so(probe, capsys) -> None:
    for text in ("[1, 2]", '{"passed": true, "run": "x"}', '{"passed": true}'):
        probe.claims("probe").parent.mkdir(parents=True, exist_ok=True)
        probe.claims("probe").write_text(text)
        assert runner.last_result("probe", probe) == "not run (unreadable record)"
        (outcome,) = run_chapters(["probe"], probe, force=False)
        assert not outcome.cached and outcome.status == "reproduced"
        assert "is not a claims record; treating it as absent" in capsys.readouterr().err


def test_an_unwritable_build_folder_gives_one_line(book_copy, capsys) -> None:
    (book_copy / "_build").write_text("a file where the build folder should be")
    assert main(["--root", str(book_copy), "run", "quickstart"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write") and err.count("\n") == 1


def test_the_kernel_always_gets_one_blas_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    with runner.kernel_environment(tmp_path / "claims.json", Layout(tmp_path)):
        assert (os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"]) == ("1", "1")
    assert (os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"]) == ("2", "3")
