"""Tests of the plateaus study: configuration, bookkeeping helpers, exact checks, and the claims at quick."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from trainingdynamics.claims import verdict
from trainingdynamics.models.shallow import Params, Trajectory, gradient_descent, make_data
from trainingdynamics.profiles import ParameterError
from trainingdynamics.studies import plateaus as study

CLAIM_NAMES = ["prefix_suffix", "autograd", "lower_bound", "stationary_sums", "local_lines", "change_ratio", "plateau_level"]


def tiny_config(**overrides) -> study.Config:
    """A config that runs in a second or two: short runs, two seeds, a small paper example."""
    knobs = dict(steps=3000, seeds=2, records=120, polish_steps=2000, paper_width=10, paper_points=20, paper_steps=500)
    return study.config("quick", **(knobs | overrides))


def fake_trajectory(counts: np.ndarray, changes: np.ndarray, steps: np.ndarray) -> Trajectory:
    zeros = np.zeros(counts.shape)
    return Trajectory(steps, np.ones(len(steps)), np.ones(len(steps)), changes, counts, Params(zeros, zeros, zeros), Params(zeros[0], zeros[0], zeros[0]))


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
        study.run(tiny_config(), device="cuda")


def test_swept_points_counts_chattering_once_and_sweeps_fully():
    steps = np.arange(6)
    # neuron 0 chatters between 5 and 6, neuron 1 sweeps from 10 to 14
    counts = np.array([[5, 10], [6, 11], [5, 12], [6, 13], [5, 14], [6, 14]])
    changes = np.array([0, 2, 4, 6, 8, 9])
    trajectory = fake_trajectory(counts, changes, steps)
    assert study.swept_points(trajectory, 0, 5) == 1 + 4
    assert study.flips(trajectory, 0, 5) == 9
    assert study.swept_points(trajectory, 4, 5) == 1


def test_rate_per_decade_and_change_ratio():
    steps = np.array([1, 10, 100, 1000])
    counts = np.array([[0], [0], [3], [3]])
    trajectory = fake_trajectory(counts, np.array([0, 0, 3, 3]), steps)
    assert study.rate_per_decade(study.swept_points, trajectory, [(1, 10), (100, 1000)]) == 0.0
    assert study.rate_per_decade(study.swept_points, trajectory, [(10, 100)]) == 3.0
    assert math.isnan(study.rate_per_decade(study.swept_points, trajectory, []))
    assert study.change_ratio(3.0, 0.0) == math.inf
    assert study.change_ratio(3.0, 1.5) == 2.0
    assert math.isnan(study.change_ratio(float("nan"), 1.0))


def test_main_experiment_is_seeded_and_batched():
    cfg = tiny_config(steps=50)
    first, second = study.main_experiment(cfg, 3), study.main_experiment(cfg, 3)
    assert first.trajectory.loss.shape[:-1] == (len(cfg.targets), cfg.seeds)
    np.testing.assert_array_equal(first.trajectory.loss, second.trajectory.loss)
    assert not np.array_equal(first.trajectory.loss, study.main_experiment(cfg, 4).trajectory.loss)
    x, y, run = study.run_view(first, (1, 0))
    np.testing.assert_array_equal(y, make_data(cfg.targets[1], cfg.n_points)[1])
    assert run.loss.shape == first.trajectory.steps.shape


def test_non_interval_sets_detects_a_non_interval():
    x, y = make_data("abs", 9)
    experiment = study.main_experiment(tiny_config(steps=10, targets=["abs"]), 0)
    assert study.non_interval_sets(experiment) == 0
    # a hand-made "active set" that is not an interval: flip the sign of x for one record
    broken = study.Experiment(-x[::-1] ** 2 + 0.5, y, 0.0, experiment.trajectory, 1.0)
    assert study.non_interval_sets(broken) > 0


def test_polishing_converges_to_the_pattern_least_squares_solution():
    # two neurons with well separated kinks: the frozen-pattern problem is well conditioned
    x, y = make_data("piecewise", 40)
    start = Params(np.array([[0.5, -0.4]]), np.array([[1.0, -1.0]]), np.array([[0.21, 0.33]]))
    experiment = study.Experiment(x, y, 0.01, gradient_descent(x, y, start, 0.01, 0, np.array([0])), 1.0)
    polished = study.polish(experiment, 5000, 50)
    summary = study.polished_summary(study.config("quick", targets=["piecewise"], seeds=1), polished)
    row = summary.iloc[0]
    assert row["converged"]
    assert max(row["sum r"], row["sum r x"]) < 1e-9
    assert row["line gap"] < 1e-7
    assert row["loss after"] >= row["L_A"] * (1 - 1e-12)  # L_A is a lower bound


def test_polishing_flags_runs_that_did_not_converge():
    x, y = make_data("piecewise", 40)
    start = Params(np.array([[0.5, -0.4]]), np.array([[1.0, -1.0]]), np.array([[0.21, 0.33]]))
    experiment = study.Experiment(x, y, 0.01, gradient_descent(x, y, start, 0.01, 0, np.array([0])), 1.0)
    summary = study.polished_summary(study.config("quick", targets=["piecewise"], seeds=1), study.polish(experiment, 3, 2))
    assert not summary.iloc[0]["converged"]
    assert summary.iloc[0]["sum r"] > 1e-6


def test_tiny_run_produces_all_claims_and_exact_ones_hold():
    result = study.run(tiny_config(), seed=0)
    claims = {c.name: c for c in study.claims(result)}
    assert list(claims) == CLAIM_NAMES
    for name in ("prefix_suffix", "autograd", "lower_bound"):
        assert claims[name].holds, claims[name]
    assert isinstance(result.runs, pd.DataFrame) and len(result.runs) == len(result.cfg.targets) * result.cfg.seeds
    assert {"rate ratio", "swept/decade on plateaus", "flips/decade on drops"} <= set(result.runs.columns)


@pytest.mark.slow
def test_claims_pass_at_the_quick_profile():
    result = study.run(study.config("quick"), seed=0)
    claims = study.claims(result)
    assert [c.name for c in claims] == CLAIM_NAMES
    verdict("plateaus", claims)  # raises ClaimsFailed unless every claim passes
    assert all(c.holds for c in claims if c.known_failure is None)


def test_plateau_level_reason_reports_the_gaps():
    plateaus = pd.DataFrame(
        {"stop": [500, 1000], "flips": [3, 40], "gap": [0.5, 1e-4]},
    )
    reason = study.plateau_level_reason(plateaus, last_step=1000)
    assert "fewest changes on one: 3" in reason
    assert "1 plateaus lasting to the last step" in reason and "1.0e-04" in reason
    assert "1 plateaus ending earlier end 50% to 50% above L_A" in reason
    assert study.plateau_level_reason(plateaus.iloc[:0], 1000) == "no plateau was detected"


def test_drops_after_change_looks_just_before_each_drop():
    steps = np.array([1, 10, 100, 1000])
    counts = np.array([[0], [0], [1], [1]])
    trajectory = fake_trajectory(counts, np.array([0, 0, 1, 1]), steps)
    assert study.drops_after_change(trajectory, [(100, 1000)], lead_decades=1.0) == 1
    assert study.drops_after_change(trajectory, [(10, 100)], lead_decades=1.0) == 0
