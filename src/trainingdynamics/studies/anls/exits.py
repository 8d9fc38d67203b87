"""Plateau exit: ANLS and GD from the same GD iterate at the start of a plateau."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from trainingdynamics.algorithms.anls import anls
from trainingdynamics.diagnostics.activation import detect_phases, pattern_least_squares
from trainingdynamics.models.shallow import Params, gradient_descent
from trainingdynamics.studies.anls.experiment import Config, Runs
from trainingdynamics.studies.plateaus.analysis import ends_in_drop


def plateau_exits_of(steps: np.ndarray, loss: np.ndarray) -> list[tuple[int, float]]:
    """(record index where a plateau that ends in a drop begins, loss at the end of that drop), for
    every such plateau of one loss curve."""
    phases = detect_phases(steps, loss)
    exits = []
    for start, stop in phases.plateaus:
        if ends_in_drop(stop, phases):
            drop_end = min(z for a, z in phases.drops if a >= stop)
            exits.append(
                (int(np.searchsorted(steps, start)), float(loss[np.searchsorted(steps, drop_end)]))
            )
    return exits


def first_move(run) -> int:
    """The first iteration whose pattern differs from the start's (len(losses) if none)."""
    moved = np.any((run.s != run.s[0]) | (run.p != run.p[0]), axis=-1)
    return int(np.argmax(moved)) if moved.any() else len(run.losses)


# GD steps timed on the one network; its wall-clock is this sample's time per step × its steps
TIMED_STEPS = 2000


def _gd_seconds(runs: Runs, start: Params, lr: float, steps: int) -> float:
    """Wall-clock of ``steps`` GD steps on this one network, from a timed sample of its first
    TIMED_STEPS (every step costs the same: O(n + m))."""
    sample = max(1, min(steps, TIMED_STEPS))
    began = time.perf_counter()
    gradient_descent(runs.x, runs.y, start, lr, sample, np.array([sample]))
    return (time.perf_counter() - began) * steps / sample


def plateau_exits(cfg: Config, runs: list[Runs]) -> pd.DataFrame:
    """Per plateau that ends in a drop, in every GD run: GD from the plateau's start to the loss at
    the end of the drop, against ANLS from the same iterate to the same loss.

    Both are timed on that one network: GD re-run alone from the plateau's start (a timed sample,
    scaled to the steps the batched run needed), ANLS from the same iterate, its exact solve of the
    start pattern included.
    "needs a move": the start pattern's least-squares level L_A lies above the target loss, so no
    solve inside that pattern reaches it; only those plateaus test a plateau exit.
    """
    rows = []
    for r in runs:
        for k in range(len(r.anls)):
            gd = r.gd.select(k)
            for first, level in plateau_exits_of(gd.steps, gd.loss):
                start = gd.at(first)
                reached = first + int(np.argmax(gd.loss[first:] <= level))
                steps = int(gd.steps[reached] - gd.steps[first])
                result = anls(r.x, r.y, cfg.width, iterations=cfg.iterations, seed=0, start=start)
                hits = np.flatnonzero(result.losses <= level)
                needed = int(hits[0]) if len(hits) else None
                move = first_move(result)
                rows.append(
                    {
                        "target": r.target,
                        "seed": k,
                        "plateau starts at step": int(gd.steps[first]),
                        "target loss": level,
                        "L_A of the start pattern": pattern_least_squares(
                            r.x, r.y, start.w, start.b
                        ),
                        "GD steps": steps,
                        "GD seconds": _gd_seconds(r, start, cfg.lr, steps),
                        "ANLS iterations": np.nan if needed is None else needed,
                        "iterations from the first move": np.nan
                        if needed is None
                        else max(needed - move + 1, 0),
                        "LS solves": np.nan if needed is None else int(result.solves[needed]),
                        "ANLS seconds": np.inf if needed is None else float(result.seconds[needed]),
                    }
                )
    table = pd.DataFrame(rows)
    if len(table):
        table["needs a move"] = table["L_A of the start pattern"] > table["target loss"]
        table["wall-clock speed-up"] = table["GD seconds"] / table["ANLS seconds"]
    return table
