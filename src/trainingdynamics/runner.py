"""Execute chapter notebooks with papermill, cache them by content, and record their claims.

A chapter is re-executed only when its notebook, the package source or its
parameters change: the three are hashed into a key stored both in its claims record
and in the executed notebook's metadata, so a record and a notebook from different
runs never pass for a cached pair. Each set of parameters has its own slot: the
chapter's name for a run that sets only the profile (the one the book renders), the
name plus a hash of the parameters otherwise. Outputs appear atomically (temporary
file, then rename); a failed run goes to ``_build/failed/`` and leaves the slot's
passing pair in place. Chapter kernels always get one BLAS thread, so claims do not
depend on the machine's core count.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainingdynamics.chapters import CHAPTERS, study
from trainingdynamics.claims import CLAIMS_FILE_VARIABLE, failure_lines
from trainingdynamics.fileio import atomic_replace, atomic_write_text
from trainingdynamics.profiles import ParameterError
from trainingdynamics.progress import cell_progress
from trainingdynamics.status import claims_of, counted, tally, tally_text

KERNEL_NAME = "trainingdynamics"
# BLAS and OpenMP threads of every chapter kernel, whatever the caller's environment
KERNEL_THREADS = 1
METADATA_KEY = "trainingdynamics"
COMMON_PARAMETERS = ("profile", "seed", "device")
# every notebook's parameters cell: the common three plus ``overrides``, a dict of Config fields
PAPERMILL_PARAMETERS = (*COMMON_PARAMETERS, "overrides")
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

    def failed_record(self, chapter: str) -> Path:
        return self.build / "failed" / f"{chapter}.json"

    @property
    def scratch(self) -> Path:
        return self.build / "tmp"

    def claims(self, chapter: str) -> Path:
        return self.build / "claims" / f"{chapter}.json"


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) holding ``_toc.yml`` and
    ``book/``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_toc.yml").is_file() and (folder / "book").is_dir():
            return folder
    raise ParameterError(
        f"no book found at or above {here} (looked for _toc.yml beside a book/ folder)"
    )


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    """``["width=8", "lr=1e-2", "name=abc"]`` → values as Python literals, else strings."""
    values: dict[str, Any] = {}
    for item in assignments:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"parameter {item!r} is not of the form name=value")
        if name.strip() in values:
            raise ParameterError(
                f"parameter {name.strip()} is given twice; give each parameter once"
            )
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
            raise ParameterError(
                f"unknown chapter {chapter!r}{hint}; choose from: {', '.join(valid)}"
            )


def chapter_parameters(
    chapter: str, layout: Layout, profile: str, overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """Validated papermill parameters: ``profile``, ``seed``, ``device`` and the chapter's
    ``overrides``.

    ``overrides`` holds the chapter's knobs (``Config`` fields) by name; each is checked against the
    study's ``Config`` here, before anything runs, so a bad one is a one-line error.
    """
    declared = declared_parameters(layout.source(chapter))
    missing = [name for name in PAPERMILL_PARAMETERS if name not in declared]
    if missing:
        raise ParameterError(
            f"chapter {chapter}'s parameters cell lacks {', '.join(missing)}; "
            f"it must declare {', '.join(PAPERMILL_PARAMETERS)}"
        )
    defaults = {name: declared[name] for name in COMMON_PARAMETERS} | {"profile": profile}
    common = {name: overrides.get(name, default) for name, default in defaults.items()}
    knobs = {name: value for name, value in overrides.items() if name not in COMMON_PARAMETERS}
    params = common | {"overrides": knobs}
    seed = params["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ParameterError(
            f"parameter seed must be an integer in [0, {MAX_SEED}] (NumPy's seed range), "
            f"got {seed!r}"
        )
    if not isinstance(params["device"], str):
        raise ParameterError(f"parameter device must be a string, got {params['device']!r}")
    from trainingdynamics.device import (
        resolve_device,  # torch: imported only once a chapter is planned
    )

    resolve_device(params["device"])
    try:
        study(chapter).config(params["profile"], **knobs)
    except ParameterError as error:
        raise ParameterError(f"chapter {chapter}: {error}") from None
    return params


def source_digest(root: Path) -> str:
    """A hash of the package's Python files that chapters can import.

    Any change to one of them invalidates every chapter.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
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
    """A chapter's claims record, or ``None`` if it was never written, is unreadable or is not a
    JSON object."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def slot_name(chapter: str, params: Mapping[str, Any], overridden: bool) -> str:
    """``chapter`` for a run that sets only the profile; ``chapter@<hash of its parameters>`` for
    one with overrides."""
    if not overridden:
        return chapter
    digest = hashlib.sha256(json.dumps(dict(params), sort_keys=True).encode()).hexdigest()
    return f"{chapter}@{digest[:10]}"


def recorded_key(record: Mapping[str, Any] | None) -> str | None:
    """The cache key a claims record was written with, if it has one."""
    run = record.get("run") if isinstance(record, Mapping) else None
    return run.get("key") if isinstance(run, dict) else None


def notebook_key(notebook: Path) -> str | None:
    """The cache key stamped into an executed notebook's metadata, if it has one."""
    try:
        return json.loads(notebook.read_text(encoding="utf-8"))["metadata"][METADATA_KEY]["key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_fresh(slot: str, layout: Layout, key: str) -> bool:
    """Whether a passing run with this key is recorded, beside an executed notebook stamped with the
    same key."""
    record = read_record(layout.claims(slot))
    return (
        recorded_key(record) == key
        and record.get("passed") is True
        and claims_of(record) is not None
        and notebook_key(layout.executed(slot)) == key
    )


@contextmanager
def kernel_environment(claims_file: Path, layout: Layout) -> Iterator[None]:
    """Point the kernel at this interpreter and the claims file; silence its progress bars; one BLAS
    thread.

    The chapters' networks are tiny, so more threads only add overhead, and a fixed thread count
    keeps claims from depending on the core count: the caller's OMP/MKL settings are overridden.
    """
    kernels = layout.build / "jupyter"
    spec = kernels / "kernels" / KERNEL_NAME / "kernel.json"
    atomic_write_text(
        spec,
        json.dumps(
            {
                # the kernel's own log (transport warnings, tracebacks of requests interrupted by a
                # stop) is not
                # for the reader: cell errors, timeouts and a dead kernel are reported by papermill
                "argv": [
                    sys.executable,
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                    "--log-level=CRITICAL",
                ],
                "display_name": f"Python ({KERNEL_NAME})",
                "language": "python",
            }
        ),
    )
    updates = {
        "JUPYTER_PATH": os.pathsep.join(
            filter(None, [str(kernels), os.environ.get("JUPYTER_PATH")])
        ),
        CLAIMS_FILE_VARIABLE: str(claims_file),
        "TRAININGDYNAMICS_PROGRESS": "0",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        **{name: str(KERNEL_THREADS) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")},
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
    seconds: float  # for a cached result, the recorded run's time
    message: str = ""
    # the record's name under _build/claims (the chapter's, or chapter@hash for other parameters)
    slot: str = ""


def first_line(error: BaseException) -> str:
    """A one-line summary of an execution error."""
    name = getattr(error, "ename", type(error).__name__)
    value = str(getattr(error, "evalue", str(error))).strip()
    return f"{name}: {value.splitlines()[0] if value else ''}"


def stopped_cell(notebook: Path) -> str:
    """The source's code cell a run stopped in, from papermill's timings in the partial notebook:
    "code cell k (first line)".

    That is the last code cell that started; cells papermill added (injected parameters, error
    banners) are not counted.
    """
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return ""
    added = {"injected-parameters", "papermill-error-cell-tag"}
    code = [
        c
        for c in cells
        if c.get("cell_type") == "code" and not added & set(c.get("metadata", {}).get("tags", []))
    ]
    started = [
        k
        for k, c in enumerate(code, 1)
        if c.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    if not started:
        return ""
    source = "".join(code[started[-1] - 1].get("source", "")).strip().splitlines()
    return f"code cell {started[-1]} ({source[0][:60] if source else 'empty'})"


def finish_notebook(notebook: Path, key: str) -> None:
    """Stamp the cache key into the metadata and tag the source's ``parameters`` cell
    ``remove-cell``.

    The page then shows the injected values only, and a cache hit can check that notebook and record
    belong together.
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    nb.metadata[METADATA_KEY] = {"key": key}
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
    nbformat.write(nb, notebook)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_scratch(layout: Layout) -> None:
    """Create ``_build/tmp`` (failing before any chapter runs if it cannot be written) and remove
    the
    ``<chapter>.<pid>.*`` files whose process is gone, left by a killed run."""
    layout.scratch.mkdir(parents=True, exist_ok=True)
    for path in layout.scratch.iterdir():
        pid = path.name.split(".")[-2] if path.name.count(".") >= 2 else ""
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            path.unlink(missing_ok=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that the kernel is stopped and temporaries
    removed."""


@contextmanager
def termination_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only; elsewhere a
    no-op)."""

    def interrupt(signum, frame):
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def execute(
    chapter: str, slot: str, layout: Layout, params: Mapping[str, Any], key: str, cell_timeout: int
) -> Outcome:
    """Run one chapter with papermill; commit its notebook and claims record as a pair, or to
    ``_build/failed``."""
    import papermill

    layout.scratch.mkdir(parents=True, exist_ok=True)
    tmp_notebook = layout.scratch / f"{slot}.{os.getpid()}.ipynb"
    tmp_claims = layout.scratch / f"{slot}.{os.getpid()}.json"
    tmp_claims.unlink(missing_ok=True)
    start = time.perf_counter()
    error: BaseException | None = None
    progress = cell_progress(
        chapter
    )  # decided here: the kernel's environment switches progress off
    try:
        with kernel_environment(tmp_claims, layout):
            try:
                papermill.execute_notebook(
                    str(layout.source(chapter)),
                    str(tmp_notebook),
                    parameters=dict(params),
                    kernel_name=KERNEL_NAME,
                    cwd=str(layout.book),
                    progress_bar=progress,
                    execution_timeout=cell_timeout,
                )
            except Exception as exc:  # papermill wraps cell errors, timeouts and dead kernels alike
                error = exc
        seconds = time.perf_counter() - start
        record = read_record(tmp_claims) or {"chapter": chapter, "passed": False, "claims": []}
        claims = claims_of(record) or []
        claims_passed = bool(claims) and all(c.passed for c in claims)
        if claims and not claims_passed:
            message = "claims did not pass: " + "; ".join(failure_lines(claims))
        elif error:
            where = stopped_cell(tmp_notebook)
            message = first_line(error) + (f" (in {where})" if where else "")
        else:
            message = "" if claims else "the notebook recorded no claims"
        passed = error is None and claims_passed
        record["run"] = {
            "key": key,
            "parameters": dict(params),
            "seconds": round(seconds, 2),
            "blas_threads": KERNEL_THREADS,
            "error": message,
        }
        record["passed"] = passed
        text = json.dumps(record, indent=2, allow_nan=False)
        if passed:
            finish_notebook(tmp_notebook, key)
            atomic_write_text(layout.claims(slot), text)
            atomic_replace(tmp_notebook, layout.executed(slot))
            layout.failed(slot).unlink(missing_ok=True)
            layout.failed_record(slot).unlink(missing_ok=True)
        else:
            if tmp_notebook.exists():
                atomic_replace(tmp_notebook, layout.failed(slot))
            atomic_write_text(layout.failed_record(slot), text)
    finally:
        tmp_notebook.unlink(missing_ok=True)
        tmp_claims.unlink(missing_ok=True)
    status = "reproduced" if passed else ("failed" if claims and not claims_passed else "error")
    return Outcome(chapter, status, False, seconds, message, slot)


def run_chapters(
    chapters: list[str],
    layout: Layout,
    *,
    profile: str = "quick",
    overrides: Mapping[str, Any] | None = None,
    force: bool = False,
    cell_timeout: int = DEFAULT_CELL_TIMEOUT,
) -> list[Outcome]:
    """Validate everything first, then run each stale chapter; one failure does not stop the
    rest."""
    validate_chapters(chapters, layout)
    overrides = dict(overrides or {})
    profile = overrides.pop("profile", profile)
    plans = {
        chapter: chapter_parameters(chapter, layout, profile, overrides) for chapter in chapters
    }
    package_digest = source_digest(layout.root)
    prepare_scratch(layout)
    outcomes = []
    with termination_as_interrupt():
        for number, (chapter, params) in enumerate(plans.items(), 1):
            slot = slot_name(chapter, params, overridden=bool(overrides))
            key = cache_key(layout.source(chapter), params, package_digest)
            prefix = f"[{number}/{len(plans)}] {chapter}"
            if not force and is_fresh(slot, layout, key):
                seconds = read_record(layout.claims(slot))["run"].get("seconds", 0.0)
                outcomes.append(Outcome(chapter, "reproduced", True, seconds, slot=slot))
                note = f"cached (recorded run {seconds:.1f} s)"
                print(f"{prefix}: {note}; {claims_tally(layout, slot)}", file=sys.stderr)
                continue
            if layout.claims(slot).exists() and claims_of(read_record(layout.claims(slot))) is None:
                print(
                    f"note: {layout.claims(slot)} is not a claims record; treating it as absent",
                    file=sys.stderr,
                )
            print(f"{prefix}: running", file=sys.stderr, flush=True)
            outcome = execute(chapter, slot, layout, params, key, cell_timeout)
            result = f"{outcome.status} in {outcome.seconds:.1f} s"
            print(f"{prefix}: {result}; {claims_tally(layout, slot)}", file=sys.stderr, flush=True)
            outcomes.append(outcome)
    return outcomes


def claims_tally(layout: Layout, slot: str) -> str:
    """E.g. "12 claims: 8 exact, 3 reproduced, 1 not reproduced", from the slot's latest record."""
    records = (read_record(layout.failed_record(slot)), read_record(layout.claims(slot)))
    latest = next((claims_of(r) for r in records if claims_of(r) is not None), None)
    if latest is None:
        return "no claims recorded"
    return f"{counted(len(latest), 'claim')}: {tally_text(tally(latest))}"


def last_result(chapter: str, layout: Layout) -> str:
    """The chapter's own slot: ``reproduced`` (with the known failures by kind), ``failed`` or ``not
    run``.

    A failed run's record sits in ``_build/failed`` until a later run of the same slot passes.
    """
    if layout.failed_record(chapter).is_file():
        return "failed"
    record = read_record(layout.claims(chapter))
    claims = claims_of(record)
    if claims is None:
        return "not run" if not layout.claims(chapter).exists() else "not run (unreadable record)"
    if not record.get("passed"):
        return "failed"
    known = Counter(c.verdict for c in claims if c.known_failure)
    return "reproduced" + (
        f" ({', '.join(f'{n} {kind}' for kind, n in sorted(known.items()))})" if known else ""
    )
