"""The book's own cost: each chapter's recorded wall time at quick and full, and the cost of deciding a rebuild."""

from __future__ import annotations

import time

from trainingdynamics.chapters import CHAPTERS
from trainingdynamics.runner import Layout, cache_key, chapter_parameters, is_fresh, read_record, source_digest

PROFILES = ("quick", "full")


def chapter_times(layout: Layout) -> list[dict]:
    """Seconds the runner recorded for each chapter's last run (``_build/claims/<chapter>.json``), by profile; None = not measured."""
    rows = []
    for chapter in CHAPTERS:
        if not layout.source(chapter).is_file():
            continue
        run = (read_record(layout.claims(chapter)) or {}).get("run", {})
        profile = run.get("parameters", {}).get("profile")
        rows.append({"chapter": chapter} | {p: run.get("seconds") if profile == p else None for p in PROFILES})
    return rows


def totals(rows: list[dict]) -> dict[str, float | None]:
    """The whole book's seconds per profile, or None unless every chapter was measured at that profile."""
    return {p: None if any(r[p] is None for r in rows) else float(sum(r[p] for r in rows)) for p in PROFILES}


def rebuild_check(layout: Layout, profile: str = "full") -> dict:
    """Time the runner's no-op path (parameters, content hashes, freshness) over every chapter, executing nothing.

    This is the part of an unchanged rebuild that the runner owns; the HTML build that follows
    is not timed here. Chapters that are not fresh would be re-executed by a real rebuild.
    """
    chapters = [c for c in CHAPTERS if layout.source(c).is_file()]
    start = time.perf_counter()
    digest = source_digest(layout.root)
    fresh = [is_fresh(c, layout, cache_key(layout.source(c), chapter_parameters(c, layout, profile, {}), digest)) for c in chapters]
    return {"profile": profile, "seconds": time.perf_counter() - start, "chapters": len(chapters), "fresh": int(sum(fresh))}


def book_cost(layout: Layout, *, check_rebuild: bool) -> dict:
    """Chapter times, totals and (unless skipped) the rebuild check; a broken chapter makes the check "not measured"."""
    rows = chapter_times(layout)
    result: dict = {"chapters": rows, "totals": totals(rows), "rebuild_check": None}
    if check_rebuild:
        try:
            result["rebuild_check"] = rebuild_check(layout)
        except Exception as error:  # a chapter under development may not import: report, do not crash the benchmark
            result["rebuild_check"] = {"error": f"{type(error).__name__}: {error}".splitlines()[0]}
    return result
