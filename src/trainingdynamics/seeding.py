"""One seed for every random number generator the book uses."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> np.random.Generator:
    """Seed ``random``, NumPy's legacy state and torch; return a fresh NumPy ``Generator``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(int(seed))
    np.random.seed(int(seed))
    torch.manual_seed(int(seed))
    return np.random.default_rng(int(seed))


def torch_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A torch generator of its own, so a study's draws do not depend on global state."""
    return torch.Generator(device=device).manual_seed(int(seed))
