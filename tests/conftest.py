"""Shared fixtures: throw-away copies of the book, so tests never touch the repository's _build/.

``quick_book`` executes every chapter once per test session: the whole book is built at the quick
profile in a temporary copy (under a file lock, so that pytest-xdist's workers share one build),
then built again to check the cache. The chapter tests read the records that build wrote instead
of running the studies again; nbval executes the source notebooks separately. So each chapter is
executed twice per test run, each time with its own job.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
from filelock import FileLock

from trainingdynamics import runner
from trainingdynamics.claims import Claim
from trainingdynamics.cli import main
from trainingdynamics.runner import Layout, read_record
from trainingdynamics.status import claims_of

REPO = Path(__file__).resolve().parents[1]
BUILD_REPORT = "build-report.json"


def copy_sources(destination: Path) -> Path:
    """The book's sources (config, toc, book/) copied into ``destination``."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, destination / name)
    shutil.copytree(REPO / "book", destination / "book")
    return destination


@pytest.fixture
def book_copy(tmp_path: Path) -> Path:
    """A copy of the book's sources in a temporary folder."""
    return copy_sources(tmp_path)


@pytest.fixture(autouse=True)
def _quiet_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """No progress bars in test logs."""
    monkeypatch.setenv("TRAININGDYNAMICS_PROGRESS", "0")


def counted_build(root: Path) -> dict:
    """``trainingdynamics build --profile quick`` on ``root``: exit status, output and executions
    per chapter."""
    executions: Counter = Counter()
    real_execute = runner.execute

    def counting_execute(chapter, *args, **kwargs):
        executions[chapter] += 1
        return real_execute(chapter, *args, **kwargs)

    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        patch.setattr(runner, "execute", counting_execute)
        patch.setenv("TRAININGDYNAMICS_PROGRESS", "0")
        status = main(["--root", str(root), "build", "--profile", "quick"])
    return {
        "status": status,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "executions": dict(executions),
    }


def session_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by every xdist worker of this test session (the session's own temporary
    root)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The book built at the quick profile once per session, then rebuilt; the builds' report is in
    its folder."""
    shared = session_folder(tmp_path_factory)
    root = shared / "quick-book"
    with FileLock(str(shared / "quick-book.lock")):
        if not (root / BUILD_REPORT).is_file():
            shutil.rmtree(root, ignore_errors=True)
            copy_sources(root)
            first = counted_build(root)
            second = counted_build(root) if first["status"] == 0 else None
            (root / BUILD_REPORT).write_text(json.dumps({"first": first, "second": second}))
    return root


def build_report(root: Path) -> dict:
    """What :func:`counted_build` said of the session's two builds."""
    return json.loads((root / BUILD_REPORT).read_text())


def quick_claims(root: Path, chapter: str) -> list[Claim]:
    """A chapter's claims as the session's quick build recorded them (fails the test if it recorded
    none)."""
    claims = claims_of(read_record(Layout(root).claims(chapter)))
    if claims is None:
        pytest.fail(
            f"the quick build recorded no claims for {chapter}: "
            + build_report(root)["first"]["stderr"][-2000:]
        )
    return claims
