"""Configuration and the batched GD experiments of the plateaus chapter."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

from trainingdynamics.models.shallow import (
    DIVERGENCE_FACTOR,
    TARGETS,
    GDTrajectory,
    Params,
    gradient_descent,
    init_params,
    init_params_he,
    make_data,
)
from trainingdynamics.profiles import ParameterError, require_positive, resolve
from trainingdynamics.seeding import child_rng
from trainingdynamics.training import log_spaced_steps

TITLE = "Plateaus of gradient descent on shallow ReLU networks"


CLAIM = (
    "GD plateaus of 1-D shallow ReLU networks: exact activation-pattern least-squares structure, "
    "and how far 'plateau = frozen pattern' holds."
)


PAPER = "ainsworth2021plateau"


# recorded steps of the width-100 example at which L_A is computed (each is a 200 × 200 solve)
PAPER_BOUND_CHECKS = 60


@dataclass(frozen=True)
class Config:
    """Network, data and GD budget of the main experiment, the paper's example and the sweep."""

    width: int = 8
    n_points: int = 40
    lr: float = 1e-2
    steps: int = 40_000
    output_scale: float = 0.1
    seeds: int = 4
    records: int = 300
    targets: tuple[str, ...] = ("abs", "piecewise", "sin5pi")
    polish_steps: int = 20_000
    paper_width: int = 100
    paper_points: int = 100
    paper_lr: float = 1e-3
    paper_steps: int = 20_000
    sweep_widths: tuple[int, ...] = (8,)
    sweep_scales: tuple[float, ...] = (1.0,)
    c1_width: int = 20
    c1_scale: float = 0.1
    # runs in the (C1) regime; if that regime is the main setting, its `seeds` main runs are used
    c1_seeds: int = 16
    # the regime map (piecewise target): every width × points × loss normalisation, each one batch
    # of output scales × initialisations × map_seeds networks
    map_widths: tuple[int, ...] = (20,)
    map_points: tuple[int, ...] = (20,)
    map_scales: tuple[float, ...] = (0.1, 1.0)
    map_inits: tuple[str, ...] = ("uniform", "he")
    map_losses: tuple[str, ...] = ("mean", "sum")
    map_seeds: int = 4
    map_steps: int = 10_000

    def __post_init__(self) -> None:
        require_positive(
            self, "width", "n_points", "lr", "steps", "output_scale", "seeds", "records"
        )
        require_positive(
            self, "polish_steps", "paper_width", "paper_points", "paper_lr", "paper_steps"
        )
        require_positive(self, "sweep_widths", "sweep_scales", "c1_width", "c1_scale", "c1_seeds")
        require_positive(self, "map_widths", "map_points", "map_scales", "map_seeds", "map_steps")
        for name, allowed in (("map_inits", ("uniform", "he")), ("map_losses", ("mean", "sum"))):
            if not getattr(self, name) or set(getattr(self, name)) - set(allowed):
                raise ParameterError(
                    f"parameter {name} must be a non-empty list from {list(allowed)}, got "
                    f"{getattr(self, name)!r}"
                )
        if min(self.map_points) < 3:
            raise ParameterError("parameter map_points must be at least 3")
        unknown = sorted(set(self.targets) - set(TARGETS))
        if unknown or not self.targets:
            raise ParameterError(
                f"parameter targets must be a non-empty list from {sorted(TARGETS)}, got "
                f"{self.targets!r}"
            )
        if min(self.n_points, self.paper_points) < 3:
            raise ParameterError("parameters n_points and paper_points must be at least 3")


PROFILES = {
    "quick": Config(seeds=6),
    "full": Config(
        steps=100_000,
        seeds=20,
        records=400,
        paper_steps=200_000,
        polish_steps=50_000,
        sweep_widths=(8, 20),
        sweep_scales=(0.1, 1.0),
        c1_seeds=20,
        map_widths=(8, 20, 100),
        map_points=(20, 50, 100),
    ),
}


def config(profile: str = "quick", **overrides: object) -> Config:
    """The profile's config with the given (non-``None``) overrides."""
    return resolve(PROFILES, profile, **overrides)


@dataclass
class Experiment:
    """GD runs of a batch of networks on a common grid x; arrays carry batch axes (..., )."""

    x: np.ndarray
    y: np.ndarray  # (..., m), broadcast against the batch
    lr: float | np.ndarray
    trajectory: GDTrajectory
    seconds: float

    @property
    def steps_per_second(self) -> float:
        """Network-steps per second (the batch runs side by side)."""
        return self.trajectory.loss[..., 0].size * int(self.trajectory.steps[-1]) / self.seconds


def _train_batch(
    x: np.ndarray,
    y: np.ndarray,
    start: Params,
    lr: float | np.ndarray,
    steps: int,
    records: int,
    *,
    freeze_pattern: bool = False,
) -> Experiment:
    """Full-batch GD from ``start`` with log-spaced recording, timed.

    With ``freeze_pattern`` (polishing) a diverging network is not an error: its loss turns
    non-finite and the polishing reports it as not converged.
    """
    began = time.perf_counter()
    trajectory = gradient_descent(
        x,
        y,
        start,
        lr,
        steps,
        log_spaced_steps(steps, records),
        freeze_pattern=freeze_pattern,
        divergence_factor=None if freeze_pattern else DIVERGENCE_FACTOR,
    )
    return Experiment(x, y, lr, trajectory, time.perf_counter() - began)


def main_experiment(cfg: Config, seed: int) -> Experiment:
    """Every target × ``cfg.seeds`` networks of width ``cfg.width``, batch (targets, seeds)."""
    rng = child_rng(seed, "main-init")
    x, _ = make_data(cfg.targets[0], cfg.n_points)
    y = np.stack([make_data(target, cfg.n_points)[1] for target in cfg.targets])[:, None, :]
    start = init_params(rng, cfg.width, (len(cfg.targets), cfg.seeds), cfg.output_scale)
    return _train_batch(x, y, start, cfg.lr, cfg.steps, cfg.records)


def _paper_experiment(cfg: Config, seed: int) -> Experiment:
    """The reported example: sin(5πx), ``paper_width`` (100) neurons, ``paper_points`` points,
    step ``paper_lr`` (1e-3), output scale 1: batch (2,), the U(−1, 1) and the He initialisation."""
    x, y = make_data("sin5pi", cfg.paper_points)
    uniform = init_params(child_rng(seed, "paper-init"), cfg.paper_width, (1,), 1.0)
    he = init_params_he(child_rng(seed, "paper-init", "he"), cfg.paper_width, (1,), 1.0)
    start = Params(*(np.concatenate([getattr(uniform, k), getattr(he, k)]) for k in "cwb"))
    return _train_batch(x, y, start, cfg.paper_lr, cfg.paper_steps, cfg.records)


def _sweep_settings(cfg: Config) -> list[tuple[int, float]]:
    """(width, output scale) pairs of the sweep: the grid plus the (C1) regime, without the main
    setting."""
    grid = set(itertools.product(cfg.sweep_widths, cfg.sweep_scales)) | {
        (cfg.c1_width, cfg.c1_scale)
    }
    return sorted(grid - {(cfg.width, cfg.output_scale)})


def _sweep_runs_at(cfg: Config, width: int, scale: float) -> int:
    """Networks trained at a sweep setting: ``c1_seeds`` in the (C1) regime, ``seeds`` elsewhere."""
    return cfg.c1_seeds if (width, scale) == (cfg.c1_width, cfg.c1_scale) else cfg.seeds


def sweep_experiments(cfg: Config, seed: int) -> dict[tuple[int, float], Experiment]:
    """The piecewise-linear target at every sweep setting, each from its own named random stream."""
    x, y = make_data("piecewise", cfg.n_points)
    experiments = {}
    for width, scale in _sweep_settings(cfg):
        rng = child_rng(seed, "sweep-init", width, repr(float(scale)))
        start = init_params(rng, width, (_sweep_runs_at(cfg, width, scale),), scale)
        experiments[width, scale] = _train_batch(x, y, start, cfg.lr, cfg.steps, cfg.records)
    return experiments


def _sweep_labels(cfg: Config, width: int, scale: float) -> list[dict]:
    """Run labels of the sweep experiment at (width, output scale), in batch order."""
    return [
        {"width": width, "output scale": scale, "seed": k}
        for k in range(_sweep_runs_at(cfg, width, scale))
    ]


def _main_labels(cfg: Config) -> list[dict]:
    """Run labels of :func:`main_experiment` in batch order."""
    return [{"target": target, "seed": s} for target in cfg.targets for s in range(cfg.seeds)]
