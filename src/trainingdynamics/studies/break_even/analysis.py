"""Over the grids: rank correlations of per-run summaries with the knob, tables, probe cost."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from trainingdynamics.studies.break_even import summaries as S
from trainingdynamics.studies.break_even.config import EDGE_BAND, Config
from trainingdynamics.studies.break_even.experiment import BreakEvenResult
from trainingdynamics.studies.break_even.sgd import SGDRun

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
    """Median over replicates of Spearman's ρ between the grid's knob (η or B) and ``summary``.

    Grid points whose summary is NaN (e.g. no break-even point) are left out; with fewer than three
    left, or a summary constant over the grid, there is no ordering: ρ = 0, never NaN.
    """
    groups = grid_runs(result, grid)
    rhos = []
    for r in result.replicates:
        pairs = [
            (knob, summary(next(t for t in runs if t.replicate == r)))
            for knob, runs in groups.items()
        ]
        pairs = [(k, v) for k, v in pairs if np.isfinite(v)]
        rho = spearmanr(*zip(*pairs, strict=True)).statistic if len(pairs) >= 3 else math.nan
        rhos.append(rho if np.isfinite(rho) else 0.0)
    # ρ is a ratio of small integers: drop round-off such as 0.7999999999999998
    return round(float(np.median(rhos)), 12)


def median_over_runs(
    result: BreakEvenResult, summary: Callable[[SGDRun], float], grid: Grid
) -> float:
    """The median of ``summary`` over every run of the grid (all knob values and seeds)."""
    return float(np.median([summary(t) for runs in grid_runs(result, grid).values() for t in runs]))


def fraction_of_runs(result: BreakEvenResult, test: Callable[[SGDRun], bool], grid: Grid) -> float:
    """The fraction of the grid's runs for which ``test`` holds."""
    return float(np.mean([test(t) for runs in grid_runs(result, grid).values() for t in runs]))


def per_knob(result: BreakEvenResult, summary: Callable[[SGDRun], float], grid: Grid) -> dict:
    """The median over seeds of ``summary`` at each knob value of the grid."""
    return {
        knob: float(np.median([summary(t) for t in runs]))
        for knob, runs in grid_runs(result, grid).items()
    }


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


def summary_table(result: BreakEvenResult) -> pd.DataFrame:
    """Per grid point, medians over seeds: steps, break-even, peaks, conditioning, Eq. 1."""
    columns = {
        "peak λ_H^1": S.hessian_peak, "peak η λ_H^1/2": S.peak_over_edge,
        "Eq. 1 break-even λ/(2/η)": S.predicted_over_edge, "max Eq. 1 left side": S.max_stability,
        "peak λ_K^1": S.covariance_peak, "max Tr K/λ_K^1": S.trace_ratio_peak,
        "Tr K/λ_K^1 at target": S.trace_ratio_at_target,
        "max Tr K/λ_K^1 after peak": S.trace_ratio_after_peak,
        f"best λ_K^{result.cfg.condition_k}/λ_K^1 after peak": S.conditioning_after_break_even,
        "peak Tr K": S.covariance_trace_peak, "peak Tr H": S.hessian_trace_peak,
        "its s.e.": S.hessian_trace_peak_se, "r(λ_H^1, λ_K^1) early": S.early_correlation,
    }  # fmt: skip
    rows = []
    for grid, label in (
        ("lr", "η (plain)"),
        ("batch", f"B (η = {result.cfg.batch_lr:g})"),
        ("bn", "η (BatchNorm)"),
    ):
        for knob, runs in grid_runs(result, grid).items():
            rows.append({
                "grid": label, "value": knob,
                "steps to target": np.median([t.steps[t.reached_at or -1] for t in runs]),
                "break-even step": np.median([_break_even_step(t) for t in runs]),
                **{name: np.median([f(t) for t in runs]) for name, f in columns.items()},
            })  # fmt: skip
    return pd.DataFrame(rows).set_index(["grid", "value"]).round(3)


def _break_even_step(t: SGDRun) -> float:
    """The step of the Eq. 1 break-even point (NaN if the run never reached it)."""
    return math.nan if t.break_even is None else float(t.steps[t.break_even])


def numbers(result: BreakEvenResult) -> dict[str, float]:
    """The run's numbers quoted in the chapter's prose (plain floats, for the book's glue)."""
    plain, bn, batch = (
        {name: per_knob(result, f, grid) for name, f in SUMMARIES.items()}
        for grid in ("lr", "bn", "batch")
    )
    low = min(result.cfg.bn_learning_rates)
    ten = min(plain["ratio"], key=lambda lr: abs(math.log10(lr / (10 * low))))
    small, large = min(result.cfg.learning_rates), max(result.cfg.learning_rates)
    near = min(plain["ratio"], key=lambda lr: abs(math.log10(lr / 0.1)))
    far = min(plain["ratio"], key=lambda lr: abs(math.log10(lr / 0.01)))
    values = {
        "seconds": result.seconds, "share": measurement_share(result),
        "probe_steps": probe_cost_in_steps(result), "lr_small": small, "lr_large": large,
        "lr_near": near, "lr_far": far, "bn_low": low, "plain_ten": ten,
        "bn_max_lr": max(result.cfg.bn_learning_rates),
        "lk_near": plain["lk"][near], "lk_far": plain["lk"][far],
        "ratio_near": plain["ratio"][near], "ratio_far": plain["ratio"][far],
        "after_near": plain["after"][near], "after_far": plain["after"][far],
        "bn_ratio_low": bn["after"][low], "plain_ratio_ten": plain["after"][ten],
        "target_near": plain["target"][near], "target_far": plain["target"][far],
        "bn_lk_low": bn["lk"][low], "plain_lk_ten": plain["lk"][ten],
        "edge_near": plain["edge"][near], "predicted_near": plain["predicted"][near],
        "edge_small_batch": batch["edge"][min(batch["edge"])],
        "predicted_small_batch": batch["predicted"][min(batch["edge"])],
        "edge_large": plain["edge"][large],
    }  # fmt: skip
    return {name: float(v) for name, v in {**values, **_settings(result.cfg)}.items()}


def _settings(cfg: Config) -> dict[str, float]:
    """The configuration's numbers quoted in the prose."""
    fields = (
        "n_train", "batch_size", "init_scale", "bn_gamma", "after_break_even", "max_measurements",
        "hessian_examples", "covariance_examples", "tol", "trace_probes", "minibatch_count",
        "eos_examples", "condition_k", "density_probes", "density_steps",
    )  # fmt: skip
    return {
        **{name: getattr(cfg, name) for name in fields},
        "target": cfg.target_accuracy,
        "batch_lr": cfg.batch_lr,
        "budget_time": cfg.max_measurements * cfg.measure_every,
        "every_small": math.ceil(cfg.measure_every / min(cfg.learning_rates)),
        "every_large": math.ceil(cfg.measure_every / max(cfg.learning_rates)),
    }


SUMMARIES = {
    "lk": S.covariance_peak, "ratio": S.trace_ratio_peak, "after": S.trace_ratio_after_peak,
    "target": S.trace_ratio_at_target,
    "edge": S.peak_over_edge, "predicted": S.predicted_over_edge,
}  # fmt: skip
