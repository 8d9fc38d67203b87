"""Claims: provenance, verdict kinds, strict-xfail semantics, the JSON record and the notebook-side
verdict."""

from __future__ import annotations

import json
import math

import pytest

from trainingdynamics.claims import (
    CLAIMS_FILE_VARIABLE,
    Claim,
    ClaimsFailed,
    at_least,
    at_most,
    claim_from_record,
    claim_record,
    to_json,
    verdict,
)

PAPER = dict(source="paper", reference="§3, Conjecture 1", reason="ours: a tolerance")
EXACT = dict(source="exact", reference="an identity", reason="rounding")
OURS = dict(source="ours", reference="a sanity check", reason="fixed before the run")


def test_relations_and_nan() -> None:
    assert at_most("a", "s", 1.0, 1.0).holds
    assert not at_most("a", "s", 1.1, 1.0).holds
    assert at_least("a", "s", 2.0, 1.0).holds
    assert not at_least("a", "s", 0.5, 1.0).holds
    assert not at_most("a", "s", math.nan, 1.0).holds
    assert not at_least("a", "s", math.nan, 1.0).holds


def test_bad_relation_or_source_is_rejected() -> None:
    with pytest.raises(ValueError):
        Claim("a", "s", 1.0, 1.0, "<")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="source"):
        at_most("a", "s", 1.0, 1.0, source="folklore")


@pytest.mark.parametrize(
    ("provenance", "value", "expected"),
    [
        (PAPER, 0.5, "reproduced"),
        (EXACT, 0.5, "exact"),
        (OURS, 0.5, "holds"),
        (PAPER, 2.0, "failed"),
        (EXACT, 2.0, "failed"),
        (OURS, 2.0, "failed"),
        (PAPER | {"known_failure": "why"}, 2.0, "not reproduced"),
        (PAPER | {"known_failure": "why", "failure": "out of reach"}, 2.0, "out of reach"),
        (OURS | {"known_failure": "why"}, 2.0, "not supported"),
        (PAPER | {"known_failure": "why"}, 0.5, "unexpectedly holds"),
        (OURS | {"known_failure": "why"}, 0.5, "unexpectedly holds"),
        (PAPER, math.nan, "not measured"),
        (PAPER | {"known_failure": "why"}, math.nan, "not measured"),
    ],
)
def test_every_verdict_kind(provenance: dict, value: float, expected: str) -> None:
    claim = at_most("a", "s", value, 1.0, **provenance)
    assert claim.verdict == expected
    assert claim.passed == (
        expected
        in ("reproduced", "exact", "holds", "not reproduced", "out of reach", "not supported")
    )


@pytest.mark.parametrize(
    "provenance",
    [
        OURS
        | {
            "known_failure": "why",
            "failure": "not reproduced",
        },  # our hypothesis cannot blame the paper
        OURS | {"known_failure": "why", "failure": "out of reach"},
        PAPER | {"known_failure": "why", "failure": "not supported"},
        EXACT | {"known_failure": "why"},  # mathematics must hold
        PAPER | {"failure": "not reproduced"},  # a kind without a reason
    ],
)
def test_only_paper_claims_can_be_non_reproductions(provenance: dict) -> None:
    with pytest.raises(ValueError):
        at_most("a", "s", 2.0, 1.0, **provenance)


def test_title_defaults_to_the_name() -> None:
    assert at_most("rate_bound", "s", 0.0, 1.0).title == "Rate bound"
    assert at_most("rate_bound", "s", 0.0, 1.0, title="Contraction").title == "Contraction"


def test_verdict_raises_on_failure_and_names_the_claim_value_and_bound() -> None:
    claims = [at_most("good", "s", 0.0, 1.0, **OURS), at_least("bad", "s", 0.25, 1.0, **OURS)]
    with pytest.raises(ClaimsFailed, match=r"bad: failed \(value 0.25, must be ≥ 1\)"):
        verdict("demo", claims)


def test_verdict_raises_when_a_known_failure_starts_holding() -> None:
    with pytest.raises(ClaimsFailed, match="unexpectedly holds"):
        verdict("demo", [at_most("fixed", "s", 0.0, 1.0, known_failure="was broken", **PAPER)])


def test_verdict_refuses_claims_without_provenance() -> None:
    with pytest.raises(ValueError, match="bare"):
        verdict("demo", [at_most("bare", "s", 0.0, 1.0)])
    with pytest.raises(ValueError, match="no_reason"):
        verdict("demo", [at_most("no_reason", "s", 0.0, 1.0, source="exact", reference="identity")])


def test_verdict_writes_a_strict_json_record(tmp_path, monkeypatch) -> None:
    target = tmp_path / "claims" / "demo.json"
    monkeypatch.setenv(CLAIMS_FILE_VARIABLE, str(target))
    claims = [
        at_most("good", "s", 0.5, 1.0, **EXACT),
        at_most(
            "known", "s", math.inf, 1.0, known_failure="reason", failure="out of reach", **PAPER
        ),
    ]
    table = verdict("demo", claims).data
    text = target.read_text()
    record = json.loads(
        text, parse_constant=lambda token: pytest.fail(f"non-standard JSON token {token}")
    )
    assert record["chapter"] == "demo" and record["passed"] is True
    assert [c["verdict"] for c in record["claims"]] == ["exact", "out of reach"]
    assert [c["source"] for c in record["claims"]] == ["exact", "paper"]
    assert (
        record["claims"][1]["value"] == "Infinity"
        and record["claims"][1]["failure"] == "out of reach"
    )
    assert list(table["verdict"]) == ["exact", "out of reach"]
    assert (
        table.loc["known", "known failure"] == "reason"
        and table.loc["known", "reference"] == "§3, Conjecture 1"
    )


@pytest.mark.parametrize("value", [0.5, 3.0, math.nan, math.inf, -math.inf, 1e-300])
def test_json_round_trip(value: float) -> None:
    claim = at_least("x", "statement", value, 1.0, known_failure="why", title="X", **PAPER)
    back = claim_from_record(json.loads(json.dumps(claim_record(claim), allow_nan=False)))
    assert (
        back.verdict == claim.verdict
        and back.reference == claim.reference
        and back.failure == claim.failure
    )
    assert (math.isnan(back.value) and math.isnan(value)) or back == claim
    document = json.loads(to_json("demo", [claim]))
    assert claim_from_record(document["claims"][0]).verdict == claim.verdict


def test_the_verdict_table_is_one_narrow_component_with_anchors() -> None:
    claims = [
        at_most("good_one", "what <is> tested", 0.5, 1.0, **EXACT),
        at_most("bad", "s", 2.0, 1.0, known_failure="why", **OURS),
    ]
    page = verdict("demo", claims)._repr_html_()
    assert 'id="claim-demo-good-one"' in page and "table-layout: fixed" in page
    assert "what &lt;is&gt; tested" in page  # statements are escaped
    assert (
        page.count("<tr id=") == 2 and ">not supported</span>" in page and ">exact</span>" in page
    )


def test_verdict_refuses_empty_or_duplicate_claims() -> None:
    with pytest.raises(ValueError):
        verdict("demo", [])
    with pytest.raises(ValueError, match="duplicate"):
        verdict("demo", [at_most("a", "s", 0, 1, **OURS), at_most("a", "t", 0, 1, **OURS)])
