"""The Lanczos guarantee: converged=True means each value is within the bound of the true λ_i.

Operators with known spectra built to be hard (clusters, near-multiplicities, gaps of 1e-3
relative, a tiny top gap, a start vector that misses the top eigenvector), at every tolerance
from 1e-2 to 1e-8, and a trained network against float64 ARPACK.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg
import torch
from torch import nn

from trainingdynamics.data import digits
from trainingdynamics.diagnostics import spectra
from trainingdynamics.diagnostics.lanczos import KrylovSpace, lanczos_run, ritz_pairs
from trainingdynamics.models.digits import mlp
from trainingdynamics.training import train

DIM = 300
TOLERANCES = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8]


def bulk(count: int, top: float) -> np.ndarray:
    """``count`` eigenvalues spread over [−0.2 top, top]: an indefinite bulk."""
    return np.linspace(-0.2 * top, top, count)


def hard_spectra() -> dict[str, np.ndarray]:
    """Spectra (descending) whose top eigenvalues are hard to resolve."""
    clusters = np.concatenate([c * (1 - 1e-3 * np.arange(3)) for c in (10.0, 8.0, 6.0, 4.0)])
    near_multiple = np.array([5.0, 5.0 * (1 - 1e-7), 5.0 * (1 - 2e-7), 4.0, 4.0 * (1 - 1e-7)])
    relative_gaps = 1.0 - 1e-3 * np.arange(12)
    tiny_top_gap = np.array([1.0, 1.0 - 1e-6, 0.9, 0.8])
    # the failure: two values 1 % apart, then a clear gap, so λ₂ hides behind λ₁
    hidden = np.array([1.0, 0.99, 0.8, 0.79, 0.6, 0.5, 0.49, 0.48, 0.4, 0.39])
    found = {}
    for name, top in [
        ("clusters", clusters),
        ("near_multiple", near_multiple),
        ("relative_gaps_1e-3", relative_gaps),
        ("tiny_top_gap", tiny_top_gap),
        ("hidden_second", hidden),
    ]:
        found[name] = np.sort(np.concatenate([top, bulk(DIM - len(top), 0.5 * top.min())]))[::-1]
    return found


def operator(values: np.ndarray, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A = U diag(values) Uᵀ for a random orthogonal U; A and U."""
    generator = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(
        torch.randn(len(values), len(values), generator=generator, dtype=torch.float64)
    )
    return basis @ torch.diag(torch.from_numpy(values.copy())) @ basis.T, basis


def within_bound(result: spectra.EigenResult, exact: np.ndarray, tol: float) -> np.ndarray:
    """|θ_i − λ_i| against the stated bound tol · max|θ| (their ratio, ≤ 1 to pass)."""
    theta = result.values.numpy()
    return np.abs(theta - exact[: len(theta)]) / (tol * np.max(np.abs(theta)))


@pytest.mark.parametrize("name", list(hard_spectra()))
@pytest.mark.parametrize("k", [1, 3, 10])
def test_converged_values_are_within_the_bound_of_the_true_top_k(name, k):
    exact = hard_spectra()[name]
    A, _ = operator(exact)
    for tol in TOLERANCES:
        result = spectra.lanczos(lambda v: A @ v, DIM, k=k, tol=tol, max_iter=DIM)
        assert result.converged, (name, k, tol)
        assert np.all(within_bound(result, exact, tol) <= 1.0), (name, k, tol, result.values)


def plain_lanczos(A: torch.Tensor, start: torch.Tensor, k: int, tol: float) -> np.ndarray:
    """Lanczos stopped at the first converged top-k Ritz pairs: the old, unchecked rule."""

    def converged(alphas: list[float], betas: list[float]) -> bool:
        if len(alphas) < k:
            return False
        theta, _, residuals = ritz_pairs(alphas, betas, k)
        return bool(np.all(residuals <= tol * np.max(np.abs(theta))))

    space = KrylovSpace(len(A), 32, "cpu")
    alphas, betas = lanczos_run(lambda v: A @ v, space, start, len(A), converged)
    return ritz_pairs(alphas, betas, k)[0]


def test_a_start_vector_that_misses_the_top_eigenvector_is_caught():
    """Plain Lanczos converges to λ₂ as if it were λ₁; the check run finds λ₁."""
    exact = hard_spectra()["tiny_top_gap"]
    exact[0] = 1.5  # a clear top eigenvalue the start vector barely touches
    A, basis = operator(exact)
    start = basis[:, 1] + 1e-3 * torch.randn(
        DIM, generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )
    start -= (1 - 1e-12) * (basis[:, 0] @ start) * basis[:, 0]  # component along u₁: ~1e-15
    assert abs(plain_lanczos(A, start, 1, 1e-4)[0] - 1.5) > 0.4  # the old rule misses it
    result = spectra.lanczos(lambda v: A @ v, DIM, k=1, tol=1e-4, start=start)
    assert result.converged and within_bound(result, exact, 1e-4)[0] <= 1.0


def test_the_hidden_second_eigenvalue_defeats_the_unchecked_rule():
    """At tol 1e-2 the first converged Ritz values skip λ₂ = 0.99; the checked result does not."""
    exact = hard_spectra()["hidden_second"]
    A, basis = operator(exact)
    start = (
        basis[:, 0]
        + 1e-6 * basis[:, 1]
        + 1e-2 * basis[:, 2:] @ torch.ones(DIM - 2, dtype=torch.float64)
    )
    plain = plain_lanczos(A, start, 3, 1e-2)
    assert np.max(np.abs(plain - exact[:3]) / (1e-2 * exact[0])) > 1.0
    result = spectra.lanczos(lambda v: A @ v, DIM, k=3, tol=1e-2, start=start)
    assert result.converged and np.all(within_bound(result, exact, 1e-2) <= 1.0)


def test_any_matvec_is_accepted_a_matrix_or_a_scipy_operator():
    exact = hard_spectra()["clusters"]
    A, _ = operator(exact)
    by_callable = spectra.lanczos(lambda v: A @ v, DIM, k=4, tol=1e-8)
    by_matrix = spectra.lanczos(A, DIM, k=4, tol=1e-8)
    by_scipy = spectra.lanczos(scipy.sparse.linalg.aslinearoperator(A.numpy()), DIM, k=4, tol=1e-8)
    for result in (by_matrix, by_scipy):
        torch.testing.assert_close(result.values, by_callable.values, rtol=1e-12, atol=0)
    with pytest.raises(TypeError, match="linear operator"):
        spectra.lanczos(object(), DIM)


@pytest.fixture(scope="module")
def trained_network():
    """A 64-32-10 MLP after 200 full-batch GD steps on 512 digits, float64."""
    torch.manual_seed(0)
    data = digits()
    X, y = data.X[:512].double(), data.y[:512]
    model = mlp((64, 32, 10)).double()
    loss = nn.CrossEntropyLoss()
    train(
        model, loss, X, y, optimizer=torch.optim.SGD(model.parameters(), lr=0.5), steps=200, seed=0
    )
    model.zero_grad(set_to_none=True)
    return model, loss, X, y


def test_a_trained_network_matches_float64_arpack_at_every_tolerance(trained_network):
    model, loss, X, y = trained_network
    operator = spectra.as_linear_operator(model, loss, X, y)
    start = np.random.default_rng(0).standard_normal(operator.shape[0])
    reference = np.sort(
        scipy.sparse.linalg.eigsh(operator, k=12, which="LA", tol=1e-13, v0=start)[0]
    )[::-1]
    for tol in TOLERANCES:
        result = spectra.hessian_eigenvalues(model, loss, X, y, k=10, tol=tol)
        assert result.converged
        assert np.all(within_bound(result, reference, tol) <= 1.0), (tol, result.values)


def test_a_tolerance_below_the_products_rounding_ends_unconverged_and_early():
    """float32 products cannot certify 1e-12: two stalled refining runs end it, not max_iter."""
    exact = hard_spectra()["clusters"]
    A, _ = operator(exact)
    single = A.float()
    result = spectra.lanczos(lambda v: single @ v.float(), DIM, k=3, tol=1e-12, max_iter=DIM)
    assert not result.converged and result.n_hvp < DIM // 2
    assert np.all(np.abs(result.values.numpy() - exact[:3]) <= 1e-5 * exact[0])
