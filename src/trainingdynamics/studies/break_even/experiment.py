"""The experiment: data, the CNN, SGD runs measured by a spectra probe, full-batch GD, exactness."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from trainingdynamics.data import Dataset, digits, one_hot, split
from trainingdynamics.device import resolve_device
from trainingdynamics.diagnostics import spectra
from trainingdynamics.models.digits import cnn, mlp
from trainingdynamics.seeding import child_seed, seed_everything, torch_seeded
from trainingdynamics.studies.break_even.config import Config
from trainingdynamics.training import Step, every, train


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
    """The CNN, initialised from the stream ``("init", replicate)`` of ``seed`` (global RNG
    untouched).

    Without BatchNorm its default initial weights are scaled by ``init_scale`` (small outputs and
    Jacobians at t = 0). BatchNorm makes the convolutions scale-invariant, so there a smaller
    initial scale would only raise the effective learning rate η/‖w‖²: the BatchNorm CNN keeps
    PyTorch's default. Every learning rate and batch size of a replicate starts from the same
    weights.
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
class SGDRun:
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
        """Index of the break-even measurement: where λ_H^1 peaks (the last one if still rising)."""
        return int(np.argmax(self.hessian_top))


class _SpectraProbe:
    """A training callback: accuracy, λ_H^1 (warm-started Lanczos), K's spectrum; stops at the
    target.
    """

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
) -> SGDRun:
    """SGD from the initialisation, measured every ⌈measure_every/η⌉ steps (equal spacing in η·t;
    ``bn_measure_every`` with BatchNorm).

    Streams of ``seed``: ``("init", replicate)`` for the weights, ``("batches", replicate)`` for the
    minibatch order, ``("lanczos", replicate)`` for Lanczos' first start vector.
    """
    model = make_cnn(cfg, batch_norm=batch_norm, seed=seed, replicate=replicate).to(data.X.device)
    probe = _SpectraProbe(cfg, data, targets, seed=child_seed(seed, "lanczos", replicate))
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
    return SGDRun(
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
    """Full-batch GD of a tanh MLP on ``eos_examples`` digits (init from the stream ``"eos-init"``);
    sharpness every ``eos_every`` steps.
    """
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
    """Largest relative error of HVPs, top-3 H and K eigenvalues, per-example gradients vs float64
    dense.

    The tiny CNN's weights come from the stream ``"exactness-init"``, its data from
    ``"exactness-data"``.
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
        _relative_error(
            spectra.hessian_vector_product(model, squared_loss, X, Y, v, chunk_size=7), H @ v
        ),
        _relative_error(
            spectra.hessian_eigenvalues(model, squared_loss, X, Y, k=3, tol=1e-8).values,
            torch.linalg.eigvalsh(H).flip(0)[:3],
        ),
        _relative_error(spectra.per_example_gradients(model, squared_loss, X, Y, chunk_size=5), G),
        _relative_error(
            spectra.gradient_covariance_eigenvalues(model, squared_loss, X, Y, k=3).values, exact_k
        ),
    ]
    return max(errors)


def _relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """max |value − reference| / max |reference|."""
    return float((value - reference).abs().max() / reference.abs().max())


@dataclass
class BreakEvenResult:
    """All runs of the chapter."""

    cfg: Config
    replicates: tuple[int, ...]
    runs: dict[tuple[float, int, bool, int], SGDRun]
    edge: list[EdgeOfStability]
    exactness: float
    seconds: float = field(default=0.0)

    def trajectories(
        self, *, lr: float | None = None, batch_size: int | None = None, batch_norm: bool = False
    ) -> list[SGDRun]:
        """The runs matching the given learning rate / batch size / normalisation, over seeds."""
        return [
            t
            for (r, b, bn, _), t in self.runs.items()
            if (lr is None or r == lr)
            and (batch_size is None or b == batch_size)
            and bn == batch_norm
        ]


def _run_grids(
    cfg: Config, data: Dataset, targets: torch.Tensor, seed: int
) -> dict[tuple[float, int, bool, int], SGDRun]:
    """The learning-rate grid, the batch-size grid and the BatchNorm learning-rate grid (shared runs
    done once), for each of ``cfg.seeds`` replicates.
    """
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


def run(cfg: Config, seed: int = 0, device: str | torch.device = "cpu") -> BreakEvenResult:
    """Every SGD trajectory, the edge-of-stability runs and the exactness check, from ``seed``."""
    began = time.perf_counter()
    seed_everything(seed)
    device = resolve_device(str(device))
    data, targets = load_data(cfg, seed, device)
    runs = _run_grids(cfg, data, targets, seed)
    eos_data, eos_targets = load_data(cfg, seed, device, standardise="pixel")
    edge = [
        edge_of_stability_run(cfg, eos_data, eos_targets, lr=lr, seed=seed)
        for lr in cfg.eos_learning_rates
    ]
    return BreakEvenResult(
        cfg, tuple(range(cfg.seeds)), runs, edge, exactness_error(seed), time.perf_counter() - began
    )
