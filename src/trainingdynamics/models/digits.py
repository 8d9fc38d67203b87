"""Small networks for 8×8 digit images: an MLP and a CNN, optionally with batch normalisation."""

from __future__ import annotations

from typing import Literal

from torch import nn

Activation = Literal["relu", "tanh"]
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


def mlp(
    widths: tuple[int, ...], *, activation: Activation = "relu", batch_norm: bool = False
) -> nn.Sequential:
    """Fully connected layers ``widths[0] → … → widths[-1]``; hidden layers get [BatchNorm and] the
    activation."""
    if len(widths) < 2:
        raise ValueError(f"an MLP needs at least an input and an output width, got {widths}")
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(widths) - 2:
            layers += [nn.BatchNorm1d(fan_out)] if batch_norm else []
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def cnn(
    channels: tuple[int, ...] = (8, 16),
    n_classes: int = 10,
    *,
    activation: Activation = "relu",
    batch_norm: bool = False,
) -> nn.Sequential:
    """3×3 'same' convolutions on 1×8×8 inputs, each followed by [BatchNorm,] the activation and 2×2
    max pooling, then a linear read-out."""
    layers: list[nn.Module] = []
    side = 8
    for fan_in, fan_out in zip((1, *channels[:-1]), channels, strict=True):
        layers.append(nn.Conv2d(fan_in, fan_out, 3, padding=1))
        layers += [nn.BatchNorm2d(fan_out)] if batch_norm else []
        layers += [ACTIVATIONS[activation](), nn.MaxPool2d(2)]
        side //= 2
    if side < 1:
        raise ValueError(f"{len(channels)} pooling stages are too many for 8×8 inputs")
    layers += [nn.Flatten(), nn.Linear(channels[-1] * side * side, n_classes)]
    return nn.Sequential(*layers)
