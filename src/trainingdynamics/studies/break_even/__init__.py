"""The break-even point: how the early learning rate and batch size set curvature and noise.

Jastrzębski et al. (ICLR 2020) track the top eigenvalue λ_H^1 of the training-loss Hessian H and
the top eigenvalue λ_K^1 of the per-example gradient covariance
K = (1/n) Σ_i (g_i − ḡ)(g_i − ḡ)ᵀ along SGD. Early on both grow until SGD with step η and batch S
can no longer follow the sharpest direction: the *break-even point*, where their Eq. 1,
(1 − ηλ_H^1)² + s²η²(N − S)/(S(N − 1)) ≤ 1, stops holding. Hence a larger η (or smaller batch)
gives smaller maxima of λ_H^1, λ_K^1, Tr K and Tr H and better conditioning of K (Tr K/λ_K^1).
Here: a small CNN on scikit-learn's digits, squared loss, small initialisation, every run
compared at the same training accuracy and then given the same budget past its break-even point;
with BatchNorm, the paper's mini-batch estimate of K; plus full-batch GD, where λ_H^1 rises to
2/η and hovers there (Cohen et al. 2021, edge of stability).
"""

from trainingdynamics.studies.break_even.analysis import (
    measurement_cost,
    measurement_share,
    numbers,
    probe_cost_in_steps,
    summary_table,
)
from trainingdynamics.studies.break_even.checks import claims
from trainingdynamics.studies.break_even.config import CLAIM, PAPER, PROFILES, TITLE, Config, config
from trainingdynamics.studies.break_even.experiment import run
from trainingdynamics.studies.break_even.figures import (
    plot_edge_of_stability,
    plot_hessian_density,
    plot_peaks,
    plot_trajectories,
)

__all__ = [
    "CLAIM", "PAPER", "PROFILES", "TITLE", "Config", "claims", "config", "measurement_cost",
    "measurement_share", "numbers", "plot_edge_of_stability", "plot_hessian_density",
    "plot_peaks", "plot_trajectories", "probe_cost_in_steps", "run", "summary_table",
]  # fmt: skip
