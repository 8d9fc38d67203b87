"""The ``trainingdynamics`` command: list, run and build the book's chapters."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trainingdynamics.book import build_html
from trainingdynamics.chapters import CHAPTERS, study
from trainingdynamics.profiles import ParameterError
from trainingdynamics.runner import (
    DEFAULT_CELL_TIMEOUT,
    Layout,
    Outcome,
    Terminated,
    find_root,
    last_result,
    parse_assignments,
    run_chapters,
)


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    top = argparse.ArgumentParser(prog="trainingdynamics", description=__doc__)
    top.add_argument("--root", help="the book's folder (default: found from the current directory)")
    verbs = top.add_subparsers(dest="verb", required=True)
    verbs.add_parser("list", help="chapters, their claim and their last result")
    run = verbs.add_parser("run", help="execute chapters and check their claims")
    run.add_argument("chapters", nargs="+", metavar="CHAPTER")
    build = verbs.add_parser("build", help="run every stale chapter, then build the HTML book")
    for verb in (run, build):
        verb.add_argument(
            "--profile", default="quick", help="quick (tests) or full (the rendered book)"
        )
        verb.add_argument("--force", action="store_true", help="re-execute even if nothing changed")
        verb.add_argument(
            "--cell-timeout",
            type=int,
            default=DEFAULT_CELL_TIMEOUT,
            help="seconds a single cell may run",
        )
    run.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a notebook parameter",
    )
    sweep = verbs.add_parser(
        "sweep", help="run one chapter over seeds and parameter values on Dask"
    )
    sweep.add_argument("chapter", metavar="CHAPTER")
    sweep.add_argument(
        "--profile", default="quick", help="quick (tests) or full (the rendered book)"
    )
    sweep.add_argument("--seeds", default="0", help="seeds, e.g. 0-9 or 0,3,5 (default 0)")
    sweep.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="values of a knob to sweep",
    )
    sweep.add_argument(
        "--cell-timeout",
        type=int,
        default=DEFAULT_CELL_TIMEOUT,
        help="seconds a single cell may run",
    )
    robust = verbs.add_parser(
        "robustness", help="every chapter's quick profile over many seeds: book/robustness.json"
    )
    robust.add_argument("chapters", nargs="*", metavar="CHAPTER", help="default: every chapter")
    robust.add_argument("--seeds", default="0-9", help="seeds, e.g. 0-9 (default)")
    robust.add_argument(
        "--workers",
        type=int,
        help="worker processes of the embedded LocalCluster (default: one per core)",
    )
    robust.add_argument(
        "--cell-timeout",
        type=int,
        default=DEFAULT_CELL_TIMEOUT,
        help="seconds a single cell may run",
    )
    where = sweep.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler", help="address of an existing Dask scheduler, e.g. tcp://host:8786"
    )
    where.add_argument(
        "--workers",
        type=int,
        help="worker processes of the embedded LocalCluster (default: one per core)",
    )
    return top


def summary(outcomes: Sequence[Outcome]) -> str:
    """A table of chapter, result, time and cache use."""
    lines = [f"{'chapter':<12} {'result':<11} {'seconds':>8}  note"]
    for o in outcomes:
        seconds, note = (
            ("-", f"cached (recorded run: {o.seconds:.1f} s)")
            if o.cached
            else (f"{o.seconds:.1f}", o.message)
        )
        lines.append(f"{o.chapter:<12} {o.status:<11} {seconds:>8}  {note}")
    return "\n".join(lines)


def list_chapters(layout: Layout) -> int:
    """Print each chapter with its one-line claim and last result."""
    rows = [
        (c, last_result(c, layout), study(c).CLAIM) for c in CHAPTERS if layout.source(c).is_file()
    ]
    width = max(len(result) for _, result, _ in rows)
    for chapter, result, claim in rows:
        print(f"{chapter:<12} {result:<{width}}  {claim}")
    return 0


def run_and_report(args: argparse.Namespace, layout: Layout, chapters: list[str]) -> bool:
    """Run ``chapters``, print the summary table, return whether all passed."""
    if args.cell_timeout <= 0:
        raise ParameterError(
            f"--cell-timeout must be a positive number of seconds, got {args.cell_timeout}"
        )
    overrides = parse_assignments(getattr(args, "parameter", []))
    outcomes = run_chapters(
        chapters,
        layout,
        profile=args.profile,
        overrides=overrides,
        force=args.force,
        cell_timeout=args.cell_timeout,
    )
    print(summary(outcomes))
    failed = [o.chapter for o in outcomes if o.status != "reproduced"]
    if failed:
        print(
            f"failed: {', '.join(failed)} (executed notebooks kept in {layout.build / 'failed'})",
            file=sys.stderr,
        )
    return not failed


def sweep_and_report(args: argparse.Namespace, layout: Layout) -> int:
    """Run a sweep, print its per-claim summary and where its files are; 1 if any point failed."""
    from trainingdynamics.sweep import parse_grid, parse_seeds, run_sweep

    if args.cell_timeout <= 0:
        raise ParameterError(
            f"--cell-timeout must be a positive number of seconds, got {args.cell_timeout}"
        )
    if args.workers is not None and args.workers < 1:
        raise ParameterError(f"--workers must be at least 1, got {args.workers}")
    seeds, grid = parse_seeds(args.seeds), parse_grid(args.parameter)
    result = run_sweep(
        args.chapter,
        layout,
        profile=args.profile,
        seeds=seeds,
        grid=grid,
        scheduler=args.scheduler,
        workers=args.workers,
        cell_timeout=args.cell_timeout,
    )
    print(result.summary.to_string(float_format=lambda x: f"{x:.4g}"))
    points = len(result.table.drop_duplicates(subset=["seed", *grid]))
    cached = points - result.computed
    print(
        f"{points} points ({result.computed} computed, {cached} from the cache, "
        f"{result.failed} failed); table, summary and figure in {result.folder}"
    )
    return 1 if result.failed else 0


def robustness_and_report(args: argparse.Namespace, layout: Layout) -> int:
    """Sweep the chapters over seeds and update book/robustness.json; 0 even where a claim failed at
    some seed."""
    from trainingdynamics.robustness import results_path, run_robustness
    from trainingdynamics.sweep import parse_seeds

    if args.workers is not None and args.workers < 1:
        raise ParameterError(f"--workers must be at least 1, got {args.workers}")
    chapters = args.chapters or [c for c in CHAPTERS if layout.source(c).is_file()]
    run_robustness(
        layout,
        chapters,
        parse_seeds(args.seeds),
        workers=args.workers,
        cell_timeout=args.cell_timeout,
    )
    print(f"hold rates written to {results_path(layout)}; the Robustness appendix renders them")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; bad input gives one line on stderr and exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    try:
        layout = Layout(find_root(args.root))
        if args.verb == "list":
            return list_chapters(layout)
        if args.verb == "run":
            return 0 if run_and_report(args, layout, args.chapters) else 1
        if args.verb == "sweep":
            return sweep_and_report(args, layout)
        if args.verb == "robustness":
            return robustness_and_report(args, layout)
        chapters = [c for c in CHAPTERS if layout.source(c).is_file()]
        if not run_and_report(args, layout, chapters):
            return 1
        result = build_html(layout, chapters)
        if result.returncode != 0:
            print(result.stdout[-4000:] + result.stderr[-4000:], file=sys.stderr)
            print("error: jupyter-book build failed", file=sys.stderr)
            return 1
        print(f"book built: {layout.build / 'html' / 'index.html'}")
        return 0
    except ParameterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Terminated:
        print("terminated: the kernel was stopped and no partial output was kept", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("interrupted: the kernel was stopped and no partial output was kept", file=sys.stderr)
        return 130
    except OSError as error:
        where = f" {error.filename}" if error.filename else ""
        print(f"error: cannot write{where}: {error.strerror or error}", file=sys.stderr)
        return 2
