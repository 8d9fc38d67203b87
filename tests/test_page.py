"""The "Re-run this chapter" box: its commands reproduce the run's configuration."""

from __future__ import annotations

import json
import shlex

import pytest
import yaml

from trainingdynamics.chapters import CHAPTERS, study
from trainingdynamics.page import parameter_table, rerun_box, rerun_commands
from trainingdynamics.runner import parse_assignments


def cli_config(chapter: str, line: str):
    """The config a ``trainingdynamics run`` line asks for, read back as the CLI reads it."""
    words = shlex.split(line)
    profile = words[words.index("--profile") + 1]
    flags = [words[i + 1] for i, word in enumerate(words) if word == "-p"]
    return study(chapter).config(profile, **parse_assignments(flags))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_both_commands_give_back_the_configuration(chapter: str) -> None:
    cfg = study(chapter).config("full")
    cli, papermill = rerun_commands(chapter, cfg, "quick")
    assert cli_config(chapter, cli) == cfg
    overrides = yaml.safe_load(shlex.split(papermill)[-1])["overrides"]
    assert study(chapter).config("quick", **overrides) == cfg
    assert rerun_commands(chapter, study(chapter).config("quick"), "quick")[0].endswith("quick")


def test_the_table_lists_every_field_with_both_profiles() -> None:
    cfg = study("quickstart").config("quick", steps=123)
    table = parameter_table("quickstart", cfg)
    assert table.loc["steps"].tolist() == [123, 3000, 6000]
    assert list(table.columns) == ["this run", "quick", "full"]
    html = rerun_box("quickstart", cfg, "quick")._repr_html_()
    assert "trainingdynamics run quickstart --profile quick -p steps=123" in html
    assert json.dumps({"steps": 123}) in html.replace("&quot;", '"')
