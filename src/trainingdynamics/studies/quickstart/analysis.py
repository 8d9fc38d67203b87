"""What the quickstart computes from a run: the predicted rate, the bound's excess, the late
rate."""

from __future__ import annotations

import numpy as np

from trainingdynamics.diagnostics.rates import fit_exponential


def predicted_rate(eta: float, eigenvalues: np.ndarray) -> float:
    """Per-step contraction of ‖w_t − w*‖: ρ = max over nonzero λ of |1 − ηλ|."""
    return float(np.max(np.abs(1.0 - eta * eigenvalues)))


def above_floor(errors: np.ndarray, floor: float = 1e-9) -> int:
    """Number of leading steps whose relative error is above ``floor`` (beyond it, round-off
    rules)."""
    return int(np.sum(errors / errors[0] > floor))


def bound_violation(errors: np.ndarray, rate: float) -> float:
    """max_t ‖e_t‖ / (ρ^t ‖e_0‖) − 1 above the round-off floor; ≤ 0 if the bound holds."""
    t = np.arange(above_floor(errors))
    return float(np.max(errors[t] / (rate**t * errors[0])) - 1.0)


def late_rate(errors: np.ndarray) -> float:
    """Per-step contraction fitted over the second half of the steps above the floor."""
    stop = above_floor(errors)
    steps = np.arange(stop // 2, stop)
    return fit_exponential(steps, errors[steps]).factor
