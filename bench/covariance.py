"""Gradient-covariance benchmark: top eigenvalue and trace of K, timed stage by stage.

Stage 1, the n × P per-example gradients, three ways: ``vmap(grad)`` (ours), a Python loop of
backward passes, BackPACK's ``BatchGrad`` in one backward pass. Stage 2, the spectrum, by both
methods of ``spectra.covariance_spectrum``, shared by all three: the n × n Gram matrix formed in
float64 with LAPACK's top pairs, and Lanczos on the Gram matrix applied implicitly. A pipeline's
time is the sum of its two stages' medians. Besides, in one stage, the library's Gram matrix built
layer by layer without per-example gradients (``method="gram"``). The reference is the loop in
float64 followed by the dense route.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from bench import peers
from bench.config import BenchConfig
from bench.problems import LOSS, Problem
from bench.timing import measure
from trainingdynamics.diagnostics import spectra

Gradients = Callable[[Problem], torch.Tensor]


GRADIENTS: dict[
    str, Gradients
] = {  # each is handed a Problem.copy (BackPACK extends the model in place)
    "ours (vmap)": lambda p: spectra.per_example_gradients(p.model, LOSS, p.X, p.y),
    "per-example loop": lambda p: spectra.looped_per_example_gradients(p.model, LOSS, p.X, p.y),
    "BackPACK BatchGrad": lambda p: peers.backpack_per_example_gradients(p.model, LOSS, p.X, p.y),
}
OURS_GRADIENTS = "ours (vmap)"


DENSE_GRAM = "dense Gram + LAPACK"
IMPLICIT_GRAM = "Lanczos on implicit Gram"
SPECTRA: dict[str, Callable[[torch.Tensor], spectra.CovarianceSpectrum]] = {
    DENSE_GRAM: partial(spectra.covariance_spectrum, method="dense"),
    IMPLICIT_GRAM: partial(spectra.covariance_spectrum, method="lanczos"),
}


LAYERED_GRAM = "Gram by layers (ours)"


def layered_gram(problem: Problem) -> spectra.CovarianceSpectrum:
    """The whole computation without per-example gradients:
    ``gradient_covariance_eigenvalues(method="gram")``."""
    return spectra.gradient_covariance_eigenvalues(
        problem.model, LOSS, problem.X, problem.y, method="gram"
    )


def errors(
    found: spectra.CovarianceSpectrum, reference: spectra.CovarianceSpectrum
) -> dict[str, float]:
    """Relative errors of the top eigenvalue and of the trace."""
    top, exact = float(found.values[0]), float(reference.values[0])
    return {
        "rel_error_top": abs(top - exact) / abs(exact),
        "rel_error_trace": abs(found.trace - reference.trace) / abs(reference.trace),
    }


def covariance_rows(problem: Problem, cfg: BenchConfig) -> list[dict]:
    """Stage timings and accuracies on the first n examples for every n in
    ``cfg.covariance_sizes``."""
    warm = problem.first(min(cfg.covariance_sizes))
    for run in GRADIENTS.values():  # warm-up
        for spectrum in SPECTRA.values():
            spectrum(run(warm.copy()))
    layered_gram(warm.copy())
    rows = []
    for n in cfg.covariance_sizes:
        batch = problem.first(n)
        exact = batch.in_float64()
        reference = spectra.covariance_spectrum(
            spectra.looped_per_example_gradients(exact.model, LOSS, exact.X, exact.y),
            method="dense",
        )
        common = {"model": problem.model_name, "n": n, "params": problem.n_params}
        gradients = measure(
            {m: (batch.copy, run) for m, run in GRADIENTS.items()},
            repeats=cfg.repeats,
            budget_s=cfg.budget_s,
        )
        for method, timed in gradients.items():
            accuracy = errors(
                spectra.covariance_spectrum(timed.result, method="lanczos"), reference
            )
            rows.append(
                common
                | {
                    "stage": "gradients",
                    "method": method,
                    "seconds": timed.median,
                    "seconds_all": timed.seconds,
                }
                | accuracy
            )
        ours = gradients[OURS_GRADIENTS].result
        routes = measure(
            {r: (lambda ours=ours: ours, spectrum) for r, spectrum in SPECTRA.items()},
            repeats=cfg.repeats,
            budget_s=cfg.budget_s,
        )
        for route, timed in routes.items():
            rows.append(
                common
                | {
                    "stage": "spectrum",
                    "method": route,
                    "seconds": timed.median,
                    "seconds_all": timed.seconds,
                }
                | errors(timed.result, reference)
            )
        timed = measure(
            {LAYERED_GRAM: (batch.copy, layered_gram)}, repeats=cfg.repeats, budget_s=cfg.budget_s
        )[LAYERED_GRAM]
        rows.append(
            common
            | {
                "stage": "both",
                "method": LAYERED_GRAM,
                "seconds": timed.median,
                "seconds_all": timed.seconds,
            }
            | errors(timed.result, reference)
        )
    return rows
