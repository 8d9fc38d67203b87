"""Configuration and the 1-D runs of the ANLS chapter: ANLS, GD and Adam from the same starts."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from trainingdynamics.algorithms.anls import (
    ANLSResult,
    anls,
)
from trainingdynamics.models.shallow import (
    TARGETS,
    GDTrajectory,
    Params,
    ShallowNetworks,
    gradient_descent,
    init_params,
    make_data,
)
from trainingdynamics.profiles import ParameterError, require_positive, resolve
from trainingdynamics.seeding import seed_everything
from trainingdynamics.studies import plateaus
from trainingdynamics.training import at_steps, log_spaced_steps, train

TITLE = "Active Neuron Least Squares: leaving plateaus by moving activation patterns"


CLAIM = (
    "ANLS (our reconstruction) gives a real network at every iterate and, with spare neurons, "
    "fits exactly representable 1-D targets to round-off where GD from the same start has not."
)


PAPER = "ainsworth2021plateau"


EXACT_LEVEL = (
    1e-20  # `exact_fits`: "fitted" means loss below this, far above the round-off of an exact fit
)


GD_STUCK_LEVEL = 1e-6  # `gd_stuck`: GD "still above" this after gd_check_steps


@dataclass(frozen=True)
class Config:
    """Exact-fit experiment (`exact_fits`, `gd_stuck`), plateau experiment (the plateaus chapter's
    main setting), 2-D demonstration."""

    n_points: int = plateaus.Config.n_points
    exact_targets: tuple[str, ...] = ("abs", "piecewise")
    exact_kinks: tuple[int, ...] = (1, 3)  # interior kinks k of each target: minimal width k + 1
    spare_neurons: tuple[int, ...] = (0, 1, 2)  # widths k + 1 + spare are reported
    claimed_spare: tuple[int, ...] = (0, 2)  # per target, the width `exact_fits` claims
    exact_seeds: int = 20
    exact_iterations: int = 50
    gd_check_steps: int = 10_000
    targets: tuple[str, ...] = ("abs", "piecewise", "sin5pi")
    width: int = plateaus.Config.width
    output_scale: float = plateaus.Config.output_scale
    lr: float = plateaus.Config.lr
    gd_steps: int = plateaus.Config.steps
    adam_lr: float = 1e-3
    adam_steps: int = 10_000
    seeds: int = 4
    iterations: int = 200
    records: int = 200
    plane_seeds: int = 0
    plane_grid: int = 12
    plane_width: int = 8
    plane_iterations: int = 100
    plane_gd_steps: int = 10_000

    def __post_init__(self) -> None:
        require_positive(
            self,
            "n_points",
            "exact_kinks",
            "exact_seeds",
            "exact_iterations",
            "gd_check_steps",
        )
        require_positive(
            self,
            "width",
            "output_scale",
            "lr",
            "gd_steps",
            "adam_lr",
            "adam_steps",
            "seeds",
            "iterations",
            "records",
        )
        for name in ("exact_targets", "targets"):
            names = getattr(self, name)
            if not names or set(names) - set(TARGETS):
                raise ParameterError(
                    f"parameter {name} must be a non-empty list from {sorted(TARGETS)}, got "
                    f"{names!r}"
                )
        if not len(self.exact_kinks) == len(self.claimed_spare) == len(self.exact_targets):
            raise ParameterError("exact_kinks and claimed_spare need one entry per exact target")
        if min(self.spare_neurons, default=-1) < 0 or set(self.claimed_spare) - set(
            self.spare_neurons
        ):
            raise ParameterError(
                "spare_neurons must be non-negative and hold every entry of claimed_spare"
            )
        require_positive(self, "plane_grid", "plane_width", "plane_iterations", "plane_gd_steps")
        if self.n_points < 3:
            raise ParameterError("parameter n_points must be at least 3")
        if self.plane_seeds < 0:
            raise ParameterError(
                "parameter plane_seeds must be non-negative (0 skips the 2-D demonstration), "
                f"got {self.plane_seeds}"
            )


PROFILES = {
    "quick": Config(),
    "full": Config(
        seeds=20,
        gd_steps=plateaus.PROFILES["full"].steps,
        adam_steps=40_000,
        iterations=400,
        plane_seeds=20,
    ),
}


def config(profile: str = "quick", **overrides: object) -> Config:
    """The profile's config with the given (non-``None``) overrides."""
    return resolve(PROFILES, profile, **overrides)


@dataclass
class Runs:
    """ANLS, GD and Adam on one target from the same ``seeds`` initialisations."""

    target: str
    x: np.ndarray
    y: np.ndarray
    anls: list[ANLSResult]
    gd: GDTrajectory  # batch (seeds,)
    gd_seconds: float  # wall-clock of this target's share of the GD batch
    adam_steps: np.ndarray
    adam_loss: np.ndarray  # (seeds, K)
    adam_seconds: float  # this target's share of the Adam batch


def _anls_runs(x: np.ndarray, y: np.ndarray, start: Params, iterations: int) -> list[ANLSResult]:
    """ANLS from each initialisation of a batch (seeds, n)."""
    return [
        anls(
            x,
            y,
            start.c.shape[-1],
            iterations=iterations,
            seed=0,
            start=start.map(lambda a, k=k: a[k]),
        )
        for k in range(len(start.c))
    ]


def _batch_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Σ_k (1/2m) Σ_i (N_k(x_i) − y_i)²: independent networks, so GD and Adam (elementwise) train
    each on its own loss."""
    return 0.5 * torch.mean((output - target) ** 2, dim=-1).sum()


def _torch_train(
    X: np.ndarray,
    y: np.ndarray,
    networks: tuple[np.ndarray, np.ndarray, np.ndarray],
    optimizer: str,
    lr: float,
    steps: int,
    records: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Full-batch ``"adam"`` or ``"gd"`` on a batch of networks (c, w, b) = ((k, n), (k, n, d), (k,
    n)) with the shared loop.

    X is (m, d), y is (k, m) or (m,). Returns the recorded steps, the losses (k, K) and the seconds
    of the whole batch.
    """
    model = ShallowNetworks(*networks)
    Xt, Y = torch.tensor(X, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    wanted = log_spaced_steps(steps - 1, records)
    rows: list[np.ndarray] = []

    def record(state) -> None:
        with torch.no_grad():
            rows.append((0.5 * torch.mean((state.model(Xt) - Y) ** 2, dim=-1)).numpy().copy())

    make = {"adam": torch.optim.Adam, "gd": torch.optim.SGD}[optimizer]
    began = time.perf_counter()
    # the loop sees the whole grid as one sample (index [0]): every step is full-batch on all m
    # points
    train(
        model,
        lambda out, _: _batch_loss(out, Y),
        Xt[None],
        Y[None],
        optimizer=make(model.parameters(), lr=lr),
        steps=steps,
        callbacks=[at_steps(wanted, record)],
        seed=seed,
        desc=optimizer,
    )
    return wanted, np.stack(rows, axis=-1), time.perf_counter() - began


def adam(
    x: np.ndarray, y: np.ndarray, start: Params, lr: float, steps: int, records: int, seed: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Full-batch Adam on a batch of 1-D networks (batch, n): recorded steps, losses (batch, K),
    seconds."""
    return _torch_train(
        x[:, None], y, (start.c, start.w[..., None], start.b), "adam", lr, steps, records, seed
    )


def _plateau_runs(cfg: Config, seed: int) -> list[Runs]:
    """ANLS, GD and Adam on every target from ``cfg.seeds`` initialisations each; GD and Adam run
    all networks as one batch."""
    rng = seed_everything(seed)
    x, _ = make_data(cfg.targets[0], cfg.n_points)
    y = np.stack([make_data(target, cfg.n_points)[1] for target in cfg.targets])  # (T, m)
    start = init_params(rng, cfg.width, (len(cfg.targets), cfg.seeds), cfg.output_scale)
    began = time.perf_counter()
    gd = gradient_descent(
        x, y[:, None, :], start, cfg.lr, cfg.gd_steps, log_spaced_steps(cfg.gd_steps, cfg.records)
    )
    gd_seconds = time.perf_counter() - began
    flat = start.map(lambda a: a.reshape(-1, cfg.width))
    adam_steps, adam_loss, adam_seconds = adam(
        x, np.repeat(y, cfg.seeds, axis=0), flat, cfg.adam_lr, cfg.adam_steps, cfg.records, seed
    )
    adam_loss = adam_loss.reshape(len(cfg.targets), cfg.seeds, -1)
    share = 1.0 / len(cfg.targets)
    return [
        Runs(
            target,
            x,
            y[k],
            _anls_runs(x, y[k], start.map(lambda a, k=k: a[k]), cfg.iterations),
            gd.select(k),
            gd_seconds * share,
            adam_steps,
            adam_loss[k],
            adam_seconds * share,
        )
        for k, target in enumerate(cfg.targets)
    ]


TARGET_OFFSET = {
    name: 1000 * k for k, name in enumerate(TARGETS)
}  # a separate seed stream per exact-fit target


@dataclass
class ExactFit:
    """ANLS (and GD at the claimed width) on an exactly representable target at one width, from
    ``exact_seeds`` initialisations."""

    target: str
    width: int
    spare: int  # neurons above the minimal width k + 1
    x: np.ndarray
    y: np.ndarray
    anls: list[ANLSResult]
    gd_loss: np.ndarray | None  # (seeds,) GD loss after gd_check_steps, None when GD was not run

    def fitted(self) -> int:
        """Seeds whose ANLS loss fell below EXACT_LEVEL."""
        return sum(r.losses[-1] < EXACT_LEVEL for r in self.anls)

    def iterations_to_fit(self) -> np.ndarray:
        """Iterations ANLS needed to fall below EXACT_LEVEL (NaN where it never did)."""
        return np.array(
            [
                float(np.argmax(r.losses < EXACT_LEVEL)) if r.losses[-1] < EXACT_LEVEL else np.nan
                for r in self.anls
            ]
        )


def _exact_fit(
    cfg: Config, target: str, minimal: int, width: int, seed: int, with_gd: bool
) -> ExactFit:
    """ANLS for ``exact_iterations`` (and GD for ``gd_check_steps`` if asked), same draws."""
    rng = seed_everything(seed + TARGET_OFFSET[target] + 17 * width)
    x, y = make_data(target, cfg.n_points)
    start = init_params(rng, width, (cfg.exact_seeds,))
    gd_loss = (
        gradient_descent(
            x, y, start, cfg.lr, cfg.gd_check_steps, np.array([cfg.gd_check_steps])
        ).loss[..., -1]
        if with_gd
        else None
    )
    runs = _anls_runs(x, y, start, cfg.exact_iterations)
    return ExactFit(target, width, width - minimal, x, y, runs, gd_loss)


def exact_fits(cfg: Config, seed: int) -> list[ExactFit]:
    """Every exact target at widths k + 1 + spare; GD only at the claimed width."""
    return [
        _exact_fit(cfg, target, kinks + 1, kinks + 1 + spare, seed, spare == claimed)
        for target, kinks, claimed in zip(
            cfg.exact_targets, cfg.exact_kinks, cfg.claimed_spare, strict=True
        )
        for spare in cfg.spare_neurons
    ]
