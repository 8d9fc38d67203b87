"""Sweeps on Dask: the same numbers as serial runs, resumable, cached, and one line for bad
input."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import copy_sources

from trainingdynamics import sweep
from trainingdynamics.cli import main
from trainingdynamics.runner import Layout

pytestmark = pytest.mark.slow


def test_parsing_seeds_and_grids() -> None:
    assert sweep.parse_seeds("0-3") == [0, 1, 2, 3] and sweep.parse_seeds("5,1-2,5") == [1, 2, 5]
    assert sweep.parse_grid(["step_fraction=0.5,0.9", "hidden=[5,5],[10]"]) == {
        "step_fraction": [0.5, 0.9],
        "hidden": [[5, 5], [10]],
    }
    points = sweep.grid_points([0, 1], {"a": [1, 2], "b": ["x"]})
    assert points == [
        {"seed": 0, "a": 1, "b": "x"},
        {"seed": 0, "a": 2, "b": "x"},
        {"seed": 1, "a": 1, "b": "x"},
        {"seed": 1, "a": 2, "b": "x"},
    ]


def test_a_sweep_on_two_workers_matches_serial_runs_resumes_and_caches(tmp_path: Path) -> None:
    import torch

    from trainingdynamics.studies import quickstart as study

    parallel = Layout(copy_sources(tmp_path))
    threads = torch.get_num_threads()
    torch.set_num_threads(
        1
    )  # as in the chapter kernels: the same points, run serially in this process
    try:
        expected = {
            s: [
                c.value
                for c in study.claims(study.run(study.config("quick", step_fraction=0.9), seed=s))
            ]
            for s in (0, 1)
        }
    finally:
        torch.set_num_threads(threads)
    grid = {"step_fraction": [0.5, 0.9]}
    first = sweep.run_sweep(
        "quickstart", parallel, seeds=[0], grid=grid, workers=2, cell_timeout=120
    )
    assert first.computed == 2 and first.failed == 0
    resumed = sweep.run_sweep(
        "quickstart", parallel, seeds=[0, 1], grid=grid, workers=2, cell_timeout=120
    )
    assert resumed.computed == 2  # only the seed-1 points were missing
    table = resumed.table
    assert len(table) == 4 * 4 and set(table["claim"]) == {
        "min_norm_error",
        "interpolation",
        "rate_bound",
        "rate_tightness",
    }
    for seed in (0, 1):
        rows = table[(table["seed"] == seed) & (table["step_fraction"] == "0.9")]
        assert list(rows["value"]) == expected[seed]  # bit-identical to the serial runs
    summary = pd.read_csv(resumed.folder / "summary.csv", index_col=0)
    assert list(summary.index) == [
        "min_norm_error",
        "interpolation",
        "rate_bound",
        "rate_tightness",
    ]
    assert (summary["points"] == 4).all() and (summary["hold rate"] == 1.0).all()
    assert {p.name for p in resumed.folder.iterdir()} == {
        "table.csv",
        "table.parquet",
        "summary.csv",
        "figure.png",
    }
    assert pd.read_parquet(resumed.folder / "table.parquet").shape == table.shape
    again = sweep.run_sweep(
        "quickstart", parallel, seeds=[0, 1], grid=grid, workers=2, cell_timeout=120
    )
    assert again.computed == 0 and again.table.equals(table)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seeds", "3-1"], "each range must run upwards"),
        (["--seeds", "0-x"], "is not a seed list"),
        (["-p", "nosuch=1,2"], "unknown parameter(s) nosuch"),
        (["-p", "step_fraction=0.5,2"], "step_fraction must be below 1"),
        (["-p", "step_fraction"], "is not of the form name=value1,value2"),
        (["-p", "steps=100", "-p", "steps=200"], "is given twice"),
        (["--workers", "0"], "--workers must be at least 1"),
        (
            ["--scheduler", "tcp://127.0.0.1:9"],
            "cannot reach the Dask scheduler at tcp://127.0.0.1:9",
        ),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(book_copy, capsys, monkeypatch, argv, message) -> None:
    monkeypatch.setattr(sweep, "SCHEDULER_TIMEOUT", "2s")
    assert main(["--root", str(book_copy), "sweep", "quickstart", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (book_copy / "_build" / "claims").exists()


def test_a_worker_killed_mid_sweep_loses_no_finished_result(tmp_path: Path) -> None:
    import threading

    from distributed import Client, LocalCluster

    layout = Layout(copy_sources(tmp_path))
    records = layout.build / "claims"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        outcome: dict = {}

        def sweep_four_seeds() -> None:
            outcome["result"] = sweep.run_sweep(
                "quickstart",
                layout,
                seeds=[0, 1, 2, 3],
                grid={},
                scheduler=cluster.scheduler_address,
                cell_timeout=120,
            )

        worker = threading.Thread(target=sweep_four_seeds)
        worker.start()
        deadline = time.monotonic() + 120
        while (
            not (records.is_dir() and list(records.glob("quickstart@*.json")))
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        finished = {p.name: p.read_bytes() for p in records.glob("quickstart@*.json")}
        victim = next(iter(client.run(os.getpid).values()))
        os.kill(
            victim, signal.SIGKILL
        )  # one worker dies mid-sweep; its task is retried on the other
        worker.join(timeout=180)
    result = outcome["result"]
    assert result.failed == 0 and len(result.table) == 4 * 4
    assert all(
        (records / name).read_bytes() == data for name, data in finished.items()
    )  # finished results kept as they were
    again = sweep.run_sweep(
        "quickstart",
        layout,
        seeds=[0, 1, 2, 3],
        grid={},
        scheduler=None,
        workers=2,
        cell_timeout=120,
    )
    assert again.computed == 0  # a rerun finds every point done
