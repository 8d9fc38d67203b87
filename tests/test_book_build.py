"""The whole pipeline: every chapter at the quick profile, then the HTML book with warnings as errors."""

from __future__ import annotations

import json

import pytest

from trainingdynamics.chapters import available
from trainingdynamics.claims import anchor
from trainingdynamics.cli import main
from trainingdynamics.runner import Layout

pytestmark = pytest.mark.slow


def test_book_builds_at_quick_profile_and_rebuilds_from_cache(book_copy, capsys) -> None:
    layout = Layout(book_copy)
    assert main(["--root", str(book_copy), "build", "--profile", "quick"]) == 0, capsys.readouterr().err
    html = book_copy / "_build" / "html"
    assert (html / "index.html").is_file()
    page = (html / "book" / "quickstart.html").read_text()
    assert "<img" in page and "min_norm_error" in page and "reproduced" in page
    assert (html / "book" / "bibliography.html").is_file()
    status_page = (html / "book" / "status.html").read_text()
    for chapter in available(layout.book):
        record = json.loads(layout.claims(chapter).read_text())
        assert record["passed"], chapter
        for claim in record["claims"]:
            assert claim["source"] in ("paper", "exact", "ours") and claim["reference"] and claim["reason"], claim["name"]
            row = f'<tr id="{anchor(chapter, claim["name"])}">'
            assert row in status_page, f"status page lacks {chapter}.{claim['name']}"
            assert f">{claim['verdict']}</span>" in status_page.split(row)[1].split("</tr>")[0]
            assert row in (html / "book" / f"{chapter}.html").read_text(), f"{chapter} page lacks its claim {claim['name']}"
    assert "Reproduction status:" in (html / "index.html").read_text() + (html / "book" / "intro.html").read_text()
    capsys.readouterr()
    assert main(["--root", str(book_copy), "build", "--profile", "quick"]) == 0
    table = capsys.readouterr().out
    chapter_rows = [line for line in table.splitlines()[1:] if not line.startswith("book built")]
    assert chapter_rows and all(line.rstrip().endswith("cached") for line in chapter_rows), table
