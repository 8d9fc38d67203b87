"""The analysis of a run: the decay fit on a window, the step ratio and the boundary densities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trainingdynamics.algorithms.simplex import (
    SimplexTrace,
    boundary_density,
    distinct_vertices,
    fit_limit,
)
from trainingdynamics.diagnostics.rates import fit_exponential
from trainingdynamics.seeding import child_rng

WINDOW = (0.4, 0.8)  # fraction of the distinct vertices on which L* is estimated (never after 0.8K)
EDGE_FRACTION = 0.2  # first/last fraction of the steps compared for vertex density
MIN_WINDOW = 10  # fewer distinct vertices in the window or the tail: the decay claim fails there

# Our operationalisations of the paper's two observations: the paper states no number (its figures
# could not be read); all four thresholds are ours, fixed before the first run.
TAIL_R2 = 0.9  # a run's limit fit must explain the unseen tail with at least this R²
GAP_CLOSED = 0.5  # ... and its L̂* must close at least this share of the gap L_{0.8K} − L_K
STEP_SHRINK = (
    0.1  # median step over the last 20 % at most this fraction of that over the first 20 %
)


@dataclass(frozen=True)
class DecayStatistics:
    """The decay test of one run (the exponential_decay claim), on its K + 1 distinct vertices.

    L̂* is fitted on the window [0.4K, 0.8K] only (L* + C qᵏ, L* constrained to [0, L_{0.8K}]);
    R² is that of the line log(L_k − L̂*) against k on the tail (0.8K, K], which the fit never saw.
    """

    window_start: int
    window_stop: int
    estimate: float  # L̂*; NaN if the window is too short
    rate: float  # fitted q; NaN if the window is too short
    finite: bool  # False: q at the cap, no finite limit (the run fails the criterion)
    r2: float  # tail R²; NaN if not measurable (window too short, or some tail L_k ≤ L̂*)
    gap_closed: float  # 1 − |L̂* − L_K| / (L_{0.8K} − L_K); ≥ ½ ⇔ |L̂* − L_K| ≤ ½ (L_{0.8K} − L_K)
    upper: float = np.inf  # L_{0.8K}, the upper bound of L̂*

    @property
    def fit(self) -> str:
        """How the fit ended: "ok", "no finite limit", "L* at 0", "L* at L_0.8K" or "too short"."""
        if np.isnan(self.estimate):
            return "too short"
        if not self.finite:
            return "no finite limit"
        if self.estimate <= 0.0:
            return "L* at 0"
        return "L* at L_0.8K" if self.estimate >= self.upper else "ok"

    @property
    def holds(self) -> bool:
        """A finite limit, tail R² ≥ TAIL_R2 and at least GAP_CLOSED of the gap closed (ours)."""
        return bool(self.finite and self.r2 >= TAIL_R2 and self.gap_closed >= GAP_CLOSED)


def _vertex_losses(trace: SimplexTrace) -> np.ndarray:
    """Losses (direct forward passes) at the distinct vertices (zero-length pivots dropped)."""
    return trace.direct_losses[distinct_vertices(trace)]


def decay_statistics(trace: SimplexTrace) -> DecayStatistics:
    """Fit L* on the distinct vertices [0.4K, 0.8K], then test it on the tail (0.8K, K] and L_K."""
    losses = _vertex_losses(trace)
    K = len(losses) - 1
    start, stop = int(WINDOW[0] * K), int(WINDOW[1] * K)
    if stop - start < MIN_WINDOW or K - stop < MIN_WINDOW or losses[stop] <= losses[-1]:
        return DecayStatistics(start, stop, np.nan, np.nan, False, np.nan, np.nan)
    fit = fit_limit(np.arange(start, stop + 1), losses[start : stop + 1], upper=losses[stop])
    gap_closed = 1.0 - abs(fit.limit - losses[-1]) / (losses[stop] - losses[-1])
    tail = np.arange(stop + 1, K + 1)
    gaps = losses[tail] - fit.limit
    r2 = fit_exponential(tail, gaps).r_squared if np.all(gaps > 0) else np.nan
    return DecayStatistics(
        start, stop, fit.limit, fit.rate, fit.finite, r2, gap_closed, losses[stop]
    )


def _running_estimates(trace: SimplexTrace, points: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """L̂* from prefixes: for each k the fit on distinct vertices [k/2, k]; NaN without a limit."""
    losses = _vertex_losses(trace)
    if len(losses) <= 2 * MIN_WINDOW:
        return np.array([], dtype=int), np.array([])
    ks = np.unique(np.linspace(2 * MIN_WINDOW, len(losses) - 1, points).astype(int))
    fits = [
        fit_limit(np.arange(k // 2, k + 1), losses[k // 2 : k + 1], upper=losses[k]) for k in ks
    ]
    return ks, np.array([f.limit if f.finite else np.nan for f in fits])


def _step_ratio(trace: SimplexTrace) -> float:
    """median ‖Δθ‖ over the last 20 % of distinct steps / median over the first 20 %."""
    steps = np.linalg.norm(np.diff(trace.thetas[distinct_vertices(trace)], axis=0), axis=1)
    if len(steps) == 0:
        return float("nan")
    m = max(1, int(EDGE_FRACTION * len(steps)))
    return float(np.median(steps[-m:]) / np.median(steps[:m]))


def _densities(trace: SimplexTrace, rays: int, radius: float, seed: int) -> tuple[float, float]:
    """Boundary crossings per unit length on random lines through the first and the last vertex."""
    rng = child_rng(seed, "rays")
    land = trace.landscape
    return (
        boundary_density(land, trace.thetas[0], radius, rays, rng),
        boundary_density(land, trace.thetas[-1], radius, rays, rng),
    )


def _summarise(trace: SimplexTrace, network: str, seed: int, rays: int, radius: float) -> dict:
    """One row of the per-seed table."""
    decay = decay_statistics(trace)
    near_start, near_end = _densities(trace, rays, radius, seed)
    return {
        "network": network,
        "seed": seed,
        "status": trace.status,
        "pivots": trace.pivots,
        "degenerate": trace.degenerate,
        "distinct vertices": len(distinct_vertices(trace)),
        "start loss": trace.losses[0],
        "final loss": trace.losses[-1],
        "L* estimate": decay.estimate,
        "q": decay.rate,
        "limit fit": decay.fit,
        "tail R²": decay.r2,
        "gap closed": decay.gap_closed,
        "decay holds": decay.holds,
        "step ratio": _step_ratio(trace),
        "density start": near_start,
        "density end": near_end,
        "pivots/s": trace.pivots_per_second,
    }


def _density_medians(table: pd.DataFrame) -> pd.DataFrame:
    """Median boundary density near the first and the last vertex, one row per network."""
    return table.groupby("network", sort=False)[["density start", "density end"]].median()


def _worst_increase(traces: list[SimplexTrace]) -> float:
    """max_k (L_{k+1} − L_k) / L_k over all runs by direct forward passes (≤ 0 if monotone)."""
    return max(
        float(np.max(np.diff(t.direct_losses) / t.direct_losses[:-1], initial=-np.inf))
        for t in traces
    )
