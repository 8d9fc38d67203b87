"""One number per SGD run: peaks at matched accuracy, values after the sharpness peak, Eq. 1.

Two windows of a run: *matched*, its measurements up to the target training accuracy (every run is
compared at the same progress); and *after the peak*, from the measurement at which λ_H^1 is
largest to the end of the run (every run then has the same measurement budget in η·t, or ends
``after_break_even`` measurements past its Eq. 1 break-even point).
"""

from __future__ import annotations

import math

import numpy as np

from trainingdynamics.diagnostics import stability
from trainingdynamics.studies.break_even.sgd import SGDRun


def matched_peak_index(t: SGDRun) -> int:
    """Where λ_H^1 peaks within the matched window (its last measurement if still rising)."""
    return int(np.argmax(t.hessian_top[t.matched]))


def peak_index(t: SGDRun) -> int:
    """Where λ_H^1 peaks over the whole run: where the sharpening stops."""
    return int(np.argmax(t.hessian_top))


def hessian_peak(t: SGDRun) -> float:
    """max λ_H^1 up to the target accuracy."""
    return float(t.hessian_top[t.matched].max())


def covariance_peak(t: SGDRun) -> float:
    """max λ_K^1 up to the target accuracy."""
    return float(t.covariance_top[t.matched].max())


def covariance_trace_peak(t: SGDRun) -> float:
    """max Tr K up to the target accuracy."""
    return float(t.covariance_trace[t.matched].max())


def hessian_trace_peak(t: SGDRun) -> float:
    """max Tr H (Hutchinson) up to the target accuracy."""
    return float(t.hessian_trace[t.matched].max())


def hessian_trace_peak_se(t: SGDRun) -> float:
    """The standard error of the Hutchinson estimate at that maximum."""
    return float(t.hessian_trace_se[t.matched][np.argmax(t.hessian_trace[t.matched])])


def trace_ratio_peak(t: SGDRun) -> float:
    """max Tr K/λ_K^1 up to the target accuracy (the paper's §4.2 metric)."""
    return float(t.trace_ratio[t.matched].max())


def trace_ratio_at_target(t: SGDRun) -> float:
    """Tr K/λ_K^1 at the first measurement with the target accuracy (NaN if never reached)."""
    return float(t.trace_ratio[t.reached_at]) if t.reached else math.nan


def conditioning_after_break_even(t: SGDRun) -> float:
    """The best λ_K^k/λ_K^1 from the λ_H^1 peak to the target accuracy (the chapter's proxy)."""
    end = t.reached_at + 1 if t.reached else None
    return float(t.conditioning[matched_peak_index(t) : end].max())


def trace_ratio_after_peak(t: SGDRun) -> float:
    """max Tr K/λ_K^1 from the λ_H^1 peak of the whole run to its end."""
    return float(t.trace_ratio[peak_index(t) :].max())


def minibatch_ratio_after_peak(t: SGDRun) -> float:
    """max Tr K/λ_K^1 of the train-mode mini-batch estimate, from the λ_H^1 peak to the end."""
    return float(t.minibatch_ratio[peak_index(t) :].max())


def minibatch_covariance_peak(t: SGDRun) -> float:
    """max λ_K^1 of the train-mode mini-batch estimate up to the target accuracy."""
    return float(t.minibatch_top[t.matched].max())


def early_correlation(t: SGDRun) -> float:
    """Pearson's r of λ_H^1 and λ_K^1 over the measurements up to the λ_H^1 peak (NaN if < 3)."""
    end = peak_index(t) + 1
    if end < 3:
        return math.nan
    return float(np.corrcoef(t.hessian_top[:end], t.covariance_top[:end])[0, 1])


def max_stability(t: SGDRun) -> float:
    """The largest left side of Eq. 1 where ηλ_H^1 ≥ 1 (1 is the break-even point; NaN if none)."""
    rising = t.lr * t.hessian_top >= 1
    return float(t.stability[rising].max()) if rising.any() else math.nan


def peak_over_edge(t: SGDRun) -> float:
    """η max λ_H^1 / 2: the sharpness peak in units of the full-batch limit 2/η."""
    return float(t.lr * t.hessian_top.max() / 2)


def predicted_over_edge(t: SGDRun) -> float:
    """Eq. 1's break-even sharpness with the s² measured at the λ_H^1 peak, in units of 2/η."""
    variance = float(t.curvature_variance[peak_index(t)])
    return t.lr * stability.break_even_sharpness(t.lr, variance, t.n_train, t.batch_size) / 2
