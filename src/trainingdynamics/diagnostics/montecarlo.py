"""Monte Carlo statistics: the error of a sample mean against an exact value, in standard errors."""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2, norm


def equivalent_z(samples: np.ndarray, exact: np.ndarray | float) -> float:
    """Error of a Monte Carlo mean in standard errors, one number for a scalar or a vector.

    With N samples, mean error e and sample covariance Σ̂ of rank r, Hotelling's T² = N eᵀΣ̂⁺e is
    ≈ χ²_r; the result is the two-sided normal quantile with the same p-value, so for a scalar it
    is |e|/SE exactly, and "within 4 standard errors" means z < 4 in any dimension. (Samples may
    span a subspace — e.g. score-function estimates of a gradient — and an error outside
    the span of the samples gives z = ∞.)
    """
    values = samples.reshape(len(samples), -1)
    error = values.mean(axis=0) - np.ravel(exact)
    variances, directions = np.linalg.eigh(np.atleast_2d(np.cov(values, rowvar=False)))
    kept = variances > 1e-12 * variances.max()
    along = directions[:, kept].T @ error
    outside = np.linalg.norm(error - directions[:, kept] @ along)
    if outside > 1e-9 * max(np.linalg.norm(np.ravel(exact)), np.sqrt(variances.max())):
        return np.inf
    t_squared = len(values) * np.sum(along**2 / variances[kept])
    return float(norm.isf(chi2.sf(t_squared, df=int(kept.sum())) / 2.0))
