"""Tests of ANLS (algorithms/anls.py) against dense references, and of the anls study."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainingdynamics.algorithms import anls as A
from trainingdynamics.diagnostics.activation import active_mask
from trainingdynamics.models.shallow import (
    Params,
    ShallowNetworks,
    forward,
    init_params,
    loss,
    make_data,
)
from trainingdynamics.profiles import ParameterError
from trainingdynamics.studies import anls as study
from trainingdynamics.studies.anls.analysis import (
    iterations_to_reach,
    loss_mismatch,
    pattern_mismatches,
    worst_increase,
)
from trainingdynamics.studies.anls.exits import first_move, plateau_exits_of
from trainingdynamics.studies.anls.experiment import adam
from trainingdynamics.studies.anls.planes import plane_data


def dense_design(x: np.ndarray, pattern: A.Pattern) -> np.ndarray:
    """Φ_A with columns x·1_{A_j} then 1_{A_j}, built from the index masks directly."""
    index = np.arange(len(x))
    mask = np.where(
        pattern.s[:, None] > 0, index >= pattern.p[:, None], index < pattern.p[:, None]
    ).astype(float)
    return np.concatenate([(mask * x).T, mask.T], axis=1)


def dense_level(x: np.ndarray, y: np.ndarray, pattern: A.Pattern) -> float:
    """min_θ (1/2m)‖Φ_A θ − y‖² by a dense rank-revealing lstsq."""
    phi = dense_design(x, pattern)
    theta, *_ = np.linalg.lstsq(phi, y, rcond=None)
    return float(0.5 * np.mean((phi @ theta - y) ** 2))


def random_pattern(rng: np.random.Generator, n: int, m: int) -> A.Pattern:
    return A.Pattern(rng.choice([-1, 1], n), rng.integers(0, m + 1, n))


RANK_DEFICIENT = A.Pattern(
    np.array([1, 1, -1, 1, -1, 1]), np.array([7, 7, 0, 0, 20, 12])
)  # duplicate, dead, all-active


@pytest.mark.parametrize("seed", range(4))
def test_move_scores_equal_dense_least_squares(seed):
    rng = np.random.default_rng(seed)
    x, y = make_data("sin5pi", 30)
    y = y + 0.1 * rng.standard_normal(30)
    pattern = RANK_DEFICIENT if seed == 0 else random_pattern(rng, 6, 30)
    neuron, moves = A.candidate_moves(x, pattern, A.least_squares_kinks(x, y, pattern))
    scores = A.score_moves(x, y, pattern, neuron, moves)
    reference = np.array(
        [dense_level(x, y, A.with_move(pattern, int(j), moves, k)) for k, j in enumerate(neuron)]
    )
    np.testing.assert_allclose(scores, reference, rtol=1e-9, atol=1e-15)


def test_candidate_moves_stay_on_the_grid_and_change_one_neuron():
    x, _ = make_data("abs", 10)
    pattern = A.Pattern(np.array([1, -1, 1]), np.array([0, 10, 5]))
    neuron, moves = A.candidate_moves(x, pattern, np.array([np.nan, np.nan, 0.6]))
    assert np.all((moves.p >= 0) & (moves.p <= 10))
    assert set(zip(neuron.tolist(), moves.s.tolist(), moves.p.tolist(), strict=True)) == {
        (0, 1, 1),
        (0, 1, 2),
        (0, -1, 0),
        (1, -1, 8),
        (1, -1, 9),
        (1, 1, 10),
        (2, 1, 3),
        (2, 1, 4),
        (2, 1, 6),
        (2, 1, 7),
        (2, -1, 5),
        (2, 1, 8),  # x_7 < 0.6 < x_8: the jump
    }


@pytest.mark.parametrize("seed", range(3))
def test_kink_bounds_are_exactly_the_realisable_kinks(seed):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1, 25))
    pattern = random_pattern(rng, 40, 25)
    low, high = A.kink_bounds(x, pattern)
    index = np.arange(25)
    wanted = np.where(
        pattern.s[:, None] > 0, index >= pattern.p[:, None], index < pattern.p[:, None]
    )
    w = pattern.s.astype(float)
    for t in (low, high, 0.5 * (low + high)):
        assert np.array_equal(active_mask(x, w, -w * t), wanted)
    # one float beyond a bound that is adjacent to a data point changes the pattern; the outer cuts
    # do not
    below = np.any(active_mask(x, w, -w * np.nextafter(low, -np.inf)) != wanted, axis=1)
    above = np.any(active_mask(x, w, -w * np.nextafter(high, np.inf)) != wanted, axis=1)
    np.testing.assert_array_equal(below, pattern.p > 0)
    np.testing.assert_array_equal(above, pattern.p < 25)


def test_realise_attains_its_loss_with_its_pattern():
    rng = np.random.default_rng(5)
    x, y = make_data("piecewise", 40)
    for _ in range(10):
        pattern = random_pattern(rng, 7, 40)
        state = A.realise(x, y, pattern)
        np.testing.assert_array_equal(
            active_mask(x, state.params.w, state.params.b), dense_design(x, pattern)[:, 7:].T > 0
        )
        assert abs(float(loss(x, y, state.params)) - state.loss) <= 1e-14
        assert state.loss >= dense_level(x, y, pattern) - 1e-14
        if state.projected == 0:
            assert state.loss == pytest.approx(dense_level(x, y, pattern), rel=1e-9, abs=1e-15)


def test_anls_api_monotone_and_attained():
    x, y = make_data("sin5pi", 40)
    result = A.anls(x, y, 8, iterations=15, seed=3)
    assert len(result.losses) >= 2 and result.losses[0] == pytest.approx(
        float(loss(x, y, init_params(np.random.default_rng(3), 8)))
    )
    assert np.all(np.diff(result.losses) < 0)
    assert float(loss(x, y, Params(result.c, result.w, result.b))) == pytest.approx(
        result.losses[-1], abs=1e-14
    )
    assert result.solves[-1] >= len(result.losses) - 1


def test_anls_ignores_input_order():
    x, y = make_data("piecewise", 30)
    order = np.random.default_rng(0).permutation(30)
    a = A.anls(x, y, 5, iterations=10, seed=1)
    b = A.anls(x[order], y[order], 5, iterations=10, seed=1)
    np.testing.assert_array_equal(a.losses, b.losses)


def test_anls_fits_abs_exactly_where_gd_cannot():
    x, y = make_data("abs", 40)
    result = A.anls(x, y, 2, iterations=50, seed=0)
    assert result.losses[-1] < 1e-20
    np.testing.assert_allclose(np.sort(-result.b / result.w), [0.0, 0.0], atol=1e-12)


def test_batched_adam_equals_separate_runs():
    x, y = make_data("abs", 20)
    start = init_params(np.random.default_rng(0), 4, (3,))
    _, together, _ = adam(x, y, start, 1e-2, 50, 10, 0)
    _, alone, _ = adam(x, y, start.map(lambda a: a[1:2]), 1e-2, 50, 10, 0)
    np.testing.assert_allclose(together[1], alone[0], rtol=1e-12)


def test_iterations_to_reach_and_speedup_table():
    assert iterations_to_reach(np.array([1.0, 0.5, 0.1]), 0.5) == 1.0
    assert iterations_to_reach(np.array([0.2, 0.1]), 0.3) == 1.0  # never below one iteration
    assert iterations_to_reach(np.array([1.0, 0.5]), 0.1) == np.inf


def test_realised_pattern_and_loss_checks_catch_a_broken_run():
    cfg = study.config(
        "quick",
        targets=["abs"],
        seeds=1,
        gd_steps=100,
        adam_steps=20,
        iterations=5,
        exact_seeds=1,
        gd_check_steps=10,
    )
    result = study.run(cfg, seed=0)
    assert pattern_mismatches(result) == 0 and loss_mismatch(result) < 1e-12
    run = result.runs[0].anls[0]
    run.history.b[-1][0] += 0.5 * np.sign(
        run.history.w[-1][0]
    )  # shift one kink: pattern and loss no longer match
    assert pattern_mismatches(result) == 1 and loss_mismatch(result) > 1e-12
    # the forward pass, not the tracked loss, is what `monotone` checks
    run.history.c[-1][:] *= 10
    rise, compared = worst_increase(result, 1e-12)
    assert rise > 1 and compared > 0


def test_config_validation():
    assert study.config("full").seeds >= 20
    with pytest.raises(ParameterError):
        study.config("quick", targets=["cosine"])
    with pytest.raises(ParameterError):
        study.config("quick", exact_kinks=[1])
    with pytest.raises(ParameterError):
        study.config("quick", claimed_spare=[0, 3])
    with pytest.raises(ParameterError):
        study.config("quick", lr=0.0)
    with pytest.raises(ParameterError):
        study.run(study.config("quick"), device="cuda")


def test_claims_on_a_tiny_run():
    cfg = study.config(
        "quick",
        seeds=2,
        gd_steps=2000,
        adam_steps=200,
        iterations=20,
        exact_seeds=4,
        gd_check_steps=500,
        records=50,
    )
    result = study.run(cfg, seed=0)
    claims = {c.name: c for c in study.claims(result)}
    assert {name: c.source for name, c in claims.items()} == {
        "monotone": "exact",
        "pattern_realised": "exact",
        "loss_realised": "exact",
        "exact_fits": "ours",
        "minimal_width_fits": "ours",
        "gd_stuck": "ours",
        "plateau_exit": "ours",
    }
    table = study.exact_table(result.exact, cfg)
    assert table["spare neurons"].tolist() == [0, 1, 2, 0, 1, 2]
    assert table["width"].tolist() == [2, 3, 4, 4, 5, 6]
    for name in ("monotone", "pattern_realised", "loss_realised"):
        assert claims[name].passed and claims[name].verdict == "exact", claims[name]
    table = study.speedup_table(result.runs)
    assert len(table) == 2 * len(cfg.targets) and np.all(table["iteration ratio"] > 0)


# ----------------------------------------------------------------------------------------------
# The multivariate (2-D) demonstration


def random_planes(seed: int, width: int) -> A.Planes:
    rng = np.random.default_rng(seed)
    return A.Planes(
        rng.standard_normal(width), rng.uniform(-1, 1, (width, 2)), rng.uniform(-1, 1, width)
    )


def test_plane_pattern_fit_recovers_a_network_with_that_pattern():
    X, _ = plane_data(10)
    truth = random_planes(0, 4)
    y = A.plane_forward(X, truth)
    mask = A.plane_mask(X, truth.w, truth.b)
    a, beta, level = A.plane_pattern_fit(X, y, mask)
    assert level < 1e-28
    alive = (
        mask.sum(axis=1) >= 3
    )  # neurons active on enough (non-collinear) points are identifiable; dead ones get 0
    assert alive.sum() >= 2
    np.testing.assert_allclose(a[alive], truth.c[alive, None] * truth.w[alive], atol=1e-10)
    np.testing.assert_allclose(beta[alive], (truth.c * truth.b)[alive], atol=1e-10)
    np.testing.assert_allclose(a[~alive], 0.0, atol=1e-12)


def test_plane_moves_translate_flip_and_jump():
    X, y = plane_data(8)
    p = random_planes(1, 3)
    norm = np.linalg.norm(p.w, axis=1)
    p = A.Planes(p.c, p.w / norm[:, None], p.b / norm)
    neuron, ws, bs = A.plane_moves(X, y, p)
    masks = A.plane_mask(X, ws[:, None, :], bs[:, None])[
        :, 0
    ]  # (C, m): the moved neuron's new active set
    current = A.plane_mask(X, p.w, p.b)[neuron]
    n = len(p.c)
    shrink, grow = masks[2 * n : 4 * n], masks[: 2 * n]  # STEPS = (-2, -1, 1, 2)
    assert np.all(shrink <= current[2 * n : 4 * n]) and np.all(grow >= current[: 2 * n])
    flipped = masks[4 * n : 5 * n]
    np.testing.assert_array_equal(
        flipped, ~current[4 * n : 5 * n]
    )  # no grid point lies on a random plane
    a, beta, _ = A.plane_pattern_fit(X, y, A.plane_mask(X, p.w, p.b))
    np.testing.assert_allclose(ws[-n:] * np.linalg.norm(a, axis=1)[:, None], a)


def test_anls_planes_is_monotone_attained_and_fits_exactly():
    X, y = plane_data(12)
    result = A.anls_planes(X, y, random_planes(2, 8), iterations=100)
    assert np.all(np.diff(result.losses) < 0)
    for network, tracked in zip(result.networks, result.losses, strict=True):
        assert abs(0.5 * np.mean((A.plane_forward(X, network) - y) ** 2) - tracked) < 1e-14
    assert result.losses[-1] < 1e-20


def test_torch_networks_match_numpy_forward():
    X, _ = plane_data(6)
    p = random_planes(3, 5)
    model = ShallowNetworks(p.c[None], p.w[None], p.b[None])
    np.testing.assert_allclose(
        model(torch.tensor(X)).detach().numpy()[0], A.plane_forward(X, p), rtol=1e-14, atol=1e-14
    )
    x, _ = make_data("abs", 9)
    q = init_params(np.random.default_rng(0), 4)
    one_d = ShallowNetworks(q.c[None], q.w[None, :, None], q.b[None])
    np.testing.assert_allclose(
        one_d(torch.tensor(x[:, None])).detach().numpy()[0], forward(x, q), rtol=1e-14, atol=1e-14
    )


def test_first_move_and_plateau_exits_on_hand_built_runs():
    x, y = make_data("piecewise", 20)
    run = A.anls(x, y, 4, iterations=5, seed=1)
    move = first_move(run)
    assert 1 <= move <= len(run.losses)
    assert np.all(run.s[:move] == run.s[0]) and np.all(run.p[:move] == run.p[0])
    steps = np.unique(np.round(np.logspace(0, 4, 81)).astype(int))
    t = np.log10(steps)
    # fall, a plateau over 1.5–3 decades, a drop, then flat again
    loss = np.where(t < 1, 1 - 0.5 * t, np.where(t < 3, 0.5, 0.5 * 10 ** (-2 * (t - 3))))
    [(first, level)] = plateau_exits_of(steps, loss)
    assert 10 <= steps[first] <= 40 and level < 0.5 * 1e-1
    assert plateau_exits_of(steps, np.full(len(steps), 0.5)) == []
