"""Curvature and gradient-noise spectra of a model's loss: Hessian, Gauss–Newton, covariance.

The public API. The machinery lives beside it and is importable from here too:
``operators`` (the matvecs of H, G and K, ``as_linear_operator``), ``lanczos`` (top eigenpairs,
checked for missed ones), ``trace`` (Hutchinson, Hutch++), ``density`` (stochastic Lanczos
quadrature), ``gradients`` (per-example gradients), ``functional`` (flat parameters, modes).

For a model with parameters θ ∈ R^P and a mean-reduced loss L(θ) = (1/n) Σ_i ℓ_i(θ)
on examples (x_i, y_i):

- the Hessian H = ∇²L is reached only through Hessian–vector products
  Hv = ∇(∇L·v), computed reverse-over-reverse (``vjp(grad(L))``) and accumulated
  over chunks of *sum*-reduced losses, so the chunk size never changes the answer;
  its top eigenpairs come from Lanczos with full reorthogonalisation, its trace from
  Hutchinson's estimator Tr H = E[zᵀHz] over Rademacher vectors z or Hutch++, its density
  from stochastic Lanczos quadrature (:func:`spectral_density`, also for G and K);
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
from dataclasses import dataclass
from typing import Literal

import scipy.linalg
import torch
from torch import nn
from torch.func import functional_call, vmap

from trainingdynamics.diagnostics.density import SpectralDensity, stochastic_lanczos_quadrature
from trainingdynamics.diagnostics.functional import (
    LossFn,
    Mode,
    Params,
    check_inputs,
    chunks,
    flatten,
    model_mode,
    parameter_count,
    refuse_batch_coupling,
    refuse_random_layers,
    require_count,
    trainable_parameters,
    unflatten,
)
from trainingdynamics.diagnostics.gradients import (
    centred_gradients,
    covariance_trace,
    looped_per_example_gradients,
    per_example_gradients,
    per_example_gradients_of,
)
from trainingdynamics.diagnostics.lanczos import EigenResult, as_matvec, lanczos, ritz_pairs
from trainingdynamics.diagnostics.operators import (
    Matrix,
    as_linear_operator,
    covariance_operator,
    curvature_operator,
    gauss_newton_operator,
    hvp_operator,
)
from trainingdynamics.diagnostics.trace import TraceEstimate, hutchinson_trace, hutchpp_trace

__all__ = [  # the public API; everything above is importable from here too
    "CovarianceSpectrum",
    "EigenResult",
    "SpectralDensity",
    "TraceEstimate",
    "as_linear_operator",
    "as_matvec",
    "covariance_operator",
    "covariance_spectrum",
    "curvature_operator",
    "dense_hessian",
    "gauss_newton_operator",
    "gradient_covariance_eigenvalues",
    "gradient_covariance_trace",
    "gradient_gram",
    "hessian_eigenvalues",
    "hessian_trace",
    "hessian_vector_product",
    "hutchinson_trace",
    "hutchpp_trace",
    "hvp_operator",
    "lanczos",
    "looped_per_example_gradients",
    "model_mode",
    "per_example_gradients",
    "ritz_pairs",
    "spectral_density",
    "stochastic_lanczos_quadrature",
    # helpers other modules and tests use
    "LossFn",
    "Mode",
    "Params",
    "centred_gradients",
    "check_inputs",
    "chunks",
    "covariance_trace",
    "flatten",
    "per_example_gradients_of",
    "refuse_batch_coupling",
    "refuse_random_layers",
    "require_count",
    "trainable_parameters",
    "unflatten",
]


@dataclass(frozen=True)
class CovarianceSpectrum:
    """Top eigenpairs and trace of the gradient covariance K, from n per-example gradients."""

    values: torch.Tensor  # (k,), float64, descending
    vectors: torch.Tensor  # (k, P), float64, orthonormal rows (parameter space)
    trace: float  # Tr K = (1/n) Σ ‖g_i − ḡ‖²
    n_examples: int


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
    """Top-``k`` Hessian eigenpairs of the mean loss over (X, y), by :func:`lanczos` on exact HVPs.

    ``start`` (e.g. the previous top eigenvector along a trajectory) warm-starts Lanczos;
    otherwise the start vector is Gaussian from ``seed``.
    """
    with model_mode(model, mode):
        matvec = hvp_operator(model, loss_fn, X, y, chunk_size=chunk_size)
        return lanczos(
            matvec,
            parameter_count(model),
            k=k,
            tol=tol,
            max_iter=max_iter,
            start=start,
            seed=seed,
            device=X.device,
        )


TraceMethod = Literal["hutchinson", "hutch++"]


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
    method: TraceMethod = "hutchinson",
) -> TraceEstimate:
    """Tr H of the mean loss over (X, y) from ``probes`` exact HVPs, with a standard error.

    ``method``: Hutchinson's estimator, or Hutch++ (``probes`` products in all).
    """
    if method not in ("hutchinson", "hutch++"):
        raise ValueError(f"method must be 'hutchinson' or 'hutch++', got {method!r}")
    estimate = hutchinson_trace if method == "hutchinson" else hutchpp_trace
    with model_mode(model, mode):
        matvec = hvp_operator(model, loss_fn, X, y, chunk_size=chunk_size)
        return estimate(matvec, parameter_count(model), probes, seed=seed)


def spectral_density(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    matrix: Matrix = "hessian",
    steps: int = 30,
    probes: int = 10,
    seed: int = 0,
    chunk_size: int | None = None,
    mode: Mode = None,
) -> SpectralDensity:
    """The spectral density of H, G or K (``matrix``) over (X, y) by stochastic Lanczos quadrature.

    ``probes`` Gaussian probes of ``steps`` Lanczos steps each; ``.density(grid, sigma)`` gives
    the Gaussian-broadened density, ``.moment(p)`` ≈ (1/P) Tr A^p.
    """
    with model_mode(model, mode):
        matvec = curvature_operator(model, loss_fn, X, y, matrix, chunk_size=chunk_size)
        return stochastic_lanczos_quadrature(
            matvec, parameter_count(model), steps=steps, probes=probes, seed=seed
        )


CovarianceMethod = Literal["auto", "dense", "lanczos"]
LANCZOS_MIN_SIZE = (
    512  # "auto" uses Lanczos above this min(n, P) (the crossover measured in bench/)
)
LANCZOS_MAX_K = 16  # ... and for at most this many eigenvalues


def prefers_lanczos(size: int, k: int) -> bool:
    """Whether a few top eigenpairs of a ``size``² operator are cheaper by Lanczos than LAPACK."""
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
    """Top-``k`` eigenpairs of K from the smaller of (1/n) G_c G_cᵀ and (1/n) G_cᵀG_c."""
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
    """Top-``k`` eigenpairs of K by Lanczos on the smaller of u ↦ G_c(G_cᵀu)/n, v ↦ G_cᵀ(G_c v)/n.

    Neither the Gram matrix nor K is formed: a product costs 2nP in the gradients' precision,
    against n²P to form the Gram matrix, so a few top eigenvalues of many examples come cheap.
    Residuals in that precision stop near its machine epsilon ε: ``tol`` is raised to 100ε.
    """
    n, dim = centred.shape
    dtype = centred.dtype
    tol = max(tol, 100 * torch.finfo(dtype).eps)
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


def example_losses(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """The n losses ℓ_i = ``loss_fn`` of example i on its own, from one batched forward pass."""
    return vmap(lambda out, t: loss_fn(out.unsqueeze(0), t.unsqueeze(0)))(model(X), y)


def factorable_linear_layers(model: nn.Module) -> list[nn.Linear]:
    """``nn.Linear`` layers whose trainable parameters no other module shares."""
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
    """The n × n Gram matrix g_i·g_j of the per-example gradients (float64), never forming them.

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


def centred_gram(gram: torch.Tensor) -> torch.Tensor:
    """C G C with C = I − 11ᵀ/n: the Gram matrix of the centred rows, (g_i − ḡ)·(g_j − ḡ)."""
    row = gram.mean(dim=1, keepdim=True)
    return gram - row - row.T + gram.mean()


def covariance_from_gram(
    model: nn.Module, loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, k: int, mode: Mode
) -> CovarianceSpectrum:
    """K's top-``k`` eigenpairs and trace from :func:`gradient_gram`.

    Eigenvectors Σ_i u_i g_i = ∇_θ Σ_i u_i ℓ_i come from weighted backward passes.
    """
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
    """The full P × P Hessian of the mean loss by ``torch.func.hessian`` (tiny models)."""
    params = trainable_parameters(model)
    buffers = {name: b.detach() for name, b in model.named_buffers()}

    def loss(theta: torch.Tensor) -> torch.Tensor:
        return loss_fn(functional_call(model, (unflatten(theta, params), buffers), (X,)), y)

    return torch.func.hessian(loss)(flatten(params))
