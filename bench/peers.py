"""The comparison libraries, imported lazily: PyHessian (power iteration) and BackPACK (BatchGrad, DiagHessian).

Install them without their dependencies so they cannot replace the CPU torch:
``pip install --no-deps backpack-for-pytorch einops unfoldNd pyhessian``.
"""

from __future__ import annotations

import copy
import importlib
import importlib.metadata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import torch
from torch import nn

from trainingdynamics.diagnostics.spectra import LossFn

INSTALL_HINT = "pip install --no-deps backpack-for-pytorch einops unfoldNd pyhessian"
PEER_DISTRIBUTIONS = ("pyhessian", "backpack-for-pytorch", "einops", "unfoldNd")


class MissingPeerError(ImportError):
    """A comparison library is not installed."""


def peer(module: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingPeerError` saying how to install the ``bench`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingPeerError(
            f"the benchmarks need {module!r}, which is missing ({error}); install the comparison libraries with "
            f"`{INSTALL_HINT}` (the `bench` extra)"
        ) from error


def require_peers() -> None:
    """Fail early, with the install command, if any comparison library is missing."""
    for module in ("pyhessian", "backpack", "einops", "unfoldNd"):
        peer(module)


def versions() -> dict[str, str]:
    """Installed versions of torch, NumPy, SciPy and the comparison libraries."""
    names = ("torch", "numpy", "scipy", *PEER_DISTRIBUTIONS)
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


@contextmanager
def counted_pyhessian_hvps() -> Iterator[list[int]]:
    """Count PyHessian's Hessian-vector products (its module-level ``hessian_vector_product``) while inside.

    Also silences torch's warning about PyHessian's ``backward(create_graph=True)``; the cycle it
    warns about is broken by :func:`release_graph`.
    """
    module = peer("pyhessian.hessian")
    original = module.hessian_vector_product
    calls = [0]

    def counting(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    module.hessian_vector_product = counting
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Using backward\\(\\) with create_graph=True")
            yield calls
    finally:
        module.hessian_vector_product = original


@contextmanager
def backpack_context(extension: object) -> Iterator[None]:
    """BackPACK's ``backpack(extension)`` context, without torch's warning that inputs need no gradient (they do not)."""
    with peer("backpack").backpack(extension), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        yield


def release_graph(model: nn.Module) -> None:
    """Drop the ``.grad`` fields PyHessian fills with a differentiable graph (a reference cycle otherwise)."""
    for p in model.parameters():
        p.grad = None


@dataclass(frozen=True)
class PeerEstimate:
    """Numbers a peer library returned and the Hessian-vector products it used."""

    values: np.ndarray
    n_hvp: int


def pyhessian_eigenvalues(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    k: int,
    tol: float,
    max_iter: int,
) -> PeerEstimate:
    """PyHessian's ``hessian(...).eigenvalues(top_n=k)``: power iteration with deflation, stopping on a relative change < ``tol``.

    Its random start vectors come from torch's global generator: seed it before calling. The
    model is switched to eval mode by PyHessian; pass a copy.
    """
    hessian = peer("pyhessian").hessian
    with counted_pyhessian_hvps() as calls:
        values, _ = hessian(model, loss_fn, data=(X, y), cuda=False).eigenvalues(
            maxIter=max_iter, tol=tol, top_n=k
        )
    release_graph(model)
    return PeerEstimate(np.asarray(values, dtype=np.float64), calls[0])


def pyhessian_trace(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    tol: float = 1e-3,
    max_iter: int = 100,
) -> PeerEstimate:
    """PyHessian's ``trace()``: the Hutchinson samples vᵀHv it drew before its running mean changed by < ``tol``."""
    hessian = peer("pyhessian").hessian
    with counted_pyhessian_hvps() as calls:
        samples = hessian(model, loss_fn, data=(X, y), cuda=False).trace(maxIter=max_iter, tol=tol)
    release_graph(model)
    return PeerEstimate(np.asarray(samples, dtype=np.float64), calls[0])


def pyhessian_density_check(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor
) -> str:
    """Whether PyHessian's ``density()`` (stochastic Lanczos quadrature) runs here: "ok" or the error it raised.

    Version 0.1 calls ``torch.eig``, which torch removed in 2.x.
    """
    hessian = peer("pyhessian").hessian
    try:
        with counted_pyhessian_hvps():
            hessian(model, loss_fn, data=(X, y), cuda=False).density(iter=5, n_v=1)
    except Exception as error:  # reported, not raised: a peer's failure is a result
        return f"{type(error).__name__}: {error}".splitlines()[0].replace("`", "'")
    finally:
        release_graph(model)
    return "ok"


def summed(loss_fn: nn.Module) -> nn.Module:
    """A copy of a torch loss module with ``reduction='sum'`` (BackPACK's per-example gradients then carry no 1/n)."""
    loss = copy.deepcopy(loss_fn)
    loss.reduction = "sum"
    return loss


def backpack_per_example_gradients(
    model: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """The n × P per-example gradients from BackPACK's ``BatchGrad`` (one backward pass of the summed loss).

    ``model`` is extended in place (hooks are added): pass a copy.
    """
    backpack = peer("backpack")
    extensions = peer("backpack.extensions")
    model = backpack.extend(model)
    loss = backpack.extend(summed(loss_fn))
    with backpack_context(extensions.BatchGrad()):
        loss(model(X), y).backward()
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.cat([p.grad_batch.reshape(len(X), -1) for p in params], dim=1)


def backpack_hessian_trace(
    model: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor
) -> float:
    """Tr H summed from BackPACK's exact ``DiagHessian`` of the mean loss (the trace reference); extends ``model`` in place."""
    backpack = peer("backpack")
    extensions = peer("backpack.extensions")
    model = backpack.extend(model)
    loss = backpack.extend(copy.deepcopy(loss_fn))
    with backpack_context(extensions.DiagHessian()):
        loss(model(X), y).backward()
    return float(sum(p.diag_h.sum() for p in model.parameters() if p.requires_grad))
