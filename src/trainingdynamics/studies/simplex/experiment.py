"""The experiment: the settings, their data and networks, and the Deep ReLU Simplex runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch

from trainingdynamics.algorithms.simplex import (
    Rule,
    SimplexTrace,
    deep_relu_simplex,
    lad_linprog,
    random_network,
)
from trainingdynamics.device import resolve_device
from trainingdynamics.profiles import ParameterError, require_positive, resolve
from trainingdynamics.seeding import child_rng
from trainingdynamics.studies.simplex.analysis import _density_profile, _summarise

Targets = Literal["noise", "teacher"]
PAPER_CLAIMS = ("decay_shape", "decay_predictable", "vertex_density")  # may be known failures


@dataclass(frozen=True)
class Config:
    """The settings' sizes and seeds, the pivot budget, the targets and the density probes.

    The main setting trains the first layer of widths ``hidden`` on ``seeds`` seeds; every width
    list in ``layer_hidden`` trains layer ``layer`` on ``layer_seeds`` seeds with noise targets and
    on ``teacher_seeds`` seeds with teacher targets; the first of them also runs ``flip_seeds``
    seeds with the authors' pivot rule. ``known_failures`` names the paper's claims expected not
    to reproduce at these settings, declared from a pilot on other seeds before the run.
    """

    input_dim: int = 2
    hidden: tuple[int, ...] = (5, 5)
    n_samples: int = 200
    seeds: int = 5
    max_pivots: int = 2000
    layer: int = 2
    layer_hidden: tuple[tuple[int, ...], ...] = ((5, 2), (4, 2))
    layer_seeds: int = 3
    teacher_seeds: int = 3
    teacher_noise: float = 0.1
    flip_seeds: int = 3
    lad_samples: int = 200
    lad_dim: int = 3
    lines: int = 8
    line_radius: float = 0.05
    offset: float = 0.05
    profile_offsets: tuple[float, ...] = (0.0125, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
    known_failures: tuple[str, ...] = ("decay_shape", "decay_predictable", "vertex_density")

    def __post_init__(self) -> None:
        require_positive(
            self,
            "input_dim",
            "hidden",
            "n_samples",
            "seeds",
            "max_pivots",
            "layer",
            "lad_samples",
            "lad_dim",
            "lines",
            "line_radius",
            "offset",
            "profile_offsets",
            "teacher_noise",
        )
        for name in ("layer_seeds", "teacher_seeds", "flip_seeds"):
            if getattr(self, name) < 0:
                raise ParameterError(f"parameter {name} must be non-negative")
        if any(self.layer > len(h) or min(h, default=0) <= 0 for h in self.layer_hidden):
            raise ParameterError(
                f"every layer_hidden entry needs {self.layer} or more positive widths "
                f"(layer = {self.layer} is trained), got {self.layer_hidden!r}"
            )
        unknown = set(self.known_failures) - set(PAPER_CLAIMS)
        if unknown:
            raise ParameterError(
                f"known_failures must name claims among {', '.join(PAPER_CLAIMS)}, "
                f"got {', '.join(sorted(unknown))}"
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
    "full": Config(
        input_dim=4,
        hidden=(5, 5, 5, 5, 2),
        n_samples=1000,
        seeds=10,
        max_pivots=30000,
        layer_seeds=5,
        teacher_seeds=5,
        flip_seeds=5,
        known_failures=("decay_predictable", "vertex_density"),
    ),
}


def config(profile: str = "quick", **overrides: object) -> Config:
    """The profile's config with the given (non-``None``) overrides."""
    return resolve(PROFILES, profile, **overrides)


@dataclass(frozen=True)
class Setting:
    """One regime: which layer of which network, trained on which targets with which pivot rule."""

    hidden: tuple[int, ...]
    layer: int
    targets: Targets
    rule: Rule
    seeds: tuple[int, ...]

    @property
    def name(self) -> str:
        """E.g. "layer 1 of [5, 5], noise, steepest"."""
        return f"layer {self.layer} of {list(self.hidden)}, {self.targets}, {self.rule}"


def settings(cfg: Config, seed: int) -> list[Setting]:
    """The main setting first, then the layer-ℓ settings on noise and on teacher targets, then the
    authors' pivot rule on the first layer-ℓ setting (or the main one if there is none)."""
    seeds = [tuple(seed + i for i in range(n)) for n in (cfg.seeds, cfg.layer_seeds)]
    teacher, flip = (tuple(seed + i for i in range(n)) for n in (cfg.teacher_seeds, cfg.flip_seeds))
    grid = [Setting(cfg.hidden, 1, "noise", "steepest", seeds[0])]
    grid += [Setting(h, cfg.layer, "noise", "steepest", seeds[1]) for h in cfg.layer_hidden]
    grid += [Setting(h, cfg.layer, "teacher", "steepest", teacher) for h in cfg.layer_hidden]
    pivoted = grid[1] if cfg.layer_hidden else grid[0]
    grid.append(Setting(pivoted.hidden, pivoted.layer, "noise", "sequential_flip", flip))
    return [s for s in grid if s.seeds]


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


def teacher_data(
    n_samples: int, input_dim: int, hidden: tuple[int, ...], seed: int, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """X ~ U(−3, 3)^d and y = f_T(x) + noise·ε, f_T a random teacher of widths ``hidden``.

    The teacher (all weights U(−1, 1)) and ε ~ N(0, 1) come from ``child_rng(seed, "teacher")``,
    independent of the student network's stream. The noise is absolute (a random teacher can be
    constant on the data), so the minimum loss is never 0.
    """
    X, _ = make_data(n_samples, input_dim, seed)
    rng = child_rng(seed, "teacher")
    clean = random_network(input_dim, hidden, rng).outputs(X)
    return X, clean + noise * rng.standard_normal(n_samples)


@dataclass(frozen=True)
class SettingRun:
    """One seed of one setting and its trace."""

    setting: Setting
    seed: int
    trace: SimplexTrace


@dataclass
class SimplexRuns:
    """Every setting's runs, the LAD check, the per-run table and the density profiles."""

    cfg: Config
    settings: list[Setting]
    runs: list[SettingRun]
    lad: SimplexTrace
    lad_optimum: float
    table: pd.DataFrame
    profile: pd.DataFrame

    @property
    def main(self) -> list[SettingRun]:
        """The runs of the main setting (first layer, noise targets, steepest edge)."""
        return [r for r in self.runs if r.setting == self.settings[0]]


def _run_setting(cfg: Config, setting: Setting, seed: int) -> SettingRun:
    """One Deep ReLU Simplex run of ``setting`` on the seed's data and random network."""
    if setting.targets == "teacher":
        X, y = teacher_data(cfg.n_samples, cfg.input_dim, setting.hidden, seed, cfg.teacher_noise)
    else:
        X, y = make_data(cfg.n_samples, cfg.input_dim, seed)
    trace = deep_relu_simplex(
        X,
        y,
        setting.hidden,
        seed=seed,
        max_pivots=cfg.max_pivots,
        rule=setting.rule,
        layer=setting.layer,
    )
    return SettingRun(setting, seed, trace)


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
    grid = settings(cfg, seed)
    runs = [_run_setting(cfg, s, k) for s in grid for k in s.seeds]
    lad, optimum = _run_lad(cfg, seed)
    table = pd.DataFrame([_summarise(r.trace, r.setting.name, r.seed, cfg) for r in runs])
    profile = pd.concat(
        [_density_profile(r.trace, r.seed, cfg).assign(seed=r.seed) for r in runs[: cfg.seeds]]
    )
    return SimplexRuns(cfg, grid, runs, lad, optimum, table, profile)
