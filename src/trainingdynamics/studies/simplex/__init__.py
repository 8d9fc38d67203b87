"""Deep ReLU Simplex: exact monotone L1 descent over the vertices of the first layer (Hinz 2021).

With the data and all layers but the first fixed, L(θ) = Σ_i |f_θ(x_i) − y_i| is piecewise
affine in θ = [W₁ | b₁]. The Deep ReLU Simplex algorithm walks from vertex to adjacent vertex,
always along the steepest improving edge, and stops at a vertex none of whose 2·dim θ edges
descends: a local minimum. Hinz (2021, abstract) observed that near such minima the loss
"seems to decay exponentially slow" at the iterated vertices, so that the minimum's loss can be
estimated from the losses of the vertices before it, and "a strong increase of the vertex
density". We test the first with a limit fit L_k ≈ L* + C qᵏ and the second with step lengths
between vertices: both operationalisations, thresholds included, are ours.

This package is the notebook's API; the experiment, the analysis, the claims and the figures
live in their own modules.
"""

from __future__ import annotations

from trainingdynamics.studies.simplex.claims import claims
from trainingdynamics.studies.simplex.experiment import (
    PROFILES,
    Config,
    SimplexRuns,
    config,
    run,
)
from trainingdynamics.studies.simplex.figures import (
    plot_loss,
    plot_running_estimates,
    plot_steps_and_density,
)

TITLE = "Deep ReLU Simplex: exact L1 descent over the vertices of the first layer"
CLAIM = (
    "The Deep ReLU Simplex decreases the L1 loss monotonically over vertices to a certified local "
    "minimum (exact); our tests of Hinz's decay and vertex-density observations are not supported."
)
PAPER = "hinz2021layerwise"

__all__ = [
    "CLAIM",
    "PAPER",
    "PROFILES",
    "TITLE",
    "Config",
    "SimplexRuns",
    "claims",
    "config",
    "plot_loss",
    "plot_running_estimates",
    "plot_steps_and_density",
    "run",
]
