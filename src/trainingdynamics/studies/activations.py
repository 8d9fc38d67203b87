"""Activation functions and the smallest eigenvalue of the Gram matrix (Panigrahi, Shetty & Goyal 2020).

A wide two-layer network f(x) = Σ_k a_k φ(w_k·x), a_k = ±1/√m fixed, trained on its first layer
by full-batch GD with step η on the summed loss ½‖u − y‖² has residual dynamics
u_{t+1} − y ≈ (I − ηH)(u_t − y), where H_ij = (1/m) Σ_k φ'(w_k·x_i) φ'(w_k·x_j) x_i·x_j tends to
G_ij = E_w[φ'(w·x_i) φ'(w·x_j)] x_i·x_j as m → ∞. The component of the residual along the i-th
eigenvector of G decays as (1 − ηλ_i)^t, so λ_min(G) sets the speed of training. For activations
with a finite order of smoothness (ReLU, SELU and ELU with α ≠ 1: φ' jumps; ELU with α = 1: φ''
jumps) every eigenvalue is at least polynomial in the separation of the data; for smooth ones
(tanh, swish, polynomials) λ_min collapses when the data span a low-dimensional subspace.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from trainingdynamics.claims import Claim, at_least, at_most
from trainingdynamics.diagnostics.gram import (
    ACTIVATIONS,
    Activation,
    RandomFeatureNetwork,
    empirical_gram,
    gram_matrix,
    montecarlo_gram,
    sphere_in_subspace,
)
from trainingdynamics.device import resolve_device
from trainingdynamics.profiles import ParameterError, require_in_range, require_positive, resolve
from trainingdynamics.seeding import seed_everything, torch_generator
from trainingdynamics.training import Step, train

TITLE = "Activation functions and the smallest eigenvalue of the Gram matrix"
CLAIM = (
    "Kinked activations keep λ_min(G) polynomially large on low-dimensional data, smooth ones let it vanish; "
    "GD on a wide net converges along G's eigenvectors at rates ηλ_i."
)

SMOOTH = ("tanh", "swish", "quadratic")
RESOLUTION = 1e-14  # relative accuracy of an entry of G; eigenvalues below n·RESOLUTION·λ_max are round-off
MONTE_CARLO, SUBSPACE, SIZE_SWEEP, TRAINING, DEPTH = range(5)  # the study's parts, for rng_for
MIN_CONTENT = 0.1  # a direction's rate is measurable when its initial residual is ≥ this fraction of the largest


@dataclass(frozen=True)
class Config:
    """Data sizes, the Monte Carlo and width checks, the training run and the depth sweep."""

    n_points: int = 100
    ambient_dim: int = 50
    subspace_dims: tuple[int, ...] = (2, 3, 4, 6, 10, 20, 50)
    sweep_dim: int = 3
    sweep_points: tuple[int, ...] = (10, 20, 40, 80, 160, 320)
    elu_alphas: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
    mc_points: int = 20
    mc_dim: int = 5
    mc_samples: int = 100_000
    widths: tuple[int, ...] = (256, 1024, 4096, 16384)
    width_repeats: int = 4
    train_activations: tuple[str, ...] = ("relu", "selu", "tanh", "swish")
    train_width: int = 4000
    train_steps: int = 200
    step_fraction: float = 0.5
    bump_concentration: float = 4.0
    depth_points: int = 12
    depth_draws: int = 9
    depth_sizes: tuple[int, ...] = (8, 12, 16, 20, 24)
    depths: tuple[int, ...] = (1, 2, 3, 4, 6, 8)
    depth_weight_scale: float = 1.0
    depth_weight_scales: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0, 3.0)

    def __post_init__(self) -> None:
        require_positive(
            self, "n_points", "ambient_dim", "subspace_dims", "sweep_dim", "sweep_points", "elu_alphas", "mc_points", "mc_dim"
        )
        require_positive(self, "mc_samples", "widths", "width_repeats", "train_width", "train_steps", "bump_concentration", "depth_points")
        require_positive(self, "depths", "depth_weight_scale", "depth_weight_scales", "depth_draws", "depth_sizes")
        require_in_range(self, "step_fraction", 1e-6, 1.0)
        if max(self.subspace_dims + (self.sweep_dim, self.mc_dim)) > self.ambient_dim:
            raise ParameterError(f"subspace dimensions must not exceed ambient_dim ({self.ambient_dim})")
        if 2 not in self.subspace_dims or self.ambient_dim not in self.subspace_dims:
            raise ParameterError(f"subspace_dims must include 2 and ambient_dim ({self.ambient_dim}) for the claims")
        if 1 not in self.depths or 4 not in self.depths:
            raise ParameterError("depths must include 1 and 4 for the depth claim")
        unknown = sorted(set(self.train_activations) - set(ACTIVATIONS))
        if unknown or not {"relu", "tanh"} <= set(self.train_activations):
            raise ParameterError(
                f"train_activations must name activations from {ACTIVATIONS} and include relu and tanh, got {self.train_activations}"
            )
        if self.mc_samples < 100_000:
            raise ParameterError(f"parameter mc_samples must be at least 100000 (claim 1), got {self.mc_samples}")
        if self.train_width < 4000 or self.train_width % 2:
            raise ParameterError(f"parameter train_width must be even and at least 4000 (claim 4), got {self.train_width}")
        if len(self.widths) < 2 or any(w % 2 for w in self.widths):
            raise ParameterError(f"parameter widths needs at least two even widths, got {self.widths}")


PROFILES = {
    "quick": Config(),
    "full": Config(
        sweep_points=(10, 14, 20, 28, 40, 56, 80, 113, 160, 226, 320, 452, 640),
        subspace_dims=(2, 3, 4, 5, 6, 8, 10, 14, 20, 30, 40, 50),
        mc_samples=1_000_000,
        widths=(256, 1024, 4096, 16384, 65536),
        train_activations=ACTIVATIONS,
        train_steps=400,
        depths=(1, 2, 3, 4, 5, 6, 8, 10, 12),
        depth_weight_scales=(0.5, 1.0, 1.25, 1.5, 2.0, 3.0),
    ),
}


def config(profile: str = "quick", **overrides: object) -> Config:
    """The profile's config with the given (non-``None``) overrides."""
    return resolve(PROFILES, profile, **overrides)


def exact_method(activation: Activation) -> str:
    """Closed form where it exists (ReLU, the quadratic), quadrature otherwise."""
    return "exact" if activation.name in ("relu", "quadratic") else "quadrature"


def gram(X: np.ndarray, activation: Activation, **kwargs: object) -> np.ndarray:
    """The infinite-width first-layer Gram G, by the most accurate method available."""
    return gram_matrix(X, activation, kind="derivative", method=exact_method(activation), **kwargs)


def spectrum(G: np.ndarray) -> np.ndarray:
    """Eigenvalues in ascending order, floored at the numerical resolution n·10⁻¹⁴·λ_max."""
    eigenvalues = np.linalg.eigvalsh(G)
    return np.maximum(eigenvalues, floor_of(eigenvalues))


def floor_of(eigenvalues: np.ndarray) -> float:
    """Below n·10⁻¹⁴·λ_max an eigenvalue is indistinguishable from round-off in the entries."""
    return len(eigenvalues) * RESOLUTION * float(eigenvalues[-1])


def rng_for(seed: int, *part: int) -> np.random.Generator:
    """An independent generator per part of the study (``part`` names it), derived from the seed alone."""
    return np.random.default_rng([seed, *part])


# ------------------------------------------------------------------ claim 1


@dataclass
class GramCheck:
    """Exact Gram vs Monte Carlo (z-scores) and vs the empirical Gram of finite networks."""

    rms_z: dict[str, float]
    widths: np.ndarray
    width_errors: np.ndarray  # RMS over repeats of ‖H_m − G‖_F / ‖G‖_F


def check_gram(cfg: Config, seed: int) -> GramCheck:
    """Monte Carlo z-scores of the exact ReLU Grams and the empirical Gram's error across widths."""
    X = sphere_in_subspace(cfg.mc_points, cfg.mc_dim, cfg.mc_dim, rng_for(seed, MONTE_CARLO))
    relu = Activation("relu")
    upper = np.triu_indices(len(X))
    rms_z = {}
    for kind in ("derivative", "value"):
        mean, stderr = montecarlo_gram(X, relu, kind=kind, samples=cfg.mc_samples, seed=seed)
        z = (mean - gram_matrix(X, relu, kind=kind))[upper] / stderr[upper]
        rms_z[kind] = float(np.sqrt(np.mean(z**2)))
    G = gram_matrix(X, relu)
    Xt = torch.as_tensor(X)
    errors = [
        [width_error(G, Xt, width, relu, seed * 1_000_003 + width * 101 + repeat) for repeat in range(cfg.width_repeats)]
        for width in cfg.widths
    ]
    return GramCheck(rms_z, np.array(cfg.widths), np.sqrt(np.mean(np.square(errors), axis=1)))


def width_error(G: np.ndarray, X: torch.Tensor, width: int, activation: Activation, seed: int) -> float:
    """‖H_m − G‖_F / ‖G‖_F for the empirical first-layer Gram H_m of one random width-m network."""
    net = RandomFeatureNetwork(X.shape[1], width, activation, generator=torch_generator(seed))
    H = empirical_gram(net, X, ["hidden"])
    return float(np.linalg.norm(H - G) / np.linalg.norm(G))


def sqrt_width_spread(check: GramCheck) -> float:
    """max/min of error·√m over the widths: 1 for an exact m^{-1/2} law."""
    scaled = check.width_errors * np.sqrt(check.widths)
    return float(scaled.max() / scaled.min())


# --------------------------------------------------------------- claims 2, 3


@dataclass
class Spectra:
    """Smallest eigenvalues by activation across subspace dimension k and sample size n."""

    subspace_dims: np.ndarray
    lambda_min: dict[str, np.ndarray]  # activation → λ_min(G) per k (n = n_points)
    diagonal: dict[str, float]  # E[φ'(z)²] = G_ii, the scale of each activation's Gram
    floor: dict[str, np.ndarray]  # numerical resolution per k
    spectra_low: dict[str, np.ndarray]  # full spectrum at k = 2
    spectra_high: dict[str, np.ndarray]  # full spectrum at k = ambient_dim
    sweep_points: np.ndarray
    sweep_lambda_min: dict[str, np.ndarray]  # activation → λ_min(G) per n (k = sweep_dim)
    elu_alphas: np.ndarray
    elu_lambda_min: np.ndarray  # λ_min(G) of ELU(α) at k = 2


def low_dim_data(cfg: Config, seed: int, dim: int) -> np.ndarray:
    """n_points unit vectors in a random ``dim``-dimensional subspace of R^ambient_dim."""
    return sphere_in_subspace(cfg.n_points, dim, cfg.ambient_dim, rng_for(seed, SUBSPACE, dim))


def dimension_sweep(cfg: Config, seed: int, activations: list[Activation]) -> dict[int, dict[str, np.ndarray]]:
    """Floored spectra of every activation's Gram, per subspace dimension k."""
    return {k: {a.name: spectrum(gram(low_dim_data(cfg, seed, k), a)) for a in activations} for k in cfg.subspace_dims}


def size_sweep(cfg: Config, seed: int, activation: Activation) -> np.ndarray:
    """λ_min on the first n points of one sample (k = sweep_dim): by interlacing it can only fall with n."""
    points = sphere_in_subspace(max(cfg.sweep_points), cfg.sweep_dim, cfg.ambient_dim, rng_for(seed, SIZE_SWEEP))
    return np.array([spectrum(gram(points[:n], activation))[0] for n in cfg.sweep_points])


def measure_spectra(cfg: Config, seed: int) -> Spectra:
    """λ_min against k and n for every activation, the full spectra at k = 2 and k = d, and ELU's α sweep."""
    activations = [Activation(name) for name in ACTIVATIONS]
    by_dim = dimension_sweep(cfg, seed, activations)
    circle = low_dim_data(cfg, seed, 2)
    return Spectra(
        np.array(cfg.subspace_dims),
        {a.name: np.array([by_dim[k][a.name][0] for k in cfg.subspace_dims]) for a in activations},
        {a.name: float(gram(np.array([[1.0]]), a)[0, 0]) for a in activations},
        {a.name: np.array([floor_of(by_dim[k][a.name]) for k in cfg.subspace_dims]) for a in activations},
        by_dim[2],
        by_dim[cfg.ambient_dim],
        np.array(cfg.sweep_points),
        {a.name: size_sweep(cfg, seed, a) for a in activations},
        np.array(cfg.elu_alphas),
        np.array([spectrum(gram(circle, Activation("elu", alpha)))[0] for alpha in cfg.elu_alphas]),
    )


def high_dim_spread(spectra: Spectra) -> float:
    """Largest factor between an activation's λ_min/G_ii and ReLU's at k = d (scale-free: φ → cφ scales G by c²)."""
    full = int(np.argmax(spectra.subspace_dims))  # k = d
    scaled = {name: values[full] / spectra.diagonal[name] for name, values in spectra.lambda_min.items()}
    ratios = np.array([scaled[name] / scaled["relu"] for name in scaled])
    return float(np.max(np.maximum(ratios, 1 / ratios)))


# ------------------------------------------------------------------ claim 4


@dataclass
class TrainingRun:
    """One GD run: the Gram eigen-decomposition, the step and the residual's eigen-components per step."""

    activation: str
    eta: float
    eigenvalues: np.ndarray  # of the network's Gram H(0), ascending
    limit_eigenvalues: np.ndarray  # of the infinite-width G, ascending
    components: np.ndarray  # (steps + 1, n): Vᵀ(u_t − y)
    loss: np.ndarray  # ½‖u_t − y‖²


def bump_target(coordinates: np.ndarray, concentration: float) -> np.ndarray:
    """A smooth bump on the circle, exp(κ(cos ϕ − 1)) minus its mean, scaled to unit RMS."""
    y = np.exp(concentration * (coordinates[:, 0] - 1.0))
    y = y - y.mean()
    return y / np.sqrt(np.mean(y**2))


def training_data(cfg: Config, seed: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Points on the unit sphere of R^dim with a target: a bump for dim 2, random ±1 labels otherwise.

    Training on the coordinates inside the subspace is exact: w·x only sees w's projection on the
    subspace, which is again N(0, I), and the gradients stay in it.
    """
    rng = rng_for(seed, TRAINING, dim)
    X = sphere_in_subspace(cfg.n_points, dim, dim, rng)
    y = bump_target(X, cfg.bump_concentration) if dim == 2 else rng.choice([-1.0, 1.0], cfg.n_points)
    return X, y


def train_network(cfg: Config, X: np.ndarray, y: np.ndarray, activation: Activation, seed: int, device: torch.device) -> TrainingRun:
    """Full-batch GD on the first layer with η = step_fraction/λ_max(H(0)), logging Vᵀ(u_t − y) each step."""
    net = RandomFeatureNetwork(X.shape[1], cfg.train_width, activation, generator=torch_generator(seed)).to(device)
    Xt = torch.as_tensor(X, device=device)
    yt = torch.as_tensor(y, device=device)
    eigenvalues, vectors = np.linalg.eigh(empirical_gram(net, Xt, ["hidden"]))
    eta = cfg.step_fraction / eigenvalues[-1]
    basis = torch.as_tensor(vectors, device=device)
    components: list[np.ndarray] = []

    def project(state: Step) -> None:
        with torch.no_grad():
            components.append((basis.T @ (state.model(Xt) - yt)).cpu().numpy())

    train(
        net,
        lambda out, target: 0.5 * torch.sum((out - target) ** 2),
        Xt,
        yt,
        optimizer=torch.optim.SGD(net.parameters(), lr=eta),
        steps=cfg.train_steps,
        callbacks=[project],
        seed=seed,
        desc=f"GD {activation.label}",
    )
    with torch.no_grad():
        components.append((basis.T @ (net(Xt) - yt)).cpu().numpy())
    comps = np.array(components)
    return TrainingRun(activation.name, eta, eigenvalues, np.linalg.eigvalsh(gram(X, activation)), comps, 0.5 * np.sum(comps**2, axis=1))


def measured_rates(run: TrainingRun) -> tuple[np.ndarray, np.ndarray]:
    """Per-step decay 1 − |c_i(t*)/c_i(0)|^{1/t*} and its prediction ηλ_i, over the measurable directions.

    Measurable: λ_i ≥ 10⁻² λ_1 and an initial component ≥ MIN_CONTENT of the largest (weaker
    directions are swamped by leakage from their neighbours as the Gram drifts); t* is the step at
    which (1 − ηλ_i)^t reaches e⁻² (or the last step).
    """
    steps = len(run.components) - 1
    keep = measurable(run)
    predicted = run.eta * run.eigenvalues[keep]
    t_star = np.minimum(steps, np.ceil(2.0 / predicted)).astype(int)
    columns = np.flatnonzero(keep)
    ratio = np.abs(run.components[t_star, columns] / run.components[0, columns])
    return 1.0 - ratio ** (1.0 / t_star), predicted


def measurable(run: TrainingRun) -> np.ndarray:
    """Mask of the directions with λ_i ≥ 10⁻² λ_1 and initial content ≥ MIN_CONTENT of the largest."""
    start = np.abs(run.components[0])
    return (run.eigenvalues >= 1e-2 * run.eigenvalues[-1]) & (start >= MIN_CONTENT * start.max())


def limit_gap(run: TrainingRun) -> float:
    """Largest |λ_i(H_0) − λ_i(G)| / λ_i(G) over the measurable directions (eigenvalues paired by rank)."""
    keep = measurable(run)
    return float(np.max(np.abs(run.eigenvalues[keep] - run.limit_eigenvalues[keep]) / run.limit_eigenvalues[keep]))


def rate_error(runs: list[TrainingRun]) -> float:
    """Largest relative error |measured − ηλ_i| / ηλ_i over all runs' measurable directions."""
    return float(max(np.max(np.abs(m - p) / p) for m, p in map(measured_rates, runs)))


def final_loss(runs: list[TrainingRun], activation: str) -> float:
    """The loss after the budget for one activation."""
    return float(next(run.loss[-1] for run in runs if run.activation == activation))


# ------------------------------------------------------------------ claim 5


@dataclass
class DepthSweep:
    """Growth of tanh's λ_min with depth on circles, median over independent draws of the points."""

    depths: np.ndarray
    scales: np.ndarray
    growth: np.ndarray  # (scales, depths): median over draws of λ_min(G^{(L)}) / λ_min(G^{(1)})
    sizes: np.ndarray
    size_growth: np.ndarray  # per size n: median growth from depth 1 to 4 at the claim's σ_w (NaN: unresolved)
    unresolved: int  # draws of depth_points points whose depth-1 λ_min is below round-off (left out)


def resolved_lambda_min(G: np.ndarray) -> float:
    """λ_min(G), or NaN when it is below the round-off floor n·10⁻¹⁴·λ_max."""
    eigenvalues = np.linalg.eigvalsh(G)
    return float(eigenvalues[0]) if eigenvalues[0] > floor_of(eigenvalues) else math.nan


def depth_profile(X: np.ndarray, depths: tuple[int, ...], scale: float) -> np.ndarray:
    """Resolved λ_min of tanh's depth-L Gram for each L (NaN below round-off)."""
    return np.array([resolved_lambda_min(gram(X, Activation("tanh"), depth=L, weight_scale=scale)) for L in depths])


def circle_draws(cfg: Config, seed: int, n: int) -> list[np.ndarray]:
    """``depth_draws`` independent samples of n points on a circle in R^ambient_dim."""
    return [sphere_in_subspace(n, 2, cfg.ambient_dim, rng_for(seed, DEPTH, n, draw)) for draw in range(cfg.depth_draws)]


def median_growth(profiles: np.ndarray) -> np.ndarray:
    """Median over draws (axis 0) of λ_min(L)/λ_min(1), leaving out unresolved draws (NaN if all are)."""
    ratios = profiles / profiles[..., :1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice gives NaN, as intended
        return np.nanmedian(ratios, axis=0)


def depth_sweep(cfg: Config, seed: int) -> DepthSweep:
    """Median growth of λ_min(G^{(L)}) over depth 1 for tanh, per weight scale and per number of points."""
    scales = tuple(sorted(set(cfg.depth_weight_scales) | {cfg.depth_weight_scale}))
    draws = circle_draws(cfg, seed, cfg.depth_points)
    profiles = np.array([[depth_profile(X, cfg.depths, s) for s in scales] for X in draws])  # (draws, scales, depths)
    by_size = [
        median_growth(np.array([depth_profile(X, (1, 4), cfg.depth_weight_scale) for X in circle_draws(cfg, seed, n)]))[1]
        for n in cfg.depth_sizes
    ]
    return DepthSweep(
        np.array(cfg.depths),
        np.array(scales),
        median_growth(profiles),
        np.array(cfg.depth_sizes),
        np.array(by_size),
        int(np.sum(np.isnan(profiles[:, 0, 0]))),
    )


def depth_growth(sweep: DepthSweep, scale: float) -> float:
    """Median λ_min at depth 4 over λ_min at depth 1, at hidden weight scale ``scale``."""
    return float(sweep.growth[list(sweep.scales).index(scale), list(sweep.depths).index(4)])


# ---------------------------------------------------------------------- run


@dataclass
class Result:
    """Everything the chapter shows and checks."""

    cfg: Config
    check: GramCheck
    spectra: Spectra
    runs_low: list[TrainingRun]
    runs_high: list[TrainingRun]
    depth: DepthSweep


def train_all(cfg: Config, seed: int, dim: int, device: str | torch.device = "cpu") -> list[TrainingRun]:
    """One GD run per activation on the same data (k = dim)."""
    X, y = training_data(cfg, seed, dim)
    return [train_network(cfg, X, y, Activation(name), seed, resolve_device(str(device))) for name in cfg.train_activations]


def run(cfg: Config, seed: int = 0, device: str | torch.device = "cpu") -> Result:
    """The whole chapter: Gram checks, spectra, training on 2-D and d-D data, depth."""
    seed_everything(seed)
    return Result(
        cfg,
        check_gram(cfg, seed),
        measure_spectra(cfg, seed),
        train_all(cfg, seed, 2, device),
        train_all(cfg, seed, cfg.ambient_dim, device),
        depth_sweep(cfg, seed),
    )


def depth_failure(sweep: DepthSweep, scale: float) -> str | None:
    """The documented non-reproduction at σ_w = 1 (unit-variance, re-normalised layers), with the numbers."""
    if scale != 1.0:
        return None
    passing = [f"{s:g} ({depth_growth(sweep, s):.0f}×)" for s in sweep.scales if depth_growth(sweep, s) >= 100]
    sizes = ", ".join(f"n = {n}: {g:.0f}×" for n, g in zip(sweep.sizes, sweep.size_growth))
    return (
        f"with unit-variance hidden weights and re-normalised layers tanh's λ_min grows only "
        f"{depth_growth(sweep, 1.0):.0f}× (median) from depth 1 to 4; larger weight scales pass: "
        + (", ".join(passing) if passing else "none of those swept")
        + f"; the growth rises with the number of points ({sizes})"
    )


def claims(result: Result) -> list[Claim]:
    """The five claims of the issue (claim 1 and 4 in two parts each)."""
    cfg, s = result.cfg, result.spectra
    k2 = list(s.subspace_dims).index(2)
    smooth = max(s.lambda_min["tanh"][k2], s.lambda_min["swish"][k2])
    return [
        at_most(
            "mc_zscore",
            f"Exact ReLU Grams (G and K) match Monte Carlo over {cfg.mc_samples:.0e} draws: RMS z-score (ours: ≤ 1.5)",
            max(result.check.rms_z.values()),
            1.5,
        ),
        at_most(
            "width_sqrt_law",
            "The empirical Gram of a width-m ReLU net converges as m^{-1/2}: max/min of error·√m over widths",
            sqrt_width_spread(result.check),
            2.0,
        ),
        at_most(
            "smooth_over_relu",
            "k = 2, n = 100: max(λ_min tanh, λ_min swish) / λ_min ReLU (floored at round-off)",
            smooth / s.lambda_min["relu"][k2],
            1e-4,
        ),
        at_least(
            "kinked_lambda_min",
            "k = 2, n = 100: min(λ_min ReLU, λ_min SELU)",
            min(s.lambda_min["relu"][k2], s.lambda_min["selu"][k2]),
            1e-5,
        ),
        at_most(
            "high_dim_spread",
            "k = d = 50: largest factor between any activation's λ_min/G_ii and ReLU's",
            high_dim_spread(s),
            10.0,
        ),
        at_most(
            "rate_error",
            "Residual components along the Gram's eigenvectors decay at rate ηλ_i: largest relative error (ours: 20%)",
            rate_error(result.runs_low + result.runs_high),
            0.2,
        ),
        at_least(
            "high_dim_loss_ratio",
            f"k = d: loss of tanh over loss of ReLU after {cfg.train_steps} GD steps (ours: ≥ 10)",
            final_loss(result.runs_high, "tanh") / final_loss(result.runs_high, "relu"),
            10.0,
        ),
        at_least(
            "depth_growth",
            f"tanh, {cfg.depth_points} points on a circle: median over {cfg.depth_draws} draws of λ_min at depth 4 over depth 1 "
            f"(σ_w = {cfg.depth_weight_scale:g})",
            depth_growth(result.depth, cfg.depth_weight_scale),
            100.0,
            known_failure=depth_failure(result.depth, cfg.depth_weight_scale),
        ),
    ]
