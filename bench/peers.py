"""The comparison libraries, imported lazily.

curvlinops (its Hessian operator handed to scipy's ``eigsh``), hessian-eigenthings (Lanczos),
PyHessian (power iteration) and BackPACK (BatchGrad, DiagHessian). Install them without their
dependencies so they cannot replace the CPU torch: the ``bench`` extra plus :data:`INSTALL_HINT`.
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
import scipy.sparse.linalg
import torch
from torch import nn

from trainingdynamics.diagnostics.spectra import LossFn

NO_DEPS = (
    "backpack-for-pytorch==1.7.1",
    "curvlinops-for-pytorch==3.0.1",
    "hessian-eigenthings==1.0.0a5",
)
INSTALL_HINT = 'pip install -e ".[bench]" && pip install --no-deps ' + " ".join(NO_DEPS)
PEER_DISTRIBUTIONS = (
    "curvlinops-for-pytorch",
    "hessian-eigenthings",
    "pyhessian",
    "backpack-for-pytorch",
    "einops",
    "unfoldNd",
    "einconv",
    "linear_operator",
    "jaxtyping",
    "opt-einsum",
)
PEER_MODULES = ("curvlinops", "hessian_eigenthings", "pyhessian", "backpack", "einops", "unfoldNd")


class MissingPeerError(ImportError):
    """A comparison library is not installed."""


def peer(module: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingPeerError` saying how to install the ``bench``
    extra."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingPeerError(
            f"the benchmarks need {module!r}, which is missing ({error}); install the comparison "
            f"libraries with `{INSTALL_HINT}` (the `bench` extra, then --no-deps)"
        ) from error


def require_peers() -> None:
    """Fail early, with the install command, if any comparison library is missing."""
    for module in PEER_MODULES:
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
    """Count PyHessian's Hessian-vector products (its module-level ``hessian_vector_product``)
    while inside.

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
    """BackPACK's ``backpack(extension)`` context, without torch's warning that inputs need no
    gradient (they do not)."""
    with peer("backpack").backpack(extension), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        yield


def release_graph(model: nn.Module) -> None:
    """Drop the ``.grad`` fields PyHessian fills with a differentiable graph (a reference cycle
    otherwise)."""
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
    """PyHessian's ``hessian(...).eigenvalues(top_n=k)``: power iteration with deflation, stopping
    on a relative change < ``tol``.

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
    """PyHessian's ``trace()``: the Hutchinson samples vᵀHv it drew before its running mean changed
    by < ``tol``."""
    hessian = peer("pyhessian").hessian
    with counted_pyhessian_hvps() as calls:
        samples = hessian(model, loss_fn, data=(X, y), cuda=False).trace(maxIter=max_iter, tol=tol)
    release_graph(model)
    return PeerEstimate(np.asarray(samples, dtype=np.float64), calls[0])


def pyhessian_density_check(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor
) -> str:
    """Whether PyHessian's ``density()`` (stochastic Lanczos quadrature) runs here: "ok" or the
    error it raised.

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
    """A copy of a torch loss module with ``reduction='sum'`` (BackPACK's per-example gradients
    then carry no 1/n)."""
    loss = copy.deepcopy(loss_fn)
    loss.reduction = "sum"
    return loss


def backpack_per_example_gradients(
    model: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """The n × P per-example gradients from BackPACK's ``BatchGrad`` (one backward pass of the
    summed loss).

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
    """Tr H summed from BackPACK's exact ``DiagHessian`` of the mean loss (the trace reference);
    extends ``model`` in place."""
    backpack = peer("backpack")
    extensions = peer("backpack.extensions")
    model = backpack.extend(model)
    loss = backpack.extend(copy.deepcopy(loss_fn))
    with backpack_context(extensions.DiagHessian()):
        loss(model(X), y).backward()
    return float(sum(p.diag_h.sum() for p in model.parameters() if p.requires_grad))


def counted(operator: scipy.sparse.linalg.LinearOperator) -> tuple[object, list[int]]:
    """A scipy LinearOperator that counts its products, and the counter."""
    calls = [0]

    def apply(v: np.ndarray) -> np.ndarray:
        calls[0] += 1
        return operator.matvec(v)

    wrapped = scipy.sparse.linalg.LinearOperator(operator.shape, matvec=apply, dtype=operator.dtype)
    return wrapped, calls


def curvlinops_eigenvalues(
    model: nn.Module,
    loss_fn: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    k: int,
    tol: float,
    seed: int,
) -> PeerEstimate:
    """curvlinops' ``HessianLinearOperator`` → ``to_scipy()`` → ``eigsh(k, which="LA", tol)``.

    As its documentation shows; ``tol=0`` is eigsh's default (machine precision), ``ncv`` its
    default max(2k + 1, 20). The start vector is seeded; the determinism check is skipped (ours
    has none either).
    """
    curvlinops = peer("curvlinops")
    params = [p for p in model.parameters() if p.requires_grad]
    hessian = curvlinops.HessianLinearOperator(
        model, loss_fn, params, [(X, y)], check_deterministic=False
    )
    operator, calls = counted(hessian.to_scipy())
    start = np.random.default_rng(seed).standard_normal(operator.shape[0]).astype(operator.dtype)
    values = scipy.sparse.linalg.eigsh(operator, k=k, which="LA", tol=tol, v0=start)[0]
    return PeerEstimate(np.sort(values)[::-1].astype(np.float64), calls[0])


def hessian_eigenthings_eigenvalues(
    model: nn.Module,
    loss_fn: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    k: int,
    max_iter: int | None,
    seed: int,
) -> PeerEstimate:
    """hessian-eigenthings' ``lanczos(HessianOperator(...), k, max_iter)``: a fixed step count.

    ``max_iter=None`` is its default, min(2k, P − 1) steps, with its default ``which="LM"``.
    """
    things = peer("hessian_eigenthings")
    operator = things.HessianOperator(model, [(X, y)], things.supervised_loss(loss_fn))
    original, calls = operator.matvec, [0]

    def counting(v: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        return original(v)

    operator.matvec = counting
    found = things.lanczos(operator, k=k, max_iter=max_iter, seed=seed)
    values = found.eigenvalues.detach().double().numpy()
    return PeerEstimate(np.sort(values)[::-1], calls[0])
