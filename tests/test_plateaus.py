"""Tests of the plateaus study: configuration, bookkeeping helpers, exact checks, and the claims at
quick."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from trainingdynamics.diagnostics.activation import Phases, active_intervals
from trainingdynamics.models.shallow import (
    GDTrajectory,
    Params,
    gradient_descent,
    init_params_he,
    make_data,
)
from trainingdynamics.profiles import ParameterError
from trainingdynamics.studies import plateaus as study
from trainingdynamics.studies.plateaus.analysis import (
    change_ratio,
    drops_after_change,
    ends_in_drop,
    flips,
    largest_sweep,
    non_interval_sets,
    path_length,
    plateau_windows,
    rate_per_decade,
    rate_per_motion,
    run_view,
    swept_points,
    windows_with_change,
)
from trainingdynamics.studies.plateaus.experiment import (
    Experiment,
    main_experiment,
    sweep_experiments,
)
from trainingdynamics.studies.plateaus.regimes import regime_experiments, regime_map
from trainingdynamics.studies.plateaus.stationary import linearised_gap, polish, polished_summary

CLAIM_SOURCES = {
    "prefix_suffix": "exact",
    "autograd": "exact",
    "lower_bound": "exact",
    "stationary_runs": "ours",
    "stationary_sums": "paper",
    "local_lines": "paper",
    "local_rate": "ours",
    "change_ratio": "paper",
    "change_per_motion": "paper",
    "exit_test": "paper",
    "above_level": "ours",
}
CLAIM_NAMES = list(CLAIM_SOURCES)
RNG = np.random.default_rng(0)


def tiny_config(**overrides) -> study.Config:
    """A config that runs in a second or two: short runs, two seeds, a small paper example."""
    knobs = dict(
        steps=3000,
        seeds=2,
        c1_seeds=3,
        records=120,
        polish_steps=2000,
        paper_width=10,
        paper_points=20,
        paper_steps=500,
    )
    return study.config("quick", **(knobs | overrides))


def fake_trajectory(counts: np.ndarray, changes: np.ndarray, steps: np.ndarray) -> GDTrajectory:
    zeros = np.zeros(counts.shape)
    return GDTrajectory(
        steps,
        np.ones(len(steps)),
        np.ones(len(steps)),
        changes,
        counts,
        Params(zeros, zeros, zeros),
        Params(zeros[0], zeros[0], zeros[0]),
    )


def test_profiles_and_overrides():
    assert study.config("quick").seeds < study.config("full").seeds
    assert study.config("quick", width=5, targets=["abs"]).targets == ("abs",)
    with pytest.raises(ParameterError):
        study.config("quick", targets=["cosine"])
    with pytest.raises(ParameterError):
        study.config("quick", lr=-1.0)
    with pytest.raises(ParameterError):
        study.config("quick", n_points=2)
    with pytest.raises(ParameterError):
        study.config("quick", c1_seeds=0)
    with pytest.raises(ParameterError):
        study.run(tiny_config(), device="tpu")


def test_device_auto_is_accepted_and_changes_nothing():
    cfg = tiny_config(steps=200, polish_steps=10, paper_steps=50, targets=["abs"])
    auto, cpu = study.run(cfg, seed=1, device="auto"), study.run(cfg, seed=1, device="cpu")
    np.testing.assert_array_equal(
        auto.main.trajectory.loss, cpu.main.trajectory.loss
    )  # numpy on the CPU either way


def test_sweep_streams_are_named_and_the_regime_gets_its_own_seed_count():
    cfg = tiny_config(steps=20, sweep_widths=(8, 20), sweep_scales=(0.1, 1.0), c1_seeds=5)
    sweep = sweep_experiments(cfg, 0)
    assert sorted(sweep) == [(8, 1.0), (20, 0.1), (20, 1.0)]
    assert (
        sweep[20, 0.1].trajectory.loss.shape[0] == 5
        and sweep[20, 1.0].trajectory.loss.shape[0] == cfg.seeds
    )
    # the two width-20 settings draw from different streams (the old seed + 7919·width + 10⁴·scale
    # arithmetic is gone)
    first = lambda e: e.trajectory.params.w[..., 0, :]  # noqa: E731
    assert not np.allclose(first(sweep[20, 0.1])[: cfg.seeds], first(sweep[20, 1.0]))
    np.testing.assert_array_equal(first(sweep_experiments(cfg, 0)[20, 0.1]), first(sweep[20, 0.1]))


def test_swept_points_counts_chattering_once_and_sweeps_fully():
    steps = np.arange(6)
    # neuron 0 chatters between 5 and 6, neuron 1 sweeps from 10 to 14
    counts = np.array([[5, 10], [6, 11], [5, 12], [6, 13], [5, 14], [6, 14]])
    changes = np.array([0, 2, 4, 6, 8, 9])
    trajectory = fake_trajectory(counts, changes, steps)
    assert swept_points(trajectory, 0, 5) == 1 + 4
    assert flips(trajectory, 0, 5) == 9
    assert swept_points(trajectory, 4, 5) == 1
    assert largest_sweep(trajectory, 0, 5) == 4  # the sweeping kink
    assert largest_sweep(trajectory, 4, 5) == 1  # only chattering left
    assert largest_sweep(fake_trajectory(counts[:, :1], changes, steps), 0, 5) == 1


def test_rate_per_decade_and_change_ratio():
    steps = np.array([1, 10, 100, 1000])
    counts = np.array([[0], [0], [3], [3]])
    trajectory = fake_trajectory(counts, np.array([0, 0, 3, 3]), steps)
    assert rate_per_decade(swept_points, trajectory, [(1, 10), (100, 1000)]) == 0.0
    assert rate_per_decade(swept_points, trajectory, [(10, 100)]) == 3.0
    assert math.isnan(rate_per_decade(swept_points, trajectory, []))
    assert change_ratio(3.0, 0.0) == math.inf
    assert change_ratio(3.0, 1.5) == 2.0
    assert math.isnan(change_ratio(float("nan"), 1.0))


def test_main_experiment_is_seeded_and_batched():
    cfg = tiny_config(steps=50)
    first, second = main_experiment(cfg, 3), main_experiment(cfg, 3)
    assert first.trajectory.loss.shape[:-1] == (len(cfg.targets), cfg.seeds)
    np.testing.assert_array_equal(first.trajectory.loss, second.trajectory.loss)
    assert not np.array_equal(first.trajectory.loss, main_experiment(cfg, 4).trajectory.loss)
    x, y, run = run_view(first, (1, 0))
    np.testing.assert_array_equal(y, make_data(cfg.targets[1], cfg.n_points)[1])
    assert run.loss.shape == first.trajectory.steps.shape


def test_non_interval_sets_detects_a_non_interval():
    x, y = make_data("abs", 9)
    experiment = main_experiment(tiny_config(steps=10, targets=["abs"]), 0)
    assert non_interval_sets(experiment) == 0
    # a hand-made "active set" that is not an interval: flip the sign of x for one record
    broken = Experiment(-(x[::-1] ** 2) + 0.5, y, 0.0, experiment.trajectory, 1.0)
    assert non_interval_sets(broken) > 0


def kept_pattern_experiment() -> Experiment:
    """Two neurons with kinks in the data gap around 0 (suffix and prefix) on y = |x| + 0.05x²: the
    frozen-pattern
    optimum (the least-squares line of y on each half) has its kinks at ±0.008, inside the same gap
    (±0.026),
    so polishing keeps the pattern and ends at a stationary point of L with L_A ≈ 8e-6 > 0."""
    x, _ = make_data("abs", 40)
    y = np.abs(x) + 0.05 * x**2
    start = Params(np.array([[0.8, 1.1]]), np.array([[1.0, -1.0]]), np.array([[0.001, 0.001]]))
    return Experiment(x, y, 0.01, gradient_descent(x, y, start, 0.01, 0, np.array([0])), 1.0)


def test_polishing_converges_to_the_pattern_least_squares_solution():
    polished = polish(kept_pattern_experiment(), 5000, 50, RNG)
    summary = polished_summary(study.config("quick", targets=["abs"], seeds=1), polished)
    row = summary.iloc[0]
    assert row["converged"] and row["pattern kept"]
    assert row["L_A"] > 1e-6
    assert max(row["sum r"], row["sum r x"]) < 1e-9
    assert row["line gap"] < 1e-7
    assert row["loss after"] >= row["L_A"] * (1 - 1e-12)  # L_A is a lower bound


def test_converged_requires_the_polished_point_to_keep_its_pattern():
    # two neurons with kinks at -0.21 and 0.33 on the piecewise target: GD inside the frozen pattern
    # reaches
    # L_A, but its optimum has the kinks at 0.55 and 0.44, outside the frozen pattern: not a
    # stationary point of L
    x, y = make_data("piecewise", 40)
    start = Params(np.array([[0.5, -0.4]]), np.array([[1.0, -1.0]]), np.array([[0.21, 0.33]]))
    experiment = Experiment(x, y, 0.01, gradient_descent(x, y, start, 0.01, 0, np.array([0])), 1.0)
    row = polished_summary(
        study.config("quick", targets=["piecewise"], seeds=1),
        polish(experiment, 5000, 50, RNG, rounds=1),
    ).iloc[0]
    assert row["loss after"] - row["L_A"] <= 1e-12 * row["L_A"]  # at L_A of the frozen problem...
    assert (
        not row["pattern kept"] and not row["converged"]
    )  # ...yet it left the pattern, so it does not count


def test_gauss_newton_finishes_what_three_gd_steps_leave():
    polished = polish(kept_pattern_experiment(), 3, 2, RNG)
    row = polished_summary(study.config("quick", targets=["abs"], seeds=1), polished).iloc[0]
    # GD alone is far from L_A after 3 steps; the Gauss–Newton steps reach it
    assert polished.experiment.trajectory.loss[0, -1] - row["L_A"] > 1e-3 * row["L_A"]
    assert row["converged"] and max(row["sum r"], row["sum r x"]) < 1e-9


def test_tiny_run_produces_all_claims_and_exact_ones_hold():
    result = study.run(tiny_config(), seed=0)
    claims = {c.name: c for c in study.claims(result)}
    assert list(claims) == CLAIM_NAMES
    assert {name: c.source for name, c in claims.items()} == CLAIM_SOURCES
    assert all(c.reference and c.reason for c in claims.values())
    for name in ("prefix_suffix", "autograd", "lower_bound"):
        assert claims[name].holds, claims[name]
    assert (
        isinstance(result.runs, pd.DataFrame)
        and len(result.runs) == len(result.cfg.targets) * result.cfg.seeds
    )
    assert {"rate ratio", "swept/decade on plateaus", "flips/decade on drops"} <= set(
        result.runs.columns
    )


def test_claim_values_are_finite_even_without_plateaus_or_converged_runs():
    result = study.run(
        tiny_config(steps=30, polish_steps=3, paper_steps=30, targets=["abs"]), seed=0
    )
    claims = {c.name: c for c in study.claims(result)}
    # a statistic that cannot be measured is NaN, which fails (CONTRIBUTING: "not measured")
    assert all(math.isfinite(c.value) or not c.holds for c in claims.values()), claims
    assert claims["stationary_runs"].value == 0 and not claims["stationary_runs"].holds
    assert math.isnan(claims["change_ratio"].value) and not claims["change_ratio"].holds


def test_drops_after_change_looks_just_before_each_drop():
    steps = np.array([1, 10, 100, 1000])
    counts = np.array([[0], [0], [1], [1]])
    trajectory = fake_trajectory(counts, np.array([0, 0, 1, 1]), steps)
    assert drops_after_change(trajectory, [(100, 1000)], lead_decades=1.0) == 1
    assert drops_after_change(trajectory, [(10, 100)], lead_decades=1.0) == 0


def test_a_second_polishing_round_refreezes_only_the_runs_that_left_their_pattern():
    # batch of two: the kept-pattern network and the piecewise pair whose frozen optimum leaves its
    # pattern
    kept = kept_pattern_experiment()
    x, y = kept.x, kept.y
    start = Params(
        np.array([[0.8, 1.1], [0.5, -0.4]]),
        np.array([[1.0, -1.0], [1.0, -1.0]]),
        np.array([[0.001, 0.001], [0.21, 0.33]]),
    )
    experiment = Experiment(x, y, 0.01, gradient_descent(x, y, start, 0.01, 0, np.array([0])), 1.0)
    one = polish(experiment, 3000, 30, np.random.default_rng(1), rounds=1)
    two = polish(experiment, 3000, 30, np.random.default_rng(1), rounds=2)
    assert one.pattern_kept.tolist() == [True, False] and two.rounds.tolist() == [1, 2]
    np.testing.assert_array_equal(two.point.w[0], one.point.w[0])  # untouched
    # the second run is frozen in the pattern the first round's point reached
    lo, hi = active_intervals(x, one.point.w[1], one.point.b[1])
    assert (two.lo[1].tolist(), two.hi[1].tolist()) == (lo.tolist(), hi.tolist())


def moving_trajectory(counts: np.ndarray, speed: np.ndarray, steps: np.ndarray) -> GDTrajectory:
    """One neuron whose c moves by ``speed[k]`` between records k − 1 and k (w = b = 0)."""
    c = np.concatenate([[0.0], np.cumsum(speed[1:])])[:, None]
    trajectory = fake_trajectory(counts, np.zeros(len(steps)), steps)
    zeros = np.zeros_like(c)
    return GDTrajectory(
        steps,
        trajectory.loss,
        trajectory.grad_norm,
        trajectory.changes,
        counts,
        Params(c, zeros, zeros),
        Params(c[-1], zeros[-1], zeros[-1]),
    )


def test_control_separates_slow_from_frozen():
    steps = 10 ** np.arange(7)
    # "plateau" on records 0–3 (steps 1–1000), "drop" on 3–6 (1000–1e6); counts change once per
    # unit of motion everywhere, but the drop moves 10× as far: 10× more changes per decade
    plateau, drop = [(1, 1000)], [(1000, 10**6)]
    speed = np.array([0, 1, 1, 1, 10, 10, 10])
    counts = np.concatenate([[0], np.cumsum(speed[1:])])[:, None]
    slow = moving_trajectory(counts, speed, steps)
    assert path_length(slow, 1, 1000) == 3.0 and path_length(slow, 1000, 10**6) == 30.0
    per_decade = [rate_per_decade(swept_points, slow, p) for p in (plateau, drop)]
    per_motion = [rate_per_motion(swept_points, slow, p) for p in (plateau, drop)]
    assert per_decade == [1.0, 10.0] and per_motion == [1.0, 1.0]  # slow, not frozen
    # the same motion with a frozen plateau pattern: infinitely many more changes per unit motion
    frozen = moving_trajectory(np.where(steps <= 1000, 0, counts[:, 0] - 3)[:, None], speed, steps)
    assert rate_per_motion(swept_points, frozen, plateau) == 0.0
    assert change_ratio(rate_per_motion(swept_points, frozen, drop), 0.0) == math.inf
    assert math.isnan(
        rate_per_motion(swept_points, fake_trajectory(counts, counts[:, 0], steps), plateau)
    )


def test_exit_test_on_a_hand_built_event_sequence():
    steps = np.unique(np.round(np.logspace(0, 4, 161)).astype(int))
    # one kink sweeps one point at step 300 (inside the plateau 10–1000) and one at 2500 (just
    # before the drop beginning at 3000)
    counts = ((steps >= 300).astype(int) + (steps >= 2500))[:, None]
    trajectory = fake_trajectory(counts, counts[:, 0], steps)
    windows = plateau_windows([(10, 1000)], lead_decades=0.25, positions=8)
    assert len(windows) == 8 and all(10 <= a < z <= 1000 for a, z in windows)
    ends = np.log10([z for _, z in windows])
    np.testing.assert_allclose(np.diff(ends), (2 - 0.25) / 8)  # evenly spaced in log-steps
    # a window sees the change at 300 when it ends at or after 300 and starts before it
    expected = sum(a < 300 <= z for a, z in windows)
    assert windows_with_change(trajectory, windows) == expected and 0 < expected < 8
    assert drops_after_change(trajectory, [(3000, 10**4)]) == 1
    assert drops_after_change(trajectory, [(2000, 10**4)]) == 0  # nothing in 1125–2000
    assert plateau_windows([(10, 15)]) == []  # shorter than a window
    phases = Phases(plateaus=[(10, 1000), (4000, 6000)], drops=[(3000, 3500)])
    assert ends_in_drop(1000, phases) and not ends_in_drop(6000, phases)


def test_linearised_gap_matches_linear_gd_on_a_quadratic():
    rng = np.random.default_rng(3)
    basis = np.linalg.qr(rng.standard_normal((5, 5)))[0]
    hessian = basis @ np.diag([0.0, 1e-3, 0.1, 1.0, 3.0]) @ basis.T
    kick, lr, delta = rng.standard_normal(5), 0.3, []
    current = kick.copy()
    for _ in range(50):
        delta.append(0.5 * current @ hessian @ current)
        current = current - lr * hessian @ current
    predicted = linearised_gap(hessian, kick, lr, np.arange(50))
    np.testing.assert_allclose(predicted, delta, rtol=1e-12, atol=1e-15)


def test_regime_map_runs_one_batch_per_setting_and_marks_divergence():
    cfg = tiny_config(map_widths=(4,), map_points=(10, 200), map_seeds=2, map_steps=200, lr=0.05)
    experiments = regime_experiments(cfg, 0)
    assert set(experiments) == {(4, m, loss) for m in (10, 200) for loss in ("mean", "sum")}
    # the sum with step η is the mean with step η·m: 0.05 · 200 = 10 diverges
    assert experiments[4, 200, "sum"] is None and experiments[4, 200, "mean"] is not None
    batch = experiments[4, 10, "mean"].trajectory.loss.shape[:-1]
    assert batch == (len(cfg.map_scales) * len(cfg.map_inits) * cfg.map_seeds,)
    table = regime_map(cfg, experiments)
    assert len(table) == 4 * len(cfg.map_scales) * len(cfg.map_inits)
    assert table.loc[table["diverged"], "points"].eq(200).all()
    assert table.loc[~table["diverged"], "runs"].eq(cfg.map_seeds).all()


def test_he_initialisation_puts_every_kink_at_zero():
    p = init_params_he(np.random.default_rng(0), 1000, (), 0.5)
    assert (
        np.all(p.b == 0) and abs(np.var(p.w) - 2) < 0.2 and abs(np.var(p.c) * 1000 / 0.25 - 1) < 0.2
    )
