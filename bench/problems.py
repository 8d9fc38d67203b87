"""The benchmark problems: a digits model after a short stretch of full-batch GD, and subsets of
its data."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from bench.config import MODELS, BenchConfig
from trainingdynamics.data import digits
from trainingdynamics.seeding import torch_generator
from trainingdynamics.training import train

LOSS = nn.CrossEntropyLoss()  # mean-reduced, the loss every method sees


@dataclass(frozen=True)
class Problem:
    """A trained model and the examples whose loss is probed, all in one precision."""

    model_name: str
    model: nn.Module
    X: torch.Tensor
    y: torch.Tensor

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def first(self, n: int) -> Problem:
        """The same model on the first ``n`` examples (the examples are in a seeded random
        order)."""
        if not 0 < n <= len(self.X):
            raise ValueError(f"n must lie in [1, {len(self.X)}], got {n}")
        return Problem(self.model_name, self.model, self.X[:n], self.y[:n])

    def in_float64(self) -> Problem:
        """A float64 copy: what the references are computed in."""
        return Problem(self.model_name, copy.deepcopy(self.model).double(), self.X.double(), self.y)

    def copy(self) -> Problem:
        """The same problem on a copy of the model, for libraries that change it (PyHessian sets
        eval mode, BackPACK adds hooks)."""
        return Problem(self.model_name, copy.deepcopy(self.model), self.X, self.y)


def trained_problem(model_name: str, cfg: BenchConfig) -> Problem:
    """``model_name`` after ``cfg.train_steps`` full-batch GD steps on all 1797 digits, examples
    shuffled by the seed."""
    build, images = MODELS[model_name]
    torch.manual_seed(cfg.seed)
    model = build()
    data = digits(images=images)
    train(
        model,
        LOSS,
        data.X,
        data.y,
        optimizer=torch.optim.SGD(model.parameters(), lr=cfg.lr),
        steps=cfg.train_steps,
        seed=cfg.seed,
    )
    model.zero_grad(set_to_none=True)
    # no dropout or BatchNorm in these models: eval only makes explicit that nothing is trained here
    model.eval()
    order = torch.randperm(len(data), generator=torch_generator(cfg.seed))
    return Problem(model_name, model, data.X[order], data.y[order])
