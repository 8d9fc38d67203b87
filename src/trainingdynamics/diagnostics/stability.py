"""Linear stability of SGD along one direction: per-example curvatures and Eq. 1 of Jastrzębski et
al.

Along a unit direction e (the top Hessian eigenvector e_H¹), example i's loss is locally the
quadratic ½ H_i ψ² with curvature H_i = eᵀ ∇²ℓ_i e, and H_e = (1/N) Σ_i H_i = eᵀ H e. One SGD step
with a batch B of S examples drawn without replacement from N multiplies ψ by 1 − η h_B,
h_B = (1/S) Σ_{i∈B} H_i, and E[h_B] = H_e, Var[h_B] = s² (N − S)/(S (N − 1)) with s² the
population variance of the H_i. Hence E[ψ²] contracts iff

    (1 − η H_e)² + s² η² (N − S)/(S (N − 1)) ≤ 1        (Eq. 1; Wu et al. 2018)

and the break-even point of a trajectory is the first step at which the left side reaches 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jvp, vmap

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's trainable parameters by name, detached."""
    return {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}


def _as_tangent(direction: torch.Tensor, params: dict[str, torch.Tensor]) -> dict:
    """A flat direction cut into the shapes (and dtype) of ``params``."""
    pieces, start = {}, 0
    for name, p in params.items():
        pieces[name] = direction[start : start + p.numel()].view_as(p).to(p.dtype)
        start += p.numel()
    if start != len(direction):
        raise ValueError(f"direction has {len(direction)} entries, the parameters {start}")
    return pieces


def directional_curvatures(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, direction: torch.Tensor
) -> torch.Tensor:
    """The n per-example curvatures H_i = eᵀ ∇²ℓ_i e along ``direction`` e, in float64.

    H_i = d²/dt² ℓ_i(θ + t e) at t = 0: forward mode over forward mode (``jvp`` of ``jvp``) of the
    n per-example losses of one batched pass, so all n come from a single pass of cost a few
    forward passes. ℓ_i is ``loss_fn`` on example i alone, at the model's current mode (BatchNorm
    must be in eval mode, or the examples of the batch would be coupled).
    """
    params = _parameters(model)
    buffers = {name: b.detach() for name, b in model.named_buffers()}
    tangent = _as_tangent(direction, params)

    def losses(p: dict) -> torch.Tensor:
        outputs = functional_call(model, (p, buffers), (X,))
        return vmap(lambda out, t: loss_fn(out.unsqueeze(0), t.unsqueeze(0)))(outputs, y)

    def slope(p: dict) -> torch.Tensor:
        return jvp(losses, (p,), (tangent,))[1]

    return jvp(slope, (params,), (tangent,))[1].to(torch.float64)


def looped_directional_curvatures(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, direction: torch.Tensor
) -> torch.Tensor:
    """The plain reference for :func:`directional_curvatures`: one autograd double-backward per
    example.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    values = []
    for i in range(len(X)):
        loss = loss_fn(model(X[i : i + 1]), y[i : i + 1])
        g = torch.cat([t.reshape(-1) for t in torch.autograd.grad(loss, params, create_graph=True)])
        e = direction.to(g.dtype)
        hv = torch.autograd.grad(g @ e, params)
        values.append(float(torch.cat([t.reshape(-1) for t in hv]).to(torch.float64) @ direction))
    return torch.tensor(values, dtype=torch.float64)


def curvature_variance(curvatures: torch.Tensor | np.ndarray) -> float:
    """s² = (1/n) Σ_i (H_i − H̄)², the population variance of the per-example curvatures."""
    values = torch.as_tensor(curvatures, dtype=torch.float64)
    return float(((values - values.mean()) ** 2).mean())


def sampling_factor(n: int, batch_size: int) -> float:
    """(N − S)/(S (N − 1)): the variance of a mean of S of N draws (no replacement), per unit."""
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must lie in [1, n = {n}], got {batch_size}")
    return 0.0 if n == 1 else (n - batch_size) / (batch_size * (n - 1))


def stability_lhs(lr: float, sharpness: float, variance: float, n: int, batch_size: int) -> float:
    """Eq. 1's left side (1 − ηλ)² + s²η²(N − S)/(S(N − 1)): the factor on E[ψ²] per step."""
    return (1 - lr * sharpness) ** 2 + variance * lr**2 * sampling_factor(n, batch_size)


def stable_learning_rate(sharpness: float, variance: float, n: int, batch_size: int) -> float:
    """The largest η with Eq. 1's left side ≤ 1: η* = 2λ / (λ² + s² (N − S)/(S (N − 1)))."""
    return 2 * sharpness / (sharpness**2 + variance * sampling_factor(n, batch_size))


def break_even_sharpness(lr: float, variance: float, n: int, batch_size: int) -> float:
    """The λ at which a rising sharpness meets Eq. 1: (1 + √(1 − η² s² c))/η, c the sampling factor.

    2/η for full batch (s² c = 0); NaN when the noise term alone exceeds 1 (unstable at any λ).
    """
    noise = variance * lr**2 * sampling_factor(n, batch_size)
    return (1 + math.sqrt(1 - noise)) / lr if noise <= 1 else math.nan


def first_crossing(lhs: np.ndarray, level: float = 1.0) -> int | None:
    """Index of the first value ≥ ``level`` (the break-even measurement), or None if none."""
    hits = np.flatnonzero(np.asarray(lhs) >= level)
    return int(hits[0]) if len(hits) else None
