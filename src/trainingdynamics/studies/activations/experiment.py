"""The whole chapter's run: every measurement, and the paper's Figure 1."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trainingdynamics.device import resolve_device
from trainingdynamics.diagnostics.gram import ACTIVATIONS, Activation, sphere_in_subspace
from trainingdynamics.seeding import child_rng, child_seed, seed_everything

from .config import FIGURE_WIDTH, Config
from .depth import DepthSweep, depth_sweep
from .spectra import GramCheck, Spectra, _check_gram, gram, measure_spectra, spectrum
from .training import (
    TrainingRun,
    WidthLaw,
    _data_label,
    _train_network,
    _width_law,
    bump_target,
    gd_residuals,
    training_data,
)

# ------------------------------------------------------------------ the paper's Figure 1


@dataclass
class FigureOne:
    """The paper's Figure 1 on our synthetic data: G's spectra at initialisation and GD's loss, per
    n and data.
    """

    points: tuple[int, ...]
    spectra: dict[
        tuple[int, str], dict[str, np.ndarray]
    ]  # (n, data) → activation → eigenvalues, descending
    losses: dict[
        tuple[int, str], dict[str, np.ndarray]
    ]  # (n, data) → activation → ½‖u_t − y‖², t = 0..train_steps


def _figure_one(cfg: Config, seed: int, device: str | torch.device = "cpu") -> FigureOne:
    """Every activation on n ∈ figure_points points of a circle (bump target) and of R^d (±1
    labels), width FIGURE_WIDTH.
    """
    spectra: dict = {}
    losses: dict = {}
    for n in cfg.figure_points:
        for dim in (2, cfg.ambient_dim):
            rng = child_rng(seed, "figure-one", n, dim)
            X = sphere_in_subspace(n, dim, dim, rng)
            y = bump_target(X, cfg.bump_concentration) if dim == 2 else rng.choice([-1.0, 1.0], n)
            key = (n, _data_label(cfg, dim))
            spectra[key], losses[key] = {}, {}
            for name in ACTIVATIONS:
                activation = Activation(name)
                run = gd_residuals(
                    X,
                    y,
                    activation,
                    FIGURE_WIDTH,
                    cfg.train_steps,
                    cfg.step_fraction,
                    child_seed(seed, "figure-one-init", n, dim),
                    device,
                )[0]
                spectra[key][name] = spectrum(gram(X, activation))[::-1]
                losses[key][name] = run.loss
    return FigureOne(tuple(cfg.figure_points), spectra, losses)


# ---------------------------------------------------------------------- run


@dataclass
class ActivationsResult:
    """Everything the chapter shows and checks."""

    cfg: Config
    check: GramCheck
    spectra: Spectra
    runs_low: list[TrainingRun]
    runs_high: list[TrainingRun]
    depth: DepthSweep
    widths: WidthLaw
    figure: FigureOne


def _train_all(
    cfg: Config, seed: int, dim: int, device: str | torch.device = "cpu"
) -> list[TrainingRun]:
    """One GD run per activation on the same data (k = dim), all from the same initial weights."""
    X, y = training_data(cfg, seed, dim)
    init = child_seed(seed, "training-init", dim)
    return [
        _train_network(cfg, X, y, Activation(name), init, resolve_device(str(device)))
        for name in cfg.train_activations
    ]


def run(cfg: Config, seed: int = 0, device: str | torch.device = "cpu") -> ActivationsResult:
    """The whole chapter: Gram checks, spectra, training on 2-D and d-D data, depth, the width law
    and Figure 1.
    """
    seed_everything(seed)
    return ActivationsResult(
        cfg,
        _check_gram(cfg, seed),
        measure_spectra(cfg, seed),
        _train_all(cfg, seed, 2, device),
        _train_all(cfg, seed, cfg.ambient_dim, device),
        depth_sweep(cfg, seed),
        _width_law(cfg, seed, device),
        _figure_one(cfg, seed, device),
    )
