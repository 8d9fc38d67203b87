"""The quickstart's claims: the exact limit, interpolation, the exact bound, and its tightness."""

from __future__ import annotations

import numpy as np

from trainingdynamics.claims import Claim, at_most
from trainingdynamics.studies.quickstart.analysis import bound_violation, late_rate, predicted_rate
from trainingdynamics.studies.quickstart.experiment import GDRun

# relative error of an exact limit reached to float64 rounding, with room for the finite budget
MIN_NORM_TOLERANCE = 1e-8
INTERPOLATION_TOLERANCE = 1e-16  # a loss of order 1 driven to float64 rounding
BOUND_TOLERANCE = 1e-9  # an inequality that holds exactly, checked to rounding
# ours: a late exponential fit still carries the faster modes' tails; fixed at 1% before any run
TIGHTNESS_TOLERANCE = 1e-2


def claims(result: GDRun) -> list[Claim]:
    """Exact endpoint, the exact contraction bound, and its tightness."""
    errors = result.history.values("error")
    w_star = result.problem.w_star
    rho = predicted_rate(result.eta, result.problem.eigenvalues)
    residual = result.problem.X @ result.w - result.problem.y
    return [
        at_most(
            "min_norm_error",
            "GD from zero ends at the minimum-norm solution X⁺y: relative error ‖w_T − X⁺y‖/‖X⁺y‖",
            np.linalg.norm(result.w - w_star) / np.linalg.norm(w_star),
            MIN_NORM_TOLERANCE,
            source="exact",
            title="Minimum-norm limit",
            reference="GD from w = 0 stays in the row space of X, whose only minimiser is X⁺y",
            reason="float64 rounding, with room for the finite number of steps",
        ),
        at_most(
            "interpolation",
            "GD interpolates the data: final training loss (1/2n)‖Xw − y‖²",
            0.5 * np.mean(residual**2),
            INTERPOLATION_TOLERANCE,
            source="exact",
            title="Interpolation",
            reference="with d > n, X has full row rank, so X X⁺y = y",
            reason="float64 rounding of a loss of order one",
        ),
        at_most(
            "rate_bound",
            "‖w_t − w*‖ ≤ ρ^t‖w*‖ at every step, ρ = max|1 − ηλ|: "
            "largest relative excess over the bound",
            bound_violation(errors, rho),
            BOUND_TOLERANCE,
            source="exact",
            title="Contraction bound",
            reference="w_t − w* = (I − ηXᵀX/n)^t (0 − w*) on the row space",
            reason="rounding; steps below the round-off floor are not checked",
        ),
        at_most(
            "rate_tightness",
            "The bound is tight: relative gap between the contraction fitted over the late steps "
            "and ρ",
            abs(late_rate(errors) - rho) / rho,
            TIGHTNESS_TOLERANCE,
            source="ours",
            title="Bound is tight",
            reference="a sanity check: generic data excite the slowest mode, "
            "so the late rate should be ρ",
            reason="a late fit still carries the faster modes' tails; "
            "1% fixed before the first run",
        ),
    ]
