"""The ANLS chapter's claims, each bound a named constant with its reason."""

from __future__ import annotations

import numpy as np

from trainingdynamics.claims import Claim, at_least, at_most
from trainingdynamics.studies.anls.analysis import (
    claimed_fits,
    loss_mismatch,
    minimal_fits,
    pattern_mismatches,
    worst_increase,
)
from trainingdynamics.studies.anls.chapter import ANLSStudyResult
from trainingdynamics.studies.anls.experiment import EXACT_LEVEL, GD_STUCK_LEVEL

# `monotone`: float64 rounding of a relative rise of forward-pass losses at F ≥ FORWARD_FLOOR
# (about 1e-16·√(8/F) ≤ 3e-10), with room; below the floor rounding dominates
INCREASE_TOLERANCE = 1e-9
FORWARD_FLOOR = 1e-12

LOSS_TOLERANCE = 1e-12  # `loss_realised`: float64 rounding of losses of order one, two ways

# `plateau_exit`: ours, fixed before its first run (the paper states no number): ANLS from GD's
# iterate at a plateau reaches GD's post-drop loss at least ten times sooner in wall-clock
EXIT_SPEEDUP = 10.0

# `exact_fits`: ours, of exact_seeds = 20, fixed before the first run (the paper states no number)
MIN_EXACT_SEEDS = 18


def _more_than_half(seeds: int) -> int:
    """`gd_stuck`'s bound: GD is stuck from *most* initialisations, more than half (ours, fixed
    before the first run)."""
    return seeds // 2 + 1


def _fit_claims(result: ANLSStudyResult) -> list[Claim]:
    """Exact fits at the claimed widths and at the minimal width, and GD from the same starts."""
    cfg = result.cfg
    claimed, minimal = claimed_fits(result), minimal_fits(result)
    widths = ", ".join(f"{f.target} at width {f.width} (minimal + {f.spare})" for f in claimed)
    seeds = f"fewest seeds of {cfg.exact_seeds} with ANLS loss below {EXACT_LEVEL:g} within "
    seeds += f"{cfg.exact_iterations} iterations"
    fewest = min(minimal, key=lambda f: f.fitted())
    return [
        at_least(
            "exact_fits",
            f"Exactly representable targets, {widths}: {seeds}",
            min(f.fitted() for f in claimed),
            MIN_EXACT_SEEDS,
            source="ours",
            title="Exact fits by ANLS",
            reference="our test, with our reconstruction of ANLS, of the abstract's 'quick "
            "exit from a plateau': where a network of the given width represents the target "
            "exactly, ANLS should reach it",
            reason="ours, fixed before the first run (the paper states no number)",
        ),
        at_least(
            "minimal_width_fits",
            "…and at the minimal width k + 1 (k interior kinks) of every target, "
            + ", ".join(f"{f.target} at {f.width}" for f in minimal)
            + f": {seeds}",
            fewest.fitted(),
            MIN_EXACT_SEEDS,
            source="ours",
            title="Exact fits at the minimal width",
            reference="the CLAIM line's 'fits exactly representable targets', taken at the "
            "smallest width that represents them: a finding about our reconstruction",
            reason="the bound of `exact_fits`",
            known_failure=f"at its minimal width {fewest.width} the {fewest.target} target is "
            f"fitted from {fewest.fitted()} of {cfg.exact_seeds} seeds: ANLS (ours) stops in "
            "a local minimum of its single-neuron moves, every kink having to sit in one "
            "particular gap; one or two spare neurons give the moves room (table)",
            failure="not supported",
        ),
        at_least(
            "gd_stuck",
            f"…while GD from the same initialisations at the claimed widths is still above "
            f"{GD_STUCK_LEVEL:g} after {cfg.gd_check_steps} steps: fewest seeds of "
            f"{cfg.exact_seeds}",
            min(int(np.sum(f.gd_loss > GD_STUCK_LEVEL)) for f in claimed),
            _more_than_half(cfg.exact_seeds),
            source="ours",
            title="GD still far off",
            reference="the contrast behind `exact_fits`: the plateaus that ANLS is designed "
            "to leave hold GD back on the same targets from the same initialisations",
            reason="ours, fixed before the first run: GD stuck from most seeds, i.e. more "
            "than half",
        ),
    ]


def _exit_claim(result: ANLSStudyResult) -> Claim:
    """ANLS against GD from GD's iterate at the start of a plateau that needs a pattern move."""
    exits = result.exits
    tested = exits[exits["needs a move"]] if len(exits) else exits
    speedup = float(np.median(tested["wall-clock speed-up"])) if len(tested) else float("nan")
    return at_least(
        "plateau_exit",
        f"From GD's iterate at the start of a plateau that ends in a drop, ANLS reaches the loss "
        f"GD has at the end of that drop sooner: median over the {len(tested)} such plateaus "
        "whose start pattern cannot reach that loss (its L_A lies above) of GD's wall-clock / "
        "ANLS's, both timed on that one network (0 where ANLS never reaches it)",
        speedup,
        EXIT_SPEEDUP,
        source="ours",
        title="Faster plateau exit",
        reference="our test, with our reconstruction of ANLS, of the abstract's 'designed to "
        "enable a quick exit from a plateau': both start on GD's plateau, and the target needs "
        "a pattern change",
        reason="ours, fixed before its first run (the paper states no number)",
    )


def claims(result: ANLSStudyResult) -> list[Claim]:
    """Exact checks of our implementation on every iterate, exact fits, and the plateau exit."""
    rise, steps = worst_increase(result, FORWARD_FLOOR)
    return [
        at_most(
            "monotone",
            "The loss of ANLS's iterates, by a dense forward pass of each realised network, "
            f"never rises: max (F_(t+1) − F_t)/F_t over the {steps} steps from F_t ≥ "
            f"{FORWARD_FLOOR:g}",
            rise,
            INCREASE_TOLERANCE,
            source="exact",
            title="Monotone by forward passes",
            reference="ANLS accepts a move only if its loss strictly decreases; checked on the "
            "networks themselves, not on the losses the algorithm tracks",
            reason="float64 rounding of a forward-pass loss at F ≥ 1e-12, with room",
        ),
        at_most(
            "pattern_realised",
            "Every iterate's network (c, w, b) has exactly the activation pattern it was "
            "solved in: number of iterates that do not",
            pattern_mismatches(result),
            0,
            source="exact",
            title="Patterns are realised",
            reference="realisation: w_j = ±1, b_j = −w_j t_j with each kink t_j projected "
            "into its pattern's data gap (positive homogeneity)",
            reason="an integer count: any mismatch is a bug",
        ),
        at_most(
            "loss_realised",
            "The forward pass of every iterate reproduces the tracked loss: max absolute "
            "difference",
            loss_mismatch(result),
            LOSS_TOLERANCE,
            source="exact",
            title="Tracked loss is attained",
            reference="two computations of one loss: the least-squares value tracked by ANLS "
            "and the dense forward pass of (c, w, b)",
            reason="float64 rounding of losses of order one",
        ),
        *_fit_claims(result),
        _exit_claim(result),
    ]
