"""The whole chapter: every experiment run and analysed, and the tables the notebook shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trainingdynamics.device import resolve_device
from trainingdynamics.seeding import child_rng, seed_everything
from trainingdynamics.studies.plateaus.analysis import (
    MOTION_RATIO,
    PLATEAU_GAP,
    _autograd_discrepancy,
    _experiment_summary,
    change_ratio,
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
from trainingdynamics.studies.plateaus.regimes import regime_experiments, regime_map
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
    polished_sweep: dict[tuple[int, float], Polished]  # every sweep setting polished likewise
    regimes: pd.DataFrame  # the regime map: (C1)'s statistics per setting


def run(cfg: Config, seed: int = 0, device: str = "cpu") -> PlateausResult:
    """Run the main experiment, the paper's example and the sweep, and analyse them.

    ``device`` is validated like everywhere else ("cpu", "cuda", "auto"; an unknown or unavailable
    device is refused), but the chapter is vectorised float64 numpy and runs on the CPU whatever it
    is.
    """
    resolve_device(device)
    seed_everything(
        seed
    )  # global state for anything outside the named streams (nothing draws from it here)
    main = main_experiment(cfg, seed)
    paper = _paper_experiment(cfg, seed)
    sweep = sweep_experiments(cfg, seed)
    runs, plateaus = _experiment_summary(main, _main_labels(cfg))
    paper_labels = [{"init": init, "seed": seed} for init in ("uniform", "he")]
    paper_runs, paper_plateaus = _experiment_summary(paper, paper_labels)
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
    every = max(1, len(paper.trajectory.steps) // PAPER_BOUND_CHECKS)
    excess += [lower_bound_excess(paper, (k,), every=every)[1] for k in range(2)]
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
        regimes=regime_map(cfg, regime_experiments(cfg, seed)),
        polished=polish(main, cfg.polish_steps, cfg.records, child_rng(seed, "kick", "main")),
        polished_sweep={
            (w, s): polish(e, cfg.polish_steps, cfg.records, child_rng(seed, "kick", w, repr(s)))
            for (w, s), e in sweep.items()
        },
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
    """:func:`polished_summary` of the main runs and of every sweep setting, labelled by width and
    output scale."""
    return pd.concat([summary for _, _, summary in _polished_sets(result)], ignore_index=True)


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
    """(name, polished runs, their :func:`polished_summary`) for the main runs and every sweep
    setting."""
    cfg = result.cfg
    main = polished_summary(cfg, result.polished).assign(
        width=cfg.width, **{"output scale": cfg.output_scale}
    )
    sets = [(f"main (width {cfg.width}, output scale {cfg.output_scale})", result.polished, main)]
    for (width, scale), polished in result.polished_sweep.items():
        labels = _sweep_labels(cfg, width, scale)
        summary = polished_summary(cfg, polished, labels=labels).assign(target="piecewise")
        sets.append((f"sweep (width {width}, output scale {scale})", polished, summary))
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


def c1_statistics(result: PlateausResult) -> dict[str, float]:
    """(C1) over the runs of the (C1) regime, pooled: both rate ratios (medians over runs) and the
    exit test.

    Exit test: the share of drops with a data point swept in the quarter decade before they begin,
    against the share of quarter-decade windows placed evenly inside the plateaus that see one.
    """
    runs = regime_runs(result)
    drops, windows = runs["drops"].sum(), runs["plateau windows"].sum()
    before_drop = runs["drops after a change"].sum() / drops if drops else float("nan")
    on_plateau = runs["plateau windows with a change"].sum() / windows if windows else float("nan")
    return {
        "runs": len(runs),
        "runs with both phases": int(runs["rate ratio"].notna().sum()),
        "median ratio per decade": _median(runs["rate ratio"]),
        "median ratio per unit motion": _median(runs["motion ratio"]),
        "median motion per decade, drops / plateaus": _median(
            runs["motion/decade on drops"] / runs["motion/decade on plateaus"]
        ),
        "drops": int(drops),
        "drops with a change before": int(runs["drops after a change"].sum()),
        "plateau windows": int(windows),
        "plateau windows with a change": int(runs["plateau windows with a change"].sum()),
        "P(change | before a drop)": before_drop,
        "P(change | plateau window)": on_plateau,
        "exit ratio": change_ratio(before_drop, on_plateau),
    }


def _median(values: pd.Series) -> float:
    """Median of the finite and infinite values (NaN: runs without both phases); NaN if none."""
    kept = values.dropna().astype(float)
    return float(np.median(kept)) if len(kept) else float("nan")


def level_overview(result: PlateausResult) -> pd.DataFrame:
    """Plateaus that end in a drop, against stationary points of polished runs: count and the
    relative gap (L − L_A)/L at their end."""
    plateaus = all_plateaus(result)
    drops = plateaus[plateaus["ends in a drop"]]
    polished = stationary_checks(result)
    converged = polished[polished["converged"]]
    gap = (converged["loss after"] - converged["L_A"]) / converged["loss after"]
    rows = {
        "plateaus that end in a drop": drops["gap"],
        "plateaus that do not": plateaus[~plateaus["ends in a drop"]]["gap"],
        "GD converged inside its pattern (polished)": gap,
    }
    return pd.DataFrame(
        {
            name: {
                "count": len(g),
                f"more than {PLATEAU_GAP:.0%} above L_A": int((g > PLATEAU_GAP).sum()),
                "min gap": g.min(),
                "median gap": g.median(),
                "max gap": g.max(),
            }
            for name, g in rows.items()
        }
    ).T


def numbers(result: PlateausResult) -> dict[str, float]:
    """The numbers the chapter's prose quotes (besides the claims), as plain floats for glue."""
    stats = c1_statistics(result)
    polished = stationary_checks(result)
    rates = all_convergence_rates(result)
    plateaus = all_plateaus(result)
    compared = rates["max deviation from linearised GD"].notna().sum() if len(rates) else 0
    values = {
        "motion-per-decade": stats["median motion per decade, drops / plateaus"],
        "p-before-drop": stats["P(change | before a drop)"],
        "p-plateau-window": stats["P(change | plateau window)"],
        "drops": stats["drops"],
        "windows": stats["plateau windows"],
        "c1-runs": stats["runs with both phases"],
        "polished-runs": len(polished),
        "pattern-kept": polished["pattern kept"].sum(),
        "rate-points": compared,
        "plateau-count": len(plateaus),
        "drop-plateaus": plateaus["ends in a drop"].sum(),
    }
    for init, runs in result.paper_runs.groupby("init"):
        values[f"paper-{init}-swept"] = runs["swept/decade on plateaus"].iloc[0]
        values[f"paper-{init}-longest"] = runs["longest plateau (decades)"].iloc[0]
        sweeps = result.paper_plateaus.loc[result.paper_plateaus["init"] == init, "max sweep"]
        values[f"paper-{init}-max-sweep"] = sweeps.max() if len(sweeps) else np.nan
        gaps = result.paper_plateaus.loc[result.paper_plateaus["init"] == init, "gap"]
        values[f"paper-{init}-gap"] = gaps.iloc[-1] if len(gaps) else np.nan
    values["paper-drops"] = (result.paper_runs["drops"] > 0).sum()
    motion = result.regimes["median ratio per unit motion"]
    values["map-settings"] = len(result.regimes)
    values["map-measured"] = motion.notna().sum()
    values["map-above"] = (motion >= MOTION_RATIO).sum()
    values["map-diverged"] = result.regimes["diverged"].sum()
    return {key: float(value) for key, value in values.items()}


def regime_overview(result: PlateausResult) -> pd.DataFrame:
    """The regime map at a glance: median (C1) ratio per unit of motion per setting (rows: width,
    points, loss; columns: output scale, initialisation); NaN without runs with both phases."""
    return result.regimes.pivot_table(
        index=["width", "points", "loss"],
        columns=["output scale", "init"],
        values="median ratio per unit motion",
        dropna=False,
    )
