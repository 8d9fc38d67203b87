"""One SGD run measured by a spectra probe: λ_H¹, Tr H, K's spectrum and Eq. 1, past break-even."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from trainingdynamics.data import Dataset
from trainingdynamics.diagnostics import minibatch, spectra, stability
from trainingdynamics.diagnostics.density import SpectralDensity
from trainingdynamics.seeding import child_seed
from trainingdynamics.studies.break_even.config import Config
from trainingdynamics.studies.break_even.problem import make_cnn, squared_loss
from trainingdynamics.training import Step, every, train

_SERIES = (
    "hessian_top", "covariance_top", "covariance_kth", "covariance_trace", "hessian_trace",
    "hessian_trace_se", "curvature_mean", "curvature_variance", "minibatch_top", "minibatch_trace",
    "n_hvp",
)  # fmt: skip


@dataclass
class SGDRun:
    """One SGD run's measurements: at least to the target accuracy, then to ``after_break_even``
    measurements past its break-even point or ``max_measurements`` in all (``max_steps`` at most).
    """

    lr: float
    batch_size: int
    batch_norm: bool
    replicate: int  # index of the replicate (its init and batch streams), 0 … seeds − 1
    n_train: int  # N of Eq. 1
    target_accuracy: float
    budget: int  # measurements kept past the break-even point
    steps: np.ndarray
    accuracy: np.ndarray
    hessian_top: np.ndarray  # λ_H^1 on the Hessian probe
    covariance_top: np.ndarray  # λ_K^1 on the covariance probe (per-example, eval mode)
    covariance_kth: np.ndarray  # λ_K^k, k = condition_k
    covariance_trace: np.ndarray  # Tr K
    hessian_trace: np.ndarray  # Tr H (Hutchinson) on the Hessian probe
    hessian_trace_se: np.ndarray  # its standard error
    curvature_mean: np.ndarray  # mean of the per-example curvatures e_Hᵀ H_i e_H (= λ_H^1)
    curvature_variance: np.ndarray  # s², their population variance
    minibatch_top: (
        np.ndarray
    )  # λ_K^1 from train-mode mini-batch gradients (BatchNorm runs; else NaN)
    minibatch_trace: np.ndarray  # Tr K from the same
    n_hvp: np.ndarray
    train_seconds: float
    measure_seconds: float
    # SLQ densities of H at the first and the last measurement ("start", "end"), where requested
    densities: dict[str, SpectralDensity] = field(default_factory=dict)

    @property
    def reached_at(self) -> int | None:
        """Index of the first measurement at the target accuracy (None if never)."""
        return stability.first_crossing(self.accuracy, self.target_accuracy)

    @property
    def reached(self) -> bool:
        """Whether the run reached the target accuracy."""
        return self.reached_at is not None

    @property
    def matched(self) -> slice:
        """The measurements up to the target accuracy (all of them if it was never reached)."""
        return slice(0, None if self.reached_at is None else self.reached_at + 1)

    @property
    def stability(self) -> np.ndarray:
        """Eq. 1's left side (1 − ηλ_H¹)² + s²η²(N − S)/(S(N − 1)) at each measurement."""
        return np.array([
            stability.stability_lhs(self.lr, h, v, self.n_train, self.batch_size)
            for h, v in zip(self.hessian_top, self.curvature_variance, strict=True)
        ])  # fmt: skip

    @property
    def break_even(self) -> int | None:
        """Index of the break-even measurement: the first at which Eq. 1's left side reaches 1 with
        ηλ_H^1 ≥ 1 (a rising sharpness; near λ = 0 the left side is close to 1 too)."""
        return stability.first_crossing(
            np.where(self.lr * self.hessian_top >= 1, self.stability, 0)
        )

    @property
    def after(self) -> slice | None:
        """The break-even measurement and the ``budget`` after it (None if never reached)."""
        start = self.break_even
        return None if start is None else slice(start, start + self.budget + 1)

    @property
    def conditioning(self) -> np.ndarray:
        """λ_K^k / λ_K^1 at each measurement (1 is perfectly conditioned)."""
        return self.covariance_kth / self.covariance_top

    @property
    def trace_ratio(self) -> np.ndarray:
        """Tr K / λ_K^1, the paper's practical conditioning metric (§3)."""
        return self.covariance_trace / self.covariance_top

    @property
    def minibatch_ratio(self) -> np.ndarray:
        """Tr K / λ_K^1 from the train-mode mini-batch estimate of K."""
        return self.minibatch_trace / self.minibatch_top


class _SpectraProbe:
    """A training callback measuring the run; stops at the target accuracy once ``after_break_even``
    measurements past the break-even point or ``max_measurements`` in all are taken."""

    def __init__(
        self, cfg: Config, data: Dataset, targets: torch.Tensor, *, lr: float, batch_size: int,
        seed: int, period: int, density: bool = False,
    ) -> None:  # fmt: skip
        self.cfg, self.data, self.targets, self.seed = cfg, data, targets, seed
        self.lr, self.batch_size = lr, batch_size
        self.start: torch.Tensor | None = None
        self.trace_seed = child_seed(seed, "hutchinson")
        self.generator = torch.Generator().manual_seed(child_seed(seed, "minibatch"))
        self.seconds = 0.0
        self.reached = False
        self.count, self.break_even = 0, None
        self.period, self.wants_density = period, density
        self.densities: dict[str, SpectralDensity] = {}

    def __call__(self, state: Step) -> bool:
        began = time.perf_counter()
        values = self.measure(state)
        state.history.log(state.step, **values)
        self.count += 1
        lhs = stability.stability_lhs(
            self.lr, values["hessian_top"], values["curvature_variance"], len(self.data.X),
            self.batch_size,
        )  # fmt: skip
        if self.break_even is None and lhs >= 1 and self.lr * values["hessian_top"] >= 1:
            self.break_even = self.count
        self.reached |= values["accuracy"] >= self.cfg.target_accuracy
        past = (
            self.break_even is not None
            and self.count - self.break_even >= self.cfg.after_break_even
        )
        stop = self.reached and (past or self.count >= self.cfg.max_measurements)
        last = stop or state.step + self.period > self.cfg.max_steps
        if self.wants_density and (self.count == 1 or last):
            self.densities["start" if self.count == 1 else "end"] = self.density(state.model)
        self.seconds += time.perf_counter() - began
        return stop

    def density(self, model: torch.nn.Module) -> SpectralDensity:
        """The SLQ density of H on the Hessian probe's examples, in eval mode."""
        h = self.cfg.hessian_examples
        return spectra.spectral_density(
            model, squared_loss, self.data.X[:h], self.targets[:h], matrix="hessian",
            steps=self.cfg.density_steps, probes=self.cfg.density_probes,
            seed=child_seed(self.seed, "density"), mode="eval",
        )  # fmt: skip

    def measure(self, state: Step) -> dict[str, float]:
        """Accuracy, λ_H^1 with s² along its eigenvector, Tr H, K's spectrum (and mini-batch K)."""
        model, cfg, X, Y = state.model, self.cfg, self.data.X, self.targets
        h, c = cfg.hessian_examples, cfg.covariance_examples
        with spectra.model_mode(model, "eval"), torch.no_grad():
            accuracy = float((model(X).argmax(dim=1) == self.data.y).double().mean())
        top = spectra.hessian_eigenvalues(
            model, squared_loss, X[:h], Y[:h], tol=cfg.tol, mode="eval", start=self.start,
            seed=self.seed,
        )  # fmt: skip
        self.start = top.vectors[0]
        with spectra.model_mode(model, "eval"):
            curvatures = stability.directional_curvatures(
                model, squared_loss, X[:h], Y[:h], top.vectors[0]
            )
        trace = spectra.hessian_trace(
            model,
            squared_loss,
            X[:h],
            Y[:h],
            probes=cfg.trace_probes,
            seed=self.trace_seed,
            mode="eval",
        )
        cov = spectra.gradient_covariance_eigenvalues(
            model, squared_loss, X[:c], Y[:c], k=cfg.condition_k, mode="eval"
        )
        return {
            "accuracy": accuracy, "hessian_top": float(top.values[0]), "n_hvp": top.n_hvp,
            "covariance_top": float(cov.values[0]), "covariance_kth": float(cov.values[-1]),
            "covariance_trace": cov.trace, "hessian_trace": trace.value,
            "hessian_trace_se": trace.stderr, "curvature_mean": float(curvatures.mean()),
            "curvature_variance": stability.curvature_variance(curvatures),
            **self.minibatch_spectrum(model),
        }  # fmt: skip

    def minibatch_spectrum(self, model: torch.nn.Module) -> dict[str, float]:
        """The paper's estimator of K (BatchNorm runs only): train-mode mini-batch gradients."""
        if not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()):
            return {"minibatch_top": math.nan, "minibatch_trace": math.nan}
        with spectra.model_mode(model, "train"):
            G = minibatch.minibatch_gradients(
                model, squared_loss, self.data.X, self.targets, batch_size=self.batch_size,
                batches=self.cfg.minibatch_count, generator=self.generator,
            )  # fmt: skip
        scale = minibatch.minibatch_scale(len(self.data.X), self.batch_size)
        spectrum = spectra.covariance_spectrum(G.to(torch.float64))
        return {
            "minibatch_top": scale * float(spectrum.values[0]),
            "minibatch_trace": scale * spectrum.trace,
        }


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
    density: bool = False,
) -> SGDRun:
    """SGD from the initialisation, measured every ⌈measure_every/η⌉ steps (equal spacing in η·t;
    ``bn_measure_every`` with BatchNorm).

    Streams of ``seed``: ``("init", replicate)`` for the weights, ``("batches", replicate)`` for the
    minibatch order, ``("lanczos", replicate)`` for Lanczos' first start vector, Hutchinson's
    probes and the mini-batch estimate of K.
    """
    model = make_cnn(cfg, batch_norm=batch_norm, seed=seed, replicate=replicate).to(data.X.device)
    spacing = cfg.bn_measure_every if batch_norm else cfg.measure_every
    probe = _SpectraProbe(
        cfg,
        data,
        targets,
        lr=lr,
        batch_size=batch_size,
        seed=child_seed(seed, "lanczos", replicate),
        period=math.ceil(spacing / lr),
        density=density,
    )
    began = time.perf_counter()
    history = train(
        model,
        squared_loss,
        data.X,
        targets,
        optimizer=torch.optim.SGD(model.parameters(), lr=lr),
        steps=cfg.max_steps,
        batch_size=batch_size,
        callbacks=[every(probe.period, probe)],
        seed=child_seed(seed, "batches", replicate),
        desc=f"SGD η={lr:g} B={batch_size}" + (" BN" if batch_norm else ""),
    )
    elapsed = time.perf_counter() - began
    return SGDRun(
        lr=lr, batch_size=batch_size, batch_norm=batch_norm, replicate=replicate,
        n_train=len(data.X), target_accuracy=cfg.target_accuracy, budget=cfg.after_break_even,
        steps=history.steps("accuracy"), accuracy=history.values("accuracy"),
        **{name: history.values(name) for name in _SERIES},
        train_seconds=elapsed - probe.seconds, measure_seconds=probe.seconds,
        densities=probe.densities,
    )  # fmt: skip
