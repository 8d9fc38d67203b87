"""Shared fixtures: a throw-away copy of the book so tests never touch the repository's _build/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def book_copy(tmp_path: Path) -> Path:
    """A copy of the book's sources (config, toc, book/) in a temporary folder."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "book", tmp_path / "book")
    return tmp_path


@pytest.fixture(autouse=True)
def _quiet_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    """No progress bars in test logs."""
    monkeypatch.setenv("TRAININGDYNAMICS_PROGRESS", "0")
