"""Wall-clock medians after a warm-up, and the machine they were measured on."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch

T = TypeVar("T")
S = TypeVar("S")


@dataclass(frozen=True)
class Timed(Generic[T]):
    """Seconds of each timed repeat, their median, and the last run's result."""

    seconds: list[float]
    result: T

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def measure(
    runs: Mapping[str, tuple[Callable[[], S], Callable[[S], T]]], *, repeats: int, budget_s: float
) -> dict[str, Timed[T]]:
    """Time each named ``(prepare, run)`` pair round-robin: pass r runs every method once, so
    drifts in machine load hit all alike.

    A method stops after ``repeats`` runs or once its runs have used ``budget_s`` seconds; each runs
    at least once. ``prepare`` (a fresh model copy, seeding) is not timed.
    """
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, T] = {}
    while active := [
        name
        for name, spent in seconds.items()
        if len(spent) < repeats and (not spent or sum(spent) < budget_s)
    ]:
        for name in active:
            prepare, run = runs[name]
            state = prepare()
            start = time.perf_counter()
            results[name] = run(state)
            seconds[name].append(time.perf_counter() - start)
    return {name: Timed(seconds[name], results[name]) for name in runs}


def load() -> float:
    """The 1-minute load average (NaN where the platform has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def settle(threshold: float, *, limit_s: float = 180.0, poll_s: float = 5.0) -> float:
    """Wait (at most ``limit_s``) until the 1-minute load average is at most ``threshold``; return
    the seconds waited.

    A build just before the benchmark (``make bench``) leaves the average high for a minute or two
    after the machine is idle; starting only once it has decayed keeps that from flagging the run
    as contended.
    """
    start = time.monotonic()
    while load() > threshold and time.monotonic() - start < limit_s:
        time.sleep(poll_s)
    return time.monotonic() - start


def machine() -> dict[str, object]:
    """Processor, core count, threads torch uses, OS and Python: what a timing depends on."""
    return {
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or the platform's processor string."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
