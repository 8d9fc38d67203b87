"""The activations study: its measurements on synthetic inputs, its configs, and its claims at the
quick profile.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trainingdynamics.diagnostics import gram
from trainingdynamics.profiles import ParameterError
from trainingdynamics.studies import activations as study
from trainingdynamics.studies.activations import depth, spectra, training
from trainingdynamics.studies.activations.analysis import separation_fit
from trainingdynamics.studies.activations.config import (
    DEPTH_POINTS,
    DEPTH_SCALE,
    DEPTH_SUFFICIENT,
    RESOLUTION,
)


def geometric_run(
    eigenvalues: np.ndarray,
    start: np.ndarray,
    eta: float,
    steps: int,
    speedup: float = 1.0,
    vectors: np.ndarray | None = None,
) -> training.TrainingRun:
    """A run whose components along the eigenvectors (default: the axes) decay exactly as (1 −
    speedup·ηλ_i)^t; H(0) = G.
    """
    vectors = np.eye(len(eigenvalues)) if vectors is None else vectors
    t = np.arange(steps + 1)[:, None]
    residuals = (start * (1 - speedup * eta * eigenvalues) ** t) @ vectors.T
    return training.TrainingRun(
        "relu",
        eta,
        eigenvalues,
        vectors,
        eigenvalues,
        vectors,
        residuals,
        0.5 * np.sum(residuals**2, axis=1),
    )


def test_linear_dynamics_have_zero_rate_error() -> None:
    eigenvalues = np.array([0.001, 0.02, 0.1, 0.5, 1.0])
    rotation, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))
    run = geometric_run(eigenvalues, np.ones(5), eta=0.5, steps=300, vectors=rotation)
    measured, predicted = training.measured_rates(run)
    assert np.allclose(
        predicted, 0.5 * eigenvalues[1:]
    )  # λ = 0.001 < 10⁻² λ_1 is not one of the leading directions
    assert training.rate_error([run]) < 1e-10


def test_wrong_rates_are_detected() -> None:
    run = geometric_run(np.array([0.05, 0.2, 1.0]), np.ones(3), eta=0.5, steps=300, speedup=1.3)
    assert training.rate_error([run]) == pytest.approx(0.3, rel=0.05)


def test_rates_are_predicted_from_gs_eigenvectors_not_the_networks() -> None:
    # The network's H(0) has G's eigenvalues but eigenvectors rotated by 0.3 rad in the plane of the
    # first two:
    # the dynamics follow H(0), so along H(0)'s eigenvectors the rates are exact and along G's they
    # are not.
    eigenvalues = np.array([0.2, 1.0])
    c, s = np.cos(0.3), np.sin(0.3)
    run = geometric_run(
        eigenvalues, np.ones(2), eta=0.5, steps=100, vectors=np.array([[c, -s], [s, c]])
    )
    run = dataclasses.replace(run, limit_vectors=np.eye(2))
    assert training.rate_error([run], "network") < 1e-10
    assert training.rate_error([run]) > 0.2


def test_only_round_off_directions_are_not_measured() -> None:
    run = geometric_run(np.array([0.1, 0.5, 1.0]), np.array([1.0, 0.05, 1e-14]), eta=0.5, steps=50)
    assert training.measurable(run).tolist() == [
        True,
        True,
        False,
    ]  # 5% content is measured, 10⁻¹⁴ is round-off


def test_sqrt_width_spread() -> None:
    widths = np.array([100, 400, 1600])
    assert spectra.sqrt_width_spread(
        spectra.GramCheck({}, widths, 3 / np.sqrt(widths))
    ) == pytest.approx(1.0)
    assert spectra.sqrt_width_spread(spectra.GramCheck({}, widths, 3 / widths)) == pytest.approx(
        4.0
    )


def test_bump_target_is_centred_with_unit_rms() -> None:
    angles = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    y = training.bump_target(np.stack([np.cos(angles), np.sin(angles)], axis=1), 4.0)
    assert abs(y.mean()) < 1e-12 and np.mean(y**2) == pytest.approx(1.0)
    assert np.argmax(y) == 0  # the bump sits at ϕ = 0


def test_numerical_floor_hides_round_off_but_not_real_eigenvalues() -> None:
    G = np.diag([1e-3, 1.0, 2.0])
    assert spectra.spectrum(G)[0] == pytest.approx(1e-3)
    assert spectra.spectrum(np.diag([-1e-16, 1.0]))[0] == pytest.approx(2 * RESOLUTION)


def depth_sweep_with(
    depths: np.ndarray, growth: np.ndarray, circle_lambda_min: np.ndarray | None = None
) -> depth.DepthSweep:
    """A DepthSweep with the growth rows (σ_w = DEPTH_SCALE, then 2) and the n_points circles' λ_min
    filled in.
    """
    circles = np.zeros((1, len(depths))) if circle_lambda_min is None else circle_lambda_min
    return depth.DepthSweep(
        depths,
        np.array([DEPTH_SCALE, 2.0]),
        growth,
        np.array([8]),
        np.array([20.0]),
        0,
        circles,
        circles,
        1.0,
        1.0,
    )


def test_depth_growth_is_read_at_the_sufficient_depth() -> None:
    depths = np.array([1, 4, DEPTH_SUFFICIENT])
    sweep = depth_sweep_with(depths, np.array([[1.0, 27.0, 425.0], [1.0, 100.0, 1e4]]))
    assert depth.depth_growth(sweep) == pytest.approx(425.0)
    assert depth.depth_growth(sweep, 2.0) == pytest.approx(1e4)
    assert depth.depth_growth(sweep, depth=4) == pytest.approx(27.0)


def test_depth_reached_is_the_first_depth_whose_median_reaches_the_level() -> None:
    depths = np.array([1, 8, 16, 32])
    circles = np.array(
        [[1e-12, 1e-8, 2e-5, 1e-3], [1e-12, 1e-6, 5e-6, 1e-3], [1e-12, 1e-7, 1e-5, 1e-4]]
    )
    sweep = depth_sweep_with(depths, np.ones((2, 4)), circles)
    assert (
        depth.depth_reached(sweep) == 16.0
    )  # medians 1e-12, 1e-7, 1e-5, 1e-3 against KINKED_FLOOR = 1e-5
    assert depth.depth_reached(sweep, 1e-2) == float("inf")


def test_depth_maps_slope_at_one_is_chi() -> None:
    # χ = E[tanh'(z)²]/E[tanh(z)²] ≈ 1.1778; the map's own finite-difference slope must agree with
    # it
    chi = depth.chi_quadrature()
    assert chi == pytest.approx(1.1778, abs=1e-4)
    assert depth.map_slope() == pytest.approx(chi, rel=1e-5)
    # with weights N(0, σ²) the slope is σ²E[tanh'(σz)²]/E[tanh(σz)²]: larger σ separates nearby
    # points faster
    assert depth.map_slope(2.0) == pytest.approx(depth.chi_quadrature(2.0), rel=1e-5)
    assert depth.chi_quadrature(2.0) > chi
    # nearby points separate by χ per layer in 1 − ρ (√χ in distance) while they stay close
    X = np.array([[1.0, 0.0], [np.cos(1e-3), np.sin(1e-3)], [0.0, 1.0]])
    _, gap = depth.depth_path(X, (1, 2, 3, 4), DEPTH_SCALE)
    assert gap[1:] / gap[:-1] == pytest.approx(np.full(3, chi), rel=1e-4)


def test_depth_path_matches_gram_matrix_at_each_depth() -> None:
    X = gram.sphere_in_subspace(8, 2, 5, np.random.default_rng(1))
    lambda_min, _ = depth.depth_path(X, (1, 3, 6), 1.5)
    direct = [
        spectra.spectrum(spectra.gram(X, gram.Activation("tanh"), depth=L, weight_scale=1.5))[0]
        for L in (1, 3, 6)
    ]
    assert lambda_min == pytest.approx(direct, rel=1e-10)


def test_whole_residual_deviation_is_zero_for_linear_dynamics_and_large_at_a_tiny_width() -> None:
    eigenvalues = np.array([0.05, 0.2, 1.0])
    rotation, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((3, 3)))
    run = geometric_run(
        eigenvalues, np.array([1.0, -2.0, 0.5]), eta=0.5, steps=100, vectors=rotation
    )
    assert training.deviation(run) < 1e-12
    assert training.predicted_loss(run) == pytest.approx(run.loss[-1], rel=1e-10)
    assert training.loss_mismatch(run) < 1e-10
    assert (
        training.deviation(geometric_run(eigenvalues, np.ones(3), eta=0.5, steps=100, speedup=1.3))
        > 0.05
    )
    # a width-2 net (one pair of neurons) is far from its infinite-width limit: GD leaves (I − ηG)^t
    # r_0 by tens of percent
    cfg = study.config("quick")
    X, y = training.training_data(cfg, 0, 2)
    X, y = X[:20], y[:20]
    tiny = [
        training.deviation(
            training.gd_residuals(X, y, gram.Activation("relu"), 2, 100, 0.5, seed)[0]
        )
        for seed in range(5)
    ]
    wide = training.deviation(
        training.gd_residuals(X, y, gram.Activation("relu"), 4000, 100, 0.5, 0)[0]
    )
    assert min(tiny) > 0.2 and wide < 0.05


def test_leading_rates_only_count_directions_with_a_large_share() -> None:
    # the direction with 1 % of ‖r_0‖ decays 30 % too fast; it is left out, the others are exact
    eigenvalues = np.array([0.1, 0.3, 1.0])
    run = geometric_run(eigenvalues, np.array([1.0, 0.01, 1.0]), eta=0.5, steps=100)
    fast = geometric_run(eigenvalues, np.array([1.0, 0.01, 1.0]), eta=0.5, steps=100, speedup=1.3)
    mixed = dataclasses.replace(
        run,
        residuals=np.column_stack([run.residuals[:, 0], fast.residuals[:, 1], run.residuals[:, 2]]),
    )
    assert training.large_share(mixed).tolist() == [True, False, True]
    assert np.max(training.leading_rate_errors(mixed)) < 1e-10
    assert np.max(training.rate_errors(mixed)) == pytest.approx(0.3, rel=0.05)


def spectra_with(
    draws_high: dict[str, np.ndarray], draws_low: dict[str, np.ndarray] | None = None
) -> spectra.Spectra:
    """A Spectra with only the independent draws and the diagonals filled in."""
    diagonal = {"relu": 0.5, "tanh": 0.4644, "quadratic": 4.0}
    empty: dict = {}
    nothing = np.array([])
    return spectra.Spectra(
        nothing,
        empty,
        diagonal,
        empty,
        empty,
        empty,
        nothing,
        empty,
        nothing,
        nothing,
        draws_low or {},
        draws_high,
        nothing,
    )


def test_high_dim_spread_is_in_units_of_g_ii() -> None:
    relu = np.array([0.2, 0.1, 0.3])
    measured = spectra_with({"relu": relu, "tanh": 0.4644 / 0.5 * relu, "quadratic": 11 * relu})
    # φ → cφ multiplies G by c²: dividing by G_ii removes the scale (quadratic 11 · 0.5 / 4 = 1.375,
    # tanh 1)
    assert spectra.high_dim_spread(measured) == pytest.approx(1.375)
    assert spectra.high_dim_spread(measured, normalised=False) == pytest.approx(11.0)


def test_kinked_lambda_min_is_the_median_over_draws() -> None:
    measured = spectra_with(
        {}, {"relu": np.array([1e-6, 4e-5, 5e-5]), "selu": np.array([2e-5, 3e-5, 1e-9])}
    )
    assert spectra.kinked_lambda_min(measured) == pytest.approx(2e-5)


def test_median_growth_leaves_out_unresolved_draws() -> None:
    profiles = np.array(
        [[1e-10, 1e-8], [np.nan, 1e-9], [1e-10, 3e-8], [1e-11, 2e-9]]
    )  # (draws, depths)
    assert depth.median_growth(profiles) == pytest.approx([1.0, 200.0])
    assert np.isnan(depth.median_growth(np.full((3, 2), np.nan))).all()


def test_depth_claim_sets_are_resolved_and_ignore_the_exploration_knobs() -> None:
    cfg = study.config("quick", depth_draws=3)
    draws, left_out = depth.resolved_circles(cfg, 0)
    assert len(draws) == 3 and left_out >= 0
    assert all(X.shape == (DEPTH_POINTS, cfg.ambient_dim) for X in draws)
    assert all(
        not np.isnan(depth.resolved_lambda_min(spectra.gram(X, gram.Activation("tanh"))))
        for X in draws
    )
    wider = study.config(
        "quick",
        depth_draws=3,
        depth_weight_scales=[2.0],
        depth_sizes=[8],
        depths=[1, DEPTH_SUFFICIENT],
    )
    assert depth.depth_growth(depth.depth_sweep(wider, 0)) == pytest.approx(
        depth.depth_growth(depth.depth_sweep(cfg, 0))
    )


def test_resolved_lambda_min() -> None:
    assert depth.resolved_lambda_min(np.diag([1e-6, 1.0])) == pytest.approx(1e-6)
    assert np.isnan(depth.resolved_lambda_min(np.diag([1e-15, 1.0])))


@pytest.mark.parametrize(
    "overrides",
    [
        {"train_width": 1000},
        {"mc_samples": 1000},
        {"subspace_dims": [3, 50]},
        {"depths": [1, 2]},
        {"depths": [1, 4]},
        {"rate_widths": [4000]},
        {"rate_steps": 1},
        {"rate_widths": [1001, 4000]},
        {"figure_points": [1, 10]},
        {"depth_draws": 0},
        {"claim_draws": 0},
        {"train_steps": 1},
        {"train_activations": ["relu", "sigmoid", "tanh"]},
        {"step_fraction": 1.5},
        {"widths": [100]},
        {"ambient_dim": 10},
    ],
)
def test_bad_configs_are_rejected(overrides) -> None:
    with pytest.raises(ParameterError):
        study.config("quick", **overrides)


def test_profiles_resolve() -> None:
    assert study.config("full").train_activations == gram.ACTIVATIONS
    assert study.config("quick", train_steps=50).train_steps == 50


def test_limit_gap_compares_eigenvalues_by_rank_over_the_leading_directions() -> None:
    run = geometric_run(np.array([0.001, 0.2, 0.5, 1.0]), np.ones(4), eta=0.5, steps=10)
    shifted = dataclasses.replace(run, eigenvalues=np.array([0.01, 0.25, 0.5, 1.0]))
    assert training.limit_gap(run) == 0.0
    assert training.limit_gap(shifted) == pytest.approx(0.25)  # λ = 0.001 < 10⁻² λ_1 is left out


def test_spectra_depend_on_the_seed_alone() -> None:
    cfg = study.config(
        "quick", subspace_dims=[2, 50], sweep_points=[10, 20], elu_alphas=[0.5], claim_draws=2
    )
    first, second, other = (spectra.measure_spectra(cfg, seed) for seed in (3, 3, 4))
    assert np.array_equal(first.lambda_min["relu"], second.lambda_min["relu"])
    assert not np.array_equal(first.lambda_min["relu"], other.lambda_min["relu"])


def test_separation_fit_recovers_a_power_law() -> None:
    # λ_min = 3 δ^0.7 exactly: the fit returns the power, log 3 and a correlation of one
    delta = np.array([0.01, 0.02, 0.05, 0.1])
    measured = spectra_with({}, {"relu": 3.0 * delta**0.7})
    measured.separation_low = delta
    power, offset, correlation = separation_fit(measured)
    assert power == pytest.approx(0.7)
    assert offset == pytest.approx(np.log(3.0))
    assert correlation == pytest.approx(1.0)
