"""Summaries of the runs: conditioning after break-even, peaks, rank correlations, probe cost."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from trainingdynamics.studies.break_even.config import EDGE_BAND
from trainingdynamics.studies.break_even.experiment import BreakEvenResult, SGDRun


def conditioning_after_break_even(t: SGDRun) -> float:
    """The best conditioning from the break-even point on: max of λ_K^k/λ_K^1 over those
    measurements.
    """
    return float(t.conditioning[t.break_even :].max())


Grid = Literal["lr", "batch", "bn"]


def grid_runs(result: BreakEvenResult, grid: Grid) -> dict[float, list[SGDRun]]:
    """The grid's runs grouped by the varied knob (η or B), increasing, each a list over seeds."""
    cfg = result.cfg
    values, select = {
        "lr": (cfg.learning_rates, lambda v: dict(lr=v, batch_size=cfg.batch_size)),
        "batch": (cfg.batch_sizes, lambda v: dict(lr=cfg.batch_lr, batch_size=v)),
        "bn": (
            cfg.bn_learning_rates,
            lambda v: dict(lr=v, batch_size=cfg.batch_size, batch_norm=True),
        ),
    }[grid]
    return {v: result.trajectories(**select(v)) for v in sorted(values)}


def rank_correlation(
    result: BreakEvenResult, summary: Callable[[SGDRun], float], *, grid: Grid
) -> float:
    """Median over replicates of Spearman's ρ between the grid's knob (η or B) and ``summary``."""
    groups = grid_runs(result, grid)
    rhos = [
        spearmanr(
            list(groups),
            [summary(next(t for t in runs if t.replicate == r)) for runs in groups.values()],
        ).statistic
        for r in result.replicates
    ]
    rhos = [
        rho if np.isfinite(rho) else 0.0 for rho in rhos
    ]  # a summary constant over the grid has no ordering: ρ = 0, never NaN
    return round(
        float(np.median(rhos)), 12
    )  # ρ is a ratio of small integers: drop round-off such as 0.7999999999999998


def hessian_peak(t: SGDRun) -> float:
    """max_t λ_H^1."""
    return float(t.hessian_top.max())


def covariance_peak(t: SGDRun) -> float:
    """max_t λ_K^1."""
    return float(t.covariance_top.max())


def edge_band_count(
    result: BreakEvenResult, low: float = EDGE_BAND[0], high: float = EDGE_BAND[1]
) -> int:
    """Number of GD learning rates whose λ_H^1 stays in [low/η, high/η] over the second half of
    training.

    A run that diverged, or has no measurement in its second half, does not count.
    """
    return sum(
        bool(
            e.diverged_at is None
            and len(h := e.last_half()) > 0
            and np.all((h >= low / e.lr) & (h <= high / e.lr))
        )
        for e in result.edge
    )


def measurement_share(result: BreakEvenResult) -> float:
    """Fraction of the SGD runs' wall time spent in the spectra probe."""
    measure = sum(t.measure_seconds for t in result.runs.values())
    return measure / (measure + sum(t.train_seconds for t in result.runs.values()))


def probe_cost_in_steps(result: BreakEvenResult) -> float:
    """Wall time of one probe measurement in units of one SGD step (all SGD runs pooled)."""
    runs = list(result.runs.values())
    per_probe = sum(t.measure_seconds for t in runs) / sum(len(t.steps) for t in runs)
    per_step = sum(t.train_seconds for t in runs) / sum(int(t.steps[-1]) + 1 for t in runs)
    return per_probe / per_step


def measurement_cost(result: BreakEvenResult) -> pd.DataFrame:
    """Per η of the plain grid (seeds pooled) and over all SGD runs: spacing, counts, the probe's
    share.
    """

    def row(runs: list[SGDRun]) -> dict:
        measure, train = sum(t.measure_seconds for t in runs), sum(t.train_seconds for t in runs)
        return {
            "measurements": sum(len(t.steps) for t in runs),
            "SGD steps": sum(int(t.steps[-1]) + 1 for t in runs),
            "probe s": round(measure, 2),
            "training s": round(train, 2),
            "probe share": f"{measure / (measure + train):.0%}",
        }

    every = {lr: math.ceil(result.cfg.measure_every / lr) for lr in result.cfg.learning_rates}
    rows = {
        f"η = {lr:g} (every {every[lr]} steps)": row(runs)
        for lr, runs in grid_runs(result, "lr").items()
    }
    rows["all SGD runs"] = row(list(result.runs.values()))
    return pd.DataFrame.from_dict(rows, orient="index")


def _bn_conditioning(result: BreakEvenResult) -> dict[float, float]:
    """Per η of the BatchNorm grid: median over seeds of the best conditioning after break-even."""
    return {
        lr: float(np.median([conditioning_after_break_even(t) for t in runs]))
        for lr, runs in grid_runs(result, "bn").items()
    }


def summary_table(result: BreakEvenResult) -> pd.DataFrame:
    """Per grid point, medians over seeds: steps to target, break-even step, peaks, best
    conditioning.
    """
    rows = []
    best = f"best λ_K^{result.cfg.condition_k}/λ_K^1 after break-even"
    for grid, label in (
        ("lr", "η (plain)"),
        ("batch", f"B (η = {result.cfg.batch_lr:g})"),
        ("bn", "η (BatchNorm)"),
    ):
        for knob, runs in grid_runs(result, grid).items():
            rows.append({
                "grid": label,
                "value": knob,
                "steps to target": np.median([t.steps[-1] for t in runs]),
                "break-even step": np.median([t.steps[t.break_even] for t in runs]),
                "peak λ_H^1": np.median([hessian_peak(t) for t in runs]),
                "peak λ_K^1": np.median([covariance_peak(t) for t in runs]),
                best: np.median([conditioning_after_break_even(t) for t in runs]),
            })  # fmt: skip
    return pd.DataFrame(rows).set_index(["grid", "value"]).round(3)
