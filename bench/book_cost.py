"""The book's own cost: each chapter's recorded wall time at quick and full, and the time of an
unchanged rebuild."""

from __future__ import annotations

import subprocess
import sys
import time

from trainingdynamics.chapters import CHAPTERS
from trainingdynamics.runner import (
    Layout,
    cache_key,
    chapter_parameters,
    is_fresh,
    read_record,
    source_digest,
)

PROFILES = ("quick", "full")


def chapter_times(layout: Layout) -> list[dict]:
    """Seconds the runner recorded for each chapter's last run (``_build/claims/<chapter>.json``),
    by profile; None = not measured."""
    rows = []
    for chapter in CHAPTERS:
        if not layout.source(chapter).is_file():
            continue
        run = (read_record(layout.claims(chapter)) or {}).get("run", {})
        profile = run.get("parameters", {}).get("profile")
        rows.append(
            {"chapter": chapter}
            | {p: run.get("seconds") if profile == p else None for p in PROFILES}
        )
    return rows


def totals(rows: list[dict]) -> dict[str, float | None]:
    """The whole book's seconds per profile, or None unless every chapter was measured at that
    profile."""
    return {
        p: None if any(r[p] is None for r in rows) else float(sum(r[p] for r in rows))
        for p in PROFILES
    }


def fresh_chapters(layout: Layout, profile: str) -> tuple[int, int]:
    """How many chapters are fresh at ``profile`` (a rebuild would not re-execute them), out of how
    many."""
    chapters = [c for c in CHAPTERS if layout.source(c).is_file()]
    digest = source_digest(layout.root)
    fresh = [
        is_fresh(
            c,
            layout,
            cache_key(layout.source(c), chapter_parameters(c, layout, profile, {}), digest),
        )
        for c in chapters
    ]
    return int(sum(fresh)), len(chapters)


def timed_rebuild(layout: Layout, profile: str = "full") -> dict:
    """Time ``trainingdynamics build --profile <profile>`` (freshness checks and the HTML build)
    when every chapter is fresh.

    If some chapter is stale the command would execute it, which is no unchanged rebuild: then
    nothing is run and the counts say why (run ``trainingdynamics build --profile full`` first).
    """
    fresh, total = fresh_chapters(layout, profile)
    result: dict = {"profile": profile, "chapters": total, "fresh": fresh}
    if fresh < total:
        return result
    command = [
        sys.executable,
        "-m",
        "trainingdynamics",
        "--root",
        str(layout.root),
        "build",
        "--profile",
        profile,
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return result | (
        {"seconds": seconds}
        if done.returncode == 0
        else {"error": f"build exited with {done.returncode}"}
    )


def book_cost(layout: Layout, *, check_rebuild: bool) -> dict:
    """Chapter times, totals and (unless skipped) an unchanged rebuild; a broken chapter makes the
    rebuild "not measured"."""
    rows = chapter_times(layout)
    result: dict = {"chapters": rows, "totals": totals(rows), "rebuild": None}
    if check_rebuild:
        try:
            result["rebuild"] = timed_rebuild(layout)
        # a chapter under development may not import: report, do not crash the benchmark
        except Exception as error:
            result["rebuild"] = {"error": f"{type(error).__name__}: {error}".splitlines()[0]}
    return result
