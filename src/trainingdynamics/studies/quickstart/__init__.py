"""Quickstart: full-batch gradient descent on an over-parametrised linear least-squares problem.

With more features than samples (d > n), the loss L(w) = (1/2n)‖Xw − y‖² has a whole affine space
of minimisers. GD started at w = 0 moves only within the row space of X, so it converges to the
minimum-norm solution w* = X⁺y, and the error contracts per step by |1 − ηλ| along each
eigenvector of XᵀX/n with nonzero eigenvalue λ: ‖w_t − w*‖ ≤ ρ^t ‖w*‖ with ρ = max_λ |1 − ηλ|.

This package is the worked example of a chapter's study (see CONTRIBUTING.md): ``experiment``
(configuration and the run), ``analysis`` (what is computed from a run), ``claims`` (the verdict's
claims) and ``figures`` (what the notebook plots). This file is the notebook's API.
"""

from trainingdynamics.studies.quickstart.analysis import predicted_rate
from trainingdynamics.studies.quickstart.claims import claims
from trainingdynamics.studies.quickstart.experiment import (
    PROFILES,
    Config,
    GDRun,
    LeastSquaresProblem,
    config,
    run,
)
from trainingdynamics.studies.quickstart.figures import plot_convergence

TITLE = "Quickstart: gradient descent finds the minimum-norm solution"
CLAIM = (
    "Full-batch GD from zero converges to the minimum-norm least-squares solution X⁺y "
    "at the predicted linear rate."
)
PAPER = ""  # the citation key in book/references.bib of the paper the chapter reproduces

__all__ = [
    "CLAIM",
    "PAPER",
    "PROFILES",
    "TITLE",
    "Config",
    "GDRun",
    "LeastSquaresProblem",
    "claims",
    "config",
    "plot_convergence",
    "predicted_rate",
    "run",
]
