"""The chapter's claims: exact checks of the algorithm and our tests of Hinz's two observations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trainingdynamics.algorithms.simplex import ZERO_TOLERANCE
from trainingdynamics.claims import Claim, at_least, at_most
from trainingdynamics.studies.simplex.analysis import (
    ESTIMATORS,
    JUDGED_AT,
    MIN_WINDOW,
    _worst_increase,
)
from trainingdynamics.studies.simplex.experiment import SimplexRuns

# Bounds of the exact checks (float64 rounding, relative to each quantity's scale) and of the
# conditioning check.
MONOTONE_TOLERANCE = 1e-9  # largest relative rise of the forward-pass loss between vertices
VERTEX_ZEROS = 1.0  # vanishing boundaries per dimension of θ at every vertex: what a vertex is
OFFSET_TOLERANCE = 1e-8  # largest relative |a| of a critical boundary at its vertex
MAX_LOG_CONDITION = 12.0  # log10 cond A (the algorithm's MAX_CONDITION): ours, a sanity bound
LAD_TOLERANCE = 1e-8  # relative gap to the HiGHS optimum of the LAD LP
SLOPE_TOLERANCE = -1e-10  # smallest normalised edge slope at termination
TRACKING_TOLERANCE = 1e-10  # relative gap between the tracked affine loss and a forward pass
SHARE = 0.7  # each criterion of the paper's statements must hold in this share of certified runs
MIN_CERTIFIED = 1  # the decay and density claims are measured on at least this many certified runs
CLOSED = 0.5  # an estimator "estimates" L* at 0.8K if it closes at least half the naive gap
DENSITY_RATIO = 1.5  # a run's line density around θ_K over that around θ_0 (set on a pilot)
HINZ = "Hinz 2021, arXiv:2105.02831, abstract"


def _exact_claims(result: SimplexRuns) -> list[Claim]:
    """The exact checks of the algorithm (and the conditioning sanity check) over all runs."""
    runs = [r.trace for r in result.runs] + [result.lad]
    terminated = [t for t in runs if t.certified]
    lad_final = result.lad.direct_losses[-1]
    return [
        at_most(
            "monotone",
            "The loss, by a direct forward pass, never increases from vertex to vertex: "
            "largest relative rise max_k (L_{k+1} − L_k)/L_k over all runs",
            _worst_increase(runs),
            MONOTONE_TOLERANCE,
            source="exact",
            title="Monotone descent",
            reference="each pivot follows an edge of negative slope to the first boundary it "
            "meets (Hinz & van de Geer 2020)",
            reason="float64 rounding of a sum of N absolute residuals",
        ),
        at_least(
            "vertex_zeros",
            f"At every vertex at least dim θ boundary functions vanish (|a| ≤ "
            f"{ZERO_TOLERANCE:g}·‖∇a‖(1+‖θ‖)): smallest count / dim θ over all vertices",
            min(t.zero_counts.min() / t.landscape.dim for t in runs),
            VERTEX_ZEROS,
            source="exact",
            title="Vertices are vertices",
            reference="phase 1 makes one boundary critical per ratio test until dim θ are, and "
            "pivots swap one for another",
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
            reference="a numerical sanity check: the edges d = ±A⁻¹e_j are only meaningful where "
            "A is far from singular",
            reason="ours: below 10¹² a solve with A keeps about four of float64's sixteen digits",
        ),
        at_most(
            "lad_gap",
            f"With no hidden layer (N = {result.cfg.lad_samples}, d = {result.cfg.lad_dim}) the "
            "final loss, by a forward pass, equals the LAD optimum of linprog (HiGHS): relative "
            "gap |L_DRS − L_LP|/L_LP",
            abs(lad_final - result.lad_optimum) / result.lad_optimum,
            LAD_TOLERANCE,
            source="exact",
            title="LAD special case",
            reference="without hidden layers the algorithm is the simplex method on the LAD LP "
            "(Barrodale–Roberts), whose local minima are global",
            reason="float64 rounding of both solvers' optimal vertex",
        ),
        at_least(
            "edge_slopes",
            f"Where a run stops ({len(terminated)}/{len(runs)} runs) no edge descends: smallest "
            "normalised edge slope, recomputed from scratch (−∞ if no run stopped at a minimum)",
            min((t.final_min_slope for t in terminated), default=-np.inf),
            SLOPE_TOLERANCE,
            source="exact",
            title="Certified local minima",
            reference="the stopping rule: a vertex none of whose 2·dim θ edges descends is a "
            "local minimum of a piecewise affine L",
            reason="float64 rounding of normalised slopes",
        ),
        at_most(
            "tracked_loss",
            "The affine loss tracked along the edges equals a direct forward pass: largest "
            "relative difference over all vertices",
            max(float(np.max(np.abs(t.direct_losses - t.losses) / t.direct_losses)) for t in runs),
            TRACKING_TOLERANCE,
            source="exact",
            title="Tracked loss is exact",
            reference="L is affine along each edge, L_{k+1} = L_k + τ⟨g, d⟩: a check of the "
            "state bookkeeping",
            reason="float64 rounding accumulated over the pivots",
        ),
    ]


def _testable(result: SimplexRuns) -> pd.DataFrame:
    """The main setting's runs that end at a certified local minimum with a path long enough to
    test (at least MIN_WINDOW distinct vertices in the fit window and in the tail)."""
    table = result.table
    main = table["setting"] == result.settings[0].name
    certified = table["status"] == "local minimum"
    return table[main & certified & table["tail error geometric"].notna()]


def _share(holds: pd.Series) -> float:
    """The share of True in ``holds`` (0 for no rows)."""
    return float(holds.mean()) if len(holds) else 0.0


def _paper_claims(result: SimplexRuns) -> list[Claim]:
    """Our tests of Hinz's two observations, on the main setting's certified runs."""
    rows = _testable(result)
    n, known = len(rows), set(result.cfg.known_failures)
    geometric = rows["tail error geometric"] < rows["tail error linear"]
    closes = {e: rows[f"error {e} at 0.8K"] <= CLOSED for e in ESTIMATORS}
    best = max(ESTIMATORS, key=lambda e: _share(closes[e]))
    denser = rows["density ratio"] >= DENSITY_RATIO

    def failure(name: str, text: str) -> dict:
        return {"known_failure": text, "failure": "not reproduced"} if name in known else {}

    return [
        at_least(
            "decay_shape",
            f"Share of the {n} testable runs of the main setting in which a geometric model "
            "L* + C qᵏ fitted on the distinct vertices [40%, 80%] predicts the unseen tail "
            "(80%, 100%] better (RMS) than a straight line fitted on the same window",
            _share(geometric),
            SHARE,
            source="paper",
            title="Decay is geometric",
            reference=f'{HINZ}: near a local minimum "the loss seems to decay exponentially '
            'slow at iterated adjacent vertices"',
            reason="ours, fixed before the first run: most runs (the chapter's share), and the "
            "better of the two models on points neither saw",
            **failure(
                "decay_shape",
                f"geometric better in {int(geometric.sum())}/{n} runs; median tail error "
                f"geometric {rows['tail error geometric'].median():.2f}, linear "
                f"{rows['tail error linear'].median():.2f} (units of L_0.8K − L_K)",
            ),
        ),
        at_least(
            "decay_predictable",
            f"Share of the {n} testable runs of the main setting in which an estimator of "
            f"L* that has seen L_0..L_k, k = {JUDGED_AT:g}K, lands within half the naive "
            "error L_k − L_K of the final loss: the better of the constrained 3-parameter fit "
            "and Aitken's Δ² on block means over [k/2, k]",
            max(_share(c) for c in closes.values()),
            SHARE,
            source="paper",
            title="Minimum's loss predictable",
            reference=f'{HINZ}: "the loss level at the local minimum can be estimated from the '
            'loss levels of subsequently iterated vertices"; "conclusions on the loss level '
            '... can be drawn before it is found"',
            reason="ours, fixed before the first run: closing half the remaining gap is the "
            "least an estimate must do to beat the last loss seen",
            **failure(
                "decay_predictable",
                f"best estimator {best}: within half the naive error in "
                f"{int(closes[best].sum())}/{n} runs; median relative error "
                + ", ".join(f"{e} {rows[f'error {e} at 0.8K'].median():.2f}" for e in ESTIMATORS),
            ),
        ),
        at_least(
            "vertex_density",
            f"Share of the {n} testable runs of the main setting in which the median boundary "
            f"crossings per unit length on {result.cfg.lines} random lines at offset "
            f"{result.cfg.offset:g} from the final vertex are at least {DENSITY_RATIO:g}× those "
            "at the same offset from the start vertex",
            _share(denser),
            SHARE,
            source="paper",
            title="Vertex density rises",
            reference=f'{HINZ}: "we observe a strong increase of the vertex density around '
            'local minima"',
            reason="ours, fixed on a pilot (seeds 100–104, not the chapter's) before the run: "
            "a rise of half is several times the scatter of the median between offsets there "
            "(±10 %), and in dim θ = 25 dimensions it means about 1.5²⁵ ≈ 2.5·10⁴ times as "
            "many vertices per volume",
            **failure(
                "vertex_density",
                f"ratio ≥ {DENSITY_RATIO:g} in {int(denser.sum())}/{n} runs; median ratio "
                f"{rows['density ratio'].median():.2f}",
            ),
        ),
    ]


def claims(result: SimplexRuns) -> list[Claim]:
    """Exact checks of the algorithm, and our tests of the paper's two observations."""
    n = len(_testable(result))
    return [
        *_exact_claims(result),
        at_least(
            "testable_runs",
            "Runs of the main setting ending at a certified local minimum, with a fit window and "
            f"a tail of at least {MIN_WINDOW} distinct vertices each ({n}/{len(result.main)}), "
            "on which the decay and density claims are measured",
            n,
            MIN_CERTIFIED,
            source="ours",
            title="Testable runs",
            reference="only at a certified minimum is the final loss the minimum's loss, and a "
            "fit window and a tail of at least ten vertices each are needed; the shares below "
            "are over these runs",
            reason="ours: at least one run, or the shares are over nothing",
        ),
        *_paper_claims(result),
    ]
