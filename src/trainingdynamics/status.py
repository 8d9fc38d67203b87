"""The *Reproduction status* page: every chapter's claims and verdicts, generated from the runner's
records.

The page is written at build time from ``_build/claims/<chapter>.json`` and never edited by hand,
so it stays true when a chapter's claims change. Each claim is recomputed from its record (value,
bound, relation, source, known failure), so a stored verdict is never trusted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trainingdynamics.claims import CSS, Claim, anchor, claim_from_record, html_table

PAGE = "status"
SUMMARY_MARKER = "<!-- status-summary -->"
VERDICT_ORDER = (
    "reproduced",
    "not reproduced",
    "out of reach",
    "exact",
    "holds",
    "not supported",
    "failed",
    "unexpectedly holds",
    "not measured",
)
VERDICT_WORDS = {"holds": "holds (ours)", "not supported": "not supported (ours)"}


@dataclass(frozen=True)
class Chapter:
    """What the page says about a chapter besides its claims: its name, title and paper (a citation
    key)."""

    name: str
    title: str
    paper: str  # a key of book/references.bib; "" for a chapter that reproduces no paper


def claims_of(record: Mapping[str, Any] | None) -> list[Claim] | None:
    """The claims of a chapter record, or ``None`` if the record is missing or not of the expected
    shape."""
    if (
        not isinstance(record, Mapping)
        or not isinstance(record.get("claims"), list)
        or not record["claims"]
    ):
        return None
    try:
        return [claim_from_record(c) for c in record["claims"]]
    except (TypeError, ValueError, KeyError):
        return None


def tally(claims: Sequence[Claim]) -> Counter:
    """How many claims have each verdict."""
    return Counter(c.verdict for c in claims)


def tally_text(counts: Counter) -> str:
    """``"12 reproduced, 2 not reproduced, …"`` in the page's fixed verdict order."""
    return ", ".join(f"{counts[v]} {VERDICT_WORDS.get(v, v)}" for v in VERDICT_ORDER if counts[v])


def counted(n: int, word: str) -> str:
    """``counted(1, "claim")`` is "1 claim", ``counted(2, "claim")`` "2 claims"."""
    return f"{n} {word}{'s' * (n != 1)}"


def summary_line(
    chapters: Sequence[Chapter], records: Mapping[str, Mapping[str, Any] | None]
) -> str:
    """The front page's one line: papers, claims and their verdicts, missing chapters, a link to the
    page."""
    parsed = {c.name: claims_of(records.get(c.name)) for c in chapters}
    claims = [claim for found in parsed.values() if found for claim in found]
    papers = len({c.paper for c in chapters if c.paper})
    missing = [name for name, found in parsed.items() if found is None]
    counts = ", ".join(
        counted(n, word)
        for n, word in ((len(chapters), "chapter"), (papers, "paper"), (len(claims), "claim"))
    )
    line = f"**Reproduction status:** {counts}: {tally_text(tally(claims)) or 'none recorded'}"
    if missing:
        line += f"; not run: {', '.join(missing)}"
    return line + f" ([details]({PAGE}.md))."


def chapter_section(
    chapter: Chapter, record: Mapping[str, Any] | None, hold_rates: Mapping[str, str] | None = None
) -> str:
    """One chapter's heading, paper, tally and claims table (or why there is none)."""
    lines = [f"## {chapter.title}", ""]
    lines.append(
        f"Paper: {{cite:t}}`{chapter.paper}`."
        if chapter.paper
        else "A classical result, no paper reproduced."
    )
    claims = claims_of(record)
    if claims is None:
        why = "no claims record" if record is None else "its claims record is unreadable"
        command = f"<code>trainingdynamics run {chapter.name}</code>"
        badge = '<span class="td-badge not-run">not run</span>'
        lines += ["", f"<p>{badge} {why}: run {command}, then build the book again.</p>"]
        return "\n".join(lines)
    links = {c.name: f"{chapter.name}.html#{anchor(chapter.name, c.name)}" for c in claims}
    table = html_table(chapter.name, claims, links=links, notes=dict(hold_rates or {}))
    lines += ["", f"{len(claims)} claims: {tally_text(tally(claims))}.", "", table]
    return "\n".join(lines)


def status_page(
    chapters: Sequence[Chapter],
    records: Mapping[str, Mapping[str, Any] | None],
    hold_rates: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """The whole page in MyST Markdown (the tables as raw HTML); ``hold_rates[chapter][claim]``
    under verdicts."""
    intro = (
        "# Reproduction status\n\nEvery claim the chapters check, with its verdict. A claim's "
        "**source** says whose statement it tests: *paper* (with where to find it in the paper), "
        "*exact* (mathematics that must hold to rounding) or *ours* (a hypothesis or sanity check "
        "of our own, with why). Only a paper's statement can be *not reproduced* (we ran the "
        "paper's regime, or the closest we can, and it fails) or *out of reach* (the paper's "
        "regime cannot be reached on this machine); a failed hypothesis of ours is *not "
        "supported*, a finding about our hypothesis and not about the paper. Known failures stay "
        "computed: the day one starts holding, its chapter fails and its text gets updated. This "
        "page is generated from the last run of each chapter; under a verdict, how many seeds it "
        "held on in the [robustness sweep](robustness.md).\n\n"
        + summary_line(chapters, records).replace(f" ([details]({PAGE}.md))", "")
        + "\n"
    )
    sections = [
        chapter_section(c, records.get(c.name), (hold_rates or {}).get(c.name)) for c in chapters
    ]
    return intro + "\n" + CSS.strip() + "\n\n" + "\n\n".join(sections) + "\n"
