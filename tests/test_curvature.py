"""Gauss–Newton, covariance and chunked operators, Hutch++ and SLQ against dense references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg
import torch
from torch import nn
from torch.func import functional_call, jacrev

from trainingdynamics.diagnostics import spectra
from trainingdynamics.diagnostics.density import exact_density, l1_distance
from trainingdynamics.models.digits import mlp


@pytest.fixture(autouse=True)
def float64_default():
    """Dense references in float64; the default dtype is restored for other test modules."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def cross_entropy(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(out, target)


def squared(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((out - nn.functional.one_hot(target, out.shape[1])) ** 2).sum(dim=1).mean()


LOSSES = {"cross_entropy": cross_entropy, "squared": squared}


def problem(model: str = "mlp", n: int = 14, seed: int = 0):
    """A float64 tanh MLP (or a linear model) with a few hundred parameters, random data."""
    torch.manual_seed(seed)
    net = mlp((5, 8, 6, 3), activation="tanh") if model == "mlp" else nn.Linear(5, 3)
    return net.double(), torch.randn(n, 5), torch.randint(0, 3, (n,))


def dense_gauss_newton(net: nn.Module, loss_fn, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(1/n) Σ_i J_iᵀ H_ℓ,i J_i from the full Jacobian and each example's output Hessian."""
    params = spectra.trainable_parameters(net)

    def outputs(theta: torch.Tensor) -> torch.Tensor:
        return functional_call(net, spectra.unflatten(theta, params), (X,))

    theta = spectra.flatten(params)
    J = jacrev(outputs)(theta)  # n × C × P
    out = outputs(theta).detach()
    total = torch.zeros(len(theta), len(theta))
    for i in range(len(X)):
        H_out = torch.func.hessian(lambda o, i=i: loss_fn(o[None], y[i : i + 1]))(out[i])
        total += J[i].T @ H_out @ J[i]
    return total / len(X)


def apply_dense(matvec, dim: int) -> torch.Tensor:
    """The matrix of a matvec, column by column."""
    return torch.stack([matvec(e) for e in torch.eye(dim)], dim=1)


@pytest.mark.parametrize("loss_name", list(LOSSES))
def test_gauss_newton_matches_its_dense_definition_and_is_psd(loss_name):
    net, X, y = problem()
    loss_fn = LOSSES[loss_name]
    dense = dense_gauss_newton(net, loss_fn, X, y)
    for chunk_size in (None, 4):
        G = apply_dense(
            spectra.gauss_newton_operator(net, loss_fn, X, y, chunk_size=chunk_size), len(dense)
        )
        torch.testing.assert_close(G, dense, rtol=1e-10, atol=1e-12)
    eigenvalues = torch.linalg.eigvalsh(dense)
    assert eigenvalues.min() >= -1e-12 * eigenvalues.max()
    H = spectra.dense_hessian(net, loss_fn, X, y)
    assert torch.linalg.eigvalsh(H).min() < -1e-6 * eigenvalues.max()  # H is not PSD here ...
    assert torch.linalg.norm(H - dense) > 1e-3 * torch.linalg.norm(dense)  # ... and differs from G


@pytest.mark.parametrize("loss_name", list(LOSSES))
def test_gauss_newton_equals_the_hessian_for_a_linear_model(loss_name):
    net, X, y = problem("linear")
    loss_fn = LOSSES[loss_name]
    G = apply_dense(spectra.gauss_newton_operator(net, loss_fn, X, y), 18)
    torch.testing.assert_close(G, spectra.dense_hessian(net, loss_fn, X, y), rtol=1e-10, atol=1e-12)


def test_chunked_and_unchunked_products_agree_to_rounding():
    """Each chunk linearised once (or anew per product): the same sum, up to float64 rounding."""
    net, X, y = problem(n=13)
    dim = sum(p.numel() for p in net.parameters())
    v = torch.randn(dim)
    for build in (spectra.hvp_operator, spectra.gauss_newton_operator):
        whole = build(net, cross_entropy, X, y)(v)
        for chunk_size in (1, 4, 13):
            for relinearise in (False, True):
                chunked = build(
                    net, cross_entropy, X, y, chunk_size=chunk_size, relinearise=relinearise
                )
                torch.testing.assert_close(chunked(v), whole, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("matrix", ["hessian", "gauss_newton", "covariance"])
def test_as_linear_operator_gives_each_matrix_to_scipy(matrix):
    net, X, y = problem()
    G = spectra.looped_per_example_gradients(net, cross_entropy, X, y)
    centred = G - G.mean(dim=0)
    dense = {
        "hessian": spectra.dense_hessian(net, cross_entropy, X, y),
        "gauss_newton": dense_gauss_newton(net, cross_entropy, X, y),
        "covariance": centred.T @ centred / len(X),
    }[matrix]
    operator = spectra.as_linear_operator(net, cross_entropy, X, y, matrix=matrix)
    assert (
        isinstance(operator, scipy.sparse.linalg.LinearOperator) and operator.shape == dense.shape
    )
    v = np.random.default_rng(0).standard_normal(len(dense))
    np.testing.assert_allclose(operator @ v, dense.numpy() @ v, rtol=1e-10, atol=1e-12)
    top = scipy.sparse.linalg.eigsh(operator, k=2, which="LA", tol=1e-12)[0]
    np.testing.assert_allclose(
        np.sort(top)[::-1], torch.linalg.eigvalsh(dense).flip(0)[:2], rtol=1e-9
    )
    found = spectra.lanczos(operator, len(dense), k=2, tol=1e-10)
    np.testing.assert_allclose(found.values, np.sort(top)[::-1], rtol=1e-9)
    with pytest.raises(ValueError, match="matrix must be"):
        spectra.as_linear_operator(net, cross_entropy, X, y, matrix="fisher")


def decaying_matrix(dim: int = 200, seed: int = 0) -> torch.Tensor:
    """A PSD matrix with eigenvalues 1/i²: the regime Hutch++ is built for."""
    generator = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(dim, dim, generator=generator))
    return basis @ torch.diag(1.0 / torch.arange(1, dim + 1) ** 2) @ basis.T


def test_hutchpp_is_exact_when_the_sketch_captures_the_range():
    """Rank 5 and 3 × 10 products: QᵀAQ holds the whole trace, the Hutchinson part is 0."""
    generator = torch.Generator().manual_seed(1)
    factor = torch.randn(50, 5, generator=generator)
    A = factor @ factor.T
    found = spectra.hutchpp_trace(lambda v: A @ v, 50, 30)
    assert found.value == pytest.approx(float(torch.trace(A)), rel=1e-12) and found.n_hvp == 30


def test_hutchpp_beats_hutchinson_on_a_decaying_spectrum_and_its_stderr_is_honest():
    """Over 40 seeds at 60 products: RMS error at most half Hutchinson's; errors ~ stderr."""
    A = decaying_matrix()
    exact = float(torch.trace(A))
    errors = {"hutchinson": [], "hutch++": []}
    z_scores = []
    for seed in range(40):
        plain = spectra.hutchinson_trace(lambda v: A @ v, 200, 60, seed=seed)
        plus = spectra.hutchpp_trace(lambda v: A @ v, 200, 60, seed=seed)
        errors["hutchinson"].append(plain.value - exact)
        errors["hutch++"].append(plus.value - exact)
        z_scores.append((plus.value - exact) / plus.stderr)
    rms = {name: float(np.sqrt(np.mean(np.square(e)))) for name, e in errors.items()}
    assert rms["hutch++"] <= 0.5 * rms["hutchinson"]
    assert 0.5 < np.std(z_scores) < 2.0  # the standard error is the right size


def test_hessian_trace_by_hutchpp_matches_the_dense_trace():
    net, X, y = problem()
    exact = float(torch.trace(spectra.dense_hessian(net, cross_entropy, X, y)))
    found = spectra.hessian_trace(net, cross_entropy, X, y, probes=90, method="hutch++")
    assert abs(found.value - exact) <= 4 * found.stderr
    with pytest.raises(ValueError, match="method"):
        spectra.hessian_trace(net, cross_entropy, X, y, method="exact")


@pytest.mark.parametrize("matrix", ["hessian", "covariance"])
def test_slq_density_matches_the_dense_spectrum(matrix):
    """Moments 1, 2 within 4 standard errors of (1/P) Tr A^p; smoothed densities within 0.1 in L1.

    0.1 (of a maximum of 2) is fixed before the run: 20 probes, 40 steps, σ = 2 % of the range.
    """
    net, X, y = problem(n=30)
    if matrix == "hessian":
        dense = spectra.dense_hessian(net, cross_entropy, X, y)
    else:
        G = spectra.looped_per_example_gradients(net, cross_entropy, X, y)
        dense = (G - G.mean(dim=0)).T @ (G - G.mean(dim=0)) / len(X)
    eigenvalues = torch.linalg.eigvalsh(dense).numpy()
    found = spectra.spectral_density(net, cross_entropy, X, y, matrix=matrix, steps=40, probes=20)
    for power in (1, 2):
        exact = float(np.mean(eigenvalues**power))
        assert abs(found.moment(power) - exact) <= 4 * found.moment_stderr(power), power
    sigma = 0.02 * float(eigenvalues.max() - eigenvalues.min())
    grid = np.linspace(eigenvalues.min() - 5 * sigma, eigenvalues.max() + 5 * sigma, 2000)
    distance = l1_distance(
        found.density(grid, sigma), exact_density(eigenvalues, grid, sigma), grid
    )
    assert distance <= 0.1
    assert found.n_hvp == 20 * 40


def test_slq_of_a_known_spectrum_integrates_to_one_and_needs_no_model():
    values = np.linspace(-1.0, 3.0, 100)
    A = torch.diag(torch.from_numpy(values))
    found = spectra.stochastic_lanczos_quadrature(lambda v: A @ v, 100, steps=100, probes=1)
    np.testing.assert_allclose(found.weights.sum(axis=1), 1.0, rtol=1e-12)
    grid = found.grid(4000, sigma=0.05)
    assert np.sum(found.density(grid, 0.05)) * (grid[1] - grid[0]) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.peers
def test_our_operators_match_curvlinops_on_the_same_model():
    """Optional: skipped where curvlinops (the bench extra) is not installed."""
    curvlinops = pytest.importorskip("curvlinops")
    net, X, y = problem()
    loss = nn.CrossEntropyLoss()
    params = [p for p in net.parameters() if p.requires_grad]
    v = torch.randn(sum(p.numel() for p in params))
    for theirs, ours in (
        (curvlinops.HessianLinearOperator, spectra.hvp_operator),
        (curvlinops.GGNLinearOperator, spectra.gauss_newton_operator),
    ):
        operator = theirs(net, loss, params, [(X, y)], check_deterministic=False)
        torch.testing.assert_close(ours(net, loss, X, y)(v), operator @ v, rtol=1e-10, atol=1e-12)
    hessian = curvlinops.HessianLinearOperator(
        net, loss, params, [(X, y)], check_deterministic=False
    )
    ours = spectra.lanczos(hessian, len(v), k=3, tol=1e-10)
    exact = torch.linalg.eigvalsh(spectra.dense_hessian(net, loss, X, y)).flip(0)[:3]
    torch.testing.assert_close(ours.values, exact, rtol=1e-9, atol=0)
