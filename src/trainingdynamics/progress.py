"""Progress bars that switch themselves off when nobody is watching."""

from __future__ import annotations

import os
import sys

from tqdm import tqdm

PROGRESS_VARIABLE = "TRAININGDYNAMICS_PROGRESS"


def progress_enabled() -> bool:
    """On for an interactive terminal unless ``TRAININGDYNAMICS_PROGRESS=0``; ``=1`` forces it on."""
    setting = os.environ.get(PROGRESS_VARIABLE)
    if setting is not None:
        return setting not in ("0", "false", "False", "")
    return sys.stderr.isatty()


def progress_bar(total: int, desc: str) -> tqdm:
    """A tqdm bar over ``total`` steps, disabled by :func:`progress_enabled`."""
    return tqdm(total=total, desc=desc, disable=not progress_enabled(), leave=False)
