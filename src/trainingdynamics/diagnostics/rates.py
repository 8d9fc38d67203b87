"""Exponential (linear-convergence) rates fitted to a decaying sequence."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExponentialFit:
    """log y_k ≈ log y_0 + k log q: the per-step factor q, the intercept and the fit's R²."""

    factor: float
    log_intercept: float
    r_squared: float


def fit_exponential(steps: np.ndarray, values: np.ndarray) -> ExponentialFit:
    """Least-squares line through (k, log y_k) for positive ``values``; q = exp(slope)."""
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    if len(steps) < 3 or np.any(values <= 0):
        raise ValueError("fit_exponential needs at least 3 positive values")
    logs = np.log(values)
    slope, intercept = np.polyfit(steps, logs, 1)
    residual = logs - (intercept + slope * steps)
    spread = np.sum((logs - logs.mean()) ** 2)
    r_squared = 1.0 - np.sum(residual**2) / spread if spread > 0 else 1.0
    return ExponentialFit(float(np.exp(slope)), float(intercept), float(r_squared))
