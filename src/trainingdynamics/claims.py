"""Claims: the checked statements of a chapter, and where each comes from.

A claim compares a measured value with a bound, and says whose statement it tests:

- ``paper``: a statement of the paper; ``reference`` says where to look it up ("§3, Conjecture 1").
- ``exact``: mathematics that must hold to rounding; ``reference`` names the identity.
- ``ours``: a hypothesis or sanity check of our own; ``reference`` says why it is there.

Every bound has a ``reason`` written before the run that tests it (the paper, a derivation, a
pilot that is not re-tuned). A claim that does not hold may carry a ``known_failure`` reason with
the numbers, and a kind: a ``paper`` claim is *not reproduced* (we ran the paper's regime or the
closest we can) or *out of reach* (the regime cannot be reached on this machine); an ``ours``
claim is *not supported* (a finding about our hypothesis, never a verdict on the paper); an
``exact`` claim cannot be a known failure. Known failures have strict-xfail semantics: computed
and shown, they pass while they fail, and fail the chapter the day they start holding, so that
the text gets updated. A NaN value is "not measured" and never passes.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from trainingdynamics.fileio import atomic_write_text

Relation = Literal["<=", ">="]
Source = Literal["paper", "exact", "ours"]
FailureKind = Literal["not reproduced", "out of reach", "not supported"]
CLAIMS_FILE_VARIABLE = "TRAININGDYNAMICS_CLAIMS_FILE"

SOURCES: tuple[Source, ...] = ("paper", "exact", "ours")
ALLOWED_FAILURES: dict[str, tuple[FailureKind, ...]] = {
    "paper": ("not reproduced", "out of reach"),
    "ours": ("not supported",),
    "exact": (),
}
HOLDS_VERDICT = {"paper": "reproduced", "exact": "exact", "ours": "holds"}
PASSING_VERDICTS = (
    "reproduced",
    "exact",
    "holds",
    "not reproduced",
    "out of reach",
    "not supported",
)
FAILING_VERDICTS = ("failed", "unexpectedly holds", "not measured")


class ClaimsFailed(AssertionError):
    """Raised by :func:`verdict` when a chapter's claims do not pass."""


@dataclass(frozen=True)
class Claim:
    """A named statement, its measured value, the bound the value must meet and where both come
    from."""

    name: str
    statement: str
    value: float
    bound: float
    relation: Relation
    known_failure: str | None = None
    source: Source = "ours"
    reference: str = ""
    reason: str = ""
    failure: FailureKind | None = None
    title: str = ""

    def __post_init__(self) -> None:
        if self.relation not in ("<=", ">="):
            raise ValueError(f"relation must be '<=' or '>=', not {self.relation!r}")
        if self.source not in SOURCES:
            raise ValueError(
                f"claim {self.name!r}: source must be one of {', '.join(SOURCES)}, "
                f"not {self.source!r}"
            )
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "bound", float(self.bound))
        object.__setattr__(self, "title", self.title or self.name.replace("_", " ").capitalize())
        if self.known_failure is None:
            if self.failure is not None:
                raise ValueError(
                    f"claim {self.name!r}: a failure kind needs a known_failure reason"
                )
            return
        allowed = ALLOWED_FAILURES[self.source]
        if not allowed:
            raise ValueError(
                f"claim {self.name!r}: an exact claim is mathematics that must hold; "
                "it cannot be a known failure"
            )
        kind = self.failure or allowed[0]
        if kind not in allowed:
            raise ValueError(
                f"claim {self.name!r}: a {self.source} claim's known failure is "
                f"{' or '.join(allowed)}, not {kind!r}"
            )
        object.__setattr__(self, "failure", kind)

    @property
    def holds(self) -> bool:
        """Whether the value meets the bound (a NaN value never does)."""
        if math.isnan(self.value):
            return False
        return self.value <= self.bound if self.relation == "<=" else self.value >= self.bound

    @property
    def verdict(self) -> str:
        """reproduced / exact / holds (by source), its known failure kind, failed, unexpectedly
        holds, or not measured."""
        if math.isnan(self.value):
            return "not measured"
        if self.failure is None:
            return HOLDS_VERDICT[self.source] if self.holds else "failed"
        return "unexpectedly holds" if self.holds else self.failure

    @property
    def passed(self) -> bool:
        """Whether this claim lets the chapter pass (strict-xfail semantics)."""
        return self.verdict in PASSING_VERDICTS

    @property
    def must_be(self) -> str:
        """The bound as the reader sees it, e.g. ``≤ 1e-08``."""
        return f"{'≤' if self.relation == '<=' else '≥'} {format_number(self.bound)}"


def at_most(name: str, statement: str, value: float, bound: float, **provenance: Any) -> Claim:
    """A claim that ``value <= bound``; keywords: source, reference, reason, known_failure, failure,
    title."""
    return Claim(name, statement, value, bound, "<=", **provenance)


def at_least(name: str, statement: str, value: float, bound: float, **provenance: Any) -> Claim:
    """A claim that ``value >= bound``; keywords as for :func:`at_most`."""
    return Claim(name, statement, value, bound, ">=", **provenance)


def format_number(x: float) -> str:
    """Four significant digits; integers as integers; NaN and infinities in words."""
    if math.isnan(x):
        return "not measured"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == int(x) and abs(x) < 1e6:
        return f"{int(x)}"
    return re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{x:.4g}").replace(
        "e+", "e"
    )  # 1e-08 → 1e-8, 3e+07 → 3e7


# ---------------------------------------------------------------------------------------------
# The JSON record: strict JSON, non-finite numbers spelled out


def encode_number(x: float) -> float | str:
    """A finite float as itself, a non-finite one as ``"NaN"``, ``"Infinity"`` or
    ``"-Infinity"``."""
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def claim_record(claim: Claim) -> dict[str, Any]:
    """A claim as a JSON-ready dict, with its derived verdict."""
    record = asdict(claim) | {
        "holds": claim.holds,
        "verdict": claim.verdict,
        "passed": claim.passed,
    }
    return record | {"value": encode_number(claim.value), "bound": encode_number(claim.bound)}


def claim_from_record(record: dict[str, Any]) -> Claim:
    """The claim a :func:`claim_record` describes (derived fields are recomputed, not trusted;
    float() reads "NaN")."""
    names = {f.name for f in fields(Claim)}
    values = {k: v for k, v in record.items() if k in names}
    return Claim(**values | {"value": float(values["value"]), "bound": float(values["bound"])})


def to_json(chapter: str, claims: Sequence[Claim]) -> str:
    """The claims record written for the runner, ``trainingdynamics list`` and the status page."""
    record = {
        "chapter": chapter,
        "passed": all(c.passed for c in claims),
        "claims": [claim_record(c) for c in claims],
    }
    return json.dumps(record, indent=2, allow_nan=False)


# ---------------------------------------------------------------------------------------------
# Display: one component for the chapters' verdict tables and the status page


def table(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims as a data frame: title, source, reference, value, bound, verdict, reasons."""
    rows = [
        {
            "claim": c.name,
            "title": c.title,
            "statement": c.statement,
            "source": c.source,
            "reference": c.reference,
            "value": c.value,
            "must be": c.must_be,
            "bound's reason": c.reason,
            "verdict": c.verdict,
            "known failure": c.known_failure or "",
        }
        for c in claims
    ]
    return pd.DataFrame(rows).set_index("claim")


VERDICT_CLASS = {
    "reproduced": "reproduced",
    "exact": "exact",
    "holds": "ours",
    "not reproduced": "not-reproduced",
    "out of reach": "out-of-reach",
    "not supported": "not-supported",
}

CSS = """
<style>
.td-claims { width: 100%; table-layout: fixed; border-collapse: collapse; font-size: 0.9em; }
.td-claims th, .td-claims td { vertical-align: top; padding: 0.35em 0.5em;
  border-bottom: 1px solid #ddd; overflow-wrap: anywhere; text-align: left; }
.td-claims col.td-what { width: 64%; } .td-claims col.td-value { width: 19%; }
.td-claims col.td-verdict { width: 17%; }
.td-claims .td-detail { display: block; color: #555; font-size: 0.9em; margin-top: 0.2em; }
.td-badge { display: inline-block; padding: 0.1em 0.45em; border-radius: 0.3em; font-weight: 600;
  border: 1px solid currentColor; white-space: nowrap; }
.td-badge.reproduced { color: #116329; background: #dafbe1; }
.td-badge.exact { color: #0a3069; background: #ddf4ff; }
.td-badge.ours { color: #3d3d3d; background: #eeeeee; }
.td-badge.not-reproduced { color: #82071e; background: #ffebe9; }
.td-badge.out-of-reach { color: #7d4e00; background: #fff8c5; }
.td-badge.not-supported { color: #6639ba; background: #fbefff; }
.td-badge.failed, .td-badge.not-run { color: #ffffff; background: #a40e26; }
</style>
"""


def anchor(chapter: str, name: str) -> str:
    """The HTML id of a claim's row in its chapter, the status page's link target."""
    return f"claim-{chapter}-{name}".replace("_", "-")


def badge(verdict_word: str) -> str:
    """A verdict as a labelled badge: the word itself is the label, the colour only repeats it."""
    css = VERDICT_CLASS.get(verdict_word, "failed")
    return f'<span class="td-badge {css}">{html.escape(verdict_word)}</span>'


def claim_row(chapter: str, claim: Claim, *, link: str | None = None, note: str = "") -> str:
    """One claim as a table row: what was tested and whose statement it is, the measurement against
    its bound, the outcome."""
    e = html.escape
    title = (
        f'<a href="{e(link)}">{e(claim.title)}</a>'
        if link
        else f"<strong>{e(claim.title)}</strong>"
    )
    details = [
        e(claim.statement),
        f"<em>{e(claim.source)}</em>: {e(claim.reference)}",
        f"<em>bound</em>: {e(claim.reason)}",
    ]
    if claim.known_failure:
        details.append(f"<em>{e(claim.failure or '')}</em>: {e(claim.known_failure)}")
    what = title + "".join(f'<span class="td-detail">{d}</span>' for d in details)
    measured = (
        f'{e(format_number(claim.value))}<span class="td-detail">must be {e(claim.must_be)}</span>'
    )
    outcome = badge(claim.verdict) + (f'<span class="td-detail">{e(note)}</span>' if note else "")
    cells = "".join(f"<td>{cell}</td>" for cell in (what, measured, outcome))
    return f'<tr id="{anchor(chapter, claim.name)}">{cells}</tr>'


def html_table(
    chapter: str,
    claims: Sequence[Claim],
    *,
    links: dict[str, str] | None = None,
    notes: dict[str, str] | None = None,
) -> str:
    """The claims as a narrow three-column HTML table (no horizontal scrolling at a laptop's page
    width).

    ``links`` turn titles into links; ``notes`` add a line under a verdict (e.g. its hold rate over
    seeds).
    """
    links, notes = links or {}, notes or {}
    head = (
        '<table class="td-claims"><colgroup><col class="td-what"><col class="td-value">'
        '<col class="td-verdict"></colgroup><thead><tr><th>claim, source and bound</th>'
        "<th>measured</th><th>verdict</th></tr></thead><tbody>"
    )
    rows = "".join(
        claim_row(chapter, c, link=links.get(c.name), note=notes.get(c.name, "")) for c in claims
    )
    return head + rows + "</tbody></table>"


@dataclass(frozen=True)
class ClaimsTable:
    """A chapter's verdict as the notebook displays it: the HTML table, with the data frame as
    ``.data``."""

    chapter: str
    claims: tuple[Claim, ...]

    @property
    def data(self) -> pd.DataFrame:
        return table(self.claims)

    def _repr_html_(self) -> str:
        return CSS + html_table(self.chapter, self.claims)

    def __repr__(self) -> str:
        return "\n".join(
            f"{c.verdict:>18}  {c.name} = {format_number(c.value)} (must be {c.must_be})"
            for c in self.claims
        )


# ---------------------------------------------------------------------------------------------
# The notebook's last cell


def _glue_values(chapter: str, claims: Sequence[Claim]) -> None:
    """Make each value available to the prose as ``{glue:text}`chapter-name```."""
    try:
        from IPython import get_ipython
        from myst_nb import glue
    except ImportError:
        return
    if get_ipython() is None:
        return
    for c in claims:
        glue(f"{chapter}-{c.name}", c.value, display=False)


def check_provenance(chapter: str, claims: Sequence[Claim]) -> None:
    """Refuse an empty list, duplicate names, or a claim that does not say where it and its bound
    come from."""
    if not claims:
        raise ValueError(f"chapter {chapter!r} produced no claims")
    names = [c.name for c in claims]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate claim names in {chapter!r}: {names}")
    missing = [c.name for c in claims if not (c.reference.strip() and c.reason.strip())]
    if missing:
        raise ValueError(
            f"claims of {chapter!r} without a reference or a bound's reason: {', '.join(missing)}"
        )


def failure_lines(claims: Sequence[Claim]) -> list[str]:
    """One line per claim that does not pass: name, verdict, value and bound."""
    return [
        f"{c.name}: {c.verdict} (value {format_number(c.value)}, must be {c.must_be})"
        for c in claims
        if not c.passed
    ]


def verdict(chapter: str, claims: Sequence[Claim]) -> ClaimsTable:
    """Glue, record and return (for display) a chapter's claims; raise :class:`ClaimsFailed` unless
    all pass."""
    check_provenance(chapter, claims)
    _glue_values(chapter, claims)
    target = os.environ.get(CLAIMS_FILE_VARIABLE)
    if target:
        atomic_write_text(Path(target), to_json(chapter, claims))
    bad = failure_lines(claims)
    if bad:
        raise ClaimsFailed(f"{chapter}: {len(bad)} claim(s) did not pass:\n  " + "\n  ".join(bad))
    return ClaimsTable(chapter, tuple(claims))
