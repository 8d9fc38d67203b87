"""The activations study: its measurements on synthetic inputs, its configs, and its claims at the quick profile."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trainingdynamics.profiles import ParameterError
from trainingdynamics.studies import activations as study


def geometric_run(
    eigenvalues: np.ndarray, start: np.ndarray, eta: float, steps: int, speedup: float = 1.0, vectors: np.ndarray | None = None
) -> study.TrainingRun:
    """A run whose components along the eigenvectors (default: the axes) decay exactly as (1 − speedup·ηλ_i)^t; H(0) = G."""
    vectors = np.eye(len(eigenvalues)) if vectors is None else vectors
    t = np.arange(steps + 1)[:, None]
    residuals = (start * (1 - speedup * eta * eigenvalues) ** t) @ vectors.T
    return study.TrainingRun("relu", eta, eigenvalues, vectors, eigenvalues, vectors, residuals, 0.5 * np.sum(residuals**2, axis=1))


def test_linear_dynamics_have_zero_rate_error() -> None:
    eigenvalues = np.array([0.001, 0.02, 0.1, 0.5, 1.0])
    rotation, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((5, 5)))
    run = geometric_run(eigenvalues, np.ones(5), eta=0.5, steps=300, vectors=rotation)
    measured, predicted = study.measured_rates(run)
    assert np.allclose(predicted, 0.5 * eigenvalues[1:])  # λ = 0.001 < 10⁻² λ_1 is not one of the leading directions
    assert study.rate_error([run]) < 1e-10


def test_wrong_rates_are_detected() -> None:
    run = geometric_run(np.array([0.05, 0.2, 1.0]), np.ones(3), eta=0.5, steps=300, speedup=1.3)
    assert study.rate_error([run]) == pytest.approx(0.3, rel=0.05)


def test_rates_are_predicted_from_gs_eigenvectors_not_the_networks() -> None:
    # The network's H(0) has G's eigenvalues but eigenvectors rotated by 0.3 rad in the plane of the first two:
    # the dynamics follow H(0), so along H(0)'s eigenvectors the rates are exact and along G's they are not.
    eigenvalues = np.array([0.2, 1.0])
    c, s = np.cos(0.3), np.sin(0.3)
    run = geometric_run(eigenvalues, np.ones(2), eta=0.5, steps=100, vectors=np.array([[c, -s], [s, c]]))
    run = dataclasses.replace(run, limit_vectors=np.eye(2))
    assert study.rate_error([run], "network") < 1e-10
    assert study.rate_error([run]) > 0.2


def test_only_round_off_directions_are_not_measured() -> None:
    run = geometric_run(np.array([0.1, 0.5, 1.0]), np.array([1.0, 0.05, 1e-14]), eta=0.5, steps=50)
    assert study.measurable(run).tolist() == [True, True, False]  # 5% content is measured, 10⁻¹⁴ is round-off


def test_sqrt_width_spread() -> None:
    widths = np.array([100, 400, 1600])
    assert study.sqrt_width_spread(study.GramCheck({}, widths, 3 / np.sqrt(widths))) == pytest.approx(1.0)
    assert study.sqrt_width_spread(study.GramCheck({}, widths, 3 / widths)) == pytest.approx(4.0)


def test_bump_target_is_centred_with_unit_rms() -> None:
    angles = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    y = study.bump_target(np.stack([np.cos(angles), np.sin(angles)], axis=1), 4.0)
    assert abs(y.mean()) < 1e-12 and np.mean(y**2) == pytest.approx(1.0)
    assert np.argmax(y) == 0  # the bump sits at ϕ = 0


def test_numerical_floor_hides_round_off_but_not_real_eigenvalues() -> None:
    G = np.diag([1e-3, 1.0, 2.0])
    assert study.spectrum(G)[0] == pytest.approx(1e-3)
    assert study.spectrum(np.diag([-1e-16, 1.0]))[0] == pytest.approx(2 * study.RESOLUTION)


def test_depth_growth_and_its_failure_reason() -> None:
    growth = np.array([[1.0, 10.0, 50.0], [1.0, 100.0, 1e4]])
    scales = np.array([study.DEPTH_SCALE, 2.0])
    sweep = study.DepthSweep(np.array([1, 2, 4]), scales, growth, np.array([8, 16]), np.array([20.0, np.nan]), 0)
    assert study.depth_growth(sweep) == pytest.approx(50.0)
    assert study.depth_growth(sweep, 2.0) == pytest.approx(1e4)
    reason = study.depth_failure(sweep)
    assert "50×" in reason and "2 (10000×)" in reason and "n = 8: 20×" in reason
    deeper = dataclasses.replace(sweep, depths=np.array([1, 4, 8]))
    assert "10× (median) from depth 1 to 4 on 12 points, and 50× by depth 8" in study.depth_failure(deeper)  # σ_w = DEPTH_SCALE


def spectra_with(draws_high: dict[str, np.ndarray], draws_low: dict[str, np.ndarray] | None = None) -> study.Spectra:
    """A Spectra with only the independent draws and the diagonals filled in."""
    diagonal = {"relu": 0.5, "tanh": 0.4644, "quadratic": 4.0}
    empty: dict = {}
    nothing = np.array([])
    return study.Spectra(nothing, empty, diagonal, empty, empty, empty, nothing, empty, nothing, nothing, draws_low or {}, draws_high)


def test_high_dim_spread_is_raw_and_scales_with_the_activation() -> None:
    relu = np.array([0.2, 0.1, 0.3])
    spectra = spectra_with({"relu": relu, "tanh": 0.4644 / 0.5 * relu, "quadratic": 11 * relu})
    assert study.high_dim_spread(spectra) == pytest.approx(11.0)
    # φ → cφ multiplies G by c²: dividing by G_ii removes the scale (quadratic 11 · 0.5 / 4 = 1.375, tanh 1)
    assert study.high_dim_spread(spectra, normalised=True) == pytest.approx(1.375)
    assert "11×" in study.high_dim_failure(spectra)


def test_kinked_lambda_min_is_the_median_over_draws() -> None:
    spectra = spectra_with({}, {"relu": np.array([1e-6, 4e-5, 5e-5]), "selu": np.array([2e-5, 3e-5, 1e-9])})
    assert study.kinked_lambda_min(spectra) == pytest.approx(2e-5)


def test_median_growth_leaves_out_unresolved_draws() -> None:
    profiles = np.array([[1e-10, 1e-8], [np.nan, 1e-9], [1e-10, 3e-8], [1e-11, 2e-9]])  # (draws, depths)
    assert study.median_growth(profiles) == pytest.approx([1.0, 200.0])
    assert np.isnan(study.median_growth(np.full((3, 2), np.nan))).all()


def test_depth_claim_sets_are_resolved_and_ignore_the_exploration_knobs() -> None:
    cfg = study.config("quick", depth_draws=3)
    draws, left_out = study.resolved_circles(cfg, 0)
    assert len(draws) == 3 and left_out >= 0
    assert all(X.shape == (study.DEPTH_POINTS, cfg.ambient_dim) for X in draws)
    assert all(not np.isnan(study.resolved_lambda_min(study.gram(X, study.Activation("tanh")))) for X in draws)
    wider = study.config("quick", depth_draws=3, depth_weight_scales=[2.0], depth_sizes=[8], depths=[1, 4])
    assert study.depth_growth(study.depth_sweep(wider, 0)) == pytest.approx(study.depth_growth(study.depth_sweep(cfg, 0)))


def test_resolved_lambda_min() -> None:
    assert study.resolved_lambda_min(np.diag([1e-6, 1.0])) == pytest.approx(1e-6)
    assert np.isnan(study.resolved_lambda_min(np.diag([1e-15, 1.0])))


@pytest.mark.parametrize(
    "overrides",
    [
        {"train_width": 1000},
        {"mc_samples": 1000},
        {"subspace_dims": [3, 50]},
        {"depths": [1, 2]},
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
    assert study.config("full").train_activations == study.ACTIVATIONS
    assert study.config("quick", train_steps=50).train_steps == 50


def test_limit_gap_compares_eigenvalues_by_rank_over_the_leading_directions() -> None:
    run = geometric_run(np.array([0.001, 0.2, 0.5, 1.0]), np.ones(4), eta=0.5, steps=10)
    shifted = dataclasses.replace(run, eigenvalues=np.array([0.01, 0.25, 0.5, 1.0]))
    assert study.limit_gap(run) == 0.0
    assert study.limit_gap(shifted) == pytest.approx(0.25)  # λ = 0.001 < 10⁻² λ_1 is left out


def test_spectra_depend_on_the_seed_alone() -> None:
    cfg = study.config("quick", subspace_dims=[2, 50], sweep_points=[10, 20], elu_alphas=[0.5], claim_draws=2)
    first, second, other = (study.measure_spectra(cfg, seed) for seed in (3, 3, 4))
    assert np.array_equal(first.lambda_min["relu"], second.lambda_min["relu"])
    assert not np.array_equal(first.lambda_min["relu"], other.lambda_min["relu"])
