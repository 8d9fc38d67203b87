"""Straight-through estimators: coarse gradients in a binarized two-layer net (Yin et al. 2019).

The toy model y = vᵀσ(Zw), σ(x) = 1{x > 0}, Z Gaussian, is trained against a teacher (v*, w*) with
*coarse* gradients: the backward pass replaces σ' = 0 by the derivative of an STE (identity, ReLU or
clipped ReLU). The closed forms of :mod:`trainingdynamics.algorithms.ste` are checked against Monte
Carlo; their correlation with the true population gradient, coarse gradient descent from random
starts and from the spurious local minima (θ = π) follow, with Theorem 1's ratio of squared
coarse-gradient norm to descent along paths into those minima and Proposition 1's saddle points. A
1-/2-/4-bit activation quantized MLP on scikit-learn's digits, trained from full-precision
pre-trained weights, stands in for the paper's MNIST/CIFAR experiments (Table 1) and its "repelled
from improved minima" experiment (§4.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainingdynamics.profiles import ParameterError, require_in_range, require_positive, resolve

TITLE = "Straight-through estimators: why a fake gradient can train a quantized net"
CLAIM = (
    "ReLU and clipped-ReLU STEs give descent directions; the ReLU STE stays at the spurious "
    "minima, the identity STE is pulled away."
)
PAPER = "yin2019understanding"

# a statistical tolerance: an exact closed form's error is a |N(0, 1)| draw in standard errors
MC_Z_BOUND = 4.0
# far above float64 rounding (~1e-16) of the exactly cancelling terms of order one
GRADIENT_FLOOR = 1e-8
# the sign of an identity (Lemma 5): the cosine is positive, not merely large
CORRELATION_FLOOR = 0.0
# ours: ‖E g_id‖ bounded away from zero (at step 0.1 it moves ‖w‖ by 1 in 10⁴ steps)
IDENTITY_GRADIENT_BOUND = 1e-3
LEAVE_BOUND = 0.5  # ours: the identity STE gets 0.5 rad farther from θ = π than its start
# ours: teacher conditioned on ¼ ≤ (1ᵀv*)²/‖v*‖² ≤ ½·(m + 1)/2 (see make_teacher)
TEACHER_BALANCE = (0.25, 0.5)
# The smallest budgets at which the Monte Carlo and correlation claims can tell a wrong closed form
# from a right one:
MIN_MC_POINTS, MIN_MC_SAMPLES, MIN_CORRELATION_POINTS = 20, 100_000, 100
# ours: the ReLU STE never gets more than 0.01 rad farther from θ = π than its start
STAY_BOUND = 0.01
ROUND_OFF = 1e-12  # ours: largest tolerated per-step rise of f (float64 round-off on f = O(1))
LOSS_MARGIN_FLOOR = 0.0  # the sign of the paper's ordering (Table 1 states no margin)
# pre-registered: the identity STE ends above the clipped ReLU in at least 3 of 4 (seed, bits) cases
REPELLED_SHARE = 0.75
# halfway between a bounded ratio (log-log slope 0) and the predicted ∝ 1/distance (slope −1)
IDENTITY_RATIO_SLOPE = -0.5
# a ratio that does not grow as the path nears the minimum stays below its value two decades out
RELU_RATIO_SLOPE = 0.0
# distance t along each path into the spurious minimum (θ = π − t)
RATIO_DISTANCES = np.geomspace(1.0, 1e-4, 41)
RATIO_FIT_FROM = 1e-2  # the slope is fitted over the path's last two decades, t ≤ 1e-2
# the paper's bit widths (Table 1, §4.2); 1 bit is the theory's σ, not one of its experiments
PAPER_BITS = (2, 4)


@dataclass(frozen=True)
class Config:
    """Toy sizes, Monte Carlo budget, coarse-GD settings and the digits experiment."""

    hidden: int = 5  # m, rows of Z
    inputs: int = 10  # n, columns of Z
    mc_points: int = 20
    mc_samples: int = 100_000
    correlation_points: int = 200
    starts: int = 8
    step: float = 0.1
    steps: int = 2000
    batch: int = 64
    norm_floor: float = 0.1
    minimum_offset: float = 0.1
    minimum_steps: int = 10_000
    bits: tuple[int, ...] = (1, 2, 4)
    digit_seeds: int = 2
    width: int = 128
    pretrain_epochs: int = 10
    epochs: int = 15
    continue_epochs: int = 10
    learning_rate: float = 0.05
    small_learning_rate: float = 1e-3
    ratio_paths: int = 8
    batch_size: int = 64
    n_train: int = 1437

    def __post_init__(self) -> None:
        require_positive(
            self,
            "hidden",
            "inputs",
            "mc_points",
            "mc_samples",
            "correlation_points",
            "starts",
            "step",
            "steps",
            "batch",
            "norm_floor",
            "minimum_steps",
            "bits",
            "digit_seeds",
            "width",
            "pretrain_epochs",
            "epochs",
            "continue_epochs",
            "learning_rate",
            "small_learning_rate",
            "batch_size",
            "ratio_paths",
        )
        if self.hidden < 2:
            raise ParameterError(
                "parameter hidden must be at least 2 (the spurious minima need m ≥ 2), got "
                f"{self.hidden}"
            )
        if self.inputs < 2:
            raise ParameterError(f"parameter inputs must be at least 2, got {self.inputs}")
        if self.mc_points < MIN_MC_POINTS:
            raise ParameterError(
                f"parameter mc_points must be at least {MIN_MC_POINTS} (fewer random points test "
                f"the closed forms at too few places), got {self.mc_points}"
            )
        if self.mc_samples < MIN_MC_SAMPLES:
            raise ParameterError(
                f"parameter mc_samples must be at least {MIN_MC_SAMPLES} (with fewer samples the "
                "standard errors are too wide "
                f"for a {MC_Z_BOUND:g}-standard-error agreement to catch a wrong closed form), "
                f"got {self.mc_samples}"
            )
        if self.correlation_points < MIN_CORRELATION_POINTS:
            raise ParameterError(
                f"parameter correlation_points must be at least {MIN_CORRELATION_POINTS} (the "
                "smallest cosine over fewer random points "
                f"probes too little of the (v, w) space), got {self.correlation_points}"
            )
        require_in_range(self, "minimum_offset", 1e-6, np.pi / 2)
        require_in_range(self, "n_train", 100, 1697)
        require_in_range(self, "batch_size", 1, self.n_train)
        if self.small_learning_rate >= self.learning_rate:
            raise ParameterError(
                "parameter small_learning_rate must be below learning_rate "
                f"({self.learning_rate}), got {self.small_learning_rate}"
            )
        if max(self.bits) > 8:
            raise ParameterError(f"parameter bits must be at most 8, got {self.bits}")


PROFILES = {
    "quick": Config(),
    "full": Config(
        hidden=10,
        inputs=20,
        mc_points=40,
        correlation_points=1000,
        starts=20,
        steps=4000,
        minimum_steps=20_000,
        digit_seeds=5,
        pretrain_epochs=15,
        epochs=25,
        continue_epochs=15,
        ratio_paths=32,
    ),
}


def config(profile: str = "quick", **overrides: object) -> Config:
    """The profile's config with the given (non-``None``) overrides."""
    return resolve(PROFILES, profile, **overrides)
