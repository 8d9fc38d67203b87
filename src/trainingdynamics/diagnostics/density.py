"""Spectral densities by stochastic Lanczos quadrature (SLQ), for H, G and K.

For a symmetric P × P operator A with eigenpairs (λ_i, u_i) the spectral measure is
μ = (1/P) Σ_i δ_{λ_i}. A unit probe v gives the quadrature vᵀ g(A) v = Σ_i (u_i·v)² g(λ_i), and
m Lanczos steps from v give it to high order: with T_m = U diag(θ) Uᵀ the weights are
τ_j = U_{0j}², exact for polynomials of degree < 2m (Golub & Meurant, 2010; Ubaru, Chen & Saad,
SIAM J. Matrix Anal. Appl. 38, 2017). Averaging over Gaussian probes makes E[(u_i·v)²] = 1/P.
The smoothed density is φ_σ(t) = Σ_probes Σ_j τ_j N(t; θ_j, σ²) / probes (Gaussian broadening,
as in Ghorbani, Krishnan & Xiao, ICML 2019; PyHessian's ``density()``). Tridiagonals are
diagonalised in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import torch

from trainingdynamics.diagnostics.functional import require_count
from trainingdynamics.diagnostics.lanczos import as_matvec, lanczos_tridiagonal
from trainingdynamics.seeding import torch_generator

Matvec = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class SpectralDensity:
    """Quadrature nodes θ and weights τ per probe (each row sums to 1), and the products used."""

    nodes: np.ndarray  # (probes, m) Ritz values
    weights: np.ndarray  # (probes, m)
    n_hvp: int

    def moment(self, power: int) -> float:
        """∫ t^p dμ ≈ (1/P) Tr A^p, averaged over the probes."""
        return float(np.mean(np.sum(self.weights * self.nodes**power, axis=1)))

    def moment_stderr(self, power: int) -> float:
        """The standard error of :meth:`moment` over the probes (NaN for one probe)."""
        per_probe = np.sum(self.weights * self.nodes**power, axis=1)
        if len(per_probe) < 2:
            return float("nan")
        return float(np.std(per_probe, ddof=1) / np.sqrt(len(per_probe)))

    def grid(self, points: int = 512, sigma: float | None = None) -> np.ndarray:
        """An even grid over the nodes' range, widened by 5σ on both sides."""
        sigma = self.default_sigma() if sigma is None else sigma
        return np.linspace(self.nodes.min() - 5 * sigma, self.nodes.max() + 5 * sigma, points)

    def default_sigma(self) -> float:
        """σ = 1% of the nodes' range (1 if the range is zero)."""
        spread = float(self.nodes.max() - self.nodes.min())
        return 0.01 * spread if spread > 0 else 1.0

    def density(self, grid: np.ndarray, sigma: float | None = None) -> np.ndarray:
        """φ_σ on ``grid``: the probes' Gaussian-broadened quadratures, averaged."""
        sigma = self.default_sigma() if sigma is None else sigma
        return smoothed_density(
            self.nodes.ravel(), self.weights.ravel() / len(self.nodes), grid, sigma
        )


def smoothed_density(
    nodes: np.ndarray, weights: np.ndarray, grid: np.ndarray, sigma: float
) -> np.ndarray:
    """Σ_j w_j N(t; θ_j, σ²) on ``grid``."""
    gaps = (np.asarray(grid)[:, None] - np.asarray(nodes)[None, :]) / sigma
    return np.exp(-0.5 * gaps**2) @ np.asarray(weights) / (sigma * np.sqrt(2 * np.pi))


def exact_density(eigenvalues: np.ndarray, grid: np.ndarray, sigma: float) -> np.ndarray:
    """The dense reference: every eigenvalue with weight 1/P, broadened alike."""
    values = np.asarray(eigenvalues, dtype=np.float64)
    return smoothed_density(values, np.full(len(values), 1.0 / len(values)), grid, sigma)


def l1_distance(first: np.ndarray, second: np.ndarray, grid: np.ndarray) -> float:
    """∫ |φ₁ − φ₂| dt on an even grid (0 for equal densities, at most 2 for two densities)."""
    return float(np.sum(np.abs(first - second)) * (grid[1] - grid[0]))


def stochastic_lanczos_quadrature(
    matvec: Matvec | object, dim: int, *, steps: int = 30, probes: int = 10, seed: int = 0
) -> SpectralDensity:
    """SLQ of a symmetric operator: ``probes`` Gaussian probes, ``steps`` Lanczos steps each."""
    apply = as_matvec(matvec)
    steps, probes = require_count("steps", steps), require_count("probes", probes)
    steps = min(steps, dim)
    generator = torch_generator(seed)
    nodes, weights, used = np.zeros((probes, steps)), np.zeros((probes, steps)), 0
    for i in range(probes):
        alphas, betas = lanczos_tridiagonal(
            apply, torch.randn(dim, generator=generator, dtype=torch.float64), steps
        )
        theta, vectors = scipy.linalg.eigh_tridiagonal(alphas, betas)
        found = len(theta)  # fewer than ``steps`` on an invariant subspace: the rest weigh 0
        nodes[i, :found], weights[i, :found] = theta, vectors[0] ** 2
        nodes[i, found:] = theta[-1]
        used += found
    return SpectralDensity(nodes, weights, used)
