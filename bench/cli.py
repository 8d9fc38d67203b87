"""``python -m bench``: measure every case, write ``results.json``, render the Performance
appendix."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from bench import peers
from bench.book_cost import book_cost
from bench.config import config
from bench.costs import density_rows, product_rows, trace_accuracy_rows
from bench.covariance import covariance_rows
from bench.hessian import eigen_rows, reference_eigenvalues, trace_rows
from bench.problems import LOSS, trained_problem
from bench.report import render
from bench.targets import (
    book_targets,
    chunked_targets,
    covariance_targets,
    density_targets,
    eigen_targets,
    trace_targets,
)
from bench.timing import load, machine, settle
from trainingdynamics.fileio import atomic_write_text
from trainingdynamics.profiles import ParameterError
from trainingdynamics.runner import Layout, find_root


def parser() -> argparse.ArgumentParser:
    """The benchmark's command line."""
    cli = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    cli.add_argument(
        "--quick",
        action="store_true",
        help="a few seconds on a tiny model: a smoke test, not a measurement",
    )
    cli.add_argument(
        "--root", type=Path, help="the book's folder (default: found from the current directory)"
    )
    cli.add_argument("--out", type=Path, help="where results.json goes (default: <root>/bench)")
    cli.add_argument(
        "--book", type=Path, help="where performance.md and images/ go (default: <root>/book)"
    )
    cli.add_argument(
        "--render-only",
        action="store_true",
        help="re-render the page from an existing results.json",
    )
    return cli


def progress(message: str) -> None:
    """One line on stderr: which case is being measured."""
    print(f"[bench {datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


OWN_OUTPUTS = (":!bench/results.json", ":!book/performance.md", ":!book/images/performance-*")


def revision(root: Path) -> str:
    """The commit, ``+dirty`` with uncommitted changes other than the benchmark's own outputs
    ("unknown" without git); no index lock taken."""
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        status = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(root), "status", "--porcelain", "--", "."]
            + list(OWN_OUTPUTS),
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def measure_all(profile: str, layout: Layout) -> dict:
    """Run every benchmark case of ``profile``; the results as plain JSON-able data."""
    cfg = config(profile)
    if profile == "full":
        progress(
            f"waiting for the load average to settle: {settle(torch.get_num_threads() + 0.5):.0f} s"
        )
    loads = [load()]
    eigen, trace, covariance, residuals, costs, accuracy = [], [], [], [], [], []
    for model_name in cfg.models:
        problem = trained_problem(model_name, cfg)
        for n in cfg.hessian_sizes:
            progress(f"{model_name}, n={n}: Hessian eigenvalues, products and trace")
            loads.append(load())
            subset = problem.first(n)
            reference = reference_eigenvalues(subset, cfg.top_k, seed=cfg.seed)
            residuals.append(reference.max_relative_residual)
            eigen += eigen_rows(subset, cfg, reference)
            costs += product_rows(subset, cfg)
            trace += trace_rows(subset, cfg)
        accuracy += trace_accuracy_rows(problem.first(min(cfg.hessian_sizes)), cfg)
        progress(f"{model_name}: gradient covariance")
        loads.append(load())
        covariance += covariance_rows(problem, cfg)
    progress("spectral density against dense spectra")
    densities = density_rows(cfg)
    density = peers.pyhessian_density_check(
        problem.copy().model, LOSS, problem.X[:64], problem.y[:64]
    )
    progress("the book's own cost")
    book = book_cost(layout, check_rebuild=profile == "full")
    loads.append(load())
    info = machine()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "profile": profile,
        "revision": revision(layout.root),
        "dtype": str(next(problem.model.parameters()).dtype).removeprefix("torch."),
        "config": dataclasses.asdict(cfg),
        "machine": info,
        "versions": peers.versions(),
        "load": {"start": loads[0], "end": loads[-1], "max": max(loads), "samples": loads},
        "contended": max(loads) > info["torch_threads"] + 0.5,
        "contention_rule": "1-minute load average, sampled before each case, above torch's thread "
        "count + 0.5",
        "reference_residual": max(residuals),
        "eigenvalues": eigen,
        "trace": trace,
        "covariance": covariance,
        "products": costs,
        "trace_accuracy": accuracy,
        "density": densities,
        "book": book,
        "pyhessian_density": density,
        "targets": {
            "speed": eigen_targets(eigen, cfg.accuracy, cfg.top_k) + covariance_targets(covariance),
            "quality": chunked_targets(costs)
            + trace_targets(accuracy)
            + density_targets(densities),
            "book": book_targets(book),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 on success; 2 with one line on stderr for bad input or a missing comparison
    library."""
    args = parser().parse_args(argv)
    try:
        root = find_root(args.root)
        out = args.out or root / "bench"
        book = args.book or root / "book"
        if args.render_only:
            results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        else:
            peers.require_peers()
            results = measure_all("quick" if args.quick else "full", Layout(root))
            atomic_write_text(out / "results.json", json.dumps(results, indent=1))
        page = render(results, book)
    except (ParameterError, peers.MissingPeerError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"rendered {page}" if args.render_only else f"wrote {out / 'results.json'} and {page}")
    return 0
