"""The multivariate demonstration (full profile): hyperplanes instead of kinks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainingdynamics.algorithms.anls import (
    Planes,
    PlanesResult,
    anls_planes,
)
from trainingdynamics.seeding import seed_everything
from trainingdynamics.studies.anls.experiment import Config, _torch_train


@dataclass
class PlaneExperiment:
    """ANLS and GD on |x₁| + |x₂| over a 2-D grid from ``plane_seeds`` initialisations."""

    X: np.ndarray
    y: np.ndarray
    anls: list[PlanesResult]
    gd_steps: np.ndarray
    gd_loss: np.ndarray  # (seeds, K)
    gd_seconds: float  # the whole batch


def plane_data(grid: int) -> tuple[np.ndarray, np.ndarray]:
    """A grid × grid lattice on [−1, 1]² and the target |x₁| + |x₂| (four ReLUs; no grid point on an
    axis when grid is even)."""
    axis = np.linspace(-1.0, 1.0, grid)
    X = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    return X, np.abs(X).sum(axis=1)


def _plane_experiment(cfg: Config, seed: int) -> PlaneExperiment | None:
    """w_j ~ U(−1, 1)², b_j ~ U(−1, 1), c_j ~ N(0, 1/n); ANLS and full-batch GD (step ``lr``) from
    each; None without seeds."""
    if cfg.plane_seeds == 0:
        return None
    rng = seed_everything(seed + 7)
    X, y = plane_data(cfg.plane_grid)
    shape = (cfg.plane_seeds, cfg.plane_width)
    c, w, b = (
        rng.standard_normal(shape) / np.sqrt(cfg.plane_width),
        rng.uniform(-1, 1, shape + (2,)),
        rng.uniform(-1, 1, shape),
    )
    runs = [
        anls_planes(X, y, Planes(c[k], w[k], b[k]), iterations=cfg.plane_iterations)
        for k in range(cfg.plane_seeds)
    ]
    steps, gd_loss, seconds = _torch_train(
        X, y, (c, w, b), "gd", cfg.lr, cfg.plane_gd_steps, cfg.records, seed
    )
    return PlaneExperiment(X, y, runs, steps, gd_loss, seconds)
