"""The break-even study: configuration, per-run summaries, Eq. 1 along a run, and the claims."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from trainingdynamics.models.digits import cnn
from trainingdynamics.profiles import ParameterError
from trainingdynamics.seeding import child_seed
from trainingdynamics.studies import break_even as study
from trainingdynamics.studies.break_even import summaries as S
from trainingdynamics.studies.break_even.analysis import edge_band_count, rank_correlation
from trainingdynamics.studies.break_even.edge import EdgeOfStability
from trainingdynamics.studies.break_even.experiment import BreakEvenResult, exactness_error
from trainingdynamics.studies.break_even.problem import load_data, make_cnn, squared_loss
from trainingdynamics.studies.break_even.sgd import SGDRun, sgd_trajectory


def trajectory(
    lr: float,
    batch_size: int,
    seed: int,
    hessian: list[float],
    covariance: list[float],
    kth: list[float],
    *,
    variance: list[float] | None = None,
    accuracy: list[float] | None = None,
    trace: list[float] | None = None,
) -> SGDRun:
    """A hand-made run with the given λ_H^1, λ_K^1, λ_K^k (and s², accuracy, Tr K) series;
    Tr H = 10 λ_H^1, Tr K = 1 unless given."""
    n = len(hessian)
    ones = np.ones(n)
    return SGDRun(
        lr=lr, batch_size=batch_size, batch_norm=False, replicate=seed, n_train=1000,
        target_accuracy=0.95, budget=2, steps=np.arange(n) * 10,
        accuracy=np.linspace(0.1, 0.95, n) if accuracy is None else np.array(accuracy, float),
        hessian_top=np.array(hessian, float), covariance_top=np.array(covariance, float),
        covariance_kth=np.array(kth, float),
        covariance_trace=ones if trace is None else np.array(trace, float),
        hessian_trace=10 * np.array(hessian, float),
        hessian_trace_se=0.1 * ones, curvature_mean=np.array(hessian, float),
        curvature_variance=np.zeros(n) if variance is None else np.array(variance, float),
        minibatch_top=ones, minibatch_trace=ones, n_hvp=ones, train_seconds=1.0,
        measure_seconds=1.0,
    )  # fmt: skip


def test_profiles_validate_and_accept_overrides():
    assert study.config("quick", seeds=2).seeds == 2
    assert study.config("full").seeds >= 3
    full = study.config("full").learning_rates
    assert len(full) >= 4 and np.log10(max(full) / min(full)) >= 1.5 - 1e-3
    with pytest.raises(ParameterError):
        study.config("quick", learning_rates=[0.1])
    with pytest.raises(ParameterError):
        study.config("quick", target_accuracy=1.5)
    with pytest.raises(ParameterError):
        study.config("quick", condition_k=500)
    with pytest.raises(ParameterError):
        study.config("quick", hessian_examples=5000)
    for bad in (
        dict(condition_k=1),
        dict(condition_k=128),
        dict(channels=(2, 2, 2, 2)),
        dict(batch_sizes=(8, 2000)),
        dict(eos_every=400),
        dict(tol=0.5),
    ):
        with pytest.raises(ParameterError):
            study.config("quick", **bad)


def test_conditioning_is_taken_from_the_sharpness_peak_up_to_the_target():
    t = trajectory(
        0.1, 32, 0, hessian=[1, 5, 9, 7, 8], covariance=[1, 2, 2, 2, 2],
        kth=[0.9, 0.1, 0.2, 0.6, 0.4], accuracy=[0.1, 0.5, 0.9, 0.96, 0.97],
    )  # fmt: skip
    assert S.matched_peak_index(t) == 2 and t.reached_at == 3
    assert S.conditioning_after_break_even(t) == pytest.approx(0.3)  # not 0.9 at t = 0, nor 0.2
    assert S.hessian_peak(t) == 9 and S.trace_ratio_after_peak(t) == pytest.approx(0.5)
    still_rising = trajectory(
        0.01, 32, 0, hessian=[1, 2, 3], covariance=[1, 1, 2], kth=[0.5, 0.5, 0.2]
    )
    assert S.matched_peak_index(still_rising) == 2
    assert S.conditioning_after_break_even(still_rising) == pytest.approx(0.1)


def test_the_break_even_point_is_where_eq1_first_reaches_one():
    # (1 − 0.2 λ)² = 0.64, 0, 1.0, 0.16, 0.36: the noiseless crossing is at λ = 10 = 2/η
    t = trajectory(0.2, 10, 0, hessian=[1, 5, 10, 7, 8], covariance=[1] * 5, kth=[1] * 5)
    assert t.break_even == 2 and t.after == slice(2, 5)
    factor = (1000 - 10) / (10 * 999)
    noisy = dataclasses.replace(t, curvature_variance=np.array([0, 1 / (0.04 * factor), 0, 0, 0]))
    assert noisy.stability[1] == pytest.approx(1.0) and noisy.break_even == 1
    never = trajectory(0.1, 10, 0, hessian=[1, 5, 15, 12], covariance=[1] * 4, kth=[1] * 4)
    assert never.break_even is None and never.after is None
    assert S.max_stability(never) == pytest.approx(0.25)  # (1 − 1.5)², on the rising branch
    assert S.predicted_over_edge(never) == pytest.approx(1.0)  # s² = 0: Eq. 1's point is 2/η


def test_the_early_correlation_is_pearson_r_up_to_the_sharpness_peak():
    t = trajectory(0.1, 32, 0, hessian=[1, 2, 4, 8, 3], covariance=[2, 4, 8, 16, 1], kth=[1] * 5)
    assert S.early_correlation(t) == pytest.approx(1.0)  # λ_K = 2 λ_H up to the peak
    assert np.isnan(S.early_correlation(trajectory(0.1, 32, 0, [2, 1], [1, 1], [1, 1])))


def make_result(peaks_by_seed: dict[int, list[float]], cfg: study.Config) -> BreakEvenResult:
    """A result whose lr-grid runs have the given λ_H^1 peaks (one list per seed, in lr order)."""
    runs = {}
    for seed, peaks in peaks_by_seed.items():
        for lr, p in zip(cfg.learning_rates, peaks, strict=True):
            runs[(lr, cfg.batch_size, False, seed)] = trajectory(
                lr, cfg.batch_size, seed, [1, p, 1], [1, 1, 1], [1, 1, 1]
            )
    return BreakEvenResult(cfg, tuple(peaks_by_seed), runs, [], 0.0)


def test_rank_correlation_is_the_median_over_seeds():
    cfg = study.config("quick")
    result = make_result({0: [4, 3, 2, 1], 1: [4, 3, 1, 2], 2: [1, 2, 3, 4]}, cfg)
    # per seed ρ = −1, −0.8, +1: the median is −0.8
    assert rank_correlation(result, S.hessian_peak, grid="lr") == pytest.approx(-0.8)
    one_swap = make_result({0: [1, 2, 4, 3]}, cfg)
    assert rank_correlation(one_swap, S.hessian_peak, grid="lr") == 0.8  # exactly, so ≥ 0.8 holds
    constant = make_result({0: [2, 2, 2, 2]}, cfg)
    assert rank_correlation(constant, S.hessian_peak, grid="lr") == 0.0  # no ordering, not NaN


def synthetic_result(plain_correlated: bool = False) -> BreakEvenResult:
    """A quick-profile result from hand-made runs: peaks and conditioning ordered as the paper
    conjectures, every plain run levelling off below 2/η (no break-even point), and λ_K^1 either
    proportional to λ_H^1 before the peak or not.
    """
    cfg = study.config("quick")
    runs = {}
    for i, lr in enumerate(cfg.learning_rates):  # peaks fall and conditioning rises with η
        peak = 0.9 / lr  # below 2/η: (1 − 0.9)² < 1, no break-even point
        hessian = np.array([1, peak / 2, peak, peak])
        top = 10 / (i + 1) ** 2  # λ_K^1's peak, falling faster than Tr K/λ_K^1 rises
        lk = 0.1 * hessian if plain_correlated else np.array([0.1, 1, 1, 1]) * top
        ratio = np.array([1.5, 1.5, 2 + i, 2 + i])  # Tr K/λ_K^1, rising with η after the peak
        runs[(lr, cfg.batch_size, False, 0)] = trajectory(
            lr, cfg.batch_size, 0, list(hessian), list(lk), list(0.1 * (i + 1) * lk),
            accuracy=[0.1, 0.5, 0.96, 0.97], trace=list(ratio * lk),
        )  # fmt: skip
    for b, peak in zip(cfg.batch_sizes, (0.1, 9, 20), strict=True):  # λ_K^1 peak rises with B
        runs.setdefault(
            (cfg.batch_lr, b, False, 0),
            trajectory(cfg.batch_lr, b, 0, [1, 5, 1], [1, peak, 1], [0.5, 0.5, 0.5]),
        )
    for i, lr in enumerate(cfg.bn_learning_rates):
        t = trajectory(lr, cfg.batch_size, 0, [1, 5, 1], [1, 5 - i, 1], [0.5, 0.5, 0.5])
        t = dataclasses.replace(
            t, batch_norm=True, minibatch_top=np.array([1.0, 5 - i, 1]),
            covariance_trace=np.array([1.0, 1 + i, 3 + i]),
            minibatch_trace=np.array([1.0, 1 + i, 1 + i]),
        )  # fmt: skip
        runs[(lr, cfg.batch_size, True, 0)] = t
    steps = np.arange(0, 100, 10)
    edge = [
        EdgeOfStability(lr, steps, np.full(10, 2 / lr), np.ones(100))
        for lr in cfg.eos_learning_rates
    ]
    return BreakEvenResult(cfg, (0,), runs, edge, 1e-15)


def test_claims_say_where_they_come_from_and_the_known_failures_are_generated():
    from trainingdynamics.claims import check_provenance

    claims = {c.name: c for c in study.claims(synthetic_result())}
    check_provenance("break_even", list(claims.values()))
    sources = {name: c.source for name, c in claims.items()}
    assert sources.pop("exact_spectra") == "exact" and sources.pop("all_reached_target") == "ours"
    assert set(sources.values()) == {"paper"}
    failing = {"break_even_reached", "early_correlation"}
    assert {n for n, c in claims.items() if c.verdict not in ("exact", "holds", "reproduced")} == (
        failing
    )
    reached = claims["break_even_reached"]
    assert reached.verdict == "not reproduced" and reached.value == 0.0
    assert "only η = none reached it" in reached.known_failure
    assert "0.45 at η = 0.1" in reached.known_failure  # the run's sharpness peak, in units of 2/η
    correlated = {c.name: c for c in study.claims(synthetic_result(plain_correlated=True))}
    # strict-xfail: the day it holds, the chapter fails and the text gets updated
    assert correlated["early_correlation"].verdict == "unexpectedly holds"


def test_the_batch_norm_comparison_is_at_ten_times_the_smallest_batch_norm_rate():
    result = synthetic_result()
    claim = {c.name: c for c in study.claims(result)}["bn_low_lr_vs_plain"]
    bn = result.runs[(0.01, 32, True, 0)]
    plain = result.runs[(0.1, 32, False, 0)]
    assert claim.value == pytest.approx(
        S.trace_ratio_after_peak(bn) / S.trace_ratio_after_peak(plain)
    )


def test_edge_band_counts_only_runs_that_stay_in_the_band():
    steps = np.arange(0, 100, 10)
    inside = EdgeOfStability(0.5, steps, np.r_[np.linspace(1, 4, 5), np.full(5, 4.2)], np.ones(100))
    one_excursion = EdgeOfStability(
        1.0, steps, np.r_[np.full(5, 1.0), [2.0, 2.0, 2.6, 2.0, 2.0]], np.ones(100)
    )
    below = EdgeOfStability(0.25, steps, np.full(10, 3.0), np.ones(100))
    unmeasured = EdgeOfStability(
        0.5, np.array([0, 10]), np.array([4.0, 4.0]), np.ones(100)
    )  # nothing in the last half
    diverged = EdgeOfStability(0.5, steps, inside.sharpness, np.ones(100), diverged_at=100)
    result = BreakEvenResult(
        study.config("quick"), (0,), {}, [inside, one_excursion, below, unmeasured, diverged], 0.0
    )
    assert edge_band_count(result) == 1


def test_plain_cnn_starts_from_scaled_weights_and_batch_norm_cnn_from_the_default():
    cfg = study.config("quick", init_scale=0.25)
    plain, default = (
        make_cnn(cfg, batch_norm=False, seed=3),
        make_cnn(study.config("quick", init_scale=1.0), batch_norm=False, seed=3),
    )
    torch.testing.assert_close(plain[0].weight, 0.25 * default[0].weight)
    torch.testing.assert_close(plain[0].bias, default[0].bias)
    bn = make_cnn(cfg, batch_norm=True, seed=3)
    torch.manual_seed(child_seed(3, "init", 0))
    reference = cnn(cfg.channels, batch_norm=True)
    torch.testing.assert_close(bn[0].weight, reference[0].weight)
    torch.testing.assert_close(bn[1].weight, cfg.bn_gamma * reference[1].weight)  # γ only
    other = make_cnn(cfg, batch_norm=False, seed=3, replicate=1)
    assert not torch.equal(
        other[0].weight, plain[0].weight
    )  # replicates draw their own init stream
    state = torch.get_rng_state()
    make_cnn(cfg, batch_norm=False, seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # the global torch RNG is left alone


def test_a_run_stops_at_the_target_once_its_measurement_budget_is_spent():
    cfg = study.config(
        "quick", target_accuracy=0.1, n_train=300, hessian_examples=64, covariance_examples=64,
        eos_examples=100, max_measurements=4, after_break_even=1000,
    )  # fmt: skip
    data, targets = load_data(cfg, 0, torch.device("cpu"))
    t = sgd_trajectory(cfg, data, targets, lr=0.1, batch_size=32, batch_norm=False, seed=0)
    assert t.reached and len(t.steps) == max(t.reached_at + 1, 4)
    assert np.all(t.hessian_top > 0) and np.all(t.covariance_kth <= t.covariance_top)
    # the mean curvature along the Ritz vector is its Rayleigh quotient, the Ritz value λ_H^1
    np.testing.assert_allclose(t.curvature_mean, t.hessian_top, rtol=1e-4)
    assert np.all(t.curvature_variance > 0) and np.all(np.isnan(t.minibatch_top))
    assert np.all(t.hessian_trace_se > 0) and np.all(t.hessian_trace > t.hessian_top)


def test_a_batch_norm_run_also_estimates_k_from_train_mode_minibatches():
    cfg = study.config(
        "quick", target_accuracy=0.1, n_train=300, hessian_examples=64, covariance_examples=64,
        eos_examples=100, max_measurements=2, minibatch_count=6,
    )  # fmt: skip
    data, targets = load_data(cfg, 0, torch.device("cpu"))
    t = sgd_trajectory(cfg, data, targets, lr=0.1, batch_size=32, batch_norm=True, seed=0)
    assert np.all(t.minibatch_top > 0) and np.all(t.minibatch_ratio >= 1)
    assert np.all(t.minibatch_ratio <= 5 + 1e-9)  # 6 centred gradients: rank ≤ 5


def test_squared_loss_is_half_the_summed_squared_error_averaged_over_examples():
    outputs, targets = (
        torch.tensor([[1.0, 2.0], [0.0, 0.0]]),
        torch.tensor([[0.0, 0.0], [0.0, 3.0]]),
    )
    assert float(squared_loss(outputs, targets)) == pytest.approx(0.5 * (5.0 + 9.0) / 2)


def test_exactness_check_agrees_with_the_dense_references():
    assert exactness_error(seed=1) < 1e-10


def test_probe_cost_and_share_from_the_recorded_timings():
    t = trajectory(
        0.1, 32, 0, hessian=[1, 2, 3, 4, 5], covariance=[1] * 5, kth=[1] * 5
    )  # steps 0..40, 1 s each
    result = BreakEvenResult(study.config("quick"), (0,), {(0.1, 32, False, 0): t}, [], 0.0)
    assert study.measurement_share(result) == pytest.approx(0.5)
    assert study.probe_cost_in_steps(result) == pytest.approx((1.0 / 5) / (1.0 / 41))
