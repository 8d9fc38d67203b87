"""What one product costs, the chunked HVP, Hutch++ against Hutchinson, and SLQ against dense
spectra.

Products are timed on an operator built once (its set-up is timed apart): ours unchunked, ours
chunked with each chunk linearised once and kept, ours chunked re-linearised per product (the
memory-lean path), curvlinops' ``HessianLinearOperator @ v``, hessian-eigenthings'
``HessianOperator.matvec`` and PyHessian's ``hessian_vector_product``. Cost in
gradient-equivalents (curvlinops' convention) divides by the time of one gradient of the same
loss (forward and backward).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from bench import peers
from bench.config import BenchConfig
from bench.problems import LOSS, Problem, trained_problem
from bench.timing import measure
from trainingdynamics.diagnostics import spectra
from trainingdynamics.diagnostics.density import exact_density, l1_distance

Product = Callable[[torch.Tensor], object]
UNCHUNKED = "ours, unchunked"
CHUNKED = "ours, chunked (each chunk linearised once)"
RELINEARISED = "ours, chunked (re-linearised per product)"
GRADIENT = "one gradient (forward + backward)"


def gradient(problem: Problem) -> Product:
    """One gradient of the mean loss, the unit of cost."""
    params = [p for p in problem.model.parameters() if p.requires_grad]
    return lambda v: torch.autograd.grad(LOSS(problem.model(problem.X), problem.y), params)


def ours(problem: Problem, chunk_size: int | None, relinearise: bool) -> Product:
    """Our HVP operator (built here, outside the product timing)."""
    return spectra.hvp_operator(
        problem.model, LOSS, problem.X, problem.y, chunk_size=chunk_size, relinearise=relinearise
    )


def curvlinops(problem: Problem) -> Product:
    """curvlinops' Hessian operator, applied with ``@``."""
    params = [p for p in problem.model.parameters() if p.requires_grad]
    operator = peers.peer("curvlinops").HessianLinearOperator(
        problem.model, LOSS, params, [(problem.X, problem.y)], check_deterministic=False
    )
    return lambda v: operator @ v.to(problem.X.dtype)


def hessian_eigenthings(problem: Problem) -> Product:
    """hessian-eigenthings' Hessian operator's ``matvec``."""
    things = peers.peer("hessian_eigenthings")
    operator = things.HessianOperator(
        problem.model, [(problem.X, problem.y)], things.supervised_loss(LOSS)
    )
    return lambda v: operator.matvec(v.to(problem.X.dtype))


def pyhessian(problem: Problem) -> Product:
    """PyHessian's ``hessian_vector_product`` on the gradient graph its ``hessian`` object keeps."""
    module = peers.peer("pyhessian.hessian")
    with peers.counted_pyhessian_hvps():
        comp = module.hessian(problem.model, LOSS, data=(problem.X, problem.y), cuda=False)

    def product(v: torch.Tensor) -> object:
        pieces = list(torch.split(v.to(problem.X.dtype), [p.numel() for p in comp.params]))
        tangent = [piece.reshape(p.shape) for piece, p in zip(pieces, comp.params, strict=True)]
        return module.hessian_vector_product(comp.gradsH, comp.params, tangent)

    return product


def products(cfg: BenchConfig, n: int) -> dict[str, Callable[[Problem], Product]]:
    """Every product timed, by label; the chunk size cuts n examples into ``cfg.chunks`` pieces."""
    size = math.ceil(n / cfg.chunks)
    return {
        GRADIENT: gradient,
        UNCHUNKED: lambda p: ours(p, None, False),
        CHUNKED: lambda p: ours(p, size, False),
        RELINEARISED: lambda p: ours(p, size, True),
        "curvlinops": curvlinops,
        "hessian-eigenthings": hessian_eigenthings,
        "PyHessian": pyhessian,
    }


def product_rows(problem: Problem, cfg: BenchConfig) -> list[dict]:
    """Set-up seconds and milliseconds per product of each method, and gradient-equivalents."""
    vectors = torch.randn(cfg.hvp_products, problem.n_params, dtype=torch.float64)

    def prepare(build: Callable[[Problem], Product]) -> Callable[[], tuple[Product, float]]:
        def built() -> tuple[Product, float]:
            copy = problem.copy()
            start = time.perf_counter()
            product = build(copy)
            return product, time.perf_counter() - start

        return built

    def run(state: tuple[Product, float]) -> float:
        for v in vectors:
            state[0](v)
        return state[1]

    timed = measure(
        {label: (prepare(build), run) for label, build in products(cfg, len(problem.X)).items()},
        repeats=cfg.repeats,
        budget_s=cfg.budget_s,
    )
    unit = timed[GRADIENT].median / cfg.hvp_products
    return [
        {
            "model": problem.model_name,
            "n": len(problem.X),
            "method": label,
            "setup_s": t.result,
            "ms_per_product": 1e3 * t.median / cfg.hvp_products,
            "gradient_equivalents": t.median / cfg.hvp_products / unit,
        }
        for label, t in timed.items()
    ]


def trace_accuracy_rows(problem: Problem, cfg: BenchConfig) -> list[dict]:
    """RMS relative error of Hutchinson and Hutch++ at equal products over seeds, vs the exact
    trace."""
    exact = problem.in_float64()
    reference = peers.backpack_hessian_trace(exact.model, LOSS, exact.X, exact.y)
    matvec = spectra.hvp_operator(problem.model, LOSS, problem.X, problem.y)
    rows = []
    for method, estimate in (
        ("Hutchinson", spectra.hutchinson_trace),
        ("Hutch++", spectra.hutchpp_trace),
    ):
        found = [
            estimate(matvec, problem.n_params, cfg.trace_matvecs, seed=seed)
            for seed in range(cfg.trace_seeds)
        ]
        errors = np.array([(f.value - reference) / reference for f in found])
        rows.append(
            {
                "model": problem.model_name,
                "n": len(problem.X),
                "method": method,
                "matvecs": found[0].n_hvp,
                "seeds": cfg.trace_seeds,
                "rms_rel_error": float(np.sqrt(np.mean(errors**2))),
                "mean_rel_stderr": float(np.mean([f.stderr for f in found]) / abs(reference)),
                "reference": reference,
            }
        )
    return rows


DENSITY_MODEL = "tiny-mlp"
DENSITY_SIGMA = 0.02  # broadening: this fraction of the exact spectrum's range


def density_rows(cfg: BenchConfig) -> list[dict]:
    """SLQ of H and K on a small trained network against its dense spectra (float64)."""
    problem = trained_problem(DENSITY_MODEL, cfg).first(cfg.density_n).in_float64()
    args = (problem.model, LOSS, problem.X, problem.y)
    G = spectra.per_example_gradients(*args)
    centred = G - G.mean(dim=0)
    dense = {
        "hessian": spectra.dense_hessian(*args),
        "covariance": centred.T @ centred / len(G),
    }
    rows = []
    for matrix, A in dense.items():
        eigenvalues = torch.linalg.eigvalsh(A).numpy()
        start = time.perf_counter()
        found = spectra.spectral_density(
            *args, matrix=matrix, steps=cfg.density_steps, probes=cfg.density_probes, seed=cfg.seed
        )
        seconds = time.perf_counter() - start
        sigma = DENSITY_SIGMA * float(eigenvalues.max() - eigenvalues.min())
        grid = np.linspace(eigenvalues.min() - 5 * sigma, eigenvalues.max() + 5 * sigma, 4000)
        moments = {
            f"moment{p}_rel_error": abs(found.moment(p) - float(np.mean(eigenvalues**p)))
            / abs(float(np.mean(eigenvalues**p)))
            for p in (1, 2)
        }
        rows.append(
            {
                "model": DENSITY_MODEL,
                "n": cfg.density_n,
                "params": problem.n_params,
                "matrix": matrix,
                "probes": cfg.density_probes,
                "steps": cfg.density_steps,
                "n_hvp": found.n_hvp,
                "seconds": seconds,
                "sigma_fraction": DENSITY_SIGMA,
                "l1_distance": l1_distance(
                    found.density(grid, sigma), exact_density(eigenvalues, grid, sigma), grid
                ),
            }
            | moments
        )
    return rows
