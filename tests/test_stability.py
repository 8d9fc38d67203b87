"""Eq. 1 of Jastrzębski et al. on a quadratic model whose stable learning rate is known in closed
form.

Example i's loss is ℓ_i(θ) = ½ Σ_j a_ij θ_j², so H_i = diag(a_i) exactly; along e = e_1 the
per-example curvatures are a_i1, and SGD with a batch B multiplies θ_1 by 1 − η mean_{i∈B} a_i1.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from trainingdynamics.diagnostics import minibatch, spectra, stability
from trainingdynamics.models.digits import cnn


class Diagonal(nn.Module):
    """f(x) = x ⊙ θ: with zero targets and ½‖f‖², example i's Hessian is diag(x_i²)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.linspace(0.5, -0.5, dim, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.theta


def half_squared(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """½‖f − y‖² averaged over the batch."""
    return 0.5 * ((outputs - targets) ** 2).sum(dim=1).mean()


def quadratic(
    n: int = 6, dim: int = 4, seed: int = 0
) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The model and n examples whose curvatures a_ij = x_ij² are largest on average at j = 1."""
    generator = torch.Generator().manual_seed(seed)
    a = torch.rand(n, dim, generator=generator, dtype=torch.float64) * torch.tensor(
        [4.0] + [1.0] * (dim - 1), dtype=torch.float64
    )
    return Diagonal(dim), a.sqrt(), torch.zeros(n, dim, dtype=torch.float64)


def test_per_example_curvatures_are_the_diagonal_entries_and_match_the_loop():
    model, X, Y = quadratic()
    a = X**2
    e1 = torch.eye(4, dtype=torch.float64)[0]
    fast = stability.directional_curvatures(model, half_squared, X, Y, e1)
    torch.testing.assert_close(fast, a[:, 0], rtol=1e-12, atol=0)
    e = torch.tensor([0.5, -0.5, 0.5, 0.5], dtype=torch.float64)
    torch.testing.assert_close(
        stability.directional_curvatures(model, half_squared, X, Y, e), a @ e**2, rtol=1e-12, atol=0
    )
    looped = stability.looped_directional_curvatures(model, half_squared, X, Y, e)
    torch.testing.assert_close(looped, a @ e**2, rtol=1e-12, atol=0)


def test_the_mean_curvature_along_the_top_eigenvector_is_the_top_eigenvalue():
    model = cnn((2, 3), n_classes=3).double()
    generator = torch.Generator().manual_seed(1)
    X = torch.randn(12, 1, 8, 8, generator=generator, dtype=torch.float64)
    Y = torch.nn.functional.one_hot(torch.arange(12) % 3, 3).double()
    top = spectra.hessian_eigenvalues(model, half_squared, X, Y, tol=1e-10)
    curvatures = stability.directional_curvatures(model, half_squared, X, Y, top.vectors[0])
    assert float(curvatures.mean()) == pytest.approx(float(top.values[0]), rel=1e-8)
    looped = stability.looped_directional_curvatures(model, half_squared, X, Y, top.vectors[0])
    torch.testing.assert_close(curvatures, looped, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 6])
def test_eq1_is_the_exact_mean_square_contraction_over_all_batches(batch_size: int):
    model, X, Y = quadratic()
    h = (X**2)[:, 0].numpy()
    n, lam, s2 = len(h), float(h.mean()), stability.curvature_variance(h)
    for lr in (0.1, 0.3, 0.7):
        factors = [
            (1 - lr * h[list(b)].mean()) ** 2 for b in itertools.combinations(range(n), batch_size)
        ]
        assert stability.stability_lhs(lr, lam, s2, n, batch_size) == pytest.approx(
            np.mean(factors), rel=1e-12
        )


@pytest.mark.parametrize("batch_size", [1, 2, 3, 6])
def test_the_stable_learning_rate_and_the_break_even_sharpness_solve_eq1(batch_size: int):
    model, X, Y = quadratic()
    h = (X**2)[:, 0].numpy()
    n, lam, s2 = len(h), float(h.mean()), stability.curvature_variance(h)
    star = stability.stable_learning_rate(lam, s2, n, batch_size)
    assert stability.stability_lhs(star, lam, s2, n, batch_size) == pytest.approx(1.0, rel=1e-12)
    assert stability.stability_lhs(0.99 * star, lam, s2, n, batch_size) < 1
    assert stability.stability_lhs(1.01 * star, lam, s2, n, batch_size) > 1
    edge = stability.break_even_sharpness(star, s2, n, batch_size)
    assert edge == pytest.approx(lam, rel=1e-10)  # the sharpness at which η* is the stable η
    if batch_size == n:
        assert star == pytest.approx(2 / lam) and edge == pytest.approx(2 / star)
    else:
        assert star < 2 / lam  # the noise term lowers the stable learning rate


def test_a_noise_term_above_one_has_no_stable_sharpness():
    assert math.isnan(stability.break_even_sharpness(1.0, 100.0, 10, 1))
    assert stability.sampling_factor(10, 10) == 0.0 and stability.sampling_factor(10, 1) == 1.0
    with pytest.raises(ValueError):
        stability.sampling_factor(10, 11)


def test_the_break_even_measurement_is_the_first_crossing():
    assert stability.first_crossing(np.array([0.2, 0.9, 1.0, 0.5, 1.3])) == 2
    assert stability.first_crossing(np.array([0.2, 0.9])) is None


def test_minibatch_gradients_of_the_whole_set_are_the_full_gradient_and_buffers_stay():
    torch.manual_seed(0)
    model = cnn((2, 3), n_classes=3, batch_norm=True).double()
    X = torch.randn(10, 1, 8, 8, dtype=torch.float64)
    Y = torch.nn.functional.one_hot(torch.arange(10) % 3, 3).double()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    G = minibatch.minibatch_gradients(
        model, half_squared, X, Y, batch_size=10, batches=2, generator=torch.Generator()
    )
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)  # running statistics unchanged
    half_squared(model(X), Y).backward()  # train mode: the batch's statistics
    full = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(G, torch.stack([full, full]), rtol=1e-10, atol=1e-12)


def test_the_minibatch_scale_inverts_the_sampling_factor():
    for n, b in ((10, 1), (1000, 32), (7, 3)):
        assert minibatch.minibatch_scale(n, b) * stability.sampling_factor(n, b) == pytest.approx(1)
