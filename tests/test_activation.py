"""Tests of trainingdynamics.diagnostics.activation against dense and brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from trainingdynamics.diagnostics.activation import (
    activation_counts,
    active_intervals,
    active_mask,
    active_residual_sums,
    detect_phases,
    interval_forward,
    log_log_slope,
    pattern_gram,
    pattern_least_squares,
    pattern_least_squares_fit,
    runs,
)
from trainingdynamics.models.shallow import gradient_descent, init_params


def dense_design(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Φ_A with columns x·1_{A_j} then 1_{A_j}, built directly from the definition."""
    mask = (w[:, None] * x + b[:, None] > 0).T.astype(float)
    return np.concatenate([mask * x[:, None], mask], axis=1)


def random_network(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)


def test_activation_counts_match_a_python_loop():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 17)
    w, b = random_network(rng, 9)
    expected = [sum(1 for xi in x if wj * xi + bj > 0) for wj, bj in zip(w, b, strict=True)]
    assert activation_counts(x, w, b).tolist() == expected


def test_activation_counts_use_the_strict_convention_at_a_tie():
    x = np.array([-1.0, 0.0, 0.5, 1.0])
    # kink exactly on the data point 0.5: w x + b = 0 there, which is inactive
    assert activation_counts(x, np.array([2.0, -2.0]), np.array([-1.0, 1.0])).tolist() == [1, 2]


@pytest.mark.parametrize("seed", range(5))
def test_active_intervals_equal_the_dense_mask(seed):
    rng = np.random.default_rng(seed)
    x = np.linspace(-1, 1, 41)
    w, b = random_network(rng, 200)
    # adversarial cases: kinks exactly on data points, tiny and zero slopes, all active, none active
    w[:40], b[:40] = (
        rng.choice([-3.0, 3.0], 40),
        -rng.choice([-3.0, 3.0], 40) * x[rng.integers(0, 41, 40)],
    )
    b[40:60] = -w[40:60] * x[rng.integers(0, 41, 20)] * (1 + 1e-16)
    w[60:65], w[65:70] = 0.0, 1e-300
    b[60], b[61] = 0.0, -0.5
    lo, hi = active_intervals(x, w, b)
    mask = active_mask(x, w, b)
    rebuilt = (np.arange(41) >= lo[:, None]) & (np.arange(41) < hi[:, None])
    assert np.array_equal(rebuilt, mask)


def test_active_intervals_are_suffixes_for_positive_and_prefixes_for_negative_slopes():
    x = np.linspace(-1, 1, 11)
    lo, hi = active_intervals(x, np.array([1.0, -1.0]), np.array([0.05, 0.05]))
    assert (lo.tolist(), hi.tolist()) == ([5, 0], [11, 6])


def test_interval_forward_matches_the_dense_design():
    rng = np.random.default_rng(2)
    x = np.sort(rng.uniform(-1, 1, 30))
    w, b = random_network(rng, 12)
    alpha, beta = rng.standard_normal(12), rng.standard_normal(12)
    lo, hi = active_intervals(x, w, b)
    np.testing.assert_allclose(
        interval_forward(x, alpha, beta, lo, hi),
        dense_design(x, w, b) @ np.r_[alpha, beta],
        atol=1e-13,
    )


def test_pattern_gram_equals_the_dense_normal_equations():
    rng = np.random.default_rng(3)
    x = np.linspace(-1, 1, 25)
    y = np.cos(3 * x)
    w, b = random_network(rng, 7)
    gram, rhs = pattern_gram(x, y, *active_intervals(x, w, b))
    phi = dense_design(x, w, b)
    np.testing.assert_allclose(gram, phi.T @ phi, atol=1e-12)
    np.testing.assert_allclose(rhs, phi.T @ y, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_pattern_least_squares_equals_dense_lstsq(seed):
    rng = np.random.default_rng(seed)
    x = rng.permutation(np.linspace(-1, 1, 50))  # unsorted input is allowed
    y = np.sin(5 * np.pi * x) + 0.1 * rng.standard_normal(50)
    w, b = random_network(rng, 30)
    w[:3], b[:3] = w[3], b[3]  # duplicate active sets make the Gram matrix singular
    w[4], b[4] = 1.0, -5.0  # an empty active set
    theta, *_ = np.linalg.lstsq(dense_design(x, w, b), y, rcond=None)
    expected = 0.5 * np.mean((dense_design(x, w, b) @ theta - y) ** 2)
    alpha, beta, value = pattern_least_squares_fit(x, y, w, b)
    assert value == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert pattern_least_squares(x, y, w, b) == value
    assert 0.5 * np.mean((dense_design(x, w, b) @ np.r_[alpha, beta] - y) ** 2) == pytest.approx(
        value, rel=1e-12, abs=1e-18
    )


def test_pattern_least_squares_is_zero_when_the_target_is_in_the_span():
    x = np.linspace(-1, 1, 40)
    w, b = np.array([1.0, -1.0, 2.0]), np.array([0.013, 0.3, -0.7])
    y = dense_design(x, w, b) @ np.array([0.5, -2.0, 1.0, 0.3, 0.1, -0.4])
    assert pattern_least_squares(x, y, w, b) < 1e-28


def test_pattern_least_squares_matches_scipy_and_bounds_gd_trained_networks():
    # independent reference: scipy's least squares on the explicit feature matrix x·1_{A_j},
    # 1_{A_j};
    # the states are those GD visits, and the network itself lies in its pattern's span, so L_t ≥
    # L_A(t)
    x = np.linspace(-1, 1, 30)
    y = np.abs(x) ** 0.5
    start = init_params(np.random.default_rng(4), 6, (), 1.0)
    record = np.unique(np.geomspace(1, 5000, 25).astype(int))
    trajectory = gradient_descent(x, y, start, 0.05, 5000, record)
    gaps = []
    for k in range(len(record)):
        w, b = trajectory.params.w[k], trajectory.params.b[k]
        phi = dense_design(x, w, b)
        theta, *_ = scipy.linalg.lstsq(phi, y)
        reference = 0.5 * np.mean((phi @ theta - y) ** 2)
        assert pattern_least_squares(x, y, w, b) == pytest.approx(reference, rel=1e-9, abs=1e-15)
        own = np.r_[
            trajectory.params.c[k] * w, trajectory.params.c[k] * b
        ]  # (α, β) = (c w, c b) reproduces N
        assert 0.5 * np.mean((phi @ own - y) ** 2) == pytest.approx(trajectory.loss[k], rel=1e-12)
        assert trajectory.loss[k] >= reference - 1e-15
        gaps.append((trajectory.loss[k] - reference) / trajectory.loss[k])
    assert min(gaps) < 0.5  # the bound is not vacuous: late in training L_t comes close to L_A(t)


def test_active_residual_sums_match_loops():
    rng = np.random.default_rng(5)
    x, r = rng.uniform(-1, 1, 20), rng.standard_normal(20)
    w, b = random_network(rng, 4)
    s0, s1 = active_residual_sums(x, r, w, b)
    for j in range(4):
        active = w[j] * x + b[j] > 0
        assert s0[j] == pytest.approx(r[active].sum(), abs=1e-14)
        assert s1[j] == pytest.approx((r * x)[active].sum(), abs=1e-14)


def test_log_log_slope_recovers_a_power_law():
    steps = np.unique(np.geomspace(1, 1e5, 300).astype(int))
    slope = log_log_slope(steps, 3.0 * steps**-0.7, window_decades=0.25)
    lonely = np.isnan(slope)  # a window holding a single step has no slope
    assert lonely.tolist() == [True, True] + [False] * (len(steps) - 2)
    np.testing.assert_allclose(slope[~lonely], 0.7, rtol=1e-9)


def test_runs_finds_maximal_true_runs():
    assert runs(np.array([True, True, False, True, False, False, True])) == [(0, 1), (3, 3), (6, 6)]
    assert runs(np.array([False, False])) == []


def test_detect_phases_finds_a_synthetic_plateau_between_drops():
    steps = np.unique(np.geomspace(1, 1e6, 400).astype(int)).astype(float)
    u = np.log10(steps)
    # log10 L: falls with slope 1 until 10^2, flat until 10^4, falls with slope 1 again
    log_loss = -np.minimum(u, 2.0) - np.maximum(u - 4.0, 0.0)
    phases = detect_phases(steps, 10**log_loss)
    assert len(phases.plateaus) == 1
    start, stop = phases.plateaus[0]
    assert 10**2 <= start <= 10**2.2 and 10**3.8 <= stop <= 10**4
    assert len(phases.drops) == 2
    assert phases.drops[0][1] < start and phases.drops[1][0] > stop


def test_detect_phases_ignores_plateaus_shorter_than_the_minimum():
    steps = np.unique(np.geomspace(1, 1e6, 400).astype(int)).astype(float)
    u = np.log10(steps)
    log_loss = -np.minimum(u, 2.0) - np.maximum(u - 2.3, 0.0)  # flat for only 0.3 decades
    assert detect_phases(steps, 10**log_loss, min_plateau_decades=0.5).plateaus == []


def test_detect_phases_skips_the_flat_start_before_learning():
    steps = np.unique(np.geomspace(1, 1e6, 400).astype(int)).astype(float)
    u = np.log10(steps)
    log_loss = (
        -np.maximum(u - 2.0, 0.0) * 0.5
    )  # flat until 10^2 (nothing learnt yet), then a power law
    assert detect_phases(steps, 10**log_loss).plateaus == []
    assert (
        detect_phases(steps, 10**log_loss, initial_drop=0.0).plateaus[0][0] <= 3.0
    )  # the first windows hold one step
