"""The chapter's title, its knobs (``Config``), the profiles and the claims' bounds."""

from __future__ import annotations

from dataclasses import dataclass

from trainingdynamics.profiles import ParameterError, require_in_range, require_positive, resolve

TITLE = "The break-even point: a large early learning rate tames curvature and gradient noise"
CLAIM = (
    "A larger learning rate lowers the peaks of λ_H^1, λ_K^1, Tr K and Tr H and improves the "
    "conditioning of K, with BatchNorm too, and a smaller batch lowers the peak of λ_K^1; but the "
    "sharpness levels off before the break-even point of Eq. 1."
)
PAPER = "jastrzebski2020breakeven"

EXACT_TOLERANCE = (
    1e-6  # float64 rounding plus the check's Lanczos tolerance (eigenvalue errors ≤ 1e-8·‖H‖)
)
MATCHED_FRACTION = (
    1.0  # ours: every run reaches the target accuracy, so all are compared at matched progress
)
# ours: the paper states orderings, not numbers; |Spearman ρ| ≥ 0.8 asks for the ordering up to a
# small displacement
RANK_BOUND = 0.8
EDGE_BAND = (
    1.5,
    2.5,
)  # ours: λ_H^1 within [1.5/η, 2.5/η], i.e. 2/η ± 25% (Cohen et al. give no width)
# ours: λ_K^1 ≈ α λ_H^1 (Assumption 2) asks for a close linear relation, r ≥ 0.9
CORRELATION_BOUND = 0.9
# ours: the paper's conjectures are about runs past their break-even point: all of them
REACHED_FRACTION = 1.0
# ours: BatchNorm at a small η no more than 25% better conditioned than plain at 10× η (paper: 5%)
BN_RATIO_BOUND = 1.25
# ours: at least two GD learning rates in the band (all of the quick profile's, half of the
# full one's)
EDGE_COUNT = 2


@dataclass(frozen=True)
class Config:
    """Data, network, the SGD grids, the measurement budget and the edge-of-stability runs.

    ``bn_gamma`` is the BatchNorm scales' initial value; ``after_break_even`` and
    ``max_measurements`` bound a run once it has reached the target accuracy; ``trace_probes``
    Hutchinson vectors estimate Tr H and ``minibatch_count`` mini-batch gradients the paper's K.
    """

    n_train: int = 1000
    channels: tuple[int, ...] = (8, 16)
    init_scale: float = 0.5
    learning_rates: tuple[float, ...] = (0.01, 0.0316, 0.1, 0.316)
    batch_size: int = 32
    batch_sizes: tuple[int, ...] = (8, 32, 128)
    batch_lr: float = 0.0316
    bn_learning_rates: tuple[float, ...] = (0.01, 0.0316, 0.1, 0.316)
    bn_gamma: float = 0.1
    target_accuracy: float = 0.95
    max_steps: int = 6000
    measure_every: float = 2.0
    bn_measure_every: float = 1.0
    after_break_even: int = 10
    max_measurements: int = 30
    trace_probes: int = 4
    minibatch_count: int = 16
    hessian_examples: int = 256
    covariance_examples: int = 256
    condition_k: int = 10
    tol: float = 1e-2
    seeds: int = 1
    eos_learning_rates: tuple[float, ...] = (0.25, 0.35, 0.5, 0.7)
    eos_examples: int = 500
    eos_width: int = 64
    eos_steps: int = 1500
    eos_every: int = 10
    density_probes: int = 5  # SLQ of H at the start and end of the smallest and largest η's runs
    density_steps: int = 20

    def __post_init__(self) -> None:
        require_positive(
            self, "n_train", "channels", "init_scale", "learning_rates", "batch_size",
            "batch_sizes", "batch_lr", "bn_learning_rates", "max_steps", "measure_every",
            "bn_measure_every", "after_break_even", "max_measurements", "trace_probes",
            "minibatch_count", "bn_gamma", "hessian_examples", "covariance_examples", "condition_k",
            "tol", "seeds", "eos_learning_rates", "eos_examples", "eos_width", "eos_steps",
            "eos_every", "density_probes", "density_steps",
        )  # fmt: skip
        require_in_range(self, "target_accuracy", 0.1, 1.0)
        require_in_range(self, "tol", 1e-12, 0.1)
        if len(self.channels) > 3:
            raise ParameterError(
                "parameter channels allows at most 3 convolutions on 8×8 images (one 2×2 "
                f"pooling each), got {self.channels!r}"
            )
        if max(self.batch_size, *self.batch_sizes) > self.n_train:
            raise ParameterError(f"batch sizes must not exceed n_train = {self.n_train}")
        if not self.eos_every <= self.eos_steps // 2:
            raise ParameterError(
                f"parameter eos_every ({self.eos_every}) must be at most eos_steps/2 = "
                f"{self.eos_steps // 2}, so the last half of training is measured"
            )
        for name in ("learning_rates", "batch_sizes", "bn_learning_rates", "eos_learning_rates"):
            if len(getattr(self, name)) < 2:
                raise ParameterError(
                    f"parameter {name} needs at least two values, got {getattr(self, name)!r}"
                )
        if max(self.hessian_examples, self.covariance_examples, self.eos_examples) > self.n_train:
            raise ParameterError(
                f"probe and edge-of-stability subsets must not exceed n_train = {self.n_train}"
            )
        if not 2 <= self.condition_k < self.covariance_examples:
            raise ParameterError(
                f"condition_k ({self.condition_k}) must lie in [2, covariance_examples − 1 = "
                f"{self.covariance_examples - 1}] (K has rank ≤ n − 1)"
            )


PROFILES = {
    "quick": Config(
        hessian_examples=128,
        covariance_examples=128,
        bn_learning_rates=(0.01, 0.1, 0.316),
        eos_learning_rates=(0.35, 0.7),
        eos_steps=600,
        eos_every=25,
    ),
    "full": Config(
        hessian_examples=128,
        covariance_examples=128,
        learning_rates=(0.01, 0.0178, 0.0316, 0.0562, 0.1, 0.178, 0.316),
        seeds=3,
        eos_every=20,
    ),
}


def config(profile: str = "quick", **overrides: object) -> Config:
    """The profile's config with the given (non-``None``) overrides."""
    return resolve(PROFILES, profile, **overrides)
