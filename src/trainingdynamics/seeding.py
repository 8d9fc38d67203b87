"""One seed for every random number generator the book uses."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

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


def _key(part: int | str) -> int:
    """A stable non-negative integer for a stream name or number (``hash`` of a str is salted per
    process)."""
    return zlib.crc32(part.encode()) if isinstance(part, str) else int(part)


def child_rng(seed: int, *stream: int | str) -> np.random.Generator:
    """An independent NumPy generator for one named part of an experiment, e.g. ``child_rng(seed,
    "data", width)``.

    Streams with different names are statistically independent of each other and of
    ``default_rng(seed)``, so adding a new part never shifts the draws of the others.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), *map(_key, stream)]))


def child_seed(seed: int, *stream: int | str) -> int:
    """An integer seed (e.g. for ``torch.manual_seed``) derived like :func:`child_rng`."""
    return int(np.random.SeedSequence([int(seed), *map(_key, stream)]).generate_state(1)[0])


@contextmanager
def torch_seeded(seed: int, *stream: int | str) -> Iterator[None]:
    """Inside the block torch's CPU generator is seeded from :func:`child_seed`; after it, its state
    is restored.

    For code that draws from torch's global generator, e.g. ``nn.Module`` initialisation.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(child_seed(seed, *stream))
        yield
