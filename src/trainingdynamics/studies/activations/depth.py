"""Depth: tanh's λ_min through re-normalised random hidden layers."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from trainingdynamics.diagnostics.gram import (
    Activation,
    angles,
    correlations,
    dual,
    propagate,
    sphere_in_subspace,
)
from trainingdynamics.seeding import child_rng

from .config import (
    DEPTH_POINTS,
    DEPTH_SCALE,
    DEPTH_SUFFICIENT,
    KINKED_FLOOR,
    SLOPE_STEP,
    Config,
)
from .spectra import _claim_circles, _floor_of, gram, spectrum

# ------------------------------------------- depth (depth_slope, depth_growth,
# depth_reaches_kinked)


@dataclass
class DepthSweep:
    """Growth of tanh's λ_min with depth on circles, median over independent draws of the points."""

    depths: np.ndarray
    scales: np.ndarray
    growth: (
        np.ndarray
    )  # (scales, depths): median over draws of λ_min(G^{(L)}) / λ_min(G^{(1)}), n = DEPTH_POINTS
    sizes: np.ndarray
    # per size n: median growth from depth 1 to DEPTH_SUFFICIENT at σ_w = DEPTH_SCALE (NaN:
    # unresolved)
    size_growth: np.ndarray
    # sets of DEPTH_POINTS points drawn again because their depth-1 λ_min was below round-off
    unresolved: int
    # (claim_draws, depths): λ_min(G^{(L)}) of tanh on the n_points circles (floored), σ_w =
    # DEPTH_SCALE
    circle_lambda_min: np.ndarray
    # (claim_draws, depths): 1 − max_{i≠j} |ρ_ij^{(L−1)}| of the top layer's inputs on those circles
    circle_gap: np.ndarray
    # the slope of the correlation map at ρ = 1, χ = σ²E[tanh'(σz)²]/E[tanh(σz)²] by Gauss–Hermite
    # quadrature
    chi: float
    # the same slope measured on the chapter's map: (1 − ρ')/(1 − ρ) at 1 − ρ = SLOPE_STEP
    slope: float


def chi_quadrature(scale: float = DEPTH_SCALE, nodes: int = 200) -> float:
    """χ = σ²E[φ'(σz)²]/E[φ(σz)²] for φ = tanh, z ~ N(0, 1), by Gauss–Hermite quadrature
    (independent of the duals).
    """
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    return float(
        scale**2
        * np.sum(w * (1.0 - np.tanh(scale * z) ** 2) ** 2)
        / np.sum(w * np.tanh(scale * z) ** 2)
    )


def map_slope(scale: float = DEPTH_SCALE, step: float = SLOPE_STEP) -> float:
    """(1 − ρ')/(1 − ρ) for one re-normalised tanh layer of the chapter's depth map, at 1 − ρ =
    ``step``.
    """
    rho = np.array([[1.0, 1.0 - step], [1.0 - step, 1.0]])
    return float((1.0 - propagate(rho, Activation("tanh"), 1, "quadrature", scale)[0, 1]) / step)


def depth_path(
    X: np.ndarray, depths: tuple[int, ...], scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """tanh's floored λ_min(G^{(L)}) and the top layer's 1 − max |ρ_ij| at each L, layer by layer.

    The same as ``gram_matrix(X, "tanh", depth=L, weight_scale=scale)`` for each L, without
    re-propagating from the input.
    """
    tanh = Activation("tanh")
    rho = correlations(X)
    lambda_min, gap = [], []
    for L in range(1, max(depths) + 1):
        if L > 1:
            rho = propagate(rho, tanh, 1, "quadrature", scale)
        if L in depths:
            lambda_min.append(
                spectrum(dual(tanh, "derivative", angles(rho), method="quadrature") * rho)[0]
            )
            off = np.abs(rho - np.eye(len(rho)))
            gap.append(1.0 - off.max())
    return np.array(lambda_min), np.array(gap)


def resolved_lambda_min(G: np.ndarray) -> float:
    """λ_min(G), or NaN when it is below the round-off floor n·10⁻¹⁴·λ_max."""
    eigenvalues = np.linalg.eigvalsh(G)
    return float(eigenvalues[0]) if eigenvalues[0] > _floor_of(eigenvalues) else math.nan


def _depth_profile(X: np.ndarray, depths: tuple[int, ...], scale: float) -> np.ndarray:
    """Resolved λ_min of tanh's depth-L Gram for each L (NaN below round-off)."""
    return np.array(
        [
            resolved_lambda_min(gram(X, Activation("tanh"), depth=L, weight_scale=scale))
            for L in depths
        ]
    )


def _circle_draws(cfg: Config, seed: int, n: int) -> list[np.ndarray]:
    """``depth_draws`` independent samples of n points on a circle in R^ambient_dim."""
    return [
        sphere_in_subspace(n, 2, cfg.ambient_dim, child_rng(seed, "depth-circles", n, draw))
        for draw in range(cfg.depth_draws)
    ]


def resolved_circles(cfg: Config, seed: int) -> tuple[list[np.ndarray], int]:
    """``depth_draws`` sets of DEPTH_POINTS points on a circle, depth-1 λ_min above round-off.

    The growth is only measurable on such sets, so sets below round-off (a few percent at 12 points)
    are drawn again; returns the sets and the number left out. This keeps the claim's value finite.
    """
    draws: list[np.ndarray] = []
    left_out = 0
    while len(draws) < cfg.depth_draws:
        index = len(draws) + left_out
        X = sphere_in_subspace(
            DEPTH_POINTS, 2, cfg.ambient_dim, child_rng(seed, "depth-circles", DEPTH_POINTS, index)
        )
        if math.isnan(resolved_lambda_min(gram(X, Activation("tanh")))):
            left_out += 1
            if left_out > 100 * cfg.depth_draws:
                raise RuntimeError(
                    f"no circle of {DEPTH_POINTS} points with a resolved depth-1 λ_min in "
                    f"{left_out} draws"
                )
        else:
            draws.append(X)
    return draws, left_out


def median_growth(profiles: np.ndarray) -> np.ndarray:
    """Median over draws (axis 0) of λ_min(L)/λ_min(1), leaving out unresolved draws (NaN if all
    are).
    """
    ratios = profiles / profiles[..., :1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice gives NaN, as intended
        return np.nanmedian(ratios, axis=0)


def depth_sweep(cfg: Config, seed: int) -> DepthSweep:
    """Median growth of λ_min(G^{(L)}) over depth 1 for tanh.

    Per weight scale on DEPTH_POINTS points (sets resolved at depth 1, so the claim is always
    measured), and per number of points at σ_w = DEPTH_SCALE (the exploration; NaN where
    unresolved).
    """
    scales = tuple(sorted(set(cfg.depth_weight_scales) | {DEPTH_SCALE}))
    draws, left_out = resolved_circles(cfg, seed)
    profiles = np.array(
        [[_depth_profile(X, cfg.depths, s) for s in scales] for X in draws]
    )  # (draws, scales, depths)
    by_size = [
        median_growth(
            np.array(
                [
                    _depth_profile(X, (1, DEPTH_SUFFICIENT), DEPTH_SCALE)
                    for X in _circle_draws(cfg, seed, n)
                ]
            )
        )[1]
        for n in cfg.depth_sizes
    ]
    paths = [depth_path(X, tuple(cfg.depths), DEPTH_SCALE) for X in _claim_circles(cfg, seed, 2)]
    return DepthSweep(
        np.array(cfg.depths),
        np.array(scales),
        median_growth(profiles),
        np.array(cfg.depth_sizes),
        np.array(by_size),
        left_out,
        np.array([p[0] for p in paths]),
        np.array([p[1] for p in paths]),
        chi_quadrature(),
        map_slope(),
    )


def depth_growth(
    sweep: DepthSweep, scale: float = DEPTH_SCALE, depth: int = DEPTH_SUFFICIENT
) -> float:
    """Median λ_min at ``depth`` over λ_min at depth 1, at hidden weight scale ``scale``."""
    return float(sweep.growth[list(sweep.scales).index(scale), list(sweep.depths).index(depth)])


def depth_reached(sweep: DepthSweep, level: float = KINKED_FLOOR) -> float:
    """The smallest depth L swept at which the median over the n_points circles of tanh's λ_min
    reaches ``level`` (∞ if none).
    """
    reached = np.flatnonzero(np.median(sweep.circle_lambda_min, axis=0) >= level)
    return float(sweep.depths[reached[0]]) if reached.size else math.inf
