"""The whole chapter's run: the toy model, then the digits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trainingdynamics.algorithms import ste as S
from trainingdynamics.seeding import child_rng, seed_everything

from .config import Config
from .quantized import DigitsResult, run_digits
from .toy import (
    CoarseGDRun,
    Teacher,
    _coarse_descent,
    _correlations,
    _monte_carlo_check,
    _near_spurious_start,
    _random_points,
    gradient_norms_at_minima,
    make_teacher,
    ratio_paths,
    saddle_gradients,
)


@dataclass
class SteResult:
    """Everything the chapter plots and checks."""

    cfg: Config
    teacher: Teacher
    monte_carlo: list[dict[str, float]]
    cosines: dict[str, np.ndarray]
    descent: dict[str, list[CoarseGDRun]]
    sampled: dict[str, list[CoarseGDRun]]
    minimum_norms: dict[str, np.ndarray]
    near_minimum: dict[str, CoarseGDRun]
    near_minimum_sampled: dict[str, CoarseGDRun]
    ratios: dict[str, np.ndarray]
    saddle: dict[str, float]
    saddle_angle: float
    digits: DigitsResult | None = None


def run_toy(cfg: Config, seed: int = 0) -> SteResult:
    """The toy-model parts: Monte Carlo checks, correlations, coarse GD from random starts and near
    θ = π.

    Each part draws from its own named stream (:func:`trainingdynamics.seeding.child_rng`); every
    mini-batch run has its own stream, shared by the three STEs.
    """
    seed_everything(seed)
    teacher = make_teacher(cfg, child_rng(seed, "teacher"))
    monte_carlo = _monte_carlo_check(cfg, teacher, child_rng(seed, "monte-carlo"))
    cosines = _correlations(cfg, teacher, child_rng(seed, "correlation-points"))
    starts = _random_points(cfg, cfg.starts, child_rng(seed, "starts"))
    descent = {
        ste: [_coarse_descent(cfg, teacher, s, ste, cfg.steps) for s in starts] for ste in S.STES
    }
    sampled = {
        ste: [
            _coarse_descent(cfg, teacher, s, ste, cfg.steps, child_rng(seed, "mini-batches", i))
            for i, s in enumerate(starts[:2])
        ]
        for ste in S.STES
    }
    near = _near_spurious_start(cfg, teacher, child_rng(seed, "near-minimum-start"))
    near_minimum = {
        ste: _coarse_descent(cfg, teacher, near, ste, cfg.minimum_steps) for ste in S.STES
    }
    near_sampled = {
        ste: _coarse_descent(
            cfg, teacher, near, ste, cfg.minimum_steps, child_rng(seed, "near-minimum-mini-batches")
        )
        for ste in S.STES
    }
    ratios = ratio_paths(cfg, teacher, child_rng(seed, "ratio-paths"))
    saddle = saddle_gradients(cfg, teacher, child_rng(seed, "saddle-points"))
    return SteResult(
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


def run(cfg: Config, seed: int = 0, device: torch.device | str = "cpu") -> SteResult:
    """The whole chapter: :func:`run_toy` then :func:`run_digits`."""
    result = run_toy(cfg, seed)
    result.digits = run_digits(cfg, seed)  # a stack of small MLPs: the CPU is the right device
    return result
