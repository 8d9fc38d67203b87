"""The regime map: (C1)'s statistics over width, output scale, initialisation, loss normalisation
and data size, on the piecewise-linear target."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from trainingdynamics.models.shallow import Params, init_params, init_params_he, make_data
from trainingdynamics.seeding import child_rng
from trainingdynamics.studies.plateaus.analysis import _experiment_summary
from trainingdynamics.studies.plateaus.experiment import Config, Experiment, _train_batch
from trainingdynamics.training import DivergenceError

INITS = {"uniform": init_params, "he": init_params_he}


def _map_start(cfg: Config, seed: int, width: int, points: int) -> Params:
    """Scales × initialisations × map_seeds networks (in that order), each part its own stream."""
    parts = [
        INITS[init](
            child_rng(seed, "map", width, points, init, repr(float(scale))),
            width,
            (cfg.map_seeds,),
            scale,
        )
        for scale in cfg.map_scales
        for init in cfg.map_inits
    ]
    return Params(*(np.concatenate([getattr(p, k) for p in parts]) for k in "cwb"))


def regime_experiments(cfg: Config, seed: int) -> dict[tuple[int, int, str], Experiment | None]:
    """One GD batch per (width, points, loss normalisation); None where GD diverged.

    GD on the sum Σ_i r_i²/2 with step η is GD on the mean with step η·m, so the sum runs use
    the mean's code with that step; their recorded losses are the mean's (the plateau detector
    reads log-log slopes, which a constant factor does not change).
    """
    experiments = {}
    for width, points, loss in itertools.product(cfg.map_widths, cfg.map_points, cfg.map_losses):
        x, y = make_data("piecewise", points)
        lr = cfg.lr * (points if loss == "sum" else 1)
        start = _map_start(cfg, seed, width, points)
        try:
            experiments[width, points, loss] = _train_batch(
                x, y, start, lr, cfg.map_steps, cfg.records
            )
        except DivergenceError:
            experiments[width, points, loss] = None
    return experiments


def regime_map(
    cfg: Config, experiments: dict[tuple[int, int, str], Experiment | None]
) -> pd.DataFrame:
    """Per setting: runs, runs with both phases, the two (C1) ratios (medians) and the exit
    probabilities (pooled); a setting whose GD diverged has no statistics."""
    rows = []
    labels = [
        {"output scale": scale, "init": init, "seed": k}
        for scale in cfg.map_scales
        for init in cfg.map_inits
        for k in range(cfg.map_seeds)
    ]
    for (width, points, loss), experiment in experiments.items():
        setting = {"width": width, "points": points, "loss": loss}
        if experiment is None:
            rows += [
                setting | {"output scale": s, "init": i, "diverged": True}
                for s in cfg.map_scales
                for i in cfg.map_inits
            ]
            continue
        runs, _ = _experiment_summary(experiment, labels)
        for (scale, init), group in runs.groupby(["output scale", "init"], sort=False):
            rows.append(setting | {"output scale": scale, "init": init} | _c1_row(group))
    return pd.DataFrame(rows)


def _c1_row(runs: pd.DataFrame) -> dict:
    """(C1)'s statistics over a group of runs."""
    drops, windows = runs["drops"].sum(), runs["plateau windows"].sum()
    both = runs["rate ratio"].notna()
    return {
        "diverged": False,
        "runs": len(runs),
        "runs with both phases": int(both.sum()),
        "median ratio per decade": float(np.median(runs["rate ratio"][both]))
        if both.any()
        else np.nan,
        "median ratio per unit motion": float(np.median(runs["motion ratio"][both]))
        if both.any()
        else np.nan,
        "P(change | before a drop)": runs["drops after a change"].sum() / drops
        if drops
        else np.nan,
        "P(change | plateau window)": runs["plateau windows with a change"].sum() / windows
        if windows
        else np.nan,
        "median final loss": float(np.median(runs["final loss"])),
    }
