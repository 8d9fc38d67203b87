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

import trainingdynamics
from trainingdynamics import robustness, status
from trainingdynamics.chapters import study
from trainingdynamics.runner import Layout, read_record

STATIC_SOURCES = ("_config.yml", "_toc.yml")
GENERATED_PAGES = (
    f"book/{status.PAGE}",
    f"book/{robustness.PAGE}",
)  # written by :func:`stage`, listed in _toc.yml, never stored


def copy_if_changed(source: Path, destination: Path) -> None:
    """Copy ``source`` over ``destination`` unless their bytes already agree."""
    if destination.is_file() and destination.read_bytes() == source.read_bytes():
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)


def write_if_changed(text: str, destination: Path) -> None:
    """Write ``text`` to ``destination`` unless it already holds exactly that."""
    if destination.is_file() and destination.read_text(encoding="utf-8") == text:
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(text, encoding="utf-8")


def status_inputs(layout: Layout, chapters: list[str]) -> tuple[list[status.Chapter], dict]:
    """Each chapter's title and paper, and its claims record (``None`` where there is none)."""
    info = [status.Chapter(c, study(c).TITLE, study(c).PAPER) for c in chapters]
    return info, {c: read_record(layout.claims(c)) for c in chapters}


def stage(layout: Layout, chapters: list[str]) -> Path:
    """Mirror the book's sources into ``_build/site`` with executed notebooks and the generated
    status page in place."""
    site = layout.build / "site"
    for name in STATIC_SOURCES:
        copy_if_changed(layout.root / name, site / name)
    info, records = status_inputs(layout, chapters)
    for path in layout.book.rglob("*"):
        if path.is_file() and path.suffix != ".ipynb" and path.name != "intro.md":
            copy_if_changed(path, site / "book" / path.relative_to(layout.book))
    intro = (layout.book / "intro.md").read_text(encoding="utf-8")
    write_if_changed(
        intro.replace(status.SUMMARY_MARKER, status.summary_line(info, records)),
        site / "book" / "intro.md",
    )
    seeds = robustness.read_results(layout)
    rates = {c: robustness.hold_rates(seeds, c) for c in chapters}
    write_if_changed(status.status_page(info, records, rates), site / "book" / f"{status.PAGE}.md")
    titles = [(c.name, c.title) for c in info]
    write_if_changed(
        robustness.robustness_page(titles, seeds), site / "book" / f"{robustness.PAGE}.md"
    )
    for chapter in chapters:
        copy_if_changed(layout.executed(chapter), site / "book" / f"{chapter}.ipynb")
    package = Path(trainingdynamics.__file__).resolve().parent  # the code that ran, shown by
    for path in package.rglob("*.py"):  # literalinclude from ../src/trainingdynamics/...
        copy_if_changed(path, site / "src" / "trainingdynamics" / path.relative_to(package))
    return site


def build_html(layout: Layout, chapters: list[str]) -> subprocess.CompletedProcess:
    """Run ``jupyter-book build`` on the staged site, warnings as errors; HTML in
    ``_build/html``."""
    site = stage(layout, chapters)
    command = [
        sys.executable,
        "-c",
        "from jupyter_book.cli.main import main; main()",
        "build",
        str(site),
    ]
    command += ["--path-output", str(layout.root), "-W", "-n", "--keep-going"]
    return subprocess.run(command, capture_output=True, text=True)
