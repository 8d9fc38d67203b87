"""What every curvature diagnostic shares: flat parameter vectors, the caller's mode, input checks.

Parameter vectors are flat: the trainable parameters in ``model.named_parameters()`` order, each
flattened. The caller's train/eval mode is never switched silently: ``mode=None`` uses the model
as it is, ``"train"``/``"eval"`` sets it for the call and restores every module's previous mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

import numpy as np
import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Mode = Literal["train", "eval"] | None
Params = dict[str, torch.Tensor]


@contextmanager
def model_mode(model: nn.Module, mode: Mode) -> Iterator[nn.Module]:
    """Put ``model`` in ``mode`` ("train", "eval" or None = as is), restore every module after."""
    if mode not in ("train", "eval", None):
        raise ValueError(f"mode must be 'train', 'eval' or None, got {mode!r}")
    previous = [(module, module.training) for module in model.modules()]
    if mode is not None:
        model.train(mode == "train")
    try:
        yield model
    finally:
        for module, training in previous:
            module.training = training


def refuse_batch_coupling(model: nn.Module, what: str) -> None:
    """Raise if a BatchNorm layer is in train mode: it mixes the examples, ``what`` is undefined."""
    coupled = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training
    ]
    if coupled:
        raise ValueError(
            f"{what} are undefined for BatchNorm in train mode (layers {', '.join(coupled)} mix "
            "the examples of a batch); pass mode='eval' to use the running statistics"
        )


def refuse_random_layers(model: nn.Module, what: str) -> None:
    """Raise if a dropout layer is in train mode: two passes would draw different masks."""
    random = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.dropout._DropoutNd) and m.training
    ]
    if random:
        raise ValueError(
            f"{what} need deterministic layers (dropout {', '.join(random)} is in train mode); "
            "pass mode='eval'"
        )


def check_inputs(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> None:
    """Refuse what would otherwise end in a silent NaN or a bare error, naming the argument."""
    if len(X) == 0:
        raise ValueError("X has no examples (len(X) == 0)")
    if len(y) != len(X):
        raise ValueError(
            f"X and y must hold the same number of examples, got {len(X)} and {len(y)}"
        )
    for name, data in (("X", X), ("y", y)):
        if data.is_floating_point() and not bool(torch.isfinite(data).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no trainable parameters (no parameter requires grad)")


def require_count(name: str, value: object) -> int:
    """``value`` as a positive integer, or a ``ValueError`` that names the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def trainable_parameters(model: nn.Module) -> Params:
    """The trainable parameters, detached, in ``named_parameters()`` order."""
    return {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}


def parameter_count(model: nn.Module) -> int:
    """P, the number of trainable parameters: the dimension of every curvature operator."""
    return sum(p.numel() for p in trainable_parameters(model).values())


def buffers_of(model: nn.Module) -> Params:
    """The model's buffers (e.g. BatchNorm's running statistics), detached."""
    return {name: b.detach() for name, b in model.named_buffers()}


def flatten(tensors: Params) -> torch.Tensor:
    """Concatenate the tensors of a parameter dict into one flat vector."""
    return torch.cat([t.reshape(-1) for t in tensors.values()])


def unflatten(vector: torch.Tensor, like: Params) -> Params:
    """Split a flat vector into tensors shaped like ``like`` (the inverse of :func:`flatten`)."""
    sizes = [t.numel() for t in like.values()]
    pieces = torch.split(vector, sizes)
    return {
        name: piece.reshape(t.shape) for (name, t), piece in zip(like.items(), pieces, strict=True)
    }


def chunks(n: int, chunk_size: int | None) -> list[slice]:
    """Slices cutting ``range(n)`` into pieces of at most ``chunk_size`` (one piece if None)."""
    size = n if chunk_size is None else chunk_size
    if size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]
