"""Small bundled data sets as tensors (nothing is downloaded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from sklearn.datasets import load_digits


@dataclass(frozen=True)
class Dataset:
    """Inputs, integer labels and the number of classes."""

    X: torch.Tensor
    y: torch.Tensor
    n_classes: int

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: torch.Tensor | np.ndarray) -> Dataset:
        """The examples at ``index``."""
        index = torch.as_tensor(index, device=self.y.device)
        return Dataset(self.X[index], self.y[index], self.n_classes)


def digits(
    *,
    images: bool = False,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    standardise: Literal["pixel", "global"] = "pixel",
) -> Dataset:
    """scikit-learn's bundled handwritten digits (1797 examples, 8×8 pixels, 10 classes).

    ``standardise="pixel"``: each pixel is standardised over the data set (zero mean, unit
    variance; constant pixels stay 0). Pixels that are almost always blank then take values up
    to about 42 in the few images that use them. ``"global"``: one mean and one standard
    deviation for all pixels, so every value lies within about ±2 and images keep their
    relative contrast (natural for convolutions, which share weights across positions).
    Inputs are flat (n, 64), or (n, 1, 8, 8) images when ``images`` is true.
    """
    bunch = load_digits()
    pixels = bunch.data.astype(np.float64)
    if standardise == "pixel":
        spread = pixels.std(axis=0)
        pixels = (pixels - pixels.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    elif standardise == "global":
        pixels = (pixels - pixels.mean()) / pixels.std()
    else:
        raise ValueError(f"standardise must be 'pixel' or 'global', got {standardise!r}")
    X = torch.as_tensor(pixels, dtype=dtype, device=device)
    if images:
        X = X.reshape(-1, 1, 8, 8)
    return Dataset(X, torch.as_tensor(bunch.target, dtype=torch.long, device=device), 10)


def split(data: Dataset, n_train: int, *, seed: int) -> tuple[Dataset, Dataset]:
    """A random train/test split with ``n_train`` training examples, drawn from ``seed``."""
    if not 0 < n_train < len(data):
        raise ValueError(f"n_train must lie in (0, {len(data)}), got {n_train}")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
    return data.subset(order[:n_train]), data.subset(order[n_train:])


def one_hot(
    labels: torch.Tensor, n_classes: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The labels as one-hot rows (targets of a squared loss)."""
    return torch.nn.functional.one_hot(labels, n_classes).to(dtype)
