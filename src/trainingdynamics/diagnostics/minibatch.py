"""Mini-batch gradients at the current parameters, in the model's own mode, with its buffers
untouched.

Jastrzębski et al. estimate K from mini-batch gradients g_B computed as SGD computes them (with
BatchNorm in train mode, batch statistics included). For B of size b drawn without replacement
from N examples, Cov[g_B] = K (N − b)/(b (N − 1)): the covariance of M such gradients, times
b (N − 1)/(N − b), estimates K, and its eigenvalue ratios need no scaling at all.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call, grad

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def minibatch_gradients(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    batches: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """The ``batches`` × P matrix of gradients of the mean loss over random batches of
    ``batch_size``.

    Each batch is drawn without replacement from (X, y) with ``generator``. The forward pass runs in
    the model's current mode on copies of its buffers, so a BatchNorm layer in train mode uses the
    batch's statistics and its running statistics are left as they were.
    """
    if not 1 <= batch_size <= len(X):
        raise ValueError(f"batch_size must lie in [1, {len(X)}], got {batch_size}")
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}

    def batch_loss(p: dict, xs: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
        buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
        return loss_fn(functional_call(model, (p, buffers), (xs,)), ts)

    rows = []
    for _ in range(batches):
        index = torch.randperm(len(X), generator=generator)[:batch_size].to(X.device)
        g = grad(batch_loss)(params, X[index], y[index])
        rows.append(torch.cat([g[name].reshape(-1) for name in params]))
    return torch.stack(rows)


def minibatch_scale(n: int, batch_size: int) -> float:
    """b (N − 1)/(N − b): the factor turning the covariance of mini-batch gradients into K."""
    if not 1 <= batch_size < n:
        raise ValueError(f"batch_size must lie in [1, n − 1 = {n - 1}], got {batch_size}")
    return batch_size * (n - 1) / (n - batch_size)
