"""The Reproduction status page, built from a fixture set of claims records."""

from __future__ import annotations

import json
import math
import re

import pytest

from trainingdynamics import status
from trainingdynamics.book import stage
from trainingdynamics.claims import at_least, at_most, to_json
from trainingdynamics.runner import Layout

PAPER = dict(source="paper", reference="§3, Conjecture 1", reason="ours: a tolerance")
OURS = dict(source="ours", reference="a sanity check", reason="fixed before the run")
EXACT = dict(source="exact", reference="Lemma 7 closed form", reason="float64 rounding")

CLAIMS = [
    at_most("paper_holds", "the peak falls with η", -1.0, -0.8, title="Peak falls", **PAPER),
    at_most(
        "paper_fails", "conditioning rises", 2.0, 1.0, known_failure="falls 0.16 → 0.09", **PAPER
    ),
    at_most(
        "paper_far",
        "BN at η = 1",
        2.0,
        1.0,
        known_failure="stalls at η ≥ 0.1",
        failure="out of reach",
        **PAPER,
    ),
    at_most("identity", "closed form equals Monte Carlo", 1e-16, 1e-12, **EXACT),
    at_least("our_check", "a count", 3, 1, **OURS),
    at_most("our_guess", "ends at L_A", 0.5, 0.02, known_failure="plateaus end in drops", **OURS),
    at_most("unmeasured", "no run had both phases", math.nan, 1.0, **PAPER),
]
CHAPTERS = [
    status.Chapter("alpha", "Alpha: a chapter", "jastrzebski2020breakeven"),
    status.Chapter("beta", "Beta: never run", "yin2019understanding"),
    status.Chapter("gamma", "Gamma: a broken record", ""),
]


@pytest.fixture
def records() -> dict:
    return {"alpha": json.loads(to_json("alpha", CLAIMS)), "beta": None, "gamma": {"passed": True}}


def test_every_claim_has_a_row_with_its_verdict_source_reference_and_link(records) -> None:
    page = status.status_page(CHAPTERS, records)
    rows = re.findall(r'<tr id="claim-alpha-([\w-]+)">(.*?)</tr>', page)
    assert [name for name, _ in rows] == [c.name.replace("_", "-") for c in CLAIMS]
    expected = [
        "reproduced",
        "not reproduced",
        "out of reach",
        "exact",
        "holds",
        "not supported",
        "not measured",
    ]
    for (name, row), claim, word in zip(rows, CLAIMS, expected, strict=True):
        assert f">{word}</span>" in row, name  # the verdict is a word, not only a colour
        assert f'href="alpha.html#claim-alpha-{name}"' in row
        assert f"<em>{claim.source}</em>: {claim.reference}" in row and claim.reason in row
    assert (
        "falls 0.16 → 0.09" in page and "stalls at η ≥ 0.1" in page
    )  # known-failure reasons shown
    assert "Peak falls" in page
    assert "{cite:t}`jastrzebski2020breakeven`" in page


def test_missing_and_malformed_records_are_shown_as_not_run(records) -> None:
    page = status.status_page(CHAPTERS, records)
    beta = page.split("## Beta: never run")[1].split("## Gamma")[0]
    assert "not run" in beta and "no claims record" in beta and "trainingdynamics run beta" in beta
    gamma = page.split("## Gamma: a broken record")[1]
    assert "not run" in gamma and "unreadable" in gamma and "no paper" in gamma


@pytest.mark.parametrize(
    "bad", [[1, 2], {"passed": True, "run": "x"}, {"claims": [{"name": "x"}]}, {"claims": "x"}]
)
def test_claims_of_a_malformed_record_is_none(bad) -> None:
    assert status.claims_of(bad) is None


def test_summary_line_counts_chapters_papers_and_verdicts(records) -> None:
    line = status.summary_line(CHAPTERS, records)
    assert line.startswith("**Reproduction status:** 3 chapters, 2 papers, 7 claims: ")
    assert (
        "1 reproduced, 1 not reproduced, 1 out of reach, 1 exact, 1 holds (ours), "
        "1 not supported (ours)" in line
    )
    assert (
        "1 not measured" in line
        and "not run: beta, gamma" in line
        and line.endswith("([details](status.md)).")
    )


def test_stage_writes_the_page_and_the_front_page_summary(book_copy, monkeypatch) -> None:
    layout = Layout(book_copy)
    (layout.build / "executed").mkdir(parents=True)
    (layout.executed("quickstart")).write_text("{}")
    layout.claims("quickstart").parent.mkdir(parents=True)
    layout.claims("quickstart").write_text(to_json("quickstart", CLAIMS[:1]))
    site = stage(layout, ["quickstart"])
    assert status.SUMMARY_MARKER in (layout.book / "intro.md").read_text()
    intro = (site / "book" / "intro.md").read_text()
    assert (
        status.SUMMARY_MARKER not in intro and "1 chapter, 0 papers, 1 claim: 1 reproduced" in intro
    )
    assert 'id="claim-quickstart-paper-holds"' in (site / "book" / "status.md").read_text()


def test_robustness_entries_pages_and_hold_rates_on_the_status_page(book_copy, records) -> None:
    import pandas as pd

    from trainingdynamics import robustness
    from trainingdynamics.sweep import SweepResult, summary_table

    columns = ["seed", "status", "claim", "value", "bound", "passed"]
    rows = [
        (0, "failed", "paper_holds", 0.5, 1.0, True),
        (0, "failed", "our_check", 2.0, 1.0, False),
        (1, "reproduced", "paper_holds", 1.5, 1.0, True),
        (1, "reproduced", "our_check", float("nan"), 1.0, True),
    ]
    table = pd.DataFrame(rows, columns=columns)
    entry = robustness.chapter_entry(
        SweepResult(book_copy, table, summary_table(table), 2, 1), [0, 1], "quick"
    )
    assert entry["claims"]["paper_holds"] == {"held": 2, "points": 2, "min": 0.5, "max": 1.5}
    assert entry["claims"]["our_check"]["held"] == 1 and entry["failed_seeds"] == [0]
    data = {"alpha": entry}
    page = robustness.robustness_page(
        [("alpha", "Alpha: a chapter"), ("beta", "Beta: never run")], data
    )
    assert (
        "| paper_holds | 2 of 2 | 0.5 | 1.5 |" in page
        and "| our_check | 1 of 2 (**not all**) |" in page
    )
    assert "Not measured yet" in page.split("## Beta")[1]
    rates = {"alpha": robustness.hold_rates(data, "alpha")}
    status_page = status.status_page(CHAPTERS, records, rates)
    row = status_page.split('<tr id="claim-alpha-our-check">')[1].split("</tr>")[0]
    assert "held on 1 of 2 seeds" in row
    path = book_copy / "book" / "robustness.json"
    path.write_text(json.dumps(data))
    summary = robustness.seed_summary("alpha", path)
    assert summary.loc["our_check", "held"] == 1 and summary.loc["paper_holds", "max"] == 1.5
    path.write_text("not json")
    assert robustness.read_results(Layout(book_copy)) == {}
