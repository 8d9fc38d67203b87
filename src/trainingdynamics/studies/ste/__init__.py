"""Straight-through estimators: coarse gradients in a binarized two-layer net (Yin et al. 2019).

The notebook's API: the profiles and config, the runs, the claims, the figures and the tables,
reports and numbers its prose quotes. The toy model, the quantized digits networks, the analysis and
the claims live in this package's modules.
"""

from __future__ import annotations

from .analysis import (
    PAPER_TABLE_1,
    descent_report,
    digits_table,
    monte_carlo_table,
    near_minimum_report,
    prose_numbers,
    ratio_report,
    repelled_table,
)
from .claims import claims
from .config import CLAIM, PAPER, PROFILES, TITLE, Config, config
from .experiment import SteResult, run, run_digits, run_toy
from .figures import (
    plot_correlations,
    plot_descent,
    plot_digits,
    plot_landscape,
    plot_near_minimum,
    plot_ratios,
    plot_repelled,
)

__all__ = [
    "CLAIM",
    "PAPER",
    "PAPER_TABLE_1",
    "PROFILES",
    "TITLE",
    "Config",
    "SteResult",
    "claims",
    "config",
    "descent_report",
    "digits_table",
    "monte_carlo_table",
    "near_minimum_report",
    "plot_correlations",
    "plot_descent",
    "plot_digits",
    "plot_landscape",
    "plot_near_minimum",
    "plot_ratios",
    "plot_repelled",
    "prose_numbers",
    "ratio_report",
    "repelled_table",
    "run",
    "run_digits",
    "run_toy",
]
