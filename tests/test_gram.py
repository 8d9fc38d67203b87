"""Gram matrices: quadrature against closed forms and nested adaptive quadrature, Monte Carlo,
autograd.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate

from trainingdynamics.diagnostics import gram
from trainingdynamics.diagnostics.gram import (
    Activation,
    RandomFeatureNetwork,
    empirical_gram,
    gram_matrix,
    montecarlo_gram,
)
from trainingdynamics.profiles import ParameterError

THETAS = np.array([0.0, 1e-3, 0.3, 1.0, math.pi / 2, 2.5, math.pi - 1e-3, math.pi])
ALL = [Activation(name) for name in gram.ACTIVATIONS] + [
    Activation("elu", 0.5),
    Activation("elu", 2.0),
]


def data(n: int, k: int, d: int, seed: int = 0) -> np.ndarray:
    return gram.sphere_in_subspace(n, k, d, np.random.default_rng(seed))


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def scalar_reference(activation: Activation, kind: str):
    """Plain-math φ or φ', written independently of the package's torch versions."""
    lam, alpha = gram.SELU_SCALE, gram.SELU_ALPHA
    a = activation.alpha
    formulas = {
        ("relu", "value"): lambda z: max(z, 0.0),
        ("relu", "derivative"): lambda z: float(z > 0),
        ("selu", "value"): lambda z: lam * z if z > 0 else lam * alpha * math.expm1(z),
        ("selu", "derivative"): lambda z: lam if z > 0 else lam * alpha * math.exp(z),
        ("elu", "value"): lambda z: z if z > 0 else a * math.expm1(z),
        ("elu", "derivative"): lambda z: 1.0 if z > 0 else a * math.exp(z),
        ("tanh", "value"): math.tanh,
        ("tanh", "derivative"): lambda z: 1 - math.tanh(z) ** 2,
        ("swish", "value"): lambda z: z * sigmoid(z),
        ("swish", "derivative"): lambda z: sigmoid(z) * (1 + z * (1 - sigmoid(z))),
        ("quadratic", "value"): lambda z: z * z,
        ("quadratic", "derivative"): lambda z: 2 * z,
    }
    return formulas[activation.name, kind]


def nested_quad_dual(activation: Activation, kind: str, theta: float, scale: float = 1.0) -> float:
    """E[h(σu)h(σv)] with u = z₁, v = ρz₁ + sz₂ by adaptive quadrature, split at sign changes."""
    h = scalar_reference(activation, kind)
    rho, s = math.cos(theta), math.sin(theta)

    def f(z: float) -> float:
        return h(scale * z)

    def inner(z1: float) -> float:
        if s < 1e-12:
            return f(rho * z1)
        kink = -rho * z1 / s
        pieces = [(-12.0, kink), (kink, 12.0)] if -12 < kink < 12 else [(-12.0, 12.0)]
        return sum(
            integrate.quad(
                lambda z2: f(rho * z1 + s * z2) * math.exp(-z2 * z2 / 2),
                a,
                b,
                epsabs=1e-14,
                epsrel=1e-13,
                limit=200,
            )[0]
            for a, b in pieces
        ) / math.sqrt(2 * math.pi)

    outer = [
        integrate.quad(
            lambda z1: f(z1) * inner(z1) * math.exp(-z1 * z1 / 2),
            a,
            b,
            epsabs=1e-13,
            epsrel=1e-12,
            limit=200,
        )[0]
        for a, b in [(-12.0, 0.0), (0.0, 12.0)]
    ]
    return sum(outer) / math.sqrt(2 * math.pi)


@pytest.mark.parametrize("kind", ["derivative", "value"])
@pytest.mark.parametrize("name", ["relu", "quadratic"])
@pytest.mark.parametrize("scale", [1.0, 1.7])
def test_quadrature_matches_closed_forms(name: str, kind: str, scale: float) -> None:
    act = Activation(name)
    exact = gram.exact_dual(act, kind, scale, THETAS)
    assert np.max(np.abs(gram.quadrature_dual(act, kind, scale, THETAS) - exact)) < 1e-13 * scale**4
    assert np.max(np.abs(gram.dual(act, kind, THETAS, scale=scale) - exact)) < 1e-12 * scale**4


@pytest.mark.parametrize(
    "activation",
    [Activation("selu"), Activation("elu", 0.5), Activation("tanh"), Activation("swish")],
    ids=str,
)
@pytest.mark.parametrize("kind", ["derivative", "value"])
def test_quadrature_matches_nested_adaptive_quadrature(activation: Activation, kind: str) -> None:
    for theta in (0.05, 1.1, 2.6):
        reference = nested_quad_dual(activation, kind, theta)
        assert gram.dual(activation, kind, np.array([theta]))[0] == pytest.approx(
            reference, abs=1e-10
        )


def test_relu_closed_forms_are_the_textbook_values() -> None:
    # θ = π/2: independent signs give 1/4; E[relu(u)relu(v)] = 1/(2π); θ = 0: E[relu²] = 1/2
    assert gram.exact_dual(Activation("relu"), "derivative", 1.0, np.array([math.pi / 2]))[
        0
    ] == pytest.approx(0.25)
    assert gram.exact_dual(Activation("relu"), "value", 1.0, np.array([math.pi / 2]))[
        0
    ] == pytest.approx(1 / (2 * math.pi))
    assert gram.exact_dual(Activation("relu"), "value", 1.0, np.array([0.0]))[0] == pytest.approx(
        0.5
    )


@pytest.mark.parametrize("activation", ALL, ids=str)
def test_derivative_is_the_autograd_derivative(activation: Activation) -> None:
    z = torch.linspace(-4, 4, 801, dtype=torch.float64)
    z = z[z.abs() > 1e-6].requires_grad_()
    (grad,) = torch.autograd.grad(activation.value(z).sum(), z)
    assert torch.allclose(activation.derivative(z.detach()), grad, atol=1e-12)


def test_derivative_jumps() -> None:
    assert Activation("relu").derivative_jump == 1.0
    assert Activation("elu", 1.0).derivative_jump == 0.0
    assert Activation("elu", 0.25).derivative_jump == pytest.approx(0.75)
    assert Activation("selu").derivative_jump == pytest.approx(
        gram.SELU_SCALE * (gram.SELU_ALPHA - 1)
    )
    assert Activation("tanh").derivative_jump == Activation("swish").derivative_jump == 0.0


@pytest.mark.parametrize("activation", ALL, ids=str)
def test_gram_is_symmetric_psd_with_the_second_moment_on_the_diagonal(
    activation: Activation,
) -> None:
    X = data(40, 5, 12)
    method = "exact" if activation.name in ("relu", "quadratic") else "quadrature"
    G = gram_matrix(X, activation, method=method)
    second_moment = nested_quad_dual(activation, "derivative", 0.0)
    assert np.allclose(G, G.T, atol=0)
    assert np.allclose(np.diag(G), second_moment, rtol=1e-10)
    assert np.linalg.eigvalsh(G)[0] > -1e-12 * len(G) * np.abs(G).max()


def test_gram_is_rotation_invariant() -> None:
    X = data(30, 4, 8)
    Q, _ = np.linalg.qr(np.random.default_rng(3).standard_normal((8, 8)))
    for name in ("tanh", "selu"):
        assert np.allclose(
            gram_matrix(X, name, method="quadrature"),
            gram_matrix(X @ Q, name, method="quadrature"),
            atol=1e-14,
        )


def test_exact_and_quadrature_agree_for_relu_and_at_depth() -> None:
    X = data(50, 3, 10)
    for depth in (1, 3):
        for kind in ("derivative", "value"):
            exact = gram_matrix(X, "relu", kind=kind, depth=depth)
            assert (
                np.max(
                    np.abs(
                        gram_matrix(X, "relu", kind=kind, method="quadrature", depth=depth) - exact
                    )
                )
                < 1e-12
            )


def test_quadratic_gram_has_the_rank_of_degree_two_polynomials() -> None:
    # φ = z² gives G = 4 (XXᵀ)∘(XXᵀ): rank ≤ k(k+1)/2 on a k-dimensional subspace
    X = data(30, 3, 10)
    eigenvalues = np.linalg.eigvalsh(gram_matrix(X, "quadratic", method="quadrature"))
    assert np.sum(eigenvalues > 1e-10 * eigenvalues[-1]) == 6


def test_smooth_spectra_collapse_on_a_circle_and_kinked_do_not() -> None:
    X = data(60, 2, 20)
    relu = np.linalg.eigvalsh(gram_matrix(X, "relu"))[0]
    tanh = np.linalg.eigvalsh(gram_matrix(X, "tanh", method="quadrature"))[0]
    assert relu > 1e-6 and tanh < 1e-4 * relu


@pytest.mark.parametrize("kind", ["derivative", "value"])
@pytest.mark.parametrize("name", ["relu", "tanh", "elu"])
def test_montecarlo_agrees_within_its_standard_error(name: str, kind: str) -> None:
    X = data(12, 3, 6)
    mean, stderr = montecarlo_gram(X, name, kind=kind, samples=200_000, seed=1)
    method = "exact" if name == "relu" else "quadrature"
    z = (mean - gram_matrix(X, name, kind=kind, method=method))[np.triu_indices(12)] / stderr[
        np.triu_indices(12)
    ]
    assert 0.5 < np.sqrt(np.mean(z**2)) < 1.5
    assert np.max(np.abs(z)) < 5


def test_montecarlo_standard_error_shrinks_as_one_over_root_samples() -> None:
    X = data(8, 3, 6)
    _, small = montecarlo_gram(X, "relu", samples=10_000, seed=0)
    _, large = montecarlo_gram(X, "relu", samples=160_000, seed=0)
    assert np.median(small / large) == pytest.approx(4.0, rel=0.05)


def test_empirical_gram_is_the_finite_width_formula() -> None:
    X = torch.as_tensor(data(15, 4, 7))
    for depth in (1, 3):
        net = RandomFeatureNetwork(
            7,
            64,
            "swish",
            depth=depth,
            weight_scale=1.3,
            generator=torch.Generator().manual_seed(0),
        )
        h = net.features(X)
        slopes = net.activation.derivative(h @ net.hidden.detach().T)  # (n, m)
        expected = (slopes @ slopes.T / 64) * (h @ h.T)
        assert np.allclose(
            empirical_gram(net, X, ["hidden"]), expected.detach().numpy(), rtol=1e-12, atol=1e-14
        )


def test_network_starts_at_zero_output() -> None:
    X = torch.as_tensor(data(10, 3, 5))
    net = RandomFeatureNetwork(5, 100, "tanh", depth=2, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(net(X), torch.zeros(10, dtype=torch.float64), atol=1e-14)


@pytest.mark.parametrize("depth", [1, 2])
def test_empirical_gram_converges_to_the_limit_at_rate_root_width(depth: int) -> None:
    X = data(10, 3, 6)
    limit = gram_matrix(X, "tanh", method="quadrature", depth=depth, weight_scale=1.5)

    def error(width: int) -> float:
        runs = []
        for seed in range(4):
            net = RandomFeatureNetwork(
                6,
                width,
                "tanh",
                depth=depth,
                weight_scale=1.5,
                generator=torch.Generator().manual_seed(seed),
            )
            runs.append(
                np.linalg.norm(empirical_gram(net, torch.as_tensor(X), ["hidden"]) - limit)
                / np.linalg.norm(limit)
            )
        return float(np.sqrt(np.mean(np.square(runs))))

    assert error(64) / error(1024) == pytest.approx(4.0, rel=0.5)


def test_deep_correlations_stay_unit_on_the_diagonal_and_in_range() -> None:
    rho = gram.propagate(
        gram.correlations(data(20, 2, 5)), Activation("tanh"), 5, "quadrature", 2.0
    )
    assert np.allclose(np.diag(rho), 1.0) and np.all(np.abs(rho) <= 1 + 1e-12)


def test_thousand_point_gram_matches_nested_quadrature_entrywise() -> None:
    X = data(1000, 5, 50)
    G = gram_matrix(X, "elu", method="quadrature")
    for i, j in ((0, 1), (17, 905)):
        theta = math.acos(float(np.clip(X[i] @ X[j], -1, 1)))
        expected = nested_quad_dual(Activation("elu"), "derivative", theta) * math.cos(theta)
        assert G[i, j] == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize(
    "call",
    [
        lambda X: gram_matrix(X, "sigmoid"),
        lambda X: gram_matrix(X, "tanh", method="exact"),
        lambda X: gram_matrix(X, "relu", kind="hessian"),
        lambda X: gram_matrix(X, "relu", method="montecarlo", depth=2),
        lambda X: gram_matrix(2 * X, "relu"),
        lambda X: gram_matrix(X, "relu", depth=0),
        lambda X: Activation("elu", -1.0),
    ],
)
def test_bad_arguments_raise_parameter_errors(call) -> None:
    with pytest.raises(ParameterError):
        call(data(5, 2, 3))


def test_separation_counts_antipodes() -> None:
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-np.cos(0.01), -np.sin(0.01)]])
    assert gram.separation(X) == pytest.approx(2 * np.sin(0.005))
