"""Claims: verdicts, strict-xfail semantics, the JSON record and the notebook-side verdict."""

from __future__ import annotations

import json
import math

import pytest

from trainingdynamics.claims import CLAIMS_FILE_VARIABLE, Claim, ClaimsFailed, at_least, at_most, verdict


def test_relations_and_nan() -> None:
    assert at_most("a", "s", 1.0, 1.0).holds
    assert not at_most("a", "s", 1.1, 1.0).holds
    assert at_least("a", "s", 2.0, 1.0).holds
    assert not at_least("a", "s", 0.5, 1.0).holds
    assert not at_most("a", "s", math.nan, 1.0).holds
    assert not at_least("a", "s", math.nan, 1.0).holds


def test_bad_relation_is_rejected() -> None:
    with pytest.raises(ValueError):
        Claim("a", "s", 1.0, 1.0, "<")  # type: ignore[arg-type]


def test_documented_non_reproduction_is_strict() -> None:
    failing = at_most("a", "s", 2.0, 1.0, known_failure="too small a network")
    assert failing.verdict == "documented non-reproduction" and failing.passed
    holding = at_most("a", "s", 0.5, 1.0, known_failure="too small a network")
    assert holding.verdict == "unexpectedly reproduced" and not holding.passed


def test_nan_is_not_measured_and_never_passes() -> None:
    assert at_most("a", "s", math.nan, 1.0).verdict == "not measured"
    unmeasured = at_most("a", "s", math.nan, 1.0, known_failure="reason")
    assert unmeasured.verdict == "not measured" and not unmeasured.passed


def test_verdict_raises_on_failure_and_names_the_claim() -> None:
    claims = [at_most("good", "s", 0.0, 1.0), at_least("bad", "s", 0.0, 1.0)]
    with pytest.raises(ClaimsFailed, match="bad"):
        verdict("demo", claims)


def test_verdict_raises_when_a_known_failure_starts_holding() -> None:
    with pytest.raises(ClaimsFailed, match="unexpectedly reproduced"):
        verdict("demo", [at_most("fixed", "s", 0.0, 1.0, known_failure="was broken")])


def test_verdict_writes_the_record(tmp_path, monkeypatch) -> None:
    target = tmp_path / "claims" / "demo.json"
    monkeypatch.setenv(CLAIMS_FILE_VARIABLE, str(target))
    claims = [at_most("good", "s", 0.5, 1.0), at_most("known", "s", 3.0, 1.0, known_failure="reason")]
    table = verdict("demo", claims).data
    record = json.loads(target.read_text())
    assert record["chapter"] == "demo" and record["passed"] is True
    assert [c["verdict"] for c in record["claims"]] == ["reproduced", "documented non-reproduction"]
    assert list(table["verdict"]) == ["reproduced", "documented non-reproduction"]
    assert table.loc["known", "reason"] == "reason"


def test_verdict_refuses_empty_or_duplicate_claims() -> None:
    with pytest.raises(ValueError):
        verdict("demo", [])
    with pytest.raises(ValueError, match="duplicate"):
        verdict("demo", [at_most("a", "s", 0, 1), at_most("a", "t", 0, 1)])
