"""Straight-through estimators: coarse gradients in a binarized two-layer net (Yin et al. 2019).

The toy model y = vᵀσ(Zw), σ(x) = 1{x > 0}, Z Gaussian, is trained against a teacher (v*, w*)
with *coarse* gradients: the backward pass replaces σ' = 0 by the derivative of an STE (identity,
ReLU or clipped ReLU). The closed forms of :mod:`trainingdynamics.algorithms.ste` are checked
against Monte Carlo; their correlation with the true population gradient, coarse gradient descent
from random starts and from the spurious local minima (θ = π) follow. A 2-/4-bit activation
quantized MLP on scikit-learn's digits stands in for the paper's MNIST/CIFAR experiments.
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
from trainingdynamics.data import Dataset, digits, split
from trainingdynamics.diagnostics.montecarlo import equivalent_z
from trainingdynamics.profiles import ParameterError, require_in_range, require_positive, resolve
from trainingdynamics.seeding import child_rng, child_seed, seed_everything, torch_seeded
from trainingdynamics.training import History, every, train

TITLE = "Straight-through estimators: why a fake gradient can train a quantized net"
CLAIM = "ReLU and clipped-ReLU STEs give descent directions; the ReLU STE stays at the spurious minima, the identity STE is pulled away."
PAPER = "yin2019understanding"

MC_Z_BOUND = 4.0  # a statistical tolerance: an exact closed form's error is a |N(0, 1)| draw in standard errors
GRADIENT_FLOOR = 1e-8  # far above float64 rounding (~1e-16) of the exactly cancelling terms of order one
CORRELATION_FLOOR = 0.0  # the sign of an identity (Lemma 5): the cosine is positive, not merely large
IDENTITY_GRADIENT_BOUND = 1e-3  # ours: ‖E g_id‖ bounded away from zero (at step 0.1 it moves ‖w‖ by 1 in 10⁴ steps)
LEAVE_BOUND = 0.5  # ours: the identity STE gets 0.5 rad farther from θ = π than its start
TEACHER_BALANCE = (0.25, 0.5)  # ours: teacher conditioned on ¼ ≤ (1ᵀv*)²/‖v*‖² ≤ ½·(m + 1)/2 (see make_teacher)
# The smallest budgets at which the Monte Carlo and correlation claims can tell a wrong closed form from a right one:
MIN_MC_POINTS, MIN_MC_SAMPLES, MIN_CORRELATION_POINTS = 20, 100_000, 100
STAY_BOUND = 0.01  # ours: the ReLU STE never gets more than 0.01 rad farther from θ = π than its start
ROUND_OFF = 1e-12  # ours: largest tolerated per-step rise of f (float64 round-off on f = O(1))
LOSS_MARGIN_FLOOR = 0.0  # the sign of the paper's ordering (Table 1 states no margin)


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
    bits: tuple[int, ...] = (2, 4)
    digit_seeds: int = 3
    width: int = 128
    epochs: int = 10
    learning_rate: float = 0.05
    batch_size: int = 64
    n_train: int = 1437

    def __post_init__(self) -> None:
        require_positive(
            self, "hidden", "inputs", "mc_points", "mc_samples", "correlation_points", "starts", "step", "steps",
            "batch", "norm_floor", "minimum_steps", "bits", "digit_seeds", "width", "epochs", "learning_rate", "batch_size",
        )  # fmt: skip
        if self.hidden < 2:
            raise ParameterError(f"parameter hidden must be at least 2 (the spurious minima need m ≥ 2), got {self.hidden}")
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
        if max(self.bits) > 8:
            raise ParameterError(f"parameter bits must be at most 8, got {self.bits}")


PROFILES = {
    "quick": Config(),
    "full": Config(hidden=10, inputs=20, mc_points=40, correlation_points=1000, starts=20, steps=4000, minimum_steps=20_000, digit_seeds=7, epochs=30),
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


def random_points(cfg: Config, count: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` points (v, w) with standard Gaussian entries (θ ∈ {0, π} has probability 0)."""
    return [(rng.standard_normal(cfg.hidden), rng.standard_normal(cfg.inputs)) for _ in range(count)]


def monte_carlo_z(v: np.ndarray, w: np.ndarray, teacher: Teacher, Z: np.ndarray) -> dict[str, float]:
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


def monte_carlo_check(cfg: Config, teacher: Teacher, rng: np.random.Generator) -> list[dict[str, float]]:
    """Monte Carlo errors (in standard errors) of every closed form at ``mc_points`` random points, ``mc_samples`` fresh inputs each."""
    points = random_points(cfg, cfg.mc_points, rng)
    return [monte_carlo_z(v, w, teacher, S.gaussian_inputs(cfg.mc_samples, cfg.hidden, cfg.inputs, rng)) for v, w in points]


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
    cfg: Config, teacher: Teacher, start: tuple[np.ndarray, np.ndarray], ste: S.STE, steps: int, generator: np.random.Generator | None = None
) -> Trajectory:
    """Coarse GD with the expected coarse gradient, or with mini-batches of ``batch`` inputs when a generator is given."""

    def gradient(v: np.ndarray, w: np.ndarray) -> S.Gradient:
        if generator is None:
            return S.expected_coarse_gradient(v, w, teacher.v_star, teacher.w_star, ste)
        return S.sampled_coarse_gradient(v, w, teacher.v_star, teacher.w_star, ste, cfg.batch, generator)

    return Trajectory(*S.coarse_gradient_descent(*start, gradient, cfg.step, steps), teacher=teacher)


def near_spurious_start(cfg: Config, teacher: Teacher, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """v at the spurious minimum, w a unit vector at angle π − ``minimum_offset`` from w*."""
    w_star_hat = teacher.w_star / np.linalg.norm(teacher.w_star)
    side = rng.standard_normal(cfg.inputs)
    side -= (side @ w_star_hat) * w_star_hat
    side /= np.linalg.norm(side)
    return teacher.v_spurious.copy(), -np.cos(cfg.minimum_offset) * w_star_hat + np.sin(cfg.minimum_offset) * side


def gradient_norms_at_minima(teacher: Teacher, scales: tuple[float, ...] = (0.5, 1.0, 2.0)) -> dict[str, np.ndarray]:
    """‖E g_w‖ per STE at spurious minima (v_spurious, −r ŵ*), for a few radii r (f is scale-free in w)."""
    w_star_hat = teacher.w_star / np.linalg.norm(teacher.w_star)
    return {
        ste: np.array([np.linalg.norm(S.expected_coarse_gradient(teacher.v_spurious, -r * w_star_hat, teacher.v_star, teacher.w_star, ste)[1]) for r in scales])
        for ste in S.STES
    }


def landscape(teacher: Teacher, thetas: np.ndarray) -> dict[str, np.ndarray]:
    """f along θ (w rotated from w* in a fixed plane) for v = v*, v = v_spurious, and minimised over v.

    The minimum over v solves Av = B(θ)v*, with A⁻¹ = 4(I − 11ᵀ/(m + 1)).
    """
    m = len(teacher.v_star)
    w_star_hat = teacher.w_star / np.linalg.norm(teacher.w_star)
    axis = np.eye(len(w_star_hat))[np.argmin(np.abs(w_star_hat))]  # the coordinate axis least aligned with w*
    side = axis - (axis @ w_star_hat) * w_star_hat
    W = np.cos(thetas)[:, None] * w_star_hat + np.sin(thetas)[:, None] * side / np.linalg.norm(side)
    B_v_star = ((1.0 - 2.0 * thetas / np.pi)[:, None] * teacher.v_star + teacher.v_star.sum()) / 4.0
    V_best = 4.0 * (B_v_star - B_v_star.sum(axis=1, keepdims=True) / (m + 1))

    def curve(v: np.ndarray) -> np.ndarray:
        return S.population_loss(np.broadcast_to(v, (len(thetas), m)), W, teacher.v_star, teacher.w_star)

    return {"v = v*": curve(teacher.v_star), "v = v at the spurious minima": curve(teacher.v_spurious), "best v for each θ": curve(V_best)}


class QuantizedReLU(nn.Module):
    """The b-bit quantized ReLU as a layer, with the chosen STE in the backward pass."""

    def __init__(self, bits: int, resolution: float, ste: S.STE) -> None:
        super().__init__()
        self.bits, self.resolution, self.ste = bits, resolution, ste

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return S.quantized_activation(x, self.bits, self.resolution, self.ste)


def quantized_mlp(cfg: Config, bits: int, ste: S.STE) -> nn.Sequential:
    """64 → width → width → 10 with BatchNorm and b-bit quantized ReLU on [0, 2] after each hidden layer."""
    resolution = 2.0 / (2**bits - 1)
    layers: list[nn.Module] = []
    for fan_in in (64, cfg.width):
        layers += [nn.Linear(fan_in, cfg.width), nn.BatchNorm1d(cfg.width), QuantizedReLU(bits, resolution, ste)]
    return nn.Sequential(*layers, nn.Linear(cfg.width, 10))


def accuracy(model: nn.Module, data: Dataset) -> float:
    """Fraction of correctly classified examples (BatchNorm in evaluation mode)."""
    model.eval()
    with torch.no_grad():
        correct = (model(data.X).argmax(dim=1) == data.y).float().mean()
    model.train()
    return float(correct)


def train_digits(cfg: Config, bits: int, ste: S.STE, seed: int, device: torch.device | str = "cpu") -> History:
    """SGD (momentum 0.9) on a quantized MLP; logs train/test accuracy once per epoch.

    The split, the initialisation and the mini-batch order draw from named child streams of ``seed``.
    """
    train_set, test_set = split(digits(device=device), cfg.n_train, seed=child_seed(seed, "split"))
    with torch_seeded(seed, "init"):
        model = quantized_mlp(cfg, bits, ste).to(device)
    steps_per_epoch = cfg.n_train // cfg.batch_size

    def log_accuracy(state) -> None:
        state.history.log(state.step, train_accuracy=accuracy(state.model, train_set), test_accuracy=accuracy(state.model, test_set))

    history = train(
        model,
        nn.functional.cross_entropy,
        train_set.X,
        train_set.y,
        optimizer=torch.optim.SGD(model.parameters(), lr=cfg.learning_rate, momentum=0.9),
        steps=cfg.epochs * steps_per_epoch + 1,
        batch_size=cfg.batch_size,
        callbacks=[every(steps_per_epoch, log_accuracy)],
        seed=child_seed(seed, "batches"),
        desc=f"digits {bits}-bit {ste}",
    )
    return history


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
    digits: dict[tuple[int, str], list[History]]


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
    descent = {ste: [coarse_descent(cfg, teacher, s, ste, cfg.steps) for s in starts] for ste in S.STES}
    sampled = {ste: [coarse_descent(cfg, teacher, s, ste, cfg.steps, child_rng(seed, "mini-batches", i)) for i, s in enumerate(starts[:2])] for ste in S.STES}
    near = near_spurious_start(cfg, teacher, child_rng(seed, "near-minimum-start"))
    near_minimum = {ste: coarse_descent(cfg, teacher, near, ste, cfg.minimum_steps) for ste in S.STES}
    near_sampled = {ste: coarse_descent(cfg, teacher, near, ste, cfg.minimum_steps, child_rng(seed, "near-minimum-mini-batches")) for ste in S.STES}
    return Result(cfg, teacher, monte_carlo, cosines, descent, sampled, gradient_norms_at_minima(teacher), near_minimum, near_sampled, {})


def run_digits(cfg: Config, seed: int = 0, device: torch.device | str = "cpu") -> dict[tuple[int, str], list[History]]:
    """Train the quantized MLP for every (bits, STE) over ``digit_seeds`` seeds."""
    return {(bits, ste): [train_digits(cfg, bits, ste, s, device) for s in digit_seeds(cfg, seed)] for bits in cfg.bits for ste in S.STES}


def run(cfg: Config, seed: int = 0, device: torch.device | str = "cpu") -> Result:
    """The whole chapter: :func:`run_toy` then :func:`run_digits`."""
    result = run_toy(cfg, seed)
    result.digits = run_digits(cfg, seed, device)
    return result


def monte_carlo_table(result: Result) -> pd.DataFrame:
    """Largest error in standard errors over the Monte Carlo points, per checked quantity."""
    return pd.DataFrame(result.monte_carlo).max().rename("largest z").to_frame()


def trajectory_cosines(result: Result, ste: str, stride: int = 10) -> np.ndarray:
    """cos(E g_w, ∂f/∂w) along each expected coarse-GD run of ``ste`` (every ``stride`` steps; NaN where θ ∈ {0, π})."""

    def along(trajectory: Trajectory) -> list[float]:
        regular = (trajectory.theta > 1e-9) & (trajectory.theta < np.pi - 1e-9)
        kept = range(0, len(trajectory.w), stride)
        return [w_cosines(trajectory.v[t], trajectory.w[t], result.teacher)[ste] if regular[t] else np.nan for t in kept]

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


def digits_curves(result: Result, bits: int, ste: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epochs, per-seed train accuracy and per-seed mean mini-batch loss per epoch, shapes (E,), (seeds, E), (seeds, E − 1)."""
    histories = result.digits[(bits, ste)]
    steps_per_epoch = result.cfg.n_train // result.cfg.batch_size
    train_accuracy = np.array([h.values("train_accuracy") for h in histories])
    losses = np.array([h.values("loss")[: result.cfg.epochs * steps_per_epoch].reshape(result.cfg.epochs, -1).mean(axis=1) for h in histories])
    return np.arange(train_accuracy.shape[1]), train_accuracy, losses


def digits_table(result: Result) -> pd.DataFrame:
    """Median over seeds of the final train accuracy, test accuracy and last-epoch loss, per (bits, STE)."""
    rows = []
    for (bits, ste), histories in result.digits.items():
        losses = final_loss(result, bits, ste)
        rows.append(
            {
                "bits": bits,
                "STE": ste,
                "train accuracy": median_train_accuracy(result, bits, ste),
                "test accuracy": np.median([h.values("test_accuracy")[-1] for h in histories]),
                "last-epoch loss": np.median(losses),
            }
        )
    return pd.DataFrame(rows).set_index(["bits", "STE"])


def largest_rise(trajectory: Trajectory, norm_floor: float) -> float:
    """max_t f(t+1) − f(t) over steps with ‖w_t‖, ‖w_{t+1}‖ ≥ ``norm_floor`` (−inf if there are none)."""
    kept = (trajectory.w_norm[:-1] >= norm_floor) & (trajectory.w_norm[1:] >= norm_floor)
    rises = np.diff(trajectory.loss)[kept]
    return float(rises.max()) if rises.size else -np.inf


def collapsed_runs(result: Result, ste: str) -> int:
    """Number of coarse-GD runs with this STE in which ‖w_t‖ fell below ``norm_floor``."""
    return sum(int(t.w_norm.min() < result.cfg.norm_floor) for t in result.descent[ste])


def final_train_accuracy(result: Result, bits: int, ste: str) -> np.ndarray:
    """Final training accuracy of each digits seed."""
    return np.array([h.values("train_accuracy")[-1] for h in result.digits[(bits, ste)]])


def median_train_accuracy(result: Result, bits: int, ste: str) -> float:
    """Median over seeds of the final training accuracy."""
    return float(np.median(final_train_accuracy(result, bits, ste)))


def ste_accuracy_margin(result: Result) -> float:
    """min over bit widths of [max(median acc ReLU, median acc clipped ReLU) − median acc identity]."""
    return min(
        max(median_train_accuracy(result, b, "relu"), median_train_accuracy(result, b, "clipped_relu")) - median_train_accuracy(result, b, "identity")
        for b in result.cfg.bits
    )


def excursion_from_minimum(trajectory: Trajectory) -> float:
    """max_t (π − θ_t) − (π − θ_0): how much farther from θ = π than its start the run gets (≤ 0 if it never does)."""
    distance = np.pi - trajectory.theta
    return float(distance.max() - distance[0])


def final_loss(result: Result, bits: int, ste: str) -> np.ndarray:
    """Each digits seed's mean mini-batch training loss over its last epoch."""
    return digits_curves(result, bits, ste)[2][:, -1]


def ste_loss_margin(result: Result) -> float:
    """min over bit widths of [median last-epoch loss identity − min(median loss ReLU, median loss clipped ReLU)]."""
    return min(
        float(np.median(final_loss(result, b, "identity")) - min(np.median(final_loss(result, b, ste)) for ste in ("relu", "clipped_relu")))
        for b in result.cfg.bits
    )


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


def digits_loss_claim(result: Result) -> Claim:
    """The paper's ranking of STEs (identity worst) on the training loss of a quantized network on digits."""
    cfg = result.cfg
    return at_least(
        "digits_loss_ranking",
        f"digits, {'/'.join(map(str, cfg.bits))}-bit activations, trained from random weights for {cfg.epochs} epochs: identity STE "
        f"minus best of ReLU/clipped-ReLU STE, median last-epoch training loss over {cfg.digit_seeds} seeds (worst bit width)",
        ste_loss_margin(result),
        LOSS_MARGIN_FLOOR,
        source="paper",
        title="Identity STE worst on digits",
        reference=(
            "Table 1 and §4.1: the identity STE has the highest training loss in every row; the paper's regime is MNIST and "
            "CIFAR-10 from pre-trained full-precision weights, ours scikit-learn's digits from random weights"
        ),
        reason="the sign of the paper's ordering; the paper states no margin",
    )


def claims(result: Result) -> list[Claim]:
    """All the chapter's claims."""
    return [*toy_claims(result), digits_loss_claim(result)]
