"""Beyond the paper: full-batch GD at the edge of stability (Cohen et al. 2021)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from trainingdynamics.data import Dataset
from trainingdynamics.diagnostics import spectra
from trainingdynamics.models.digits import mlp
from trainingdynamics.seeding import child_seed, torch_seeded
from trainingdynamics.studies.break_even.config import Config
from trainingdynamics.studies.break_even.problem import squared_loss
from trainingdynamics.training import Step, every, train


@dataclass
class EdgeOfStability:
    """Full-batch GD on the squared loss: λ_H^1 of the whole training set against the step."""

    lr: float
    steps: np.ndarray
    sharpness: np.ndarray
    loss: np.ndarray
    diverged_at: int | None = None  # the step whose loss was not finite, if GD diverged

    @property
    def midpoint(self) -> float:
        """Half the number of GD steps taken."""
        return len(self.loss) / 2

    def last_half(self) -> np.ndarray:
        """The sharpness measurements in the second half of training."""
        return self.sharpness[self.steps >= self.midpoint]


def edge_of_stability_run(
    cfg: Config, data: Dataset, targets: torch.Tensor, *, lr: float, seed: int
) -> EdgeOfStability:
    """Full-batch GD of a tanh MLP on ``eos_examples`` digits (init from the stream ``"eos-init"``);
    sharpness every ``eos_every`` steps.
    """
    n = cfg.eos_examples
    X, Y = data.X[:n].flatten(1), targets[:n]
    with torch_seeded(seed, "eos-init"):
        model = mlp((X.shape[1], cfg.eos_width, cfg.eos_width, Y.shape[1]), activation="tanh").to(
            X.device
        )
    lanczos_seed = child_seed(seed, "eos-lanczos")
    start: dict[str, torch.Tensor | None] = {"vector": None}

    def sharpness(state: Step) -> None:
        top = spectra.hessian_eigenvalues(
            state.model, squared_loss, X, Y, tol=cfg.tol, start=start["vector"], seed=lanczos_seed
        )
        start["vector"] = top.vectors[0]
        state.history.log(state.step, sharpness=float(top.values[0]))

    history = train(
        model,
        squared_loss,
        X,
        Y,
        optimizer=torch.optim.SGD(model.parameters(), lr=lr),
        steps=cfg.eos_steps,
        callbacks=[every(cfg.eos_every, sharpness)],
        stop_on_divergence=False,
        desc=f"GD η={lr:g}",
    )
    return EdgeOfStability(
        lr,
        history.steps("sharpness"),
        history.values("sharpness"),
        history.values("loss"),
        history.diverged_at,
    )
