"""Quickstart: full-batch gradient descent on an over-parametrised linear least-squares problem.

With more features than samples (d > n), the loss L(w) = (1/2n)‖Xw − y‖² has a
whole affine space of minimisers. GD started at w = 0 moves only within the row
space of X, so it converges to the minimum-norm solution w* = X⁺y, and the
error contracts per step by |1 − ηλ| along each eigenvector of XᵀX/n with
nonzero eigenvalue λ, so ‖w_t − w*‖ ≤ ρ^t ‖w*‖ with ρ = max_λ |1 − ηλ|.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainingdynamics.claims import Claim, at_most
from trainingdynamics.diagnostics.rates import fit_exponential
from trainingdynamics.profiles import ParameterError, require_positive, resolve
from trainingdynamics.seeding import seed_everything
from trainingdynamics.training import History, train

TITLE = "Quickstart: gradient descent finds the minimum-norm solution"
CLAIM = "Full-batch GD from zero converges to the minimum-norm least-squares solution X⁺y at the predicted linear rate."
PAPER = ""  # the citation key in book/references.bib of the paper the chapter reproduces


MIN_STEPS, MAX_STEPS = (
    10,
    1_000_000,
)  # the late-rate fit needs a few steps above the round-off floor


@dataclass(frozen=True)
class Config:
    """Problem size, noise and the GD budget; the step is a fraction of the stability limit 2/λ_max."""

    n_samples: int = 40
    n_features: int = 60
    noise: float = 0.1
    steps: int = 3000
    step_fraction: float = 0.9

    def __post_init__(self) -> None:
        require_positive(self, "n_samples", "n_features", "step_fraction")
        if not MIN_STEPS <= self.steps <= MAX_STEPS:
            raise ParameterError(
                f"parameter steps must lie in [{MIN_STEPS}, {MAX_STEPS}] (the rate fit needs {MIN_STEPS} steps; "
                f"{MAX_STEPS} GD steps take minutes), got {self.steps}"
            )
        if self.n_features <= self.n_samples:
            raise ParameterError(
                f"n_features ({self.n_features}) must exceed n_samples ({self.n_samples}) for an over-parametrised problem"
            )
        if not self.step_fraction < 1:
            raise ParameterError(
                f"parameter step_fraction must be below 1 (GD diverges at 2/λ_max), got {self.step_fraction}"
            )
        if self.noise < 0:
            raise ParameterError(f"parameter noise must be non-negative, got {self.noise}")


PROFILES = {"quick": Config(), "full": Config(n_samples=200, n_features=300, steps=6000)}


def config(profile: str = "quick", **overrides: object) -> Config:
    """The profile's config with the given (non-``None``) overrides."""
    return resolve(PROFILES, profile, **overrides)


@dataclass(frozen=True)
class Problem:
    """Data and the exact answers GD is checked against."""

    X: np.ndarray
    y: np.ndarray
    w_star: np.ndarray
    eigenvalues: np.ndarray  # nonzero eigenvalues of XᵀX/n, ascending


def make_problem(cfg: Config, seed: int) -> Problem:
    """Gaussian features, a noisy linear target, and X⁺y with the spectrum of XᵀX/n."""
    rng = seed_everything(seed)
    X = rng.standard_normal((cfg.n_samples, cfg.n_features))
    y = X @ rng.standard_normal(cfg.n_features) / np.sqrt(
        cfg.n_features
    ) + cfg.noise * rng.standard_normal(cfg.n_samples)
    eigenvalues = np.linalg.eigvalsh(X @ X.T / cfg.n_samples)  # same nonzero spectrum as XᵀX/n
    return Problem(X, y, np.linalg.pinv(X) @ y, eigenvalues)


def learning_rate(cfg: Config, problem: Problem) -> float:
    """η = step_fraction · 2/λ_max."""
    return cfg.step_fraction * 2.0 / problem.eigenvalues[-1]


def predicted_rate(eta: float, eigenvalues: np.ndarray) -> float:
    """Asymptotic per-step contraction of ‖w_t − w*‖: max over nonzero λ of |1 − ηλ|."""
    return float(np.max(np.abs(1.0 - eta * eigenvalues)))


@dataclass
class Result:
    """A GD run and the problem it solved."""

    cfg: Config
    problem: Problem
    eta: float
    history: History
    w: np.ndarray


def run(cfg: Config, seed: int = 0, device: str | torch.device = "cpu") -> Result:
    """Run full-batch GD from w = 0 with the shared training loop, logging ‖w_t − w*‖."""
    problem = make_problem(cfg, seed)
    X = torch.as_tensor(problem.X, device=device)
    y = torch.as_tensor(problem.y, device=device)
    w_star = torch.as_tensor(problem.w_star, device=device)
    model = nn.Linear(cfg.n_features, 1, bias=False).to(device=device, dtype=torch.float64)
    nn.init.zeros_(model.weight)
    eta = learning_rate(cfg, problem)

    def log_error(state) -> None:
        state.history.log(
            state.step, error=float(torch.linalg.norm(state.model.weight.detach()[0] - w_star))
        )

    history = train(
        model,
        lambda out, target: 0.5 * torch.mean((out[:, 0] - target) ** 2),
        X,
        y,
        optimizer=torch.optim.SGD(model.parameters(), lr=eta),
        steps=cfg.steps,
        callbacks=[log_error],
        seed=seed,
        desc="quickstart GD",
    )
    return Result(cfg, problem, eta, history, model.weight.detach()[0].cpu().numpy())


def above_floor(errors: np.ndarray, floor: float = 1e-9) -> int:
    """Number of leading steps whose relative error is above ``floor`` (beyond it, round-off rules)."""
    return int(np.sum(errors / errors[0] > floor))


def bound_violation(errors: np.ndarray, rate: float) -> float:
    """max_t ‖e_t‖ / (ρ^t ‖e_0‖) − 1 over the steps above the floor: ≤ 0 when the bound holds."""
    t = np.arange(above_floor(errors))
    return float(np.max(errors[t] / (rate**t * errors[0])) - 1.0)


def late_rate(errors: np.ndarray) -> float:
    """Per-step contraction fitted over the second half of the steps above the floor."""
    stop = above_floor(errors)
    steps = np.arange(stop // 2, stop)
    return fit_exponential(steps, errors[steps]).factor


MIN_NORM_TOLERANCE = 1e-8  # relative error of an exact limit reached to float64 rounding, with room for the finite budget
INTERPOLATION_TOLERANCE = 1e-16  # a loss of order 1 driven to float64 rounding
BOUND_TOLERANCE = 1e-9  # an inequality that holds exactly, checked to rounding
TIGHTNESS_TOLERANCE = 1e-2  # ours: a late exponential fit still carries the faster modes' tails; fixed at 1% before any run


def claims(result: Result) -> list[Claim]:
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
            "‖w_t − w*‖ ≤ ρ^t‖w*‖ at every step, ρ = max|1 − ηλ|: largest relative excess over the bound",
            bound_violation(errors, rho),
            BOUND_TOLERANCE,
            source="exact",
            title="Contraction bound",
            reference="w_t − w* = (I − ηXᵀX/n)^t (0 − w*) on the row space",
            reason="rounding; steps below the round-off floor are not checked",
        ),
        at_most(
            "rate_tightness",
            "The bound is tight: relative gap between the contraction fitted over the late steps and ρ",
            abs(late_rate(errors) - rho) / rho,
            TIGHTNESS_TOLERANCE,
            source="ours",
            title="Bound is tight",
            reference="a sanity check: generic data excite the slowest mode, so the late rate should be ρ",
            reason="a late fit still carries the faster modes' tails; 1% fixed before the first run",
        ),
    ]
