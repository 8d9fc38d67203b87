"""The break-even point: how the early learning rate and batch size set curvature and gradient noise.

Jastrzębski et al. (ICLR 2020) track the top eigenvalue λ_H^1 of the training-loss Hessian H and
the top eigenvalue λ_K^1 of the per-example gradient covariance
K = (1/n) Σ_i (g_i − ḡ)(g_i − ḡ)ᵀ along SGD. Early on both grow until SGD with step η can no
longer follow the sharpest direction (the *break-even point*, near η λ_H^1 ≈ 2 for plain GD);
beyond it they are held down. Hence a larger η (or smaller batch) gives smaller maxima of λ_H^1
and λ_K^1 and better conditioning λ_K^k/λ_K^1 of K. Here: a small CNN on scikit-learn's digits,
squared loss, small initialisation, every run compared up to the same training accuracy, plus
full-batch GD, where λ_H^1 rises to 2/η and hovers there (Cohen et al. 2021, edge of stability).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from scipy.stats import spearmanr
from torch import nn

from trainingdynamics import plotting
from trainingdynamics.claims import Claim, at_least, at_most
from trainingdynamics.data import Dataset, digits, one_hot, split
from trainingdynamics.device import resolve_device
from trainingdynamics.diagnostics import spectra
from trainingdynamics.models.digits import cnn, mlp
from trainingdynamics.profiles import ParameterError, require_in_range, require_positive, resolve
from trainingdynamics.seeding import child_seed, seed_everything, torch_seeded
from trainingdynamics.training import Step, every, train

TITLE = "The break-even point: a large early learning rate tames curvature and gradient noise"
CLAIM = (
    "Without BatchNorm, a larger learning rate before the break-even point lowers the peaks of λ_H^1 and λ_K^1 and improves "
    "the conditioning of K, and a smaller batch lowers the peak of λ_K^1."
)
PAPER = "jastrzebski2020breakeven"

EXACT_TOLERANCE = (
    1e-6  # float64 rounding plus the check's Lanczos tolerance (eigenvalue errors ≤ 1e-8·‖H‖)
)
MATCHED_FRACTION = (
    1.0  # ours: every run reaches the target accuracy, so all are compared at matched progress
)
RANK_BOUND = 0.8  # ours: the paper states orderings, not numbers; |Spearman ρ| ≥ 0.8 asks for the ordering up to a small displacement
EDGE_BAND = (
    1.5,
    2.5,
)  # ours: λ_H^1 within [1.5/η, 2.5/η], i.e. 2/η ± 25% (Cohen et al. give no width)
EDGE_COUNT = 2  # ours: at least two GD learning rates in the band (all of the quick profile's, half of the full profile's)


@dataclass(frozen=True)
class Config:
    """Data, network, the SGD grids, the measurement budget and the edge-of-stability runs."""

    n_train: int = 1000
    channels: tuple[int, ...] = (8, 16)
    init_scale: float = 0.5
    learning_rates: tuple[float, ...] = (0.01, 0.0316, 0.1, 0.316)
    batch_size: int = 32
    batch_sizes: tuple[int, ...] = (8, 32, 128)
    batch_lr: float = 0.0316
    bn_learning_rates: tuple[float, ...] = (0.00316, 0.01, 0.0316)
    target_accuracy: float = 0.95
    max_steps: int = 6000
    measure_every: float = 2.0
    bn_measure_every: float = 0.5
    hessian_examples: int = 256
    covariance_examples: int = 256
    condition_k: int = 10
    tol: float = 1e-2
    seeds: int = 1
    eos_learning_rates: tuple[float, ...] = (0.25, 0.35, 0.5, 0.7)
    eos_examples: int = 500
    eos_width: int = 64
    eos_steps: int = 1500
    eos_every: int = 10

    def __post_init__(self) -> None:
        require_positive(
            self, "n_train", "channels", "init_scale", "learning_rates", "batch_size", "batch_sizes", "batch_lr",
            "bn_learning_rates", "max_steps", "measure_every", "bn_measure_every", "hessian_examples", "covariance_examples",
            "condition_k", "tol", "seeds", "eos_learning_rates", "eos_examples", "eos_width", "eos_steps", "eos_every",
        )  # fmt: skip
        require_in_range(self, "target_accuracy", 0.1, 1.0)
        require_in_range(self, "tol", 1e-12, 0.1)
        if len(self.channels) > 3:
            raise ParameterError(
                f"parameter channels allows at most 3 convolutions on 8×8 images (one 2×2 pooling each), got {self.channels!r}"
            )
        if max(self.batch_size, *self.batch_sizes) > self.n_train:
            raise ParameterError(f"batch sizes must not exceed n_train = {self.n_train}")
        if not self.eos_every <= self.eos_steps // 2:
            raise ParameterError(
                f"parameter eos_every ({self.eos_every}) must be at most eos_steps/2 = {self.eos_steps // 2}, so the last half of training is measured"
            )
        for name in ("learning_rates", "batch_sizes", "bn_learning_rates", "eos_learning_rates"):
            if len(getattr(self, name)) < 2:
                raise ParameterError(
                    f"parameter {name} needs at least two values, got {getattr(self, name)!r}"
                )
        if max(self.hessian_examples, self.covariance_examples, self.eos_examples) > self.n_train:
            raise ParameterError(
                f"probe and edge-of-stability subsets must not exceed n_train = {self.n_train}"
            )
        if not 2 <= self.condition_k < self.covariance_examples:
            raise ParameterError(
                f"condition_k ({self.condition_k}) must lie in [2, covariance_examples − 1 = {self.covariance_examples - 1}] (K has rank ≤ n − 1)"
            )


PROFILES = {
    "quick": Config(
        hessian_examples=128,
        covariance_examples=128,
        bn_learning_rates=(0.00316, 0.0316),
        eos_learning_rates=(0.35, 0.7),
        eos_steps=600,
        eos_every=25,
    ),
    "full": Config(
        learning_rates=(0.01, 0.0178, 0.0316, 0.0562, 0.1, 0.178, 0.316),
        seeds=3,
        eos_every=20,
    ),
}


def config(profile: str = "quick", **overrides: object) -> Config:
    """The profile's config with the given (non-``None``) overrides."""
    return resolve(PROFILES, profile, **overrides)


def squared_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """ℓ = ½‖f(x) − onehot(y)‖² averaged over the batch (Cohen et al.'s squared loss)."""
    return 0.5 * ((outputs - targets) ** 2).sum(dim=1).mean()


def load_data(
    cfg: Config,
    seed: int,
    device: torch.device,
    *,
    standardise: Literal["pixel", "global"] = "global",
) -> tuple[Dataset, torch.Tensor]:
    """The digits training split (images, drawn from the stream ``"data"``) and its one-hot targets.

    The CNN's pixels are standardised globally (one mean and scale, values within ±2): per-pixel
    standardisation turns the rare strokes in near-blank corner pixels into inputs of up to 42
    standard deviations, whose single-example gradients then dominate λ_K^1. The
    edge-of-stability MLP keeps per-pixel standardisation (``standardise="pixel"``), the setting
    its learning rates were chosen for.
    """
    data = digits(images=True, device=device, standardise=standardise)
    train_set, _ = split(data, cfg.n_train, seed=child_seed(seed, "data"))
    return train_set, one_hot(train_set.y, train_set.n_classes)


def make_cnn(cfg: Config, *, batch_norm: bool, seed: int, replicate: int = 0) -> nn.Module:
    """The CNN, initialised from the stream ``("init", replicate)`` of ``seed`` (the global torch RNG is left alone).

    Without BatchNorm its default initial weights are scaled by ``init_scale`` (small outputs and
    Jacobians at t = 0). BatchNorm makes the convolutions scale-invariant, so there a smaller
    initial scale would only raise the effective learning rate η/‖w‖²: the BatchNorm CNN keeps
    PyTorch's default. Every learning rate and batch size of a replicate starts from the same weights.
    """
    with torch_seeded(seed, "init", replicate):
        model = cnn(cfg.channels, batch_norm=batch_norm)
    if not batch_norm:
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() > 1:  # weights only; biases keep their defaults
                    p.mul_(cfg.init_scale)
    return model


@dataclass
class Trajectory:
    """One SGD run's measurements up to the target training accuracy (or ``max_steps``)."""

    lr: float
    batch_size: int
    batch_norm: bool
    replicate: int  # index of the replicate (its init and batch streams), 0 … seeds − 1
    steps: np.ndarray
    accuracy: np.ndarray
    hessian_top: np.ndarray  # λ_H^1 on the Hessian probe
    covariance_top: np.ndarray  # λ_K^1 on the covariance probe
    covariance_kth: np.ndarray  # λ_K^k, k = condition_k
    covariance_trace: np.ndarray  # Tr K
    n_hvp: np.ndarray
    reached: bool
    train_seconds: float
    measure_seconds: float

    @property
    def conditioning(self) -> np.ndarray:
        """λ_K^k / λ_K^1 at each measurement (1 is perfectly conditioned)."""
        return self.covariance_kth / self.covariance_top

    @property
    def break_even(self) -> int:
        """Index of the break-even measurement: where λ_H^1 peaks (the last one if it is still rising)."""
        return int(np.argmax(self.hessian_top))


class SpectraProbe:
    """A training callback: accuracy, λ_H^1 (warm-started Lanczos) and K's spectrum; stops at the target accuracy."""

    def __init__(self, cfg: Config, data: Dataset, targets: torch.Tensor, *, seed: int = 0) -> None:
        self.cfg, self.data, self.targets, self.seed = cfg, data, targets, seed
        self.start: torch.Tensor | None = None
        self.seconds = 0.0

    def __call__(self, state: Step) -> bool:
        began = time.perf_counter()
        model, cfg, X, Y = state.model, self.cfg, self.data.X, self.targets
        with spectra.model_mode(model, "eval"), torch.no_grad():
            accuracy = float((model(X).argmax(dim=1) == self.data.y).double().mean())
        h = cfg.hessian_examples
        top = spectra.hessian_eigenvalues(
            model,
            squared_loss,
            X[:h],
            Y[:h],
            tol=cfg.tol,
            mode="eval",
            start=self.start,
            seed=self.seed,
        )
        self.start = top.vectors[0]
        c = cfg.covariance_examples
        cov = spectra.gradient_covariance_eigenvalues(
            model, squared_loss, X[:c], Y[:c], k=cfg.condition_k, mode="eval"
        )
        state.history.log(
            state.step,
            accuracy=accuracy,
            hessian_top=float(top.values[0]),
            n_hvp=top.n_hvp,
            covariance_top=float(cov.values[0]),
            covariance_kth=float(cov.values[-1]),
            covariance_trace=cov.trace,
        )
        self.seconds += time.perf_counter() - began
        return accuracy >= cfg.target_accuracy


def sgd_trajectory(
    cfg: Config,
    data: Dataset,
    targets: torch.Tensor,
    *,
    lr: float,
    batch_size: int,
    batch_norm: bool,
    seed: int,
    replicate: int = 0,
) -> Trajectory:
    """SGD from the initialisation, measured every ⌈measure_every/η⌉ steps (equal spacing in η·t; ``bn_measure_every`` with BatchNorm).

    Streams of ``seed``: ``("init", replicate)`` for the weights, ``("batches", replicate)`` for the
    minibatch order, ``("lanczos", replicate)`` for Lanczos' first start vector.
    """
    model = make_cnn(cfg, batch_norm=batch_norm, seed=seed, replicate=replicate).to(data.X.device)
    probe = SpectraProbe(cfg, data, targets, seed=child_seed(seed, "lanczos", replicate))
    began = time.perf_counter()
    history = train(
        model,
        squared_loss,
        data.X,
        targets,
        optimizer=torch.optim.SGD(model.parameters(), lr=lr),
        steps=cfg.max_steps,
        batch_size=batch_size,
        callbacks=[
            every(
                math.ceil((cfg.bn_measure_every if batch_norm else cfg.measure_every) / lr), probe
            )
        ],
        seed=child_seed(seed, "batches", replicate),
        desc=f"SGD η={lr:g} B={batch_size}" + (" BN" if batch_norm else ""),
    )
    elapsed = time.perf_counter() - began
    accuracy = history.values("accuracy")
    return Trajectory(
        lr=lr,
        batch_size=batch_size,
        batch_norm=batch_norm,
        replicate=replicate,
        steps=history.steps("accuracy"),
        accuracy=accuracy,
        **{
            name: history.values(name)
            for name in (
                "hessian_top",
                "covariance_top",
                "covariance_kth",
                "covariance_trace",
                "n_hvp",
            )
        },
        reached=bool(accuracy[-1] >= cfg.target_accuracy),
        train_seconds=elapsed - probe.seconds,
        measure_seconds=probe.seconds,
    )


@dataclass
class EdgeOfStability:
    """Full-batch GD on the squared loss: λ_H^1 of the whole training set against the step."""

    lr: float
    steps: np.ndarray
    sharpness: np.ndarray
    loss: np.ndarray
    diverged_at: int | None = None  # the step whose loss was not finite, if GD diverged

    @property
    def midpoint(self) -> float:
        """Half the number of GD steps taken."""
        return len(self.loss) / 2

    def last_half(self) -> np.ndarray:
        """The sharpness measurements in the second half of training."""
        return self.sharpness[self.steps >= self.midpoint]


def edge_of_stability_run(
    cfg: Config, data: Dataset, targets: torch.Tensor, *, lr: float, seed: int
) -> EdgeOfStability:
    """Full-batch GD of a tanh MLP on ``eos_examples`` digits (init from the stream ``"eos-init"``); sharpness every ``eos_every`` steps."""
    n = cfg.eos_examples
    X, Y = data.X[:n].flatten(1), targets[:n]
    with torch_seeded(seed, "eos-init"):
        model = mlp((X.shape[1], cfg.eos_width, cfg.eos_width, Y.shape[1]), activation="tanh").to(
            X.device
        )
    lanczos_seed = child_seed(seed, "eos-lanczos")
    start: dict[str, torch.Tensor | None] = {"vector": None}

    def sharpness(state: Step) -> None:
        top = spectra.hessian_eigenvalues(
            state.model, squared_loss, X, Y, tol=cfg.tol, start=start["vector"], seed=lanczos_seed
        )
        start["vector"] = top.vectors[0]
        state.history.log(state.step, sharpness=float(top.values[0]))

    history = train(
        model,
        squared_loss,
        X,
        Y,
        optimizer=torch.optim.SGD(model.parameters(), lr=lr),
        steps=cfg.eos_steps,
        callbacks=[every(cfg.eos_every, sharpness)],
        stop_on_divergence=False,
        desc=f"GD η={lr:g}",
    )
    return EdgeOfStability(
        lr,
        history.steps("sharpness"),
        history.values("sharpness"),
        history.values("loss"),
        history.diverged_at,
    )


def exactness_error(seed: int) -> float:
    """Largest relative error of HVPs, top-3 Hessian and K eigenvalues and per-example gradients vs dense float64 references.

    The tiny CNN's weights come from the stream ``"exactness-init"``, its data from ``"exactness-data"``.
    """
    generator = torch.Generator().manual_seed(child_seed(seed, "exactness-data"))
    with torch_seeded(seed, "exactness-init"):
        model = cnn((2, 3), n_classes=3).double()
    X = torch.randn(24, 1, 8, 8, generator=generator, dtype=torch.float64)
    Y = one_hot(torch.randint(0, 3, (24,), generator=generator), 3, torch.float64)
    H = spectra.dense_hessian(model, squared_loss, X, Y)
    v = torch.randn(len(H), generator=generator, dtype=torch.float64)
    G = spectra.looped_per_example_gradients(model, squared_loss, X, Y)
    centred = G - G.mean(dim=0)
    exact_k = torch.linalg.eigvalsh(centred.T @ centred / len(G)).flip(0)[:3]
    errors = [
        relative_error(
            spectra.hessian_vector_product(model, squared_loss, X, Y, v, chunk_size=7), H @ v
        ),
        relative_error(
            spectra.hessian_eigenvalues(model, squared_loss, X, Y, k=3, tol=1e-8).values,
            torch.linalg.eigvalsh(H).flip(0)[:3],
        ),
        relative_error(spectra.per_example_gradients(model, squared_loss, X, Y, chunk_size=5), G),
        relative_error(
            spectra.gradient_covariance_eigenvalues(model, squared_loss, X, Y, k=3).values, exact_k
        ),
    ]
    return max(errors)


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """max |value − reference| / max |reference|."""
    return float((value - reference).abs().max() / reference.abs().max())


@dataclass
class Result:
    """All runs of the chapter."""

    cfg: Config
    replicates: tuple[int, ...]
    runs: dict[tuple[float, int, bool, int], Trajectory]
    edge: list[EdgeOfStability]
    exactness: float
    seconds: float = field(default=0.0)

    def trajectories(
        self, *, lr: float | None = None, batch_size: int | None = None, batch_norm: bool = False
    ) -> list[Trajectory]:
        """The runs matching the given learning rate / batch size / normalisation, over seeds."""
        return [
            t
            for (r, b, bn, _), t in self.runs.items()
            if (lr is None or r == lr)
            and (batch_size is None or b == batch_size)
            and bn == batch_norm
        ]


def run_grids(
    cfg: Config, data: Dataset, targets: torch.Tensor, seed: int
) -> dict[tuple[float, int, bool, int], Trajectory]:
    """The learning-rate grid, the batch-size grid and the BatchNorm learning-rate grid (shared runs done once), for each of ``cfg.seeds`` replicates."""
    wanted = (
        [(lr, cfg.batch_size, False) for lr in cfg.learning_rates]
        + [(cfg.batch_lr, b, False) for b in cfg.batch_sizes]
        + [(lr, cfg.batch_size, True) for lr in cfg.bn_learning_rates]
    )
    runs = {}
    for replicate in range(cfg.seeds):
        for lr, b, bn in dict.fromkeys(wanted):
            runs[(lr, b, bn, replicate)] = sgd_trajectory(
                cfg,
                data,
                targets,
                lr=lr,
                batch_size=b,
                batch_norm=bn,
                seed=seed,
                replicate=replicate,
            )
    return runs


def run(cfg: Config, seed: int = 0, device: str | torch.device = "cpu") -> Result:
    """Every SGD trajectory, the edge-of-stability runs and the exactness check, seeded from ``seed``."""
    began = time.perf_counter()
    seed_everything(seed)
    device = resolve_device(str(device))
    data, targets = load_data(cfg, seed, device)
    runs = run_grids(cfg, data, targets, seed)
    eos_data, eos_targets = load_data(cfg, seed, device, standardise="pixel")
    edge = [
        edge_of_stability_run(cfg, eos_data, eos_targets, lr=lr, seed=seed)
        for lr in cfg.eos_learning_rates
    ]
    return Result(
        cfg, tuple(range(cfg.seeds)), runs, edge, exactness_error(seed), time.perf_counter() - began
    )


def conditioning_after_break_even(t: Trajectory) -> float:
    """The best conditioning attained from the break-even point on: max of λ_K^k/λ_K^1 over those measurements."""
    return float(t.conditioning[t.break_even :].max())


Grid = Literal["lr", "batch", "bn"]
GRID_SYMBOLS = {"lr": r"\eta", "batch": "B", "bn": r"\eta"}


def grid_runs(result: Result, grid: Grid) -> dict[float, list[Trajectory]]:
    """The grid's runs grouped by the varied knob (η or B), in increasing order, each a list over seeds."""
    cfg = result.cfg
    values, select = {
        "lr": (cfg.learning_rates, lambda v: dict(lr=v, batch_size=cfg.batch_size)),
        "batch": (cfg.batch_sizes, lambda v: dict(lr=cfg.batch_lr, batch_size=v)),
        "bn": (
            cfg.bn_learning_rates,
            lambda v: dict(lr=v, batch_size=cfg.batch_size, batch_norm=True),
        ),
    }[grid]
    return {v: result.trajectories(**select(v)) for v in sorted(values)}


def rank_correlation(
    result: Result, summary: Callable[[Trajectory], float], *, grid: Grid
) -> float:
    """Median over replicates (seeds) of Spearman's ρ between the grid's knob (η or B) and ``summary(trajectory)``."""
    groups = grid_runs(result, grid)
    rhos = [
        spearmanr(
            list(groups),
            [summary(next(t for t in runs if t.replicate == r)) for runs in groups.values()],
        ).statistic
        for r in result.replicates
    ]
    rhos = [
        rho if np.isfinite(rho) else 0.0 for rho in rhos
    ]  # a summary constant over the grid has no ordering: ρ = 0, never NaN
    return round(
        float(np.median(rhos)), 12
    )  # ρ is a ratio of small integers: drop round-off such as 0.7999999999999998


def hessian_peak(t: Trajectory) -> float:
    """max_t λ_H^1."""
    return float(t.hessian_top.max())


def covariance_peak(t: Trajectory) -> float:
    """max_t λ_K^1."""
    return float(t.covariance_top.max())


def edge_band_count(result: Result, low: float = EDGE_BAND[0], high: float = EDGE_BAND[1]) -> int:
    """Number of GD learning rates whose λ_H^1 stays in [low/η, high/η] over the whole second half of training.

    A run that diverged, or has no measurement in its second half, does not count.
    """
    return sum(
        bool(
            e.diverged_at is None
            and len(h := e.last_half()) > 0
            and np.all((h >= low / e.lr) & (h <= high / e.lr))
        )
        for e in result.edge
    )


def measurement_share(result: Result) -> float:
    """Fraction of the SGD runs' wall time spent in the spectra probe."""
    measure = sum(t.measure_seconds for t in result.runs.values())
    return measure / (measure + sum(t.train_seconds for t in result.runs.values()))


def probe_cost_in_steps(result: Result) -> float:
    """Wall time of one probe measurement in units of one SGD step (all SGD runs pooled)."""
    runs = list(result.runs.values())
    per_probe = sum(t.measure_seconds for t in runs) / sum(len(t.steps) for t in runs)
    per_step = sum(t.train_seconds for t in runs) / sum(int(t.steps[-1]) + 1 for t in runs)
    return per_probe / per_step


def measurement_cost(result: Result) -> pd.DataFrame:
    """Per learning rate of the plain grid (seeds pooled) and over all SGD runs: measurement spacing, counts and the probe's share of the time."""

    def row(runs: list[Trajectory]) -> dict:
        measure, train = sum(t.measure_seconds for t in runs), sum(t.train_seconds for t in runs)
        return {
            "measurements": sum(len(t.steps) for t in runs),
            "SGD steps": sum(int(t.steps[-1]) + 1 for t in runs),
            "probe s": round(measure, 2),
            "training s": round(train, 2),
            "probe share": f"{measure / (measure + train):.0%}",
        }

    every = {lr: math.ceil(result.cfg.measure_every / lr) for lr in result.cfg.learning_rates}
    rows = {
        f"η = {lr:g} (every {every[lr]} steps)": row(runs)
        for lr, runs in grid_runs(result, "lr").items()
    }
    rows["all SGD runs"] = row(list(result.runs.values()))
    return pd.DataFrame.from_dict(rows, orient="index")


def bn_conditioning(result: Result) -> dict[float, float]:
    """The BatchNorm grid's median over seeds of the best conditioning after the break-even point, per η."""
    return {
        lr: float(np.median([conditioning_after_break_even(t) for t in runs]))
        for lr, runs in grid_runs(result, "bn").items()
    }


def rank_reason(values: int) -> str:
    """Why the rank-correlation bound is what it is, for a grid of ``values`` knob values."""
    slack = (1 - RANK_BOUND) * values * (values**2 - 1) / 6  # ρ = 1 − 6Σd²/(n(n² − 1))
    return (
        f"ours: the paper states an ordering, not a number; over {values} grid values |ρ| ≥ {RANK_BOUND:g} tolerates a summed squared "
        f"rank displacement Σd² ≤ {slack:.3g} (one adjacent swap adds 2); median over seeds"
    )


def bn_out_of_reach(result: Result) -> str:
    """The BatchNorm claim's known failure: the learning rates we could reach, and what the conditioning did there (from the run)."""
    etas = result.cfg.bn_learning_rates
    medians = ", ".join(f"{c:.3f} at η = {lr:g}" for lr, c in bn_conditioning(result).items())
    return (
        f"the paper's BatchNorm grid reaches η = 1.0 (§4.3), where it locates the conditioning effect; with the squared loss our "
        f"BatchNorm CNN stalled or diverged at larger learning rates in our pilots, so its grid spans only "
        f"η = {min(etas):g}–{max(etas):g} ({len(etas)} values). There the best λ_K^{result.cfg.condition_k}/λ_K^1 after the "
        f"break-even point falls as η grows: medians {medians}"
    )


def claims(result: Result) -> list[Claim]:
    """Exact diagnostics; matched progress; peaks of λ_H^1 and λ_K^1 fall with η and rise with B; K's conditioning rises with η (with BatchNorm: out of reach); edge of stability."""
    cfg = result.cfg
    k = cfg.condition_k
    n_lr, n_batch, n_bn, n_eos = (
        len(v)
        for v in (
            cfg.learning_rates,
            cfg.batch_sizes,
            cfg.bn_learning_rates,
            cfg.eos_learning_rates,
        )
    )
    proxy = (
        f"measured as λ_K^{k}/λ_K^1 (k = condition_k) at or after the break-even point, not the paper's λ_K*/λ_K^1 (smallest "
        "non-zero eigenvalue) nor its practical Tr K/λ_K^1; §3's argument (the break-even point caps λ_K^1 and leaves λ_K^i, "
        "i ≠ 1, alone) orders every λ_K^i/λ_K^1 the same way"
    )
    return [
        at_most(
            "exact_spectra",
            "HVPs, top-3 Hessian and K eigenvalues and per-example gradients match dense float64 references (max relative error)",
            result.exactness,
            EXACT_TOLERANCE,
            source="exact",
            title="Exact diagnostics",
            reference="dense float64 references on a tiny CNN: torch.func.hessian with eigvalsh, a per-example gradient loop, the dense P×P covariance",
            reason="float64 rounding, plus the check's Lanczos tolerance: a residual ≤ 1e-8·‖H‖ bounds each eigenvalue's error by that",
        ),
        at_least(
            "all_reached_target",
            "Every SGD run reached the target training accuracy, so the runs are compared at matched progress (fraction of runs)",
            np.mean([t.reached for t in result.runs.values()]),
            MATCHED_FRACTION,
            source="ours",
            title="Matched progress",
            reference=(
                "a sanity check of our protocol: the peaks are compared up to the same training accuracy (the paper's Fig. 1 "
                "follows trajectories up to 65% training accuracy)"
            ),
            reason=f"every run must reach {cfg.target_accuracy:.0%} within max_steps; one that did not would be compared at less progress",
        ),
        at_most(
            "hessian_peak_vs_lr",
            "max_t λ_H^1 falls as η grows: Spearman ρ(η, max λ_H^1), median over seeds",
            rank_correlation(result, hessian_peak, grid="lr"),
            -RANK_BOUND,
            source="paper",
            title="λ_H^1 peak falls with η",
            reference="§3, Conjecture 1: the maximum attained λ_H^1 is smaller for a larger learning rate",
            reason=rank_reason(n_lr),
        ),
        at_most(
            "covariance_peak_vs_lr",
            "max_t λ_K^1 falls as η grows: Spearman ρ(η, max λ_K^1), median over seeds",
            rank_correlation(result, covariance_peak, grid="lr"),
            -RANK_BOUND,
            source="paper",
            title="λ_K^1 peak falls with η",
            reference="§3, Conjecture 1: the maximum attained λ_K^1 is smaller for a larger learning rate",
            reason=rank_reason(n_lr),
        ),
        at_least(
            "conditioning_vs_lr",
            f"λ_K^{k}/λ_K^1 after the break-even point rises with η: Spearman ρ(η, best λ_K^{k}/λ_K^1), median over seeds",
            rank_correlation(result, conditioning_after_break_even, grid="lr"),
            RANK_BOUND,
            source="paper",
            title="Conditioning of K rises with η",
            reference=f"§3, Conjecture 2: the conditioning of K is better for a larger learning rate; {proxy}",
            reason=rank_reason(n_lr),
        ),
        at_least(
            "bn_conditioning_vs_lr",
            f"With BatchNorm, λ_K^{k}/λ_K^1 after the break-even point also rises with η: Spearman ρ(η, best λ_K^{k}/λ_K^1), median over seeds",
            rank_correlation(result, conditioning_after_break_even, grid="bn"),
            RANK_BOUND,
            source="paper",
            title="With BatchNorm too",
            reference=(
                "§4.3: in SimpleCNN-BN (η from 0.001 to 1.0) both conjectures hold, and a large learning rate is necessary for "
                f"the better conditioning attributed to BatchNorm; Conjecture 2 {proxy}"
            ),
            reason=rank_reason(n_bn),
            known_failure=bn_out_of_reach(result),
            failure="out of reach",
        ),
        at_least(
            "covariance_peak_vs_batch",
            f"At η = {cfg.batch_lr:g}, a smaller batch gives a lower max_t λ_K^1: Spearman ρ(B, max λ_K^1), median over seeds",
            rank_correlation(result, covariance_peak, grid="batch"),
            RANK_BOUND,
            source="paper",
            title="λ_K^1 peak rises with B",
            reference="§3, Conjecture 1: the maximum attained λ_K^1 is smaller for a smaller batch size",
            reason=rank_reason(n_batch),
        ),
        at_least(
            "edge_of_stability",
            f"Full-batch GD: number of learning rates whose λ_H^1 stays within [{EDGE_BAND[0]:g}/η, {EDGE_BAND[1]:g}/η] over the last half of training",
            edge_band_count(result),
            EDGE_COUNT,
            source="paper",
            title="Edge of stability",
            reference=(
                "Cohen et al. (ICLR 2021), abstract: under full-batch GD the sharpness rises until about 2/η and then hovers "
                "just above it — a statement of that paper, not of Jastrzębski et al."
            ),
            reason=(
                f"ours, Cohen et al. give no width: the band is 2/η ± 25%, and at least {EDGE_COUNT} of the {n_eos} learning "
                "rates must stay in it"
            ),
        ),
    ]


def summary_table(result: Result) -> pd.DataFrame:
    """Per grid point, medians over seeds: steps to the target, break-even step, peaks of λ_H^1 and λ_K^1, best conditioning."""
    rows = []
    for grid, label in (
        ("lr", "η (plain)"),
        ("batch", f"B (η = {result.cfg.batch_lr:g})"),
        ("bn", "η (BatchNorm)"),
    ):
        for knob, runs in grid_runs(result, grid).items():
            rows.append({
                "grid": label,
                "value": knob,
                "steps to target": np.median([t.steps[-1] for t in runs]),
                "break-even step": np.median([t.steps[t.break_even] for t in runs]),
                "peak λ_H^1": np.median([hessian_peak(t) for t in runs]),
                "peak λ_K^1": np.median([covariance_peak(t) for t in runs]),
                f"best λ_K^{result.cfg.condition_k}/λ_K^1 after break-even": np.median([conditioning_after_break_even(t) for t in runs]),
            })  # fmt: skip
    return pd.DataFrame(rows).set_index(["grid", "value"]).round(3)


def plot_trajectories(result: Result, grid: Grid) -> Figure:
    """λ_H^1, λ_K^1 and Tr K against the step for each value of the grid's knob (all seeds), break-even points marked."""
    symbol = GRID_SYMBOLS[grid]
    groups = grid_runs(result, grid)
    fig, axes = plotting.figure(3, width=4.6, height=3.4)
    panels = [
        ("hessian_top", r"$\lambda_H^1$ (loss/param²)", "top Hessian eigenvalue"),
        ("covariance_top", r"$\lambda_K^1$ (loss²/param²)", "top gradient-covariance eigenvalue"),
        ("covariance_trace", r"Tr $K$ (loss²/param²)", "total gradient variance"),
    ]
    for color, (value, runs) in zip(plotting.colors(len(groups)), groups.items(), strict=True):
        for i, t in enumerate(runs):
            for ax, (quantity, _, _) in zip(axes, panels, strict=True):
                ax.plot(
                    t.steps + 1,
                    getattr(t, quantity),
                    color=color,
                    alpha=1.0 if i == 0 else 0.45,
                    lw=1.4,
                    label=f"${symbol}$ = {value:g}" if i == 0 else None,
                )
                ax.plot(
                    t.steps[t.break_even] + 1,
                    getattr(t, quantity)[t.break_even],
                    "o",
                    color=color,
                    ms=5,
                    mec="black",
                    mew=0.6,
                )
        if grid != "batch":
            axes[0].axhline(2 / value, color=color, ls="--", lw=0.9)
    for ax, (_, ylabel, title) in zip(axes, panels, strict=True):
        ax.set(xscale="log", yscale="log")
        plotting.label(ax, "SGD step + 1", ylabel, title)
    axes[0].legend(fontsize=8)
    return fig


def peak_summary(
    groups: dict[float, list[Trajectory]], summary: Callable[[Trajectory], float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Knob values and the median, min and max over seeds of ``summary(trajectory)``."""
    knobs = np.array(list(groups))
    values = [np.array([summary(t) for t in runs]) for runs in groups.values()]
    return (
        knobs,
        np.array([np.median(v) for v in values]),
        np.array([v.min() for v in values]),
        np.array([v.max() for v in values]),
    )


def plot_peaks(result: Result) -> Figure:
    """max λ_H^1, max λ_K^1 and K's conditioning against η (with and without BatchNorm), and max λ_K^1 against B."""
    fig, axes = plotting.figure(2, nrows=2, width=4.6, height=3.3)
    axes = axes.ravel()
    k = result.cfg.condition_k
    panels = [
        (axes[0], hessian_peak, r"peak of $\lambda_H^1$ (loss/param²)"),
        (axes[1], covariance_peak, r"peak of $\lambda_K^1$ (loss²/param²)"),
        (
            axes[2],
            conditioning_after_break_even,
            rf"best $\lambda_K^{{{k}}}/\lambda_K^1$ after break-even",
        ),
    ]
    palette = plotting.colors(3)
    for grid, color, name in (
        ("lr", palette[0], "plain CNN"),
        ("bn", palette[1], "with BatchNorm"),
    ):
        groups = grid_runs(result, grid)
        for ax, summary, ylabel in panels:
            x, median, low, high = peak_summary(groups, summary)
            ax.errorbar(
                x,
                median,
                yerr=[median - low, high - median],
                color=color,
                marker="o",
                capsize=3,
                label=name,
            )
            ax.set(
                xscale="log",
                yscale="log" if summary is not conditioning_after_break_even else "linear",
            )
            plotting.label(ax, r"learning rate $\eta$", ylabel)
    etas = np.array(result.cfg.learning_rates)
    axes[0].plot(etas, 2 / etas, "k--", lw=0.9, label=r"$2/\eta$")
    axes[0].legend(fontsize=8)
    x, median, low, high = peak_summary(grid_runs(result, "batch"), covariance_peak)
    axes[3].errorbar(
        x, median, yerr=[median - low, high - median], color=palette[2], marker="o", capsize=3
    )
    axes[3].set(xscale="log", yscale="log")
    plotting.label(
        axes[3],
        rf"batch size $B$ ($\eta$ = {result.cfg.batch_lr:g})",
        r"peak of $\lambda_K^1$ (loss²/param²)",
    )
    return fig


def plot_edge_of_stability(result: Result) -> Figure:
    """Full-batch GD: λ_H^1 against the step with 2/η and the [1.5/η, 2.5/η] band over the last half, and the loss."""
    fig, axes = plotting.figure(2, width=5.0, height=3.4)
    for color, e in zip(plotting.colors(len(result.edge)), result.edge, strict=True):
        axes[0].plot(e.steps, e.sharpness, color=color, label=rf"$\eta$ = {e.lr:g}")
        axes[0].axhline(2 / e.lr, color=color, ls="--", lw=0.9)
        axes[0].fill_between(
            [e.midpoint, len(e.loss)],
            EDGE_BAND[0] / e.lr,
            EDGE_BAND[1] / e.lr,
            color=color,
            alpha=0.12,
            lw=0,
        )
        axes[1].plot(np.arange(len(e.loss)), e.loss, color=color)
    axes[0].set_yscale("log")
    plotting.label(
        axes[0], "GD step", r"sharpness $\lambda_H^1$ (loss/param²)", r"sharpness; dashed: $2/\eta$"
    )
    axes[1].set_yscale("log")
    plotting.label(
        axes[1],
        "GD step",
        r"training loss $\frac{1}{2}\|f - y\|^2$ (mean)",
        "loss (non-monotone at the edge)",
    )
    axes[0].legend(fontsize=8)
    return fig
