"""Deep ReLU Simplex: exact monotone L1 descent over the vertices of the first layer's loss landscape (Hinz 2021).

With the data and all layers but the first fixed, L(θ) = Σ_i |f_θ(x_i) − y_i| is piecewise
affine in θ = [W₁ | b₁]. The Deep ReLU Simplex algorithm walks from vertex to adjacent vertex,
always along the steepest improving edge, and stops at a vertex none of whose 2·dim θ edges
descends: a local minimum. Hinz (2021, abstract) observed that near such minima the loss
"seems to decay exponentially slow" at the iterated vertices, so that the minimum's loss can be
estimated from the losses of the vertices before it, and "a strong increase of the vertex
density". We test the first with a limit fit L_k ≈ L* + C qᵏ and the second with step lengths
between vertices: both operationalisations, thresholds included, are ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from trainingdynamics.algorithms.simplex import (
    ZERO_TOLERANCE,
    SimplexTrace,
    boundary_density,
    deep_relu_simplex,
    distinct_vertices,
    fit_limit,
    lad_linprog,
)
from trainingdynamics.claims import Claim, at_least, at_most
from trainingdynamics.device import resolve_device
from trainingdynamics.diagnostics.rates import fit_exponential
from trainingdynamics.profiles import ParameterError, require_positive, resolve
from trainingdynamics.seeding import child_rng

TITLE = "Deep ReLU Simplex: exact L1 descent over the vertices of the first layer"
CLAIM = (
    "The Deep ReLU Simplex decreases the L1 loss monotonically over vertices to a certified local minimum (exact); "
    "our tests of Hinz's decay and vertex-density observations are not supported."
)
PAPER = "hinz2021layerwise"

WINDOW = (0.4, 0.8)  # fraction of the distinct vertices on which L* is estimated (never after 0.8K)
EDGE_FRACTION = 0.2  # first/last fraction of the steps compared for vertex density
MIN_WINDOW = 10  # fewer distinct vertices in the fit window or the tail than this: the decay claim fails for that seed

# Bounds of the exact checks (float64 rounding, relative to each quantity's scale) and of the conditioning check.
MONOTONE_TOLERANCE = 1e-9  # largest relative rise of the forward-pass loss between vertices
VERTEX_ZEROS = (
    1.0  # vanishing boundaries per dimension of θ at every vertex: the definition of a vertex
)
OFFSET_TOLERANCE = 1e-8  # largest relative |a| of a critical boundary at its vertex
MAX_LOG_CONDITION = (
    12.0  # log10 of cond A (the algorithm's MAX_CONDITION): ours, a numerical sanity bound
)
LAD_TOLERANCE = 1e-8  # relative gap to the HiGHS optimum of the LAD LP
SLOPE_TOLERANCE = -1e-10  # smallest normalised edge slope at termination
TRACKING_TOLERANCE = 1e-10  # relative gap between the tracked affine loss and a forward pass

# Our operationalisations of the paper's two observations: the paper states no number (its figures
# could not be read); all four thresholds are ours, fixed before the first run.
TAIL_R2 = 0.9  # a run's limit fit must explain the unseen tail with at least this R²
GAP_CLOSED = (
    0.5  # ... and its L̂* must close at least this share of the remaining gap L_{0.8K} − L_K
)
STEP_SHRINK = (
    0.1  # a run's median step over the last 20% at most this fraction of that over the first 20%
)
SHARE = 0.7  # the decay and density criteria must hold in at least this share of the certified deep runs
MIN_CERTIFIED = (
    1  # the decay and density claims are measured on the certified deep runs: at least this many
)


@dataclass(frozen=True)
class Config:
    """Data and network sizes, the number of seeds, the pivot budget and the density probes."""

    input_dim: int = 2
    hidden: tuple[int, ...] = (5, 5)
    n_samples: int = 200
    seeds: int = 5
    max_pivots: int = 2000
    lad_samples: int = 200
    lad_dim: int = 3
    rays: int = 6
    ray_radius: float = 0.05

    def __post_init__(self) -> None:
        require_positive(
            self,
            "input_dim",
            "hidden",
            "n_samples",
            "seeds",
            "max_pivots",
            "lad_samples",
            "lad_dim",
            "rays",
            "ray_radius",
        )
        if self.n_samples <= self.input_dim + 1:
            raise ParameterError(
                f"n_samples ({self.n_samples}) must exceed input_dim + 1 ({self.input_dim + 1})"
            )
        if self.lad_samples <= self.lad_dim + 1:
            raise ParameterError(
                f"lad_samples ({self.lad_samples}) must exceed lad_dim + 1 ({self.lad_dim + 1}), or the LAD optimum is 0"
            )


PROFILES = {
    "quick": Config(),
    "full": Config(input_dim=4, hidden=(5, 5, 5, 5, 2), n_samples=1000, seeds=5, max_pivots=15000),
}


def config(profile: str = "quick", **overrides: object) -> Config:
    """The profile's config with the given (non-``None``) overrides."""
    return resolve(PROFILES, profile, **overrides)


def make_data(
    n_samples: int, input_dim: int, seed: int, stream: str = "data"
) -> tuple[np.ndarray, np.ndarray]:
    """X ~ U(−3, 3)^d and targets y ~ U(−3, 3) independent of X, as in the authors' code, from ``child_rng(seed, stream)``."""
    rng = child_rng(seed, stream)
    return rng.uniform(-3.0, 3.0, size=(n_samples, input_dim)), rng.uniform(
        -3.0, 3.0, size=n_samples
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
        """How the limit fit ended: "ok", "no finite limit" (q at the cap), "L* at 0", "L* at L_0.8K" or "too short"."""
        if np.isnan(self.estimate):
            return "too short"
        if not self.finite:
            return "no finite limit"
        if self.estimate <= 0.0:
            return "L* at 0"
        return "L* at L_0.8K" if self.estimate >= self.upper else "ok"

    @property
    def holds(self) -> bool:
        """A finite limit, tail R² ≥ TAIL_R2 and at least GAP_CLOSED of the remaining gap closed (our criterion)."""
        return bool(self.finite and self.r2 >= TAIL_R2 and self.gap_closed >= GAP_CLOSED)


def vertex_losses(trace: SimplexTrace) -> np.ndarray:
    """Losses (direct forward passes) at the distinct vertices (degenerate, zero-length pivots dropped)."""
    return trace.direct_losses[distinct_vertices(trace)]


def decay_statistics(trace: SimplexTrace) -> DecayStatistics:
    """Fit L* on the window [0.4K, 0.8K] of distinct vertices, then test it on the tail (0.8K, K] and against L_K."""
    losses = vertex_losses(trace)
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


def running_estimates(trace: SimplexTrace, points: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """L̂* from prefixes: for each k, the fit on distinct vertices [k/2, k] (only the past of vertex k); NaN without a finite limit."""
    losses = vertex_losses(trace)
    if len(losses) <= 2 * MIN_WINDOW:
        return np.array([], dtype=int), np.array([])
    ks = np.unique(np.linspace(2 * MIN_WINDOW, len(losses) - 1, points).astype(int))
    fits = [
        fit_limit(np.arange(k // 2, k + 1), losses[k // 2 : k + 1], upper=losses[k]) for k in ks
    ]
    return ks, np.array([f.limit if f.finite else np.nan for f in fits])


def step_ratio(trace: SimplexTrace) -> float:
    """median ‖Δθ‖ over the last 20% of distinct steps / median over the first 20%."""
    steps = np.linalg.norm(np.diff(trace.thetas[distinct_vertices(trace)], axis=0), axis=1)
    if len(steps) == 0:
        return float("nan")
    m = max(1, int(EDGE_FRACTION * len(steps)))
    return float(np.median(steps[-m:]) / np.median(steps[:m]))


def densities(trace: SimplexTrace, cfg: Config, seed: int) -> tuple[float, float]:
    """Boundary crossings per unit length on random lines through the first and the last vertex (stream "rays")."""
    rng = child_rng(seed, "rays")
    land = trace.landscape
    return (
        boundary_density(land, trace.thetas[0], cfg.ray_radius, cfg.rays, rng),
        boundary_density(land, trace.thetas[-1], cfg.ray_radius, cfg.rays, rng),
    )


@dataclass
class Result:
    """Runs on the deep and the one-hidden-layer network for every seed, the LAD check, per-seed statistics."""

    cfg: Config
    seeds: list[int]
    deep: list[SimplexTrace]
    shallow: list[SimplexTrace]
    lad: SimplexTrace
    lad_optimum: float
    table: pd.DataFrame


def run_network(cfg: Config, seed: int, hidden: tuple[int, ...]) -> SimplexTrace:
    """One Deep ReLU Simplex run on the seed's data and a random network of widths ``hidden``."""
    X, y = make_data(cfg.n_samples, cfg.input_dim, seed)
    return deep_relu_simplex(X, y, hidden, seed=seed, max_pivots=cfg.max_pivots)


def run_lad(cfg: Config, seed: int) -> tuple[SimplexTrace, float]:
    """The linear special case (no hidden layer) and the HiGHS LP optimum of the same LAD problem."""
    X, y = make_data(cfg.lad_samples, cfg.lad_dim, seed, stream="lad data")
    return deep_relu_simplex(X, y, (), seed=seed, max_pivots=100 * cfg.lad_samples), lad_linprog(
        X, y
    )


def summarise(trace: SimplexTrace, network: str, seed: int, cfg: Config) -> dict:
    """One row of the per-seed table."""
    decay = decay_statistics(trace)
    near_start, near_end = densities(trace, cfg, seed)
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
        "step ratio": step_ratio(trace),
        "density start": near_start,
        "density end": near_end,
        "pivots/s": trace.pivots_per_second,
    }


def run(cfg: Config, seed: int = 0, device: str | torch.device = "cpu") -> Result:
    """All runs of the chapter; the algorithm is exact float64 NumPy, so ``device`` must be the CPU."""
    if resolve_device(str(device)).type != "cpu":
        raise ParameterError(
            "the Deep ReLU Simplex runs in float64 NumPy on the CPU; use device='cpu'"
        )
    seeds = [seed + i for i in range(cfg.seeds)]
    shallow_hidden = cfg.hidden[:1]
    deep = [run_network(cfg, s, cfg.hidden) for s in seeds]
    shallow = [run_network(cfg, s, shallow_hidden) for s in seeds]
    lad, optimum = run_lad(cfg, seed)
    rows = [
        summarise(t, f"deep {list(cfg.hidden)}", s, cfg) for t, s in zip(deep, seeds, strict=True)
    ]
    rows += [
        summarise(t, f"shallow {list(shallow_hidden)}", s, cfg)
        for t, s in zip(shallow, seeds, strict=True)
    ]
    return Result(cfg, seeds, deep, shallow, lad, optimum, pd.DataFrame(rows))


def density_medians(table: pd.DataFrame) -> pd.DataFrame:
    """Median boundary density near the first and the last vertex, one row per network (for the bar chart)."""
    return table.groupby("network", sort=False)[["density start", "density end"]].median()


def worst_increase(traces: list[SimplexTrace]) -> float:
    """max_k (L_{k+1} − L_k) / L_k over all runs, L_k by direct forward passes (≤ 0 for a monotone descent)."""
    return max(
        float(np.max(np.diff(t.direct_losses) / t.direct_losses[:-1], initial=-np.inf))
        for t in traces
    )


def claims(result: Result) -> list[Claim]:
    """Exact checks of the algorithm, and our tests of the paper's two observations on the certified deep runs."""
    runs = result.deep + result.shallow + [result.lad]
    terminated = [t for t in runs if t.certified]
    table = result.table
    deep_rows = table[
        table["network"].str.startswith("deep") & (table["status"] == "local minimum")
    ]
    n = len(deep_rows)
    decays = int(deep_rows["decay holds"].sum())
    shrinks = int((deep_rows["step ratio"] <= STEP_SHRINK).sum())
    denser = int((deep_rows["density end"] > deep_rows["density start"]).sum())
    lad_final = result.lad.direct_losses[-1]
    return [
        at_most(
            "monotone",
            "The loss, by a direct forward pass, never increases from vertex to vertex: "
            "largest relative rise max_k (L_{k+1} − L_k)/L_k over all runs",
            worst_increase(runs),
            MONOTONE_TOLERANCE,
            source="exact",
            title="Monotone descent",
            reference="each pivot follows an edge of negative slope to the first boundary it meets (Hinz & van de Geer 2020)",
            reason="float64 rounding of a sum of N absolute residuals",
        ),
        at_least(
            "vertex_zeros",
            f"At every vertex at least dim θ boundary functions vanish (|a| ≤ {ZERO_TOLERANCE:g}·‖∇a‖(1+‖θ‖)): "
            "smallest count / dim θ over all vertices",
            min(t.zero_counts.min() / t.landscape.dim for t in runs),
            VERTEX_ZEROS,
            source="exact",
            title="Vertices are vertices",
            reference="phase 1 makes one boundary critical per ratio test until dim θ are, and pivots swap one for another",
            reason="a vertex is where dim θ boundaries meet; the count is an integer",
        ),
        at_most(
            "critical_offset",
            "The dim θ critical boundaries vanish at every vertex: largest |a|/(‖∇a‖(1+‖θ‖))",
            max(t.critical_offsets.max() for t in runs),
            OFFSET_TOLERANCE,
            source="exact",
            title="Critical boundaries vanish",
            reference="the vertex solves A(θ − θ_k) = 0 for the critical boundaries' normals A",
            reason="float64 rounding, relative to the boundary's gradient and ‖θ‖",
        ),
        at_most(
            "normal_condition",
            "The critical normals have full rank at every vertex: largest log10 cond A",
            np.log10(max(t.conditions.max() for t in runs)),
            MAX_LOG_CONDITION,
            source="ours",
            title="Well-conditioned vertices",
            reference="a numerical sanity check: the edges d = ±A⁻¹e_j are only meaningful where A is far from singular",
            reason="ours: below 10¹² a solve with A keeps about four of float64's sixteen digits",
        ),
        at_most(
            "lad_gap",
            f"With no hidden layer (N = {result.cfg.lad_samples}, d = {result.cfg.lad_dim}) the final loss, by a forward pass, "
            "equals the LAD optimum of linprog (HiGHS): relative gap |L_DRS − L_LP|/L_LP",
            abs(lad_final - result.lad_optimum) / result.lad_optimum,
            LAD_TOLERANCE,
            source="exact",
            title="LAD special case",
            reference="without hidden layers the algorithm is the simplex method on the LAD LP (Barrodale–Roberts), "
            "whose local minima are global",
            reason="float64 rounding of both solvers' optimal vertex",
        ),
        at_least(
            "edge_slopes",
            f"Where a run stops ({len(terminated)}/{len(runs)} runs) no edge descends: smallest normalised edge slope, "
            "recomputed from scratch (−∞ if no run stopped at a minimum)",
            min((t.final_min_slope for t in terminated), default=-np.inf),
            SLOPE_TOLERANCE,
            source="exact",
            title="Certified local minima",
            reference="the stopping rule: a vertex none of whose 2·dim θ edges descends is a local minimum of a piecewise affine L",
            reason="float64 rounding of normalised slopes",
        ),
        at_most(
            "tracked_loss",
            "The affine loss tracked along the edges equals a direct forward pass: largest relative difference over all vertices",
            max(float(np.max(np.abs(t.direct_losses - t.losses) / t.direct_losses)) for t in runs),
            TRACKING_TOLERANCE,
            source="exact",
            title="Tracked loss is exact",
            reference="L is affine along each edge, L_{k+1} = L_k + τ⟨g, d⟩: a check of the state bookkeeping",
            reason="float64 rounding accumulated over the pivots",
        ),
        at_least(
            "certified_deep_runs",
            f"Deep runs ending at a certified local minimum ({n}/{len(result.deep)}), "
            "on which the decay and density claims are measured",
            n,
            MIN_CERTIFIED,
            source="ours",
            title="Certified deep runs",
            reference="only at a certified minimum is the final loss the minimum's loss; the two shares below are over these runs",
            reason="ours: at least one run, or the shares are over nothing",
        ),
        at_least(
            "exponential_decay",
            f"Share of the {n} certified deep runs in which the limit fit L* + C qᵏ on the distinct vertices [40%, 80%] "
            "(0 ≤ L̂* ≤ L_0.8K) has a finite limit that explains the unseen tail (80%, 100%] (R² of log(L_k − L̂*) "
            f"against k at least {TAIL_R2:g}) and closes at least {GAP_CLOSED:g} of the remaining gap to the final loss "
            "(0 if none certified)",
            decays / n if n else 0.0,
            SHARE,
            source="ours",
            title="Exponential decay",
            reference="operationalises the abstract's \"the loss seems to decay exponentially slow at iterated adjacent "
            'vertices such that the loss level at the local minimum can be estimated": our 3-parameter limit fit '
            "on a window, judged on the tail it never saw",
            reason="ours, fixed before the first run; the paper states no number",
            known_failure=(
                f"holds in {decays}/{n} certified runs; limit fit on the window: "
                + ", ".join(
                    f"{fit} {count}" for fit, count in deep_rows["limit fit"].value_counts().items()
                )
                + f"; median share of the gap closed {deep_rows['gap closed'].median():.2f}, "
                f"median tail R² {deep_rows['tail R²'].median():.2f} over the {int(deep_rows['tail R²'].notna().sum())} runs where it is defined"
            ),
        ),
        at_least(
            "vertex_density",
            f"Share of the {n} certified deep runs whose median step between distinct vertices over the last 20% "
            f"is at most {STEP_SHRINK:g} of that over the first 20% (0 if none certified)",
            shrinks / n if n else 0.0,
            SHARE,
            source="ours",
            title="Vertex density",
            reference='operationalises the abstract\'s "strong increase of the vertex density around local minima" '
            "as a tenfold shrinking of the median step: far stronger than the statement, and raw steps also "
            "lengthen where ‖θ‖ grows, since first-layer boundaries are hyperplanes through the origin of each unit's (w_j, b_j)",
            reason="ours, fixed before the first run; the paper states no number",
            known_failure=(
                f"holds in {shrinks}/{n} certified runs: median step ratio {deep_rows['step ratio'].median():.2f}; "
                f"the boundary density on lines through the vertex is higher at the last vertex than at the first "
                f"in {denser}/{n} of these runs"
            ),
        ),
    ]
