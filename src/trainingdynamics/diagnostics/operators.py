"""A model's curvature operators as matvecs: Hessian H, Gauss–Newton G, gradient covariance K.

For L(θ) = (1/n) Σ_i ℓ(f(x_i; θ), y_i) with outputs f ∈ R^C and J_i = ∂f(x_i)/∂θ:

- H = ∇²L, applied as Hv = ∇(∇L·v): the gradient map is linearised once, ``vjp(grad(L), θ)``,
  and since H is symmetric its pullback is an HVP (one reverse pass per product);
- G = (1/n) Σ_i J_iᵀ H_ℓ,i J_i with H_ℓ,i = ∂²ℓ/∂f² the loss's Hessian in output space: v ↦ Jv
  (the transpose of the linear pullback u ↦ Jᵀu, by one more ``vjp``), then H_ℓ, then Jᵀ. G is
  positive semi-definite for a loss convex in f (squared, cross-entropy), and H = G + (1/n)
  Σ_i Σ_c (∂ℓ_i/∂f_c) ∇²f_c, so H = G exactly for a model linear in θ;
- K = (1/n) G_cᵀ G_c, the gradient covariance, from the centred per-example gradients.

With ``chunk_size`` the examples are cut into chunks of *summed* losses. By default every chunk
is linearised once, when the operator is built, into one map whose pullback runs all chunks in a
single reverse pass (the graphs of all chunks are kept: memory about that of the unchunked
graph), so a product costs about what an unchunked one does and the chunk size changes the
answer only by rounding. ``relinearise=True`` keeps no graph and linearises each chunk anew for
every product: the memory of one chunk, at about 3–4× the cost.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import scipy.sparse.linalg
import torch
from torch import nn
from torch.func import functional_call, grad, vjp

from trainingdynamics.diagnostics.functional import (
    LossFn,
    Mode,
    Params,
    buffers_of,
    check_inputs,
    chunks,
    flatten,
    model_mode,
    parameter_count,
    refuse_batch_coupling,
    refuse_random_layers,
    trainable_parameters,
    unflatten,
)
from trainingdynamics.diagnostics.gradients import centred_gradients, per_example_gradients

Matvec = Callable[[torch.Tensor], torch.Tensor]
LinearMap = Callable[[Params], Params]
Matrix = Literal["hessian", "gauss_newton", "covariance"]


def added(dicts: list[Params]) -> Params:
    """The sum of parameter dicts, key by key (the one dict itself if there is one)."""
    if len(dicts) == 1:
        return dicts[0]
    return {name: torch.stack([d[name] for d in dicts]).sum(dim=0) for name in dicts[0]}


def summed_operator(
    linearise: Callable[[list[slice]], LinearMap],
    params: Params,
    n: int,
    chunk_size: int | None,
    relinearise: bool,
) -> Matvec:
    """v ↦ (1/n) Σ_chunks A_chunk v in float64, from the linear map of the chunks' summed losses.

    Linearised once over all chunks, or (``relinearise``) chunk by chunk for every product.
    """
    pieces = chunks(n, chunk_size)
    dtype = next(iter(params.values())).dtype
    if relinearise:
        maps = [lambda t, piece=piece: linearise([piece])(t) for piece in pieces]
    else:
        maps = [linearise(pieces)]

    def apply(vector: torch.Tensor) -> torch.Tensor:
        tangent = unflatten(vector.to(dtype), params)
        total = torch.zeros(vector.shape, dtype=torch.float64, device=vector.device)
        for linear_map in maps:
            total += flatten(linear_map(tangent)).to(torch.float64)
        return total / n

    return apply


def prepared(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, what: str
) -> tuple[Params, Params]:
    """Check the inputs and the layers' modes; the trainable parameters and the buffers."""
    check_inputs(model, X, y)
    refuse_batch_coupling(model, what)
    refuse_random_layers(model, what)
    return trainable_parameters(model), buffers_of(model)


def hvp_operator(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    chunk_size: int | None = None,
    relinearise: bool = False,
) -> Matvec:
    """v ↦ Hv for the mean loss over (X, y) at the model's current parameters and mode.

    Hv = (1/n) Σ_chunks ∇(∇L_chunk·v), L_chunk the chunk's summed loss; reverse-over-reverse, so
    every loss with a double backward works (module docstring for chunking and memory).
    """
    params, buffers = prepared(model, X, y, "Hessian-vector products")

    def summed_loss(p: Params, xs: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
        return loss_fn(functional_call(model, (p, buffers), (xs,)), ts) * len(xs)

    def linearise(pieces: list[slice]) -> LinearMap:
        def gradient(p: Params) -> Params:  # Σ_chunks ∇L_chunk: one graph, one pullback
            return added([grad(summed_loss)(p, X[piece], y[piece]) for piece in pieces])

        _, pullback = vjp(gradient, params)
        return lambda tangent: pullback(tangent)[0]

    return summed_operator(linearise, params, len(X), chunk_size, relinearise)


def gauss_newton_operator(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    chunk_size: int | None = None,
    relinearise: bool = False,
) -> Matvec:
    """v ↦ Gv = (1/n) Σ_i J_iᵀ H_ℓ,i J_i v, the generalised Gauss–Newton product."""
    params, buffers = prepared(model, X, y, "Gauss-Newton products")

    def chunk_map(piece: slice) -> LinearMap:
        xs, ts = X[piece], y[piece]
        out, pull_back = vjp(lambda p: functional_call(model, (p, buffers), (xs,)), params)
        _, push_forward = vjp(pull_back, torch.zeros_like(out))  # u ↦ Jᵀu is linear: its vjp is J
        _, loss_hessian = vjp(grad(lambda o: loss_fn(o, ts) * len(xs)), out.detach())
        return lambda tangent: pull_back(loss_hessian(push_forward((tangent,))[0])[0])[0]

    def linearise(pieces: list[slice]) -> LinearMap:
        maps = [chunk_map(piece) for piece in pieces]
        return lambda tangent: added([linear_map(tangent) for linear_map in maps])

    return summed_operator(linearise, params, len(X), chunk_size, relinearise)


def covariance_operator(gradients: torch.Tensor) -> Matvec:
    """v ↦ Kv = (1/n) G_cᵀ(G_c v) from the n × P per-example gradients, in their precision."""
    centred = centred_gradients(gradients)
    n = len(centred)
    return lambda v: (centred.T @ (centred @ v.to(centred.dtype)) / n).to(torch.float64)


def curvature_operator(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    matrix: Matrix,
    *,
    chunk_size: int | None = None,
) -> Matvec:
    """The matvec of H, G or K (``matrix``) at the model's current parameters and mode."""
    if matrix == "hessian":
        return hvp_operator(model, loss_fn, X, y, chunk_size=chunk_size)
    if matrix == "gauss_newton":
        return gauss_newton_operator(model, loss_fn, X, y, chunk_size=chunk_size)
    if matrix == "covariance":
        return covariance_operator(
            per_example_gradients(model, loss_fn, X, y, chunk_size=chunk_size)
        )
    raise ValueError(f"matrix must be 'hessian', 'gauss_newton' or 'covariance', got {matrix!r}")


def as_linear_operator(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    matrix: Matrix = "hessian",
    chunk_size: int | None = None,
    mode: Mode = None,
) -> scipy.sparse.linalg.LinearOperator:
    """H, G or K of the mean loss over (X, y) as a float64 ``scipy`` LinearOperator (P × P).

    The operator is linearised now, in ``mode``: later changes to the model do not reach it.
    E.g. ``eigsh(as_linear_operator(model, loss, X, y), k=5, which="LA")``.
    """
    with model_mode(model, mode):
        matvec = curvature_operator(model, loss_fn, X, y, matrix, chunk_size=chunk_size)
        dim = parameter_count(model)
    device = X.device

    def apply(v: np.ndarray) -> np.ndarray:
        vector = torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64).reshape(-1))
        return matvec(vector.to(device)).cpu().numpy()

    return scipy.sparse.linalg.LinearOperator((dim, dim), matvec=apply, dtype=np.float64)
