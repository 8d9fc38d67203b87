"""Straight-through estimators: coarse gradients in a binarized two-layer net (Yin et al. 2019).

The toy model y = vᵀσ(Zw), σ(x) = 1{x > 0}, Z Gaussian, is trained against a teacher (v*, w*)
with *coarse* gradients: the backward pass replaces σ' = 0 by the derivative of an STE (identity,
ReLU or clipped ReLU). The closed forms of :mod:`trainingdynamics.algorithms.ste` are checked
against Monte Carlo; their correlation with the true population gradient, coarse gradient descent
from random starts and from the spurious local minima (θ = π) follow, with Theorem 1's ratio of squared
coarse-gradient norm to descent along paths into those minima and Proposition 1's saddle points. A 1-/2-/4-bit
activation quantized MLP on scikit-learn's digits, trained from full-precision pre-trained weights, stands in
for the paper's MNIST/CIFAR experiments (Table 1) and its "repelled from improved minima" experiment (§4.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from trainingdynamics.algorithms import ste as S
from trainingdynamics.claims import Claim, at_least, at_most
from trainingdynamics.data import digits, split
from trainingdynamics.diagnostics.montecarlo import equivalent_z
from trainingdynamics.profiles import ParameterError, require_in_range, require_positive, resolve
from trainingdynamics.seeding import child_rng, child_seed, seed_everything

TITLE = "Straight-through estimators: why a fake gradient can train a quantized net"
CLAIM = "ReLU and clipped-ReLU STEs give descent directions; the ReLU STE stays at the spurious minima, the identity STE is pulled away."
PAPER = "yin2019understanding"

MC_Z_BOUND = 4.0  # a statistical tolerance: an exact closed form's error is a |N(0, 1)| draw in standard errors
GRADIENT_FLOOR = (
    1e-8  # far above float64 rounding (~1e-16) of the exactly cancelling terms of order one
)
CORRELATION_FLOOR = (
    0.0  # the sign of an identity (Lemma 5): the cosine is positive, not merely large
)
IDENTITY_GRADIENT_BOUND = (
    1e-3  # ours: ‖E g_id‖ bounded away from zero (at step 0.1 it moves ‖w‖ by 1 in 10⁴ steps)
)
LEAVE_BOUND = 0.5  # ours: the identity STE gets 0.5 rad farther from θ = π than its start
TEACHER_BALANCE = (
    0.25,
    0.5,
)  # ours: teacher conditioned on ¼ ≤ (1ᵀv*)²/‖v*‖² ≤ ½·(m + 1)/2 (see make_teacher)
# The smallest budgets at which the Monte Carlo and correlation claims can tell a wrong closed form from a right one:
MIN_MC_POINTS, MIN_MC_SAMPLES, MIN_CORRELATION_POINTS = 20, 100_000, 100
STAY_BOUND = (
    0.01  # ours: the ReLU STE never gets more than 0.01 rad farther from θ = π than its start
)
ROUND_OFF = 1e-12  # ours: largest tolerated per-step rise of f (float64 round-off on f = O(1))
LOSS_MARGIN_FLOOR = 0.0  # the sign of the paper's ordering (Table 1 states no margin)
REPELLED_SHARE = 0.75  # pre-registered: the identity STE ends above the clipped ReLU in at least 3 of 4 (seed, bits) cases
IDENTITY_RATIO_SLOPE = (
    -0.5
)  # halfway between a bounded ratio (log-log slope 0) and the predicted ∝ 1/distance (slope −1)
RELU_RATIO_SLOPE = 0.0  # a ratio that does not grow as the path nears the minimum stays below its value two decades out
RATIO_DISTANCES = np.geomspace(
    1.0, 1e-4, 41
)  # distance t along each path into the spurious minimum (θ = π − t)
RATIO_FIT_FROM = 1e-2  # the slope is fitted over the path's last two decades, t ≤ 1e-2
PAPER_BITS = (
    2,
    4,
)  # the paper's bit widths (Table 1, §4.2); 1 bit is the theory's σ, not one of its experiments


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
            self, "hidden", "inputs", "mc_points", "mc_samples", "correlation_points", "starts", "step", "steps",
            "batch", "norm_floor", "minimum_steps", "bits", "digit_seeds", "width", "pretrain_epochs", "epochs", "continue_epochs", "learning_rate",
            "small_learning_rate", "batch_size", "ratio_paths",
        )  # fmt: skip
        if self.hidden < 2:
            raise ParameterError(
                f"parameter hidden must be at least 2 (the spurious minima need m ≥ 2), got {self.hidden}"
            )
        if self.inputs < 2:
            raise ParameterError(f"parameter inputs must be at least 2, got {self.inputs}")
        if self.mc_points < MIN_MC_POINTS:
            raise ParameterError(
                f"parameter mc_points must be at least {MIN_MC_POINTS} (fewer random points test the closed forms at too few places), got {self.mc_points}"
            )
        if self.mc_samples < MIN_MC_SAMPLES:
            raise ParameterError(
                f"parameter mc_samples must be at least {MIN_MC_SAMPLES} (with fewer samples the standard errors are too wide "
                f"for a {MC_Z_BOUND:g}-standard-error agreement to catch a wrong closed form), got {self.mc_samples}"
            )
        if self.correlation_points < MIN_CORRELATION_POINTS:
            raise ParameterError(
                f"parameter correlation_points must be at least {MIN_CORRELATION_POINTS} (the smallest cosine over fewer random points "
                f"probes too little of the (v, w) space), got {self.correlation_points}"
            )
        require_in_range(self, "minimum_offset", 1e-6, np.pi / 2)
        require_in_range(self, "n_train", 100, 1697)
        require_in_range(self, "batch_size", 1, self.n_train)
        if self.small_learning_rate >= self.learning_rate:
            raise ParameterError(
                f"parameter small_learning_rate must be below learning_rate ({self.learning_rate}), got {self.small_learning_rate}"
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


@dataclass(frozen=True)
class Teacher:
    """Teacher weights and the spurious-minimum output weights v with (I + 11ᵀ)v = (11ᵀ − I)v*."""

    v_star: np.ndarray
    w_star: np.ndarray
    v_spurious: np.ndarray


def teacher_balance(v_star: np.ndarray) -> float:
    """ρ = (1ᵀv*)²/‖v*‖², in [0, m]: the spurious points are minima iff ρ < (m + 1)/2, and ‖E g_id‖ there ∝ ρ‖v*‖²."""
    return float(v_star.sum() ** 2 / (v_star @ v_star))


def admissible_teacher(v_star: np.ndarray) -> bool:
    """¼ ≤ ρ ≤ ½·(m + 1)/2 (``TEACHER_BALANCE``): the paper's non-degenerate setting, with margins.

    The paper's spurious minima at θ = π need vᵀv* < 0 there, i.e. ρ < (m + 1)/2, and the identity
    STE misbehaves there only if 1ᵀv* ≠ 0 (its expected coarse gradient is 2(m − 1)(1ᵀv*)²/((m + 1)²√(2π)) ŵ).
    We keep ρ at least ¼ (|1ᵀv*| ≥ ‖v*‖/2) and at most half the bound (then vᵀv* ≤ −‖v*‖²/2).
    """
    low, fraction = TEACHER_BALANCE
    return low <= teacher_balance(v_star) <= fraction * (len(v_star) + 1) / 2


def make_teacher(cfg: Config, rng: np.random.Generator) -> Teacher:
    """w* ~ N(0, I_n) and v* ~ N(0, I_m) conditioned on :func:`admissible_teacher` (rejection sampling)."""
    w_star = rng.standard_normal(cfg.inputs)
    v_star = rng.standard_normal(cfg.hidden)
    while not admissible_teacher(v_star):
        v_star = rng.standard_normal(cfg.hidden)
    return Teacher(v_star, w_star, S.spurious_minimum_v(v_star))


def random_points(
    cfg: Config, count: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` points (v, w) with standard Gaussian entries (θ ∈ {0, π} has probability 0)."""
    return [
        (rng.standard_normal(cfg.hidden), rng.standard_normal(cfg.inputs)) for _ in range(count)
    ]


def monte_carlo_z(
    v: np.ndarray, w: np.ndarray, teacher: Teacher, Z: np.ndarray
) -> dict[str, float]:
    """Monte Carlo error, in standard errors, at one point: f, ∇f (v: sample mean; w: score function), each E g_μ."""
    args = (v, w, teacher.v_star, teacher.w_star)
    grad_v, grad_w = S.population_gradient(*args)
    scores = {
        "f": equivalent_z(S.loss_samples(*args, Z), S.population_loss(*args)),
        "∂f/∂v": equivalent_z(S.coarse_gradient_samples(*args, "relu", Z)[0], grad_v),
        "∂f/∂w": equivalent_z(S.score_gradient_samples(*args, Z), grad_w),
    }
    for ste in S.STES:
        samples = S.coarse_gradient_samples(*args, ste, Z)
        expected = S.expected_coarse_gradient(*args, ste)
        scores[f"E g_w ({ste})"] = equivalent_z(samples[1], expected[1])
    return scores


def monte_carlo_check(
    cfg: Config, teacher: Teacher, rng: np.random.Generator
) -> list[dict[str, float]]:
    """Monte Carlo errors (in standard errors) of every closed form at ``mc_points`` random points, ``mc_samples`` fresh inputs each."""
    points = random_points(cfg, cfg.mc_points, rng)
    return [
        monte_carlo_z(v, w, teacher, S.gaussian_inputs(cfg.mc_samples, cfg.hidden, cfg.inputs, rng))
        for v, w in points
    ]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """aᵀb / (‖a‖‖b‖)."""
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def w_cosines(v: np.ndarray, w: np.ndarray, teacher: Teacher) -> dict[str, float]:
    """cos(E g_w, ∂f/∂w) per STE: the only block the STE changes (the v-block is exact)."""
    args = (v, w, teacher.v_star, teacher.w_star)
    grad_w = S.population_gradient(*args)[1]
    return {ste: cosine(S.expected_coarse_gradient(*args, ste)[1], grad_w) for ste in S.STES}


def correlations(cfg: Config, teacher: Teacher, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """cos(E g_w, ∂f/∂w) at ``correlation_points`` random points, per STE."""
    table = [w_cosines(v, w, teacher) for v, w in random_points(cfg, cfg.correlation_points, rng)]
    return {ste: np.array([row[ste] for row in table]) for ste in S.STES}


@dataclass
class Trajectory:
    """One coarse-GD run: iterates and the population loss and angle along them."""

    v: np.ndarray
    w: np.ndarray
    loss: np.ndarray = field(init=False)
    theta: np.ndarray = field(init=False)
    teacher: Teacher

    def __post_init__(self) -> None:
        self.loss = S.population_loss(self.v, self.w, self.teacher.v_star, self.teacher.w_star)
        self.theta = S.angle(self.w, self.teacher.w_star)

    @property
    def w_norm(self) -> np.ndarray:
        """‖w_t‖."""
        return np.linalg.norm(self.w, axis=1)


def coarse_descent(
    cfg: Config,
    teacher: Teacher,
    start: tuple[np.ndarray, np.ndarray],
    ste: S.STE,
    steps: int,
    generator: np.random.Generator | None = None,
) -> Trajectory:
    """Coarse GD with the expected coarse gradient, or with mini-batches of ``batch`` inputs when a generator is given."""

    def gradient(v: np.ndarray, w: np.ndarray) -> S.Gradient:
        if generator is None:
            return S.expected_coarse_gradient(v, w, teacher.v_star, teacher.w_star, ste)
        return S.sampled_coarse_gradient(
            v, w, teacher.v_star, teacher.w_star, ste, cfg.batch, generator
        )

    return Trajectory(
        *S.coarse_gradient_descent(*start, gradient, cfg.step, steps), teacher=teacher
    )


def near_spurious_start(
    cfg: Config, teacher: Teacher, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """v at the spurious minimum, w a unit vector at angle π − ``minimum_offset`` from w*."""
    w_star_hat = teacher.w_star / np.linalg.norm(teacher.w_star)
    side = rng.standard_normal(cfg.inputs)
    side -= (side @ w_star_hat) * w_star_hat
    side /= np.linalg.norm(side)
    return teacher.v_spurious.copy(), -np.cos(cfg.minimum_offset) * w_star_hat + np.sin(
        cfg.minimum_offset
    ) * side


def gradient_norms_at_minima(
    teacher: Teacher, scales: tuple[float, ...] = (0.5, 1.0, 2.0)
) -> dict[str, np.ndarray]:
    """‖E g_w‖ per STE at spurious minima (v_spurious, −r ŵ*), for a few radii r (f is scale-free in w)."""
    w_star_hat = teacher.w_star / np.linalg.norm(teacher.w_star)
    return {
        ste: np.array(
            [
                np.linalg.norm(
                    S.expected_coarse_gradient(
                        teacher.v_spurious, -r * w_star_hat, teacher.v_star, teacher.w_star, ste
                    )[1]
                )
                for r in scales
            ]
        )
        for ste in S.STES
    }


def landscape(teacher: Teacher, thetas: np.ndarray) -> dict[str, np.ndarray]:
    """f along θ (w rotated from w* in a fixed plane) for v = v*, v = v_spurious, and minimised over v.

    The minimum over v solves Av = B(θ)v*, with A⁻¹ = 4(I − 11ᵀ/(m + 1)).
    """
    m = len(teacher.v_star)
    w_star_hat = teacher.w_star / np.linalg.norm(teacher.w_star)
    axis = np.eye(len(w_star_hat))[
        np.argmin(np.abs(w_star_hat))
    ]  # the coordinate axis least aligned with w*
    side = axis - (axis @ w_star_hat) * w_star_hat
    W = np.cos(thetas)[:, None] * w_star_hat + np.sin(thetas)[:, None] * side / np.linalg.norm(side)
    B_v_star = ((1.0 - 2.0 * thetas / np.pi)[:, None] * teacher.v_star + teacher.v_star.sum()) / 4.0
    V_best = 4.0 * (B_v_star - B_v_star.sum(axis=1, keepdims=True) / (m + 1))

    def curve(v: np.ndarray) -> np.ndarray:
        return S.population_loss(
            np.broadcast_to(v, (len(thetas), m)), W, teacher.v_star, teacher.w_star
        )

    return {
        "v = v*": curve(teacher.v_star),
        "v = v at the spurious minima": curve(teacher.v_spurious),
        "best v for each θ": curve(V_best),
    }


def ratio_paths(cfg: Config, teacher: Teacher, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Theorem 1's ratio ‖E g_w‖²/(‖∂f/∂v‖² + ⟨E g_w, ∂f/∂w⟩) along ``ratio_paths`` straight paths into the spurious minimum.

    Path j at distance t (``RATIO_DISTANCES``): v = v_spurious + t·‖v*‖·d_j, w = −cos t ŵ* + sin t e_j (‖w‖ = 1, θ = π − t),
    with d_j a random unit vector and e_j a random unit vector orthogonal to w*. Returns, per STE, an array (paths, distances).
    """
    w_star_hat = teacher.w_star / np.linalg.norm(teacher.w_star)
    ratios: dict[str, list[list[float]]] = {ste: [] for ste in S.STES}
    for _ in range(cfg.ratio_paths):
        direction = rng.standard_normal(cfg.hidden)
        direction *= np.linalg.norm(teacher.v_star) / np.linalg.norm(direction)
        side = rng.standard_normal(cfg.inputs)
        side -= (side @ w_star_hat) * w_star_hat
        side /= np.linalg.norm(side)
        points = [
            (teacher.v_spurious + t * direction, -np.cos(t) * w_star_hat + np.sin(t) * side)
            for t in RATIO_DISTANCES
        ]
        for ste in S.STES:
            ratios[ste].append(
                [S.descent_ratio(v, w, teacher.v_star, teacher.w_star, ste) for v, w in points]
            )
    return {ste: np.array(values) for ste, values in ratios.items()}


def ratio_slopes(ratios: np.ndarray) -> np.ndarray:
    """Per path, the least-squares slope of log ratio against log distance over the last two decades (t ≤ ``RATIO_FIT_FROM``)."""
    kept = RATIO_DISTANCES <= RATIO_FIT_FROM * (1 + 1e-9)
    x = np.log(RATIO_DISTANCES[kept])
    return np.array([np.polyfit(x, np.log(row[kept]), 1)[0] for row in ratios])


def saddle_gradients(
    cfg: Config, teacher: Teacher, rng: np.random.Generator, count: int = 4
) -> dict[str, float]:
    """At Proposition 1's saddle points (v_s, w at angle θ_s, random directions and radii): the largest ‖∂f/∂v‖, ‖∂f/∂w‖ and ‖E g_w‖ per STE."""
    v, theta = S.saddle_point(teacher.v_star)
    w_star_hat = teacher.w_star / np.linalg.norm(teacher.w_star)
    largest = {"∂f/∂v": 0.0, "∂f/∂w": 0.0, **{f"E g_w ({ste})": 0.0 for ste in S.STES}}
    for radius in np.geomspace(0.5, 2.0, count):
        side = rng.standard_normal(cfg.inputs)
        side -= (side @ w_star_hat) * w_star_hat
        w = radius * (np.cos(theta) * w_star_hat + np.sin(theta) * side / np.linalg.norm(side))
        grad_v, grad_w = S.population_gradient(v, w, teacher.v_star, teacher.w_star)
        norms = {"∂f/∂v": np.linalg.norm(grad_v), "∂f/∂w": np.linalg.norm(grad_w)}
        norms |= {
            f"E g_w ({ste})": np.linalg.norm(
                S.expected_coarse_gradient(v, w, teacher.v_star, teacher.w_star, ste)[1]
            )
            for ste in S.STES
        }
        largest = {key: max(largest[key], float(norms[key])) for key in largest}
    return largest


# ---------------------------------------------------------------------------------------------
# Digits: a stack of quantized MLPs trained side by side (one batched matrix product per layer)

STE_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "identity": (None, None),
    "relu": (0.0, None),
    "clipped_relu": (0.0, 1.0),
}
ACTIVATION_RANGE = (
    2.0  # the quantized ReLU's top level (2ᵇ − 1)α; for b = 1 the activation is 2·1{x > 0}
)


class StackedQuantizedReLU(torch.autograd.Function):
    """b-bit quantized ReLU of a stack of K models with per-model resolution α_k and top level n_k = 2ᵇ − 1.

    Backward: the STE of each model as a band 1{lo_k < x < hi_k}: identity (−∞, ∞), ReLU (0, ∞),
    clipped ReLU (0, n_k α_k). Shapes: x (K, B, width); α, top, lo, hi (K, 1, 1).
    """

    @staticmethod
    def forward(ctx, x, resolution, top, lo, hi):
        ctx.save_for_backward(x, lo, hi)
        return resolution * torch.minimum(torch.clamp(torch.ceil(x / resolution), min=0.0), top)

    @staticmethod
    def backward(ctx, grad_output):
        x, lo, hi = ctx.saved_tensors
        return grad_output * ((x > lo) & (x < hi)), None, None, None, None


@dataclass
class ModelStack:
    """K MLPs 64 → width → width → 10 as stacked tensors; BatchNorm without scale and shift (as the paper's)."""

    weights: list[torch.Tensor]  # (K, fan_in, fan_out)
    biases: list[torch.Tensor]  # (K, 1, fan_out)
    running_mean: list[torch.Tensor]  # (K, 1, width), one per hidden layer
    running_var: list[torch.Tensor]

    @property
    def size(self) -> int:
        return self.weights[0].shape[0]

    def parameters(self) -> list[torch.Tensor]:
        return [*self.weights, *self.biases]

    def select(self, index: list[int]) -> ModelStack:
        """A new stack holding copies of the models ``index`` (repeats allowed)."""
        pick = torch.as_tensor(index)
        return ModelStack(
            *[
                [t[pick].clone() for t in group]
                for group in (self.weights, self.biases, self.running_mean, self.running_var)
            ]
        )


def init_stack(cfg: Config, seeds: list[int]) -> ModelStack:
    """One model per seed, each layer U(−1/√fan_in, 1/√fan_in) as ``nn.Linear``, from its own named stream."""
    sizes = [(64, cfg.width), (cfg.width, cfg.width), (cfg.width, 10)]
    weights, biases = [], []
    for layer, (fan_in, fan_out) in enumerate(sizes):
        bound = 1.0 / math.sqrt(fan_in)
        draws = [
            torch.rand(
                fan_in + 1,
                fan_out,
                generator=torch.Generator().manual_seed(child_seed(s, "init", layer)),
            )
            for s in seeds
        ]
        stacked = (2.0 * torch.stack(draws) - 1.0) * bound
        weights.append(stacked[:, :fan_in].contiguous())
        biases.append(stacked[:, fan_in:].contiguous())
    hidden = [torch.zeros(len(seeds), 1, cfg.width) for _ in range(2)]
    return ModelStack(weights, biases, hidden, [torch.ones_like(h) for h in hidden])


@dataclass(frozen=True)
class StackSpec:
    """Per-model activation settings of a stack: quantization (None: full-precision ReLU) and STE bands."""

    resolution: torch.Tensor | None
    top: torch.Tensor | None
    lo: torch.Tensor | None
    hi: torch.Tensor | None

    @classmethod
    def full_precision(cls) -> StackSpec:
        return cls(None, None, None, None)

    @classmethod
    def quantized(cls, bits: list[int], stes: list[str]) -> StackSpec:
        levels = torch.tensor([2.0**b - 1 for b in bits]).view(-1, 1, 1)
        resolution = ACTIVATION_RANGE / levels
        inf = math.inf
        lo = torch.tensor(
            [STE_BOUNDS[s][0] if STE_BOUNDS[s][0] is not None else -inf for s in stes]
        ).view(-1, 1, 1)
        hi = torch.tensor([ACTIVATION_RANGE if s == "clipped_relu" else inf for s in stes]).view(
            -1, 1, 1
        )
        return cls(resolution, levels, lo, hi)


BN_EPS, BN_MOMENTUM = 1e-5, 0.1


def forward_stack(stack: ModelStack, spec: StackSpec, X: torch.Tensor, train: bool) -> torch.Tensor:
    """Logits (K, B, 10) of the stack on inputs X (K, B, 64); in training mode BatchNorm uses batch statistics and updates its running ones."""
    h = X
    for layer in range(2):
        h = torch.baddbmm(stack.biases[layer], h, stack.weights[layer])
        if train:
            mean, var = h.mean(dim=1, keepdim=True), h.var(dim=1, keepdim=True, unbiased=False)
            with torch.no_grad():
                n = h.shape[1]
                stack.running_mean[layer].mul_(1 - BN_MOMENTUM).add_(BN_MOMENTUM * mean)
                stack.running_var[layer].mul_(1 - BN_MOMENTUM).add_(BN_MOMENTUM * var * n / (n - 1))
        else:
            mean, var = stack.running_mean[layer], stack.running_var[layer]
        h = (h - mean) / torch.sqrt(var + BN_EPS)
        h = (
            torch.relu(h)
            if spec.resolution is None
            else StackedQuantizedReLU.apply(h, spec.resolution, spec.top, spec.lo, spec.hi)
        )
    return torch.baddbmm(stack.biases[2], h, stack.weights[2])


@dataclass(frozen=True)
class DigitsData:
    """Per-seed train/test splits, stacked: X_train (S, n_train, 64), y_train (S, n_train), X_test, y_test."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor


def digits_data(cfg: Config, seeds: list[int]) -> DigitsData:
    """Each seed's split of scikit-learn's digits (pixel-standardised), from its named child stream."""
    data = digits()
    splits = [split(data, cfg.n_train, seed=child_seed(s, "split")) for s in seeds]
    return DigitsData(*[torch.stack([getattr(part, attr) for part in parts]) for parts, attr in
                        ((tuple(t for t, _ in splits), "X"), (tuple(t for t, _ in splits), "y"), (tuple(t for _, t in splits), "X"), (tuple(t for _, t in splits), "y"))])  # fmt: skip


def evaluate_stack(
    stack: ModelStack, spec: StackSpec, data: DigitsData, which: torch.Tensor
) -> dict[str, np.ndarray]:
    """Full training-set cross-entropy and accuracy, and held-out accuracy, per model (BatchNorm with running statistics)."""
    with torch.no_grad():
        logits = forward_stack(stack, spec, data.X_train[which], train=False)
        labels = data.y_train[which]
        loss = nn.functional.cross_entropy(logits.transpose(1, 2), labels, reduction="none").mean(
            dim=1
        )
        train_acc = (logits.argmax(dim=2) == labels).float().mean(dim=1)
        test_acc = (
            (
                forward_stack(stack, spec, data.X_test[which], train=False).argmax(dim=2)
                == data.y_test[which]
            )
            .float()
            .mean(dim=1)
        )
    return {
        "train_loss": loss.numpy().astype(float),
        "train_accuracy": train_acc.numpy().astype(float),
        "test_accuracy": test_acc.numpy().astype(float),
    }


def train_stack(
    cfg: Config,
    stack: ModelStack,
    spec: StackSpec,
    data: DigitsData,
    which: list[int],
    batch_seeds: list[int],
    learning_rates: list[float],
    epochs: int,
) -> dict[str, np.ndarray]:
    """SGD with momentum 0.9 (fresh buffers) on every model of the stack at once, in place; returns per-epoch metrics (K, epochs + 1).

    Model k trains on split ``which[k]`` with mini-batch order from ``batch_seeds[k]`` (a fresh permutation per epoch)
    and learning rate ``learning_rates[k]``; the loss is each model's mean cross-entropy, summed over models.
    """
    K, n = stack.size, cfg.n_train
    index = torch.as_tensor(which)
    X, y = data.X_train[index], data.y_train[index]
    lr = torch.tensor(learning_rates, dtype=torch.float32)
    params = stack.parameters()
    for p in params:
        p.requires_grad_(True)
    buffers = [torch.zeros_like(p) for p in params]
    rngs = [np.random.default_rng(s) for s in batch_seeds]
    rows = torch.arange(K)[:, None]
    steps = n // cfg.batch_size
    log = [evaluate_stack(stack, spec, data, index)]
    for _ in range(epochs):
        order = torch.as_tensor(np.stack([rng.permutation(n) for rng in rngs]))
        for step in range(steps):
            batch = order[:, step * cfg.batch_size : (step + 1) * cfg.batch_size]
            logits = forward_stack(stack, spec, X[rows, batch], train=True)
            loss = (
                nn.functional.cross_entropy(
                    logits.transpose(1, 2), y[rows, batch], reduction="none"
                )
                .mean(dim=1)
                .sum()
            )
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, g, buf in zip(params, grads, buffers, strict=True):
                    buf.mul_(0.9).add_(g)
                    p.sub_(lr.view(-1, *[1] * (p.dim() - 1)) * buf)
        log.append(evaluate_stack(stack, spec, data, index))
    for p in params:
        p.requires_grad_(False)
    return {key: np.stack([entry[key] for entry in log], axis=1) for key in log[0]}


REPELLED_STARTS: tuple[S.STE, ...] = (
    "clipped_relu",
    "relu",
)  # the paper's two improved minima (§4.2)
LEARNING_RATE_KINDS = ("training", "small")


@dataclass
class DigitsResult:
    """Per-epoch metrics (seeds × epochs + 1) of the three phases: full-precision pre-training, quantized training, continuation."""

    seeds: list[int]
    pretrain: dict[str, np.ndarray]
    quantized: dict[tuple[int, str], dict[str, np.ndarray]]
    repelled: dict[tuple[int, str, str, str], dict[str, np.ndarray]]


def _unstack(
    log: dict[str, np.ndarray], keys: list[tuple], seeds: int
) -> dict[tuple, dict[str, np.ndarray]]:
    """Split a stack's metrics (models ordered key-major, seed-minor) into one (seeds × epochs) block per key."""
    return {
        key: {name: values[i * seeds : (i + 1) * seeds] for name, values in log.items()}
        for i, key in enumerate(keys)
    }


def run_digits(cfg: Config, seed: int = 0) -> DigitsResult:
    """Pre-train full-precision MLPs, train them quantized with each STE, then continue from the ReLU-type minima with each STE.

    Phase 1 starts every (bits, STE) from its seed's pre-trained weights (the paper's protocol); phase 2 starts from
    phase 1's clipped-ReLU and ReLU end points with fresh momentum, at the training and at the small learning rate.
    Within a phase the models of one seed share its split and mini-batch order (common random numbers).
    """
    seeds = digit_seeds(cfg, seed)
    count = len(seeds)
    data = digits_data(cfg, seeds)
    pre = init_stack(cfg, seeds)
    pre_log = train_stack(cfg, pre, StackSpec.full_precision(), data, list(range(count)), [child_seed(s, "batches", "pretrain") for s in seeds],
                          [cfg.learning_rate] * count, cfg.pretrain_epochs)  # fmt: skip
    keys1 = [(bits, ste) for bits in cfg.bits for ste in S.STES]
    models1 = [(b, ste, k) for b, ste in keys1 for k in range(count)]
    stack1 = pre.select([k for _, _, k in models1])
    spec1 = StackSpec.quantized([b for b, _, _ in models1], [ste for _, ste, _ in models1])
    log1 = train_stack(cfg, stack1, spec1, data, [k for *_, k in models1], [child_seed(seeds[k], "batches", "quantized") for *_, k in models1],
                       [cfg.learning_rate] * len(models1), cfg.epochs)  # fmt: skip
    keys2 = [
        (bits, start, ste, kind)
        for bits in cfg.bits
        for start in REPELLED_STARTS
        for ste in S.STES
        for kind in LEARNING_RATE_KINDS
    ]
    models2 = [(*key, k) for key in keys2 for k in range(count)]
    stack2 = stack1.select([keys1.index((b, start)) * count + k for b, start, _, _, k in models2])
    spec2 = StackSpec.quantized([m[0] for m in models2], [m[2] for m in models2])
    rates = {"training": cfg.learning_rate, "small": cfg.small_learning_rate}
    log2 = train_stack(cfg, stack2, spec2, data, [m[-1] for m in models2], [child_seed(seeds[m[-1]], "batches", "continue") for m in models2],
                       [rates[m[3]] for m in models2], cfg.continue_epochs)  # fmt: skip
    return DigitsResult(seeds, pre_log, _unstack(log1, keys1, count), _unstack(log2, keys2, count))


def digit_seeds(cfg: Config, seed: int) -> list[int]:
    """The digits runs' seeds: one named child seed per run (:func:`trainingdynamics.seeding.child_seed`)."""
    return [child_seed(seed, "digits", k) for k in range(cfg.digit_seeds)]


@dataclass
class Result:
    """Everything the chapter plots and checks."""

    cfg: Config
    teacher: Teacher
    monte_carlo: list[dict[str, float]]
    cosines: dict[str, np.ndarray]
    descent: dict[str, list[Trajectory]]
    sampled: dict[str, list[Trajectory]]
    minimum_norms: dict[str, np.ndarray]
    near_minimum: dict[str, Trajectory]
    near_minimum_sampled: dict[str, Trajectory]
    ratios: dict[str, np.ndarray]
    saddle: dict[str, float]
    saddle_angle: float
    digits: DigitsResult | None = None


def run_toy(cfg: Config, seed: int = 0) -> Result:
    """The toy-model parts: Monte Carlo checks, correlations, coarse GD from random starts and near θ = π.

    Each part draws from its own named stream (:func:`trainingdynamics.seeding.child_rng`); every
    mini-batch run has its own stream, shared by the three STEs.
    """
    seed_everything(seed)
    teacher = make_teacher(cfg, child_rng(seed, "teacher"))
    monte_carlo = monte_carlo_check(cfg, teacher, child_rng(seed, "monte-carlo"))
    cosines = correlations(cfg, teacher, child_rng(seed, "correlation-points"))
    starts = random_points(cfg, cfg.starts, child_rng(seed, "starts"))
    descent = {
        ste: [coarse_descent(cfg, teacher, s, ste, cfg.steps) for s in starts] for ste in S.STES
    }
    sampled = {
        ste: [
            coarse_descent(cfg, teacher, s, ste, cfg.steps, child_rng(seed, "mini-batches", i))
            for i, s in enumerate(starts[:2])
        ]
        for ste in S.STES
    }
    near = near_spurious_start(cfg, teacher, child_rng(seed, "near-minimum-start"))
    near_minimum = {
        ste: coarse_descent(cfg, teacher, near, ste, cfg.minimum_steps) for ste in S.STES
    }
    near_sampled = {
        ste: coarse_descent(
            cfg, teacher, near, ste, cfg.minimum_steps, child_rng(seed, "near-minimum-mini-batches")
        )
        for ste in S.STES
    }
    ratios = ratio_paths(cfg, teacher, child_rng(seed, "ratio-paths"))
    saddle = saddle_gradients(cfg, teacher, child_rng(seed, "saddle-points"))
    return Result(
        cfg,
        teacher,
        monte_carlo,
        cosines,
        descent,
        sampled,
        gradient_norms_at_minima(teacher),
        near_minimum,
        near_sampled,
        ratios,
        saddle,
        S.saddle_point(teacher.v_star)[1],
    )


def run(cfg: Config, seed: int = 0, device: torch.device | str = "cpu") -> Result:
    """The whole chapter: :func:`run_toy` then :func:`run_digits`."""
    result = run_toy(cfg, seed)
    result.digits = run_digits(cfg, seed)  # a stack of small MLPs: the CPU is the right device
    return result


def monte_carlo_table(result: Result) -> pd.DataFrame:
    """Largest error in standard errors over the Monte Carlo points, per checked quantity."""
    return pd.DataFrame(result.monte_carlo).max().rename("largest z").to_frame()


def trajectory_cosines(result: Result, ste: str, stride: int = 10) -> np.ndarray:
    """cos(E g_w, ∂f/∂w) along each expected coarse-GD run of ``ste`` (every ``stride`` steps; NaN where θ ∈ {0, π})."""

    def along(trajectory: Trajectory) -> list[float]:
        regular = (trajectory.theta > 1e-9) & (trajectory.theta < np.pi - 1e-9)
        kept = range(0, len(trajectory.w), stride)
        return [
            w_cosines(trajectory.v[t], trajectory.w[t], result.teacher)[ste]
            if regular[t]
            else np.nan
            for t in kept
        ]

    return np.array([along(t) for t in result.descent[ste]])


def band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Columns with a finite entry: their indices and the median, min and max over rows, NaNs ignored."""
    kept = np.flatnonzero(np.isfinite(values).any(axis=0))
    finite = values[:, kept]
    return kept, np.nanmedian(finite, axis=0), np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)


def plot_band(ax, x: np.ndarray, values: np.ndarray, color, label: str | None = None) -> None:
    """Median over rows of ``values`` (runs × x) as a line, min-to-max as a shaded band; all-NaN columns are skipped."""
    columns, median, low, high = band(values)
    ax.plot(np.asarray(x)[columns], median, color=color, label=label)
    ax.fill_between(np.asarray(x)[columns], low, high, color=color, alpha=0.2)


def largest_rise(trajectory: Trajectory, norm_floor: float) -> float:
    """max_t f(t+1) − f(t) over steps with ‖w_t‖, ‖w_{t+1}‖ ≥ ``norm_floor`` (−inf if there are none)."""
    kept = (trajectory.w_norm[:-1] >= norm_floor) & (trajectory.w_norm[1:] >= norm_floor)
    rises = np.diff(trajectory.loss)[kept]
    return float(rises.max()) if rises.size else -np.inf


def collapsed_runs(result: Result, ste: str) -> int:
    """Number of coarse-GD runs with this STE in which ‖w_t‖ fell below ``norm_floor``."""
    return sum(int(t.w_norm.min() < result.cfg.norm_floor) for t in result.descent[ste])


def excursion_from_minimum(trajectory: Trajectory) -> float:
    """max_t (π − θ_t) − (π − θ_0): how much farther from θ = π than its start the run gets (≤ 0 if it never does)."""
    distance = np.pi - trajectory.theta
    return float(distance.max() - distance[0])


def false_alarm_bound(checks: int, z: float = MC_Z_BOUND) -> float:
    """Union bound on the probability that any of ``checks`` |N(0, 1)| errors exceeds ``z`` (no independence needed)."""
    return min(1.0, checks * math.erfc(z / math.sqrt(2.0)))


def toy_claims(result: Result) -> list[Claim]:
    """The Gaussian toy model: the closed forms, the correlation and descent of the coarse gradient, and the spurious minima."""
    cfg = result.cfg
    mc_worst = max(max(point.values()) for point in result.monte_carlo)
    mc_checks = sum(len(point) for point in result.monte_carlo)
    good = ("relu", "clipped_relu")
    identity_path, relu_path = result.near_minimum["identity"], result.near_minimum["relu"]
    return [
        at_most(
            "monte_carlo",
            f"f, ∇f and E g_w (3 STEs) match Monte Carlo at {cfg.mc_points} points × {cfg.mc_samples} samples: largest error in standard errors",
            mc_worst,
            MC_Z_BOUND,
            source="exact",
            title="Closed forms vs Monte Carlo",
            reference=(
                "Lemmas 1, 2, 4 and 7 (f, ∇f, E g_relu, E g_id) and our clipped-ReLU form are Gaussian expectations, estimated "
                "without bias by sample means (∂f/∂w by the score-function estimator)"
            ),
            reason=(
                f"a statistical tolerance: with exact closed forms each error is a |N(0, 1)| draw, so {MC_Z_BOUND:g} standard errors "
                f"is exceeded by chance in any of the {mc_checks} checks with probability at most {false_alarm_bound(mc_checks):.2%} (union bound)"
            ),
        ),
        at_least(
            "descent_correlation",
            f"the ReLU and clipped-ReLU STEs' E g_w correlates positively with ∂f/∂w at {cfg.correlation_points} random points: "
            "smallest cos(E g_w, ∂f/∂w)",
            min(result.cosines[ste].min() for ste in good),
            CORRELATION_FLOOR,
            source="exact",
            title="Positive correlation",
            reference=(
                "Lemma 5: ⟨E g_relu, ∂f/∂w⟩ = sin θ (vᵀv*)²/(2(2π)^{3/2}‖w‖) ≥ 0; the clipped ReLU's inner product has the same "
                "form with another positive Gaussian integral (derived here, not in the paper)"
            ),
            reason="the sign of the identity: positive wherever θ ∈ (0, π) and vᵀv* ≠ 0, which random Gaussian points satisfy with probability one",
        ),
        at_most(
            "monotone_descent",
            f"coarse GD (step {cfg.step}, ReLU/clipped ReLU) never raises f while ‖w‖ ≥ {cfg.norm_floor}: largest per-step rise",
            max(largest_rise(t, cfg.norm_floor) for ste in good for t in result.descent[ste]),
            ROUND_OFF,
            source="paper",
            title="Monotone descent",
            reference=(
                "Theorem 1: with the ReLU STE and a small enough step, f decreases monotonically while ‖w‖ ≥ c_w > 0; "
                "we test the clipped ReLU as well"
            ),
            reason=(
                "ours: float64 round-off of one step's change of f = O(1); the step and the floor on ‖w‖ are our choices for "
                "the theorem's 'sufficiently small' step and its c_w"
            ),
        ),
        at_least(
            "identity_gradient_at_minimum",
            "at the spurious minima (θ = π) the identity STE's expected coarse gradient does not vanish: smallest ‖E g_w‖ over three radii ‖w‖",
            result.minimum_norms["identity"].min(),
            IDENTITY_GRADIENT_BOUND,
            source="paper",
            title="Identity STE pulled away",
            reference=(
                "Lemma 7: at the spurious minima ‖E g_id‖ = 2(m − 1)(1ᵀv*)²/(√(2π)(m + 1)²), non-zero if 1ᵀv* ≠ 0 and m > 1 "
                "(the ground of Theorem 1's instability statement)"
            ),
            reason=(
                f"ours, the paper states no size: at step {cfg.step} a pull of this size moves ‖w‖ by "
                f"{IDENTITY_GRADIENT_BOUND * cfg.step * cfg.minimum_steps:g} (the start's norm is 1) within the {cfg.minimum_steps} steps run near the minimum"
            ),
        ),
        at_most(
            "relu_gradient_at_minimum",
            "at the spurious minima the ReLU STE's expected coarse gradient vanishes: largest ‖E g_w‖ over three radii ‖w‖",
            result.minimum_norms["relu"].max(),
            GRADIENT_FLOOR,
            source="exact",
            title="ReLU STE rests at the minima",
            reference="Lemma 6: E g_relu vanishes at the spurious minimizers (in Lemma 4's form, h(v, v*) = 0 and ŵ + ŵ* = 0 there)",
            reason="float64 rounding: the two terms are of order one and cancel exactly, to about 1e-16; the bound leaves a wide margin",
        ),
        at_least(
            "identity_leaves",
            f"coarse GD with the identity STE started {cfg.minimum_offset} rad from a spurious minimum leaves it: "
            "largest distance from θ = π gained over the start, max_t (π − θ_t) − (π − θ_0) (rad)",
            excursion_from_minimum(identity_path),
            LEAVE_BOUND,
            source="paper",
            title="Identity STE leaves",
            reference=(
                "Theorem 1 (second part) and §3.2: if 1ᵀv* ≠ 0 and m > 1, coarse GD with the identity STE neither descends "
                "nor converges near the spurious minima (the instability)"
            ),
            reason=f"ours, the paper states no distance: {LEAVE_BOUND / cfg.minimum_offset:g} times the start's offset from θ = π",
        ),
        at_most(
            "relu_stays",
            "… while the ReLU STE started at the same point never moves farther from θ = π than its start: max_t (π − θ_t) − (π − θ_0) (rad)",
            excursion_from_minimum(relu_path),
            STAY_BOUND,
            source="paper",
            title="ReLU STE stays",
            reference=(
                "Theorem 1 with Lemma 6: ReLU-STE coarse GD descends monotonically and converges to a critical point, and the "
                "spurious minima are among its fixed points"
            ),
            reason=f"ours, the paper states no distance: a tolerance {cfg.minimum_offset / STAY_BOUND:g} times smaller than the start's offset",
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Digits: what the claims and the tables read


# Table 1 of the paper (training loss / validation accuracy %, identity | vanilla ReLU | clipped ReLU), quoted.
PAPER_TABLE_1 = pd.DataFrame(
    [
        ("MNIST", "LeNet-5", 2, 2.6e-2, 98.49, 5.1e-3, 99.24, 5.4e-3, 99.23),
        ("MNIST", "LeNet-5", 4, 6.0e-3, 98.98, 9.0e-4, 99.32, 8.8e-4, 99.24),
        ("CIFAR-10", "VGG-11", 2, 0.19, 86.58, 0.10, 88.69, 0.02, 90.92),
        ("CIFAR-10", "VGG-11", 4, 3.1e-2, 90.19, 1.5e-3, 92.01, 1.3e-3, 92.08),
        ("CIFAR-10", "ResNet-20", 2, 1.56, 46.52, 1.50, 48.05, 0.24, 88.39),
        ("CIFAR-10", "ResNet-20", 4, 1.38, 54.16, 0.25, 86.59, 0.04, 91.24),
    ],
    columns=[
        "data",
        "network",
        "bits",
        "identity loss",
        "identity acc %",
        "relu loss",
        "relu acc %",
        "clipped_relu loss",
        "clipped_relu acc %",
    ],
).set_index(["data", "network", "bits"])


def final(result: Result, bits: int, ste: str, metric: str) -> np.ndarray:
    """Per seed, ``metric`` (train_loss, train_accuracy, test_accuracy) at the end of quantized training."""
    return result.digits.quantized[(bits, ste)][metric][:, -1]


def digits_table(result: Result) -> pd.DataFrame:
    """Median over seeds, after quantized training from pre-trained weights: full training-set loss, training and held-out accuracy."""
    rows = [
        {"bits": bits, "STE": ste, **{name: float(np.median(final(result, bits, ste, key))) for name, key in
                                      (("train loss", "train_loss"), ("train accuracy", "train_accuracy"), ("held-out accuracy", "test_accuracy"))}}
        for bits in result.cfg.bits for ste in S.STES
    ]  # fmt: skip
    return pd.DataFrame(rows).set_index(["bits", "STE"])


def paper_bits(result: Result) -> list[int]:
    """The run's bit widths that the paper also runs (2 and 4)."""
    return [b for b in result.cfg.bits if b in PAPER_BITS]


def loss_margin(result: Result, bits: list[int]) -> float:
    """min over ``bits`` of [median final training loss, identity − best of ReLU/clipped ReLU] (NaN without bit widths)."""
    margins = [
        float(
            np.median(final(result, b, "identity", "train_loss"))
            - min(np.median(final(result, b, s, "train_loss")) for s in ("relu", "clipped_relu"))
        )
        for b in bits
    ]
    return min(margins) if margins else math.nan


def accuracy_margin(result: Result, bits: list[int]) -> float:
    """min over ``bits`` of [best of ReLU/clipped ReLU − identity, median final held-out accuracy] (NaN without bit widths)."""
    margins = [
        float(
            max(np.median(final(result, b, s, "test_accuracy")) for s in ("relu", "clipped_relu"))
            - np.median(final(result, b, "identity", "test_accuracy"))
        )
        for b in bits
    ]
    return min(margins) if margins else math.nan


def continuation(result: Result, bits: int, start: str, ste: str, kind: str) -> np.ndarray:
    """Per seed and epoch, the training loss of the continuation from the ``start`` STE's minimum with ``ste`` at the ``kind`` learning rate."""
    return result.digits.repelled[(bits, start, ste, kind)]["train_loss"]


def repelled_cases(
    result: Result, kind: str, start: str = "clipped_relu", bits: list[int] | None = None
) -> np.ndarray:
    """Per (bits, seed), whether the identity STE's continuation ends with a higher training loss than the clipped ReLU's."""
    bits = paper_bits(result) if bits is None else bits
    return (
        np.concatenate(
            [
                continuation(result, b, start, "identity", kind)[:, -1]
                > continuation(result, b, start, "clipped_relu", kind)[:, -1]
                for b in bits
            ]
        )
        if bits
        else np.array([], bool)
    )


def repelled_share(
    result: Result, kind: str, start: str = "clipped_relu", bits: list[int] | None = None
) -> float:
    """Share of (seed, bits) cases in which the identity STE ends above the clipped ReLU (NaN without cases)."""
    cases = repelled_cases(result, kind, start, bits)
    return float(cases.mean()) if cases.size else math.nan


def repelled_rises(
    result: Result, kind: str, start: str = "clipped_relu", bits: list[int] | None = None
) -> np.ndarray:
    """Per (bits, seed), the identity STE's final continuation loss over the loss at the start (> 1: it rose)."""
    bits = paper_bits(result) if bits is None else bits
    return (
        np.concatenate(
            [
                continuation(result, b, start, "identity", kind)[:, -1]
                / continuation(result, b, start, "identity", kind)[:, 0]
                for b in bits
            ]
        )
        if bits
        else np.array([])
    )


def repelled_table(result: Result) -> pd.DataFrame:
    """Median over seeds of the final continuation loss per (bits, start, learning rate) and STE, with the starting loss."""
    rows = []
    for bits in result.cfg.bits:
        for start in REPELLED_STARTS:
            for kind in LEARNING_RATE_KINDS:
                row = {
                    "bits": bits,
                    "start": start,
                    "learning rate": kind,
                    "start loss": float(
                        np.median(continuation(result, bits, start, "identity", kind)[:, 0])
                    ),
                }
                row |= {
                    ste: float(np.median(continuation(result, bits, start, ste, kind)[:, -1]))
                    for ste in S.STES
                }
                row["identity above clipped_relu"] = (
                    f"{int(repelled_cases(result, kind, start, [bits]).sum())}/{len(result.digits.seeds)}"
                )
                rows.append(row)
    return pd.DataFrame(rows).set_index(["bits", "start", "learning rate"])


def binarized_claim(result: Result, margin: float) -> Claim:
    """Table 1's ordering carried to 1-bit activations σ = 1{x > 0}, the activation the theory is about (our hypothesis)."""
    cfg = result.cfg
    medians = {
        ste: float(np.median(final(result, 1, ste, "train_loss"))) if 1 in cfg.bits else math.nan
        for ste in S.STES
    }
    accuracy = {
        ste: float(np.median(final(result, 1, ste, "train_accuracy")))
        if 1 in cfg.bits
        else math.nan
        for ste in S.STES
    }
    numbers = ", ".join(
        f"{ste} {medians[ste]:.3g} (training accuracy {accuracy[ste]:.3f})" for ste in S.STES
    )
    return at_least(
        "binarized_loss_ranking",
        f"digits, 1-bit activations 2·1{{x > 0}}, {cfg.digit_seeds} seeds, {cfg.epochs} quantized epochs from pre-trained weights: identity STE "
        "minus best of ReLU/clipped-ReLU STE, median final training loss",
        margin,
        LOSS_MARGIN_FLOOR,
        source="ours",
        title="Identity STE worst with binarized activations",
        reference=(
            "Theorem 1 concerns σ = 1{x > 0}, where it finds the identity STE unstable; the paper's experiments use 2 and 4 bits only, "
            "so carrying Table 1's ordering to 1 bit is our hypothesis"
        ),
        reason="the sign of the ordering, as for the 2- and 4-bit claim",
        known_failure=(
            f"the ordering reverses at 1 bit: median final training loss {numbers}; the identity STE is the best of the three"
        ),
        failure="not supported",
    )


def theory_claims(result: Result) -> list[Claim]:
    """Theorem 1's separating ratio along paths into the spurious minimum, and Proposition 1's saddle points."""
    cfg = result.cfg
    identity_slope = float(ratio_slopes(result.ratios["identity"]).max())
    relu_slope = float(
        min(ratio_slopes(result.ratios[ste]).min() for ste in ("relu", "clipped_relu"))
    )
    return [
        at_most(
            "ratio_identity_grows",
            f"identity STE: ‖E g_w‖²/(‖∂f/∂v‖² + ⟨E g_w, ∂f/∂w⟩) along {cfg.ratio_paths} paths into the spurious minimum (θ = π − t, "
            f"v − v_spurious ∝ t): largest log-log slope against t over t ∈ [1e-4, 1e-2] (negative: the ratio grows as t → 0)",
            identity_slope,
            IDENTITY_RATIO_SLOPE,
            source="paper",
            title="Theorem 1's ratio blows up (identity STE)",
            reference="eq. (16) (Lemma 8), the ground of Theorem 1's instability statement: the ratio → +∞ as θ → π and v → the spurious minimiser",
            reason=(
                "derived: the numerator tends to Lemma 7's non-zero ‖E g_id‖² and the denominator vanishes linearly in t (eq. 15 ∝ sin θ), "
                "so the slope is −1; −0.5 is halfway between that and a bounded ratio (slope 0)"
            ),
        ),
        at_least(
            "ratio_relu_bounded",
            "ReLU and clipped-ReLU STEs: the same ratio along the same paths: smallest log-log slope against t over t ∈ [1e-4, 1e-2] "
            "(non-negative: the ratio does not grow as t → 0)",
            relu_slope,
            RELU_RATIO_SLOPE,
            source="paper",
            title="Theorem 1's ratio stays bounded (ReLU STEs)",
            reference="Lemma 5, eq. (12): ‖E g_relu‖² ≤ A(‖∂f/∂v‖² + ⟨E g_relu, ∂f/∂w⟩) for bounded v, the estimate behind Theorem 1's descent; the clipped ReLU is our extension",
            reason="a slope ≥ 0 means the ratio near the minimum stays below its value two decades out, i.e. bounded; the paper gives no value of A",
        ),
        at_most(
            "saddle_gradient",
            f"at Proposition 1's saddle points (θ_s = {result.saddle_angle:.4f} rad, four radii ‖w‖ and directions): largest of ‖∂f/∂v‖, ‖∂f/∂w‖ "
            "and the ReLU STE's ‖E g_w‖",
            max(result.saddle["∂f/∂v"], result.saddle["∂f/∂w"], result.saddle["E g_w (relu)"]),
            GRADIENT_FLOOR,
            source="exact",
            title="Proposition 1's saddle points",
            reference="Proposition 1, eq. (9): the points (8) with vᵀv* = 0 are critical points of f; Lemma 6: E g_relu vanishes there too",
            reason="float64 rounding: terms of order one cancel exactly, to about 1e-16; the bound leaves a wide margin",
        ),
    ]


def digits_claims(result: Result) -> list[Claim]:
    """Table 1's ordering on digits (training loss), §4.2's repelled experiment, and the binarized case.

    Held-out accuracy is ranked and shown, not claimed: at 4 bits its differences between STEs are about one held-out example.
    """
    cfg = result.cfg
    widths = paper_bits(result)
    regime = (
        f"digits, {'/'.join(map(str, widths))}-bit activations, {cfg.digit_seeds} seeds, {cfg.epochs} quantized epochs from "
        f"full-precision weights pre-trained for {cfg.pretrain_epochs} epochs"
    )
    paper_regime = "the paper's regime is MNIST (LeNet-5) and CIFAR-10 (VGG-11, ResNet-20) for 50 or 200 epochs from pre-trained full-precision weights"
    rises = repelled_rises(result, "training")
    binarized = loss_margin(result, [1]) if 1 in cfg.bits else math.nan
    claims_ = [
        at_least(
            "digits_loss_ranking",
            f"{regime}: identity STE minus best of ReLU/clipped-ReLU STE, median final training loss (full training set), worst bit width",
            loss_margin(result, widths),
            LOSS_MARGIN_FLOOR,
            source="paper",
            title="Identity STE worst on digits (training loss)",
            reference=f"Table 1 and §4.1: the identity STE has the highest training loss in every row; {paper_regime}",
            reason="the sign of the paper's ordering; the paper states no margin",
        ),
        at_least(
            "repelled",
            f"continued for {cfg.continue_epochs} epochs at the training learning rate {cfg.learning_rate:g} from the clipped-ReLU STE's end point "
            f"({'/'.join(map(str, widths))} bits × {cfg.digit_seeds} seeds): share of cases in which the identity STE's training loss ends above "
            f"the clipped ReLU's (the identity's final loss over its start: median {np.median(rises) if rises.size else math.nan:.3g})",
            repelled_share(result, "training"),
            REPELLED_SHARE,
            source="paper",
            title="Identity STE repelled from the clipped-ReLU minimum",
            reference=(
                "§4.2 and Figure 2: started from the ReLU and clipped-ReLU minima of ResNet-20 (4 bits), the identity STE's training loss "
                "and validation error increase (lr 1e-5 for 20 epochs, then the normal schedule)"
            ),
            reason="pre-registered before the run: the paper reports the effect from both of its starts; we require it in three cases of four, leaving one to seed noise",
        ),
    ]
    claims_.append(binarized_claim(result, binarized))
    return claims_


def claims(result: Result) -> list[Claim]:
    """All the chapter's claims."""
    return [*toy_claims(result), *theory_claims(result), *digits_claims(result)]
