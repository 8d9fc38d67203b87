"""Robustness: every chapter's claims over many seeds, and the appendix page that shows their hold
rates.

``trainingdynamics robustness`` sweeps each chapter's quick profile over a range of seeds (on Dask,
through :mod:`trainingdynamics.sweep`) and writes ``book/robustness.json``, a committed results file
like ``bench/results.json``. The book renders the *Robustness* appendix from it at build time, and
the
status page shows each claim's hold rate beside its verdict.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainingdynamics.claims import encode_number, format_number
from trainingdynamics.fileio import atomic_write_text
from trainingdynamics.runner import Layout

if TYPE_CHECKING:
    import pandas as pd

PAGE = "robustness"
RESULTS = "robustness.json"  # in book/, committed


def results_path(layout: Layout) -> Path:
    """``book/robustness.json``."""
    return layout.book / RESULTS


def read_results(layout: Layout) -> dict[str, Any]:
    """The recorded hold rates per chapter ({} when none were measured, or the file is
    unreadable)."""
    try:
        data = json.loads(results_path(layout).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def chapter_entry(result, seeds: list[int], profile: str) -> dict[str, Any]:
    """One chapter's entry from a :class:`~trainingdynamics.sweep.SweepResult`: per claim, seeds
    held and value range."""
    claims = {}
    for name, row in result.summary.iterrows():
        held = int(round(row["hold rate"] * row["points"]))
        claims[str(name)] = {
            "held": held,
            "points": int(row["points"]),
            "min": encode_number(row["min"]),
            "max": encode_number(row["max"]),
        }
    failed = result.table[result.table["status"] != "reproduced"].drop_duplicates(subset=["seed"])
    return {
        "profile": profile,
        "seeds": seeds,
        "failed_seeds": [int(s) for s in failed["seed"]],
        "claims": claims,
    }


def run_robustness(
    layout: Layout,
    chapters: Sequence[str],
    seeds: list[int],
    *,
    workers: int | None,
    cell_timeout: int,
) -> dict:
    """Sweep each chapter's quick profile over ``seeds`` and update its entry in
    ``book/robustness.json``."""
    from trainingdynamics.sweep import run_sweep

    data = read_results(layout)
    for chapter in chapters:
        result = run_sweep(
            chapter,
            layout,
            profile="quick",
            seeds=seeds,
            grid={},
            workers=workers,
            cell_timeout=cell_timeout,
        )
        data[chapter] = chapter_entry(result, seeds, "quick")
        atomic_write_text(
            results_path(layout), json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n"
        )
        failing = len(data[chapter]["failed_seeds"])
        print(
            f"{chapter}: {len(seeds)} seeds, {result.computed} computed, "
            f"{failing} with a failing claim"
        )
    return data


def hold_rates(data: Mapping[str, Any], chapter: str) -> dict[str, str]:
    """``{claim: "held on 9 of 10 seeds"}`` for one chapter ({} if it was not measured)."""
    claims = data.get(chapter, {}).get("claims", {})
    return {name: f"held on {c['held']} of {c['points']} seeds" for name, c in claims.items()}


def seed_summary(chapter: str, path: Path | str = RESULTS) -> pd.DataFrame:
    """A chapter's claims in the committed sweep (``robustness.json`` beside the notebooks): seeds
    held, points, value range."""
    import pandas as pd

    entry = json.loads(Path(path).read_text(encoding="utf-8")).get(chapter, {})
    rows = {
        name: {
            "held": c["held"],
            "points": c["points"],
            "min": float(c["min"]),
            "max": float(c["max"]),
        }
        for name, c in entry.get("claims", {}).items()
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["held", "points", "min", "max"])


def robustness_page(chapters: Sequence[tuple[str, str]], data: Mapping[str, Any]) -> str:
    """The appendix in MyST Markdown: per chapter (name, title), each claim's hold rate and value
    range."""
    lines = [
        "# Robustness over seeds",
        "",
        "Each chapter's claims are checked at one seed when the book is built. Here each "
        "chapter's quick profile was run over a range of seeds (`make robustness`), and each "
        "claim's hold rate is the share of seeds at which it passed (a known failure passes while "
        "it fails). A claim that held on fewer than all seeds says so here and on the status page.",
    ]
    for name, title in chapters:
        lines += ["", f"## {title}", ""]
        entry = data.get(name)
        if not entry:
            lines.append("Not measured yet: run `make robustness`.")
            continue
        seeds = entry["seeds"]
        lines.append(
            f"{entry['profile']} profile, seeds {seeds[0]}–{seeds[-1]} ({len(seeds)} seeds)."
        )
        lines += [
            "",
            "| claim | held on | smallest value | largest value |",
            "| --- | --- | --- | --- |",
        ]
        for claim, c in entry["claims"].items():
            mark = "" if c["held"] == c["points"] else " (**not all**)"
            low, high = (format_number(float(c[end])) for end in ("min", "max"))
            held = f"{c['held']} of {c['points']}{mark}"
            lines.append(f"| {html.escape(claim)} | {held} | {low} | {high} |")
    return "\n".join(lines) + "\n"
