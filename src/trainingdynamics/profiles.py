"""Chapter configurations: named profiles plus validated user overrides."""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

C = TypeVar("C")


class ParameterError(ValueError):
    """A bad chapter parameter; its message is one line meant for the user."""


def resolve(profiles: Mapping[str, C], profile: str, **overrides: Any) -> C:
    """The profile's config with the non-``None`` overrides applied, type-coerced and validated."""
    if profile not in profiles:
        raise ParameterError(f"unknown profile {profile!r}; choose one of: {', '.join(profiles)}")
    base = profiles[profile]
    hints = typing.get_type_hints(type(base))
    given = {name: value for name, value in overrides.items() if value is not None}
    unknown = sorted(set(given) - set(hints))
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(hints)}"
        )
    coerced = {name: coerce(name, value, hints[name]) for name, value in given.items()}
    return dataclasses.replace(base, **coerced)


def coerce(name: str, value: Any, hint: Any) -> Any:
    """Convert ``value`` to the field type ``hint`` or raise a one-line :class:`ParameterError`."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item, *_rest) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ParameterError(f"parameter {name} must be a list, got {value!r}")
        return tuple(coerce(name, v, item) for v in value)
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise ParameterError(
                f"parameter {name} must be one of {typing.get_args(hint)}, got {value!r}"
            )
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ParameterError(f"parameter {name} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        ):
            raise ParameterError(f"parameter {name} must be an integer, got {value!r}")
        return int(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(f"parameter {name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ParameterError(f"parameter {name} must be a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ParameterError(f"parameter {name} must be a string, got {value!r}")
        return value
    return value


def require_positive(config: object, *names: str) -> None:
    """Raise :class:`ParameterError` unless every named field is > 0 (elementwise for tuples)."""
    for name in names:
        value = getattr(config, name)
        values = value if isinstance(value, tuple) else (value,)
        if any(v <= 0 for v in values):
            raise ParameterError(f"parameter {name} must be positive, got {value!r}")


def require_in_range(config: object, name: str, low: float, high: float) -> None:
    """Raise :class:`ParameterError` unless ``low <= field <= high``."""
    value = getattr(config, name)
    if not low <= value <= high:
        raise ParameterError(f"parameter {name} must lie in [{low}, {high}], got {value!r}")
