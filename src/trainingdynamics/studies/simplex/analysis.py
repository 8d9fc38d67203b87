"""The analysis of a run: the decay's shape and predictability, vertex density, steps and ‖θ‖."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trainingdynamics.algorithms.simplex import (
    SimplexTrace,
    aitken_limit,
    distinct_vertices,
    fit_limit,
    line_density,
)
from trainingdynamics.seeding import child_rng

if TYPE_CHECKING:
    from trainingdynamics.studies.simplex.experiment import Config

WINDOW = (0.4, 0.8)  # the shape models are fitted on these fractions of the distinct vertices
SEEN = (0.5, 0.6, 0.7, 0.8, 0.9)  # fractions k/K of the path the estimators of L* have seen
JUDGED_AT = 0.8  # ... and the one the predictability claim judges them at
EDGE_FRACTION = 0.2  # first/last fraction of the steps compared
MIN_WINDOW = 10  # fewer distinct vertices in a fit window or the tail: not measurable (NaN)
ESTIMATORS = ("fit", "aitken")  # the constrained 3-parameter fit and Aitken's Δ² on block means


def _vertex_losses(trace: SimplexTrace) -> np.ndarray:
    """Losses (direct forward passes) at the distinct vertices (zero-length pivots dropped)."""
    return trace.direct_losses[distinct_vertices(trace)]


def tail_errors(losses: np.ndarray) -> tuple[float, float]:
    """Held-out tail errors of a geometric and a linear model fitted on the window [0.4K, 0.8K].

    Geometric: L* + C qᵏ (0 ≤ L* ≤ L_0.8K); linear: a + bk. Each error is the RMS of the model's
    prediction on the tail (0.8K, K], in units of the gap L_0.8K − L_K; NaN if too short.
    """
    K = len(losses) - 1
    start, stop = int(WINDOW[0] * K), int(WINDOW[1] * K)
    if stop - start < MIN_WINDOW or K - stop < MIN_WINDOW:
        return np.nan, np.nan
    k, tail = np.arange(start, stop + 1), np.arange(stop + 1, K + 1)
    geometric = fit_limit(k, losses[start : stop + 1], upper=losses[stop])
    predictions = (
        geometric.limit + geometric.scale * geometric.rate ** (tail - start),
        np.polyval(np.polyfit(k, losses[start : stop + 1], 1), tail),
    )
    gap = losses[stop] - losses[-1]
    rms = [float(np.sqrt(np.mean((p - losses[tail]) ** 2)) / gap) for p in predictions]
    return rms[0], rms[1]


def gap_ratios(losses: np.ndarray, parts: int = 5) -> np.ndarray:
    """(L_{jK/5} − L_K) / (L_{(j+1)K/5} − L_K) for j = 0..3: constant for a geometric approach,
    (5 − j)/(4 − j) = 1.25, 1.33, 1.5, 2 for a straight one."""
    K = len(losses) - 1
    gaps = losses[(np.arange(parts) * K) // parts] - losses[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return gaps[:-1] / gaps[1:]


def estimate(losses: np.ndarray, k: int, estimator: str) -> float:
    """L̂* from L_0..L_k only: the fit or Aitken's Δ² on [k/2, k], or the naive L_k."""
    if estimator == "naive":
        return float(losses[k])
    seen = losses[k // 2 : k + 1]
    if estimator == "fit":
        return fit_limit(np.arange(k // 2, k + 1), seen, upper=losses[k]).limit
    return aitken_limit(seen)


def relative_errors(losses: np.ndarray, fraction: float) -> dict[str, float]:
    """|L̂*(k) − L_K| / (L_k − L_K) at k = fraction·K for each estimator (the naive one's is 1)."""
    K = len(losses) - 1
    k = int(fraction * K)
    if k - k // 2 < MIN_WINDOW or k >= K:
        return dict.fromkeys(ESTIMATORS, np.nan)
    naive = losses[k] - losses[-1]
    return {e: abs(estimate(losses, k, e) - losses[-1]) / naive for e in ESTIMATORS}


def _step_ratios(trace: SimplexTrace) -> tuple[float, float, float]:
    """Median step over the last 20 % / first 20 % of distinct steps, raw and scaled by ‖θ_k‖,
    and the growth ‖θ_K‖ / ‖θ_0‖."""
    thetas = trace.thetas[distinct_vertices(trace)]
    norms = np.linalg.norm(thetas, axis=1)
    steps = np.linalg.norm(np.diff(thetas, axis=0), axis=1)
    if len(steps) == 0:
        return np.nan, np.nan, float(norms[-1] / norms[0])
    m = max(1, int(EDGE_FRACTION * len(steps)))
    scaled = steps / norms[:-1]
    raw = np.median(steps[-m:]) / np.median(steps[:m])
    return float(raw), float(np.median(scaled[-m:]) / np.median(scaled[:m])), norms[-1] / norms[0]


def _densities(trace: SimplexTrace, seed: int, cfg: Config, offset: float) -> tuple[float, float]:
    """Median crossings per unit length on ``cfg.lines`` lines at ``offset`` from θ_0 and θ_K."""
    rng = child_rng(seed, "lines", f"{offset:g}")
    probe = (offset, cfg.line_radius, cfg.lines, rng)
    return (
        float(np.median(line_density(trace.landscape, trace.thetas[0], *probe))),
        float(np.median(line_density(trace.landscape, trace.thetas[-1], *probe))),
    )


def _density_profile(trace: SimplexTrace, seed: int, cfg: Config) -> pd.DataFrame:
    """Median line density against the offset from θ_0 and from θ_K."""
    rows = [(r, *_densities(trace, seed, cfg, r)) for r in cfg.profile_offsets]
    return pd.DataFrame(rows, columns=["offset", "around start", "around end"])


def _summarise(trace: SimplexTrace, setting: str, seed: int, cfg: Config) -> dict:
    """One row of the per-run table."""
    losses = _vertex_losses(trace)
    geometric, linear = tail_errors(losses)
    errors = relative_errors(losses, JUDGED_AT) if trace.certified else {}
    start, end = _densities(trace, seed, cfg, cfg.offset)
    raw, scaled, growth = _step_ratios(trace)
    ratios = gap_ratios(losses) if len(losses) > 5 else np.full(4, np.nan)
    return {
        "setting": setting,
        "seed": seed,
        "status": trace.status,
        "pivots": trace.pivots,
        "degenerate": trace.degenerate,
        "distinct vertices": len(losses),
        "start loss": trace.losses[0],
        "final loss": trace.losses[-1],
        "tail error geometric": geometric,
        "tail error linear": linear,
        **{f"gap ratio {j + 1}": r for j, r in enumerate(ratios)},
        **{f"error {e} at 0.8K": errors.get(e, np.nan) for e in ESTIMATORS},
        "density start": start,
        "density end": end,
        "density ratio": end / start if start > 0 else np.inf,
        "step ratio": raw,
        "scaled step ratio": scaled,
        "norm growth": growth,
        "pivots/s": trace.pivots_per_second,
    }


def _worst_increase(traces: list[SimplexTrace]) -> float:
    """max_k (L_{k+1} − L_k) / L_k over all runs by direct forward passes (≤ 0 if monotone)."""
    return max(
        float(np.max(np.diff(t.direct_losses) / t.direct_losses[:-1], initial=-np.inf))
        for t in traces
    )
