"""Per-example gradients g_i = ∇_θ ℓ_i by ``vmap(grad)``, and a slow looped reference."""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from trainingdynamics.diagnostics.functional import (
    LossFn,
    Mode,
    Params,
    buffers_of,
    check_inputs,
    model_mode,
    refuse_batch_coupling,
    trainable_parameters,
)


def per_example_gradients(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    mode: Mode = None,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """The n × P matrix whose row i is g_i = ∇_θ ℓ(f(x_i), y_i), via ``vmap(grad(...))``.

    ℓ is ``loss_fn`` on a batch of one, so for a mean-reduced loss g_i is the gradient of
    example i's own loss (not 1/n of it).
    """
    with model_mode(model, mode):
        check_inputs(model, X, y)
        refuse_batch_coupling(model, "per-example gradients")
        return per_example_gradients_of(
            model, loss_fn, X, y, list(trainable_parameters(model)), chunk_size=chunk_size
        )


def per_example_gradients_of(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    names: list[str],
    *,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Per-example gradients with respect to the named parameters (the others fixed), by vmap."""
    params = trainable_parameters(model)
    wanted = {name: params[name] for name in names}
    fixed = {name: p for name, p in params.items() if name not in wanted}
    buffers = buffers_of(model)

    def example_loss(p: Params, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return loss_fn(
            functional_call(model, ({**fixed, **p}, buffers), (x.unsqueeze(0),)), t.unsqueeze(0)
        )

    grads = vmap(grad(example_loss), in_dims=(None, 0, 0), chunk_size=chunk_size)(wanted, X, y)
    return torch.cat([g.reshape(len(X), -1) for g in grads.values()], dim=1)


def centred_gradients(gradients: torch.Tensor) -> torch.Tensor:
    """G_c = G − ḡ, the rows minus their mean (summed in float64), in the gradients' precision."""
    return gradients - gradients.to(torch.float64).mean(dim=0).to(gradients.dtype)


def covariance_trace(centred: torch.Tensor) -> float:
    """Tr K = (1/n) ‖G_c‖²_F, summed in float64."""
    return float((centred * centred).sum(dtype=torch.float64)) / len(centred)


def looped_per_example_gradients(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """Per-example gradients one example at a time with plain autograd: a slow reference."""
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for x, t in zip(X, y, strict=True):
        grads = torch.autograd.grad(
            loss_fn(model(x.unsqueeze(0)), t.unsqueeze(0)), params, materialize_grads=True
        )  # unused: zeros
        rows.append(torch.cat([g.reshape(-1) for g in grads]))
    return torch.stack(rows)
