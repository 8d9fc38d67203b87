"""Tests of the plateaus study: configuration, bookkeeping helpers, exact checks, and the claims at
quick."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from trainingdynamics.diagnostics.activation import active_intervals
from trainingdynamics.models.shallow import GDTrajectory, Params, gradient_descent, make_data
from trainingdynamics.profiles import ParameterError
from trainingdynamics.studies import plateaus as study
from trainingdynamics.studies.plateaus.analysis import (
    change_ratio,
    constant_pattern_plateaus,
    drops_after_change,
    flips,
    largest_sweep,
    non_interval_sets,
    rate_per_decade,
    run_view,
    swept_points,
)
from trainingdynamics.studies.plateaus.claims import plateau_level_reason
from trainingdynamics.studies.plateaus.experiment import (
    Experiment,
    main_experiment,
    sweep_experiments,
)
from trainingdynamics.studies.plateaus.stationary import polish, polished_summary

CLAIM_NAMES = [
    "prefix_suffix",
    "autograd",
    "lower_bound",
    "stationary_runs",
    "stationary_sums",
    "local_lines",
    "change_ratio",
    "kept_plateaus",
    "plateau_level",
]
CLAIM_SOURCES = {
    "prefix_suffix": "exact",
    "autograd": "exact",
    "lower_bound": "exact",
    "stationary_runs": "ours",
    "stationary_sums": "paper",
    "local_lines": "paper",
    "change_ratio": "paper",
    "kept_plateaus": "ours",
    "plateau_level": "ours",
}


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
    polished = polish(kept_pattern_experiment(), 5000, 50)
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
        polish(experiment, 5000, 50, rounds=1),
    ).iloc[0]
    assert row["loss after"] - row["L_A"] <= 1e-12 * row["L_A"]  # at L_A of the frozen problem...
    assert (
        not row["pattern kept"] and not row["converged"]
    )  # ...yet it left the pattern, so it does not count


def test_polishing_flags_runs_that_did_not_converge():
    summary = polished_summary(
        study.config("quick", targets=["abs"], seeds=1),
        polish(kept_pattern_experiment(), 3, 2),
    )
    row = summary.iloc[0]
    assert (
        not row["converged"] and row["loss after"] - row["L_A"] > 1e-3 * row["L_A"]
    )  # 3 steps do not reach L_A
    assert row["sum r"] > 1e-6


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


def test_plateau_level_uses_plateaus_whose_kinks_move_by_at_most_one_point():
    plateaus = pd.DataFrame(
        {
            "stop": [500, 800, 1000, 1000],
            "max sweep": [1, 0, 1, 3],
            "flips": [3, 0, 4000, 9],
            "gap": [0.5, 0.3, 1e-4, 0.9],
        },
    )
    kept = study.kept_pattern_plateaus(plateaus)
    assert kept.index.tolist() == [
        0,
        1,
        2,
    ]  # chattering (max sweep 1) is allowed, a sweep of 3 points is not
    assert constant_pattern_plateaus(plateaus).index.tolist() == [1]
    reason = plateau_level_reason(plateaus, last_step=1000)
    assert "2 of the 3 kept-pattern plateaus end more than 2% above L_A" in reason
    assert "the 2 ending before the last step end 30% to 50% above L_A" in reason
    assert "the 1 lasting to the last step end 1.0e-04 to 1.0e-04" in reason
    assert "none of the 1 detected plateaus" in plateau_level_reason(plateaus.iloc[3:], 1000)


def test_claim_values_are_finite_even_without_plateaus_or_converged_runs():
    result = study.run(
        tiny_config(steps=30, polish_steps=3, paper_steps=30, targets=["abs"]), seed=0
    )
    claims = {c.name: c for c in study.claims(result)}
    assert all(math.isfinite(c.value) for c in claims.values()), claims
    assert claims["kept_plateaus"].value == 0 and not claims["kept_plateaus"].holds
    assert claims["stationary_runs"].value == 0 and not claims["stationary_runs"].holds
    assert claims["change_ratio"].value == 0.0 and not claims["change_ratio"].holds


def test_drops_after_change_looks_just_before_each_drop():
    steps = np.array([1, 10, 100, 1000])
    counts = np.array([[0], [0], [1], [1]])
    trajectory = fake_trajectory(counts, np.array([0, 0, 1, 1]), steps)
    assert drops_after_change(trajectory, [(100, 1000)], lead_decades=1.0) == 1
    assert drops_after_change(trajectory, [(10, 100)], lead_decades=1.0) == 0


def test_a_second_polishing_round_restarts_only_the_runs_that_left_their_pattern():
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
    one, two = (
        polish(experiment, 3000, 30, rounds=1),
        polish(experiment, 3000, 30, rounds=2),
    )
    assert one.pattern_kept.tolist() == [True, False]
    np.testing.assert_array_equal(
        two.experiment.trajectory.loss[0], one.experiment.trajectory.loss[0]
    )  # untouched
    # the second run restarted from where the first round left it, frozen in the pattern it had
    # reached
    np.testing.assert_array_equal(
        two.experiment.trajectory.params.w[1, 0], one.experiment.trajectory.final.w[1]
    )
    lo, hi = active_intervals(
        x, one.experiment.trajectory.final.w[1], one.experiment.trajectory.final.b[1]
    )
    assert (two.lo[1].tolist(), two.hi[1].tolist()) == (lo.tolist(), hi.tolist())
    assert two.experiment.trajectory.loss[1, -1] <= one.experiment.trajectory.loss[1, -1]
