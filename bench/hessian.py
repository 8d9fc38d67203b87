"""Hessian benchmarks: top-1 / top-k eigenvalues against three peers, products, and the trace.

Peers: curvlinops + scipy ``eigsh`` (ARPACK), hessian-eigenthings' Lanczos, PyHessian's deflated
power iteration. Every method sees the same float32 model, data and mean cross-entropy loss; the
references are
computed in float64, independently of the methods timed: eigenvalues by ARPACK (``scipy eigsh``)
with their residuals checked, the trace from BackPACK's exact Hessian diagonal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.sparse.linalg
import torch

from bench import peers
from bench.config import BenchConfig, Setting
from bench.problems import LOSS, Problem
from bench.timing import measure
from trainingdynamics.diagnostics import spectra


@dataclass(frozen=True)
class Estimate:
    """Eigenvalues (descending) and the HVPs spent on them."""

    values: np.ndarray
    n_hvp: int


def relative_errors(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """|λ_i − λ_i^ref| / |λ_i^ref| for the i-th largest value of each (the method's values sorted
    descending)."""
    values = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    reference = np.asarray(reference, dtype=np.float64)[: len(values)]
    return np.abs(values - reference) / np.abs(reference)


@dataclass(frozen=True)
class Reference:
    """Top eigenvalues from ARPACK in float64, with the worst residual ‖Hv − λv‖ / λ_1 of the
    returned pairs."""

    values: np.ndarray
    max_relative_residual: float
    n_hvp: int


def reference_eigenvalues(problem: Problem, k: int, *, seed: int = 0) -> Reference:
    """The top-``k`` (largest algebraic) Hessian eigenvalues by ``scipy.sparse.linalg.eigsh`` on
    float64 HVPs, tol 1e-10."""
    exact = problem.in_float64()
    matvec = spectra.hvp_operator(exact.model, LOSS, exact.X, exact.y)
    dim = exact.n_params
    calls = [0]

    def apply(v: np.ndarray) -> np.ndarray:
        calls[0] += 1
        return matvec(torch.from_numpy(np.ascontiguousarray(v))).numpy()

    operator = scipy.sparse.linalg.LinearOperator((dim, dim), matvec=apply, dtype=np.float64)
    start = np.random.default_rng(seed).standard_normal(dim)
    values, vectors = scipy.sparse.linalg.eigsh(
        operator, k=k, which="LA", tol=1e-10, v0=start, ncv=max(2 * k + 1, 20)
    )
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    residuals = [np.linalg.norm(apply(vectors[:, i]) - values[i] * vectors[:, i]) for i in range(k)]
    return Reference(values, float(max(residuals) / abs(values[0])), calls[0])


def ours(problem: Problem, k: int, setting: Setting, seed: int) -> Estimate:
    """The library: ``spectra.hessian_eigenvalues`` (checked Lanczos on once-linearised HVPs)."""
    result = spectra.hessian_eigenvalues(
        problem.model,
        LOSS,
        problem.X,
        problem.y,
        k=k,
        tol=setting.tol,
        max_iter=setting.max_iter,
        seed=seed,
    )
    return Estimate(result.values.numpy(), result.n_hvp)


def pyhessian(problem: Problem, k: int, setting: Setting, seed: int) -> Estimate:
    """PyHessian's deflated power iteration (pass a :meth:`Problem.copy`), its global RNG seeded."""
    torch.manual_seed(seed)
    found = peers.pyhessian_eigenvalues(
        problem.model, LOSS, problem.X, problem.y, k=k, tol=setting.tol, max_iter=setting.max_iter
    )
    return Estimate(found.values, found.n_hvp)


def curvlinops(problem: Problem, k: int, setting: Setting, seed: int) -> Estimate:
    """curvlinops' Hessian operator handed to ``scipy.sparse.linalg.eigsh``."""
    found = peers.curvlinops_eigenvalues(
        problem.model, LOSS, problem.X, problem.y, k=k, tol=setting.tol, seed=seed
    )
    return Estimate(found.values, found.n_hvp)


def hessian_eigenthings(problem: Problem, k: int, setting: Setting, seed: int) -> Estimate:
    """hessian-eigenthings' Lanczos with ``setting.max_iter`` steps (None: its default 2k)."""
    found = peers.hessian_eigenthings_eigenvalues(
        problem.model, LOSS, problem.X, problem.y, k=k, max_iter=setting.max_iter, seed=seed
    )
    return Estimate(found.values, found.n_hvp)


EigenMethod = Callable[[Problem, int, Setting, int], Estimate]
OURS = "ours (Lanczos)"
PYHESSIAN = "PyHessian (power iteration)"
CURVLINOPS = "curvlinops + eigsh"
EIGENTHINGS = "hessian-eigenthings (Lanczos)"
PEERS = (CURVLINOPS, EIGENTHINGS, PYHESSIAN)
SOLVERS: dict[str, EigenMethod] = {
    OURS: ours,
    CURVLINOPS: curvlinops,
    EIGENTHINGS: hessian_eigenthings,
    PYHESSIAN: pyhessian,
}


def eigen_methods(cfg: BenchConfig, k: int) -> dict[str, tuple[str, EigenMethod, Setting]]:
    """Every (method, solver, setting) timed for the top-``k`` case, by a unique label.

    Each peer's first setting is its default (what a user sees without tuning).
    """
    top1 = k == 1
    settings = {
        OURS: cfg.ours,
        CURVLINOPS: cfg.curvlinops,
        EIGENTHINGS: cfg.eigenthings_top1 if top1 else cfg.eigenthings_topk,
        PYHESSIAN: cfg.pyhessian_top1 if top1 else cfg.pyhessian_topk,
    }
    return {
        f"{method}, {setting}": (method, SOLVERS[method], setting)
        for method, chosen in settings.items()
        for setting in chosen
    }


def warm_up(problem: Problem, cfg: BenchConfig) -> None:
    """Run each solver once, cheaply, so one-time costs stay out of the timings."""
    for solve in SOLVERS.values():
        solve(problem.copy(), 1, Setting(1e-2, 10), cfg.seed)


def eigen_rows(problem: Problem, cfg: BenchConfig, reference: Reference) -> list[dict]:
    """Time every method and setting for the top-1 and top-k eigenvalues of ``problem``; errors
    against ``reference``."""
    warm_up(problem, cfg)
    rows = []
    for k in (1, cfg.top_k):
        methods = eigen_methods(cfg, k)
        timings = measure(
            {
                label: (problem.copy, partial(solve, k=k, setting=setting, seed=cfg.seed))
                for label, (_, solve, setting) in methods.items()
            },
            repeats=cfg.repeats,
            budget_s=cfg.budget_s,
        )
        for label, (method, _, setting) in methods.items():
            timed = timings[label]
            errors = relative_errors(timed.result.values, reference.values[:k])
            rows.append(
                {
                    "model": problem.model_name,
                    "n": len(problem.X),
                    "params": problem.n_params,
                    "k": k,
                    "method": method,
                    "setting": str(setting),
                    "seconds": timed.median,
                    "seconds_all": timed.seconds,
                    "n_hvp": timed.result.n_hvp,
                    "values": timed.result.values.tolist(),
                    "descending": bool(np.all(np.diff(timed.result.values) <= 0)),
                    "rel_errors": errors.tolist(),
                    "max_rel_error": float(errors.max()),
                }
            )
    return rows


def trace_rows(problem: Problem, cfg: BenchConfig) -> list[dict]:
    """Hutchinson with a fixed number of probes (ours) vs PyHessian's early-stopping ``trace()``,
    against the exact trace."""
    exact = problem.in_float64()
    reference = peers.backpack_hessian_trace(exact.model, LOSS, exact.X, exact.y)
    methods: dict[str, Callable[[Problem], spectra.TraceEstimate]] = {
        f"ours (Hutchinson, {cfg.probes} probes)": lambda p: spectra.hessian_trace(
            p.model, LOSS, p.X, p.y, probes=cfg.probes, seed=cfg.seed
        ),
        "PyHessian trace() (tol=1e-3, maxIter=100)": lambda p: pyhessian_trace(p, cfg.seed),
    }
    timings = measure(
        {method: (problem.copy, run) for method, run in methods.items()},
        repeats=cfg.repeats,
        budget_s=cfg.budget_s,
    )
    rows = []
    for method, timed in timings.items():
        mean, stderr = timed.result.value, timed.result.stderr
        rows.append(
            {
                "model": problem.model_name,
                "n": len(problem.X),
                "params": problem.n_params,
                "method": method,
                "seconds": timed.median,
                "seconds_all": timed.seconds,
                "n_hvp": timed.result.n_hvp,
                "trace": mean,
                "stderr": stderr,
                "reference": reference,
                "rel_error": abs(mean - reference) / abs(reference),
                "error_in_stderrs": abs(mean - reference) / stderr if stderr > 0 else math.nan,
            }
        )
    return rows


def pyhessian_trace(problem: Problem, seed: int) -> spectra.TraceEstimate:
    """PyHessian's ``trace()`` samples (pass a :meth:`Problem.copy`), its global RNG seeded."""
    torch.manual_seed(seed)
    found = peers.pyhessian_trace(problem.model, LOSS, problem.X, problem.y)
    return spectra.TraceEstimate.from_samples(found.values)
