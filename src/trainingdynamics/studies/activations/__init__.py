"""Activation functions and the smallest eigenvalue of the Gram matrix (Panigrahi et al. 2020).

The notebook's API: the profiles and config, the run, the claims, the figures and the tables and
numbers its prose quotes. The experiment, analysis and claims live in this package's modules.
"""

from __future__ import annotations

from .analysis import high_dim_table, prose_numbers, training_table
from .claims import claims
from .config import CLAIM, PAPER, PROFILES, TITLE, Config, config
from .experiment import ActivationsResult, run
from .figures import (
    plot_depth,
    plot_elu_jump,
    plot_figure_one,
    plot_gram_check,
    plot_lambda_min,
    plot_size_and_separation,
    plot_spectra,
    plot_training,
)

__all__ = [
    "CLAIM",
    "PAPER",
    "PROFILES",
    "TITLE",
    "ActivationsResult",
    "Config",
    "claims",
    "config",
    "high_dim_table",
    "plot_depth",
    "plot_elu_jump",
    "plot_figure_one",
    "plot_gram_check",
    "plot_lambda_min",
    "plot_size_and_separation",
    "plot_spectra",
    "plot_training",
    "prose_numbers",
    "run",
    "training_table",
]
