"""Straight-through estimators: closed forms against Monte Carlo, quadrature, finite differences and
autograd.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.integrate import quad
from scipy.special import ndtr
from scipy.stats import norm

from trainingdynamics.algorithms import ste as S
from trainingdynamics.diagnostics.montecarlo import equivalent_z
from trainingdynamics.profiles import ParameterError
from trainingdynamics.studies import ste as study
from trainingdynamics.studies.ste.analysis import (
    excursion_from_minimum,
    false_alarm_bound,
    loss_margin,
    repelled_cases,
    repelled_rises,
    repelled_share,
)
from trainingdynamics.studies.ste.claims import digits_claims, theory_claims, toy_claims
from trainingdynamics.studies.ste.config import RATIO_DISTANCES, TEACHER_BALANCE
from trainingdynamics.studies.ste.figures import plot_band
from trainingdynamics.studies.ste.quantized import (
    DigitsResult,
    StackedQuantizedReLU,
    StackSpec,
    forward_stack,
    init_stack,
)
from trainingdynamics.studies.ste.toy import (
    CoarseGDRun,
    Teacher,
    admissible_teacher,
    gradient_norms_at_minima,
    landscape,
    make_teacher,
    ratio_paths,
    ratio_slopes,
    saddle_gradients,
    teacher_odds,
)

M, N = 4, 6
SAMPLES = 200_000


def random_problem(seed: int, w_scale: float = 1.0) -> tuple[np.ndarray, ...]:
    """A random point (v, w) and teacher (v*, w*)."""
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal(M),
        w_scale * rng.standard_normal(N),
        rng.standard_normal(M),
        rng.standard_normal(N),
    )


def coordinate_z(samples: np.ndarray, exact: np.ndarray | float) -> np.ndarray:
    """|sample mean − exact| / standard error, per coordinate."""
    standard_error = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    return np.atleast_1d(np.abs(samples.mean(axis=0) - exact) / standard_error)


def assert_within_standard_errors(
    samples: np.ndarray, exact: np.ndarray | float, bound: float = 4.0
) -> None:
    """Every coordinate of the sample mean lies within ``bound`` standard errors of ``exact``, and
    so does the whole vector.
    """
    z = coordinate_z(samples, exact)
    assert z.max() < bound, f"largest z-score {z.max():.2f}"
    assert equivalent_z(samples, exact) < bound


def inputs(seed: int, samples: int = SAMPLES) -> np.ndarray:
    return S.gaussian_inputs(samples, M, N, np.random.default_rng(seed))


@pytest.mark.parametrize("seed", [0, 1])
def test_population_loss_matches_monte_carlo(seed):
    v, w, v_star, w_star = random_problem(seed)
    samples = S.loss_samples(v, w, v_star, w_star, inputs(100 + seed))
    assert_within_standard_errors(samples, S.population_loss(v, w, v_star, w_star))


def test_population_loss_closed_form_by_hand():
    # m = 1: f = ⅛[2v² − 2v(2 − 2θ/π)v* + 2v*²]; at θ = π/2 with v = 1, v* = 2: ⅛[2 − 4 + 8] = 0.75.
    value = S.population_loss(
        np.array([1.0]), np.array([1.0, 0.0]), np.array([2.0]), np.array([0.0, 3.0])
    )
    assert value == pytest.approx(0.75, rel=1e-14)


def test_population_loss_broadcasts_over_a_trajectory():
    v, w, v_star, w_star = random_problem(3)
    V, W = np.stack([v, 2 * v, -v]), np.stack([w, -w, 3 * w])
    batched = S.population_loss(V, W, v_star, w_star)
    assert np.allclose(
        batched,
        [S.population_loss(a, b, v_star, w_star) for a, b in zip(V, W, strict=True)],
        rtol=1e-14,
    )


def test_angle_is_accurate_near_zero_and_pi():
    w_star = np.array([1.0, 0.0, 0.0])
    for tiny in (1e-9, 1e-6, 1e-3):
        assert S.angle(np.array([1.0, tiny, 0.0]), w_star) == pytest.approx(
            np.arctan(tiny), rel=1e-9
        )
        assert S.angle(np.array([-1.0, tiny, 0.0]), w_star) == pytest.approx(
            np.pi - np.arctan(tiny), rel=1e-12
        )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_population_gradient_matches_finite_differences(seed):
    v, w, v_star, w_star = random_problem(seed)
    grad_v, grad_w = S.population_gradient(v, w, v_star, w_star)
    h = 1e-6
    fd_v = [
        (
            S.population_loss(v + h * e, w, v_star, w_star)
            - S.population_loss(v - h * e, w, v_star, w_star)
        )
        / (2 * h)
        for e in np.eye(M)
    ]
    fd_w = [
        (
            S.population_loss(v, w + h * e, v_star, w_star)
            - S.population_loss(v, w - h * e, v_star, w_star)
        )
        / (2 * h)
        for e in np.eye(N)
    ]
    assert np.allclose(grad_v, fd_v, atol=1e-8)
    assert np.allclose(grad_w, fd_w, atol=1e-8)
    assert abs(grad_w @ w) < 1e-12 * np.linalg.norm(grad_w) * np.linalg.norm(w)


def test_score_function_estimator_is_unbiased_for_the_w_gradient():
    v, w, v_star, w_star = random_problem(4)
    samples = S.score_gradient_samples(v, w, v_star, w_star, inputs(7))
    assert_within_standard_errors(samples, S.population_gradient(v, w, v_star, w_star)[1])


@pytest.mark.parametrize("ste", S.STES)
@pytest.mark.parametrize("w_scale", [0.4, 1.0, 2.5])
def test_expected_coarse_gradient_matches_monte_carlo(ste, w_scale):
    v, w, v_star, w_star = random_problem(5, w_scale)
    Z = inputs(11)
    for samples, exact in zip(
        S.coarse_gradient_samples(v, w, v_star, w_star, ste, Z),
        S.expected_coarse_gradient(v, w, v_star, w_star, ste),
        strict=True,
    ):
        assert_within_standard_errors(samples, exact)


def test_monte_carlo_detects_a_wrong_closed_form():
    """The 4-standard-error check has power: a 5% error in E g_w (ReLU STE) is caught."""
    v, w, v_star, w_star = random_problem(5)
    samples = S.coarse_gradient_samples(v, w, v_star, w_star, "relu", inputs(11))[1]
    wrong = 1.05 * S.expected_coarse_gradient(v, w, v_star, w_star, "relu")[1]
    assert coordinate_z(samples, wrong).max() > 4.0
    assert equivalent_z(samples, wrong) > 4.0


def test_equivalent_z_is_the_plain_z_score_for_scalars():
    samples = np.random.default_rng(0).standard_normal(1000) + 0.1
    assert equivalent_z(samples, 0.0) == pytest.approx(coordinate_z(samples, 0.0)[0], rel=1e-6)


def test_equivalent_z_handles_samples_in_a_subspace():
    """Score samples lie in span(w, w*): an error inside the span is measured, one outside is
    infinite.
    """
    rng = np.random.default_rng(2)
    basis = rng.standard_normal((2, 5))
    samples = rng.standard_normal((400, 2)) @ basis
    assert np.isfinite(equivalent_z(samples, 0.01 * basis[0]))
    outside = np.linalg.svd(basis)[2][-1]  # orthogonal to both rows
    assert equivalent_z(samples, 0.01 * outside) == np.inf


def test_equivalent_z_is_calibrated_for_vectors():
    """Under the null, z > 2 happens about 4.55% of the time whatever the dimension (here d = 6,
    correlated).
    """
    rng = np.random.default_rng(1)
    mixing = rng.standard_normal((6, 6))
    z = [equivalent_z(rng.standard_normal((500, 6)) @ mixing, np.zeros(6)) for _ in range(2000)]
    assert np.mean(np.array(z) > 2.0) == pytest.approx(0.0455, abs=0.015)


def test_relu_expected_gradient_equals_the_papers_form():
    """E g_relu = h/(2√(2π)) ŵ − cos(θ/2) vᵀv*/√(2π) · (ŵ + ŵ*)/‖ŵ + ŵ*‖."""
    v, w, v_star, w_star = random_problem(6)
    w_hat, w_star_hat = w / np.linalg.norm(w), w_star / np.linalg.norm(w_star)
    h = v @ v + v.sum() ** 2 - v.sum() * v_star.sum() + v @ v_star
    theta = S.angle(w, w_star)
    paper = h / (2 * np.sqrt(2 * np.pi)) * w_hat - np.cos(theta / 2) * (v @ v_star) / np.sqrt(
        2 * np.pi
    ) * (w_hat + w_star_hat) / np.linalg.norm(w_hat + w_star_hat)
    assert np.allclose(
        S.expected_coarse_gradient(v, w, v_star, w_star, "relu")[1], paper, atol=1e-14
    )


@pytest.mark.parametrize("w_scale", [0.3, 1.0, 3.0])
def test_clipped_relu_gaussian_integrals_match_quadrature(w_scale):
    """Cross term E[z 1{0<z·w<1} 1{z·w*>0}] against 1-D quadrature in the plane of (ŵ, e)."""
    _, w, _, w_star = random_problem(8, w_scale)
    s = 1 / np.linalg.norm(w)
    w_hat, w_star_hat = w / np.linalg.norm(w), w_star / np.linalg.norm(w_star)
    theta = S.angle(w, w_star)
    e = (w_star_hat - np.cos(theta) * w_hat) / np.sin(theta)
    along = quad(lambda x: x * norm.pdf(x) * ndtr(x / np.tan(theta)), 0, s, epsabs=1e-13)[0]
    across = quad(lambda x: norm.pdf(x) * norm.pdf(x / np.tan(theta)), 0, s, epsabs=1e-13)[0]
    self_term, cross, _ = S._row_expectations(w, w_star, "clipped_relu")
    assert np.allclose(cross, along * w_hat + across * e, atol=1e-12)
    assert np.allclose(self_term, quad(lambda x: x * norm.pdf(x), 0, s)[0] * w_hat, atol=1e-12)


def test_clipped_relu_tends_to_relu_for_small_w():
    v, w, v_star, w_star = random_problem(9, 1e-3)
    clipped = S.expected_coarse_gradient(v, w, v_star, w_star, "clipped_relu")[1]
    assert np.allclose(
        clipped, S.expected_coarse_gradient(v, w, v_star, w_star, "relu")[1], atol=1e-12
    )


def spurious_minimum(seed: int, radius: float = 1.0) -> tuple[np.ndarray, ...]:
    _, _, v_star, w_star = random_problem(seed)
    return S.spurious_minimum_v(v_star), -radius * w_star, v_star, w_star


@pytest.mark.parametrize("radius", [0.2, 1.0, 5.0])
def test_spurious_minimum_expected_gradients(radius):
    v, w, v_star, w_star = spurious_minimum(10, radius)
    for ste in ("relu", "clipped_relu"):
        grad_v, grad_w = S.expected_coarse_gradient(v, w, v_star, w_star, ste)
        assert np.abs(grad_v).max() < 1e-14 and np.abs(grad_w).max() < 1e-14
    # identity: (‖v‖² + vᵀv*) ŵ/√(2π) = 2(m − 1)(1ᵀv*)²/((m + 1)²√(2π)) ŵ, radial
    predicted = 2 * (M - 1) * v_star.sum() ** 2 / ((M + 1) ** 2 * np.sqrt(2 * np.pi))
    grad_w = S.expected_coarse_gradient(v, w, v_star, w_star, "identity")[1]
    assert np.allclose(grad_w, predicted * w / np.linalg.norm(w), atol=1e-14)


def test_spurious_point_is_a_local_minimum_of_f():
    v, w, v_star, w_star = spurious_minimum(12)
    assert v @ v_star < 0
    rng = np.random.default_rng(0)
    f0 = S.population_loss(v, w, v_star, w_star)
    for _ in range(200):
        dv, dw = 1e-3 * rng.standard_normal(M), 1e-3 * rng.standard_normal(N)
        assert S.population_loss(v + dv, w + dw, v_star, w_star) >= f0


@pytest.mark.parametrize("ste", S.STES)
def test_expected_coarse_gradient_correlates_positively(ste):
    """All three STEs correlate positively on the w-block (the separation is at critical points)."""
    _, _, v_star, w_star = random_problem(13)
    rng = np.random.default_rng(1)
    for _ in range(200):
        v, w = rng.standard_normal(M), rng.standard_normal(N)
        assert (
            S.expected_coarse_gradient(v, w, v_star, w_star, ste)[1]
            @ S.population_gradient(v, w, v_star, w_star)[1]
            > 0
        )


def test_sampled_coarse_gradient_is_the_batch_mean():
    v, w, v_star, w_star = random_problem(14)
    grad = S.sampled_coarse_gradient(v, w, v_star, w_star, "relu", 32, np.random.default_rng(3))
    Z = S.gaussian_inputs(32, M, N, np.random.default_rng(3))
    per_sample = S.coarse_gradient_samples(v, w, v_star, w_star, "relu", Z)
    for a, b in zip(grad, per_sample, strict=True):
        assert np.allclose(a, b.mean(axis=0), rtol=1e-14)
    assert grad[0].shape == (M,) and grad[1].shape == (N,)


def test_unknown_ste_is_rejected():
    v, w, v_star, w_star = random_problem(0)
    with pytest.raises(ValueError, match="unknown STE"):
        S.expected_coarse_gradient(v, w, v_star, w_star, "sigmoid")


def test_quantizer_levels():
    x = torch.tensor([-1.0, 0.0, 0.1, 0.5, 0.51, 1.0, 1.2, 7.0])
    assert torch.equal(
        S.quantize(x, 2, 0.5), torch.tensor([0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 1.5, 1.5])
    )
    assert torch.equal(S.quantize(x, 1, 1.0), (x > 0).float())


@pytest.mark.parametrize(
    "ste, expected",
    [("identity", [1, 1, 1, 1]), ("relu", [0, 1, 1, 1]), ("clipped_relu", [0, 1, 1, 0])],
)
def test_quantized_activation_backward_uses_the_ste(ste, expected):
    x = torch.tensor([-0.5, 0.2, 1.4, 1.6], requires_grad=True)
    S.quantized_activation(x, 2, 0.5, ste).sum().backward()  # clipped ReLU top: (2² − 1)·0.5 = 1.5
    assert torch.equal(x.grad, torch.tensor(expected, dtype=torch.float32))


@pytest.mark.parametrize("ste", S.STES)
def test_torch_autograd_with_binary_activation_reproduces_coarse_gradient(ste):
    """bits = 1, α = 1 is σ(x) = 1{x > 0}; autograd through it gives the NumPy coarse gradient."""
    v, w, v_star, w_star = random_problem(15)
    Z = inputs(16, samples=50)
    v_t, w_t = torch.tensor(v, requires_grad=True), torch.tensor(w, requires_grad=True)
    Z_t = torch.tensor(Z)
    target = (Z_t @ torch.tensor(w_star) > 0).double() @ torch.tensor(v_star)
    prediction = S.quantized_activation(Z_t @ w_t, 1, 1.0, ste) @ v_t
    (0.5 * (prediction - target) ** 2).sum().backward()
    grad_v, grad_w = S.coarse_gradient_samples(v, w, v_star, w_star, ste, Z)
    assert np.allclose(v_t.grad.numpy(), grad_v.sum(axis=0), atol=1e-12)
    assert np.allclose(w_t.grad.numpy(), grad_w.sum(axis=0), atol=1e-12)


def test_coarse_gradient_descent_iterates():
    v, w, v_star, w_star = random_problem(17)
    V, W = S.coarse_gradient_descent(v, w, lambda a, b: (a, 2 * b), 0.25, 3)
    assert V.shape == (4, M) and W.shape == (4, N)
    assert np.allclose(V[-1], 0.75**3 * v) and np.allclose(W[-1], 0.5**3 * w)


def test_config_validation_and_overrides():
    assert study.config("quick", hidden=7).hidden == 7
    with pytest.raises(ParameterError):
        study.config("quick", hidden=1)
    with pytest.raises(ParameterError):
        study.config("quick", minimum_offset=2.0)
    with pytest.raises(ParameterError):
        study.config("quick", bits=[2, 0])
    with pytest.raises(ParameterError, match="small_learning_rate"):
        study.config("quick", small_learning_rate=0.1)
    with pytest.raises(ParameterError):
        study.config("slow")


@pytest.mark.parametrize(
    "knob, value", [("mc_points", 19), ("mc_samples", 99_999), ("correlation_points", 99)]
)
def test_config_enforces_the_budget_minima(knob, value):
    """The Monte Carlo and correlation claims need ≥ 20 points × ≥ 1e5 samples and ≥ 100 points:
    smaller budgets are refused.
    """
    with pytest.raises(ParameterError, match=knob):
        study.config("quick", **{knob: value})


@pytest.mark.parametrize("hidden", [2, 5, 10])
def test_teachers_are_non_degenerate(hidden):
    """Conditioned teachers: spurious minima with vᵀv* ≤ −‖v*‖²/2, and the identity STE's pull at
    least the stated scale.
    """
    cfg = study.config("quick", hidden=hidden)
    for seed in range(50):
        teacher = make_teacher(cfg, np.random.default_rng(seed))
        v_star = teacher.v_star
        rho = v_star.sum() ** 2 / (v_star @ v_star)
        assert 0.25 <= rho <= (hidden + 1) / 4
        assert teacher.v_spurious @ v_star <= -0.5 * (v_star @ v_star) + 1e-12
        pull = gradient_norms_at_minima(teacher)["identity"]
        assert np.allclose(
            pull,
            2 * (hidden - 1) * rho * (v_star @ v_star) / ((hidden + 1) ** 2 * np.sqrt(2 * np.pi)),
            rtol=1e-12,
        )
    degenerate = np.array(
        [1.0, -1.0, 0.5, -0.5, 0.01]
    )  # 1ᵀv* ≈ 0: the identity STE's pull vanishes
    assert not admissible_teacher(degenerate)
    assert not admissible_teacher(np.ones(5))  # ρ = m ≥ (m + 1)/2: θ = π is no minimum


def rotating_trajectory(thetas: np.ndarray) -> CoarseGDRun:
    """A fake run whose w turns through the angles ``thetas`` from w* = e₁ in the (e₁, e₂) plane."""
    teacher = make_teacher(study.config("quick", hidden=M, inputs=2), np.random.default_rng(0))
    teacher = Teacher(teacher.v_star, np.array([1.0, 0.0]), teacher.v_spurious)
    w = np.stack([np.cos(thetas), np.sin(thetas)], axis=1)
    return CoarseGDRun(np.tile(teacher.v_spurious, (len(thetas), 1)), w, teacher=teacher)


def test_false_alarm_bound_of_the_monte_carlo_tolerance():
    assert false_alarm_bound(1) == pytest.approx(6.334e-5, rel=1e-3)  # two-sided P(|z| > 4)
    assert false_alarm_bound(120) == pytest.approx(120 * 6.334e-5, rel=1e-3)
    assert false_alarm_bound(1, z=1.959964) == pytest.approx(0.05, rel=1e-5)
    assert false_alarm_bound(10**6) == 1.0


def test_excursion_counts_moving_away_from_pi_not_sliding_into_it():
    sliding_in = rotating_trajectory(np.linspace(np.pi - 0.6, np.pi, 50))
    assert excursion_from_minimum(sliding_in) == pytest.approx(0.0, abs=1e-9)
    leaving = rotating_trajectory(
        np.concatenate([np.linspace(np.pi - 0.1, np.pi, 10), np.linspace(np.pi, 1.0, 10)])
    )
    assert excursion_from_minimum(leaving) == pytest.approx(np.pi - 1.0 - 0.1, abs=1e-9)


def test_plot_band_skips_empty_columns():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    values = np.array([[1.0, np.nan, 3.0], [2.0, np.nan, 5.0]])
    plot_band(ax, np.array([0, 10, 20]), values, "C0", "a")
    assert np.array_equal(ax.lines[0].get_xdata(), [0, 20]) and np.array_equal(
        ax.lines[0].get_ydata(), [1.5, 4.0]
    )
    plt.close(fig)


def test_landscape_best_v_is_below_the_other_curves():
    cfg = study.config("quick")
    teacher = make_teacher(cfg, np.random.default_rng(0))
    curves = landscape(teacher, np.linspace(0.01, np.pi, 50))
    best = curves["best v for each θ"]
    assert all(np.all(best <= c + 1e-12) for c in curves.values())
    assert best[-1] == pytest.approx(
        S.population_loss(teacher.v_spurious, -teacher.w_star, teacher.v_star, teacher.w_star),
        rel=1e-12,
    )


def test_toy_claims_pass_at_the_quick_profile():
    from trainingdynamics.claims import check_provenance

    cfg = study.config("quick")
    result = study.run_toy(cfg, seed=0)
    claims = toy_claims(result)
    failed = [(c.name, c.value, c.bound) for c in claims if not c.passed]
    assert not failed, failed
    check_provenance("ste", claims)
    sources = {c.name: c.source for c in claims}
    assert sources == {
        "monte_carlo": "exact",
        "descent_correlation": "exact",
        "relu_gradient_at_minimum": "exact",
        "monotone_descent": "paper",
        "identity_gradient_at_minimum": "paper",
        "identity_leaves": "paper",
        "relu_stays": "paper",
    }
    theory = theory_claims(result)
    assert all(c.passed and c.known_failure is None for c in theory), [
        (c.name, c.value) for c in theory
    ]
    assert {c.name: c.source for c in theory} == {
        "ratio_identity_grows": "paper",
        "ratio_relu_bounded": "paper",
        "saddle_gradient": "exact",
    }
    assert all(c.known_failure is None for c in claims)


def ratio_samples(v, w, v_star, w_star, ste, Z, batches: int = 20) -> np.ndarray:
    """Plug-in estimates of the descent ratio from ``batches`` disjoint batches of Z (∂f/∂w by the
    score function).
    """
    score = S.score_gradient_samples(v, w, v_star, w_star, Z)
    grad_v, grad_w = S.coarse_gradient_samples(v, w, v_star, w_star, ste, Z)
    estimates = []
    for part in np.array_split(np.arange(len(Z)), batches):
        a, b, c = grad_w[part].mean(axis=0), grad_v[part].mean(axis=0), score[part].mean(axis=0)
        estimates.append(a @ a / (b @ b + a @ c))
    return np.array(estimates)


@pytest.mark.parametrize("ste", S.STES)
def test_descent_ratio_matches_monte_carlo_away_from_the_minimum(ste):
    """‖E g_w‖²/(‖∂f/∂v‖² + ⟨E g_w, ∂f/∂w⟩) from the closed forms against batch-mean plug-in
    estimates (bias O(1/batch) ≪ SE).
    """
    v, w, v_star, w_star = random_problem(5)
    estimates = ratio_samples(v, w, v_star, w_star, ste, inputs(11, 400_000))
    standard_error = estimates.std(ddof=1) / np.sqrt(len(estimates))
    exact = S.descent_ratio(v, w, v_star, w_star, ste)
    assert standard_error < 0.05 * exact  # the check resolves the ratio to a few per cent
    assert abs(estimates.mean() - exact) < 4 * standard_error
    assert (
        abs(estimates.mean() - 1.15 * exact) > 4 * standard_error
    )  # … and would catch a 15% error


def test_descent_ratio_is_the_definition():
    v, w, v_star, w_star = random_problem(3)
    grad_v, grad_w = S.population_gradient(v, w, v_star, w_star)
    coarse = S.expected_coarse_gradient(v, w, v_star, w_star, "relu")[1]
    assert S.descent_ratio(v, w, v_star, w_star, "relu") == pytest.approx(
        coarse @ coarse / (grad_v @ grad_v + coarse @ grad_w), rel=1e-14
    )


def test_descent_ratio_grows_like_one_over_the_distance_for_the_identity_ste():
    """Along θ = π − t, v = v_spurious + t d: t·ratio → ‖E g_id‖²(2π)^{3/2}/(vᵀv*)² (Lemma 7 over
    eq. 15); ReLU-type ratios → 0.
    """
    cfg = study.config("quick", hidden=M, inputs=N, ratio_paths=3)
    teacher = make_teacher(cfg, np.random.default_rng(4))
    ratios = ratio_paths(cfg, teacher, np.random.default_rng(5))
    v_star, v = teacher.v_star, teacher.v_spurious
    pull = 2 * (M - 1) * v_star.sum() ** 2 / (np.sqrt(2 * np.pi) * (M + 1) ** 2)
    limit = pull**2 * (2 * np.pi) ** 1.5 / (v @ v_star) ** 2
    t = RATIO_DISTANCES
    assert np.allclose(t[-1] * ratios["identity"][:, -1], limit, rtol=1e-2)
    assert np.all(
        ratios["identity"][:, -1] > 1e3 * ratios["identity"][:, 0] * t[0] / 1e1
    )  # grows by ~ four decades over the path
    assert np.all(
        np.diff(np.log(ratios["identity"][:, t <= 1e-2]), axis=1) > 0
    )  # monotone along the last two decades
    for ste in ("relu", "clipped_relu"):
        assert np.all(ratios[ste][:, -1] < 1e-2 * ratios[ste][:, 0])
    assert np.allclose(ratio_slopes(ratios["identity"]), -1.0, atol=0.05)
    assert np.allclose(ratio_slopes(ratios["relu"]), 1.0, atol=0.1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_saddle_points_are_critical_points(seed):
    """Proposition 1: at (v_s, θ_s) both blocks of ∇f vanish (vᵀv* = 0 and ∂f/∂v = 0), and so does E
    g_relu (Lemma 6).
    """
    cfg = study.config("quick", hidden=M, inputs=N)
    teacher = make_teacher(cfg, np.random.default_rng(seed))
    v, theta = S.saddle_point(teacher.v_star)
    assert np.pi / 2 < theta < np.pi and abs(v @ teacher.v_star) < 1e-12
    largest = saddle_gradients(
        cfg, teacher, np.random.default_rng(100 + seed)
    )  # not the teacher's stream
    assert max(largest["∂f/∂v"], largest["∂f/∂w"], largest["E g_w (relu)"]) < 1e-14
    assert largest["E g_w (identity)"] > 1e-3  # the identity STE does not rest there
    with pytest.raises(ValueError, match="no saddle"):
        S.saddle_point(np.ones(M))


def test_stacked_models_match_single_models():
    """A stack of models computes, per model, what the same model computes alone (no cross-talk
    between models).
    """
    cfg = study.config("quick", width=16)
    seeds = [1, 2, 3]
    stack = init_stack(cfg, seeds)
    spec = StackSpec.quantized([1, 2, 4], ["identity", "relu", "clipped_relu"])
    X = torch.randn(3, 32, 64)
    together = forward_stack(stack, spec, X, train=False)
    for k in range(3):
        alone = forward_stack(
            stack.select([k]),
            StackSpec.quantized([[1, 2, 4][k]], [["identity", "relu", "clipped_relu"][k]]),
            X[k : k + 1],
            train=False,
        )
        assert torch.allclose(together[k], alone[0], atol=1e-6)


def test_stacked_activation_quantizes_and_uses_each_models_ste():
    x = torch.tensor([-0.5, 0.2, 1.4, 2.5]).repeat(3, 1, 1).requires_grad_(True)  # (3, 1, 4)
    spec = StackSpec.quantized([2, 2, 1], ["identity", "relu", "clipped_relu"])
    out = StackedQuantizedReLU.apply(x, spec.resolution, spec.top, spec.lo, spec.hi)
    assert torch.allclose(out[0, 0], S.quantize(torch.tensor([-0.5, 0.2, 1.4, 2.5]), 2, 2.0 / 3))
    assert torch.equal(out[2, 0], torch.tensor([0.0, 2.0, 2.0, 2.0]))  # 1 bit: 2·1{x > 0}
    out.sum().backward()
    assert torch.equal(
        x.grad[:, 0], torch.tensor([[1.0, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 0]])
    )  # clipped band (0, 2)


def test_digits_pipeline_runs_is_seeded_and_claims_are_sourced():
    from trainingdynamics.claims import check_provenance

    cfg = study.config(
        "quick",
        width=16,
        digit_seeds=1,
        pretrain_epochs=1,
        epochs=1,
        continue_epochs=1,
        n_train=320,
    )
    first, second = study.run_digits(cfg, seed=3), study.run_digits(cfg, seed=3)
    assert np.array_equal(
        first.quantized[(2, "relu")]["train_loss"], second.quantized[(2, "relu")]["train_loss"]
    )
    assert first.quantized[(1, "identity")]["train_loss"].shape == (1, 2)
    # phase 1 starts from the pre-trained weights: same start for every STE; phase 2 from phase 1's
    # end point
    starts = {first.quantized[(2, ste)]["train_loss"][0, 0] for ste in S.STES}
    assert len(starts) == 1
    for ste in S.STES:
        assert first.repelled[(2, "clipped_relu", ste, "small")]["train_loss"][
            0, 0
        ] == pytest.approx(first.quantized[(2, "clipped_relu")]["train_loss"][0, -1], rel=1e-6)
    result = study.SteResult(cfg, *[None] * 11, digits=first)
    assert set(study.digits_table(result).index) == {(b, ste) for b in cfg.bits for ste in S.STES}
    assert len(study.repelled_table(result)) == len(cfg.bits) * 2 * 2
    claims = digits_claims(result)
    check_provenance("ste", claims)
    assert {c.name: c.source for c in claims} == {
        "digits_loss_ranking": "paper",
        "repelled": "paper",
        "binarized_loss_ranking": "ours",
    }


def fake_digits(losses: dict[tuple[int, str], list[float]]) -> DigitsResult:
    """A DigitsResult whose quantized runs end at the given per-seed training losses."""
    quantized = {
        key: {
            "train_loss": np.array([[1.0, x] for x in values]),
            "train_accuracy": np.ones((len(values), 2)),
            "test_accuracy": np.ones((len(values), 2)),
        }
        for key, values in losses.items()
    }
    return DigitsResult([0, 1, 2], {}, quantized, {})


def test_loss_margin_takes_medians_and_the_worst_bit_width():
    losses = {
        (2, "identity"): [0.30, 0.20, 0.10],
        (2, "relu"): [0.05, 0.50, 0.06],
        (2, "clipped_relu"): [0.08, 0.07, 0.09],
        (4, "identity"): [0.04, 0.05, 0.06],
        (4, "relu"): [0.01, 0.02, 0.90],
        (4, "clipped_relu"): [0.07, 0.07, 0.07],
    }
    result = study.SteResult(
        study.config("quick", bits=[2, 4]), *[None] * 11, digits=fake_digits(losses)
    )
    # medians: 2 bits: identity 0.20, relu 0.06, clipped 0.08 → +0.14; 4 bits: 0.05, 0.02, 0.07 →
    # +0.03
    assert loss_margin(result, [2, 4]) == pytest.approx(0.03)
    assert loss_margin(result, [2]) == pytest.approx(0.14)
    assert np.isnan(loss_margin(result, []))


def test_repelled_share_counts_identity_above_clipped_relu():
    repelled = {}
    for ste, finals in (
        ("identity", [0.5, 0.1, 0.3]),
        ("clipped_relu", [0.2, 0.2, 0.2]),
        ("relu", [0.0, 0.0, 0.0]),
    ):
        repelled[(2, "clipped_relu", ste, "training")] = {
            "train_loss": np.array([[0.25, x] for x in finals])
        }
    result = study.SteResult(
        study.config("quick", bits=[2]),
        *[None] * 11,
        digits=DigitsResult([0, 1, 2], {}, {}, repelled),
    )
    assert list(repelled_cases(result, "training")) == [True, False, True]
    assert repelled_share(result, "training") == pytest.approx(2 / 3)
    assert np.allclose(repelled_rises(result, "training"), [2.0, 0.4, 1.2])


@pytest.mark.parametrize("m", [5, 10])
def test_teacher_odds_match_sampling(m: int) -> None:
    # ρ = (1ᵀv*)²/‖v*‖² of Gaussian draws: the Beta law's probabilities against sampled frequencies
    v = np.random.default_rng(m).standard_normal((200_000, m))
    rho = v.sum(axis=1) ** 2 / np.sum(v**2, axis=1)
    violation, kept = teacher_odds(m)
    low, fraction = TEACHER_BALANCE
    assert np.mean(rho >= (m + 1) / 2) == pytest.approx(violation, abs=3e-3)
    admissible = (rho >= low) & (rho <= fraction * (m + 1) / 2)
    assert np.mean(admissible) == pytest.approx(kept, abs=5e-3)
    assert admissible[:200].tolist() == [admissible_teacher(row) for row in v[:200]]
