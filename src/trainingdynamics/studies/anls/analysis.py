"""Tables and the consistency checks of the ANLS chapter."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainingdynamics.algorithms.anls import (
    ANLSResult,
)
from trainingdynamics.diagnostics.activation import active_mask
from trainingdynamics.models.shallow import (
    loss,
)
from trainingdynamics.studies.anls.chapter import ANLSStudyResult
from trainingdynamics.studies.anls.experiment import (
    EXACT_LEVEL,
    GD_STUCK_LEVEL,
    Config,
    ExactFit,
    Runs,
)
from trainingdynamics.studies.anls.planes import PlaneExperiment


def exact_table(fits: list[ExactFit], cfg: Config) -> pd.DataFrame:
    """Per (target, width): seeds fitted below 1e-20, median iterations, and at the claimed width
    GD seeds still above 1e-6."""
    rows = [
        {
            "target": f.target,
            "width": f.width,
            "spare neurons": f.spare,
            f"ANLS fitted (of {cfg.exact_seeds})": f.fitted(),
            "median iterations to fit": np.nanmedian(f.iterations_to_fit())
            if f.fitted()
            else np.nan,
            f"GD above 1e-6 after {cfg.gd_check_steps} steps": np.nan
            if f.gd_loss is None
            else int(np.sum(f.gd_loss > GD_STUCK_LEVEL)),
            "median GD loss": np.nan if f.gd_loss is None else float(np.median(f.gd_loss)),
        }
        for f in fits
    ]
    return pd.DataFrame(rows)


def claimed_fits(result: ANLSStudyResult) -> list[ExactFit]:
    """The fits at the widths `exact_fits` claims (the ones GD ran at)."""
    return [f for f in result.exact if f.gd_loss is not None]


def minimal_fits(result: ANLSStudyResult) -> list[ExactFit]:
    """The fits at the minimal width k + 1 of every target."""
    return [f for f in result.exact if f.spare == 0]


def iterations_to_reach(losses: np.ndarray, level: float) -> float:
    """First index with loss ≤ level (at least 1), inf if never."""
    hits = np.flatnonzero(losses <= level)
    return float(max(hits[0], 1)) if len(hits) else float("inf")


def speedup_table(runs: list[Runs]) -> pd.DataFrame:
    """Per run: GD's final loss, ANLS iterations and seconds to reach it, and the ratios to GD's
    budget."""
    rows = []
    for r in runs:
        steps = int(r.gd.steps[-1])
        gd_seconds = r.gd_seconds / len(
            r.anls
        )  # GD runs the seeds side by side: its time per network
        for k, result in enumerate(r.anls):
            level = r.gd.loss[k, -1]
            needed = iterations_to_reach(result.losses, level)
            seconds = result.seconds[int(needed)] if np.isfinite(needed) else np.inf
            rows.append(
                {
                    "target": r.target,
                    "seed": k,
                    "GD final loss": level,
                    "Adam final loss": r.adam_loss[k, -1],
                    "ANLS final loss": result.losses[-1],
                    "ANLS iterations to GD's loss": needed,
                    "iteration ratio": steps / needed,
                    "ANLS seconds to GD's loss": seconds,
                    "GD seconds": gd_seconds,
                    "wall-clock ratio": gd_seconds / seconds,
                    "LS solves to GD's loss": result.solves[int(needed)]
                    if np.isfinite(needed)
                    else np.inf,
                }
            )
    return pd.DataFrame(rows)


def speedup_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per target: medians of the iteration ratio, the wall-clock ratio and the LS solves ANLS
    needed."""
    columns = [
        "ANLS iterations to GD's loss",
        "iteration ratio",
        "LS solves to GD's loss",
        "wall-clock ratio",
    ]
    return table.groupby("target", sort=False)[columns].median()


def _all_anls(result: ANLSStudyResult) -> list[tuple[np.ndarray, np.ndarray, ANLSResult]]:
    """(x, y, run) for every ANLS run of the chapter."""
    return [(r.x, r.y, a) for r in result.runs for a in r.anls] + [
        (f.x, f.y, a) for f in result.exact for a in f.anls
    ]


def _forward_losses(x: np.ndarray, y: np.ndarray, run: ANLSResult) -> np.ndarray:
    """The loss of every iterate recomputed by the dense forward pass of the realised network."""
    return loss(x, y, run.history)


def worst_increase(result: ANLSStudyResult, floor: float) -> tuple[float, int]:
    """(max (F_{t+1} − F_t)/F_t, number of steps compared) over every run, F_t the dense
    forward-pass loss of iterate t, over the steps that start at F_t ≥ ``floor``.

    Below the floor the relative rounding of a forward pass, about 1e-16·√(8/F), is no longer
    small against a relative tolerance.
    """
    worst, compared = -np.inf, 0
    for x, y, run in _all_anls(result):
        forward = _forward_losses(x, y, run)
        checked = forward[:-1] >= floor
        if checked.any():
            rise = np.diff(forward)[checked] / forward[:-1][checked]
            worst, compared = max(worst, float(rise.max())), compared + int(checked.sum())
    return worst, compared


def pattern_mismatches(result: ANLSStudyResult) -> int:
    """Iterates whose realised network has an activation pattern other than the one it was solved
    in."""
    count = 0
    for x, _, run in _all_anls(result):
        mask = active_mask(x, run.history.w, run.history.b)  # dense, (K+1, n, m)
        index = np.arange(len(x))
        solved = np.where(run.s[..., None] > 0, index >= run.p[..., None], index < run.p[..., None])
        count += int(np.count_nonzero(np.any(mask != solved, axis=(-1, -2))))
    return count


def loss_mismatch(result: ANLSStudyResult) -> float:
    """max |forward-pass loss − tracked loss| over every iterate of every run."""
    return max(
        float(np.max(np.abs(_forward_losses(x, y, run) - run.losses)))
        for x, y, run in _all_anls(result)
    )


def plane_table(experiment: PlaneExperiment) -> pd.DataFrame:
    """ANLS and GD on the 2-D target: runs fitted below 1e-20, median final loss, ANLS iterations
    and seconds."""
    finals = np.array([r.losses[-1] for r in experiment.anls])
    return pd.DataFrame(
        {
            "method": ["ANLS (ours)", f"GD ({int(experiment.gd_steps[-1]) + 1} steps)"],
            f"fitted below 1e-20 (of {len(finals)})": [
                int(np.sum(finals < EXACT_LEVEL)),
                int(np.sum(experiment.gd_loss[:, -1] < EXACT_LEVEL)),
            ],
            "median final loss": [np.median(finals), np.median(experiment.gd_loss[:, -1])],
            "median iterations / steps": [
                np.median([len(r.losses) - 1 for r in experiment.anls]),
                experiment.gd_steps[-1] + 1,
            ],
            "median seconds per run": [
                np.median([r.seconds[-1] for r in experiment.anls]),
                experiment.gd_seconds / len(finals),
            ],
        }
    ).set_index("method")


def final_table(runs: list[Runs]) -> pd.DataFrame:
    """Per target: median final loss of ANLS, GD and Adam, and median ANLS iterations and solves
    used."""
    rows = []
    for r in runs:
        rows.append(
            {
                "target": r.target,
                "ANLS median final loss": np.median([a.losses[-1] for a in r.anls]),
                "GD median final loss": np.median(r.gd.loss[:, -1]),
                "Adam median final loss": np.median(r.adam_loss[:, -1]),
                "ANLS median iterations": np.median([len(a.losses) - 1 for a in r.anls]),
                "ANLS median LS solves": np.median([a.solves[-1] for a in r.anls]),
                "ANLS runs stopped (no improving move)": sum(a.stalled for a in r.anls),
            }
        )
    return pd.DataFrame(rows)


def numbers(result: ANLSStudyResult) -> dict[str, float]:
    """The numbers the chapter's prose quotes (besides the claims), as plain floats for glue."""
    exits = result.exits
    tested = exits[exits["needs a move"]] if len(exits) else exits
    values = {
        "exit-runs": len(exits),
        "exit-tested": len(tested),
        "exit-min": tested["wall-clock speed-up"].min() if len(tested) else np.nan,
        "exit-max": tested["wall-clock speed-up"].max() if len(tested) else np.nan,
        "exit-iterations": tested["iterations from the first move"].median()
        if len(tested)
        else np.nan,
    }
    return {key: float(value) for key, value in values.items()}
