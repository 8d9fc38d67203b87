"""Gradient-covariance benchmark: top eigenvalue and trace of K, timed stage by stage.

Stage 1, the n × P per-example gradients, three ways: ``vmap(grad)`` (ours), a Python loop of
backward passes, BackPACK's ``BatchGrad`` in one backward pass. Stage 2, the spectrum, two ways
shared by all three: the library's dense n × n Gram eigendecomposition (``spectra.covariance_spectrum``)
and Lanczos on the Gram matrix applied implicitly (proposed). A pipeline's time is the sum of its
two stages' medians. The reference is the loop in float64 followed by the dense Gram route.
"""

from __future__ import annotations

from typing import Callable

import torch

from trainingdynamics.benchmarks import peers
from trainingdynamics.benchmarks.config import BenchConfig
from trainingdynamics.benchmarks.problems import LOSS, Problem
from trainingdynamics.benchmarks.timing import measure
from trainingdynamics.diagnostics import spectra

Gradients = Callable[[Problem], torch.Tensor]


GRADIENTS: dict[str, Gradients] = {  # each is handed a Problem.copy (BackPACK extends the model in place)
    "ours (vmap)": lambda p: spectra.per_example_gradients(p.model, LOSS, p.X, p.y),
    "per-example loop": lambda p: spectra.looped_per_example_gradients(p.model, LOSS, p.X, p.y),
    "BackPACK BatchGrad": lambda p: peers.backpack_per_example_gradients(p.model, LOSS, p.X, p.y),
}
OURS_GRADIENTS = "ours (vmap)"


def implicit_gram_spectrum(gradients: torch.Tensor, k: int = 1) -> spectra.CovarianceSpectrum:
    """Top-``k`` eigenvalues and trace of K by Lanczos on v ↦ (1/n) G_c(G_cᵀv), never forming the n × n Gram matrix.

    Each product costs 2nP instead of the n²P of forming G_c G_cᵀ; Tr K = (1/n) ‖G_c‖²_F.
    Eigenvectors are not needed here and are returned empty.
    """
    centred = spectra.centred_gradients(gradients)
    n = len(centred)
    result = spectra.lanczos(lambda v: centred @ (centred.T @ v) / n, n, k=k, tol=1e-8)
    return spectra.CovarianceSpectrum(result.values, torch.empty(0), float((centred**2).sum() / n), n)


DENSE_GRAM = "dense Gram + eigh (ours)"
IMPLICIT_GRAM = "Lanczos on implicit Gram (proposed)"
SPECTRA: dict[str, Callable[[torch.Tensor], spectra.CovarianceSpectrum]] = {
    DENSE_GRAM: spectra.covariance_spectrum,
    IMPLICIT_GRAM: implicit_gram_spectrum,
}


def errors(found: spectra.CovarianceSpectrum, reference: spectra.CovarianceSpectrum) -> dict[str, float]:
    """Relative errors of the top eigenvalue and of the trace."""
    top, exact = float(found.values[0]), float(reference.values[0])
    return {"rel_error_top": abs(top - exact) / abs(exact), "rel_error_trace": abs(found.trace - reference.trace) / abs(reference.trace)}


def covariance_rows(problem: Problem, cfg: BenchConfig) -> list[dict]:
    """Stage timings and accuracies on the first n examples for every n in ``cfg.covariance_sizes``."""
    warm = problem.first(min(cfg.covariance_sizes))
    for run in GRADIENTS.values():  # warm-up
        for spectrum in SPECTRA.values():
            spectrum(run(warm.copy()))
    rows = []
    for n in cfg.covariance_sizes:
        batch = problem.first(n)
        exact = batch.in_float64()
        reference = spectra.covariance_spectrum(spectra.looped_per_example_gradients(exact.model, LOSS, exact.X, exact.y))
        common = {"model": problem.model_name, "n": n, "params": problem.n_params}
        gradients = measure({m: (batch.copy, run) for m, run in GRADIENTS.items()}, repeats=cfg.repeats, budget_s=cfg.budget_s)
        for method, timed in gradients.items():
            accuracy = errors(implicit_gram_spectrum(timed.result), reference)
            rows.append(common | {"stage": "gradients", "method": method, "seconds": timed.median, "seconds_all": timed.seconds} | accuracy)
        ours = gradients[OURS_GRADIENTS].result
        routes = measure({r: (lambda: ours, spectrum) for r, spectrum in SPECTRA.items()}, repeats=cfg.repeats, budget_s=cfg.budget_s)
        for route, timed in routes.items():
            rows.append(common | {"stage": "spectrum", "method": route, "seconds": timed.median, "seconds_all": timed.seconds} | errors(timed.result, reference))
    return rows
