"""Active Neuron Least Squares: leaving plateaus by moving activation patterns (Ainsworth & Shin).

Within a fixed activation pattern the shallow 1-D ReLU network N(x) = Σ_j c_j σ(w_j x + b_j) is
linear in (α_j, β_j) = (c_j w_j, c_j b_j), so the pattern's least-squares problem is solved
exactly; ANLS moves the pattern explicitly (kinks across data points) and accepts strict
decreases, while GD waits on plateaus for a kink to drift across a data point. Our implementation
(``trainingdynamics.algorithms.anls``) is compared with full-batch GD (the plateaus chapter's
``gradient_descent``) and Adam (the shared training loop) from the same initialisations.
"""

from trainingdynamics.studies.anls.analysis import (
    exact_table,
    final_table,
    numbers,
    plane_table,
    speedup_summary,
    speedup_table,
)
from trainingdynamics.studies.anls.chapter import ANLSStudyResult, run
from trainingdynamics.studies.anls.claims import claims
from trainingdynamics.studies.anls.experiment import CLAIM, PAPER, PROFILES, TITLE, Config, config
from trainingdynamics.studies.anls.figures import plot_fits, plot_losses, plot_planes, plot_rasters

__all__ = [
    "CLAIM",
    "PAPER",
    "PROFILES",
    "TITLE",
    "ANLSStudyResult",
    "Config",
    "claims",
    "config",
    "exact_table",
    "final_table",
    "numbers",
    "plane_table",
    "plot_fits",
    "plot_losses",
    "plot_planes",
    "plot_rasters",
    "run",
    "speedup_summary",
    "speedup_table",
]
