"""A Sphinx extension of the book's: each page loads each of its scripts once.

Sphinx 7.4 lists an inline script that an extension adds once reading has begun (sphinx-thebe's
configuration, ``const THEBE_JS_URL = …``) twice, under the file names ``None`` and ``""``; the
second copy redeclares the constants and the browser logs an error on every page. This keeps the
first of scripts that are equal once the two spellings of "no file" are taken as one.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def script_key(script: Any) -> tuple:
    """What makes a script tag: its file (``None`` and ``""`` alike), priority and attributes."""
    return (script.filename or "", script.priority, sorted(script.attributes.items()))


def drop_repeated_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    """Remove, in place, every script of the page that repeats an earlier one."""
    scripts = context.get("script_files", [])
    keys = [script_key(script) for script in scripts]
    scripts[:] = [script for i, script in enumerate(scripts) if keys[i] not in keys[:i]]


def setup(app: Sphinx) -> dict:
    """Register the page hook; safe in parallel builds."""
    app.connect("html-page-context", drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
