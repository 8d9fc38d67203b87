"""Plateau exit: ANLS and GD from the same GD iterate at the start of a plateau."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainingdynamics.algorithms.anls import anls
from trainingdynamics.diagnostics.activation import detect_phases, pattern_least_squares
from trainingdynamics.studies.anls.experiment import Config, Runs
from trainingdynamics.studies.plateaus.analysis import ends_in_drop


def first_exit(steps: np.ndarray, loss: np.ndarray) -> tuple[int, float] | None:
    """(record index where the first plateau that ends in a drop begins, loss at the end of that
    drop), or None without such a plateau."""
    phases = detect_phases(steps, loss)
    for start, stop in phases.plateaus:
        if ends_in_drop(stop, phases):
            drop_end = min(z for a, z in phases.drops if a >= stop)
            return int(np.searchsorted(steps, start)), float(loss[np.searchsorted(steps, drop_end)])
    return None


def first_move(run) -> int:
    """The first iteration whose pattern differs from the start's (len(losses) if none)."""
    moved = np.any((run.s != run.s[0]) | (run.p != run.p[0]), axis=-1)
    return int(np.argmax(moved)) if moved.any() else len(run.losses)


def plateau_exits(cfg: Config, runs: list[Runs]) -> pd.DataFrame:
    """Per GD run with a plateau that ends in a drop: GD from the plateau's start to the loss at
    the end of the drop, against ANLS from the same iterate to the same loss.

    GD's cost is its steps times its per-network time per step in the batch; ANLS's is its own
    wall-clock from that iterate, the exact solve of the start pattern included. "needs a move":
    the start pattern's least-squares level L_A lies above the target loss, so no solve inside
    that pattern reaches it; only those runs test a plateau exit.
    """
    rows = []
    for r in runs:
        per_step = r.gd_seconds / len(r.anls) / max(int(r.gd.steps[-1]), 1)
        for k in range(len(r.anls)):
            gd = r.gd.select(k)
            found = first_exit(gd.steps, gd.loss)
            if found is None:
                continue
            first, level = found
            start = gd.at(first)
            reached = first + int(np.argmax(gd.loss[first:] <= level))
            steps = int(gd.steps[reached] - gd.steps[first])
            result = anls(r.x, r.y, cfg.width, iterations=cfg.iterations, seed=0, start=start)
            hits = np.flatnonzero(result.losses <= level)
            needed = int(hits[0]) if len(hits) else None
            seconds = float(result.seconds[needed]) if needed is not None else np.inf
            move = first_move(result)
            rows.append(
                {
                    "target": r.target,
                    "seed": k,
                    "plateau starts at step": int(gd.steps[first]),
                    "target loss": level,
                    "L_A of the start pattern": pattern_least_squares(r.x, r.y, start.w, start.b),
                    "GD steps": steps,
                    "GD seconds": steps * per_step,
                    "ANLS iterations": np.nan if needed is None else needed,
                    "iterations from the first move": np.nan
                    if needed is None
                    else max(needed - move + 1, 0),
                    "LS solves": np.nan if needed is None else int(result.solves[needed]),
                    "ANLS seconds": seconds,
                }
            )
    table = pd.DataFrame(rows)
    if len(table):
        table["needs a move"] = table["L_A of the start pattern"] > table["target loss"]
        table["wall-clock speed-up"] = table["GD seconds"] / table["ANLS seconds"]
    return table
