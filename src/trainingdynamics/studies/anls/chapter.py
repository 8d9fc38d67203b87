"""The whole chapter: every experiment of the ANLS chapter, run."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from trainingdynamics.profiles import ParameterError
from trainingdynamics.studies.anls.exits import plateau_exits
from trainingdynamics.studies.anls.experiment import (
    Config,
    ExactFit,
    Runs,
    _plateau_runs,
    exact_fits,
)
from trainingdynamics.studies.anls.planes import PlaneExperiment, _plane_experiment


@dataclass
class ANLSStudyResult:
    """Everything the notebook shows and the claims check."""

    cfg: Config
    runs: list[Runs]
    exact: list[ExactFit]
    exits: pd.DataFrame  # plateau exits: GD and ANLS from GD's iterate at a plateau
    planes: PlaneExperiment | None


def run(cfg: Config, seed: int = 0, device: str = "cpu") -> ANLSStudyResult:
    """Run the plateau comparison on every target and the exact-fit experiment (numpy and torch on
    the CPU)."""
    if str(device) not in ("cpu", "auto"):
        raise ParameterError(
            "the ANLS chapter runs small numpy solves on the CPU; use device='cpu'"
        )
    runs = _plateau_runs(cfg, seed)
    return ANLSStudyResult(
        cfg, runs, exact_fits(cfg, seed), plateau_exits(cfg, runs), _plane_experiment(cfg, seed)
    )
