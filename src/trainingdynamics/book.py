"""Assemble the executed chapters into a Jupyter Book and build its HTML.

Jupyter Book never executes anything here (``execute_notebooks: "off"``): it
renders the copies papermill executed. The build folder mirrors the repository's
layout (``_config.yml``, ``_toc.yml``, ``book/…``) with every chapter notebook
replaced by its executed copy; files are copied only when their content changed,
so Sphinx's incremental build keeps an unchanged rebuild to seconds.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from trainingdynamics.runner import Layout

STATIC_SOURCES = ("_config.yml", "_toc.yml")


def copy_if_changed(source: Path, destination: Path) -> None:
    """Copy ``source`` over ``destination`` unless their bytes already agree."""
    if destination.is_file() and destination.read_bytes() == source.read_bytes():
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)


def stage(layout: Layout, chapters: list[str]) -> Path:
    """Mirror the book's sources into ``_build/site`` with executed notebooks in place."""
    site = layout.build / "site"
    for name in STATIC_SOURCES:
        copy_if_changed(layout.root / name, site / name)
    for path in layout.book.rglob("*"):
        if path.is_file() and path.suffix != ".ipynb":
            copy_if_changed(path, site / "book" / path.relative_to(layout.book))
    for chapter in chapters:
        copy_if_changed(layout.executed(chapter), site / "book" / f"{chapter}.ipynb")
    return site


def build_html(layout: Layout, chapters: list[str]) -> subprocess.CompletedProcess:
    """Run ``jupyter-book build`` on the staged site, warnings as errors; HTML in ``_build/html``."""
    site = stage(layout, chapters)
    command = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()", "build", str(site)]
    command += ["--path-output", str(layout.root), "-W", "-n", "--keep-going"]
    return subprocess.run(command, capture_output=True, text=True)
