"""Active Neuron Least Squares for the shallow 1-D ReLU network: our implementation of the published
idea.

Ainsworth & Shin (2021, 2022) train N(x) = Σ_j c_j σ(w_j x + b_j) by solving least squares
within an activation pattern and adjusting the pattern explicitly at every step. Their algorithm
box could not be read, so every step below is ours:

* A pattern is, per neuron, an orientation s_j = ±1 and a split p_j ∈ {0, …, m}: the neuron is
  active on the suffix [p_j, m) (s_j = +1) or the prefix [0, p_j) (s_j = −1) of the sorted data.
  Within it N(x_i) = Σ_j (α_j x_i + β_j)·1[i ∈ A_j] is linear in θ = (α, β), and the pattern
  least squares L_A = min_θ (1/2m)‖Φ_A θ − y‖² is solved exactly (the plateaus chapter's solver).
* Moves: p_j ± 1, ± 2 (the kink crosses one or two data points), the orientation flip, and a jump
  of p_j to the gap holding the neuron's least-squares kink −β_j/α_j. Every move of every neuron
  is scored by its pattern least-squares loss: each move's normal equations come from prefix sums
  of 1, x, x², y, x y in O(n²) and are solved rank-revealingly (minimum norm: duplicated, dead or
  complementary neurons make the Gram singular), O(n³) per move.
* The best-scored moves are re-solved exactly and realised as a network: by positive homogeneity
  w_j = s_j, b_j = −s_j t_j, with the kink t_j = −β_j/α_j projected onto the data gap the pattern
  assumes, and c re-fitted by least squares with the kinks fixed. The first move whose realised
  loss is strictly below the current one is accepted; if none is, the iteration stops the run.

The end of the module carries the same scheme for inputs in R^d (hyperplanes instead of kinks),
the setting of the 2022 follow-up, in a small dense form for a 2-D demonstration.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from trainingdynamics.diagnostics.activation import (
    active_intervals,
    interval_forward,
    pattern_gram,
    pattern_least_squares_fit,
    require_sorted,
    solve_gram,
)
from trainingdynamics.models.shallow import Params, init_params

STEPS = (-2, -1, 1, 2)  # kink moves across data points tried for every neuron


@dataclass(frozen=True)
class Pattern:
    """Per-neuron orientation s_j = ±1 and split p_j: active on [p_j, m) if s_j > 0, on [0, p_j) if
    s_j < 0."""

    s: np.ndarray
    p: np.ndarray

    def intervals(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """The active index intervals [lo_j, hi_j)."""
        return np.where(self.s > 0, self.p, 0), np.where(self.s > 0, m, self.p)


def pattern_of(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> Pattern:
    """The pattern of a network (x sorted); w = 0 counts as s = +1 when active everywhere, else s =
    −1."""
    lo, hi = active_intervals(x, w, b)
    s = np.where(w > 0, 1, np.where(w < 0, -1, np.where(b > 0, 1, -1)))
    return Pattern(s, np.where(s > 0, lo, hi))


def kink_bounds(x: np.ndarray, pattern: Pattern) -> tuple[np.ndarray, np.ndarray]:
    """The closed set [low_j, high_j] of kinks t_j realising the pattern with w_j = s_j, b_j = −s_j
    t_j.

    s = +1 needs x_{p−1} ≤ t < x_p (σ(x − t) > 0 iff x > t), s = −1 needs x_{p−1} < t ≤ x_p; the
    open
    end is moved one float inward. The outer gaps are cut at one data span beyond the data.
    """
    span = x[-1] - x[0]
    extended = np.concatenate([[x[0] - span], x, [x[-1] + span]])
    left, right = extended[pattern.p], extended[pattern.p + 1]
    positive = pattern.s > 0
    low = np.where(positive, left, np.nextafter(left, np.inf))
    high = np.where(positive, np.nextafter(right, -np.inf), right)
    return low, high


def pattern_network(x: np.ndarray, pattern: Pattern) -> tuple[np.ndarray, np.ndarray]:
    """(w, b) with w_j = s_j and the kink in the middle of its gap: a network with exactly this
    pattern."""
    low, high = kink_bounds(x, pattern)
    t = 0.5 * (low + high)
    return pattern.s.astype(float), -pattern.s * t


# ----------------------------------------------------------------------------------------------
# Scoring every move by its pattern least-squares loss (one batched solve over all moves)


def candidate_moves(
    x: np.ndarray,
    pattern: Pattern,
    kinks: np.ndarray,
    steps: tuple[int, ...] = STEPS,
    flips: bool = True,
) -> tuple[np.ndarray, Pattern]:
    """(neuron, its new pattern) for every move p_j + d ∈ [0, m], every orientation flip, and every
    jump.

    A jump moves the split to the gap that contains the neuron's least-squares kink ``kinks[j]``
    (NaN where undefined), keeping the orientation; jumps equal to a step move are dropped.
    """
    n, m = len(pattern.s), len(x)
    jump = np.where(
        pattern.s > 0,
        np.searchsorted(x, kinks, side="right"),
        np.searchsorted(x, kinks, side="left"),
    )
    jumping = np.isfinite(kinks) & ~np.isin(jump - pattern.p, (0,) + tuple(steps))
    neurons = [np.arange(n)] * len(steps) + [np.flatnonzero(jumping)]
    splits = [pattern.p + d for d in steps] + [jump[jumping]]
    signs = [pattern.s] * len(steps) + [pattern.s[jumping]]
    if flips:
        neurons.append(np.arange(n))
        splits.append(pattern.p)
        signs.append(-pattern.s)
    neuron, p, s = (np.concatenate(a) for a in (neurons, splits, signs))
    keep = (p >= 0) & (p <= m)
    return neuron[keep], Pattern(s[keep], p[keep])


def least_squares_kinks(x: np.ndarray, y: np.ndarray, pattern: Pattern) -> np.ndarray:
    """The kinks t_j = −β_j/α_j of the pattern's least-squares optimum (NaN where α_j = 0)."""
    alpha, beta, _ = pattern_least_squares_fit(x, y, *pattern_network(x, pattern))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(alpha != 0, -beta / np.where(alpha != 0, alpha, 1.0), np.nan)


def score_moves(
    x: np.ndarray, y: np.ndarray, pattern: Pattern, neuron: np.ndarray, moves: Pattern
) -> np.ndarray:
    """Loss (1/2m)‖Φθ − y‖² of the minimum-norm least-squares θ of every single-neuron move.

    Each move's normal equations come from the plateaus chapter's prefix-sum ``pattern_gram`` in
    O(n²) and its rank-revealing ``solve_gram``; the residuals of all moves are then evaluated in
    one batch, directly (not as yᵀy − gᵀθ), so near-interpolating moves are ranked correctly.
    """
    m, n = len(x), len(pattern.s)
    rows = np.arange(len(neuron))
    s = np.tile(pattern.s, (len(neuron), 1))
    p = np.tile(pattern.p, (len(neuron), 1))
    s[rows, neuron], p[rows, neuron] = moves.s, moves.p
    lo, hi = Pattern(s, p).intervals(m)
    theta = np.stack([solve_gram(*pattern_gram(x, y, lo[k], hi[k])) for k in rows])
    residual = interval_forward(x, theta[:, :n], theta[:, n:], lo, hi) - y
    return 0.5 * np.mean(residual**2, axis=-1)


# ----------------------------------------------------------------------------------------------
# Exact solve of one pattern and its realisation as a network


@dataclass(frozen=True)
class State:
    """A realised network, the pattern it was solved in, and its loss evaluated on that pattern."""

    params: Params
    pattern: Pattern
    loss: float
    projected: int  # neurons whose least-squares kink lay outside their gap
    solved: bool  # produced by a least-squares solve of its pattern (else: the initial network)


def realise(x: np.ndarray, y: np.ndarray, pattern: Pattern) -> State:
    """Solve the pattern least squares, project each kink t_j = −β_j/α_j onto its gap, refit c with
    kinks fixed.

    Neurons sharing a pattern share their (mean) kink (:func:`shared_kinks`).
    The features of the refit are (s_j(x_i − t_j))·1[i ∈ A_j] on the pattern's intervals, and the
    returned loss is evaluated with them, so it equals the network's forward-pass loss exactly when
    the realised (w, b) = (s, −s t) has the pattern it was solved in.
    """
    m = len(x)
    w_pattern, b_pattern = pattern_network(x, pattern)
    alpha, beta, _ = pattern_least_squares_fit(x, y, w_pattern, b_pattern)
    low, high = kink_bounds(x, pattern)
    with np.errstate(divide="ignore", invalid="ignore"):
        kink = -beta / alpha
    projected = int(np.sum(~((kink >= low) & (kink <= high))))
    kink = shared_kinks(
        pattern, np.clip(np.where(np.isnan(kink), 0.5 * (low + high), kink), low, high)
    )
    lo, hi = pattern.intervals(m)
    inside = (np.arange(m) >= lo[:, None]) & (np.arange(m) < hi[:, None])
    features = np.where(inside, pattern.s[:, None] * (x - kink[:, None]), 0.0).T  # (m, n)
    c, *_ = scipy.linalg.lstsq(features, y, cond=m * np.finfo(float).eps)
    loss = float(0.5 * np.mean((features @ c - y) ** 2))
    return State(
        Params(c, pattern.s.astype(float), -pattern.s * kink), pattern, loss, projected, True
    )


def shared_kinks(pattern: Pattern, kink: np.ndarray) -> np.ndarray:
    """Give neurons with the same pattern their mean kink: they are one feature of the pattern least
    squares.

    Min-norm least squares splits such a feature evenly, so their kinks agree up to round-off; left
    apart, the near-duplicate columns of the refit would buy tiny gains with huge cancelling c_j.
    """
    _, group = np.unique(np.stack([pattern.s, pattern.p]), axis=1, return_inverse=True)
    group = group.ravel()
    return (np.bincount(group, kink) / np.bincount(group))[group]


def state_of(x: np.ndarray, y: np.ndarray, params: Params) -> State:
    """The State of a given network: its own pattern and its loss evaluated on that pattern."""
    pattern = pattern_of(x, params.w, params.b)
    lo, hi = pattern.intervals(len(x))
    loss = float(
        0.5
        * np.mean((interval_forward(x, params.c * params.w, params.c * params.b, lo, hi) - y) ** 2)
    )
    return State(params, pattern, loss, 0, False)


def with_move(pattern: Pattern, neuron: int, move: Pattern, index: int) -> Pattern:
    """The pattern with neuron ``neuron`` replaced by candidate ``index`` of ``move``."""
    s, p = pattern.s.copy(), pattern.p.copy()
    s[neuron], p[neuron] = move.s[index], move.p[index]
    return Pattern(s, p)


def anls_step(x: np.ndarray, y: np.ndarray, state: State, tries: int) -> tuple[State | None, int]:
    """One iteration: score every move, realise the ``tries`` best, accept the first strict
    decrease.

    The initial network's own pattern is solved first (a network not yet solved in its pattern).
    Returns (the new state or None, the least-squares solves used: one per scored move, the kinks'
    solve, each realisation).
    """
    neuron, moves = candidate_moves(x, state.pattern, least_squares_kinks(x, y, state.pattern))
    scores = score_moves(x, y, state.pattern, neuron, moves)
    solves = len(neuron) + 1
    order = [int(k) for k in np.argsort(scores, kind="stable")[:tries] if scores[k] < state.loss]
    patterns = ([] if state.solved else [state.pattern]) + [
        with_move(state.pattern, int(neuron[k]), moves, k) for k in order
    ]
    for pattern in patterns:
        candidate = realise(x, y, pattern)
        solves += 1
        if candidate.loss < state.loss:
            return candidate, solves
    return None, solves


# ----------------------------------------------------------------------------------------------
# The public algorithm


@dataclass
class ANLSResult:
    """An ANLS run: per iteration (index 0 = initialisation) the loss, the network, its pattern and
    the cost."""

    losses: np.ndarray  # (K+1,) loss evaluated on the solve's pattern
    c: np.ndarray  # final network
    w: np.ndarray
    b: np.ndarray
    history: Params  # (K+1, n) networks after every iteration
    s: np.ndarray  # (K+1, n) orientations of the patterns solved in
    p: np.ndarray  # (K+1, n) splits of the patterns solved in
    solves: np.ndarray  # (K+1,) cumulative least-squares solves (each scored move counts one)
    seconds: np.ndarray  # (K+1,) cumulative wall-clock time
    projected: np.ndarray  # (K+1,) neurons whose kink was projected onto its gap
    stalled: bool  # stopped early: no move of the move set decreased the loss

    @property
    def params(self) -> Params:
        """The final network."""
        return Params(self.c, self.w, self.b)

    def counts(self, m: int) -> np.ndarray:
        """Activation counts k_j = |A_j| after every iteration, shape (K+1, n)."""
        return np.where(self.s > 0, m - self.p, self.p)


def anls(
    x: np.ndarray,
    y: np.ndarray,
    width: int,
    *,
    iterations: int,
    seed: int,
    start: Params | None = None,
    output_scale: float = 1.0,
    tries: int = 32,
) -> ANLSResult:
    """Run ANLS for at most ``iterations`` iterations from ``start`` (default: ``init_params``
    seeded by ``seed``).

    Stops early when no move strictly decreases the loss, so ``losses`` holds one entry per
    completed iteration after the initial one. ``losses[-1]`` is the loss of the returned (c, w, b)
    on (x, y); x may come in any order.
    """
    if start is None:
        start = init_params(np.random.default_rng(seed), width, (), output_scale)
    if np.shape(start.c) != (width,):
        raise ValueError(
            f"start must be one network of width {width}, "
            f"got parameters of shape {np.shape(start.c)}"
        )
    order = np.argsort(x)
    xs, ys = np.asarray(x, float)[order], np.asarray(y, float)[order]
    require_sorted(xs)
    began = time.perf_counter()
    state = state_of(xs, ys, start.map(lambda a: np.array(a, dtype=np.float64)))
    records = [(state, 0, 0.0)]
    stalled = False
    for _ in range(iterations):
        new, solves = anls_step(xs, ys, state, tries)
        if new is None:
            stalled = True
            break
        state = new
        records.append((state, records[-1][1] + solves, time.perf_counter() - began))
    states = [r[0] for r in records]
    final = state.params
    return ANLSResult(
        losses=np.array([s.loss for s in states]),
        c=final.c,
        w=final.w,
        b=final.b,
        history=Params(
            *(np.stack([getattr(s.params, k) for s in states]) for k in ("c", "w", "b"))
        ),
        s=np.stack([s.pattern.s for s in states]),
        p=np.stack([s.pattern.p for s in states]),
        solves=np.array([r[1] for r in records]),
        seconds=np.array([r[2] for r in records]),
        projected=np.array([s.projected for s in states]),
        stalled=stalled,
    )


# ----------------------------------------------------------------------------------------------
# Multivariate inputs: hyperplanes instead of kinks (our 2-D demonstration of the follow-up's idea)
#
# For x ∈ R^d, neuron j is active on A_j = {i : w_j·x_i + b_j > 0}, a half-space cut of the data,
# and
# N(x_i) = Σ_j (a_j·x_i + β_j)·1[i ∈ A_j] is linear in (a_j, β_j) = c_j (w_j, b_j). The pattern
# least
# squares is a dense m × n(d+1) problem. A pattern is carried by one defining hyperplane per neuron
# (unit normal), which realises it by construction. Moves (ours): translate a hyperplane across the
# next one or two data points along its normal, flip its orientation, rotate it by ±ROTATION about
# the point nearest the data mean, or jump to the neuron's least-squares hyperplane.

ROTATION = np.pi / 12  # hyperplane rotation move, radians (d = 2)


@dataclass(frozen=True)
class Planes:
    """A network on R^d with unit-normal hyperplanes: c (n,), w (n, d), b (n,)."""

    c: np.ndarray
    w: np.ndarray
    b: np.ndarray


def plane_mask(X: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A_ji = 1[w_j·x_i + b_j > 0], shape (n, m) (also for a batch of hyperplanes (..., n, d))."""
    return np.einsum("...nd,md->...nm", w, X) + b[..., None] > 0


def plane_forward(X: np.ndarray, p: Planes) -> np.ndarray:
    """N(x_i) = Σ_j c_j σ(w_j·x_i + b_j), shape (m,)."""
    return np.maximum(X @ p.w.T + p.b, 0.0) @ p.c


def plane_pattern_fit(
    X: np.ndarray, y: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """(a (n, d), β (n,), L_A): minimum-norm least squares on the columns x_i·1_{A_j} and
    1_{A_j}."""
    m, n = mask.shape[1], mask.shape[0]
    design = np.concatenate(
        [np.einsum("nm,md->mnd", mask, X).reshape(m, -1), mask.T], axis=1
    ).astype(float)
    theta, *_ = scipy.linalg.lstsq(design, y, cond=m * np.finfo(float).eps)
    d = X.shape[1]
    loss = float(0.5 * np.mean((design @ theta - y) ** 2))
    return theta[: n * d].reshape(n, d), theta[n * d :], loss


def unit_planes(a: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, β)/‖a‖ per neuron (zero normals are left as they are)."""
    norm = np.linalg.norm(a, axis=-1)
    safe = np.where(norm > 0, norm, 1.0)
    return a / safe[..., None], beta / safe


def realise_planes(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tuple[Planes, float]:
    """Best network with the pattern of the defining hyperplanes (w, b), and its loss on that
    pattern.

    Each neuron takes its least-squares hyperplane ±(a_j, β_j)/‖a_j‖ when that has exactly the
    pattern's
    active set, and keeps its defining hyperplane otherwise; c is then refitted with hyperplanes
    fixed.
    """
    mask = plane_mask(X, w, b)
    a, beta, _ = plane_pattern_fit(X, y, mask)
    unit_w, unit_b = unit_planes(a, beta)
    keep_w, keep_b = w.copy(), b.copy()
    for sign in (1.0, -1.0):
        fits = np.all(plane_mask(X, sign * unit_w, sign * unit_b) == mask, axis=1) & (
            np.linalg.norm(a, axis=1) > 0
        )
        keep_w[fits], keep_b[fits] = sign * unit_w[fits], sign * unit_b[fits]
    features = np.maximum(X @ keep_w.T + keep_b, 0.0) * mask.T
    c, *_ = scipy.linalg.lstsq(features, y, cond=len(y) * np.finfo(float).eps)
    return Planes(c, keep_w, keep_b), float(0.5 * np.mean((features @ c - y) ** 2))


def plane_moves(
    X: np.ndarray, y: np.ndarray, p: Planes
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(neuron, new w, new b) for every translation by ±1, ±2 data levels, flip, ±rotation and
    least-squares jump."""
    n = len(p.c)
    levels = np.sort(X @ p.w.T, axis=0)  # (m, n): projections on each normal, ascending
    m = len(levels)
    padded = np.concatenate([levels[:1] - 1.0, levels, levels[-1:] + 1.0])
    position = np.array([np.searchsorted(levels[:, j], -p.b[j], side="right") for j in range(n)])
    neurons, ws, bs = [], [], []
    for step in STEPS:
        k = np.clip(position + step, 0, m)
        neurons.append(np.arange(n))
        ws.append(p.w)
        bs.append(-0.5 * (padded[k, np.arange(n)] + padded[k + 1, np.arange(n)]))
    neurons.append(np.arange(n)), ws.append(-p.w), bs.append(-p.b)
    centre = (
        X.mean(axis=0) - (X.mean(axis=0) @ p.w.T + p.b)[:, None] * p.w
    )  # point of each plane nearest the mean
    for angle in (ROTATION, -ROTATION):
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        turned = p.w @ rotation.T
        neurons.append(np.arange(n)), ws.append(turned), bs.append(-np.sum(turned * centre, axis=1))
    a, beta, _ = plane_pattern_fit(X, y, plane_mask(X, p.w, p.b))
    unit_w, unit_b = unit_planes(a, beta)
    neurons.append(np.arange(n)), ws.append(unit_w), bs.append(unit_b)
    return np.concatenate(neurons), np.concatenate(ws), np.concatenate(bs)


@dataclass
class PlanesResult:
    """A multivariate ANLS run: losses per iteration (index 0 = initialisation), networks, cost."""

    losses: np.ndarray
    networks: list[Planes]
    solves: np.ndarray
    seconds: np.ndarray
    stalled: bool


def anls_planes(
    X: np.ndarray, y: np.ndarray, start: Planes, *, iterations: int, tries: int = 32
) -> PlanesResult:
    """ANLS on inputs X (m, 2): score every hyperplane move by its pattern least squares, accept the
    first strict decrease."""
    began = time.perf_counter()
    norm = np.linalg.norm(start.w, axis=1)
    state = Planes(
        start.c * norm, start.w / norm[:, None], start.b / norm
    )  # the same network with unit normals
    loss = float(0.5 * np.mean((plane_forward(X, state) - y) ** 2))
    records = [(state, loss, 0, 0.0)]
    stalled = False
    for _ in range(iterations):
        neuron, ws, bs = plane_moves(X, y, state)
        trial_w = np.repeat(state.w[None], len(neuron), 0)
        trial_b = np.repeat(state.b[None], len(neuron), 0)
        trial_w[np.arange(len(neuron)), neuron], trial_b[np.arange(len(neuron)), neuron] = ws, bs
        scores = np.array(
            [
                plane_pattern_fit(X, y, plane_mask(X, tw, tb))[2]
                for tw, tb in zip(trial_w, trial_b, strict=True)
            ]
        )
        solves = len(neuron) + 1
        accepted = None
        for k in [int(k) for k in np.argsort(scores, kind="stable")[:tries] if scores[k] < loss]:
            candidate, candidate_loss = realise_planes(X, y, trial_w[k], trial_b[k])
            solves += 1
            if candidate_loss < loss:
                accepted = candidate, candidate_loss
                break
        if accepted is None:
            stalled = True
            break
        state, loss = accepted
        records.append((state, loss, records[-1][2] + solves, time.perf_counter() - began))
    return PlanesResult(
        losses=np.array([r[1] for r in records]),
        networks=[r[0] for r in records],
        solves=np.array([r[2] for r in records]),
        seconds=np.array([r[3] for r in records]),
        stalled=stalled,
    )
