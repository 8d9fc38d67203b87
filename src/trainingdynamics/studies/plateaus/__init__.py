"""Plateaus of gradient descent on shallow 1-D ReLU networks (Ainsworth & Shin 2021).

N(x) = Σ_j c_j σ(w_j x + b_j) is trained by full-batch GD on L = (1/2m) Σ_i (N(x_i) − y_i)².
Neuron j is active on A_j = {i : w_j x_i + b_j > 0}, a prefix or suffix of the sorted data.
Within a fixed pattern A the network is linear in (α_j, β_j) = (c_j w_j, c_j b_j), so the
pattern least-squares loss L_A is a lower bound for L, and a stationary point with c_j ≠ 0
satisfies Σ_{A_j} r_i = Σ_{A_j} r_i x_i = 0: on every active set the least-squares line of y
equals the least-squares line of N. The chapter checks these facts exactly and measures how
often activation patterns change on loss plateaus versus drops.
"""

from trainingdynamics.studies.plateaus.analysis import (
    MOTION_RATIO,
    lower_bound_excess,
    seed_statistics,
)
from trainingdynamics.studies.plateaus.chapter import (
    PlateausResult,
    all_convergence_rates,
    all_plateaus,
    c1_statistics,
    level_overview,
    numbers,
    regime_overview,
    regime_runs,
    run,
    showcase,
    stationary_checks,
    sweep_table,
)
from trainingdynamics.studies.plateaus.claims import EXIT_RATIO, RATE_RATIO, claims
from trainingdynamics.studies.plateaus.experiment import (
    CLAIM,
    PAPER,
    PROFILES,
    TITLE,
    Config,
    config,
)
from trainingdynamics.studies.plateaus.figures import (
    plot_all_convergence,
    plot_loss_and_level,
    plot_loss_and_pattern,
    plot_stationary_points,
)

__all__ = [
    "CLAIM",
    "PAPER",
    "PROFILES",
    "EXIT_RATIO",
    "MOTION_RATIO",
    "RATE_RATIO",
    "TITLE",
    "Config",
    "PlateausResult",
    "all_convergence_rates",
    "all_plateaus",
    "claims",
    "c1_statistics",
    "config",
    "level_overview",
    "lower_bound_excess",
    "numbers",
    "plot_all_convergence",
    "plot_loss_and_level",
    "plot_loss_and_pattern",
    "plot_stationary_points",
    "regime_overview",
    "regime_runs",
    "run",
    "seed_statistics",
    "showcase",
    "stationary_checks",
    "sweep_table",
]
