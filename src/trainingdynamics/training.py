"""One training loop for full-batch and mini-batch GD/SGD, with callbacks and a history.

Each step draws a batch (the whole set when ``batch_size`` is ``None``; otherwise
a fresh permutation per epoch from the loop's own generator), computes the mean
loss and its gradient, calls every callback with the :class:`Step` — the model
still at θ_t, its ``.grad`` holding the batch gradient — and then updates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from trainingdynamics.progress import progress_bar

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class DivergenceError(RuntimeError):
    """The training loss became NaN or infinite."""


@dataclass
class History:
    """Recorded metrics: each name maps to a list of ``(step, value)`` pairs."""

    records: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    diverged_at: int | None = None

    def log(self, step: int, **values: float) -> None:
        """Record ``values`` at ``step``."""
        for name, value in values.items():
            self.records.setdefault(name, []).append((step, float(value)))

    def steps(self, name: str) -> np.ndarray:
        """The steps at which ``name`` was recorded."""
        return np.array([s for s, _ in self.records[name]], dtype=int)

    def values(self, name: str) -> np.ndarray:
        """The recorded values of ``name``."""
        return np.array([v for _, v in self.records[name]], dtype=float)


@dataclass
class Step:
    """What a callback sees at step t: the model at θ_t, before the update."""

    step: int
    loss: float
    model: nn.Module
    history: History


Callback = Callable[[Step], bool | None]


def every(period: int, callback: Callback, *, first: bool = True) -> Callback:
    """Wrap ``callback`` to run on steps that are multiples of ``period`` (and step 0 if
    ``first``)."""
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")

    def periodic(state: Step) -> bool | None:
        if state.step % period == 0 and (first or state.step > 0):
            return callback(state)
        return None

    return periodic


def at_steps(steps: Sequence[int], callback: Callback) -> Callback:
    """Wrap ``callback`` to run only at the given steps (e.g. a log-spaced grid)."""
    wanted = set(int(s) for s in steps)

    def selected(state: Step) -> bool | None:
        return callback(state) if state.step in wanted else None

    return selected


def log_spaced_steps(last: int, count: int) -> np.ndarray:
    """About ``count`` distinct integer steps from 0 to ``last``, log-spaced."""
    grid = np.unique(np.round(np.geomspace(1, last + 1, count)).astype(int) - 1)
    return grid[grid <= last]


def batches(n: int, batch_size: int | None, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless index batches: the whole set, or per-epoch shuffles cut into ``batch_size``
    pieces."""
    while True:
        if batch_size is None or batch_size >= n:
            yield torch.arange(n)
            continue
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def train(
    model: nn.Module,
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    optimizer: torch.optim.Optimizer,
    steps: int,
    batch_size: int | None = None,
    callbacks: Sequence[Callback] = (),
    seed: int = 0,
    stop_on_divergence: bool = True,
    desc: str = "training",
) -> History:
    """Train ``model`` for ``steps`` optimizer steps; return the :class:`History`.

    The mean batch loss before each update is logged as ``"loss"``. A callback that
    returns ``True`` stops training. A NaN/inf loss raises :class:`DivergenceError`
    naming the step, or (``stop_on_divergence=False``) is recorded in
    ``history.diverged_at`` and ends the run.
    """
    history = History()
    generator = torch.Generator().manual_seed(seed)
    draw = batches(len(X), batch_size, generator)
    with progress_bar(steps, desc) as bar:
        for step in range(steps):
            index = next(draw)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(X[index]), y[index])
            value = float(loss.detach())
            if not math.isfinite(value):
                if stop_on_divergence:
                    raise DivergenceError(f"training diverged: loss is {value} at step {step}")
                history.diverged_at = step
                break
            history.log(step, loss=value)
            loss.backward()
            state = Step(step, value, model, history)
            if any([bool(cb(state)) for cb in callbacks]):
                break
            optimizer.step()
            bar.update()
    return history
