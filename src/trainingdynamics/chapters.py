"""The chapter registry: one name per chapter, for the notebook, the study package and the CLI."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

CHAPTERS: tuple[str, ...] = (
    "quickstart",
    "plateaus",
    "anls",
    "simplex",
    "activations",
    "ste",
    "break_even",
)


def study(name: str) -> ModuleType:
    """The study module ``trainingdynamics.studies.<name>``."""
    return importlib.import_module(f"trainingdynamics.studies.{name}")


def available(book_dir: Path) -> list[str]:
    """Registered chapters whose notebook exists in ``book_dir``, in book order."""
    return [name for name in CHAPTERS if (Path(book_dir) / f"{name}.ipynb").exists()]
