"""The whole chapter: every experiment run and analysed, and the tables the notebook shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trainingdynamics.device import resolve_device
from trainingdynamics.seeding import seed_everything
from trainingdynamics.studies.plateaus.analysis import (
    _autograd_discrepancy,
    _experiment_summary,
    kept_pattern_plateaus,
    lower_bound_excess,
    non_interval_sets,
)
from trainingdynamics.studies.plateaus.experiment import (
    PAPER_BOUND_CHECKS,
    Config,
    Experiment,
    _main_labels,
    _paper_experiment,
    _sweep_labels,
    main_experiment,
    sweep_experiments,
)
from trainingdynamics.studies.plateaus.stationary import (
    Polished,
    _convergence_rates,
    polish,
    polished_summary,
)


@dataclass
class PlateausResult:
    """Everything the notebook shows and the claims check."""

    cfg: Config
    main: Experiment
    paper: Experiment
    sweep: dict[tuple[int, float], Experiment]
    runs: pd.DataFrame
    plateaus: pd.DataFrame
    paper_runs: pd.DataFrame
    paper_plateaus: pd.DataFrame
    sweep_runs: pd.DataFrame
    sweep_plateaus: pd.DataFrame
    lower_bound: float
    non_intervals: int
    gradient_error: float
    polished: Polished
    polished_regime: (
        Polished | None
    )  # the (C1)-regime sweep runs polished likewise (None when that regime is the main setting)


def run(cfg: Config, seed: int = 0, device: str = "cpu") -> PlateausResult:
    """Run the main experiment, the paper's example and the sweep, and analyse them.

    ``device`` is validated like everywhere else ("cpu", "cuda", "auto"; an unknown or unavailable
    device is refused), but the chapter is vectorised float64 numpy and runs on the CPU whatever it
    is.
    """
    resolve_device(device)
    regime = (cfg.c1_width, cfg.c1_scale)
    seed_everything(
        seed
    )  # global state for anything outside the named streams (nothing draws from it here)
    main = main_experiment(cfg, seed)
    paper = _paper_experiment(cfg, seed)
    sweep = sweep_experiments(cfg, seed)
    runs, plateaus = _experiment_summary(main, _main_labels(cfg))
    paper_runs, paper_plateaus = _experiment_summary(paper, [{"target": "sin5pi", "seed": seed}])
    sweep_summaries = [
        _experiment_summary(e, _sweep_labels(cfg, w, s)) for (w, s), e in sweep.items()
    ]
    sweep_runs = pd.concat(
        [pd.DataFrame(columns=["width", "output scale", "seed"])] + [r for r, _ in sweep_summaries],
        ignore_index=True,
    )
    no_sweep = plateaus.iloc[:0].drop(columns="target").assign(width=0, **{"output scale": 0.0})
    sweep_plateaus = pd.concat([p for _, p in sweep_summaries] or [no_sweep], ignore_index=True)
    excess = [
        lower_bound_excess(e, index)[1]
        for e in (main, *sweep.values())
        for index in np.ndindex(e.trajectory.loss.shape[:-1])
    ]
    excess.append(
        lower_bound_excess(
            paper, (), every=max(1, len(paper.trajectory.steps) // PAPER_BOUND_CHECKS)
        )[1]
    )
    return PlateausResult(
        cfg=cfg,
        main=main,
        paper=paper,
        sweep=sweep,
        runs=runs,
        plateaus=plateaus,
        paper_runs=paper_runs,
        paper_plateaus=paper_plateaus,
        sweep_runs=sweep_runs,
        sweep_plateaus=sweep_plateaus,
        lower_bound=float(max(np.max(e) for e in excess)),
        non_intervals=non_interval_sets(main)
        + non_interval_sets(paper)
        + sum(non_interval_sets(e) for e in sweep.values()),
        gradient_error=max(_autograd_discrepancy(main), _autograd_discrepancy(paper)),
        polished=polish(main, cfg.polish_steps, cfg.records),
        polished_regime=polish(sweep[regime], cfg.polish_steps, cfg.records)
        if regime in sweep
        else None,
    )


def _piecewise_runs(result: PlateausResult) -> pd.DataFrame:
    """Per-run statistics on the piecewise target for every (width, output scale): the sweep and the
    main runs."""
    main = result.runs[result.runs["target"] == "piecewise"].assign(
        width=result.cfg.width, **{"output scale": result.cfg.output_scale}
    )
    return pd.concat([result.sweep_runs, main.drop(columns="target")], ignore_index=True)


def regime_runs(result: PlateausResult) -> pd.DataFrame:
    """The runs of the (C1) regime, (width, output scale) = (c1_width, c1_scale), on the piecewise
    target."""
    runs = _piecewise_runs(result)
    return runs[
        (runs["width"] == result.cfg.c1_width) & (runs["output scale"] == result.cfg.c1_scale)
    ]


def sweep_table(result: PlateausResult) -> pd.DataFrame:
    """Per (width, output scale) on the piecewise target (the main runs included): median rate
    ratio, runs with plateaus/drops."""
    table = (
        _piecewise_runs(result)
        .groupby(["width", "output scale"])
        .agg(
            **{
                "median rate ratio": ("rate ratio", "median"),
                "runs with both phases": ("rate ratio", lambda r: int(r.notna().sum())),
                "runs with plateau": ("plateaus", lambda p: int(np.sum(p > 0))),
                "runs with drop": ("drops", lambda d: int(np.sum(d > 0))),
                "median final loss": ("final loss", "median"),
            }
        )
    )
    return table


def all_plateaus(result: PlateausResult) -> pd.DataFrame:
    """Every plateau of the 40-point runs: the main experiment (all targets) and the sweep
    (piecewise target)."""
    main = result.plateaus.assign(
        width=result.cfg.width, **{"output scale": result.cfg.output_scale}
    )
    return pd.concat([main, result.sweep_plateaus.assign(target="piecewise")], ignore_index=True)


def stationary_checks(result: PlateausResult) -> pd.DataFrame:
    """:func:`polished_summary` of the main runs and of the (C1)-regime sweep runs, labelled by
    width and output scale."""
    cfg = result.cfg
    tables = [
        polished_summary(cfg, result.polished).assign(
            width=cfg.width, **{"output scale": cfg.output_scale}
        )
    ]
    if result.polished_regime is not None:
        labels = _sweep_labels(cfg, cfg.c1_width, cfg.c1_scale)
        tables.append(
            polished_summary(cfg, result.polished_regime, labels=labels).assign(target="piecewise")
        )
    return pd.concat(tables, ignore_index=True)


def showcase(result: PlateausResult) -> tuple[int, ...]:
    """Batch index of the main run with the longest plateau among runs that have a plateau and a
    drop."""
    candidates = result.runs[(result.runs["plateaus"] > 0) & (result.runs["drops"] > 0)]
    pool = candidates if len(candidates) else result.runs
    best = pool["longest plateau (decades)"].idxmax()
    return (
        result.cfg.targets.index(result.runs.at[best, "target"]),
        int(result.runs.at[best, "seed"]),
    )


def _polished_sets(result: PlateausResult) -> list[tuple[str, Polished, pd.DataFrame]]:
    """(name, polished runs, their :func:`polished_summary`) for the main runs and, if separate, the
    (C1)-regime runs."""
    cfg = result.cfg
    sets = [
        (
            f"main (width {cfg.width}, output scale {cfg.output_scale})",
            result.polished,
            polished_summary(cfg, result.polished),
        )
    ]
    if result.polished_regime is not None:
        labels = _sweep_labels(cfg, cfg.c1_width, cfg.c1_scale)
        summary = polished_summary(cfg, result.polished_regime, labels=labels).assign(
            target="piecewise"
        )
        sets.append(
            (
                f"(C1) regime (width {cfg.c1_width}, output scale {cfg.c1_scale})",
                result.polished_regime,
                summary,
            )
        )
    return sets


def _first_converged(result: PlateausResult) -> tuple[Polished, tuple[int, ...], str] | None:
    """(polished runs, batch index, description) of the first polished run that reached a stationary
    point, or None."""
    for name, polished, summary in _polished_sets(result):
        hits = np.flatnonzero(summary["converged"].to_numpy())
        if len(hits):
            row = summary.iloc[hits[0]]
            index = tuple(
                int(i)
                for i in np.unravel_index(hits[0], polished.experiment.trajectory.loss.shape[:-1])
            )
            return polished, index, f"{row['target']}, seed {row['seed']}, {name}"
    return None


def all_convergence_rates(result: PlateausResult) -> pd.DataFrame:
    """:func:`convergence_rates` of every converged polished run (main and (C1)-regime), with the
    run's width."""
    tables = [
        _convergence_rates(result.cfg, polished, summary).assign(runs=name)
        for name, polished, summary in _polished_sets(result)
    ]
    return pd.concat(
        [t for t in tables if len(t)] or [pd.DataFrame(columns=["runs", "target", "seed"])],
        ignore_index=True,
    )


def kept_plateau_overview(result: PlateausResult) -> pd.DataFrame:
    """Kept-pattern plateaus (claim `plateau_level`) split by whether they last to the last step:
    count and gaps |L − L_A|/L."""
    plateaus = all_plateaus(result)
    kept = kept_pattern_plateaus(plateaus).assign(
        **{"lasts to the last step": lambda t: t["stop"] == result.cfg.steps}
    )
    table = kept.groupby("lasts to the last step").agg(
        plateaus=("gap", "size"),
        **{"min gap": ("gap", "min"), "median gap": ("gap", "median"), "max gap": ("gap", "max")},
    )
    table = table.reindex([False, True])  # a kind that does not occur: 0 plateaus, no gaps
    return table.assign(plateaus=table["plateaus"].fillna(0).astype(int))
