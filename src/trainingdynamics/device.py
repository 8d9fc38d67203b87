"""Device and dtype selection."""

from __future__ import annotations

import torch

from trainingdynamics.profiles import ParameterError


def resolve_device(name: str = "cpu") -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when present, else CPU) as a ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(
            f"device {name!r} requested but CUDA is not available; use 'cpu' or 'auto'"
        )
    if name != "cpu" and not name.startswith("cuda"):
        raise ParameterError(f"unknown device {name!r}; choose 'cpu', 'cuda' or 'auto'")
    return torch.device(name)


def resolve_dtype(name: str) -> torch.dtype:
    """``"float32"`` or ``"float64"`` as a torch dtype (float64 where the math needs it)."""
    dtypes = {"float32": torch.float32, "float64": torch.float64}
    if name not in dtypes:
        raise ParameterError(f"unknown dtype {name!r}; choose one of: {', '.join(dtypes)}")
    return dtypes[name]
