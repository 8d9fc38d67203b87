"""Gram matrices of wide two-layer (and deep) networks at initialisation.

For unit-norm data x_1..x_n and w ~ N(0, I), write (u, v) = (w·x_i, w·x_j): a standard
bivariate normal pair with correlation ρ_ij = x_i·x_j. The two Gram matrices of
Panigrahi, Shetty & Goyal (2020) are

    derivative (first layer trained):  G_ij = E[φ'(u) φ'(v)] · ρ_ij,
    value (output layer trained):      K_ij = E[φ(u) φ(v)],

so each is an n × n function of the inner products through a *dual* function
ρ ↦ E[h(u)h(v)] of one variable. We compute that function

- exactly where a closed form exists (ReLU: E[1{u>0}1{v>0}] = (π − θ)/2π and the
  arc-cosine kernel (sin θ + (π − θ) cos θ)/2π, θ = arccos ρ; the quadratic: 4ρ, 1 + 2ρ²);
- by quadrature otherwise: in polar coordinates (u, v) = (r cos β, r cos(β − θ)) the sign
  lines of u and v are the four rays β = ±π/2, θ ± π/2, so splitting the angle there makes the
  integrand analytic on every piece (kinks included) and Gauss–Legendre converges
  geometrically. The dual is then a smooth function of θ (even for kinked activations, whose
  dual is singular in ρ at ±1), interpolated by a Chebyshev series in θ and evaluated on all
  n² angles at once;
- by Monte Carlo over w (with per-entry standard errors), as a cross-check.

Depth (a depth-L network with L − 1 fixed random hidden layers of infinite width, each
re-normalised to unit norm, and the Gram of the top hidden layer): the correlations follow
ρ ← E[φ(σu)φ(σv)] / E[φ(σz)²] (σ the hidden layers' weight scale) L − 1 times before the
depth-1 Gram is applied to them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import torch
from numpy.polynomial import chebyshev
from torch import nn
from torch.func import functional_call, jacrev, vmap

from trainingdynamics.profiles import ParameterError

ActivationName = Literal["relu", "selu", "elu", "tanh", "swish", "quadratic"]
Kind = Literal["derivative", "value"]
Method = Literal["exact", "quadrature", "montecarlo"]
ACTIVATIONS: tuple[str, ...] = ("relu", "selu", "elu", "tanh", "swish", "quadratic")
SELU_SCALE = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772
QUADRATURE_NODES = 64  # Gauss–Legendre nodes per piece, radial and angular
RADIUS = 12.0  # radial cut-off: the Gaussian mass beyond it is e^{-72}
# degree of the dual's Chebyshev series in θ ∈ [0, π]: its coefficients reach round-off by ~40
CHEBYSHEV_DEGREE = 48


@dataclass(frozen=True)
class Activation:
    """An activation φ with its derivative φ' (ELU's α is a parameter; SELU's are fixed)."""

    name: ActivationName
    alpha: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in ACTIVATIONS:
            raise ParameterError(
                f"unknown activation {self.name!r}; choose one of: {', '.join(ACTIVATIONS)}"
            )
        if self.alpha <= 0:
            raise ParameterError(f"ELU's alpha must be positive, got {self.alpha}")

    @property
    def label(self) -> str:
        """A name for legends: ELU shows its α."""
        return f"elu (α={self.alpha:g})" if self.name == "elu" else self.name

    def value(self, z: torch.Tensor) -> torch.Tensor:
        """φ(z)."""
        match self.name:
            case "relu":
                return torch.relu(z)
            case "selu":
                return torch.selu(z)
            case "elu":
                return nn.functional.elu(z, alpha=self.alpha)
            case "tanh":
                return torch.tanh(z)
            case "swish":
                return nn.functional.silu(z)
            case _:
                return z * z

    def derivative(self, z: torch.Tensor) -> torch.Tensor:
        """φ'(z) (the right-hand value at a kink; a null set either way)."""
        match self.name:
            case "relu":
                return (z > 0).to(z.dtype)
            case "selu":
                return SELU_SCALE * torch.where(
                    z > 0, torch.ones_like(z), SELU_ALPHA * torch.exp(torch.clamp(z, max=0))
                )
            case "elu":
                return torch.where(
                    z > 0, torch.ones_like(z), self.alpha * torch.exp(torch.clamp(z, max=0))
                )
            case "tanh":
                return 1 - torch.tanh(z) ** 2
            case "swish":
                s = torch.sigmoid(z)
                return s * (1 + z * (1 - s))
            case _:
                return 2 * z

    @property
    def derivative_jump(self) -> float:
        """|φ'(0⁺) − φ'(0⁻)|, zero for the smooth activations and for ELU with α = 1."""
        side = torch.tensor([1e-300, -1e-300], dtype=torch.float64)
        right, left = self.derivative(side)
        return float(abs(right - left))

    def function(self, kind: Kind) -> Callable[[torch.Tensor], torch.Tensor]:
        """h = φ' for the derivative Gram, h = φ for the value Gram."""
        return self.derivative if kind == "derivative" else self.value


def as_activation(activation: str | Activation) -> Activation:
    """Accept a name or an :class:`Activation`."""
    return activation if isinstance(activation, Activation) else Activation(activation)


def _check_kind(kind: str) -> None:
    if kind not in ("derivative", "value"):
        raise ParameterError(f"kind must be 'derivative' or 'value', got {kind!r}")


def angles(correlations: np.ndarray) -> np.ndarray:
    """θ = arccos ρ, clipped to [0, π] against round-off."""
    return np.arccos(np.clip(correlations, -1.0, 1.0))


# ---------------------------------------------------------------- exact duals


def exact_dual(activation: Activation, kind: Kind, scale: float, theta: np.ndarray) -> np.ndarray:
    """Closed-form E[h(σu)h(σv)] at angle θ for ReLU and the quadratic (σ = ``scale``)."""
    rho = np.cos(theta)
    if activation.name == "relu":
        if kind == "derivative":  # P(u > 0, v > 0), scale-free
            return (np.pi - theta) / (2 * np.pi)
        return scale**2 * (np.sin(theta) + (np.pi - theta) * rho) / (2 * np.pi)  # arc-cosine kernel
    if activation.name == "quadratic":
        if kind == "derivative":  # E[2σu · 2σv]
            return 4 * scale**2 * rho
        return scale**4 * (1 + 2 * rho**2)  # E[σ²u² σ²v²] (Isserlis)
    raise ParameterError(f"no closed form for {activation.label}; use method='quadrature'")


# ----------------------------------------------------------- quadrature duals


def _legendre_panel(
    a: torch.Tensor, b: torch.Tensor, count: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss–Legendre nodes and weights on [a, b] (broadcast over the shapes of a, b)."""
    t, w = np.polynomial.legendre.leggauss(count)
    t = torch.as_tensor(t, dtype=torch.float64)
    w = torch.as_tensor(w, dtype=torch.float64)
    half = ((b - a) / 2).unsqueeze(-1)
    return (a + b).unsqueeze(-1) / 2 + half * t, half * w


def quadrature_dual(
    activation: Activation,
    kind: Kind,
    scale: float,
    theta: np.ndarray,
    nodes: int = QUADRATURE_NODES,
) -> np.ndarray:
    """E[h(σu)h(σv)] at angles θ by polar Gauss–Legendre quadrature, split where u or v flips sign.

    E[h(σu)h(σv)] = (1/2π) ∫_0^{2π} dβ ∫_0^∞ r e^{-r²/2} h(σr cos β) h(σr cos(β − θ)) dr.
    """
    h = activation.function(kind)
    theta_t = torch.as_tensor(np.asarray(theta, dtype=np.float64))
    half_pi = torch.full_like(theta_t, math.pi / 2)
    # Sign changes at β = −π/2 + θ, π/2, π/2 + θ, 3π/2: four arcs covering one period
    # [θ − π/2, θ + 3π/2].
    cuts = torch.stack(
        [theta_t - half_pi, half_pi, theta_t + half_pi, 3 * half_pi, theta_t + 3 * half_pi], dim=-1
    )
    beta, beta_w = _legendre_panel(cuts[..., :-1], cuts[..., 1:], nodes)  # (..., 4, nodes)
    r, r_w = _legendre_panel(
        torch.tensor(0.0, dtype=torch.float64), torch.tensor(RADIUS, dtype=torch.float64), nodes
    )
    radial_weight = r_w * r * torch.exp(-(r**2) / 2)  # (nodes,)
    beta = beta[..., None]  # (..., 4, nodes, 1)
    integrand = h(scale * r * torch.cos(beta)) * h(
        scale * r * torch.cos(beta - theta_t[..., None, None, None])
    )
    radial = integrand @ radial_weight  # (..., 4, nodes)
    return ((radial * beta_w).sum(dim=(-1, -2)) / (2 * math.pi)).numpy()


@lru_cache(maxsize=256)
def _chebyshev_coefficients(
    activation: Activation, kind: Kind, scale: float, degree: int
) -> np.ndarray:
    """Chebyshev coefficients of θ ↦ E[h(σu)h(σv)] on θ ∈ [0, π] (variable t = 2θ/π − 1)."""
    return chebyshev.chebinterpolate(
        lambda t: quadrature_dual(activation, kind, scale, (t + 1) * np.pi / 2), degree
    )


def dual(
    activation: str | Activation,
    kind: Kind,
    theta: np.ndarray,
    *,
    method: Method = "quadrature",
    scale: float = 1.0,
) -> np.ndarray:
    """The dual function E[h(σu)h(σv)], (u, v) standard normal at angle θ, evaluated elementwise."""
    act = as_activation(activation)
    _check_kind(kind)
    if method == "exact":
        return exact_dual(act, kind, scale, theta)
    if method != "quadrature":
        raise ParameterError(
            f"method must be 'exact' or 'quadrature' for a dual function, got {method!r}"
        )
    coefficients = _chebyshev_coefficients(act, kind, float(scale), CHEBYSHEV_DEGREE)
    return chebyshev.chebval(2 * np.asarray(theta) / np.pi - 1, coefficients)


# ---------------------------------------------------------------- Gram matrices


def correlations(X: np.ndarray) -> np.ndarray:
    """ρ = XXᵀ for row-normalised X, with the exact 1 on the diagonal."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1)
    if not np.allclose(norms, 1.0, atol=1e-10):
        raise ParameterError("X must have unit-norm rows (normalise the data first)")
    rho = X @ X.T
    np.fill_diagonal(rho, 1.0)
    return rho


def propagate(
    rho: np.ndarray, activation: Activation, layers: int, method: Method, scale: float
) -> np.ndarray:
    """Correlations after ``layers`` infinite-width hidden layers: ρ ← E[φ(σu)φ(σv)] / E[φ(σz)²]."""
    norm = float(dual(activation, "value", np.zeros(1), method=method, scale=scale)[0])
    for _ in range(layers):
        rho = dual(activation, "value", angles(rho), method=method, scale=scale) / norm
        np.fill_diagonal(rho, 1.0)
    return rho


def gram_matrix(
    X: np.ndarray,
    activation: str | Activation,
    *,
    kind: Kind = "derivative",
    method: Method = "exact",
    depth: int = 1,
    weight_scale: float = 1.0,
    samples: int = 100_000,
    seed: int = 0,
) -> np.ndarray:
    """The infinite-width Gram matrix G (``derivative``) or K (``value``) of row-normalised X.

    ``depth`` L > 1 first maps the correlations through L − 1 re-normalised hidden layers whose
    weights are N(0, ``weight_scale``²); the top layer always has w ~ N(0, I). ``montecarlo``
    (depth 1 only) averages over ``samples`` draws of w from ``seed``.
    """
    act = as_activation(activation)
    _check_kind(kind)
    if depth < 1:
        raise ParameterError(f"depth must be at least 1, got {depth}")
    if method == "montecarlo":
        if depth != 1:
            raise ParameterError(
                "method='montecarlo' is for depth 1; use empirical_gram on a deep network"
            )
        return montecarlo_gram(X, act, kind=kind, samples=samples, seed=seed)[0]
    if method not in ("exact", "quadrature"):
        raise ParameterError(
            f"unknown method {method!r}; choose 'exact', 'quadrature' or 'montecarlo'"
        )
    rho = propagate(correlations(X), act, depth - 1, method, weight_scale)
    kernel = dual(act, kind, angles(rho), method=method)
    return kernel * rho if kind == "derivative" else kernel


def montecarlo_gram(
    X: np.ndarray,
    activation: str | Activation,
    *,
    kind: Kind = "derivative",
    samples: int = 100_000,
    seed: int = 0,
    chunk: int = 20_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo Gram over ``samples`` draws w ~ N(0, I) and its per-entry standard error."""
    act = as_activation(activation)
    _check_kind(kind)
    h = act.function(kind)
    rho = correlations(X)
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float64))
    generator = torch.Generator().manual_seed(seed)
    first = torch.zeros(len(X), len(X), dtype=torch.float64)
    second = torch.zeros_like(first)
    for start in range(0, samples, chunk):
        w = torch.randn(
            min(chunk, samples - start), Xt.shape[1], dtype=torch.float64, generator=generator
        )
        features = h(Xt @ w.T)  # (n, chunk)
        first += features @ features.T
        second += (features**2) @ (features**2).T
    mean = (first / samples).numpy()
    variance = np.maximum((second / samples).numpy() - mean**2, 0.0)
    factor = rho if kind == "derivative" else np.ones_like(rho)  # G = E[φ'φ']·ρ, K = E[φφ]
    return mean * factor, np.sqrt(variance / samples) * np.abs(factor)


# ------------------------------------------------------------- finite networks


def sphere_in_subspace(n: int, dim: int, ambient: int, rng: np.random.Generator) -> np.ndarray:
    """n points uniform on the unit sphere of a random ``dim``-dimensional subspace of R^ambient."""
    if not 1 <= dim <= ambient:
        raise ParameterError(f"subspace dimension must lie in [1, {ambient}], got {dim}")
    basis, _ = np.linalg.qr(rng.standard_normal((ambient, dim)))
    coordinates = rng.standard_normal((n, dim))
    coordinates /= np.linalg.norm(coordinates, axis=1, keepdims=True)
    return coordinates @ basis.T


def separation(X: np.ndarray) -> float:
    """δ = min_{i≠j} min(‖x_i − x_j‖, ‖x_i + x_j‖) for unit rows x_i: √(2(1 − max |ρ_ij|))."""
    rho = np.abs(X @ X.T)
    np.fill_diagonal(rho, -1.0)
    return float(np.sqrt(max(2.0 * (1.0 - rho.max()), 0.0)))


class RandomFeatureNetwork(nn.Module):
    """f(x) = Σ_k a_k φ(w_k · h(x)) with a_k = ±1/√m fixed and h(x) = L − 1 fixed random layers.

    Hidden layer l maps h ↦ φ(σ W_l h) / √(m E[φ(σz)²]) with W_l ~ N(0, 1), so ‖h‖ → 1 as m → ∞.
    The trained weights ``hidden`` (w_k ~ N(0, I)) come in identical pairs with opposite a_k, so
    f ≡ 0 at initialisation; their Gram (1/m) Σ_k φ'(w_k·h_i) φ'(w_k·h_j) h_i·h_j → G of depth L.
    """

    def __init__(
        self,
        dim: int,
        width: int,
        activation: str | Activation,
        *,
        depth: int = 1,
        weight_scale: float = 1.0,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        if width < 2 or width % 2:
            raise ParameterError(f"width must be an even number ≥ 2, got {width}")
        if depth < 1:
            raise ParameterError(f"depth must be at least 1, got {depth}")
        self.activation = as_activation(activation)
        self.weight_scale = weight_scale
        sizes = [dim] + [width] * (depth - 1)
        lower = [
            torch.randn(width, fan_in, dtype=torch.float64, generator=generator)
            for fan_in in sizes[:-1]
        ]
        for index, weight in enumerate(lower):
            self.register_buffer(f"lower{index}", weight)
        self.depth = depth
        norm = float(dual(self.activation, "value", np.zeros(1), scale=weight_scale)[0])
        self.layer_norm = math.sqrt(width * norm)
        half = torch.randn(width // 2, sizes[-1], dtype=torch.float64, generator=generator)
        self.hidden = nn.Parameter(torch.cat([half, half]))
        signs = torch.cat([torch.ones(width // 2), -torch.ones(width // 2)]).to(torch.float64)
        self.register_buffer("output", signs / math.sqrt(width))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """h(x): the input passed through the fixed hidden layers."""
        for index in range(self.depth - 1):
            x = (
                self.activation.value(self.weight_scale * x @ getattr(self, f"lower{index}").T)
                / self.layer_norm
            )
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Network output, one scalar per row of x."""
        return self.activation.value(self.features(x) @ self.hidden.T) @ self.output


def empirical_gram(
    model: nn.Module, X: torch.Tensor, parameters: Sequence[str] | None = None
) -> np.ndarray:
    """J Jᵀ for the Jacobian J of a scalar-output model's outputs on X w.r.t. the named parameters.

    All parameters if ``parameters`` is None. J is held in memory whole: n × (number of selected
    parameters) floats.
    """
    selected = {
        name: p.detach()
        for name, p in model.named_parameters()
        if parameters is None or name in parameters
    }
    if not selected:
        raise ParameterError(f"no parameters named {parameters} in the model")
    fixed = {name: p.detach() for name, p in model.named_parameters() if name not in selected}
    buffers = dict(model.named_buffers())

    def output(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, {**params, **fixed, **buffers}, (x.unsqueeze(0),)).squeeze()

    jacobians = vmap(jacrev(output), in_dims=(None, 0))(selected, X)
    flat = torch.cat([j.reshape(len(X), -1) for j in jacobians.values()], dim=1)
    return (flat @ flat.T).cpu().numpy()
