"""Activation patterns of 1-D shallow ReLU networks, pattern least squares, and a plateau detector.

For N(x) = Σ_j c_j σ(w_j x + b_j) on data x_1 < … < x_m, neuron j is active on
A_j = {i : w_j x_i + b_j > 0} (strict ``>`` everywhere: forward pass, gradient, pattern).
Because x ↦ fl(w x + b) is monotone, A_j is a suffix (w_j > 0), a prefix (w_j < 0), or
empty/everything (w_j = 0), so it is the index interval [lo_j, hi_j). Its activation count is
k_j = |A_j| = hi_j − lo_j. Within a fixed pattern, N(x_i) = Σ_j (α_j x_i + β_j)·1[i ∈ A_j] is
linear in (α, β); the pattern least-squares loss

    L_A = min_{α,β} (1/2m) Σ_i (Σ_j (α_j x_i + β_j)·1[i ∈ A_j] − y_i)²

is a lower bound for the loss while the pattern holds. Sums over intervals come from prefix
sums, so a forward pass or gradient costs O(n + m) and the normal equations O(n²).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

Interval = tuple[float, float]


def activation_counts(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """k_j = #{i : w_j x_i + b_j > 0} for 1-D inputs x (m,) and weights w, b (..., n)."""
    return np.sum(active_mask(x, w, b), axis=-1)


def active_mask(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The dense activation mask 1[w_j x_i + b_j > 0], shape (..., n, m)."""
    return w[..., None] * x + b[..., None] > 0


def require_sorted(x: np.ndarray) -> None:
    """Raise ``ValueError`` unless x is 1-D and strictly increasing (the interval code needs it)."""
    if x.ndim != 1 or np.any(np.diff(x) <= 0):
        raise ValueError("x must be a strictly increasing 1-D array")


def active_intervals(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[lo_j, hi_j) with A_j = {lo_j ≤ i < hi_j} for strictly increasing x, in O(n log m).

    The kink t_j = −b_j/w_j located by binary search is off by at most one data point after
    rounding; one correction step evaluates fl(w_j x_i + b_j) at the two neighbouring points, so
    the result equals :func:`active_mask` exactly.
    """
    m = len(x)
    positive, negative = w > 0, w < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        kink = -b / w
    # split = number of points left of the kink: inactive ones for w > 0, active ones for w < 0
    split = np.where(
        positive, np.searchsorted(x, kink, side="right"), np.searchsorted(x, kink, side="left")
    )
    left_active = (w * x[np.maximum(split - 1, 0)] + b) > 0
    right_active = (w * x[np.minimum(split, m - 1)] + b) > 0
    left_wrong = (split > 0) & (left_active != negative)
    right_wrong = (split < m) & (right_active != positive)
    split = split - left_wrong + right_wrong
    everything = (w == 0) & (b > 0)
    lo = np.where(positive, split, 0)
    hi = np.where(negative, split, np.where(positive | everything, m, 0))
    return lo, hi


def prefix_sums(values: np.ndarray) -> np.ndarray:
    """P with P[..., k] = Σ_{i<k} values[..., i] (a leading zero, then the cumulative sum)."""
    out = np.zeros(values.shape[:-1] + (values.shape[-1] + 1,))
    np.cumsum(values, axis=-1, out=out[..., 1:])
    return out


def interval_sums(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Σ_{lo_j ≤ i < hi_j} v_i from prefix sums P (..., m+1) of v and intervals (..., n)."""
    return np.take_along_axis(prefix, hi, axis=-1) - np.take_along_axis(prefix, lo, axis=-1)


def interval_forward(
    x: np.ndarray, alpha: np.ndarray, beta: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Σ_j (α_j x_i + β_j)·1[lo_j ≤ i < hi_j] for every i, via difference arrays, shape (..., m)."""
    m = len(x)
    batch = alpha.shape[:-1]
    rows = int(np.prod(batch))
    offsets = (np.arange(rows) * (m + 1))[:, None]
    index = np.concatenate(
        [lo.reshape(rows, -1) + offsets, hi.reshape(rows, -1) + offsets], axis=1
    ).ravel()

    def spread(coefficient: np.ndarray) -> np.ndarray:
        flat = coefficient.reshape(rows, -1)
        jumps = np.bincount(
            index, np.concatenate([flat, -flat], axis=1).ravel(), minlength=rows * (m + 1)
        )
        return np.cumsum(jumps.reshape(rows, m + 1)[:, :m], axis=1)

    return (spread(alpha) * x + spread(beta)).reshape(batch + (m,))


def pattern_gram(
    x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Normal equations G θ = g of the pattern least squares, θ = (α_1..α_n, β_1..β_n), in O(n²).

    Columns are u_j = x·1_{A_j} and v_j = 1_{A_j}; A_j ∩ A_k = [max lo, min hi), so every entry is
    an
    interval sum of 1, x, x² (Gram) or y, xy (right-hand side).
    """
    powers = prefix_sums(np.stack([np.ones_like(x), x, x * x, y, x * y]))
    start = np.maximum.outer(lo, lo)
    stop = np.maximum(np.minimum.outer(hi, hi), start)

    def over(k: int, a: np.ndarray, z: np.ndarray) -> np.ndarray:
        return powers[k][z] - powers[k][a]

    s0, s1, s2 = (over(k, start, stop) for k in range(3))
    gram = np.block([[s2, s1], [s1, s0]])
    rhs = np.concatenate([over(4, lo, hi), over(3, lo, hi)])
    return gram, rhs


def solve_gram(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Minimum-norm least-squares solution of G θ = g after Jacobi scaling (SVD with a rank cut)."""
    diagonal = np.diag(gram)
    scale = np.where(diagonal > 0, 1.0 / np.sqrt(np.where(diagonal > 0, diagonal, 1.0)), 0.0)
    scaled = gram * np.outer(scale, scale)
    solution, *_ = scipy.linalg.lstsq(scaled, rhs * scale, cond=len(rhs) * np.finfo(float).eps)
    return solution * scale


def pattern_least_squares_fit(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray, *, refinements: int = 2
) -> tuple[np.ndarray, np.ndarray, float]:
    """(α, β, L_A): the best network with the activation pattern of (w, b), and its loss.

    Solves the prefix-sum normal equations, then applies ``refinements`` steps of iterative
    refinement θ ← θ + G⁺Φᵀ(y − Φθ) with the residual evaluated directly; L_A is the loss of the
    returned (α, β), so it is attained, not extrapolated.
    """
    order = np.argsort(x)
    xs, ys = x[order], y[order]
    require_sorted(xs)
    lo, hi = active_intervals(xs, w, b)
    gram, rhs = pattern_gram(xs, ys, lo, hi)
    theta = solve_gram(gram, rhs)
    n = len(w)
    for _ in range(refinements):
        residual = ys - interval_forward(xs, theta[:n], theta[n:], lo, hi)
        _, correction_rhs = pattern_gram(xs, residual, lo, hi)
        theta = theta + solve_gram(gram, correction_rhs)
    residual = interval_forward(xs, theta[:n], theta[n:], lo, hi) - ys
    return theta[:n], theta[n:], float(0.5 * np.mean(residual**2))


def pattern_least_squares(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray) -> float:
    """L_A = min_{α,β} (1/2m) Σ_i (Σ_j (α_j x_i + β_j)·1[w_j x_i + b_j > 0] − y_i)²."""
    return pattern_least_squares_fit(x, y, w, b)[2]


def local_line(x: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through (x_i, values_i)."""
    slope, intercept = np.polyfit(x, values, 1)
    return float(slope), float(intercept)


def active_residual_sums(
    x: np.ndarray, residual: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(Σ_{A_j} r_i, Σ_{A_j} r_i x_i) for every neuron: both vanish at a stationary point with c_j ≠
    0."""
    mask = active_mask(x, w, b)
    return mask @ residual, mask @ (residual * x)


# ----------------------------------------------------------------------------------------------
# Plateau detection on a loss history recorded on a (roughly) log-spaced grid of steps.


@dataclass(frozen=True)
class Phases:
    """Detected plateaus and drops of one loss curve, as (first step, last step) intervals."""

    plateaus: list[Interval]
    drops: list[Interval]


def log_log_slope(steps: np.ndarray, loss: np.ndarray, window_decades: float) -> np.ndarray:
    """s(t) = −d log L / d log t, least-squares slope over a window of ±window/2 decades around t.

    Windowed sums of u = log10 t, v = log10 L come from prefix sums, so this is O(K log K).
    Steps must be ≥ 1 and increasing.
    """
    u, v = np.log10(steps), np.log10(loss)
    start = np.searchsorted(u, u - window_decades / 2, side="left")
    stop = np.searchsorted(u, u + window_decades / 2, side="right")
    count, su, sv, suu, suv = (
        interval_sums(prefix_sums(q), start, stop) for q in (np.ones_like(u), u, v, u * u, u * v)
    )
    variance = suu - su * su / count
    covariance = suv - su * sv / count
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(variance > 0, -covariance / variance, np.nan)


def runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of True in a boolean array, as inclusive (first, last) index pairs."""
    padded = np.concatenate([[False], flags, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(z) - 1) for a, z in zip(edges[::2], edges[1::2], strict=True)]


def detect_phases(
    steps: np.ndarray,
    loss: np.ndarray,
    *,
    window_decades: float = 0.25,
    plateau_slope: float = 0.05,
    drop_slope: float = 0.5,
    min_plateau_decades: float = 0.5,
    initial_drop: float = 0.1,
) -> Phases:
    """Plateaus and drops of a loss curve, from its smoothed log-log slope s(t)
    (:func:`log_log_slope`).

    A plateau is a maximal interval with s < ``plateau_slope`` spanning at least
    ``min_plateau_decades`` of steps (L falls by less than a factor 10^0.05 ≈ 1.12 per decade);
    a drop is a maximal interval with s > ``drop_slope``. A plateau follows a decrease: phases are
    sought only once L has fallen below (1 − ``initial_drop``)·L_0, so the flat start of a network
    that has not begun to learn is not a plateau. Step 0 is ignored.
    """
    learning = np.cumsum(loss <= (1 - initial_drop) * loss[0]) > 0
    keep = (steps >= 1) & learning
    if keep.sum() < 2:
        return Phases([], [])
    t, slope = steps[keep], log_log_slope(steps[keep], loss[keep], window_decades)
    plateaus = [
        (t[a], t[z])
        for a, z in runs(slope < plateau_slope)
        if np.log10(t[z] / t[a]) >= min_plateau_decades
    ]
    drops = [(t[a], t[z]) for a, z in runs(slope > drop_slope) if z > a]
    return Phases(
        [(float(a), float(z)) for a, z in plateaus], [(float(a), float(z)) for a, z in drops]
    )
