"""Progress bars that switch themselves off when nobody is watching."""

from __future__ import annotations

import os
import sys

from tqdm import tqdm

PROGRESS_VARIABLE = "TRAININGDYNAMICS_PROGRESS"


def progress_enabled() -> bool:
    """On for an interactive terminal unless ``TRAININGDYNAMICS_PROGRESS=0``; ``=1`` forces it
    on."""
    setting = os.environ.get(PROGRESS_VARIABLE)
    if setting is not None:
        return setting not in ("0", "false", "False", "")
    return sys.stderr.isatty()


def progress_bar(total: int, desc: str) -> tqdm:
    """A tqdm bar over ``total`` steps, disabled by :func:`progress_enabled`."""
    return tqdm(total=total, desc=desc, disable=not progress_enabled(), leave=False)


class LogLines:
    """A file for tqdm that turns its carriage-return redraws into plain lines, each state once (for
    logs)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.last = ""

    def write(self, text: str) -> None:
        for piece in text.replace("\n", "\r").split("\r"):
            line = piece.strip()
            if line and line != self.last:
                print(line, file=self.stream, flush=True)
                self.last = line

    def flush(self) -> None:
        self.stream.flush()


def cell_progress(desc: str) -> dict | bool:
    """papermill's per-cell progress (tqdm keywords): a bar on a terminal, one plain line per cell
    in a log.

    Off when ``TRAININGDYNAMICS_PROGRESS=0``.
    """
    if os.environ.get(PROGRESS_VARIABLE) in ("0", "false", "False", ""):
        return False
    if sys.stderr.isatty():
        return {"desc": desc, "leave": False, "file": sys.stderr}
    return {
        "desc": desc,
        "file": LogLines(),
        "mininterval": 0,
        "ascii": True,
        "bar_format": "{desc}: cell {n_fmt} of {total_fmt}",
    }
