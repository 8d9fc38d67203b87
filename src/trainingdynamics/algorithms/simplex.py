"""The Deep ReLU Simplex (Hinz & van de Geer 2020): exact L1 descent over one layer's vertices.

Fix every layer of a ReLU network except the first, θ = [W₁ | b₁] ∈ R^{n₁×(d+1)}, and the
data (x_i, y_i). The loss L(θ) = Σ_i |f_θ(x_i) − y_i| is then piecewise affine in θ. Per
data point ("branch") i every hidden unit u and the residual r_i = f_θ(x_i) − y_i have a
*boundary function* a_{iu}(θ) (the unit's preactivation, or r_i); the regions of constant
signs ("states") are polyhedral pieces on which every a_{iu} and L are affine. With the
states s fixed, the Jacobian of branch i factorises as

    ∂a_{iu}/∂θ = M_i[u, :] ⊗ x̃_i,   M_i = W_l D_{l−1} W_{l−1} ··· W₂ D₁  (rows of layer l),

with x̃_i = (x_i, 1) and D the 0/1 diagonal of active units, so normals, the loss gradient
g = Σ_i sign(r_i) M_i[r] ⊗ x̃_i and directional derivatives are cheap contractions of M.

At a vertex, p = dim θ boundaries vanish (the critical set C, normal matrix A). Releasing
constraint k into side ±, with the others kept at zero, gives the edge d = ±A⁻¹e_k where A is
built with the released unit's state set to ±; its slope ⟨g, d⟩ depends only on that state
(the states of the other critical units change normals and g by multiples of rows of A, which
are orthogonal to d). The algorithm walks to the steepest improving edge's next vertex (a
ratio test over all data × units) until no edge improves: a certified local minimum. With no
hidden layer it is the simplex method on the LAD linear program (Barrodale & Roberts 1973).

Degeneracy is structural here, not an accident of the data: all N hyperplanes of first-layer
unit j pass through w_j = b_j = 0 (the unit switched off), and those of units fed by a constant
unit meet too. At such vertices more than p boundaries vanish; the states of the extra ones decide
which region an edge enters and, through bent boundaries, the edge itself, so each candidate
edge is made consistent first and zero-length basis changes are counted, with a cycle guard
and a stall limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import linprog, minimize_scalar

from trainingdynamics.seeding import child_rng

Rule = Literal["steepest", "sequential_flip"]
EDGE_TOLERANCE = 1e-15  # improving edge: normalised slope < −EDGE_TOLERANCE · Σ_i ‖∇r_i‖
# a boundary "vanishes" at θ if |a(θ)| ≤ ZERO_TOLERANCE · ‖∇a‖ (1 + ‖θ‖) (the vertex check)
ZERO_TOLERANCE = 1e-8
DEGENERACY_TOLERANCE = (
    1e-11  # ... and passes through a degenerate vertex (round-off level) if below this
)
MAX_CONDITION = 1e12  # the critical normals have full rank if cond A is below this
STALL_PER_DIM = 20  # give up after 20·dim θ consecutive zero-length pivots at one degenerate vertex
PARALLEL_TOLERANCE = (
    1e-13  # a unit moves towards its boundary if ⟨∇a, d⟩ < −PARALLEL_TOLERANCE ‖∇a‖‖d‖
)


@dataclass(frozen=True)
class ReluNetwork:
    """A ReLU network with a trainable first layer ``theta0`` = [W₁ | b₁] and fixed upper layers."""

    theta0: np.ndarray  # (n₁, d + 1); with no hidden layer n₁ = 1 and the network is linear
    weights: tuple[
        np.ndarray, ...
    ]  # fixed W_l of layers 2..m, the last one (1, n_{m−1}) is the output
    biases: tuple[np.ndarray, ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        """Widths of layers 1..m (the last is the scalar output)."""
        return (self.theta0.shape[0], *(w.shape[0] for w in self.weights))

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """f(x_i) for the rows of X, by a plain forward pass."""
        z = np.asarray(X, dtype=np.float64) @ self.theta0[:, :-1].T + self.theta0[:, -1]
        for W, b in zip(self.weights, self.biases, strict=True):
            z = np.maximum(z, 0.0) @ W.T + b
        return z[:, 0]


def layer_problem(
    X: np.ndarray, network: ReluNetwork, layer: int
) -> tuple[np.ndarray, ReluNetwork]:
    """The features h_{ℓ−1}(X) of the fixed layers below ℓ, and the network from layer ℓ up.

    Training layer ℓ with the layers below fixed is first-layer training on their outputs:
    L(θ) = Σ_i |g_θ(h_{ℓ−1}(x_i)) − y_i| with θ = [W_ℓ | b_ℓ] and g the layers ℓ..m.
    """
    if not 1 <= layer <= len(network.sizes):
        raise ValueError(
            f"layer {layer} is not one of the network's layers 1..{len(network.sizes)}"
        )
    features = np.asarray(X, dtype=np.float64)
    if layer == 1:
        return features, network
    layers = [network.theta0] + [
        np.hstack([W, b[:, None]]) for W, b in zip(network.weights, network.biases, strict=True)
    ]
    for Wb in layers[: layer - 1]:
        features = np.maximum(features @ Wb[:, :-1].T + Wb[:, -1], 0.0)
    upper = ReluNetwork(
        layers[layer - 1], network.weights[layer - 1 :], network.biases[layer - 1 :]
    )
    return features, upper


def random_network(
    input_dim: int, hidden: tuple[int, ...], rng: np.random.Generator
) -> ReluNetwork:
    """All weights and biases i.i.d. U(−1, 1), as in the authors' ``randomModel``; layer 1 first."""
    sizes = (*hidden, 1)
    theta0 = rng.uniform(-1.0, 1.0, size=(sizes[0], input_dim + 1))
    weights, biases = [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        weights.append(rng.uniform(-1.0, 1.0, size=(fan_out, fan_in)))
        biases.append(rng.uniform(-1.0, 1.0, size=fan_out))
    return ReluNetwork(theta0, tuple(weights), tuple(biases))


class L1Landscape:
    """L(θ) = Σ_i |f_θ(x_i) − y_i| over the first layer θ, with its N·U boundary functions a_iu."""

    def __init__(self, X: np.ndarray, y: np.ndarray, network: ReluNetwork) -> None:
        X = np.asarray(X, dtype=np.float64)
        self.Xa = np.hstack([X, np.ones((X.shape[0], 1))])
        self.y = np.asarray(y, dtype=np.float64)
        self.network = network
        self.sizes = network.sizes
        self.n1 = self.sizes[0]
        self.units = sum(self.sizes)  # boundary functions per branch; the last one is the residual
        self.dim = network.theta0.size
        self.row_norms = np.linalg.norm(self.Xa, axis=1)
        if X.shape[1] + 1 != network.theta0.shape[1] or self.y.shape != (X.shape[0],):
            raise ValueError(
                f"data {X.shape}, {self.y.shape} do not match a first layer of shape "
                f"{network.theta0.shape}"
            )

    def values(self, theta: np.ndarray) -> np.ndarray:
        """All boundary functions a_{iu}(θ), shape (N, U): preactivations, then the residual."""
        z = self.Xa @ theta.reshape(self.n1, -1).T
        layers = [z]
        for W, b in zip(self.network.weights, self.network.biases, strict=True):
            z = np.maximum(z, 0.0) @ W.T + b
            layers.append(z)
        layers[-1] = layers[-1] - self.y[:, None]
        return np.hstack(layers)

    def loss(self, theta: np.ndarray) -> float:
        """L(θ) by a direct forward pass."""
        return float(np.abs(self.values(theta)[:, -1]).sum())

    def products(self, states: np.ndarray) -> np.ndarray:
        """M_i for branches with the given states (B, U): ∂a_{iu}/∂z₁ of shape (B, U, n₁)."""
        m = np.broadcast_to(np.eye(self.n1), (states.shape[0], self.n1, self.n1))
        blocks, start = [m], 0
        for size, W in zip(self.sizes[:-1], self.network.weights, strict=True):
            active = states[:, start : start + size, None]
            m = np.einsum("vw,bwj->bvj", W, active * m)
            blocks.append(m)
            start += size
        return np.concatenate(blocks, axis=1)

    def normals(self, M: np.ndarray, branches: np.ndarray, units: np.ndarray) -> np.ndarray:
        """∇_θ a_iu = M_i[u] ⊗ x̃_i for the listed (branch, unit) pairs, given their M (k, U, n₁)."""
        rows = M[np.arange(len(units)), units]
        return np.einsum("kj,ka->kja", rows, self.Xa[branches]).reshape(len(units), self.dim)

    def gradient(self, M: np.ndarray, states: np.ndarray) -> np.ndarray:
        """∇L = Σ_i sign(r_i) M_i[r] ⊗ x̃_i in the region with the given states."""
        signs = 2.0 * states[:, -1] - 1.0
        return ((signs[:, None] * M[:, -1, :]).T @ self.Xa).ravel()

    def branch_gradients(
        self, M: np.ndarray, states: np.ndarray, branches: np.ndarray
    ) -> np.ndarray:
        """Each listed branch's term sign(r_i) M_i[r] ⊗ x̃_i of ∇L, shape (B, p)."""
        signs = 2.0 * states[:, -1] - 1.0
        return np.einsum("bj,ba->bja", signs[:, None] * M[:, -1, :], self.Xa[branches]).reshape(
            len(branches), self.dim
        )

    def rates(self, M: np.ndarray, direction: np.ndarray) -> np.ndarray:
        """Directional derivatives ⟨∇a_{iu}, d⟩ of all boundary functions, shape (N, U)."""
        z = self.Xa @ direction.reshape(self.n1, -1).T
        return np.einsum("iuj,ij->iu", M, z)

    def normal_norms(self, M: np.ndarray, branches: np.ndarray | slice = slice(None)) -> np.ndarray:
        """‖∇a_{iu}‖ = ‖M_i[u]‖ ‖x̃_i‖ for the given branches' M (all by default), shape (B, U)."""
        return np.sqrt(np.einsum("iuj,iuj->iu", M, M)) * self.row_norms[branches, None]

    @staticmethod
    def residual_scale(norms: np.ndarray) -> float:
        """Σ_i ‖∇r_i‖ from the normal norms (N, U): the size of ∇L's terms (for tolerances)."""
        return float(norms[:, -1].sum())


@dataclass
class Vertex:
    """A vertex: θ, all units' states, products M, normal norms, critical set (ids i·U + u)."""

    theta: np.ndarray
    states: np.ndarray
    M: np.ndarray
    norms: np.ndarray  # ‖∇a_{iu}‖ under these states, (N, U)
    critical: np.ndarray
    values: np.ndarray


def ratio_test(
    land: L1Landscape,
    theta_values: np.ndarray,
    M: np.ndarray,
    norms: np.ndarray,
    states: np.ndarray,
    direction: np.ndarray,
    exclude: np.ndarray,
) -> tuple[float, np.ndarray]:
    """First boundary hit along θ + τd (τ ≥ 0), states fixed: (τ, flat ids tied, ascending)."""
    beta = land.rates(M, direction)
    side = 2.0 * states - 1.0
    toward = side * beta < -PARALLEL_TOLERANCE * norms * np.linalg.norm(direction)
    toward.flat[exclude] = False
    if not toward.any():
        return np.inf, np.array([], dtype=int)
    ids = np.flatnonzero(toward)
    steps = np.maximum(side.flat[ids] * theta_values.flat[ids], 0.0) / (
        -side.flat[ids] * beta.flat[ids]
    )
    best = steps.min()
    tied = ids[steps <= best * (1 + 1e-9) + 1e-15]
    return float(best), np.sort(tied)


def set_branch_state(
    land: L1Landscape, vertex: Vertex, flat_id: int, positive: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """States, products M and normal norms after setting unit ``flat_id``'s state."""
    branch = flat_id // land.units
    states = vertex.states.copy()
    states.flat[flat_id] = positive
    M, norms = vertex.M.copy(), vertex.norms.copy()
    M[branch] = land.products(states[branch : branch + 1])[0]
    norms[branch] = land.normal_norms(M[branch : branch + 1], slice(branch, branch + 1))[0]
    return states, M, norms


def null_direction(normals: np.ndarray, dim: int) -> np.ndarray:
    """A unit vector orthogonal to all rows of ``normals``."""
    if len(normals) == 0:
        return np.eye(dim)[0]
    _, _, vt = np.linalg.svd(normals)
    return vt[len(normals)]


def independent_hit(
    land: L1Landscape, M: np.ndarray, critical: np.ndarray, hits: np.ndarray
) -> int | None:
    """The lowest tied boundary whose normal is independent of the critical ones, or ``None``."""
    for hit in hits:
        if critical_condition(land, M, np.append(critical, hit)) < MAX_CONDITION:
            return int(hit)
    return None


def descend_to_vertex(land: L1Landscape, theta0: np.ndarray) -> Vertex:
    """Phase 1: projected steepest descent, adding each boundary hit, until dim θ of them vanish."""
    theta = theta0.ravel().astype(np.float64).copy()
    values = land.values(theta)
    states = values > 0
    M = land.products(states)
    norms = land.normal_norms(M)
    critical: list[int] = []
    passive: list[
        int
    ] = []  # vanishing boundaries with normals in the critical span: they stay at zero
    while len(critical) < land.dim:
        crit = np.array(critical, dtype=int)
        normals = land.normals(M[crit // land.units], crit // land.units, crit % land.units)
        g = land.gradient(M, states)
        if len(crit):
            q, _ = np.linalg.qr(normals.T)
            g = g - q @ (q.T @ g)
        candidates = [-g] if np.linalg.norm(g) > 1e-12 * land.residual_scale(norms) else []
        flat = null_direction(normals, land.dim)
        candidates += [
            flat,
            -flat,
        ]  # the loss is flat on the face if g is in the span of the normals
        for direction in candidates:
            tau, hits = ratio_test(
                land, values, M, norms, states, direction, np.append(crit, passive).astype(int)
            )
            if np.isfinite(tau):
                break
        else:
            raise RuntimeError(
                "phase 1 found no boundary in any direction: the region contains a line"
            )
        theta = theta + tau * direction
        hit = independent_hit(land, M, crit, hits)
        if hit is None:
            passive.extend(hits.tolist())
        else:
            critical.append(hit)
        values = land.values(theta)
    crit = np.array(critical, dtype=int)
    theta = snap_to_vertex(land, theta, values, M, crit)
    return Vertex(theta, states, M, norms, crit, land.values(theta))


def snap_to_vertex(
    land: L1Landscape, theta: np.ndarray, values: np.ndarray, M: np.ndarray, critical: np.ndarray
) -> np.ndarray:
    """θ − A⁻¹ a_C(θ): the exact intersection of the critical boundaries in θ's region.

    The a_C are affine there, so one Newton step removes the drift of phase 1: a projected
    gradient that nearly lies in the span of the normals keeps an error ~ε‖g‖ off the face, which
    long steps carry into the critical values (e.g. 2e-8 at the 12th). Left there, the vertex sits
    off the point where, say, a unit's w = b = 0 hyperplanes all meet, and a short first pivot
    crosses boundaries its edge assumed crossed already: the tracked slope is not the region's.
    """
    branch = critical // land.units
    A = land.normals(M[branch], branch, critical % land.units)
    return theta - np.linalg.solve(A, values.flat[critical])


@dataclass(frozen=True)
class Edges:
    """The 2p edges at a vertex: edge 2k + s releases critical unit k into side s (1 = positive)."""

    directions: np.ndarray  # (2p, p)
    slopes: np.ndarray  # (2p,) ⟨g, d⟩ with g of the region the edge enters
    normalised: np.ndarray  # slopes / ‖d‖


def edges(land: L1Landscape, vertex: Vertex) -> Edges:
    """All 2p edges and their slopes; A and g are rebuilt from the states each edge assumes."""
    crit = vertex.critical
    p = len(crit)
    branch, unit = crit // land.units, crit % land.units
    released = np.repeat(np.arange(p), 2)
    positive = np.tile([False, True], p)
    variant_states = vertex.states[branch[released]].copy()
    variant_states[np.arange(2 * p), unit[released]] = positive
    variant_M = land.products(
        variant_states
    )  # (2p, U, n₁): the released unit's branch with its state set
    A = land.normals(vertex.M[branch], branch, unit)
    A_variants = np.repeat(A[None], 2 * p, axis=0)
    same_branch = (
        branch[released][:, None] == branch[None, :]
    )  # (2p, p): critical rows the variant changes
    v_idx, c_idx = np.nonzero(same_branch)
    A_variants[v_idx, c_idx] = land.normals(variant_M[v_idx], branch[c_idx], unit[c_idx])
    touched = branch[released]
    g_variants = (
        land.gradient(vertex.M, vertex.states)[None]
        - land.branch_gradients(vertex.M[touched], vertex.states[touched], touched)
        + land.branch_gradients(variant_M, variant_states, touched)
    )
    rhs = np.zeros((2 * p, p))
    rhs[np.arange(2 * p), released] = np.where(positive, 1.0, -1.0)
    directions = solve_or_nan(A_variants, rhs)
    slopes = np.einsum("ep,ep->e", g_variants, directions)
    normalised = np.nan_to_num(slopes / np.linalg.norm(directions, axis=1), nan=np.inf)
    return Edges(directions, slopes, normalised)


def solve_or_nan(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched A x = b; rows of singular systems are NaN.

    A system is singular when the released unit's side makes a downstream critical boundary
    vanish identically (all its inputs dead): that "edge" is no edge and is never followed.
    """
    try:
        return np.linalg.solve(A, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        x = np.full(b.shape, np.nan)
        for i in range(len(A)):
            try:
                x[i] = np.linalg.solve(A[i], b[i])
            except np.linalg.LinAlgError:
                pass
        return x


def improving_edges(edge_set: Edges, tolerance: float) -> list[int]:
    """Improving edges (normalised slope < −tolerance), steepest first (ties: lowest index)."""
    slopes = edge_set.normalised
    improving = np.flatnonzero(slopes < -tolerance)
    return improving[np.argsort(slopes[improving], kind="stable")].tolist()


def sequential_flip_edge(
    land: L1Landscape, vertex: Vertex, edge_set: Edges, tolerance: float
) -> tuple[Vertex, int | None]:
    """The authors' pricing: the steepest improving edge into the critical units' assumed sides; if
    none, flip the assumed states one at a time (flips accumulate) until the flipped unit's edge
    improves."""
    assumed = vertex.states.flat[vertex.critical].astype(int)
    own = 2 * np.arange(len(assumed)) + assumed
    slopes = edge_set.normalised[own]
    if slopes.min() < -tolerance:
        return vertex, int(own[np.argmin(slopes)])
    for k in range(len(assumed)):
        if edge_set.normalised[2 * k + 1 - assumed[k]] < -tolerance:
            for j in range(k):
                states, M, norms = set_branch_state(
                    land, vertex, int(vertex.critical[j]), not assumed[j]
                )
                vertex = Vertex(vertex.theta, states, M, norms, vertex.critical, vertex.values)
            return vertex, 2 * k + 1 - int(assumed[k])
    return vertex, None


def vanishing(vertex: Vertex, tolerance: float) -> np.ndarray:
    """Which boundary functions vanish at the vertex: |a| ≤ tolerance · ‖∇a‖ (1 + ‖θ‖), (N, U)."""
    norms, values, theta = vertex.norms, vertex.values, vertex.theta
    return (norms > 0) & (np.abs(values) <= tolerance * norms * (1.0 + np.linalg.norm(theta)))


@dataclass(frozen=True)
class Move:
    """An edge with the states of the region it enters: direction, slope ⟨g, d⟩, states, M."""

    states: np.ndarray
    M: np.ndarray
    norms: np.ndarray
    direction: np.ndarray
    slope: float


def edge_move(land: L1Landscape, vertex: Vertex, edge_set: Edges, choice: int) -> Move:
    """Edge ``choice`` as computed by :func:`edges`, the released unit's state set to its side."""
    k, positive = divmod(choice, 2)
    states, M, norms = set_branch_state(land, vertex, int(vertex.critical[k]), bool(positive))
    return Move(states, M, norms, edge_set.directions[choice], float(edge_set.slopes[choice]))


def directed_edge(
    land: L1Landscape, vertex: Vertex, edge_set: Edges, choice: int, zero: np.ndarray
) -> Move | None:
    """Edge ``choice`` with every other vanishing unit (mask ``zero``) set to the side it moves to.

    At a degenerate vertex (extra vanishing units, e.g. a first-layer unit at w = b = 0, where all
    its N hyperplanes meet) their states change the normals of bent critical boundaries downstream
    and so the edge: iterate to a consistent assignment (one round per layer suffices). ``None`` if
    that does not settle or the edge does not exist (A singular).
    """
    move = edge_move(land, vertex, edge_set, choice)
    states, M, norms = move.states, move.M, move.norms
    branch, unit = np.divmod(vertex.critical, land.units)
    rhs = np.zeros(land.dim)
    rhs[choice // 2] = 1.0 if choice % 2 else -1.0
    for _ in range(len(land.sizes) + 1):
        A = land.normals(M[branch], branch, unit)
        try:
            direction = np.linalg.solve(A, rhs)
        except np.linalg.LinAlgError:
            return None
        beta = land.rates(M, direction)
        moving = np.abs(beta) > PARALLEL_TOLERANCE * norms * np.linalg.norm(direction)
        flip = zero & moving & ((beta > 0) != states)
        if not flip.any():
            if np.linalg.cond(A) > MAX_CONDITION:
                return None
            return Move(states, M, norms, direction, float(land.gradient(M, states) @ direction))
        states[flip] = beta[flip] > 0
        rows = np.unique(np.nonzero(flip)[0])
        M[rows] = land.products(states[rows])
        norms[rows] = land.normal_norms(M[rows], rows)
    return None


def advance(land: L1Landscape, vertex: Vertex, k: int, move: Move) -> tuple[Vertex, float, int]:
    """Walk along ``move`` (releasing critical position k) to the next boundary: (vertex, τ, ties).

    Among tied boundaries the lowest id whose normal keeps A well conditioned enters.
    """
    tau, hits = ratio_test(
        land, vertex.values, move.M, move.norms, move.states, move.direction, vertex.critical
    )
    if not np.isfinite(tau):
        raise RuntimeError(
            "an improving edge without a boundary ahead: the loss would be unbounded below"
        )
    critical = vertex.critical.copy()
    hit = independent_hit(land, move.M, np.delete(critical, k), hits)
    critical[k] = hits[0] if hit is None else hit
    theta = vertex.theta + tau * move.direction
    return (
        Vertex(theta, move.states, move.M, move.norms, critical, land.values(theta)),
        tau,
        len(hits),
    )


def step(
    land: L1Landscape, vertex: Vertex, edge_set: Edges, order: list[int], tolerance: float
) -> tuple[Vertex, float, int, float] | None:
    """The next pivot along the candidate edges ``order``: (vertex, τ, ties, slope); ``None`` at a
    local minimum.

    At a non-degenerate vertex: the first candidate. At a degenerate one (extra vanishing units)
    each candidate is first made consistent (:func:`directed_edge`) and the first that descends
    with positive length is taken; if none does, the plain simplex pivot along the first candidate
    changes the basis without moving (τ = 0). With no candidate left, every edge is tried that way
    before the vertex is declared a local minimum.
    """
    zero = vanishing(vertex, DEGENERACY_TOLERANCE)
    zero.flat[vertex.critical] = False
    if zero.any():
        finite = np.flatnonzero(np.isfinite(edge_set.normalised))
        candidates = (
            order or finite[np.argsort(edge_set.normalised[finite], kind="stable")].tolist()
        )
        length = 1e-12 * (1.0 + np.linalg.norm(vertex.theta))
        for choice in candidates:
            move = directed_edge(land, vertex, edge_set, choice, zero)
            if move is None or not move.slope < -tolerance * np.linalg.norm(move.direction):
                continue
            new, tau, tied = advance(land, vertex, choice // 2, move)
            if tau * np.linalg.norm(move.direction) > length:
                return new, tau, tied, move.slope
    if not order:
        return None
    move = edge_move(land, vertex, edge_set, order[0])
    return (*advance(land, vertex, order[0] // 2, move), move.slope)


def critical_condition(land: L1Landscape, M: np.ndarray, critical: np.ndarray) -> float:
    """Condition number of the normals of the listed boundaries (A for the critical set)."""
    branch = critical // land.units
    return float(np.linalg.cond(land.normals(M[branch], branch, critical % land.units)))


@dataclass
class SimplexTrace:
    """One Deep ReLU Simplex run: the loss and θ at every vertex, checks, and how it ended."""

    losses: np.ndarray  # tracked affine loss at vertex k = 0..K (vertex 0: the end of phase 1)
    direct_losses: np.ndarray  # the same by a direct forward pass
    thetas: np.ndarray  # (K + 1, p) vertex positions
    zero_counts: np.ndarray  # boundary functions vanishing (relative ZERO_TOLERANCE) at each vertex
    critical_offsets: (
        np.ndarray
    )  # max over the critical set of |a| / (‖∇a‖ (1 + ‖θ‖)) at each vertex
    conditions: np.ndarray  # condition number of the critical normals A at each vertex
    start_loss: float  # L(θ₀) before phase 1
    # "local minimum"; "stuck" (no improving edge, some edge undefined); "max_pivots"; "cycle";
    # "stalled"
    status: str
    final_min_slope: float  # min normalised edge slope at the last vertex, rebuilt from scratch
    ties: int  # pivots whose ratio test hit several boundaries at once
    degenerate: int  # pivots of length zero
    seconds: float
    landscape: L1Landscape = field(repr=False)

    @property
    def theta(self) -> np.ndarray:
        """The final first layer [W₁ | b₁]."""
        return self.thetas[-1].reshape(self.landscape.n1, -1)

    @property
    def certified(self) -> bool:
        """Whether the run ended at a vertex with no improving edge (a local minimum)."""
        return self.status == "local minimum"

    @property
    def pivots(self) -> int:
        """Number of pivots K."""
        return len(self.losses) - 1

    @property
    def step_lengths(self) -> np.ndarray:
        """‖θ_{k+1} − θ_k‖ for k = 0..K−1."""
        return np.linalg.norm(np.diff(self.thetas, axis=0), axis=1)

    @property
    def pivots_per_second(self) -> float:
        """Pivots per second of wall-clock time."""
        return self.pivots / self.seconds


def vertex_checks(land: L1Landscape, vertex: Vertex) -> tuple[int, float, float]:
    """(boundaries vanishing at θ, largest relative offset of a critical one, cond A) at a vertex"""
    norms = vertex.norms.flat[vertex.critical]
    offsets = np.abs(vertex.values.flat[vertex.critical]) / (
        norms * (1.0 + np.linalg.norm(vertex.theta))
    )
    zeros = int(vanishing(vertex, ZERO_TOLERANCE).sum())
    return zeros, float(offsets.max()), critical_condition(land, vertex.M, vertex.critical)


def certificate(land: L1Landscape, vertex: Vertex) -> float:
    """Min normalised edge slope at ``vertex``, M rebuilt from the states (no incremental state)."""
    M = land.products(vertex.states)
    fresh = Vertex(
        vertex.theta,
        vertex.states,
        M,
        land.normal_norms(M),
        vertex.critical,
        land.values(vertex.theta),
    )
    return float(edges(land, fresh).normalised.min())


def vertex_key(vertex: Vertex) -> tuple[bytes, bytes]:
    """The vertex's combinatorial identity: its critical set and the states of all units."""
    return np.sort(vertex.critical).tobytes(), np.packbits(vertex.states).tobytes()


def simplex(
    land: L1Landscape, theta0: np.ndarray, *, max_pivots: int, rule: Rule = "steepest"
) -> SimplexTrace:
    """Phase 1 to a vertex, then pivots until no edge improves (or ``max_pivots``, cycle, stall).

    ``rule="steepest"`` follows the steepest normalised edge among all 2·dim θ;
    ``"sequential_flip"`` is the authors' pricing (:func:`sequential_flip_edge`). Both stop only
    when no edge improves.
    """
    clock = time.perf_counter()
    vertex = descend_to_vertex(land, theta0)
    loss = land.loss(vertex.theta)
    losses, direct, thetas, checks = [loss], [loss], [vertex.theta], [vertex_checks(land, vertex)]
    ties = degenerate = 0
    visited: set[tuple[bytes, bytes]] = set()
    status = "max_pivots"
    for _ in range(max_pivots):
        edge_set = edges(land, vertex)
        tolerance = EDGE_TOLERANCE * land.residual_scale(vertex.norms)
        if rule == "steepest":
            order = improving_edges(edge_set, tolerance)
        else:
            vertex, choice = sequential_flip_edge(land, vertex, edge_set, tolerance)
            order = [] if choice is None else [choice]
        taken = step(land, vertex, edge_set, order, tolerance)
        if taken is None:
            status = "local minimum" if np.isfinite(edge_set.normalised).all() else "stuck"
            break
        vertex, tau, tied, slope = taken
        loss += tau * slope
        ties += tied > 1
        if np.linalg.norm(vertex.theta - thetas[-1]) <= 1e-12 * (
            1.0 + np.linalg.norm(vertex.theta)
        ):
            degenerate += 1
            key = vertex_key(vertex)
            if key in visited or len(visited) >= STALL_PER_DIM * land.dim:
                status = "cycle" if key in visited else "stalled"
                break
            visited.add(key)
        else:
            visited.clear()
        losses.append(loss)
        direct.append(float(np.abs(vertex.values[:, -1]).sum()))
        thetas.append(vertex.theta)
        checks.append(vertex_checks(land, vertex))
    zeros, offsets, conditions = (np.array(column) for column in zip(*checks, strict=True))
    return SimplexTrace(
        losses=np.array(losses),
        direct_losses=np.array(direct),
        thetas=np.array(thetas),
        zero_counts=zeros,
        critical_offsets=offsets,
        conditions=conditions,
        start_loss=land.loss(theta0.ravel()),
        status=status,
        final_min_slope=certificate(land, vertex),
        ties=int(ties),
        degenerate=int(degenerate),
        seconds=time.perf_counter() - clock,
        landscape=land,
    )


def deep_relu_simplex(
    X: np.ndarray,
    y: np.ndarray,
    hidden: tuple[int, ...],
    *,
    seed: int,
    max_pivots: int,
    rule: Rule = "steepest",
    layer: int = 1,
) -> SimplexTrace:
    """Minimise Σ_i |f(x_i) − y_i| over one layer of a random U(−1, 1) ReLU net, widths ``hidden``.

    ``hidden=()`` is the linear model (LAD regression). The network, including the starting
    layer θ₀, is drawn from the stream ``child_rng(seed, "network")``; the other layers stay
    fixed. ``layer`` ℓ > 1 trains layer ℓ on the features of the layers below
    (:func:`layer_problem`); the trace's landscape is then over those features.
    """
    network = random_network(np.shape(X)[1], tuple(hidden), child_rng(seed, "network"))
    features, upper = layer_problem(X, network, layer)
    land = L1Landscape(features, y, upper)
    return simplex(land, upper.theta0, max_pivots=max_pivots, rule=rule)


def lad_linprog(X: np.ndarray, y: np.ndarray) -> float:
    """The LAD optimum min_w Σ_i |x̃_i·w − y_i|: the LP min 1ᵀ(u + v), X̃w + u − v = y, u, v ≥ 0."""
    n, d = np.shape(X)
    Xa = np.hstack([X, np.ones((n, 1))])
    cost = np.concatenate([np.zeros(d + 1), np.ones(2 * n)])
    equality = np.hstack([Xa, np.eye(n), -np.eye(n)])
    bounds = [(None, None)] * (d + 1) + [(0, None)] * (2 * n)
    result = linprog(cost, A_eq=equality, b_eq=y, bounds=bounds, method="highs")
    if not result.success:
        raise RuntimeError(f"linprog failed: {result.message}")
    return float(result.fun)


def boundary_crossings(
    land: L1Landscape, theta: np.ndarray, direction: np.ndarray, radius: float
) -> int:
    """Exact boundary crossings on the segment θ ± radius·u (u = d/‖d‖), walked by ratio tests."""
    u = direction / np.linalg.norm(direction)
    point = theta.ravel() - radius * u
    values = land.values(point)
    states = values > 0
    M = land.products(states)
    norms = land.normal_norms(M)
    left, count, nothing = 2.0 * radius, 0, np.array([], dtype=int)
    while True:
        tau, hits = ratio_test(land, values, M, norms, states, u, nothing)
        if tau > left:
            return count
        hit = hits[0]
        point, left, count = point + tau * u, left - tau, count + 1
        branch = hit // land.units
        states.flat[hit] = not states.flat[hit]
        M[branch] = land.products(states[branch : branch + 1])[0]
        norms[branch] = land.normal_norms(M[branch : branch + 1], slice(branch, branch + 1))[0]
        values = land.values(point)


def _values_at_knots(
    land: L1Landscape, alpha: np.ndarray, beta: np.ndarray, knots: np.ndarray, depth: int
) -> np.ndarray:
    """a_{iu}(c + t u) of the units of layer ``depth`` (0: first) at the knots t, (L, N, units, K).

    Exact where the knots include every kink of the layers below (the zeros of their units).
    """
    z = alpha[..., None] + beta[..., None] * knots[:, :, None, :]
    for W, b in zip(land.network.weights[:depth], land.network.biases[:depth], strict=True):
        z = np.einsum("vw,liwk->livk", W, np.maximum(z, 0.0)) + b[:, None]
    if depth == len(land.sizes) - 1:
        z = z - land.y[None, :, None, None]
    return z


def line_crossings(
    land: L1Landscape, centres: np.ndarray, directions: np.ndarray, radius: float
) -> np.ndarray:
    """Exact boundary crossings on the segments c ± radius·u (u = d/‖d‖), all lines at once.

    Along a line every a_{iu}(c + tu) is piecewise linear in t, with kinks only where a unit of
    a lower layer changes sign. Layer by layer: evaluate the layer's units at the knots found so
    far (they are linear between knots), count the sign changes between consecutive knots and add
    their zeros t = t_a − a (t_b − t_a)/(b − a) as knots for the layers above. Returns (L,) counts.
    """
    centres, directions = np.atleast_2d(centres), np.atleast_2d(directions)
    u = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    lines, n1 = len(centres), land.n1
    alpha = np.einsum("ia,lja->lij", land.Xa, centres.reshape(lines, n1, -1))
    beta = np.einsum("ia,lja->lij", land.Xa, u.reshape(lines, n1, -1))
    knots = np.broadcast_to(np.array([-radius, radius]), (lines, len(land.y), 2)).copy()
    counts = np.zeros(lines, dtype=int)
    for depth in range(len(land.sizes)):
        z = _values_at_knots(land, alpha, beta, knots, depth)
        a, b = z[..., :-1], z[..., 1:]
        change = (a > 0) != (b > 0)
        counts += change.sum(axis=(1, 2, 3))
        ta, tb = knots[:, :, None, :-1], knots[:, :, None, 1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            zeros = np.where(change, ta - a * (tb - ta) / (b - a), radius)
        knots = np.sort(np.concatenate([knots, zeros.reshape(lines, len(land.y), -1)], -1), -1)
        knots = knots[..., : 1 + int((knots < radius).sum(axis=-1).max())]
    return counts


def boundary_density(
    land: L1Landscape, theta: np.ndarray, radius: float, rays: int, rng: np.random.Generator
) -> float:
    """Boundary crossings per unit length on ``rays`` random lines through θ of length 2·radius."""
    directions = rng.standard_normal((rays, land.dim))
    centres = np.broadcast_to(theta.ravel(), directions.shape)
    return float(np.mean(line_crossings(land, centres, directions, radius)) / (2.0 * radius))


def offset_lines(
    theta: np.ndarray, offset: float, lines: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random lines at distance ``offset`` from θ: centres θ + offset·v and unit directions u ⊥ v.

    u and v are drawn uniformly on the sphere (v then orthogonalised against u), so the line's
    closest point to θ is its centre.
    """
    u = rng.standard_normal((lines, theta.size))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = rng.standard_normal((lines, theta.size))
    v -= np.sum(v * u, axis=1, keepdims=True) * u
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return theta.ravel() + offset * v, u


def line_density(
    land: L1Landscape,
    theta: np.ndarray,
    offset: float,
    radius: float,
    lines: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Crossings per unit length on ``lines`` segments of length 2·radius at ``offset`` from θ."""
    centres, directions = offset_lines(theta, offset, lines, rng)
    return line_crossings(land, centres, directions, radius) / (2.0 * radius)


def distinct_vertices(trace: SimplexTrace) -> np.ndarray:
    """Indices of the vertices that differ from their predecessor (drops zero-length pivots)."""
    moved = trace.step_lengths > 1e-12 * (1.0 + np.linalg.norm(trace.thetas[1:], axis=1))
    return np.concatenate([[0], 1 + np.flatnonzero(moved)])


Q_MAX = (
    1.0 - 1e-5
)  # largest rate q the limit fit considers; a best fit at this cap has no finite limit


@dataclass(frozen=True)
class LimitFit:
    """L_k ≈ L* + C qᵏ fitted by least squares with L* constrained to [0, ``upper``].

    ``finite`` is False when the best q sits at the cap ``Q_MAX``: the data are then
    indistinguishable from a straight (non-saturating) decay, which has no finite limit,
    and ``limit`` is only the constraint's bound.
    """

    limit: float
    rate: float
    scale: float
    finite: bool


def fit_limit(k: np.ndarray, losses: np.ndarray, upper: float) -> LimitFit:
    """Least-squares L* + C qᵏ with 0 ≤ L* ≤ ``upper`` (a 3-parameter fit, by variable projection).

    For each q the model is linear in (L*, C); the residual is a convex quadratic in them, so the
    constrained optimum clips the unconstrained L* to [0, ``upper``] and refits C. q is searched
    on a log grid of 1 − q in [1e-5, 0.9] and refined by a bounded scalar minimisation.
    """
    k = np.asarray(k, dtype=float) - k[0]
    losses = np.asarray(losses, dtype=float)

    def linear_part(q: float) -> tuple[float, float, float]:
        basis = q**k
        (limit, scale), *_ = np.linalg.lstsq(
            np.column_stack([np.ones_like(k), basis]), losses, rcond=None
        )
        if not 0.0 <= limit <= upper:
            limit = min(max(limit, 0.0), upper)
            scale = float(basis @ (losses - limit) / (basis @ basis))
        return float(limit), float(scale), float(np.sum((limit + scale * basis - losses) ** 2))

    grid = 1.0 - np.geomspace(1e-5, 0.9, 200)
    best = int(np.argmin([linear_part(q)[2] for q in grid]))
    bracket = (grid[min(best + 1, len(grid) - 1)], grid[max(best - 1, 0)])
    q = float(
        minimize_scalar(
            lambda q: linear_part(q)[2], bounds=bracket, method="bounded", options={"xatol": 1e-14}
        ).x
    )
    limit, scale, _ = linear_part(q)
    return LimitFit(limit, q, scale, finite=bool(1.0 - q > 1.01 * (1.0 - Q_MAX)))


def aitken_limit(losses: np.ndarray) -> float:
    """Aitken's Δ² on the means B₁, B₂, B₃ of the last three equal blocks of ``losses``.

    L̂* = B₃ − (B₃ − B₂)² / (B₃ − 2B₂ + B₁), exact for L* + C qᵏ (the block means are geometric
    too, with ratio q^m), clipped to [0, last loss]; 0 if the decrease does not slow down
    (B₃ − 2B₂ + B₁ ≤ 0: the extrapolation has no finite limit).
    """
    losses = np.asarray(losses, dtype=float)
    m = len(losses) // 3
    if m == 0:
        raise ValueError(f"need at least 3 losses, got {len(losses)}")
    b1, b2, b3 = losses[len(losses) - 3 * m :].reshape(3, m).mean(axis=1)
    curvature = b3 - 2.0 * b2 + b1
    if curvature <= 0.0:
        return 0.0
    return float(min(max(b3 - (b3 - b2) ** 2 / curvature, 0.0), losses[-1]))
