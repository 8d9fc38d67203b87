"""The book's sources: clean notebooks, parameters that match the studies, toc and intro in sync,
deps mirrored."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
import tomllib
import yaml

from trainingdynamics.book import GENERATED_PAGES
from trainingdynamics.chapters import CHAPTERS, available, study
from trainingdynamics.runner import PAPERMILL_PARAMETERS, declared_parameters

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
CHAPTER_NAMES = available(BOOK)


def test_every_registered_chapter_has_its_study_module() -> None:
    for chapter in CHAPTER_NAMES:
        module = study(chapter)
        assert module.TITLE and module.CLAIM and set(module.PROFILES) == {"quick", "full"}


@pytest.mark.parametrize("chapter", CHAPTER_NAMES)
def test_source_notebook_is_clean(chapter: str) -> None:
    nb = nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{chapter}: stored outputs"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert f'verdict("{chapter}"' in nb.cells[-1].source or any(
        f'verdict("{chapter}"' in c.source for c in nb.cells if c.cell_type == "code"
    )


@pytest.mark.parametrize("chapter", CHAPTER_NAMES)
def test_parameters_cell_declares_each_knob_once(chapter: str) -> None:
    """The knobs live in ``Config`` only: the notebook takes them as one ``overrides`` dict."""
    declared = declared_parameters(BOOK / f"{chapter}.ipynb")
    assert declared == {"profile": "quick", "seed": 0, "device": "cpu", "overrides": {}}
    assert set(declared) == set(PAPERMILL_PARAMETERS)
    sources = [c.source for c in nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4).cells]
    assert any("cfg = study.config(profile, **overrides)" in source for source in sources)


def toc_files() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    return [entry["file"] for part in toc["parts"] for entry in part["chapters"]]


def test_toc_lists_the_chapters_in_registry_order() -> None:
    chapters_in_toc = [
        f.removeprefix("book/") for f in toc_files() if f.removeprefix("book/") in CHAPTERS
    ]
    assert chapters_in_toc == CHAPTER_NAMES
    for entry in toc_files():
        if entry in GENERATED_PAGES:
            assert not (REPO / f"{entry}.md").exists(), (
                f"{entry} is generated at build time, never stored"
            )
            continue
        assert any((REPO / f"{entry}{suffix}").is_file() for suffix in (".md", ".ipynb")), entry


def test_every_study_names_its_paper_in_the_bibliography() -> None:
    keys = set(re.findall(r"@\w+\{([^,]+),", (BOOK / "references.bib").read_text()))
    for chapter in CHAPTER_NAMES:
        paper = study(chapter).PAPER
        assert paper == "" or paper in keys, f"{chapter}: PAPER {paper!r} is not in references.bib"


def test_nothing_in_the_package_or_the_book_refers_to_an_issue_tracker() -> None:
    """Readers have no issue tracker to open: a reason is said, not an issue number."""
    files = [*(REPO / "src").rglob("*.py"), *BOOK.rglob("*.ipynb"), *BOOK.rglob("*.md")]
    hits = [
        f"{p.relative_to(REPO)}:{n}"
        for p in files
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"\bissues?\b", line, re.I)
    ]
    assert not hits, hits


def test_intro_lists_every_chapter_with_its_title() -> None:
    intro = (BOOK / "intro.md").read_text()
    listed = re.search(
        r"<!-- chapter-list.*?-->\n(.*?)<!-- end chapter-list -->", intro, re.S
    ).group(1)
    expected = "".join(f"- [{study(c).TITLE}]({c}.ipynb)\n" for c in CHAPTER_NAMES)
    assert listed == expected


def test_bibliography_has_the_papers_the_chapters_cite() -> None:
    keys = set(re.findall(r"@\w+\{([^,]+),", (BOOK / "references.bib").read_text()))
    for chapter in CHAPTER_NAMES:
        text = "".join(
            c.source for c in nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4).cells
        )
        for cited in re.findall(r"\{cite[^}]*\}`([^`]+)`", text):
            assert set(k.strip() for k in cited.split(",")) <= keys, (
                f"{chapter} cites unknown {cited}"
            )


def dependency_name(spec: str) -> str:
    return re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].lower()


CONDA_NAMES = {"torch": "pytorch-cpu"}


def test_environment_yml_mirrors_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    listed: set[str] = set()
    for item in env["dependencies"]:
        if isinstance(item, dict):
            listed |= {dependency_name(p) for p in item["pip"]}
        else:
            listed.add(dependency_name(item))
    missing = [d for d in map(dependency_name, wanted) if CONDA_NAMES.get(d, d) not in listed]
    assert not missing, f"environment.yml lacks {missing}"


MAX_CELL_LINES = (
    16  # "about 15" lines of code per notebook cell: figures and tables live in studies
)
MAX_MODULE_LINES = 400  # a study module larger than this becomes a package of smaller ones


@pytest.mark.parametrize("chapter", CHAPTER_NAMES)
def test_notebook_cells_are_short(chapter: str) -> None:
    nb = nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines() if line.strip()]
            assert len(lines) <= MAX_CELL_LINES, f"{chapter} cell {index}: {len(lines)} lines"


def test_study_modules_are_small() -> None:
    studies = REPO / "src" / "trainingdynamics" / "studies"
    sizes = {p.relative_to(studies): len(p.read_text().splitlines()) for p in studies.rglob("*.py")}
    assert not {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES}


@pytest.mark.parametrize("chapter", CHAPTER_NAMES)
def test_every_chapter_page_is_a_lecture(chapter: str) -> None:
    """An overview, the re-run box, code shown from the package, and exercises with solutions."""
    nb = nbformat.read(BOOK / f"{chapter}.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "**Overview" in nb.cells[0].source
    assert f'rerun_box("{chapter}", cfg, profile)' in code
    assert "```{literalinclude} ../src/trainingdynamics/" in text
    assert text.count(":::{exercise}") >= 2 and ":::{solution-start}" in text
