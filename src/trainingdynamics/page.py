"""What a chapter page shows besides its figures: the "Re-run this chapter" box, from ``cfg``."""

from __future__ import annotations

import dataclasses
import html
import json
import shlex
from typing import Any

import pandas as pd

from trainingdynamics.chapters import study


def parameter_table(chapter: str, cfg: Any) -> pd.DataFrame:
    """Each ``Config`` field: its value in this run and in the quick and full profiles."""
    profiles = study(chapter).PROFILES
    rows = {
        field.name: {
            "this run": getattr(cfg, field.name),
            **{name: getattr(profile, field.name) for name, profile in profiles.items()},
        }
        for field in dataclasses.fields(cfg)
    }
    return pd.DataFrame.from_dict(rows, orient="index", dtype=object).rename_axis("parameter")


def changed_fields(chapter: str, cfg: Any, profile: str) -> dict[str, Any]:
    """The fields in which ``cfg`` differs from its profile's defaults."""
    base = study(chapter).PROFILES[profile]
    return {
        f.name: getattr(cfg, f.name)
        for f in dataclasses.fields(cfg)
        if getattr(cfg, f.name) != getattr(base, f.name)
    }


def as_text(value: Any) -> str:
    """A value as ``-p name=value`` reads it back: strings bare, everything else as a literal."""
    return value if isinstance(value, str) else repr(value)


def rerun_commands(chapter: str, cfg: Any, profile: str) -> tuple[str, str]:
    """The CLI line and the papermill line that re-run this chapter with these parameters."""
    changed = changed_fields(chapter, cfg, profile)
    flags = "".join(
        f" -p {shlex.quote(f'{name}={as_text(value)}')}" for name, value in changed.items()
    )
    cli = f"trainingdynamics run {chapter} --profile {profile}{flags}"
    overrides = json.dumps(changed, default=list)
    papermill = (
        f"papermill book/{chapter}.ipynb out.ipynb -p profile {profile} "
        f"-y '{{\"overrides\": {overrides}}}'"
    )
    return cli, papermill


class RerunBox:
    """A collapsed admonition: the commands that re-run the chapter, and its parameters."""

    def __init__(self, chapter: str, cfg: Any, profile: str) -> None:
        self.chapter, self.cfg, self.profile = chapter, cfg, profile

    def _repr_html_(self) -> str:
        cli, papermill = rerun_commands(self.chapter, self.cfg, self.profile)
        table = parameter_table(self.chapter, self.cfg).to_html(classes="td-parameters")
        return (
            '<details class="admonition tip"><summary class="admonition-title">'
            "Re-run this chapter</summary>"
            f"<p>This page ran the <b>{html.escape(self.profile)}</b> profile. From a clone of "
            "the book, the same run is</p>"
            f"<pre><code>{html.escape(cli)}</code></pre>"
            "<p>Change any parameter below with <code>-p name=value</code> (each is checked "
            "before anything runs). With papermill directly:</p>"
            f"<pre><code>{html.escape(papermill)}</code></pre>{table}</details>"
        )


def rerun_box(chapter: str, cfg: Any, profile: str) -> RerunBox:
    """The box a chapter shows once, after its configuration cell."""
    return RerunBox(chapter, cfg, profile)
