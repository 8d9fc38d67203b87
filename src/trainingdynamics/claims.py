"""Claims: the checked statements of a chapter.

A claim compares a measured value with a bound. A claim may carry a
``known_failure`` reason: it is a *documented non-reproduction* with strict-xfail
semantics — computed and shown, it passes while it fails, and it fails the chapter
the day it starts holding, so that the text gets updated.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Sequence

import pandas as pd

from trainingdynamics.fileio import atomic_write_text

Relation = Literal["<=", ">="]
CLAIMS_FILE_VARIABLE = "TRAININGDYNAMICS_CLAIMS_FILE"


class ClaimsFailed(AssertionError):
    """Raised by :func:`verdict` when a chapter's claims do not pass."""


@dataclass(frozen=True)
class Claim:
    """A named statement, its measured value and the bound the value must meet."""

    name: str
    statement: str
    value: float
    bound: float
    relation: Relation
    known_failure: str | None = None

    def __post_init__(self) -> None:
        if self.relation not in ("<=", ">="):
            raise ValueError(f"relation must be '<=' or '>=', not {self.relation!r}")
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "bound", float(self.bound))

    @property
    def holds(self) -> bool:
        """Whether the value meets the bound (a NaN value never does)."""
        if math.isnan(self.value):
            return False
        return self.value <= self.bound if self.relation == "<=" else self.value >= self.bound

    @property
    def verdict(self) -> str:
        """One of: reproduced, failed, not measured, documented non-reproduction, unexpectedly reproduced.

        A NaN value is "not measured" and never passes: a documented non-reproduction must
        be measured, or it could never start holding and flag the text as out of date.
        """
        if math.isnan(self.value):
            return "not measured"
        if self.known_failure is None:
            return "reproduced" if self.holds else "failed"
        return "unexpectedly reproduced" if self.holds else "documented non-reproduction"

    @property
    def passed(self) -> bool:
        """Whether this claim lets the chapter pass (strict-xfail semantics)."""
        return self.verdict in ("reproduced", "documented non-reproduction")


def at_most(name: str, statement: str, value: float, bound: float, *, known_failure: str | None = None) -> Claim:
    """A claim that ``value <= bound``."""
    return Claim(name, statement, value, bound, "<=", known_failure)


def at_least(name: str, statement: str, value: float, bound: float, *, known_failure: str | None = None) -> Claim:
    """A claim that ``value >= bound``."""
    return Claim(name, statement, value, bound, ">=", known_failure)


def table(claims: Sequence[Claim]) -> pd.DataFrame:
    """The claims as a table: name, statement, value, relation, bound, verdict, reason."""
    rows = [
        {
            "claim": c.name,
            "statement": c.statement,
            "value": c.value,
            "must be": f"{c.relation} {c.bound:.3g}",
            "verdict": c.verdict,
            "reason": c.known_failure or "",
        }
        for c in claims
    ]
    return pd.DataFrame(rows).set_index("claim")


def to_json(chapter: str, claims: Sequence[Claim]) -> str:
    """The claims record written for the runner and ``trainingdynamics list``."""
    record = {
        "chapter": chapter,
        "passed": all(c.passed for c in claims),
        "claims": [asdict(c) | {"holds": c.holds, "verdict": c.verdict, "passed": c.passed} for c in claims],
    }
    return json.dumps(record, indent=2, allow_nan=True)


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


def styled(claims: Sequence[Claim]) -> "pd.io.formats.style.Styler":
    """The claims table for display: full statements, values to four significant digits."""
    return table(claims).style.format({"value": "{:.4g}"})


def verdict(chapter: str, claims: Sequence[Claim]) -> "pd.io.formats.style.Styler":
    """Glue, record and return (for display) a chapter's claims; raise :class:`ClaimsFailed` unless all pass."""
    if not claims:
        raise ValueError(f"chapter {chapter!r} produced no claims")
    names = [c.name for c in claims]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate claim names in {chapter!r}: {names}")
    _glue_values(chapter, claims)
    target = os.environ.get(CLAIMS_FILE_VARIABLE)
    if target:
        atomic_write_text(Path(target), to_json(chapter, claims))
    bad = [c for c in claims if not c.passed]
    if bad:
        lines = [f"{c.name}: {c.verdict} (value {c.value:.4g}, must be {c.relation} {c.bound:.4g})" for c in bad]
        raise ClaimsFailed(f"{chapter}: {len(bad)} claim(s) did not pass:\n  " + "\n  ".join(lines))
    return styled(claims)
