"""Top eigenpairs of a symmetric operator by Lanczos, with a check for eigenvalues it missed.

A Ritz pair (θ, y) with residual r = ‖Ay − θy‖ has *some* eigenvalue within r of θ, and by
Cauchy interlacing the i-th largest Ritz value of any subspace is at most λ_i. Neither says that
θ_i is close to λ_i: a Krylov space that has not yet resolved a near-multiple eigenvalue, or
whose start vector barely touches an eigenvector, converges to the next eigenvalue instead and
reports a small residual. :func:`lanczos` therefore does not stop at the first converged Ritz
pairs. It extends the explored space by a *check run*: k + 10 Lanczos steps from a fresh random
vector, on the operator restricted to the complement of everything explored so far, followed by
Rayleigh–Ritz on the union. If a top-k Ritz value rises by more than the bound, the earlier value
was provably wrong (it was a lower bound of λ_i); unconverged pairs are then refined by runs that
start from their residual vectors, and a new check run follows, until one rises nothing. A check
cannot prove that nothing is missing (no method that only sees products can), but a missed
eigenvector has a random, non-small component in the check's start vector, and the check's
Krylov space amplifies exactly the largest eigenvalues left outside the explored space.
Cost: at least k + 10 products beyond plain Lanczos, and twice its memory (AQ is kept). The
residuals checked are the true ‖Ay − θy‖ from the stored products, so a tolerance below the
products' rounding (e.g. 1e-10 with float32 products) cannot be met: two refining runs in a row
that do not reduce the worst residual by 10 % end the iteration, with ``converged=False``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
import torch

from trainingdynamics.diagnostics.functional import require_count
from trainingdynamics.seeding import torch_generator

Matvec = Callable[[torch.Tensor], torch.Tensor]
CHECK_STEPS = 10  # a check run takes k + CHECK_STEPS Lanczos steps
STALL = 0.9  # two refining runs in a row that leave the worst residual above 0.9× end the iteration


@dataclass(frozen=True)
class EigenResult:
    """Top eigenpairs of a symmetric operator, largest first, and what computing them cost."""

    values: torch.Tensor  # (k,), float64, descending
    vectors: torch.Tensor  # (k, P), float64, orthonormal rows
    n_hvp: int  # operator applications used
    converged: bool  # residuals ≤ tol · max|λ| and a check run found no missed eigenvalue
    residuals: torch.Tensor  # (k,), ‖Av − λv‖ for each pair


def as_matvec(operator: object) -> Matvec:
    """A float64 torch matvec from a callable, a ``scipy`` LinearOperator or anything with ``@``.

    Callables (e.g. :func:`~trainingdynamics.diagnostics.operators.hvp_operator`) are used as
    they are; a LinearOperator is applied to NumPy copies; a matrix or a curvlinops operator is
    applied with ``@`` in its own precision.
    """
    if isinstance(operator, scipy.sparse.linalg.LinearOperator):
        return lambda v: torch.from_numpy(
            np.asarray(operator.matvec(v.cpu().numpy()), dtype=np.float64).reshape(-1)
        ).to(v.device)
    if callable(operator):
        return operator
    if hasattr(operator, "__matmul__"):
        dtype = getattr(operator, "dtype", torch.float64)
        return lambda v: (operator @ v.to(dtype)).to(torch.float64)
    raise TypeError(f"cannot apply {type(operator).__name__}: pass a callable or a linear operator")


def ritz_pairs(
    alphas: list[float], betas: list[float], k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` largest Ritz values of a Lanczos tridiagonal, their vectors, residuals β_j|s_j|."""
    values, vectors = scipy.linalg.eigh_tridiagonal(
        np.array(alphas), np.array(betas[: len(alphas) - 1])
    )
    order = np.argsort(values)[::-1][:k]
    return values[order], vectors[:, order], betas[-1] * np.abs(vectors[-1, order])


class KrylovSpace:
    """An orthonormal basis Q (rows) of the explored space, W = AQ, and M = QᵀAQ as it grows."""

    def __init__(self, dim: int, capacity: int, device: torch.device | str) -> None:
        self.Q = torch.empty(capacity, dim, dtype=torch.float64, device=device)
        self.W = torch.empty_like(self.Q)
        self.M = np.zeros((capacity, capacity))
        self.size = 0

    def project_out(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """w minus its projection on the basis, twice (twice is enough); the first coefficients."""
        first = self.Q[: self.size] @ w
        w = w - self.Q[: self.size].T @ first
        return w - self.Q[: self.size].T @ (self.Q[: self.size] @ w), first

    def add(self, q: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Append q with Aq = w; return w orthogonalised against the basis (q included)."""
        if self.size == len(self.Q):
            self.Q = torch.cat([self.Q, torch.empty_like(self.Q)])
            self.W = torch.cat([self.W, torch.empty_like(self.W)])
            self.M = np.pad(self.M, ((0, len(self.M)), (0, len(self.M))))
        self.Q[self.size], self.W[self.size] = q, w
        self.size += 1
        rest, column = self.project_out(w)
        self.M[: self.size, self.size - 1] = column.cpu().numpy()
        return rest

    def ritz(self, k: int) -> tuple[np.ndarray, torch.Tensor, np.ndarray, torch.Tensor]:
        """Rayleigh–Ritz on the space: top-``k`` values, vectors, residuals, their vectors."""
        m = self.size
        upper = np.triu(self.M[:m, :m])
        values, small = np.linalg.eigh(upper + np.triu(upper, 1).T)
        order = np.argsort(values)[::-1][:k]
        values, small = values[order], torch.from_numpy(small[:, order].T.copy())
        small = small.to(self.Q.device)
        vectors = small @ self.Q[:m]
        residual = (
            small @ self.W[:m]
            - torch.from_numpy(values.copy()).to(self.Q.device)[:, None] * vectors
        )
        return values, vectors, torch.linalg.norm(residual, dim=1).cpu().numpy(), residual


def lanczos_run(
    matvec: Matvec,
    space: KrylovSpace,
    q: torch.Tensor,
    steps: int,
    stop: Callable[[list[float], list[float]], bool] | None = None,
) -> tuple[list[float], list[float]]:
    """Up to ``steps`` Lanczos steps from q, on the operator restricted to ``space``'s complement.

    Each new vector is orthogonalised against the whole space, so a run started after others
    explores only what they left out. Returns the run's tridiagonal (α_j, β_j); ``stop(α, β)``
    ends it early, as does an invariant subspace (β = 0).
    """
    q, _ = space.project_out(q.to(torch.float64))
    norm = float(torch.linalg.norm(q))
    alphas: list[float] = []
    betas: list[float] = []
    if norm == 0.0:
        return alphas, betas
    q = q / norm
    for _ in range(steps):
        w = matvec(q).to(dtype=torch.float64, device=q.device)
        alphas.append(float(q @ w))
        w = space.add(q, w)
        betas.append(float(torch.linalg.norm(w)))
        if (stop is not None and stop(alphas, betas)) or betas[-1] == 0.0:
            break
        q = w / betas[-1]
    return alphas, betas


def lanczos(
    matvec: Matvec | object,
    dim: int,
    *,
    k: int = 1,
    tol: float = 1e-6,
    max_iter: int = 300,
    start: torch.Tensor | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> EigenResult:
    """Top-``k`` (largest algebraic) eigenpairs of a symmetric operator, checked for missed ones.

    ``matvec`` is any callable v ↦ Av on float64 torch vectors, a ``scipy`` LinearOperator or
    anything with ``@`` (a matrix, a curvlinops operator). First Lanczos with full
    reorthogonalisation runs until the top-k residuals β_j|s_j| are at most ``tol`` · max|θ|;
    then check runs (module docstring) extend the space until one finds no missed eigenvalue.
    ``converged=True`` means: every residual ‖Ay_i − θ_i y_i‖ ≤ ``tol`` · max|θ| and the last
    check run raised no θ_i by more than that, so each θ_i is within the bound of λ_i unless an
    eigenvector escaped a random start twice. ``max_iter`` caps the products of all runs.
    """
    apply = as_matvec(matvec)
    k, max_iter = require_count("k", k), require_count("max_iter", max_iter)
    if k > dim:
        raise ValueError(f"k must lie in [1, {dim}] (the operator's dimension), got {k}")
    if max_iter < k:
        raise ValueError(
            f"max_iter ({max_iter}) must be at least k ({k}): each Lanczos step adds one Ritz value"
        )
    generator = torch_generator(seed)

    def gaussian() -> torch.Tensor:
        return torch.randn(dim, generator=generator, dtype=torch.float64).to(device)

    def first_converged(alphas: list[float], betas: list[float]) -> bool:
        if len(alphas) < k:
            return False
        theta, _, residuals = ritz_pairs(alphas, betas, k)
        return bool(np.all(residuals <= tol * max(np.max(np.abs(theta)), 1e-300)))

    budget = min(max_iter, dim)
    space = KrylovSpace(dim, min(budget, max(2 * k + 2 * CHECK_STEPS, 32)), device)
    lanczos_run(apply, space, gaussian() if start is None else start, budget, first_converged)
    if space.size < k:  # the start vector's Krylov space is invariant and too small
        lanczos_run(apply, space, gaussian(), budget - space.size, first_converged)
    if space.size < k:
        raise ValueError(f"the operator's explored space has dimension {space.size} < k = {k}")
    values, vectors, residuals, residual_vectors = space.ritz(k)
    clean, stalls = space.size == dim, 0
    while not clean and space.size < budget:
        bound = tol * max(np.max(np.abs(values)), 1e-300)
        unconverged = residuals > bound
        checking = not unconverged.any()
        begin = gaussian() if checking else residual_vectors[int(np.argmax(residuals))]
        steps = min(k + CHECK_STEPS, budget - space.size)
        if not lanczos_run(apply, space, begin, steps)[0]:
            break  # nothing left outside the explored space
        worst = float(np.max(residuals))
        previous, (values, vectors, residuals, residual_vectors) = values, space.ritz(k)
        stalls = stalls + 1 if not checking and np.max(residuals) > STALL * worst else 0
        if stalls == 2:
            break  # the residuals have reached the products' rounding: not converged
        bound = tol * max(np.max(np.abs(values)), 1e-300)
        settled = bool(np.all(residuals <= bound))
        clean = settled and (space.size == dim or (checking and np.all(values - previous <= bound)))
    return EigenResult(
        values=torch.from_numpy(values.copy()),
        vectors=vectors,
        n_hvp=space.size,
        converged=bool(clean and np.all(residuals <= tol * max(np.max(np.abs(values)), 1e-300))),
        residuals=torch.from_numpy(residuals.copy()),
    )


def lanczos_tridiagonal(
    matvec: Matvec, start: torch.Tensor, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """The Lanczos tridiagonal (α, β) of ``steps`` steps from ``start``, fully reorthogonalised.

    Stops early on an invariant subspace; the β's returned are the off-diagonal (one fewer).
    """
    space = KrylovSpace(len(start), steps, start.device)
    alphas, betas = lanczos_run(matvec, space, start, steps)
    return np.array(alphas), np.array(betas[: len(alphas) - 1])
