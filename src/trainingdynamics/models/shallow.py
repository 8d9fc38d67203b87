"""The shallow 1-D ReLU network N(x) = Σ_j c_j σ(w_j x + b_j) and full-batch gradient descent on it.

Loss L = (1/2m) Σ_i r_i², r_i = N(x_i) − y_i. With A_j = {i : w_j x_i + b_j > 0},

    ∂L/∂c_j = (1/m) Σ_{A_j} r_i (w_j x_i + b_j),  ∂L/∂w_j = (c_j/m) Σ_{A_j} r_i x_i,  ∂L/∂b_j =
    (c_j/m) Σ_{A_j} r_i.

Parameters may carry leading batch axes (..., n): one call trains a batch of independent networks
on the same data (seeds side by side). The GD runner uses the interval form of
:mod:`trainingdynamics.diagnostics.activation`, O(n + m) per network and step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainingdynamics.diagnostics.activation import (
    active_intervals,
    active_mask,
    interval_forward,
    interval_sums,
    prefix_sums,
    require_sorted,
)
from trainingdynamics.training import DivergenceError

DIVERGENCE_FACTOR = 10.0  # ours: GD has diverged once L_t > 10 × max(L_0, loss of the zero network)

TARGETS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sin5pi": lambda x: np.sin(5 * np.pi * x),
    "abs": np.abs,
    "piecewise": lambda x: np.interp(x, [-1.0, -0.5, 0.1, 0.6, 1.0], [0.0, 1.0, -0.6, 0.4, 0.0]),
}


def make_data(target: str, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_points`` equispaced inputs on [−1, 1] and the named target from :data:`TARGETS`."""
    x = np.linspace(-1.0, 1.0, n_points)
    return x, TARGETS[target](x)


@dataclass(frozen=True)
class Params:
    """Output weights c, input weights w and biases b, each of shape (..., n)."""

    c: np.ndarray
    w: np.ndarray
    b: np.ndarray

    def map(self, f: Callable[[np.ndarray], np.ndarray]) -> Params:
        """Apply ``f`` to c, w and b."""
        return Params(f(self.c), f(self.w), f(self.b))

    def norm(self) -> np.ndarray:
        """Euclidean norm of (c, w, b) over the neuron axis, shape (...)."""
        return np.sqrt(np.sum(self.c**2 + self.w**2 + self.b**2, axis=-1))


def init_params(
    rng: np.random.Generator, width: int, batch: tuple[int, ...] = (), output_scale: float = 1.0
) -> Params:
    """w_j, b_j ~ U(−1, 1) and c_j ~ N(0, output_scale²/width)."""
    shape = batch + (width,)
    w = rng.uniform(-1.0, 1.0, shape)
    b = rng.uniform(-1.0, 1.0, shape)
    c = rng.standard_normal(shape) * output_scale / np.sqrt(width)
    return Params(c, w, b)


def init_params_he(
    rng: np.random.Generator, width: int, batch: tuple[int, ...] = (), output_scale: float = 1.0
) -> Params:
    """He initialisation: w_j ~ N(0, 2), b_j = 0, and c_j ~ N(0, output_scale²/width).

    Every kink −b_j/w_j starts at 0.
    """
    shape = batch + (width,)
    w = rng.standard_normal(shape) * np.sqrt(2.0)
    c = rng.standard_normal(shape) * output_scale / np.sqrt(width)
    return Params(c, w, np.zeros(shape))


def forward(x: np.ndarray, p: Params) -> np.ndarray:
    """N(x_i) = Σ_j c_j max(w_j x_i + b_j, 0), dense O(nm), shape (..., m)."""
    hidden = np.maximum(p.w[..., None] * x + p.b[..., None], 0.0)
    return np.einsum("...n,...nm->...m", p.c, hidden)


def loss(x: np.ndarray, y: np.ndarray, p: Params) -> np.ndarray:
    """L = (1/2m) Σ_i (N(x_i) − y_i)²."""
    return 0.5 * np.mean((forward(x, p) - y) ** 2, axis=-1)


def gradients(x: np.ndarray, y: np.ndarray, p: Params) -> Params:
    """The closed-form gradient (∂L/∂c, ∂L/∂w, ∂L/∂b), dense O(nm) reference implementation."""
    m = len(x)
    residual = forward(x, p) - y
    mask = active_mask(x, p.w, p.b)
    active_residual = mask * residual[..., None, :]
    sum_r = active_residual.sum(-1)
    sum_rx = active_residual @ x
    return Params((p.w * sum_rx + p.b * sum_r) / m, p.c * sum_rx / m, p.c * sum_r / m)


def residual_fast(
    x: np.ndarray, y: np.ndarray, p: Params, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """r = N(x) − y in O(n + m) for the active intervals [lo, hi) of (w, b)."""
    return interval_forward(x, p.c * p.w, p.c * p.b, lo, hi) - y


def gradients_fast(
    x: np.ndarray, residual: np.ndarray, p: Params, lo: np.ndarray, hi: np.ndarray
) -> Params:
    """The same gradient as :func:`gradients` from interval sums of r and r·x, O(n + m)."""
    m = len(x)
    sum_r = interval_sums(prefix_sums(residual), lo, hi)
    sum_rx = interval_sums(prefix_sums(residual * x), lo, hi)
    return Params((p.w * sum_rx + p.b * sum_r) / m, p.c * sum_rx / m, p.c * sum_r / m)


@dataclass
class GDTrajectory:
    """A GD run recorded at ``steps``: arrays have shape (..., K) or (..., K, n), K = len(steps)."""

    steps: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    changes: (
        np.ndarray
    )  # cumulative number of (neuron, step) pattern changes before each recorded step
    counts: np.ndarray  # activation counts k_j
    params: Params  # parameters at each recorded step
    final: Params

    def at(self, index: int) -> Params:
        """The parameters at recorded step ``steps[index]``."""
        return self.params.map(lambda a: a[..., index, :])

    def map(self, f: Callable[[np.ndarray], np.ndarray]) -> GDTrajectory:
        """Apply ``f`` to every per-network array (all but ``steps``)."""
        return GDTrajectory(
            self.steps,
            f(self.loss),
            f(self.grad_norm),
            f(self.changes),
            f(self.counts),
            self.params.map(f),
            self.final.map(f),
        )

    def select(self, index: tuple[int, ...] | int | np.ndarray) -> GDTrajectory:
        """The networks at batch ``index``: an index tuple, an integer or a boolean batch mask."""
        return self.map(lambda a: a[index])

    def where(self, mask: np.ndarray, other: GDTrajectory) -> GDTrajectory:
        """A copy with the networks where ``mask`` (batch shape) is True taken from ``other``.

        ``other`` holds ``mask.sum()`` networks in a flat batch, recorded on the same steps.
        """

        def put(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            out = a.copy()
            out[mask] = b
            return out

        def put_params(a: Params, b: Params) -> Params:
            return Params(put(a.c, b.c), put(a.w, b.w), put(a.b, b.b))

        return GDTrajectory(
            self.steps,
            put(self.loss, other.loss),
            put(self.grad_norm, other.grad_norm),
            put(self.changes, other.changes),
            put(self.counts, other.counts),
            put_params(self.params, other.params),
            put_params(self.final, other.final),
        )


def gradient_descent(
    x: np.ndarray,
    y: np.ndarray,
    start: Params,
    lr: float | np.ndarray,
    steps: int,
    record_steps: np.ndarray,
    *,
    freeze_pattern: bool = False,
    divergence_factor: float | None = DIVERGENCE_FACTOR,
) -> GDTrajectory:
    """Full-batch GD θ ← θ − η∇L(θ) for ``steps`` steps, recording at ``record_steps`` (⊆ [0,
    steps]).

    ``lr`` is a number or an array broadcasting against (..., 1) (one step size per network).
    x must be strictly increasing. Each step finds the active intervals (O(n log m)), the residual
    and the gradient (O(n + m)), and counts the neurons whose active set changed. With
    ``freeze_pattern`` the active sets stay those of ``start``: GD on the fixed-pattern loss
    (1/2m) Σ_i (Σ_j c_j (w_j x_i + b_j)·1[i ∈ A_j] − y_i)².

    Divergence: the loss of every network is checked at every step; a NaN/inf loss, or one above
    ``divergence_factor`` × max(L_0, (1/2m) Σ_i y_i²) (its initial loss, or that of the zero network
    if
    larger), raises :class:`~trainingdynamics.training.DivergenceError` naming the step and the
    network.
    A stable step size decreases L (up to small oscillations), so a tenfold rise means η is too
    large;
    ``divergence_factor=None`` checks only for NaN/inf.
    """
    require_sorted(x)
    record_steps = np.unique(np.asarray(record_steps, dtype=int))
    if record_steps[0] < 0 or record_steps[-1] > steps:
        raise ValueError(f"record_steps must lie in [0, {steps}]")
    c, w, b = (np.array(a, dtype=np.float64) for a in (start.c, start.w, start.b))
    lo, hi = active_intervals(x, w, b)
    changes = np.zeros(c.shape[:-1], dtype=np.int64)
    wanted = set(record_steps.tolist())
    rows: list[tuple] = []
    bound = np.inf
    for step in range(steps + 1):
        if not freeze_pattern:
            new_lo, new_hi = active_intervals(x, w, b)
            changes += np.count_nonzero((new_lo != lo) | (new_hi != hi), axis=-1)
            lo, hi = new_lo, new_hi
        p = Params(c, w, b)
        residual = residual_fast(x, y, p, lo, hi)
        grad = gradients_fast(x, residual, p, lo, hi)
        value = 0.5 * np.mean(residual**2, axis=-1)
        if step == 0 and divergence_factor is not None:
            bound = divergence_factor * np.maximum(
                value, 0.5 * np.mean(np.asarray(y, dtype=np.float64) ** 2, axis=-1)
            )
        healthy = np.isfinite(value) & (value <= bound)
        if not np.all(healthy):
            bad = np.unravel_index(np.argmin(healthy), np.shape(value))
            raise DivergenceError(
                f"gradient descent diverged at step {step}: loss {np.asarray(value)[bad]:.3g} "
                f"of network {tuple(map(int, bad))} (non-finite or above {divergence_factor}× "
                "max(initial loss, zero-network loss)); lower the step size"
            )
        if step in wanted:
            rows.append((value, grad.norm(), changes.copy(), hi - lo, c.copy(), w.copy(), b.copy()))
        if step < steps:
            c, w, b = c - lr * grad.c, w - lr * grad.w, b - lr * grad.b
    columns = list(zip(*rows, strict=True))
    loss_, grad_norm, changes_ = (np.stack(column, axis=-1) for column in columns[:3])
    counts, cs, ws, bs = (np.stack(column, axis=-2) for column in columns[3:])
    return GDTrajectory(
        record_steps, loss_, grad_norm, changes_, counts, Params(cs, ws, bs), Params(c, w, b)
    )


def autograd_gradients(x: np.ndarray, y: np.ndarray, p: Params) -> Params:
    """∇L by torch autograd in float64 (relu'(0) = 0, the strict convention), the reference for
    tests."""
    c, w, b = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (p.c, p.w, p.b))
    xt, yt = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    hidden = torch.relu(w[..., None] * xt + b[..., None])
    value = 0.5 * torch.mean((torch.einsum("...n,...nm->...m", c, hidden) - yt) ** 2, dim=-1).sum()
    value.backward()
    return Params(c.grad.numpy(), w.grad.numpy(), b.grad.numpy())


def fixed_pattern_hessian(x: np.ndarray, y: np.ndarray, p: Params) -> np.ndarray:
    """Hessian in θ = (c, w, b) of (1/2m) Σ_i (Σ_j c_j (w_j x_i + b_j)·1[i ∈ A_j] − y_i)², A_j
    frozen at p."""
    mask = torch.tensor(active_mask(x, p.w, p.b), dtype=torch.float64)
    xt, yt = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    n = len(p.c)

    def fixed_loss(theta: torch.Tensor) -> torch.Tensor:
        c, w, b = theta[:n], theta[n : 2 * n], theta[2 * n :]
        output = (c[:, None] * (w[:, None] * xt + b[:, None]) * mask).sum(0)
        return 0.5 * torch.mean((output - yt) ** 2)

    theta = torch.as_tensor(np.concatenate([p.c, p.w, p.b]), dtype=torch.float64)
    return torch.autograd.functional.hessian(fixed_loss, theta).numpy()


class ShallowNetworks(nn.Module):
    """A batch of shallow ReLU networks N_k(x) = Σ_j c_kj σ(w_kj·x + b_kj) on R^d in float64,
    outputs (batch, m)."""

    def __init__(self, c: np.ndarray, w: np.ndarray, b: np.ndarray) -> None:
        super().__init__()
        self.c, self.w, self.b = (
            nn.Parameter(torch.tensor(a, dtype=torch.float64)) for a in (c, w, b)
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """σ(w·x + b) contracted with c for every network of the batch; X (..., m, d) gives (...,
        batch, m)."""
        hidden = torch.relu(torch.einsum("knd,...md->...knm", self.w, X) + self.b[..., None])
        return torch.einsum("kn,...knm->...km", self.c, hidden)


def fixed_pattern_jacobian(x: np.ndarray, p: Params, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """∂r_i/∂θ of one network, θ = (c, w, b), with the active sets frozen at [lo, hi): (m, 3n).

    Columns (w_j x_i + b_j)·1[i ∈ A_j], c_j x_i·1[i ∈ A_j] and c_j·1[i ∈ A_j].
    """
    index = np.arange(len(x))
    inside = (index >= lo[:, None]) & (index < hi[:, None])
    z = (p.w[:, None] * x + p.b[:, None]) * inside
    return np.concatenate([z, p.c[:, None] * x * inside, p.c[:, None] * inside], axis=0).T


def gauss_newton_fixed_pattern(
    x: np.ndarray, y: np.ndarray, p: Params, lo: np.ndarray, hi: np.ndarray, iterations: int
) -> Params:
    """Gauss–Newton on the fixed-pattern loss of one network: θ ← θ − J⁺ r (minimum-norm steps).

    The rescalings c_j → c_j/s, (w_j, b_j) → s(w_j, b_j) make J rank-deficient; the minimum-norm
    step ignores them. Near a minimiser the steps converge fast, where GD is slowed by the
    smallest non-zero curvature.
    """
    n = len(p.c)
    for _ in range(iterations):
        residual = residual_fast(x, y, p, lo, hi)
        step = np.linalg.lstsq(fixed_pattern_jacobian(x, p, lo, hi), residual, rcond=None)[0]
        p = Params(p.c - step[:n], p.w - step[n : 2 * n], p.b - step[2 * n :])
    return p
