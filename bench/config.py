"""What the benchmarks measure: the models, data sizes, tolerances and repeats of each profile."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from trainingdynamics.models.digits import cnn, mlp
from trainingdynamics.profiles import ParameterError, require_positive, resolve

MODELS: dict[str, tuple[Callable[[], nn.Module], bool]] = {
    # name: (builder, takes 1×8×8 images)
    "mlp": (lambda: mlp((64, 128, 128, 10)), False),  # 26 122 parameters
    "cnn": (lambda: cnn((16, 64)), True),  # 12 010 parameters
    "tiny-mlp": (lambda: mlp((64, 16, 10)), False),  # 1 210 parameters (quick mode only)
}


@dataclass(frozen=True)
class Setting:
    """One tolerance / iteration-cap pair handed to an eigensolver."""

    tol: float
    max_iter: int

    def __str__(self) -> str:
        return f"tol={self.tol:g}, maxIter={self.max_iter}"


@dataclass(frozen=True)
class BenchConfig:
    """Every knob of a benchmark run."""

    models: tuple[str, ...]
    hessian_sizes: tuple[int, ...]  # examples in the full-batch loss whose Hessian is probed
    covariance_sizes: tuple[int, ...]  # batch sizes of the gradient-covariance comparison
    train_steps: int  # full-batch GD steps before measuring, so the Hessian is not the one at init
    lr: float
    top_k: int  # the "top-10" case
    ours: tuple[Setting, ...]  # Lanczos tolerances tried
    pyhessian_top1: tuple[Setting, ...]  # default first, then tighter
    pyhessian_topk: tuple[Setting, ...]
    probes: int  # Hutchinson probes (fixed count)
    accuracy: float  # the relative accuracy the top-1 target asks for
    repeats: int
    budget_s: float  # a method's repeats stop once they have used this many seconds
    seed: int = 0

    def __post_init__(self) -> None:
        require_positive(
            self,
            "hessian_sizes",
            "covariance_sizes",
            "train_steps",
            "lr",
            "top_k",
            "probes",
            "accuracy",
            "repeats",
            "budget_s",
        )
        unknown = sorted(set(self.models) - set(MODELS))
        if unknown:
            raise ParameterError(
                f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}"
            )


OURS_TOLERANCES = tuple(Setting(tol, 300) for tol in (1e-2, 1e-3, 1e-4, 1e-6))
PYHESSIAN_DEFAULT = Setting(1e-3, 100)

PROFILES = {
    "quick": BenchConfig(
        models=("tiny-mlp",),
        hessian_sizes=(256,),
        covariance_sizes=(64,),
        train_steps=20,
        lr=0.1,
        top_k=3,
        ours=OURS_TOLERANCES[:2],
        pyhessian_top1=(PYHESSIAN_DEFAULT, Setting(1e-5, 200)),
        pyhessian_topk=(PYHESSIAN_DEFAULT,),
        probes=10,
        accuracy=1e-4,
        repeats=1,
        budget_s=5.0,
    ),
    "full": BenchConfig(
        models=("mlp", "cnn"),
        hessian_sizes=(512, 1797),
        covariance_sizes=(128, 512, 1797),
        train_steps=100,
        lr=0.1,
        top_k=10,
        ours=OURS_TOLERANCES,
        pyhessian_top1=(
            PYHESSIAN_DEFAULT,
            Setting(1e-4, 200),
            Setting(1e-5, 200),
            Setting(1e-6, 200),
        ),
        pyhessian_topk=(PYHESSIAN_DEFAULT, Setting(1e-4, 200)),
        probes=100,
        accuracy=1e-4,
        repeats=5,
        budget_s=8.0,
    ),
}


def config(profile: str = "full", **overrides) -> BenchConfig:
    """The profile's configuration with overrides applied."""
    return resolve(PROFILES, profile, **overrides)
