"""Execute chapter notebooks with papermill, cache them by content, and record their claims.

A chapter is re-executed only when its notebook, the package source or its
parameters change: the three are hashed into a key stored with its claims.
Outputs appear atomically (temporary file, then rename); a failed run keeps its
executed notebook under ``_build/failed/`` for inspection.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import os
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from trainingdynamics.chapters import CHAPTERS, study
from trainingdynamics.claims import CLAIMS_FILE_VARIABLE, failure_lines
from trainingdynamics.device import resolve_device
from trainingdynamics.fileio import atomic_replace, atomic_write_text
from trainingdynamics.profiles import ParameterError
from trainingdynamics.status import claims_of

KERNEL_NAME = "trainingdynamics"
COMMON_PARAMETERS = ("profile", "seed", "device")
DEFAULT_CELL_TIMEOUT = 900
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class Layout:
    """Where the book's sources and build products live."""

    root: Path

    @property
    def book(self) -> Path:
        return self.root / "book"

    @property
    def build(self) -> Path:
        return self.root / "_build"

    def source(self, chapter: str) -> Path:
        return self.book / f"{chapter}.ipynb"

    def executed(self, chapter: str) -> Path:
        return self.build / "executed" / f"{chapter}.ipynb"

    def failed(self, chapter: str) -> Path:
        return self.build / "failed" / f"{chapter}.ipynb"

    def claims(self, chapter: str) -> Path:
        return self.build / "claims" / f"{chapter}.json"


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``_toc.yml`` and ``book/``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "book").is_dir():
            return folder
    raise ParameterError(f"no book found at or above {here} (looked for _toc.yml beside a book/ folder)")


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """``["width=8", "lr=1e-2", "name=abc"]`` → values as Python literals, else strings."""
    values: dict[str, Any] = {}
    for item in assignments:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"parameter {item!r} is not of the form name=value")
        if name.strip() in values:
            raise ParameterError(f"parameter {name.strip()} is given twice; give each parameter once")
        try:
            values[name.strip()] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            values[name.strip()] = text
    return values


def declared_parameters(notebook: Path) -> dict[str, Any]:
    """The names and defaults in the notebook's cell tagged ``parameters``."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    if not declared:
        raise ParameterError(f"{notebook} has no cell tagged 'parameters'")
    return {name: ast.literal_eval(p["default"]) for name, p in declared.items()}


def validate_chapters(chapters: list[str], layout: Layout) -> None:
    """Raise :class:`ParameterError` for a name that is not a chapter with a notebook."""
    for chapter in chapters:
        if chapter not in CHAPTERS or not layout.source(chapter).is_file():
            valid = [c for c in CHAPTERS if layout.source(c).is_file()]
            close = difflib.get_close_matches(chapter, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ParameterError(f"unknown chapter {chapter!r}{hint}; choose from: {', '.join(valid)}")


def chapter_parameters(chapter: str, layout: Layout, profile: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Validated papermill parameters: the profile, seed, device and the given chapter knobs."""
    declared = declared_parameters(layout.source(chapter))
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ParameterError(
            f"chapter {chapter} declares no parameter {', '.join(unknown)}; it declares: {', '.join(declared)}"
        )
    params = {name: declared[name] for name in COMMON_PARAMETERS} | {"profile": profile} | dict(overrides)
    seed = params["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ParameterError(f"parameter seed must be an integer in [0, {MAX_SEED}] (NumPy's seed range), got {seed!r}")
    if not isinstance(params["device"], str):
        raise ParameterError(f"parameter device must be a string, got {params['device']!r}")
    resolve_device(params["device"])
    knobs = {k: v for k, v in params.items() if k not in COMMON_PARAMETERS}
    study(chapter).config(params["profile"], **knobs)
    return params


def source_digest(root: Path) -> str:
    """A hash of the package's Python files that chapters can import (any change invalidates every chapter).

    The benchmarks subpackage is left out: no chapter imports it.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*.py") if "benchmarks" not in p.relative_to(package).parts):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(notebook: Path, params: Mapping[str, Any], package_digest: str) -> str:
    """The content hash that decides whether a chapter must be re-executed."""
    digest = hashlib.sha256()
    digest.update(notebook.read_bytes())
    digest.update(json.dumps(dict(params), sort_keys=True).encode())
    digest.update(package_digest.encode())
    return digest.hexdigest()


def read_record(path: Path) -> dict[str, Any] | None:
    """A chapter's claims record, or ``None`` if it was never written, is unreadable or is not a JSON object."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_fresh(chapter: str, layout: Layout, key: str) -> bool:
    """Whether a passing run with this key is already recorded beside its executed notebook."""
    record = read_record(layout.claims(chapter)) or {}
    run = record.get("run")
    recorded_key = run.get("key") if isinstance(run, dict) else None
    return recorded_key == key and record.get("passed") is True and claims_of(record) is not None and layout.executed(chapter).is_file()


@contextmanager
def kernel_environment(claims_file: Path, layout: Layout) -> Iterator[None]:
    """Point the kernel at this interpreter and the claims file; silence progress bars; one BLAS thread unless the caller chose.

    The chapters' networks are tiny, so more threads only add overhead (the break-even chapter
    ran 1.5× slower on two), and a fixed thread count keeps results from depending on the core count.
    """
    kernels = layout.build / "jupyter"
    spec = kernels / "kernels" / KERNEL_NAME / "kernel.json"
    atomic_write_text(
        spec,
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": f"Python ({KERNEL_NAME})",
                "language": "python",
            }
        ),
    )
    updates = {
        "JUPYTER_PATH": os.pathsep.join(filter(None, [str(kernels), os.environ.get("JUPYTER_PATH")])),
        CLAIMS_FILE_VARIABLE: str(claims_file),
        "TRAININGDYNAMICS_PROGRESS": "0",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        **{name: os.environ.get(name, "1") for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")},
    }
    saved = {name: os.environ.get(name) for name in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass(frozen=True)
class Outcome:
    """What happened to one chapter."""

    chapter: str
    status: str  # "reproduced", "failed", "error"
    cached: bool
    seconds: float
    message: str = ""


def first_line(error: BaseException) -> str:
    """A one-line summary of an execution error."""
    name = getattr(error, "ename", type(error).__name__)
    value = getattr(error, "evalue", str(error))
    return f"{name}: {str(value).strip().splitlines()[0] if str(value).strip() else ''}"


def hide_default_parameters(notebook: Path) -> None:
    """Tag the source's ``parameters`` cell ``remove-cell``: the page shows the injected values only."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, notebook)


def execute(chapter: str, layout: Layout, params: Mapping[str, Any], key: str, cell_timeout: int) -> Outcome:
    """Run one chapter with papermill; write its notebook and claims record atomically."""
    import papermill

    scratch = layout.build / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    tmp_notebook = scratch / f"{chapter}.{os.getpid()}.ipynb"
    tmp_claims = scratch / f"{chapter}.{os.getpid()}.json"
    tmp_claims.unlink(missing_ok=True)
    start = time.perf_counter()
    error: BaseException | None = None
    with kernel_environment(tmp_claims, layout):
        try:
            papermill.execute_notebook(
                str(layout.source(chapter)),
                str(tmp_notebook),
                parameters=dict(params),
                kernel_name=KERNEL_NAME,
                cwd=str(layout.book),
                progress_bar=False,
                execution_timeout=cell_timeout,
            )
        except Exception as exc:  # papermill wraps cell errors, timeouts and dead kernels alike
            error = exc
    seconds = time.perf_counter() - start
    record = read_record(tmp_claims) or {"chapter": chapter, "passed": False, "claims": []}
    tmp_claims.unlink(missing_ok=True)
    claims = claims_of(record) or []
    claims_passed = bool(claims) and all(c.passed for c in claims)
    if claims and not claims_passed:
        message = "claims did not pass: " + "; ".join(failure_lines(claims))
    else:
        message = first_line(error) if error else ("" if claims else "the notebook recorded no claims")
    passed = error is None and claims_passed
    record["run"] = {"key": key, "parameters": dict(params), "seconds": round(seconds, 2), "error": message}
    record["passed"] = passed
    destination = layout.executed(chapter) if passed else layout.failed(chapter)
    if tmp_notebook.exists():
        hide_default_parameters(tmp_notebook)
        atomic_replace(tmp_notebook, destination)
    atomic_write_text(layout.claims(chapter), json.dumps(record, indent=2))
    status = "reproduced" if passed else ("failed" if claims and not claims_passed else "error")
    return Outcome(chapter, status, False, seconds, message)


def run_chapters(
    chapters: list[str],
    layout: Layout,
    *,
    profile: str = "quick",
    overrides: Mapping[str, Any] | None = None,
    force: bool = False,
    cell_timeout: int = DEFAULT_CELL_TIMEOUT,
) -> list[Outcome]:
    """Validate everything first, then run each stale chapter; one failure does not stop the rest."""
    validate_chapters(chapters, layout)
    overrides = dict(overrides or {})
    profile = overrides.pop("profile", profile)
    plans = {chapter: chapter_parameters(chapter, layout, profile, overrides) for chapter in chapters}
    package_digest = source_digest(layout.root)
    outcomes = []
    for chapter, params in plans.items():
        key = cache_key(layout.source(chapter), params, package_digest)
        if not force and is_fresh(chapter, layout, key):
            record = read_record(layout.claims(chapter)) or {}
            outcomes.append(Outcome(chapter, "reproduced", True, record.get("run", {}).get("seconds", 0.0)))
            continue
        outcomes.append(execute(chapter, layout, params, key, cell_timeout))
    return outcomes


def last_result(chapter: str, layout: Layout) -> str:
    """``reproduced``, ``failed`` or ``not run``, with the counts of the known failures by kind."""
    record = read_record(layout.claims(chapter))
    claims = claims_of(record)
    if claims is None:
        return "not run"
    if not record.get("passed"):
        return "failed"
    known = Counter(c.verdict for c in claims if c.known_failure)
    return "reproduced" + (f" ({', '.join(f'{n} {kind}' for kind, n in sorted(known.items()))})" if known else "")
