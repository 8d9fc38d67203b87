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
    max_iter: int | None  # None: the library's default

    def __str__(self) -> str:
        steps = "default" if self.max_iter is None else self.max_iter
        return f"tol={self.tol:g}, maxIter={steps}"


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
    curvlinops: tuple[Setting, ...]  # eigsh tolerances, its default (0) first
    eigenthings_top1: tuple[Setting, ...]  # step counts, its default (2k) first
    eigenthings_topk: tuple[Setting, ...]
    probes: int  # Hutchinson probes (fixed count)
    chunks: int  # the chunked HVP cuts the examples into this many chunks
    hvp_products: int  # products per timing of one HVP variant
    trace_matvecs: int  # Hutchinson vs Hutch++ at this many products each (a multiple of 3)
    trace_seeds: int  # ... over this many seeds (RMS error)
    density_n: int  # examples of the small network whose dense spectra SLQ is compared with
    density_probes: int
    density_steps: int
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
            "chunks",
            "hvp_products",
            "trace_matvecs",
            "trace_seeds",
            "density_n",
            "density_probes",
            "density_steps",
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
CURVLINOPS_TOLERANCES = tuple(Setting(tol, None) for tol in (0.0, 1e-2, 1e-4, 1e-6))
EIGENTHINGS_DEFAULT = Setting(1e-4, None)

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
        curvlinops=CURVLINOPS_TOLERANCES[:2],
        eigenthings_top1=(EIGENTHINGS_DEFAULT, Setting(1e-4, 20)),
        eigenthings_topk=(EIGENTHINGS_DEFAULT, Setting(1e-4, 30)),
        probes=10,
        chunks=4,
        hvp_products=3,
        trace_matvecs=30,
        trace_seeds=2,
        density_n=64,
        density_probes=4,
        density_steps=20,
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
        curvlinops=CURVLINOPS_TOLERANCES,
        eigenthings_top1=(EIGENTHINGS_DEFAULT,) + tuple(Setting(1e-4, m) for m in (15, 25, 40)),
        eigenthings_topk=(EIGENTHINGS_DEFAULT,) + tuple(Setting(1e-4, m) for m in (30, 40, 50)),
        probes=100,
        chunks=4,
        hvp_products=20,
        trace_matvecs=99,
        trace_seeds=10,
        density_n=256,
        density_probes=20,
        density_steps=40,
        accuracy=1e-4,
        repeats=5,
        budget_s=8.0,
    ),
}


def config(profile: str = "full", **overrides) -> BenchConfig:
    """The profile's configuration with overrides applied."""
    return resolve(PROFILES, profile, **overrides)
