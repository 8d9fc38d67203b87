"""Tests of the Deep ReLU Simplex: the landscape's pieces against autograd and finite
differences, edges and ratio tests against direct forward passes, the LAD case against linprog,
and the chapter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainingdynamics.algorithms import simplex as drs
from trainingdynamics.profiles import ParameterError
from trainingdynamics.seeding import child_rng
from trainingdynamics.studies import simplex as study
from trainingdynamics.studies.simplex.analysis import gap_ratios, relative_errors, tail_errors
from trainingdynamics.studies.simplex.experiment import make_data, teacher_data


def problem(
    n: int = 40, d: int = 2, hidden: tuple[int, ...] = (3, 3), seed: int = 0
) -> tuple[drs.L1Landscape, np.ndarray]:
    """A small random landscape and its random starting first layer."""
    rng = np.random.default_rng(seed)
    X, y = rng.uniform(-3, 3, (n, d)), rng.uniform(-3, 3, n)
    network = drs.random_network(d, hidden, rng)
    return drs.L1Landscape(X, y, network), network.theta0.ravel()


def torch_residuals(land: drs.L1Landscape, theta: torch.Tensor) -> torch.Tensor:
    """f_θ(x_i) − y_i by an independent torch forward pass."""
    X = torch.as_tensor(land.Xa[:, :-1])
    W1 = theta.reshape(land.n1, -1)
    z = X @ W1[:, :-1].T + W1[:, -1]
    for W, b in zip(land.network.weights, land.network.biases, strict=True):
        z = torch.relu(z) @ torch.as_tensor(W).T + torch.as_tensor(b)
    return z[:, 0] - torch.as_tensor(land.y)


@pytest.mark.parametrize("hidden", [(), (4,), (3, 4, 2)])
def test_residual_and_gradient_match_autograd(hidden):
    land, theta = problem(hidden=hidden)
    t = torch.tensor(theta, requires_grad=True)
    residuals = torch_residuals(land, t)
    residuals.abs().sum().backward()
    values = land.values(theta)
    M = land.products(values > 0)
    np.testing.assert_allclose(values[:, -1], residuals.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(land.gradient(M, values > 0), t.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_normals_match_finite_differences():
    land, theta = problem(hidden=(3, 4, 2))
    values = land.values(theta)
    M = land.products(values > 0)
    branches, units = np.divmod(np.arange(values.size), land.units)
    normals = land.normals(M[branches], branches, units)
    h = 1e-7
    fd = np.stack(
        [
            (land.values(theta + h * e) - land.values(theta - h * e)).ravel() / (2 * h)
            for e in np.eye(land.dim)
        ],
        axis=1,
    )
    np.testing.assert_allclose(normals, fd, atol=1e-6)


def test_ratio_test_finds_the_first_sign_change():
    land, theta = problem(hidden=(3, 3))
    values = land.values(theta)
    states = values > 0
    M = land.products(states)
    direction = np.random.default_rng(1).standard_normal(land.dim)
    tau, hits = drs.ratio_test(
        land, values, M, land.normal_norms(M), states, direction, np.array([], dtype=int)
    )
    before = land.values(theta + (1 - 1e-7) * tau * direction)
    after = land.values(theta + (1 + 1e-7) * tau * direction)
    assert np.array_equal(before > 0, states)
    assert np.flatnonzero((after > 0) != states).tolist() == hits.tolist()
    assert abs(land.values(theta + tau * direction).flat[hits[0]]) < 1e-10


@pytest.mark.parametrize("hidden", [(), (4,), (3, 3)])
def test_vertex_has_dim_theta_independent_zero_boundaries(hidden):
    land, theta = problem(hidden=hidden)
    vertex = drs.descend_to_vertex(land, theta)
    zeros, offset, condition = drs.vertex_checks(land, vertex)
    assert len(set(vertex.critical.tolist())) == land.dim
    assert zeros >= land.dim and offset < 1e-12 and condition < 1e8
    assert land.loss(vertex.theta) <= land.loss(theta)


def edge_steps(land: drs.L1Landscape, vertex: drs.Vertex, edge_set: drs.Edges) -> np.ndarray:
    """The ratio-test step along every edge, the released unit's state set to the edge's side."""
    steps = []
    for index, d in enumerate(edge_set.directions):
        k, positive = divmod(index, 2)
        states, M, norms = drs.set_branch_state(
            land, vertex, int(vertex.critical[k]), bool(positive)
        )
        steps.append(drs.ratio_test(land, vertex.values, M, norms, states, d, vertex.critical)[0])
    return np.array(steps)


def test_phase_one_skips_boundaries_dependent_on_the_critical_ones():
    """A wide layer drives several units to w = b = 0 at once; the vertex has full-rank normals."""
    X, y = make_data(200, 2, seed=0)
    network = drs.random_network(2, (20,), child_rng(0, "network"))
    land = drs.L1Landscape(X, y, network)
    vertex = drs.descend_to_vertex(land, network.theta0)
    zeros, offset, condition = drs.vertex_checks(land, vertex)
    assert zeros > land.dim  # degenerate: whole units switched off
    assert condition < drs.MAX_CONDITION and offset < 1e-10
    assert np.isfinite(drs.edges(land, vertex).normalised).all()


@pytest.mark.parametrize(
    ("hidden", "d", "seed", "degenerate"),
    [((), 2, 0, False), ((4,), 2, 4, False), ((3, 3), 2, 0, False), ((4,), 2, 0, True)],
)
def test_edges_keep_the_other_boundaries_at_zero_and_have_the_stated_slope(
    hidden, d, seed, degenerate
):
    """Along each edge of positive length: the other critical boundaries stay 0, the released one
    moves by ±t, the loss changes at the stated slope. At a degenerate vertex (a unit at w = b = 0,
    where all its hyperplanes meet) the edges that would cross one of those hyperplanes have length
    zero instead."""
    land, theta = problem(d=d, hidden=hidden, seed=seed)
    vertex = drs.descend_to_vertex(land, theta)
    assert (drs.vertex_checks(land, vertex)[0] > land.dim) == degenerate
    edge_set = drs.edges(land, vertex)
    steps = edge_steps(land, vertex, edge_set)
    zero_length = steps <= 1e-12  # round-off: the boundary already passes through the vertex
    assert zero_length.any() == degenerate
    loss = land.loss(vertex.theta)
    for index in np.flatnonzero(~zero_length):
        k, positive = divmod(index, 2)
        d, slope = edge_set.directions[index], edge_set.slopes[index]
        t = min(1e-6 / np.linalg.norm(d), steps[index] / 2)
        moved = land.values(vertex.theta + t * d)
        assert np.abs(moved.flat[np.delete(vertex.critical, k)]).max() < 1e-12
        assert moved.flat[vertex.critical[k]] == pytest.approx(t if positive else -t, rel=1e-6)
        assert (land.loss(vertex.theta + t * d) - loss) / t == pytest.approx(
            slope, rel=1e-5, abs=1e-6
        )


@pytest.mark.parametrize("rule", ["steepest", "sequential_flip"])
def test_linear_case_is_lad_regression(rule):
    rng = np.random.default_rng(3)
    X, y = rng.uniform(-3, 3, (200, 3)), rng.uniform(-3, 3, 200)
    trace = drs.deep_relu_simplex(X, y, (), seed=0, max_pivots=5000, rule=rule)
    optimum = drs.lad_linprog(X, y)
    assert trace.certified
    assert abs(trace.losses[-1] - optimum) <= 1e-8 * optimum
    assert trace.theta.shape == (1, 4)
    assert (trace.zero_counts >= 4).all()


def test_deep_run_is_monotone_and_ends_at_a_local_minimum():
    land, theta = problem(n=60, hidden=(3, 3), seed=2)
    trace = drs.simplex(land, theta, max_pivots=5000)
    assert trace.certified and trace.final_min_slope >= -1e-10
    direct = np.array(
        [land.loss(theta) for theta in trace.thetas]
    )  # forward passes, independent of the tracking
    np.testing.assert_array_equal(direct, trace.direct_losses)
    assert np.all(np.diff(direct) <= 1e-9 * direct[:-1])
    assert direct[-1] < direct[0]
    np.testing.assert_allclose(trace.losses, trace.direct_losses, rtol=1e-10)
    assert trace.start_loss >= trace.losses[0]
    final, loss = trace.thetas[-1], trace.losses[-1]
    probes = np.random.default_rng(0).standard_normal((500, land.dim))
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    assert min(land.loss(final + 1e-7 * u) for u in probes) >= loss - 1e-9 * loss


def test_a_descending_edge_is_not_a_local_minimum():
    land, theta = problem(n=60, hidden=(3, 3), seed=2)
    vertex = drs.descend_to_vertex(land, theta)
    edge_set = drs.edges(land, vertex)
    (choice, *_) = drs.improving_edges(edge_set, 0.0)
    d = edge_set.directions[choice]
    assert land.loss(vertex.theta + 1e-6 * d) < land.loss(vertex.theta)


def test_deep_relu_simplex_is_deterministic_and_draws_the_network_from_the_seed():
    X, y = make_data(50, 2, seed=0)
    a = drs.deep_relu_simplex(X, y, (3, 2), seed=5, max_pivots=5000)
    b = drs.deep_relu_simplex(X, y, (3, 2), seed=5, max_pivots=5000)
    c = drs.deep_relu_simplex(X, y, (3, 2), seed=6, max_pivots=5000)
    for name in (
        "losses",
        "direct_losses",
        "thetas",
        "zero_counts",
        "critical_offsets",
        "conditions",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.status, a.ties, a.degenerate, a.final_min_slope) == (
        b.status,
        b.ties,
        b.degenerate,
        b.final_min_slope,
    )
    network = drs.random_network(2, (3, 2), child_rng(5, "network"))
    np.testing.assert_array_equal(a.landscape.network.theta0, network.theta0)
    assert a.start_loss == a.landscape.loss(network.theta0.ravel())
    assert a.start_loss != c.start_loss
    assert a.certified and a.pivots > 4
    # a smaller budget stops exactly there, on the same path
    half = a.pivots // 2
    cut = drs.deep_relu_simplex(X, y, (3, 2), seed=5, max_pivots=half)
    assert cut.status == "max_pivots" and cut.pivots == half
    np.testing.assert_array_equal(cut.thetas, a.thetas[: half + 1])


def test_boundary_crossings_match_a_fine_grid():
    land, theta = problem(n=30, hidden=(3, 3), seed=4)
    direction = np.random.default_rng(2).standard_normal(land.dim)
    u = direction / np.linalg.norm(direction)
    radius = 0.3
    ts = np.linspace(-radius, radius, 20001)
    signs = np.stack([land.values(theta + t * u) > 0 for t in ts])
    brute = int((signs[1:] != signs[:-1]).sum())
    assert brute > 0
    assert drs.boundary_crossings(land, theta, direction, radius) == brute


def test_limit_fit_recovers_an_exact_decay_and_respects_its_bounds():
    k = np.arange(30, 90)
    losses = 7.0 + 3.0 * 0.93**k
    fit = drs.fit_limit(k, losses, upper=losses[-1])
    assert fit.limit == pytest.approx(7.0, abs=1e-6)
    assert fit.rate == pytest.approx(0.93, abs=1e-6)
    assert fit.finite
    assert drs.fit_limit(k, losses, upper=6.0).limit == 6.0  # L* ≤ upper
    assert (
        drs.fit_limit(k, 100.0 - 0.5 * k, upper=55.0).limit == 0.0
    )  # a straight decay: L* runs to the bound 0
    flat = drs.fit_limit(k, 50.0 - 1e-4 * k, upper=50.0)
    assert (
        1.0 - flat.rate < 1.01 * (1.0 - drs.Q_MAX) and not flat.finite
    )  # q at the cap: no finite limit


def known_lines(n: int = 50, seed: int = 0) -> tuple[drs.L1Landscape, np.ndarray]:
    """A linear model on x_i = 0: its boundaries are the horizontal lines θ₂ = y_i (and their y)."""
    y = np.random.default_rng(seed).uniform(-1, 1, n)
    network = drs.ReluNetwork(np.zeros((1, 2)), (), ())
    return drs.L1Landscape(np.zeros((n, 1)), y, network), y


def test_line_crossings_count_a_known_arrangement():
    """A segment c ± ρu crosses θ₂ = y_i iff |y_i − c₂| < ρ|u₂|; all N lines at once through 0."""
    land, y = known_lines()
    rng = np.random.default_rng(1)
    centres, directions = rng.uniform(-0.5, 0.5, (20, 2)), rng.standard_normal((20, 2))
    u = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    known = (np.abs(y[None] - centres[:, 1:]) < 0.3 * np.abs(u[:, 1:])).sum(axis=1)
    assert known.min() < known.max()
    np.testing.assert_array_equal(drs.line_crossings(land, centres, directions, 0.3), known)
    walked = [
        drs.boundary_crossings(land, c, d, 0.3) for c, d in zip(centres, directions, strict=True)
    ]
    np.testing.assert_array_equal(walked, known)
    coincident = drs.L1Landscape(np.zeros((7, 1)), np.zeros(7), land.network)
    assert drs.line_crossings(coincident, np.zeros((1, 2)), np.ones((1, 2)), 0.1)[0] == 7


@pytest.mark.parametrize(("hidden", "offset"), [((3, 3), 0.2), ((5, 5, 5, 5, 2), 0.1)])
def test_line_crossings_equal_the_walk_on_offset_lines(hidden, offset):
    """The vectorised count equals the ratio-test walk, crossing by crossing, on bent boundaries."""
    land, theta = problem(n=50, d=3, hidden=hidden, seed=3)
    centres, directions = drs.offset_lines(theta, offset, 12, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(centres - theta, axis=1), offset)
    np.testing.assert_allclose(np.sum((centres - theta) * directions, axis=1), 0, atol=1e-12)
    fast = drs.line_crossings(land, centres, directions, 0.4)
    walked = [
        drs.boundary_crossings(land, c, d, 0.4) for c, d in zip(centres, directions, strict=True)
    ]
    assert fast.min() > 0
    np.testing.assert_array_equal(fast, walked)


def test_line_crossings_through_a_degenerate_vertex_count_every_hyperplane():
    """Through a vertex where whole units are switched off a line crosses all their hyperplanes."""
    X, y = make_data(200, 2, seed=0)
    network = drs.random_network(2, (20,), child_rng(0, "network"))
    land = drs.L1Landscape(X, y, network)
    vertex = drs.descend_to_vertex(land, network.theta0)
    dead = int(np.sum(np.linalg.norm(vertex.theta.reshape(20, -1), axis=1) < 1e-9))
    directions = np.random.default_rng(0).standard_normal((4, land.dim))
    centres = np.broadcast_to(vertex.theta, directions.shape)
    fast = drs.line_crossings(land, centres, directions, 0.05)
    walked = [drs.boundary_crossings(land, vertex.theta, d, 0.05) for d in directions]
    np.testing.assert_array_equal(fast, walked)
    assert dead > 0 and fast.min() >= dead * len(y)


def torch_outputs(network: drs.ReluNetwork, X: np.ndarray) -> torch.Tensor:
    """f(x_i) by an independent torch forward pass of the whole network."""
    z = torch.as_tensor(X) @ torch.as_tensor(network.theta0[:, :-1]).T
    z = z + torch.as_tensor(network.theta0[:, -1])
    for W, b in zip(network.weights, network.biases, strict=True):
        z = torch.relu(z) @ torch.as_tensor(W).T + torch.as_tensor(b)
    return z[:, 0]


@pytest.mark.parametrize(("hidden", "layer"), [((5, 2), 2), ((4, 3, 2), 3), ((4, 2), 3)])
def test_layer_landscape_is_the_first_layer_landscape_of_the_features(hidden, layer):
    """Training layer ℓ is first-layer training on h_{ℓ−1}(x): the landscape's residuals at any θ
    equal a direct forward pass of the whole network with layer ℓ set to θ."""
    rng = np.random.default_rng(layer)
    X, y = rng.uniform(-3, 3, (60, 4)), rng.uniform(-3, 3, 60)
    network = drs.random_network(4, hidden, rng)
    features, upper = drs.layer_problem(X, network, layer)
    land = drs.L1Landscape(features, y, upper)
    layers = [network.theta0] + [
        np.hstack([W, b[:, None]]) for W, b in zip(network.weights, network.biases, strict=True)
    ]
    np.testing.assert_array_equal(upper.theta0, layers[layer - 1])
    for theta in (upper.theta0, rng.uniform(-1, 1, upper.theta0.shape)):
        layers[layer - 1] = theta
        full = drs.ReluNetwork(
            layers[0], tuple(m[:, :-1] for m in layers[1:]), tuple(m[:, -1] for m in layers[1:])
        )
        direct = torch_outputs(full, X).numpy() - y
        np.testing.assert_allclose(
            land.values(theta.ravel())[:, -1], direct, rtol=1e-12, atol=1e-12
        )
        np.testing.assert_allclose(full.outputs(X), direct + y, rtol=1e-12, atol=1e-12)


def test_deep_relu_simplex_trains_layer_two_to_a_certified_minimum():
    X, y = make_data(80, 3, seed=1)
    trace = drs.deep_relu_simplex(X, y, (5, 2), seed=1, max_pivots=5000, layer=2)
    network = drs.random_network(3, (5, 2), child_rng(1, "network"))
    assert trace.landscape.dim == 2 * 6 and trace.certified
    np.testing.assert_array_equal(trace.landscape.network.theta0, trace.landscape.network.theta0)
    assert trace.start_loss == pytest.approx(np.abs(network.outputs(X) - y).sum(), rel=1e-12)
    assert np.all(np.diff(trace.direct_losses) <= 1e-9 * trace.direct_losses[:-1])
    assert trace.direct_losses[-1] < trace.direct_losses[0]
    with pytest.raises(ValueError, match="layer 4"):
        drs.deep_relu_simplex(X, y, (5, 2), seed=1, max_pivots=10, layer=4)


def test_aitken_limit_is_exact_for_a_geometric_decay_and_bounded_otherwise():
    k = np.arange(60)
    assert drs.aitken_limit(7.0 + 3.0 * 0.9**k) == pytest.approx(7.0, abs=1e-9)
    assert drs.aitken_limit(100.0 - 0.5 * k) == 0.0  # no slowing down: no finite limit
    assert drs.aitken_limit(10.0 - np.sqrt(k)) <= 10.0 - np.sqrt(59)


def test_shape_statistics_tell_geometric_from_straight():
    """On an exact decay the geometric model predicts the tail (gap ratios near q^{−K/5}); on a
    straight one the line predicts it and the ratios are (6 − j)/(5 − j)."""
    K = 200
    geometric = 50.0 + 20.0 * 0.97 ** np.arange(K + 1)
    straight = 300.0 - 0.1 * np.arange(K + 1)
    g_geo, l_geo = tail_errors(geometric)
    g_lin, l_lin = tail_errors(straight)
    assert g_geo < 1e-6 < l_geo and l_lin < 1e-9 < g_lin
    fifths = 0.97 ** (np.arange(5) * 40) - 0.97**K  # L_{jK/5} − L_K, over C
    np.testing.assert_allclose(gap_ratios(geometric), fifths[:-1] / fifths[1:], rtol=1e-10)
    np.testing.assert_allclose(gap_ratios(straight), [5 / 4, 4 / 3, 3 / 2, 2.0])
    converged = 50.0 + 20.0 * 0.9 ** np.arange(K + 1)  # L_K within 2e-8 of L* = 50
    assert max(relative_errors(converged, 0.8).values()) < 0.05
    assert min(relative_errors(straight, 0.8).values()) > 0.5
    assert np.isnan(tail_errors(straight[:20])[0])


def test_teacher_targets_follow_a_teacher_network():
    X, y = teacher_data(300, 2, (5, 5), seed=0, noise=0.1)
    X0, _ = make_data(300, 2, seed=0)
    np.testing.assert_array_equal(X, X0)
    teacher = drs.random_network(2, (5, 5), child_rng(0, "teacher")).outputs(X)
    assert (y - teacher).std() == pytest.approx(0.1, rel=0.2) and teacher.std() > 0.1
    np.testing.assert_array_equal(teacher_data(300, 2, (5, 5), seed=0, noise=0.1)[1], y)


def test_config_validation():
    assert study.config("quick").hidden == (5, 5)
    assert study.config("quick", hidden=[20]).hidden == (20,)
    assert study.config("quick", layer_hidden=[[3, 2]]).layer_hidden == ((3, 2),)
    with pytest.raises(ParameterError):
        study.config("quick", n_samples=2)
    with pytest.raises(ParameterError):
        study.config("quick", hidden=[5, 0])
    with pytest.raises(ParameterError, match="layer_hidden"):
        study.config("quick", layer_hidden=[[5]])
    with pytest.raises(ParameterError, match="teacher_seeds"):
        study.config("quick", teacher_seeds=-1)
    with pytest.raises(ParameterError, match="lad_samples"):
        study.config("quick", lad_samples=4, lad_dim=3)
    assert study.config("quick", lad_samples=5, lad_dim=3).lad_samples == 5


def test_claims_are_finite_when_no_run_is_certified():
    """A pivot budget too small to certify: the count claim fails, the shares are 0, none is NaN."""
    cfg = study.config(
        "quick",
        seeds=1,
        layer_seeds=1,
        teacher_seeds=0,
        flip_seeds=0,
        max_pivots=3,
        n_samples=40,
        lad_samples=20,
        lines=2,
        profile_offsets=[0.1],
        known_failures=[],
    )
    result = study.run(cfg, seed=0)
    assert [s.name for s in result.settings] == [
        "layer 1 of [5, 5], noise, steepest",
        "layer 2 of [5, 2], noise, steepest",
        "layer 2 of [4, 2], noise, steepest",
    ]
    claims = {c.name: c for c in study.claims(result)}
    assert all(np.isfinite(c.value) for c in claims.values())
    assert claims["testable_runs"].value == 0 and not claims["testable_runs"].passed
    for name in ("decay_shape", "decay_predictable", "vertex_density"):
        assert claims[name].value == 0.0 and claims[name].source == "paper"


def test_tracked_loss_at_a_near_degenerate_first_vertex():
    """Layer 2 of [5, 2] on teacher targets (the full profile's seed 4): phase 1 ends with a unit at
    w = b = 0, where all its 1000 boundaries meet. Unsnapped, the vertex sat 3e-7 off that point,
    the first pivot (length ~1e-9) crossed boundaries its edge assumed crossed already, and the
    tracked change differed from the forward pass (−3.2e-7 vs −1.2e-6). Regression test."""
    X, y = teacher_data(1000, 4, (5, 2), seed=4, noise=0.1)
    trace = drs.deep_relu_simplex(X, y, (5, 2), seed=4, max_pivots=3, layer=2)
    np.testing.assert_allclose(trace.losses, trace.direct_losses, rtol=1e-10)
