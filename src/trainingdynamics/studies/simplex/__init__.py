"""Deep ReLU Simplex: exact monotone L1 descent over the vertices of one layer (Hinz 2021).

With the data and all other layers fixed, L(θ) = Σ_i |f_θ(x_i) − y_i| is piecewise affine in
one layer's θ = [W_ℓ | b_ℓ]. The Deep ReLU Simplex algorithm walks from vertex to adjacent
vertex along the steepest improving edge and stops at a vertex none of whose 2·dim θ edges
descends: a local minimum. Hinz (2021, abstract) observed that near such minima the loss "seems
to decay exponentially slow", so that the minimum's loss can be estimated before it is reached,
and "a strong increase of the vertex density". We test the decay's shape (geometric against
linear on a held-out tail), its predictability (two estimators of L* against the naive L_k) and
the density of boundaries on random lines offset from the first and the last vertex.

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
    numbers,
    plot_decay_shape,
    plot_density,
    plot_loss,
    plot_predictability,
    predictability,
    setting_summary,
)

TITLE = "Deep ReLU Simplex: exact L1 descent over the vertices of the first layer"
CLAIM = (
    "The Deep ReLU Simplex decreases the layer-wise L1 loss monotonically over vertices to a "
    "certified local minimum (exact); Hinz's decay and vertex-density observations, tested on a "
    "setting of the authors' code, see the verdict table."
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
    "numbers",
    "plot_decay_shape",
    "plot_density",
    "plot_loss",
    "plot_predictability",
    "predictability",
    "setting_summary",
    "run",
]
