"""The quickstart experiment: its configuration, the least-squares problem and the GD run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainingdynamics.profiles import ParameterError, require_positive, resolve
from trainingdynamics.seeding import seed_everything
from trainingdynamics.training import History, train

# the late-rate fit needs a few steps above the round-off floor; a million GD steps take minutes
MIN_STEPS, MAX_STEPS = 10, 1_000_000


@dataclass(frozen=True)
class Config:
    """Problem size, noise and the GD budget; the step is a fraction of the stability limit
    2/λ_max."""

    n_samples: int = 40
    n_features: int = 60
    noise: float = 0.1
    steps: int = 3000
    step_fraction: float = 0.9

    def __post_init__(self) -> None:
        require_positive(self, "n_samples", "n_features", "step_fraction")
        if not MIN_STEPS <= self.steps <= MAX_STEPS:
            raise ParameterError(
                f"parameter steps must lie in [{MIN_STEPS}, {MAX_STEPS}] (the rate fit needs "
                f"{MIN_STEPS} steps; {MAX_STEPS} GD steps take minutes), got {self.steps}"
            )
        if self.n_features <= self.n_samples:
            raise ParameterError(
                f"n_features ({self.n_features}) must exceed n_samples ({self.n_samples}) "
                "for an over-parametrised problem"
            )
        if not self.step_fraction < 1:
            raise ParameterError(
                "parameter step_fraction must be below 1 (GD diverges at 2/λ_max), "
                f"got {self.step_fraction}"
            )
        if self.noise < 0:
            raise ParameterError(f"parameter noise must be non-negative, got {self.noise}")


PROFILES = {"quick": Config(), "full": Config(n_samples=200, n_features=300, steps=6000)}


def config(profile: str = "quick", **overrides: object) -> Config:
    """The profile's config with the given (non-``None``) overrides."""
    return resolve(PROFILES, profile, **overrides)


@dataclass(frozen=True)
class LeastSquaresProblem:
    """Data and the exact answers GD is checked against."""

    X: np.ndarray
    y: np.ndarray
    w_star: np.ndarray
    eigenvalues: np.ndarray  # nonzero eigenvalues of XᵀX/n, ascending


def make_problem(cfg: Config, seed: int) -> LeastSquaresProblem:
    """Gaussian features, a noisy linear target, and X⁺y with the spectrum of XᵀX/n."""
    rng = seed_everything(seed)
    X = rng.standard_normal((cfg.n_samples, cfg.n_features))
    signal = X @ rng.standard_normal(cfg.n_features) / np.sqrt(cfg.n_features)
    y = signal + cfg.noise * rng.standard_normal(cfg.n_samples)
    eigenvalues = np.linalg.eigvalsh(X @ X.T / cfg.n_samples)  # same nonzero spectrum as XᵀX/n
    return LeastSquaresProblem(X, y, np.linalg.pinv(X) @ y, eigenvalues)


def learning_rate(cfg: Config, problem: LeastSquaresProblem) -> float:
    """η = step_fraction · 2/λ_max."""
    return cfg.step_fraction * 2.0 / problem.eigenvalues[-1]


@dataclass
class GDRun:
    """A GD run and the problem it solved."""

    cfg: Config
    problem: LeastSquaresProblem
    eta: float
    history: History
    w: np.ndarray


def run(cfg: Config, seed: int = 0, device: str | torch.device = "cpu") -> GDRun:
    """Run full-batch GD from w = 0 with the shared training loop, logging ‖w_t − w*‖."""
    problem = make_problem(cfg, seed)
    X = torch.as_tensor(problem.X, device=device)
    y = torch.as_tensor(problem.y, device=device)
    w_star = torch.as_tensor(problem.w_star, device=device)
    model = nn.Linear(cfg.n_features, 1, bias=False).to(device=device, dtype=torch.float64)
    nn.init.zeros_(model.weight)
    eta = learning_rate(cfg, problem)

    def log_error(state) -> None:
        error = torch.linalg.norm(state.model.weight.detach()[0] - w_star)
        state.history.log(state.step, error=float(error))

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
    return GDRun(cfg, problem, eta, history, model.weight.detach()[0].cpu().numpy())
