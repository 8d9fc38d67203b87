"""The experiment: the data, the networks and the Deep ReLU Simplex runs of the chapter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from trainingdynamics.algorithms.simplex import SimplexTrace, deep_relu_simplex, lad_linprog
from trainingdynamics.device import resolve_device
from trainingdynamics.profiles import ParameterError, require_positive, resolve
from trainingdynamics.seeding import child_rng
from trainingdynamics.studies.simplex.analysis import _summarise


@dataclass(frozen=True)
class Config:
    """Data and network sizes, the number of seeds, the pivot budget and the density probes."""

    input_dim: int = 2
    hidden: tuple[int, ...] = (5, 5)
    n_samples: int = 200
    seeds: int = 5
    max_pivots: int = 2000
    lad_samples: int = 200
    lad_dim: int = 3
    rays: int = 6
    ray_radius: float = 0.05

    def __post_init__(self) -> None:
        require_positive(
            self,
            "input_dim",
            "hidden",
            "n_samples",
            "seeds",
            "max_pivots",
            "lad_samples",
            "lad_dim",
            "rays",
            "ray_radius",
        )
        if self.n_samples <= self.input_dim + 1:
            raise ParameterError(
                f"n_samples ({self.n_samples}) must exceed input_dim + 1 ({self.input_dim + 1})"
            )
        if self.lad_samples <= self.lad_dim + 1:
            raise ParameterError(
                f"lad_samples ({self.lad_samples}) must exceed lad_dim + 1 "
                f"({self.lad_dim + 1}), or the LAD optimum is 0"
            )


PROFILES = {
    "quick": Config(),
    "full": Config(input_dim=4, hidden=(5, 5, 5, 5, 2), n_samples=1000, seeds=5, max_pivots=15000),
}


def config(profile: str = "quick", **overrides: object) -> Config:
    """The profile's config with the given (non-``None``) overrides."""
    return resolve(PROFILES, profile, **overrides)


def make_data(
    n_samples: int, input_dim: int, seed: int, stream: str = "data"
) -> tuple[np.ndarray, np.ndarray]:
    """X ~ U(−3, 3)^d and targets y ~ U(−3, 3) independent of X, as in the authors' code.

    Both come from ``child_rng(seed, stream)``.
    """
    rng = child_rng(seed, stream)
    return rng.uniform(-3.0, 3.0, size=(n_samples, input_dim)), rng.uniform(
        -3.0, 3.0, size=n_samples
    )


@dataclass
class SimplexRuns:
    """Runs on the deep and the one-hidden-layer network for every seed, the LAD check, a table."""

    cfg: Config
    seeds: list[int]
    deep: list[SimplexTrace]
    shallow: list[SimplexTrace]
    lad: SimplexTrace
    lad_optimum: float
    table: pd.DataFrame


def _run_network(cfg: Config, seed: int, hidden: tuple[int, ...]) -> SimplexTrace:
    """One Deep ReLU Simplex run on the seed's data and a random network of widths ``hidden``."""
    X, y = make_data(cfg.n_samples, cfg.input_dim, seed)
    return deep_relu_simplex(X, y, hidden, seed=seed, max_pivots=cfg.max_pivots)


def _run_lad(cfg: Config, seed: int) -> tuple[SimplexTrace, float]:
    """The linear special case (no hidden layer) and the HiGHS LP optimum of the same problem."""
    X, y = make_data(cfg.lad_samples, cfg.lad_dim, seed, stream="lad data")
    trace = deep_relu_simplex(X, y, (), seed=seed, max_pivots=100 * cfg.lad_samples)
    return trace, lad_linprog(X, y)


def run(cfg: Config, seed: int = 0, device: str | torch.device = "cpu") -> SimplexRuns:
    """All runs of the chapter; the algorithm is float64 NumPy, so ``device`` must be the CPU."""
    if resolve_device(str(device)).type != "cpu":
        raise ParameterError(
            "the Deep ReLU Simplex runs in float64 NumPy on the CPU; use device='cpu'"
        )
    seeds = [seed + i for i in range(cfg.seeds)]
    shallow_hidden = cfg.hidden[:1]
    deep = [_run_network(cfg, s, cfg.hidden) for s in seeds]
    shallow = [_run_network(cfg, s, shallow_hidden) for s in seeds]
    lad, optimum = _run_lad(cfg, seed)
    probes = (cfg.rays, cfg.ray_radius)
    rows = [
        _summarise(t, f"deep {list(cfg.hidden)}", s, *probes)
        for t, s in zip(deep, seeds, strict=True)
    ]
    rows += [
        _summarise(t, f"shallow {list(shallow_hidden)}", s, *probes)
        for t, s in zip(shallow, seeds, strict=True)
    ]
    return SimplexRuns(cfg, seeds, deep, shallow, lad, optimum, pd.DataFrame(rows))
