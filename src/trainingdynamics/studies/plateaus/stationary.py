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
    gauss_newton_fixed_pattern,
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
    """Runs continued inside their frozen final pattern: GD, then Gauss–Newton (same batch)."""

    experiment: Experiment  # frozen-pattern GD started at the runs' final parameters
    point: Params  # the polished point: GD's end, finished by Gauss–Newton steps
    loss: np.ndarray  # (...) its fixed-pattern loss
    level: np.ndarray  # (...) L_A of the pattern it was finished in
    lo: np.ndarray  # the frozen active intervals [lo, hi) it was finished in
    hi: np.ndarray
    # (..., 3n) spectrum of the fixed-pattern Hessian at the polished point (NaN if it diverged)
    eigenvalues: np.ndarray
    pattern_kept: np.ndarray  # (...) whether the polished point still realises the frozen pattern
    rounds: np.ndarray  # (...) rounds used: 1 when GD's own frozen pattern held
    # (C2) GD restarted inside the pattern from the polished point perturbed by KICK (same batch)
    restart: Experiment
    restart_kept: np.ndarray  # (...) whether the perturbed start still had the point's pattern


# a run whose polished point left its frozen pattern is polished again by Gauss–Newton, frozen
# in the pattern it reached, up to this many rounds in all
POLISH_ROUNDS = 20

# polishing step size, as a fraction of 1/λ_max of the fixed-pattern Hessian (stable below 2)
POLISH_STEP = 0.5

# (C2) relative size of the perturbation GD is restarted from: L − L_A starts near 1e-8 L_A,
# above the fit window's floor (1e-11) and small enough to keep the pattern
KICK = 1e-4

# Gauss–Newton steps after GD: near a minimiser a handful reach float64 rounding
NEWTON_STEPS = 20


def _hessian_spectra(x: np.ndarray, y: np.ndarray, p: Params) -> np.ndarray:
    """Eigenvalues of the fixed-pattern Hessian of every network of a batch, (..., 3n).

    NaN where p is not finite.
    """
    batch = p.c.shape[:-1]
    spectra = np.full(batch + (3 * p.c.shape[-1],), np.nan)
    for index in np.ndindex(batch):
        single = p.map(lambda a, i=index: a[i])
        if all(np.all(np.isfinite(a)) for a in (single.c, single.w, single.b)):
            spectra[index] = np.linalg.eigvalsh(fixed_pattern_hessian(x, y[index], single))
    return spectra


def _newton_finish(
    x: np.ndarray, y: np.ndarray, p: Params, lo: np.ndarray, hi: np.ndarray
) -> Params:
    """:func:`gauss_newton_fixed_pattern` for every finite network of a batch."""
    out = p.map(np.copy)
    for index in np.ndindex(p.c.shape[:-1]):
        single = p.map(lambda a, i=index: a[i])
        if all(np.all(np.isfinite(a)) for a in (single.c, single.w, single.b)):
            with np.errstate(over="ignore", invalid="ignore"):
                done = gauss_newton_fixed_pattern(
                    x, y[index], single, lo[index], hi[index], NEWTON_STEPS
                )
            for name in ("c", "w", "b"):
                getattr(out, name)[index] = getattr(done, name)
    return out


def _finish(
    x: np.ndarray, y: np.ndarray, start: Params, lo: np.ndarray, hi: np.ndarray
) -> tuple[Params, np.ndarray, np.ndarray]:
    """Gauss–Newton inside the frozen intervals [lo, hi): (point, its loss, pattern kept)."""
    point = _newton_finish(x, y, start, lo, hi)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = 0.5 * np.mean(residual_fast(x, y, point, lo, hi) ** 2, axis=-1)
    new_lo, new_hi = active_intervals(x, point.w, point.b)
    kept = np.all((new_lo == lo) & (new_hi == hi), axis=-1) & np.isfinite(loss)
    return point, loss, kept


def _restart(
    x: np.ndarray, y: np.ndarray, point: Params, rng: np.random.Generator, steps: int, records: int
) -> tuple[Experiment, np.ndarray]:
    """GD inside the pattern from ``point`` with (c, w, b) perturbed by KICK·|θ| (relative)."""
    start = point.map(lambda a: a * (1 + KICK * rng.standard_normal(a.shape)))
    lo, hi = active_intervals(x, point.w, point.b)
    new_lo, new_hi = active_intervals(x, start.w, start.b)
    same = np.all((new_lo == lo) & (new_hi == hi), axis=-1)
    with np.errstate(over="ignore", invalid="ignore"):
        restart = _train_batch(
            x, y, start, _polish_rate(x, y, start), steps, records, freeze_pattern=True
        )
    return restart, same


def _polish_rate(x: np.ndarray, y: np.ndarray, p: Params) -> np.ndarray:
    """POLISH_STEP/λ_max of each network's fixed-pattern Hessian; 0 for a network without
    curvature (every neuron inactive: its gradient inside the pattern is zero too)."""
    top = _hessian_spectra(x, y, p)[..., -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(top > 0, POLISH_STEP / top, 0.0)


def polish(
    experiment: Experiment,
    steps: int,
    records: int,
    rng: np.random.Generator,
    rounds: int = POLISH_ROUNDS,
) -> Polished:
    """GD with each run's final pattern frozen (step ``POLISH_STEP``/λ_max of its fixed-pattern
    Hessian), finished by Gauss–Newton; runs whose point left the pattern are re-frozen in the
    pattern they reached and finished again, up to ``rounds`` rounds in all.

    A run that leaves its pattern has reached the minimum of its frozen-pattern problem with a
    kink across a data point: a stationary point of the frozen problem, not of L.
    """
    x, y, start = experiment.x, _batch_targets(experiment), experiment.trajectory.final
    with np.errstate(over="ignore", invalid="ignore"):
        descent = _train_batch(
            x, y, start, _polish_rate(x, y, start), steps, records, freeze_pattern=True
        )
    lo, hi = active_intervals(x, start.w, start.b)
    level = _levels(x, y, start)
    point, loss, kept = _finish(x, y, descent.trajectory.final, lo, hi)
    used = np.ones(kept.shape, dtype=int)
    for _ in range(rounds - 1):
        redo = ~kept & np.isfinite(loss)
        if not redo.any():
            break
        lo, hi = active_intervals(x, point.w, point.b)  # kept runs: their frozen pattern
        level = _merge(level, _levels(x, y[redo], point.map(lambda a, r=redo: a[r])), redo)
        again, again_loss, again_kept = _finish(
            x, y[redo], point.map(lambda a, r=redo: a[r]), lo[redo], hi[redo]
        )
        point = Params(*(_merge(getattr(point, k), getattr(again, k), redo) for k in "cwb"))
        loss, kept = _merge(loss, again_loss, redo), _merge(kept, again_kept, redo)
        used = used + redo
    spectra = _hessian_spectra(x, y, point)
    restart, same = _restart(x, y, point, rng, steps, records)
    return Polished(descent, point, loss, level, lo, hi, spectra, kept, used, restart, same)


def _levels(x: np.ndarray, y: np.ndarray, p: Params) -> np.ndarray:
    """L_A of the pattern of every network of a batch (NaN where p is not finite)."""
    levels = np.full(p.c.shape[:-1], np.nan)
    for index in np.ndindex(levels.shape):
        w, b = p.w[index], p.b[index]
        if np.all(np.isfinite(w)) and np.all(np.isfinite(b)):
            levels[index] = pattern_least_squares(x, y[index], w, b)
    return levels


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
    x, y, _ = run_view(polished.experiment, index)
    p = polished.point.map(lambda a: a[index])
    lo, hi = polished.lo[index], polished.hi[index]
    residual = residual_fast(x, y, p, lo, hi)
    m = len(x)
    scale = np.linalg.norm(residual) / np.sqrt(m)
    # the C3 sums from the dense mask of the polished point, independent of the interval form
    sum_r, sum_rx = active_residual_sums(x, residual, p.w, p.b)
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
        level = polished.level[index]
        after = polished.loss[index]
        # an interpolating run has ‖r‖ = 0: its relative sums are NaN (it is not counted)
        with np.errstate(invalid="ignore", divide="ignore"):
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
                "rounds": int(polished.rounds[index]),
                "neurons checked": len(table),
            }
            | worst.to_dict()
        )
    return pd.DataFrame(rows)


def _converged_gaps(
    polished: Polished, summary: pd.DataFrame
) -> list[tuple[int, tuple[int, ...], np.ndarray]]:
    """(row of ``summary``, batch index, L_t − L_A of the restart) for every converged run whose
    perturbed start kept the pattern."""
    shape = polished.restart.trajectory.loss.shape[:-1]
    gaps = []
    for flat, index in enumerate(np.ndindex(shape)):
        if summary.at[flat, "converged"] and polished.restart_kept[index]:
            _, _, run = run_view(polished.restart, index)
            gaps.append((flat, index, run.loss - summary.at[flat, "L_A"]))
    return gaps


def linearised_gap(
    hessian: np.ndarray, kick: np.ndarray, lr: float, steps: np.ndarray
) -> np.ndarray:
    """L_t − L_A of GD linearised at a minimum: ½ Σ_k λ_k (1 − ηλ_k)^{2t} (v_kᵀ δ_0)².

    δ_t = (I − ηH)^t δ_0 for the quadratic model ½ δᵀ H δ of the loss around the minimum.
    """
    eigenvalues, vectors = np.linalg.eigh(hessian)
    weights = (vectors.T @ kick) ** 2
    decay = (1 - lr * eigenvalues[None, :]) ** (2 * steps[:, None].astype(float))
    return 0.5 * decay @ (eigenvalues * weights)


def _convergence_rates(cfg: Config, polished: Polished, summary: pd.DataFrame) -> pd.DataFrame:
    """(C2) Per converged run: GD restarted from its perturbed stationary point against the
    linearised prediction from the fixed-pattern Hessian.

    Near a minimum GD is linear: L_t − L_A = ½ Σ_k λ_k (1 − ηλ_k)^{2t} (v_kᵀ δ_0)² up to terms of
    third order in the perturbation δ_0 (:func:`linearised_gap`). Reported: the largest relative
    deviation of the measured L_t − L_A from that curve where it exceeds 1e-11 L_A (float64
    rounding of L_t − L_A lies far below), the slowest possible contraction ρ = (1 − ηλ⁺_min)²
    (λ⁺_min the smallest positive eigenvalue: the rescalings c_j → c_j/s, (w_j, b_j) → s(w_j, b_j)
    give exact zeros), and the per-step factor of a log-linear fit of the measured decay
    (:func:`~trainingdynamics.diagnostics.rates.fit_exponential`).
    """
    rows = []
    steps = polished.restart.trajectory.steps
    lrs = np.broadcast_to(polished.restart.lr, polished.restart.trajectory.loss.shape[:-1] + (1,))
    for flat, index, gap in _converged_gaps(polished, summary):
        x, y, run = run_view(polished.restart, index)
        point = polished.point.map(lambda a, i=index: a[i])
        level, lr = summary.at[flat, "L_A"], float(lrs[index][0])
        kick = np.concatenate([run.params.c[0], run.params.w[0], run.params.b[0]]) - np.concatenate(
            [point.c, point.w, point.b]
        )
        predicted = linearised_gap(fixed_pattern_hessian(x, y, point), kick, lr, steps)
        window = predicted > 1e-11 * level
        eigenvalues = polished.eigenvalues[index]
        positive = eigenvalues[eigenvalues > 1e-8 * eigenvalues[-1]]
        if not positive.size:  # every neuron inactive: no curvature, nothing moves, no rate
            continue
        fit = (gap > 1e-11 * level) & (gap < 1e-2 * level)
        rows.append(
            {
                "target": summary.at[flat, "target"],
                "seed": int(summary.at[flat, "seed"]),
                "step size η": lr,
                "λ_max": eigenvalues[-1],
                "λ⁺_min": positive[0],
                "slowest possible ρ": (1 - lr * positive[0]) ** 2,
                "fitted ρ": fit_exponential(steps[fit], gap[fit]).factor
                if fit.sum() >= 3
                else np.nan,
                "records compared": int(window.sum()),
                "max deviation from linearised GD": float(
                    np.max(np.abs(gap[window] - predicted[window]) / predicted[window])
                )
                if window.any()
                else np.nan,
            }
        )
    return pd.DataFrame(rows)
