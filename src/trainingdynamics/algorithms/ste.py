"""Straight-through estimators (STEs) for a binarized two-linear-layer network (Yin et al. 2019).

Model: rows z_i of Z ∈ R^{m×n} are i.i.d. N(0, I_n), σ(x) = 1{x > 0} elementwise, the student
predicts vᵀσ(Zw) and the teacher v*ᵀσ(Zw*); the sample loss is ℓ = ½(vᵀσ(Zw) − v*ᵀσ(Zw*))² and
the population loss f(v, w) = E_Z ℓ. Since σ' = 0 almost everywhere, training replaces σ' by the
derivative μ' of a proxy μ in the backward pass; the result is the *coarse gradient*

    g_v = σ(Zw) r,    g_w = Zᵀ(μ'(Zw) ⊙ v) r,    r = vᵀσ(Zw) − v*ᵀσ(Zw*),

whose v-part is the exact gradient of ℓ. With θ = ∠(w, w*), ŵ = w/‖w‖, 1 the all-ones vector:

    f(v, w) = ⅛[vᵀ(I + 11ᵀ)v − 2vᵀ((1 − 2θ/π)I + 11ᵀ)v* + v*ᵀ(I + 11ᵀ)v*].

All functions take and return NumPy float64 arrays; ``QuantizedActivation`` is the torch version
of the b-bit quantized ReLU with the same selectable STE.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from scipy.special import ndtr

STE = Literal["identity", "relu", "clipped_relu"]
STES: tuple[STE, ...] = ("identity", "relu", "clipped_relu")
SQRT_2PI = np.sqrt(2.0 * np.pi)
Gradient = tuple[np.ndarray, np.ndarray]
GradientFn = Callable[[np.ndarray, np.ndarray], Gradient]


def check_ste(ste: str) -> None:
    """Raise ``ValueError`` unless ``ste`` names a known straight-through estimator."""
    if ste not in STES:
        raise ValueError(f"unknown STE {ste!r}; choose one of: {', '.join(STES)}")


def _norm(x: np.ndarray) -> np.ndarray:
    """Euclidean norm over the last axis (cheaper than ``np.linalg.norm`` in tight loops)."""
    return np.sqrt(np.sum(x * x, axis=-1))


def angle(w: np.ndarray, w_star: np.ndarray) -> np.ndarray | float:
    """θ = ∠(w, w*) = 2 atan2(‖ŵ − ŵ*‖, ‖ŵ + ŵ*‖), accurate near 0 and π; w may carry leading
    axes."""
    w_hat = w / _norm(w)[..., None]
    w_star_hat = w_star / _norm(w_star)
    theta = 2.0 * np.arctan2(_norm(w_hat - w_star_hat), _norm(w_hat + w_star_hat))
    return float(theta) if np.ndim(theta) == 0 else theta


def _moments_times(x: np.ndarray, diagonal: np.ndarray | float) -> np.ndarray:
    """¼(d·I + 11ᵀ)x, the second-moment matrices A (d = 1) and B (d = 1 − 2θ/π) applied to x."""
    return (np.asarray(diagonal)[..., None] * x + np.sum(x, axis=-1, keepdims=True)) / 4.0


def population_loss(
    v: np.ndarray, w: np.ndarray, v_star: np.ndarray, w_star: np.ndarray
) -> np.ndarray | float:
    """f(v, w) = ½(vᵀAv − 2vᵀBv* + v*ᵀAv*), A = E σ(Zw)σ(Zw)ᵀ = ¼(I + 11ᵀ), B = E σ(Zw)σ(Zw*)ᵀ =
    ¼((1 − 2θ/π)I + 11ᵀ).

    v and w may carry matching leading axes (a batch of points, e.g. a trajectory).
    """
    diagonal = 1.0 - 2.0 * np.asarray(angle(w, w_star)) / np.pi
    quadratic = np.sum(v * _moments_times(v, 1.0), axis=-1) + v_star @ _moments_times(v_star, 1.0)
    loss = 0.5 * (quadratic - 2.0 * np.sum(v * _moments_times(v_star, diagonal), axis=-1))
    return float(loss) if np.ndim(loss) == 0 else loss


def _unit_normal(w: np.ndarray, w_star: np.ndarray) -> np.ndarray:
    """(I − ŵŵᵀ)w* / ‖(I − ŵŵᵀ)w*‖: the unit direction in which θ decreases fastest."""
    w_hat = w / _norm(w)
    normal = w_star - (w_hat @ w_star) * w_hat
    return normal / _norm(normal)


def _grad_v(v: np.ndarray, w: np.ndarray, v_star: np.ndarray, w_star: np.ndarray) -> np.ndarray:
    """∂f/∂v = Av − Bv*."""
    return _moments_times(v, 1.0) - _moments_times(v_star, 1.0 - 2.0 * angle(w, w_star) / np.pi)


def population_gradient(
    v: np.ndarray, w: np.ndarray, v_star: np.ndarray, w_star: np.ndarray
) -> Gradient:
    """(∂f/∂v, ∂f/∂w) for θ ∉ {0, π}.

    ∂f/∂v = ¼(I + 11ᵀ)v − ¼((1 − 2θ/π)I + 11ᵀ)v*, and since f depends on w only through θ with
    ∂f/∂θ = vᵀv*/(2π) and ∂θ/∂w = −(I − ŵŵᵀ)w*/(‖w‖ ‖(I − ŵŵᵀ)w*‖):
    ∂f/∂w = −vᵀv*/(2π‖w‖) · (I − ŵŵᵀ)w*/‖(I − ŵŵᵀ)w*‖, orthogonal to w.
    """
    grad_w = -(v @ v_star) / (2.0 * np.pi * _norm(w)) * _unit_normal(w, w_star)
    return _grad_v(v, w, v_star, w_star), grad_w


def _row_expectations(
    w: np.ndarray, w_star: np.ndarray, ste: STE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For one row z ~ N(0, I): E[μ'(z·w) z σ(z·w)], E[μ'(z·w) z σ(z·w*)] and E[μ'(z·w) z]/2.

    Identity (μ' = 1):          ŵ/√(2π),  ŵ*/√(2π),  0.
    ReLU (μ' = 1{x>0}):         ŵ/√(2π),  (ŵ + ŵ*)/(2√(2π)),  ŵ/(2√(2π)).
    Clipped ReLU (1{0<x<1}), with s = 1/‖w‖ and the split ŵ* = cos θ ŵ + sin θ e:
        E[z 1{0<z·w<1}] = ŵ(1 − e^{−s²/2})/√(2π) for the first and (doubled) third,
        E[z 1{0<z·w<1} 1{z·w*>0}] = ŵ[1/(2√(2π)) − φ(s)Φ(s cot θ) + cos θ (Φ(s/sin θ) − ½)/√(2π)]
                                    + sin θ e (Φ(s/sin θ) − ½)/√(2π),
    from ∫₀ˢ xφ(x)Φ(x cot θ)dx (by parts) and ∫₀ˢ φ(x)φ(x cot θ)dx for the two components.
    """
    w_hat = w / _norm(w)
    w_star_hat = w_star / _norm(w_star)
    if ste == "identity":
        return w_hat / SQRT_2PI, w_star_hat / SQRT_2PI, np.zeros_like(w)
    if ste == "relu":
        return w_hat / SQRT_2PI, (w_hat + w_star_hat) / (2.0 * SQRT_2PI), w_hat / (2.0 * SQRT_2PI)
    s = 1.0 / _norm(w)
    cos_t = float(np.clip(w_hat @ w_star_hat, -1.0, 1.0))
    sin_e = w_star_hat - cos_t * w_hat  # sin θ · e
    sin_t = float(_norm(sin_e))
    with np.errstate(divide="ignore", over="ignore"):
        upper = ndtr(s / sin_t) - 0.5 if sin_t > 0 else 0.5
        side = ndtr(s * cos_t / sin_t) if sin_t > 0 else float(cos_t > 0)
    phi_s = np.exp(-0.5 * s**2) / SQRT_2PI
    self_term = w_hat * (1.0 - np.exp(-0.5 * s**2)) / SQRT_2PI
    cross = (
        w_hat * (0.5 / SQRT_2PI - phi_s * side + cos_t * upper / SQRT_2PI)
        + sin_e * upper / SQRT_2PI
    )
    return self_term, cross, self_term / 2.0


def expected_coarse_gradient(
    v: np.ndarray, w: np.ndarray, v_star: np.ndarray, w_star: np.ndarray, ste: STE
) -> Gradient:
    """E_Z of the coarse gradient (g_v, g_w); g_v is exact, so its mean is ∂f/∂v.

    Splitting r over rows, with (d, c, o) from :func:`_row_expectations`:
    E g_w = ‖v‖² d − (vᵀv*) c + [(1ᵀv)² − ‖v‖² − (1ᵀv)(1ᵀv*) + vᵀv*] o.
    For the ReLU STE this is h/(2√(2π)) ŵ − vᵀv* (ŵ + ŵ*)/(2√(2π)) with
    h = ‖v‖² + (1ᵀv)² − (1ᵀv)(1ᵀv*) + vᵀv*, the paper's closed form.
    """
    check_ste(ste)
    d, c, o = _row_expectations(w, w_star, ste)
    vv, vs, sv, ss = v @ v, v @ v_star, v.sum(), v_star.sum()
    grad_w = vv * d - vs * c + (sv**2 - vv - sv * ss + vs) * o
    return _grad_v(v, w, v_star, w_star), grad_w


def ste_derivative(
    x: np.ndarray | torch.Tensor, ste: STE, top: float = 1.0
) -> np.ndarray | torch.Tensor:
    """μ'(x) as a boolean mask (NumPy or torch): 1 (identity), 1{x > 0} (ReLU) or 1{0 < x < top}
    (clipped ReLU)."""
    check_ste(ste)
    passes = (x > 0) | (ste == "identity")
    return passes & (x < top) if ste == "clipped_relu" else passes


def _projections(Z: np.ndarray, w: np.ndarray, w_star: np.ndarray) -> np.ndarray:
    """(Zw, Zw*) for a stack Z of shape (N, m, n), as one (N, m, 2) array (a single flat matrix
    product)."""
    return (Z.reshape(-1, Z.shape[-1]) @ np.stack([w, w_star], axis=1)).reshape(*Z.shape[:-1], 2)


def _residuals(
    v: np.ndarray, w: np.ndarray, v_star: np.ndarray, w_star: np.ndarray, Z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a stack Z of shape (N, m, n): pre-activations Zw, features σ(Zw) and residuals r."""
    projections = _projections(Z, w, w_star)
    features = (projections[..., 0] > 0).astype(float)
    residual = features @ v - (projections[..., 1] > 0).astype(float) @ v_star
    return projections[..., 0], features, residual


def loss_samples(
    v: np.ndarray, w: np.ndarray, v_star: np.ndarray, w_star: np.ndarray, Z: np.ndarray
) -> np.ndarray:
    """ℓ(Z_k) = ½ r_k² for each sample of the stack Z (N, m, n)."""
    return 0.5 * _residuals(v, w, v_star, w_star, Z)[2] ** 2


def coarse_gradient_samples(
    v: np.ndarray, w: np.ndarray, v_star: np.ndarray, w_star: np.ndarray, ste: STE, Z: np.ndarray
) -> Gradient:
    """Per-sample coarse gradients g_v = σ(Zw) r (N, m) and g_w = Zᵀ(μ'(Zw) ⊙ v) r (N, n)."""
    pre, features, residual = _residuals(v, w, v_star, w_star, Z)
    backward = ste_derivative(pre, ste) * v * residual[:, None]
    return features * residual[:, None], np.einsum("kmn,km->kn", Z, backward)


def score_gradient_samples(
    v: np.ndarray, w: np.ndarray, v_star: np.ndarray, w_star: np.ndarray, Z: np.ndarray
) -> np.ndarray:
    """Unbiased per-sample estimates of ∂f/∂w by the likelihood-ratio (score-function) trick.

    The pathwise derivative of ℓ in w is 0 a.e., but f = E ℓ depends on w through the law of the
    row pairs x_i = (z_i·w, z_i·w*) ~ N(0, C), C = [[‖w‖², w·w*], [w·w*, ‖w*‖²]]. Hence
    ∂f/∂w = E[(ℓ − b) Σ_i ∂ log p(x_i)/∂w] for any constant b (here the stack's mean ℓ, whose O(1/N)
    bias is negligible against the O(1/√N) standard error), with
    ∂ log p/∂C = ½(C⁻¹xxᵀC⁻¹ − C⁻¹) and ∂ log p/∂w = 2G₁₁w + 2G₁₂w*. Needs θ ∉ {0, π}.
    """
    C = np.array([[w @ w, w @ w_star], [w @ w_star, w_star @ w_star]])
    C_inv = np.linalg.inv(C)
    x = _projections(Z, w, w_star) @ C_inv  # C⁻¹x per row, shape (N, m, 2)
    G11 = 0.5 * (np.sum(x[..., 0] ** 2, axis=1) - len(v) * C_inv[0, 0])
    G12 = 0.5 * (np.sum(x[..., 0] * x[..., 1], axis=1) - len(v) * C_inv[0, 1])
    loss = loss_samples(v, w, v_star, w_star, Z)
    centred = (loss - loss.mean())[:, None]
    return centred * (2.0 * G11[:, None] * w + 2.0 * G12[:, None] * w_star)


def gaussian_inputs(samples: int, m: int, n: int, generator: np.random.Generator) -> np.ndarray:
    """A stack of ``samples`` input matrices Z with i.i.d. N(0, 1) entries, shape (samples, m,
    n)."""
    return generator.standard_normal((samples, m, n))


def sampled_coarse_gradient(
    v: np.ndarray,
    w: np.ndarray,
    v_star: np.ndarray,
    w_star: np.ndarray,
    ste: STE,
    batch: int,
    generator: np.random.Generator,
) -> Gradient:
    """The mini-batch coarse gradient: the mean of (g_v, g_w) over ``batch`` fresh inputs Z."""
    Z = gaussian_inputs(batch, len(v), len(w), generator)
    grad_v, grad_w = coarse_gradient_samples(v, w, v_star, w_star, ste, Z)
    return grad_v.mean(axis=0), grad_w.mean(axis=0)


def spurious_minimum_v(v_star: np.ndarray) -> np.ndarray:
    """v solving (I + 11ᵀ)v = (11ᵀ − I)v*: with θ = π, the spurious local minima of f (any ‖w‖)."""
    m = len(v_star)
    ones = np.ones((m, m))
    return np.linalg.solve(np.eye(m) + ones, (ones - np.eye(m)) @ v_star)


def coarse_gradient_descent(
    v0: np.ndarray, w0: np.ndarray, gradient: GradientFn, step: float, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Iterates (v_t, w_t), t = 0..steps, of (v, w) ← (v, w) − step · gradient(v, w)."""
    vs, ws = [v0], [w0]
    for _ in range(steps):
        grad_v, grad_w = gradient(vs[-1], ws[-1])
        vs.append(vs[-1] - step * grad_v)
        ws.append(ws[-1] - step * grad_w)
    return np.array(vs), np.array(ws)


def quantize(x: torch.Tensor, bits: int, resolution: float) -> torch.Tensor:
    """b-bit quantized ReLU: α·clip(⌈x/α⌉, 0, 2ᵇ − 1), so bits = 1, α = 1 is σ(x) = 1{x > 0}."""
    return resolution * torch.clamp(torch.ceil(x / resolution), 0, 2**bits - 1)


class QuantizedActivation(torch.autograd.Function):
    """Forward: the b-bit quantized ReLU. Backward: the chosen STE μ' in place of its zero
    derivative.

    μ is the identity, ReLU, or clipped ReLU min(max(x, 0), (2ᵇ − 1)α), so μ' is 1, 1{x > 0} or
    1{0 < x < (2ᵇ − 1)α}. Call as ``QuantizedActivation.apply(x, bits, resolution, ste)``.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, bits: int, resolution: float, ste: STE) -> torch.Tensor:
        check_ste(ste)
        ctx.save_for_backward(x)
        ctx.ste, ctx.top = ste, (2**bits - 1) * resolution
        return quantize(x, bits, resolution)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (x,) = ctx.saved_tensors
        return grad_output * ste_derivative(x, ctx.ste, ctx.top), None, None, None


def quantized_activation(x: torch.Tensor, bits: int, resolution: float, ste: STE) -> torch.Tensor:
    """Functional form of :class:`QuantizedActivation`."""
    return QuantizedActivation.apply(x, bits, resolution, ste)


def descent_ratio(
    v: np.ndarray, w: np.ndarray, v_star: np.ndarray, w_star: np.ndarray, ste: STE
) -> float:
    """‖E g_w‖² / (‖∂f/∂v‖² + ⟨E g_w, ∂f/∂w⟩): squared coarse-gradient norm spent per unit of
    first-order descent.

    The quantity of the paper's eq. (12) and (16): in the descent estimate (13) a step η lowers f by
    η times the denominator and raises it by at most Lη²/2 times the numerator, so a bounded ratio
    (Lemma 5, ReLU STE) lets a small fixed step descend, and a ratio that grows without bound near a
    point (eq. 16, identity STE near the spurious minima) lets no fixed step descend there.
    Needs θ ∉ {0, π} (∂f/∂w is undefined there).
    """
    grad_v, grad_w = population_gradient(v, w, v_star, w_star)
    coarse_w = expected_coarse_gradient(v, w, v_star, w_star, ste)[1]
    return float(coarse_w @ coarse_w / (grad_v @ grad_v + coarse_w @ grad_w))


def saddle_point(v_star: np.ndarray) -> tuple[np.ndarray, float]:
    """Proposition 1's saddle points: (v_s, θ_s) with ∇f = 0, for (1ᵀv*)² < (m + 1)‖v*‖²/2.

    v_s = (I + 11ᵀ)⁻¹(−(1ᵀv*)²/((m + 1)‖v*‖² − (1ᵀv*)²) I + 11ᵀ)v* and
    θ_s = (π/2)(m + 1)‖v*‖²/((m + 1)‖v*‖² − (1ᵀv*)²); any w at angle θ_s from w* (any ‖w‖) is one.
    """
    m = len(v_star)
    ones, square, norm2 = np.ones((m, m)), v_star.sum() ** 2, v_star @ v_star
    gap = (m + 1) * norm2 - square
    if square >= (m + 1) * norm2 / 2:
        raise ValueError("no saddle points: (1ᵀv*)² ≥ (m + 1)‖v*‖²/2")
    v = np.linalg.solve(np.eye(m) + ones, (-square / gap * np.eye(m) + ones) @ v_star)
    return v, float(np.pi / 2 * (m + 1) * norm2 / gap)
