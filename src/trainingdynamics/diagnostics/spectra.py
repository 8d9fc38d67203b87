"""Curvature and gradient-noise spectra of a model's loss: Hessian and gradient covariance.

For a model with parameters θ ∈ R^P and a mean-reduced loss L(θ) = (1/n) Σ_i ℓ_i(θ)
on examples (x_i, y_i):

- the Hessian H = ∇²L is reached only through Hessian–vector products
  Hv = ∇(∇L·v), computed reverse-over-reverse (``vjp(grad(L))``) and accumulated
  over chunks of *sum*-reduced losses, so the chunk size never changes the answer;
  its top eigenpairs come from Lanczos with full reorthogonalisation, its trace from
  Hutchinson's estimator Tr H = E[zᵀHz] over Rademacher vectors z;
- the per-example gradients g_i = ∇ℓ_i come from ``vmap(grad(ℓ))`` over
  ``functional_call``, and the gradient covariance
  K = (1/n) Σ_i (g_i − ḡ)(g_i − ḡ)ᵀ = (1/n) G_cᵀ G_c  (G_c: centred gradients, n × P)
  shares its nonzero spectrum with the n × n Gram matrix (1/n) G_c G_cᵀ, which is
  far cheaper when n ≪ P (formed densely, or applied implicitly inside Lanczos);
  Tr K = (1/n) Σ_i ‖g_i − ḡ‖²;
- the Gram matrix g_i·g_j can also be built layer by layer without the per-example
  gradients: a linear layer contributes (a_i·a_j + 1)(δ_i·δ_j) from its inputs a and the
  per-example gradients δ of its outputs (:func:`gradient_gram`).

Parameter vectors are flat: the trainable parameters in ``model.named_parameters()``
order, each flattened. The caller's train/eval mode is never switched silently:
``mode=None`` uses the model as it is, ``"train"``/``"eval"`` sets it for the call and
restores every module's previous mode afterwards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg
import torch
from torch import nn
from torch.func import functional_call, grad, vjp, vmap

from trainingdynamics.seeding import torch_generator

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Mode = Literal["train", "eval"] | None
Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class EigenResult:
    """Top eigenpairs of a symmetric operator, largest first, and what computing them cost."""

    values: torch.Tensor  # (k,), float64, descending
    vectors: torch.Tensor  # (k, P), float64, orthonormal rows
    n_hvp: int  # operator applications used
    converged: bool  # every residual ‖Av − λv‖ ≤ tol · max|λ|
    residuals: torch.Tensor  # (k,), ‖Av − λv‖ for each pair


@dataclass(frozen=True)
class CovarianceSpectrum:
    """Top eigenpairs and trace of the gradient covariance K, from n per-example gradients."""

    values: torch.Tensor  # (k,), float64, descending
    vectors: torch.Tensor  # (k, P), float64, orthonormal rows (parameter space)
    trace: float  # Tr K = (1/n) Σ ‖g_i − ḡ‖²
    n_examples: int


@contextmanager
def model_mode(model: nn.Module, mode: Mode) -> Iterator[nn.Module]:
    """Put ``model`` in ``mode`` ("train", "eval" or None = unchanged) and restore every module afterwards."""
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
    """Raise if a BatchNorm layer is in train mode: it mixes the examples, so ``what`` is undefined."""
    coupled = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training
    ]
    if coupled:
        raise ValueError(
            f"{what} are undefined for BatchNorm in train mode (layers {', '.join(coupled)} mix the examples "
            "of a batch); pass mode='eval' to use the running statistics"
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


def hvp_operator(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    chunk_size: int | None = None,
) -> Callable[[torch.Tensor], torch.Tensor]:
    """v ↦ Hv for the mean loss over (X, y) at the model's current parameters and mode.

    Hv = (1/n) Σ_chunks ∇(∇L_chunk·v) with L_chunk the chunk's *summed* loss. Since H is
    symmetric, the pullback of the gradient map, vᵀH = (Hv)ᵀ, is an HVP: without chunking the
    map is linearised once, ``vjp(grad(L), θ)``, and each product is one reverse pass through the
    stored graph; with ``chunk_size`` (to bound memory) each chunk's map is linearised anew for
    every product. Both are reverse-over-reverse, so every loss that has a double backward works.
    """
    check_inputs(model, X, y)
    refuse_batch_coupling(model, "Hessian-vector products")
    refuse_random_layers(model, "Hessian-vector products")
    params = trainable_parameters(model)
    buffers = {name: b.detach() for name, b in model.named_buffers()}
    dtype = next(iter(params.values())).dtype

    def summed_loss(p: Params, xs: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
        return loss_fn(functional_call(model, (p, buffers), (xs,)), ts) * len(xs)

    if chunk_size is None or chunk_size >= len(X):
        _, pullback = vjp(grad(lambda p: summed_loss(p, X, y)), params)
        return lambda vector: (
            flatten(pullback(unflatten(vector.to(dtype), params))[0]).to(torch.float64) / len(X)
        )

    pieces = chunks(len(X), chunk_size)

    def apply(vector: torch.Tensor) -> torch.Tensor:
        tangent = unflatten(vector.to(dtype), params)
        total = torch.zeros(vector.shape, dtype=torch.float64, device=vector.device)
        for piece in pieces:
            xs, ts = X[piece], y[piece]
            _, pullback = vjp(grad(lambda p, xs=xs, ts=ts: summed_loss(p, xs, ts)), params)
            total += flatten(pullback(tangent)[0]).to(torch.float64)
        return total / len(X)

    return apply


def hessian_vector_product(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    vector: torch.Tensor,
    *,
    chunk_size: int | None = None,
    mode: Mode = None,
) -> torch.Tensor:
    """Hv (float64, flat) for the mean loss over (X, y)."""
    with model_mode(model, mode):
        return hvp_operator(model, loss_fn, X, y, chunk_size=chunk_size)(vector)


def ritz_pairs(
    alphas: list[float], betas: list[float], k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` largest Ritz values (descending), their vectors in the Lanczos basis, and residuals β_j|s_j|."""
    values, vectors = scipy.linalg.eigh_tridiagonal(
        np.array(alphas), np.array(betas[: len(alphas) - 1])
    )
    order = np.argsort(values)[::-1][:k]
    return values[order], vectors[:, order], betas[-1] * np.abs(vectors[-1, order])


def lanczos(
    matvec: Callable[[torch.Tensor], torch.Tensor],
    dim: int,
    *,
    k: int = 1,
    tol: float = 1e-6,
    max_iter: int = 300,
    start: torch.Tensor | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> EigenResult:
    """Top-``k`` (largest algebraic) eigenpairs of a symmetric operator by Lanczos with full reorthogonalisation.

    After j steps AQ_j = Q_j T_j + β_j q_{j+1} e_jᵀ, so a Ritz pair (θ, Q_j s) has residual
    ‖A Q_j s − θ Q_j s‖ = β_j |s_j| exactly; iteration stops when every top-k residual is at most
    ``tol`` · max|θ|, which bounds each eigenvalue's error by ``tol`` · ‖A‖.
    """
    k, max_iter = require_count("k", k), require_count("max_iter", max_iter)
    if k > dim:
        raise ValueError(f"k must lie in [1, {dim}] (the operator's dimension), got {k}")
    if max_iter < k:
        raise ValueError(
            f"max_iter ({max_iter}) must be at least k ({k}): each Lanczos step adds one Ritz value"
        )
    steps = min(max_iter, dim)
    if start is None:
        start = torch.randn(dim, generator=torch_generator(seed), dtype=torch.float64)
    q = start.to(device=device, dtype=torch.float64)
    q = q / torch.linalg.norm(q)
    basis = torch.empty(
        min(steps, max(2 * k, 32)), dim, dtype=torch.float64, device=device
    )  # doubled when full
    alphas: list[float] = []
    betas: list[float] = []
    converged = False
    for j in range(steps):
        if j == len(basis):
            basis = torch.cat([basis, torch.empty_like(basis)])
        basis[j] = q
        w = matvec(q).to(torch.float64)
        alphas.append(float(q @ w))
        for _ in range(2):  # full reorthogonalisation, twice ("twice is enough")
            w = w - basis[: j + 1].T @ (basis[: j + 1] @ w)
        betas.append(float(torch.linalg.norm(w)))
        if j + 1 >= k:
            theta, s, residuals = ritz_pairs(alphas, betas, k)
            converged = bool(np.all(residuals <= tol * max(np.max(np.abs(theta)), 1e-300)))
            if converged:
                break
        if betas[-1] == 0.0:
            break
        q = w / betas[-1]
    if len(alphas) < k:
        raise ValueError(
            f"the Krylov space of the start vector has dimension {len(alphas)} < k = {k}"
        )
    vectors = torch.as_tensor(s.T.copy(), dtype=torch.float64, device=device) @ basis[: len(alphas)]
    return EigenResult(
        values=torch.as_tensor(theta.copy()),
        vectors=vectors,
        n_hvp=len(alphas),
        converged=converged,
        residuals=torch.as_tensor(residuals.copy()),
    )


def hessian_eigenvalues(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    k: int = 1,
    tol: float = 1e-6,
    chunk_size: int | None = None,
    mode: Mode = None,
    max_iter: int = 300,
    start: torch.Tensor | None = None,
    seed: int = 0,
) -> EigenResult:
    """Top-``k`` Hessian eigenpairs of the mean loss over (X, y), by Lanczos on exact HVPs.

    ``start`` (e.g. the previous top eigenvector along a trajectory) warm-starts Lanczos;
    otherwise the start vector is Gaussian from ``seed``.
    """
    with model_mode(model, mode):
        matvec = hvp_operator(model, loss_fn, X, y, chunk_size=chunk_size)
        dim = sum(p.numel() for p in trainable_parameters(model).values())
        return lanczos(
            matvec, dim, k=k, tol=tol, max_iter=max_iter, start=start, seed=seed, device=X.device
        )


@dataclass(frozen=True)
class TraceEstimate:
    """Hutchinson's estimate of a trace: the mean of the probe samples zᵀAz and its standard error."""

    value: float
    stderr: float  # sample standard deviation / √probes (NaN for one probe)
    samples: np.ndarray
    n_hvp: int

    @classmethod
    def from_samples(cls, samples: np.ndarray) -> TraceEstimate:
        """The mean of the samples zᵀAz (one HVP each) and its standard error s/√m."""
        samples = np.asarray(samples, dtype=np.float64)
        stderr = (
            float(np.std(samples, ddof=1) / np.sqrt(len(samples)))
            if len(samples) > 1
            else float("nan")
        )
        return cls(float(samples.mean()), stderr, samples, len(samples))


def hutchinson_trace(
    matvec: Callable[[torch.Tensor], torch.Tensor], dim: int, probes: int, *, seed: int = 0
) -> TraceEstimate:
    """Tr A from ``probes`` Rademacher vectors z: E[zᵀAz] = Tr A, Var[zᵀAz] = 2 Σ_{i≠j} A_ij².

    A fixed probe count (no early stopping) keeps the estimate unbiased and its standard error honest.
    """
    probes = require_count("probes", probes)
    generator = torch_generator(seed)
    samples = np.empty(probes)
    for i in range(probes):
        z = torch.randint(0, 2, (dim,), generator=generator).to(torch.float64) * 2 - 1
        samples[i] = float(z @ matvec(z).cpu())
    return TraceEstimate.from_samples(samples)


def hessian_trace(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    probes: int = 100,
    seed: int = 0,
    chunk_size: int | None = None,
    mode: Mode = None,
) -> TraceEstimate:
    """Tr H of the mean loss over (X, y) by Hutchinson's estimator on exact HVPs, with its standard error."""
    with model_mode(model, mode):
        matvec = hvp_operator(model, loss_fn, X, y, chunk_size=chunk_size)
        dim = sum(p.numel() for p in trainable_parameters(model).values())
        return hutchinson_trace(matvec, dim, probes, seed=seed)


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


def centred_gradients(gradients: torch.Tensor) -> torch.Tensor:
    """G_c = G − ḡ, the rows minus their mean (accumulated in float64), in the gradients' precision."""
    return gradients - gradients.to(torch.float64).mean(dim=0).to(gradients.dtype)


def covariance_trace(centred: torch.Tensor) -> float:
    """Tr K = (1/n) ‖G_c‖²_F, summed in float64."""
    return float((centred * centred).sum(dtype=torch.float64)) / len(centred)


CovarianceMethod = Literal["auto", "dense", "lanczos"]
LANCZOS_MIN_SIZE = (
    512  # "auto" uses Lanczos above this min(n, P) (the crossover measured in bench/)
)
LANCZOS_MAX_K = 16  # ... and for at most this many eigenvalues


def prefers_lanczos(size: int, k: int) -> bool:
    """Whether a few top eigenpairs of a ``size`` × ``size`` operator are cheaper by Lanczos than by a full factorisation."""
    return size > LANCZOS_MIN_SIZE and k <= LANCZOS_MAX_K


def top_eigh(matrix: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest eigenpairs of a symmetric matrix, values descending, vectors as columns.

    On the CPU only the wanted pairs are computed (LAPACK ``syevr`` with an index range).
    """
    m = len(matrix)
    if matrix.device.type != "cpu":
        values, vectors = torch.linalg.eigh(matrix)
        return values.flip(0)[:k], vectors.flip(1)[:, :k]
    values, vectors = scipy.linalg.eigh(
        matrix.numpy(), subset_by_index=[m - k, m - 1], driver="evr"
    )
    return torch.from_numpy(values[::-1].copy()), torch.from_numpy(vectors[:, ::-1].copy())


def dense_covariance_pairs(centred: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` eigenpairs of K from the smaller of the Gram matrix (1/n) G_c G_cᵀ and K = (1/n) G_cᵀG_c, in float64."""
    n, dim = centred.shape
    centred = centred.to(torch.float64)
    if n > dim:
        values, vectors = top_eigh(centred.T @ centred / n, k)
        return values, vectors.T
    values, small = top_eigh(centred @ centred.T / n, k)
    return values, nn.functional.normalize(
        centred.T @ small.to(centred.device), dim=0
    ).T  # G_cᵀu has norm √(nλ)


def lanczos_covariance_pairs(
    centred: torch.Tensor, k: int, tol: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` eigenpairs of K by Lanczos on the smaller of u ↦ (1/n) G_c(G_cᵀu) and v ↦ (1/n) G_cᵀ(G_c v).

    Neither the Gram matrix nor K is formed: a product costs 2nP in the gradients' precision,
    against n²P to form the Gram matrix, so a few top eigenvalues of many examples come cheap.
    """
    n, dim = centred.shape
    dtype = centred.dtype
    if n > dim:
        result = lanczos(
            lambda v: centred.T @ (centred @ v.to(dtype)) / n,
            dim,
            k=k,
            tol=tol,
            device=centred.device,
        )
        return result.values, result.vectors
    result = lanczos(
        lambda u: centred @ (centred.T @ u.to(dtype)) / n, n, k=k, tol=tol, device=centred.device
    )
    vectors = (centred.T @ result.vectors.T.to(dtype)).to(torch.float64)
    return result.values, nn.functional.normalize(vectors, dim=0).T  # G_cᵀu has norm √(nλ)


def covariance_spectrum(
    gradients: torch.Tensor, k: int = 1, *, method: CovarianceMethod = "auto", tol: float = 1e-10
) -> CovarianceSpectrum:
    """Top-``k`` eigenpairs and trace of K = (1/n) G_cᵀG_c from an n × P gradient matrix.

    K shares its nonzero spectrum with the n × n Gram matrix (1/n) G_c G_cᵀ = U Λ Uᵀ, and K's
    eigenvectors are G_cᵀu / √(nλ); whichever of the two is smaller is used. ``method="dense"``
    forms it in float64 and asks LAPACK for the top ``k`` pairs; ``"lanczos"`` applies it
    implicitly (residuals ≤ ``tol`` · λ_1, products in the gradients' precision); ``"auto"``
    picks Lanczos when min(n, P) > 512 and k ≤ 16. Tr K = (1/n) ‖G_c‖²_F in float64.
    """
    n, dim = gradients.shape
    if n == 0:
        raise ValueError("gradients has no rows (no examples)")
    k = require_count("k", k)
    if not k <= min(n, dim):
        raise ValueError(f"k must lie in [1, {min(n, dim)}], got {k}")
    if method not in ("auto", "dense", "lanczos"):
        raise ValueError(f"method must be 'auto', 'dense' or 'lanczos', got {method!r}")
    if method == "auto":
        method = "lanczos" if prefers_lanczos(min(n, dim), k) else "dense"
    centred = centred_gradients(gradients)
    trace = covariance_trace(centred)
    if method == "dense":
        values, vectors = dense_covariance_pairs(centred, k)
    else:
        values, vectors = lanczos_covariance_pairs(centred, k, tol)
    return CovarianceSpectrum(values.cpu(), vectors, trace, n)


def refuse_random_layers(model: nn.Module, what: str) -> None:
    """Raise if a dropout layer is in train mode: a batched pass and a per-example pass would draw different masks."""
    random = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.dropout._DropoutNd) and m.training
    ]
    if random:
        raise ValueError(
            f"{what} need deterministic layers (dropout {', '.join(random)} is in train mode); pass mode='eval'"
        )


def example_losses(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """The n losses ℓ_i = ``loss_fn`` of example i on its own, from one batched forward pass."""
    return vmap(lambda out, t: loss_fn(out.unsqueeze(0), t.unsqueeze(0)))(model(X), y)


def factorable_linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers with a trainable weight or bias that no other module shares (tied weights are not factorable)."""
    owners = Counter(id(p) for m in model.modules() for p in m.parameters(recurse=False))
    return [
        m
        for m in model.modules()
        if isinstance(m, nn.Linear)
        and any(p.requires_grad for p in m.parameters())
        and all(owners[id(p)] == 1 for p in m.parameters())
    ]


def gradient_gram(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, *, mode: Mode = None
) -> torch.Tensor:
    """The n × n Gram matrix g_i·g_j of the per-example gradients (float64), never forming the n × P gradients.

    A linear layer z = Wa + b applied once to an n × d input has per-example gradients
    (δ_i a_iᵀ, δ_i) with δ_i = ∂ℓ_i/∂z_i, so its share of the Gram matrix is
    (a_i·a_j + 1)(δ_i·δ_j): n²(d_in + d_out) operations instead of n²·d_in·d_out, from one
    batched forward and backward pass. Every other trainable parameter (and a linear layer used
    twice or on inputs with more than two dimensions) adds R Rᵀ, R its per-example gradients
    by ``vmap``. Products run in the model's precision and are summed in float64.
    """
    with model_mode(model, mode):
        check_inputs(model, X, y)
        refuse_batch_coupling(model, "per-example gradients")
        refuse_random_layers(model, "per-example gradients")
        calls: dict[nn.Linear, list[tuple[torch.Tensor, torch.Tensor]]] = {
            m: [] for m in factorable_linear_layers(model)
        }
        hooks = [
            m.register_forward_hook(
                lambda m, inputs, out: calls[m].append((inputs[0].detach(), out))
            )
            for m in calls
        ]
        try:
            losses = example_losses(model, loss_fn, X, y)
        finally:
            for hook in hooks:
                hook.remove()
        factored = {
            m: recorded[0]
            for m, recorded in calls.items()
            if len(recorded) == 1 and recorded[0][0].dim() == 2
        }
        deltas = (
            torch.autograd.grad(
                losses.sum(), [out for _, out in factored.values()], allow_unused=True
            )
            if factored
            else ()
        )
        gram = torch.zeros(len(X), len(X), dtype=torch.float64, device=X.device)
        for (m, (a, _)), delta in zip(factored.items(), deltas, strict=True):
            if delta is None:  # the layer's output does not reach the loss: zero gradients
                continue
            weight_term = a @ a.T if m.weight.requires_grad else torch.zeros_like(delta @ delta.T)
            bias_term = float(m.bias is not None and m.bias.requires_grad)
            gram += ((weight_term + bias_term) * (delta @ delta.T)).to(torch.float64)
        covered = {id(p) for m in factored for p in m.parameters()}
        rest = [
            name for name, p in model.named_parameters() if p.requires_grad and id(p) not in covered
        ]
        if rest:
            others = per_example_gradients_of(model, loss_fn, X, y, rest)
            gram += (others @ others.T).to(torch.float64)
        return gram


def per_example_gradients_of(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    names: list[str],
    *,
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Per-example gradients with respect to the named trainable parameters (the others held fixed), n × Σ sizes, by ``vmap(grad)``."""
    params = trainable_parameters(model)
    wanted = {name: params[name] for name in names}
    fixed = {name: p for name, p in params.items() if name not in wanted}
    buffers = {name: b.detach() for name, b in model.named_buffers()}

    def example_loss(p: Params, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return loss_fn(
            functional_call(model, ({**fixed, **p}, buffers), (x.unsqueeze(0),)), t.unsqueeze(0)
        )

    grads = vmap(grad(example_loss), in_dims=(None, 0, 0), chunk_size=chunk_size)(wanted, X, y)
    return torch.cat([g.reshape(len(X), -1) for g in grads.values()], dim=1)


def centred_gram(gram: torch.Tensor) -> torch.Tensor:
    """C G C with C = I − 11ᵀ/n: the Gram matrix of the centred rows, (g_i − ḡ)·(g_j − ḡ)."""
    row = gram.mean(dim=1, keepdim=True)
    return gram - row - row.T + gram.mean()


def covariance_from_gram(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, k: int, mode: Mode
) -> CovarianceSpectrum:
    """K's top-``k`` eigenpairs and trace from :func:`gradient_gram`; eigenvectors Σ_i u_i g_i = ∇_θ Σ_i u_i ℓ_i by weighted backward passes."""
    n = len(X)
    if not 1 <= k <= n:
        raise ValueError(f"k must lie in [1, {n}], got {k}")
    gram = centred_gram(gradient_gram(model, loss_fn, X, y, mode=mode)) / n
    if prefers_lanczos(n, k):  # n² per product
        found = lanczos(lambda u: gram @ u, n, k=k, tol=1e-10, device=gram.device)
        values, small = found.values, found.vectors.T
    else:
        values, small = top_eigh(gram, k)
    with model_mode(model, mode):
        losses = example_losses(model, loss_fn, X, y)
        params = [p for p in model.parameters() if p.requires_grad]
        weights = small.T.to(
            device=losses.device, dtype=losses.dtype
        )  # u ⊥ 1 for λ > 0, so Σ u_i g_i = Σ u_i (g_i − ḡ)
        sums = [
            torch.autograd.grad(
                losses, params, grad_outputs=u, retain_graph=True, materialize_grads=True
            )
            for u in weights
        ]
    vectors = torch.stack([torch.cat([g.reshape(-1) for g in grads]) for grads in sums]).to(
        torch.float64
    )
    return CovarianceSpectrum(
        values.cpu(), nn.functional.normalize(vectors, dim=1), float(torch.trace(gram)), n
    )


def gradient_covariance_eigenvalues(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    k: int = 1,
    mode: Mode = None,
    chunk_size: int | None = None,
    method: CovarianceMethod | Literal["gram"] = "auto",
) -> CovarianceSpectrum:
    """Top-``k`` eigenpairs (and trace) of the gradient covariance K over the examples (X, y).

    ``method`` "auto", "dense" or "lanczos" forms the n × P per-example gradients and hands them
    to :func:`covariance_spectrum`; "gram" builds the n × n Gram matrix layer by layer
    (:func:`gradient_gram`; n² memory, fastest for MLPs) and never forms them.
    """
    if method == "gram":
        return covariance_from_gram(model, loss_fn, X, y, k, mode)
    gradients = per_example_gradients(model, loss_fn, X, y, mode=mode, chunk_size=chunk_size)
    return covariance_spectrum(gradients, k, method=method)


def gradient_covariance_trace(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    mode: Mode = None,
    chunk_size: int | None = None,
) -> float:
    """Tr K = (1/n) Σ_i ‖g_i − ḡ‖², the total gradient variance over the examples (X, y)."""
    return covariance_trace(
        centred_gradients(
            per_example_gradients(model, loss_fn, X, y, mode=mode, chunk_size=chunk_size)
        )
    )


def dense_hessian(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """The full P × P Hessian of the mean loss by ``torch.func.hessian``: a reference for tiny models only."""
    params = trainable_parameters(model)
    buffers = {name: b.detach() for name, b in model.named_buffers()}

    def loss(theta: torch.Tensor) -> torch.Tensor:
        return loss_fn(functional_call(model, (unflatten(theta, params), buffers), (X,)), y)

    return torch.func.hessian(loss)(flatten(params))


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
