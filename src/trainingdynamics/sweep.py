"""Sweeps: one chapter over a grid of seeds and parameter values, executed on Dask.

Each grid point is one chapter execution through the runner, so the runner's content-hash cache is
the task identity: a point already computed is read back, not recomputed, and a killed sweep resumes
with only the missing points. The points run on an embedded ``dask.distributed.LocalCluster`` (one
single-threaded worker process per core) or on an existing cluster given by its scheduler address.
The sweep writes a tidy table (one row per point and claim), a per-claim summary (hold rate and the
spread of the value) and a figure of each claim's value against each swept parameter.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import itertools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from trainingdynamics.fileio import atomic_write_text
from trainingdynamics.profiles import ParameterError
from trainingdynamics.runner import (
    MAX_SEED,
    Layout,
    chapter_parameters,
    read_record,
    run_chapters,
    validate_chapters,
)
from trainingdynamics.status import claims_of

SCHEDULER_TIMEOUT = "10s"  # an unreachable scheduler is reported after this, not waited on for ever


def parse_seeds(text: str) -> list[int]:
    """``"0-9"``, ``"0,3,5"``, ``"4"`` or a mix (``"0-2,7"``) as a sorted list of distinct seeds."""
    seeds: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ParameterError(f"--seeds {text!r} is not a seed list such as 0-9 or 0,3,5")
        first, last = int(low), int(high) if dash else int(low)
        if first > last or last > MAX_SEED:
            raise ParameterError(
                f"--seeds {text!r}: each range must run upwards within [0, {MAX_SEED}]"
            )
        seeds.update(range(first, last + 1))
    return sorted(seeds)


def split_values(text: str) -> list[str]:
    """Split ``v1,v2,...`` at the commas outside brackets (so ``[5,5],[10]`` gives two values)."""
    pieces, depth, current = [], 0, ""
    for char in text:
        depth += (char in "([{") - (char in ")]}")
        if char == "," and depth == 0:
            pieces.append(current)
            current = ""
        else:
            current += char
    return [*pieces, current]


def parse_value(text: str) -> Any:
    """A Python literal, else the text itself (as ``-p`` values are read)."""
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text.strip()


def parse_grid(assignments: Iterable[str]) -> dict[str, list[Any]]:
    """``["lr=0.1,0.2", "width=8"]`` → ``{"lr": [0.1, 0.2], "width": [8]}``; one line for a
    malformed item."""
    grid: dict[str, list[Any]] = {}
    for item in assignments:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise ParameterError(f"parameter {item!r} is not of the form name=value1,value2,...")
        if name in grid:
            raise ParameterError(
                f"parameter {name} is given twice; list its values once, comma-separated"
            )
        if name == "seed":
            raise ParameterError("give seeds with --seeds, not -p seed=...")
        grid[name] = [parse_value(v) for v in split_values(text)]
    return grid


def grid_points(seeds: list[int], grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of a seed and one value per swept parameter, seeds varying slowest."""
    names = list(grid)
    return [
        {"seed": seed, **dict(zip(names, values, strict=True))}
        for seed in seeds
        for values in itertools.product(*grid.values())
    ]


def run_point(
    root: str, chapter: str, profile: str, point: dict[str, Any], cell_timeout: int
) -> dict[str, Any]:
    """Execute (or read back from the cache) one grid point in a worker; never raises: errors are
    recorded."""
    os.environ["TRAININGDYNAMICS_PROGRESS"] = "0"
    layout = Layout(Path(root))
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            (outcome,) = run_chapters(
                [chapter], layout, profile=profile, overrides=point, cell_timeout=cell_timeout
            )
    except (
        Exception
    ) as error:  # a point that cannot run is a row with its error, not the end of the sweep
        return {
            "point": point,
            "status": "error",
            "cached": False,
            "message": f"{type(error).__name__}: {error}",
            "claims": [],
        }
    record = read_record(
        layout.claims(outcome.slot)
        if outcome.status == "reproduced"
        else layout.failed_record(outcome.slot)
    )
    claims = claims_of(record) or []
    return {
        "point": point,
        "status": outcome.status,
        "cached": outcome.cached,
        "message": outcome.message,
        "claims": [
            {
                "claim": c.name,
                "value": c.value,
                "bound": c.bound,
                "relation": c.relation,
                "verdict": c.verdict,
                "passed": c.passed,
                "source": c.source,
            }
            for c in claims
        ],
    }


def tidy_table(results: list[dict[str, Any]], names: list[str]) -> pd.DataFrame:
    """One row per point and claim (a point without claims keeps one row with its status and
    message)."""
    rows = []
    for r in results:
        base = {
            "seed": r["point"]["seed"],
            **{n: repr(r["point"][n]) for n in names},
            "status": r["status"],
            "message": r["message"],
        }
        rows += [base | c for c in r["claims"]] or [base | {"claim": None}]
    columns = [
        "seed",
        *names,
        "status",
        "message",
        "claim",
        "value",
        "bound",
        "relation",
        "verdict",
        "passed",
        "source",
    ]
    return pd.DataFrame(rows).reindex(columns=columns)


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per claim: points measured, the share that passed (hold rate) and the value's min, median and
    max."""
    measured = table.dropna(subset=["claim"])
    grouped = measured.groupby("claim", sort=False)
    return pd.DataFrame(
        {
            "points": grouped.size(),
            "hold rate": grouped["passed"].mean().astype(float),
            "min": grouped["value"].min(),
            "median": grouped["value"].median(),
            "max": grouped["value"].max(),
            "bound": grouped["bound"].first(),
        }
    )


def numeric_first(text: object) -> tuple[int, float, str]:
    """Sort key for swept values shown as text: numbers in numeric order, then everything else."""
    value = parse_value(str(text))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, str(text))


def plot_sweep(table: pd.DataFrame, names: list[str]):
    """Each claim's value against each swept parameter (or the seed), the bound dashed."""
    from trainingdynamics import plotting

    measured = table.dropna(subset=["claim"])
    claims = list(dict.fromkeys(measured["claim"])) or ["(no claims recorded)"]
    axis = names[0] if names else "seed"
    fig, axes = plotting.figure(
        min(3, len(claims)), nrows=-(-len(claims) // 3), width=3.6, height=2.8, squeeze=False
    )
    for ax in axes.ravel()[len(claims) :]:
        ax.set_visible(False)
    for ax, claim in zip(axes.ravel(), claims, strict=False):
        rows = measured[measured["claim"] == claim]
        order = sorted(set(rows[axis]), key=numeric_first)
        ax.plot(rows[axis].map({v: i for i, v in enumerate(order)}), rows["value"], "o", alpha=0.7)
        ax.set_xticks(range(len(order)), [str(v) for v in order])
        if len(rows):
            ax.axhline(rows["bound"].iloc[0], color="k", ls="--", lw=0.9, label="bound")
            if (rows["value"] > 0).all() and rows["bound"].iloc[0] > 0:
                ax.set_yscale("log")
        plotting.label(ax, axis, "claim value", claim)
    return fig


@dataclass(frozen=True)
class SweepResult:
    """What a sweep computed and where it wrote it."""

    folder: Path
    table: pd.DataFrame
    summary: pd.DataFrame
    computed: int  # points executed now (the rest were read back from the cache)
    failed: int  # points whose execution failed or errored


def sweep_folder(
    layout: Layout, chapter: str, profile: str, seeds: list[int], grid: Mapping[str, list[Any]]
) -> Path:
    """``_build/sweeps/<chapter>-<hash of profile, seeds and grid>``."""
    spec = json.dumps(
        {
            "profile": profile,
            "seeds": seeds,
            "grid": {k: list(map(repr, v)) for k, v in grid.items()},
        },
        sort_keys=True,
    )
    return layout.build / "sweeps" / f"{chapter}-{hashlib.sha256(spec.encode()).hexdigest()[:10]}"


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None):
    """A client of the given scheduler, or of an embedded LocalCluster (one single-threaded process
    per worker)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise ParameterError(
                f"cannot reach the Dask scheduler at {scheduler} "
                f"within {SCHEDULER_TIMEOUT}: {error}"
            ) from None
        with client:
            yield client
        return
    with LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
    ) as cluster:
        with Client(cluster) as client:
            print(f"dashboard: {client.dashboard_link}", flush=True)
            yield client


def run_sweep(
    chapter: str,
    layout: Layout,
    *,
    profile: str = "quick",
    seeds: list[int],
    grid: Mapping[str, list[Any]],
    scheduler: str | None = None,
    workers: int | None = None,
    cell_timeout: int,
) -> SweepResult:
    """Validate every point, run them on Dask, write table.csv, table.parquet, summary.csv and
    figure.png."""
    from distributed import as_completed
    from tqdm import tqdm

    from trainingdynamics.progress import progress_enabled

    validate_chapters([chapter], layout)
    points = grid_points(seeds, grid)
    for point in points:  # every point is checked before anything is submitted
        chapter_parameters(chapter, layout, profile, point)
    with dask_client(scheduler, workers) as client:
        futures = [
            client.submit(
                run_point, str(layout.root), chapter, profile, p, cell_timeout, pure=False
            )
            for p in points
        ]
        bar = tqdm(
            total=len(points), desc=f"sweep {chapter}", unit="point", disable=not progress_enabled()
        )
        order = {f.key: i for i, f in enumerate(futures)}
        results: list[dict[str, Any] | None] = [None] * len(points)
        for future in as_completed(futures):
            results[order[future.key]] = future.result()
            bar.update(1)
        bar.close()
    done = [r for r in results if r is not None]
    names = list(grid)
    table = tidy_table(done, names)
    summary = summary_table(table)
    folder = sweep_folder(layout, chapter, profile, seeds, grid)
    write_outputs(folder, table, summary, names)
    computed = sum(not r["cached"] for r in done)
    failed = sum(r["status"] != "reproduced" for r in done)
    return SweepResult(folder, table, summary, computed, failed)


def write_outputs(
    folder: Path, table: pd.DataFrame, summary: pd.DataFrame, names: list[str]
) -> None:
    """The table as CSV and Parquet, the summary as CSV and the figure as PNG, each written
    atomically."""
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "table.csv", table.to_csv(index=False))
    atomic_write_text(folder / "summary.csv", summary.to_csv())
    scratch = folder / ".table.parquet.tmp"
    table.astype({"passed": "boolean"}).to_parquet(scratch, index=False)
    os.replace(scratch, folder / "table.parquet")
    fig = plot_sweep(table, names)
    fig.savefig(folder / ".figure.png.tmp", format="png", dpi=110, bbox_inches="tight")
    os.replace(folder / ".figure.png.tmp", folder / "figure.png")
