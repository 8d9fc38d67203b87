"""(C2), (C3): GD polished to convergence inside a frozen pattern, stationarity and local rates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trainingdynamics.diagnostics.activation import (
    active_intervals,
    active_residual_sums,
    local_line,
    pattern_least_squares,
)
from trainingdynamics.diagnostics.rates import fit_exponential
from trainingdynamics.models.shallow import (
    Params,
    fixed_pattern_hessian,
    residual_fast,
)
from trainingdynamics.studies.plateaus.analysis import _batch_targets, run_view
from trainingdynamics.studies.plateaus.experiment import (
    Config,
    Experiment,
    _main_labels,
    _train_batch,
)


@dataclass
class Polished:
    """GD run to convergence inside the frozen final pattern of every main run (batch axes as in the
    main run)."""

    experiment: Experiment  # frozen-pattern GD started at the main runs' final parameters
    lo: np.ndarray  # the frozen active intervals [lo, hi)
    hi: np.ndarray
    eigenvalues: (
        np.ndarray
    )  # (..., 3n) spectrum of the fixed-pattern Hessian at the polished point (NaN if it diverged)
    pattern_kept: (
        np.ndarray
    )  # (...) whether the polished parameters still realise the frozen pattern


# a run whose polished point left its frozen pattern is polished once more, in the pattern it
# reached
POLISH_ROUNDS = 2


# polishing step size, as a fraction of 1/λ_max of the fixed-pattern Hessian (stable below 2)
POLISH_STEP = 0.5


def _hessian_spectra(x: np.ndarray, y: np.ndarray, p: Params) -> np.ndarray:
    """Eigenvalues of the fixed-pattern Hessian of every network of a batch, shape (..., 3n); NaN
    where p is not finite."""
    batch = p.c.shape[:-1]
    spectra = np.full(batch + (3 * p.c.shape[-1],), np.nan)
    for index in np.ndindex(batch):
        single = p.map(lambda a, i=index: a[i])
        if all(np.all(np.isfinite(a)) for a in (single.c, single.w, single.b)):
            spectra[index] = np.linalg.eigvalsh(fixed_pattern_hessian(x, y[index], single))
    return spectra


def _polish_once(experiment: Experiment, steps: int, records: int) -> Polished:
    """GD with each run's final activation pattern frozen, step ``POLISH_STEP``/λ_max of its
    fixed-pattern Hessian."""
    x, y, start = experiment.x, _batch_targets(experiment), experiment.trajectory.final
    lr = POLISH_STEP / _hessian_spectra(x, y, start)[..., -1:]
    with np.errstate(over="ignore", invalid="ignore"):
        polished = _train_batch(x, y, start, lr, steps, records, freeze_pattern=True)
    final = polished.trajectory.final
    lo, hi = active_intervals(x, start.w, start.b)
    new_lo, new_hi = active_intervals(x, final.w, final.b)
    kept = np.all((new_lo == lo) & (new_hi == hi), axis=-1)
    return Polished(polished, lo, hi, _hessian_spectra(x, y, final), kept)


def polish(
    experiment: Experiment, steps: int, records: int, rounds: int = POLISH_ROUNDS
) -> Polished:
    """:func:`polish_once`, repeated up to ``rounds`` times for the runs whose polished point left
    its frozen pattern.

    Such a run has reached the minimum of its frozen-pattern problem with a kink across a data
    point;
    the next round freezes the pattern it has reached and polishes again. Runs that kept their
    pattern
    keep their first polished trajectory.
    """
    polished = _polish_once(experiment, steps, records)
    for _ in range(rounds - 1):
        redo = ~polished.pattern_kept
        if not redo.any():
            break
        done = polished.experiment
        again = _polish_once(_subset(done, redo), steps, records)
        trajectory = done.trajectory.where(redo, again.experiment.trajectory)
        seconds = done.seconds + again.experiment.seconds
        polished = Polished(
            Experiment(
                done.x, done.y, _merge(done.lr, again.experiment.lr, redo), trajectory, seconds
            ),
            _merge(polished.lo, again.lo, redo),
            _merge(polished.hi, again.hi, redo),
            _merge(polished.eigenvalues, again.eigenvalues, redo),
            _merge(polished.pattern_kept, again.pattern_kept, redo),
        )
    return polished


def _subset(experiment: Experiment, mask: np.ndarray) -> Experiment:
    """The runs of a batched experiment where ``mask`` (batch shape) is True, as a flat batch."""
    t = experiment.trajectory
    shape = t.loss.shape[:-1]
    y = _batch_targets(experiment)[mask]
    lr = np.broadcast_to(np.asarray(experiment.lr, dtype=float), shape + (1,))[mask]
    return Experiment(experiment.x, y, lr, t.select(mask), experiment.seconds)


def _merge(base: np.ndarray | float, part: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``base`` (broadcast to the batch shape of ``mask`` plus trailing axes) with ``part`` written
    where ``mask`` is True."""
    out = np.array(np.broadcast_to(np.asarray(base), mask.shape + np.shape(part)[1:]))
    out[mask] = part
    return out


def _neuron_lines(
    x: np.ndarray, y: np.ndarray, network: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x_A, ℓ_y(x_A), ℓ_N(x_A)): the least-squares lines of y and of N over the active set [lo,
    hi)."""
    xs = x[lo:hi]
    return (
        xs,
        np.poly1d(local_line(xs, y[lo:hi]))(xs),
        np.poly1d(local_line(xs, network[lo:hi]))(xs),
    )


def _stationarity(
    polished: Polished, index: tuple[int, ...], min_output: float = 1e-3, min_points: int = 2
) -> pd.DataFrame:
    """Per neuron with |c_j| > 1e-3 and |A_j| ≥ 2 (A_j frozen): the two sums and the two
    least-squares lines.

    Columns: |Σ_A r|/m and |Σ_A r x|/m relative to ‖r‖/√m, and the largest gap over A_j between the
    least-squares line of y and that of N (fitted independently with ``np.polyfit``), relative to
    ‖r‖/√m.
    """
    x, y, trajectory = run_view(polished.experiment, index)
    p, lo, hi = trajectory.final, polished.lo[index], polished.hi[index]
    residual = residual_fast(x, y, p, lo, hi)
    m = len(x)
    scale = np.linalg.norm(residual) / np.sqrt(m)
    # the C3 sums from the dense mask of the frozen pattern, independent of the interval form GD
    # used
    frozen = polished.experiment.trajectory.params.map(lambda a: a[index][0])
    sum_r, sum_rx = active_residual_sums(x, residual, frozen.w, frozen.b)
    rows = []
    for j in np.flatnonzero((np.abs(p.c) > min_output) & (hi - lo >= min_points)):
        _, line_y, line_n = _neuron_lines(x, y, y + residual, lo[j], hi[j])
        rows.append(
            {
                "neuron": int(j),
                "|A_j|": int(hi[j] - lo[j]),
                "c_j": p.c[j],
                "sum r": abs(sum_r[j]) / m / scale,
                "sum r x": abs(sum_rx[j]) / m / scale,
                "line gap": np.max(np.abs(line_y - line_n)) / scale,
            }
        )
    return pd.DataFrame(rows)


def polished_summary(
    cfg: Config,
    polished: Polished,
    tolerance: float = 1e-12,
    min_level: float = 1e-10,
    *,
    labels: list[dict] | None = None,
) -> pd.DataFrame:
    """Per polished run (``labels`` in batch order, default the main runs'): loss before/after
    polishing, the frozen pattern's L_A, convergence, worst sums and line gap.

    A run counts as converged when its polished loss is within ``tolerance`` (relative) of L_A, the
    minimum of the fixed-pattern problem, L_A ≥ ``min_level`` (an interpolating run has r at
    round-off level, where the relative criterion is meaningless), and the polished parameters still
    realise the frozen pattern: otherwise the point is stationary only for the frozen-pattern
    problem, not for the real loss L.
    """
    rows = []
    trajectory = polished.experiment.trajectory
    for index, run_label in zip(
        np.ndindex(trajectory.loss.shape[:-1]),
        _main_labels(cfg) if labels is None else labels,
        strict=True,
    ):
        x, y, run = run_view(polished.experiment, index)
        level = pattern_least_squares(x, y, run.params.w[0], run.params.b[0])
        after = run.loss[-1]
        table = _stationarity(polished, index) if np.isfinite(after) else pd.DataFrame()
        worst = (
            table[["sum r", "sum r x", "line gap"]].max()
            if len(table)
            else pd.Series(np.nan, ["sum r", "sum r x", "line gap"])
        )
        rows.append(
            run_label
            | {
                "loss before": run.loss[0],
                "loss after": after,
                "L_A": level,
                "converged": bool(
                    level >= min_level
                    and after - level <= tolerance * level
                    and polished.pattern_kept[index]
                ),
                "pattern kept": bool(polished.pattern_kept[index]),
                "neurons checked": len(table),
            }
            | worst.to_dict()
        )
    return pd.DataFrame(rows)


def _converged_gaps(
    polished: Polished, summary: pd.DataFrame
) -> list[tuple[int, tuple[int, ...], np.ndarray]]:
    """(row of ``summary``, batch index, L_t − L_A on the recorded steps) for every converged
    polished run."""
    shape = polished.experiment.trajectory.loss.shape[:-1]
    gaps = []
    for flat, index in enumerate(np.ndindex(shape)):
        if summary.at[flat, "converged"]:
            _, _, run = run_view(polished.experiment, index)
            gaps.append((flat, index, run.loss - summary.at[flat, "L_A"]))
    return gaps


def _convergence_rates(cfg: Config, polished: Polished, summary: pd.DataFrame) -> pd.DataFrame:
    """(C2) Per converged run: measured and predicted per-step contraction of L_t − L_A inside the
    pattern.

    Near a minimum GD is linear: L_t − L_A ∝ (1 − ηλ)^{2t} along each Hessian eigenvector, so the
    slowest possible decay is ρ = (1 − ηλ⁺_min)², λ⁺_min the smallest positive eigenvalue (the
    rescaling
    symmetries c_j → c_j/s, (w_j, b_j) → s(w_j, b_j) give exact zeros, excluded below 1e-8 λ_max).
    Measured: exp of the least-squares slope of log(L_t − L_A) where 1e-11 < (L_t − L_A)/L_A < 1e-2,
    converted back to the eigenvalue λ = (1 − √ρ)/η it implies, next to the nearest Hessian
    eigenvalue.
    """
    rows = []
    steps = polished.experiment.trajectory.steps
    for flat, index, gap in _converged_gaps(polished, summary):
        level = summary.at[flat, "L_A"]
        window = (gap > 1e-11 * level) & (gap < 1e-2 * level)
        eigenvalues = polished.eigenvalues[index]
        positive = eigenvalues[eigenvalues > 1e-8 * eigenvalues[-1]]
        lr = float(
            np.broadcast_to(
                polished.experiment.lr, polished.experiment.trajectory.loss.shape[:-1] + (1,)
            )[index][0]
        )
        measured = (
            fit_exponential(steps[window], gap[window]).factor if window.sum() >= 3 else np.nan
        )
        rows.append(
            {
                "target": summary.at[flat, "target"],
                "seed": int(summary.at[flat, "seed"]),
                "step size η": lr,
                "λ_max": eigenvalues[-1],
                "λ⁺_min": positive[0],
                "slowest predicted ρ": (1 - lr * positive[0]) ** 2,
                "measured ρ": measured,
                "λ from measured ρ": (1 - np.sqrt(measured)) / lr,
                "nearest Hessian eigenvalue": positive[
                    np.argmin(np.abs(positive - (1 - np.sqrt(measured)) / lr))
                ],
            }
        )
    return pd.DataFrame(rows)
