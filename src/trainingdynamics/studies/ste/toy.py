"""The Gaussian toy model: teacher, Monte Carlo checks, coarse GD, Theorem 1's ratio."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import betainc

from trainingdynamics.algorithms import ste as S
from trainingdynamics.diagnostics.montecarlo import equivalent_z

from .config import (
    RATIO_DISTANCES,
    RATIO_FIT_FROM,
    TEACHER_BALANCE,
    Config,
)


@dataclass(frozen=True)
class Teacher:
    """Teacher weights and the spurious-minimum output weights v with (I + 11ᵀ)v = (11ᵀ − I)v*."""

    v_star: np.ndarray
    w_star: np.ndarray
    v_spurious: np.ndarray


def _teacher_balance(v_star: np.ndarray) -> float:
    """ρ = (1ᵀv*)²/‖v*‖², in [0, m]: the spurious points are minima iff ρ < (m + 1)/2, and ‖E g_id‖
    there ∝ ρ‖v*‖².
    """
    return float(v_star.sum() ** 2 / (v_star @ v_star))


def admissible_teacher(v_star: np.ndarray) -> bool:
    """¼ ≤ ρ ≤ ½·(m + 1)/2 (``TEACHER_BALANCE``): the paper's non-degenerate setting, with margins.

    The paper's spurious minima at θ = π need vᵀv* < 0 there, i.e. ρ < (m + 1)/2, and the identity
    STE misbehaves there only if 1ᵀv* ≠ 0 (its expected coarse gradient is 2(m − 1)(1ᵀv*)²/((m +
    1)²√(2π)) ŵ). We keep ρ at least ¼ (|1ᵀv*| ≥ ‖v*‖/2) and at most half the bound (then vᵀv* ≤
    −‖v*‖²/2).
    """
    low, fraction = TEACHER_BALANCE
    return low <= _teacher_balance(v_star) <= fraction * (len(v_star) + 1) / 2


def teacher_odds(m: int) -> tuple[float, float]:
    """For v* ~ N(0, I_m): P(ρ ≥ (m + 1)/2), no spurious minima, and P(admissible), kept.

    ρ/m = cos²∠(v*, 1) ~ Beta(½, (m − 1)/2), the squared first coordinate of a uniform unit vector.
    """

    def below(rho: float) -> float:
        return float(betainc(0.5, (m - 1) / 2, min(rho / m, 1.0)))

    low, fraction = TEACHER_BALANCE
    return 1.0 - below((m + 1) / 2), below(fraction * (m + 1) / 2) - below(low)


def make_teacher(cfg: Config, rng: np.random.Generator) -> Teacher:
    """w* ~ N(0, I_n) and v* ~ N(0, I_m) conditioned on :func:`admissible_teacher` (rejection
    sampling).
    """
    w_star = rng.standard_normal(cfg.inputs)
    v_star = rng.standard_normal(cfg.hidden)
    while not admissible_teacher(v_star):
        v_star = rng.standard_normal(cfg.hidden)
    return Teacher(v_star, w_star, S.spurious_minimum_v(v_star))


def _random_points(
    cfg: Config, count: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` points (v, w) with standard Gaussian entries (θ ∈ {0, π} has probability 0)."""
    return [
        (rng.standard_normal(cfg.hidden), rng.standard_normal(cfg.inputs)) for _ in range(count)
    ]


def _monte_carlo_z(
    v: np.ndarray, w: np.ndarray, teacher: Teacher, Z: np.ndarray
) -> dict[str, float]:
    """Monte Carlo error, in standard errors, at one point: f, ∇f (v: sample mean; w: score
    function), each E g_μ.
    """
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


def _monte_carlo_check(
    cfg: Config, teacher: Teacher, rng: np.random.Generator
) -> list[dict[str, float]]:
    """Monte Carlo errors (in standard errors) of every closed form at ``mc_points`` random points,
    ``mc_samples`` fresh inputs each.
    """
    points = _random_points(cfg, cfg.mc_points, rng)
    return [
        _monte_carlo_z(
            v, w, teacher, S.gaussian_inputs(cfg.mc_samples, cfg.hidden, cfg.inputs, rng)
        )
        for v, w in points
    ]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """aᵀb / (‖a‖‖b‖)."""
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _w_cosines(v: np.ndarray, w: np.ndarray, teacher: Teacher) -> dict[str, float]:
    """cos(E g_w, ∂f/∂w) per STE: the only block the STE changes (the v-block is exact)."""
    args = (v, w, teacher.v_star, teacher.w_star)
    grad_w = S.population_gradient(*args)[1]
    return {ste: _cosine(S.expected_coarse_gradient(*args, ste)[1], grad_w) for ste in S.STES}


def _correlations(cfg: Config, teacher: Teacher, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """cos(E g_w, ∂f/∂w) at ``correlation_points`` random points, per STE."""
    table = [_w_cosines(v, w, teacher) for v, w in _random_points(cfg, cfg.correlation_points, rng)]
    return {ste: np.array([row[ste] for row in table]) for ste in S.STES}


@dataclass
class CoarseGDRun:
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


def _coarse_descent(
    cfg: Config,
    teacher: Teacher,
    start: tuple[np.ndarray, np.ndarray],
    ste: S.STE,
    steps: int,
    generator: np.random.Generator | None = None,
) -> CoarseGDRun:
    """Coarse GD with the expected coarse gradient, or with mini-batches of ``batch`` inputs when a
    generator is given.
    """

    def gradient(v: np.ndarray, w: np.ndarray) -> S.Gradient:
        if generator is None:
            return S.expected_coarse_gradient(v, w, teacher.v_star, teacher.w_star, ste)
        return S.sampled_coarse_gradient(
            v, w, teacher.v_star, teacher.w_star, ste, cfg.batch, generator
        )

    return CoarseGDRun(
        *S.coarse_gradient_descent(*start, gradient, cfg.step, steps), teacher=teacher
    )


def _near_spurious_start(
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
    """‖E g_w‖ per STE at spurious minima (v_spurious, −r ŵ*), for a few radii r (f is scale-free in
    w).
    """
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
    """f along θ (w rotated from w* in a fixed plane) for v = v*, v = v_spurious, and minimised over
    v.

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
    """Theorem 1's ratio ‖E g_w‖²/(‖∂f/∂v‖² + ⟨E g_w, ∂f/∂w⟩) along ``ratio_paths`` straight paths
    into the spurious minimum.

    Path j at distance t (``RATIO_DISTANCES``): v = v_spurious + t·‖v*‖·d_j, w = −cos t ŵ* + sin t
    e_j (‖w‖ = 1, θ = π − t), with d_j a random unit vector and e_j a random unit vector orthogonal
    to w*. Returns, per STE, an array (paths, distances).
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
    """Per path, the least-squares slope of log ratio against log distance over the last two decades
    (t ≤ ``RATIO_FIT_FROM``).
    """
    kept = RATIO_DISTANCES <= RATIO_FIT_FROM * (1 + 1e-9)
    x = np.log(RATIO_DISTANCES[kept])
    return np.array([np.polyfit(x, np.log(row[kept]), 1)[0] for row in ratios])


def saddle_gradients(
    cfg: Config, teacher: Teacher, rng: np.random.Generator, count: int = 4
) -> dict[str, float]:
    """At Proposition 1's saddle points (v_s, w at angle θ_s, random directions and radii): the
    largest ‖∂f/∂v‖, ‖∂f/∂w‖ and ‖E g_w‖ per STE.
    """
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
