"""The Gram matrices and their spectra: exact vs Monte Carlo and finite width, λ_min across data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trainingdynamics.diagnostics.gram import (
    ACTIVATIONS,
    Activation,
    RandomFeatureNetwork,
    empirical_gram,
    gram_matrix,
    montecarlo_gram,
    separation,
    sphere_in_subspace,
)
from trainingdynamics.seeding import child_rng, child_seed, torch_generator

from .config import RESOLUTION, Config


def _exact_method(activation: Activation) -> str:
    """Closed form where it exists (ReLU, the quadratic), quadrature otherwise."""
    return "exact" if activation.name in ("relu", "quadratic") else "quadrature"


def gram(X: np.ndarray, activation: Activation, **kwargs: object) -> np.ndarray:
    """The infinite-width first-layer Gram G, by the most accurate method available."""
    return gram_matrix(X, activation, kind="derivative", method=_exact_method(activation), **kwargs)


def spectrum(G: np.ndarray) -> np.ndarray:
    """Eigenvalues in ascending order, floored at the numerical resolution n·10⁻¹⁴·λ_max."""
    eigenvalues = np.linalg.eigvalsh(G)
    return np.maximum(eigenvalues, _floor_of(eigenvalues))


def _floor_of(eigenvalues: np.ndarray) -> float:
    """Below n·10⁻¹⁴·λ_max an eigenvalue is indistinguishable from round-off in the entries."""
    return len(eigenvalues) * RESOLUTION * float(eigenvalues[-1])


# ------------------------------------------------- the Gram checks (mc_zscore, width_sqrt_law)


@dataclass
class GramCheck:
    """Exact Gram vs Monte Carlo (z-scores) and vs the empirical Gram of finite networks."""

    rms_z: dict[str, float]
    widths: np.ndarray
    width_errors: np.ndarray  # RMS over repeats of ‖H_m − G‖_F / ‖G‖_F


def _check_gram(cfg: Config, seed: int) -> GramCheck:
    """Monte Carlo z-scores of the exact ReLU Grams and the empirical Gram's error across widths."""
    X = sphere_in_subspace(
        cfg.mc_points, cfg.mc_dim, cfg.mc_dim, child_rng(seed, "montecarlo-points")
    )
    relu = Activation("relu")
    upper = np.triu_indices(len(X))
    rms_z = {}
    for kind in ("derivative", "value"):
        mean, stderr = montecarlo_gram(
            X, relu, kind=kind, samples=cfg.mc_samples, seed=child_seed(seed, "montecarlo-weights")
        )
        z = (mean - gram_matrix(X, relu, kind=kind))[upper] / stderr[upper]
        rms_z[kind] = float(np.sqrt(np.mean(z**2)))
    G = gram_matrix(X, relu)
    Xt = torch.as_tensor(X)
    errors = [
        [
            _width_error(G, Xt, width, relu, child_seed(seed, "width-init", width, repeat))
            for repeat in range(cfg.width_repeats)
        ]
        for width in cfg.widths
    ]
    return GramCheck(rms_z, np.array(cfg.widths), np.sqrt(np.mean(np.square(errors), axis=1)))


def _width_error(
    G: np.ndarray, X: torch.Tensor, width: int, activation: Activation, seed: int
) -> float:
    """‖H_m − G‖_F / ‖G‖_F for the empirical first-layer Gram H_m of one random width-m network."""
    net = RandomFeatureNetwork(X.shape[1], width, activation, generator=torch_generator(seed))
    H = empirical_gram(net, X, ["hidden"])
    return float(np.linalg.norm(H - G) / np.linalg.norm(G))


def sqrt_width_spread(check: GramCheck) -> float:
    """max/min of error·√m over the widths: 1 for an exact m^{-1/2} law."""
    scaled = check.width_errors * np.sqrt(check.widths)
    return float(scaled.max() / scaled.min())


# ------------------------------------- spectra (smooth_over_relu, kinked_lambda_min,
# high_dim_spread)


@dataclass
class Spectra:
    """Smallest eigenvalues by activation across subspace dimension k and sample size n."""

    subspace_dims: np.ndarray
    lambda_min: dict[str, np.ndarray]  # activation → λ_min(G) per k (n = n_points)
    diagonal: dict[str, float]  # E[φ'(z)²] = G_ii, the scale of each activation's Gram
    floor: dict[str, np.ndarray]  # numerical resolution per k
    spectra_low: dict[str, np.ndarray]  # full spectrum at k = 2
    spectra_high: dict[str, np.ndarray]  # full spectrum at k = ambient_dim
    sweep_points: np.ndarray
    sweep_lambda_min: dict[str, np.ndarray]  # activation → λ_min(G) per n (k = sweep_dim)
    elu_alphas: np.ndarray
    elu_lambda_min: np.ndarray  # λ_min(G) of ELU(α) at k = 2
    draws_low: dict[
        str, np.ndarray
    ]  # every activation → λ_min(G) at k = 2 on each of claim_draws independent point sets
    draws_high: dict[
        str, np.ndarray
    ]  # every activation → λ_min(G) at k = d on each of claim_draws independent point sets
    separation_low: (
        np.ndarray
    )  # δ of each k = 2 set: the smallest distance between a point and another or its antipode


def _low_dim_data(cfg: Config, seed: int, dim: int) -> np.ndarray:
    """n_points unit vectors in a random ``dim``-dimensional subspace of R^ambient_dim."""
    return sphere_in_subspace(cfg.n_points, dim, cfg.ambient_dim, child_rng(seed, "subspace", dim))


def _dimension_sweep(
    cfg: Config, seed: int, activations: list[Activation]
) -> dict[int, dict[str, np.ndarray]]:
    """Floored spectra of every activation's Gram, per subspace dimension k."""
    return {
        k: {a.name: spectrum(gram(_low_dim_data(cfg, seed, k), a)) for a in activations}
        for k in cfg.subspace_dims
    }


def _size_sweep(cfg: Config, seed: int, activation: Activation) -> np.ndarray:
    """λ_min on the first n points of one sample (k = sweep_dim): by interlacing it can only fall
    with n.
    """
    points = sphere_in_subspace(
        max(cfg.sweep_points), cfg.sweep_dim, cfg.ambient_dim, child_rng(seed, "size-sweep")
    )
    return np.array([spectrum(gram(points[:n], activation))[0] for n in cfg.sweep_points])


def _claim_circles(cfg: Config, seed: int, dim: int) -> list[np.ndarray]:
    """The ``claim_draws`` independent sets of n_points points in a random ``dim``-dimensional
    subspace.
    """
    return [
        sphere_in_subspace(
            cfg.n_points, dim, cfg.ambient_dim, child_rng(seed, "claim-draws", dim, i)
        )
        for i in range(cfg.claim_draws)
    ]


def _independent_draws(
    cfg: Config, seed: int, dim: int, names: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """λ_min of each named activation's G on ``claim_draws`` sets of n_points points (k = dim).

    One set's λ_min is set by its worst-placed points (at k = 2 the closest pair), so it varies from
    set to set with a heavy lower tail; the kinked_lambda_min and high_dim_spread claims take the
    median over the sets.
    """
    draws = _claim_circles(cfg, seed, dim)
    return {
        name: np.array([spectrum(gram(X, Activation(name)))[0] for X in draws]) for name in names
    }


def measure_spectra(cfg: Config, seed: int) -> Spectra:
    """λ_min against k and n for every activation, the full spectra at k = 2 and k = d, and ELU's α
    sweep.
    """
    activations = [Activation(name) for name in ACTIVATIONS]
    by_dim = _dimension_sweep(cfg, seed, activations)
    circle = _low_dim_data(cfg, seed, 2)
    return Spectra(
        np.array(cfg.subspace_dims),
        {a.name: np.array([by_dim[k][a.name][0] for k in cfg.subspace_dims]) for a in activations},
        {a.name: float(gram(np.array([[1.0]]), a)[0, 0]) for a in activations},
        {
            a.name: np.array([_floor_of(by_dim[k][a.name]) for k in cfg.subspace_dims])
            for a in activations
        },
        by_dim[2],
        by_dim[cfg.ambient_dim],
        np.array(cfg.sweep_points),
        {a.name: _size_sweep(cfg, seed, a) for a in activations},
        np.array(cfg.elu_alphas),
        np.array([spectrum(gram(circle, Activation("elu", alpha)))[0] for alpha in cfg.elu_alphas]),
        _independent_draws(cfg, seed, 2, ACTIVATIONS),
        _independent_draws(cfg, seed, cfg.ambient_dim, ACTIVATIONS),
        np.array([separation(X) for X in _claim_circles(cfg, seed, 2)]),
    )


def kinked_lambda_min(spectra: Spectra) -> float:
    """The smaller of ReLU's and SELU's median λ_min over the independent circles."""
    return float(min(np.median(spectra.draws_low[name]) for name in ("relu", "selu")))


def high_dim_ratios(spectra: Spectra, normalised: bool = True) -> dict[str, float]:
    """Per activation, the median over draws of (λ_min / G_ii) / (ReLU's) at k = d.

    ``normalised=False`` compares raw λ_min, which carry each activation's scale (φ → cφ scales G by
    c²): an extra.
    """
    relu = spectra.draws_high["relu"] / (spectra.diagonal["relu"] if normalised else 1.0)
    return {
        name: float(np.median(values / (spectra.diagonal[name] if normalised else 1.0) / relu))
        for name, values in spectra.draws_high.items()
    }


def high_dim_spread(spectra: Spectra, normalised: bool = True) -> float:
    """Largest factor between an activation's λ_min/G_ii and ReLU's at k = d (median over draws);
    raw with ``normalised=False``.
    """
    ratios = np.array(list(high_dim_ratios(spectra, normalised).values()))
    return float(np.max(np.maximum(ratios, 1 / ratios)))
