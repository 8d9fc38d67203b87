"""Stochastic trace estimators on matvecs: Hutchinson's and Hutch++, each with a standard error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from trainingdynamics.diagnostics.functional import require_count
from trainingdynamics.seeding import torch_generator

Matvec = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class TraceEstimate:
    """A trace estimate, its standard error, the probe samples it rests on, and its products."""

    value: float
    stderr: float  # sample standard deviation / √probes (NaN for one probe)
    samples: np.ndarray
    n_hvp: int

    @classmethod
    def from_samples(cls, samples: np.ndarray, offset: float = 0.0, n_hvp: int | None = None):
        """``offset`` + the mean of the samples zᵀAz, and the standard error s/√m of the mean."""
        samples = np.asarray(samples, dtype=np.float64)
        stderr = (
            float(np.std(samples, ddof=1) / np.sqrt(len(samples)))
            if len(samples) > 1
            else float("nan")
        )
        used = len(samples) if n_hvp is None else n_hvp
        return cls(float(offset + samples.mean()), stderr, samples, used)


def rademacher(dim: int, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` × ``dim`` random signs, float64."""
    return torch.randint(0, 2, (count, dim), generator=generator).to(torch.float64) * 2 - 1


def hutchinson_trace(matvec: Matvec, dim: int, probes: int, *, seed: int = 0) -> TraceEstimate:
    """Tr A from ``probes`` Rademacher vectors z: E[zᵀAz] = Tr A, Var[zᵀAz] = 2 Σ_{i≠j} A_ij².

    A fixed probe count (no early stopping) keeps the estimate unbiased and its standard error
    honest.
    """
    probes = require_count("probes", probes)
    generator = torch_generator(seed)
    samples = np.empty(probes)
    for i in range(probes):
        z = rademacher(dim, 1, generator)[0]
        samples[i] = float(z @ matvec(z).cpu())
    return TraceEstimate.from_samples(samples)


def hutchpp_trace(matvec: Matvec, dim: int, matvecs: int, *, seed: int = 0) -> TraceEstimate:
    """Tr A by Hutch++ (Meyer, Musco, Musco & Woodruff, SOSA 2021) from ``matvecs`` products.

    With m = ⌊matvecs/3⌋: Q = orth(AS) for m random signs S, then Tr A = Tr(QᵀAQ) + Tr(PAP),
    P = I − QQᵀ, the first exact (m products), the second by Hutchinson on m probes Pz. The
    standard error is that of the Hutchinson part, given Q. Variance O(1/m²) for a spectrum that
    decays, against Hutchinson's O(1/m).
    """
    matvecs = require_count("matvecs", matvecs)
    if matvecs < 3:
        raise ValueError(f"matvecs must be at least 3 for Hutch++, got {matvecs}")
    m = matvecs // 3
    generator = torch_generator(seed)
    sketch = torch.stack([matvec(s).cpu() for s in rademacher(dim, m, generator)])
    basis = torch.linalg.qr(sketch.T).Q  # dim × m
    low_rank = float(sum(q @ matvec(q.contiguous()).cpu() for q in basis.T))
    probes = rademacher(dim, m, generator)
    projected = probes - (probes @ basis) @ basis.T
    samples = np.array([float(z @ matvec(z.contiguous()).cpu()) for z in projected])
    return TraceEstimate.from_samples(samples, offset=low_rank, n_hvp=3 * m)
