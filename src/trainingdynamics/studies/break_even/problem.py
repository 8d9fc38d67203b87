"""The problem: the digits data, the squared loss and the CNN (with or without BatchNorm)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from trainingdynamics.data import Dataset, digits, one_hot, split
from trainingdynamics.models.digits import cnn
from trainingdynamics.seeding import child_seed, torch_seeded
from trainingdynamics.studies.break_even.config import Config


def squared_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """ℓ = ½‖f(x) − onehot(y)‖² averaged over the batch (Cohen et al.'s squared loss)."""
    return 0.5 * ((outputs - targets) ** 2).sum(dim=1).mean()


def load_data(
    cfg: Config,
    seed: int,
    device: torch.device,
    *,
    standardise: Literal["pixel", "global"] = "global",
) -> tuple[Dataset, torch.Tensor]:
    """The digits training split (images, drawn from the stream ``"data"``) and its one-hot targets.

    The CNN's pixels are standardised globally (one mean and scale, values within ±2): per-pixel
    standardisation turns the rare strokes in near-blank corner pixels into inputs of up to 42
    standard deviations, whose single-example gradients then dominate λ_K^1. The
    edge-of-stability MLP keeps per-pixel standardisation (``standardise="pixel"``), the setting
    its learning rates were chosen for.
    """
    data = digits(images=True, device=device, standardise=standardise)
    train_set, _ = split(data, cfg.n_train, seed=child_seed(seed, "data"))
    return train_set, one_hot(train_set.y, train_set.n_classes)


def make_cnn(cfg: Config, *, batch_norm: bool, seed: int, replicate: int = 0) -> nn.Module:
    """The CNN, initialised from the stream ``("init", replicate)`` of ``seed`` (global RNG
    untouched).

    Without BatchNorm its default initial weights are scaled by ``init_scale`` (small outputs and
    Jacobians at t = 0). BatchNorm makes the convolutions scale-invariant, so there a smaller
    initial scale would only raise the effective learning rate η/‖w‖²: the BatchNorm CNN keeps
    PyTorch's default weights, and only its BatchNorm scales γ start at ``bn_gamma``: γ sets the
    size of the features the read-out sees, and its curvature grows as γ², which at γ = 1 makes
    SGD unstable at η ≥ 0.1 from the first step. Every learning rate and batch size of a
    replicate starts from the same weights.
    """
    with torch_seeded(seed, "init", replicate):
        model = cnn(cfg.channels, batch_norm=batch_norm)
    with torch.no_grad():
        if batch_norm:
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.mul_(cfg.bn_gamma)
        else:
            for p in model.parameters():
                if p.dim() > 1:  # weights only; biases keep their defaults
                    p.mul_(cfg.init_scale)
    return model
