"""Render ``results.json`` as the book's "Performance" appendix: Markdown tables, findings and two
figures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.covariance import (
    DENSE_GRAM,
    GRADIENTS,
    IMPLICIT_GRAM,
    LAYERED_GRAM,
    OURS_GRADIENTS,
)  # noqa: E402
from bench.hessian import OURS, PEERS, PYHESSIAN  # noqa: E402
from bench.targets import cases, fastest_accurate  # noqa: E402
from trainingdynamics import plotting  # noqa: E402
from trainingdynamics.fileio import atomic_write_text  # noqa: E402

METHODS = (OURS, *PEERS)

EIGEN_FIGURE = "performance-eigenvalues.png"
COVARIANCE_FIGURE = "performance-covariance.png"


def number(value: float | None, digits: int = 3) -> str:
    """A compact number for a table cell; a dash for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}"


def span(values: Sequence[float], unit: str = "") -> str:
    """ "a–b" for the range of ``values`` (one number if they round alike), one decimal."""
    low, high = f"{min(values):.1f}", f"{max(values):.1f}"
    return f"{low}{unit}" if low == high else f"{low}–{high}{unit}"


def verdict(met: bool | None) -> str:
    """A table cell for a target: met, missed or not measured."""
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def eigen_table(rows: list[dict], k: int) -> str:
    """Time, HVPs, time per HVP and relative error of each method and setting for the top-``k``
    eigenvalues."""
    selected = [r for r in rows if r["k"] == k]
    return table(
        [
            "model",
            "n",
            "method",
            "setting",
            "median s",
            "HVPs",
            "ms / HVP",
            "max rel. error",
            "returned in order",
        ],
        [
            [
                r["model"],
                r["n"],
                r["method"],
                r["setting"],
                number(r["seconds"]),
                r["n_hvp"],
                number(1e3 * r["seconds"] / r["n_hvp"]),
                f"{r['max_rel_error']:.1e}",
                "yes" if r["descending"] else "**no**",
            ]
            for r in selected
        ],
    )


def targets_section(results: dict) -> str:
    """The targets table: each ratio against its threshold."""
    speed = table(
        ["target", "method", "case", "ours", "peer", "speed-up", "needed", "verdict", "note"],
        [
            [
                t["target"],
                t["method"],
                t["case"],
                t["ours"],
                t["peer"],
                f"{t['ratio']:.2f}×",
                f"≥ {t['threshold']:g}×",
                verdict(t["met"]),
                t["note"],
            ]
            for t in results["targets"]["speed"]
        ],
    )
    book = table(
        ["target", "seconds", "limit (s)", "verdict", "note"],
        [
            [
                t["target"],
                number(t["seconds"]),
                number(t["threshold_s"]),
                verdict(t["met"]),
                t["note"],
            ]
            for t in results["targets"]["book"]
        ],
    )
    quality = table(
        ["target", "case", "value", "needed", "verdict", "note"],
        [
            [
                t["target"],
                t["case"],
                f"{t['value']:.3g}",
                f"{'≤'} {t['threshold']:g}",
                verdict(t["met"]),
                t["note"],
            ]
            for t in results["targets"].get("quality", [])
        ],
    )
    return (
        "## Targets\n\nSpeed-ups are ratios of medians measured back to back in this run; "
        "the peer is the fastest of curvlinops + eigsh, hessian-eigenthings and PyHessian at the "
        f"same certified accuracy. {target_tally(results['targets']['speed'])}"
        f"\n\n{speed}\n\n{quality}\n\n{book}\n"
    )


def target_tally(targets: list[dict]) -> str:
    """How many (target, case) pairs the library meets with its fastest method, and how many rows
    are met."""
    best: dict[tuple[str, str], bool] = {}
    for t in targets:
        best[t["target"], t["case"]] = best.get((t["target"], t["case"]), False) or t["met"]
    return (
        "Taking for each target and case the library's fastest method, it meets "
        f"{sum(best.values())} of {len(best)} "
        f"speed targets ({sum(t['met'] for t in targets)} of the {len(targets)} method-by-method "
        "rows below)."
    )


def hvp_costs(rows: list[dict]) -> dict[tuple[str, int], dict[str, float]]:
    """Milliseconds per Hessian-vector product of each method, pooled over its settings, per
    (model, n)."""
    costs = {}
    for model, n in cases(rows):
        costs[model, n] = {}
        for method in METHODS:
            chosen = [r for r in rows if (r["model"], r["n"], r["method"]) == (model, n, method)]
            if not chosen:
                continue
            costs[model, n][method] = (
                sum(r["seconds"] for r in chosen) / sum(r["n_hvp"] for r in chosen) * 1e3
            )
    return costs


def products_to_accuracy(rows: list[dict], accuracy: float) -> str:
    """HVPs each method needed for the top-1 eigenvalue within ``accuracy``, per case ("–" if it
    never got there)."""
    parts = []
    for model, n in cases(rows):
        case = [r for r in rows if (r["model"], r["n"], r["k"]) == (model, n, 1)]
        counts = [fastest_accurate(case, method, accuracy) for method in METHODS]
        parts.append(
            f"{model}, n={n}: " + " / ".join("–" if r is None else str(r["n_hvp"]) for r in counts)
        )
    return "; ".join(parts)


def hvp_finding(rows: list[dict], accuracy: float) -> str:
    """Per-HVP cost and product counts of every method: where the Hessian time goes."""
    costs = hvp_costs(rows)
    listed = "; ".join(
        f"{m}, n={n}: " + " / ".join(f"{c.get(method, math.nan):.3g}" for method in METHODS)
        for (m, n), c in costs.items()
    )
    return (
        "- **Where the Hessian time goes.** Every library spends nearly all its time in "
        "Hessian-vector products. Milliseconds per product, pooled over every setting "
        f"({' / '.join(METHODS)}): {listed}. Ours and PyHessian linearise ∇L once and pay one "
        "reverse pass per product; curvlinops differentiates the gradient anew for every product "
        "(forward-over-reverse) and hessian-eigenthings runs a double backward from the loss each "
        "time. The rest is the number of products. For the top-1 eigenvalue within "
        f"{accuracy:g} they needed ({' / '.join(METHODS)}) {products_to_accuracy(rows, accuracy)} "
        "products: when λ₁ is well separated from λ₂, power iteration converges in about as few "
        "steps as Lanczos, so the product count bounds what any method can gain there, and our "
        "check run for missed eigenvalues (k + 10 products) is a fixed price on top."
    )


def findings(results: dict) -> str:
    """Where the time goes and what the peers got wrong, in words built from the numbers."""
    eigen = results["eigenvalues"]
    misordered = [r for r in eigen if r["method"] == PYHESSIAN and not r["descending"]]
    worst = max(
        (r for r in eigen if r["method"] == PYHESSIAN and r["k"] > 1),
        key=lambda r: r["max_rel_error"],
        default=None,
    )
    traces = [r for r in results["trace"] if r["method"].startswith("PyHessian")]
    lines = ["## Findings\n", hvp_finding(eigen, results["config"]["accuracy"])]
    if misordered or worst:
        lines.append(
            "- **PyHessian's top-k values.** Deflated power iteration returned eigenvalues out of "
            f"order in {len(misordered)} of "
            f"{sum(r['method'] == PYHESSIAN for r in eigen)} runs (its values are sorted before "
            "comparing). "
            + (
                f"Its worst top-{worst['k']} error was {worst['max_rel_error']:.1e} "
                f"({worst['model']}, n={worst['n']}, {worst['setting']}); "
                "its stopping rule (relative change of the Rayleigh quotient below `tol`) does not "
                "bound the error, "
                "least of all when eigenvalues are close."
                if worst
                else ""
            )
        )
    lines.append(covariance_finding(results["covariance"]))
    if results.get("pyhessian_density", "ok") != "ok":
        lines.append(
            "- **PyHessian's spectral density.** `density()` (stochastic Lanczos quadrature) does "
            "not run with this torch: "
            f"`{results['pyhessian_density']}`; so it is not compared here."
        )
    if traces:
        lines.append(
            "- **PyHessian's trace.** `trace()` stops when the running mean changes by less than "
            "`tol`; it used "
            + ", ".join(
                f"{r['n_hvp']} probes ({r['model']}, n={r['n']}: error {r['rel_error']:.1e})"
                for r in traces
            )
            + ". It returns the raw samples with no error bar; ours uses a fixed probe count and "
            "reports a standard error."
        )
    return "\n".join(lines) + "\n"


def covariance_finding(rows: list[dict]) -> str:
    """The stage times of the gradient covariance at the largest batch, per model, and what bounds
    the loop target."""
    largest = max(r["n"] for r in rows)
    parts = []
    for model in dict.fromkeys(r["model"] for r in rows):
        stage = {
            r["method"]: r["seconds"] for r in rows if (r["model"], r["n"]) == (model, largest)
        }
        gradients = " / ".join(f"{stage[m]:.3g}" for m in GRADIENTS)
        layered = (
            f"; {LAYERED_GRAM} {stage[LAYERED_GRAM]:.3g} s for both"
            if LAYERED_GRAM in stage
            else ""
        )
        parts.append(
            f"{model}: gradients {gradients} s; spectrum {stage[DENSE_GRAM]:.3g} s dense, "
            f"{stage[IMPLICIT_GRAM]:.3g} s by Lanczos{layered}"
        )
    return (
        f"- **Where the gradient-covariance time goes.** At n = {largest}, gradients by "
        f"{' / '.join(GRADIENTS)}, then "
        f"the spectrum by each route: {'; '.join(parts)}. Forming the n × n Gram matrix costs n²P "
        "operations against "
        "the gradients' O(nP), so at large n the dense route dominates every pipeline; Lanczos on "
        "the implicit Gram matrix "
        "(2nP per product) computes only the top eigenvalues, and `covariance_spectrum` picks it "
        "for min(n, P) > 512 and "
        "k ≤ 16. With the spectrum stage shared, our speed-up over a peer can be no larger than "
        "the ratio of the gradient "
        "stages (the notes in the targets table): a per-example backward pass of these small "
        "networks costs a fraction "
        f"of a millisecond, so vmap gained {span(loop_gains(rows), '×')} over the Python loop on "
        "one thread. "
        "The Gram matrix by layers skips the per-example gradients: a linear layer's share of "
        "g_i·g_j is "
        "(a_i·a_j + 1)(δ_i·δ_j), from one batched forward and backward pass, at n²(d_in + d_out) "
        "operations instead of "
        "n²·d_in·d_out. It wins for the MLP; the CNN's convolutions still need their per-example "
        "gradients and a dense "
        "n × n product, so there it is slower than the vmap pipelines."
    )


def loop_gains(rows: list[dict]) -> list[float]:
    """The per-example loop's gradient time over ours, per (model, n)."""
    gradients = {
        (r["model"], r["n"], r["method"]): r["seconds"] for r in rows if r["stage"] == "gradients"
    }
    return [
        gradients[m, n, "per-example loop"] / gradients[m, n, OURS_GRADIENTS]
        for m, n in cases(rows)
    ]


def covariance_table(rows: list[dict]) -> str:
    """Median time and accuracy of each stage: gradients by three methods, the spectrum by two
    routes."""
    return table(
        ["model", "batch", "stage", "method", "median s", "rel. error λ₁(K)", "rel. error Tr K"],
        [
            [
                r["model"],
                r["n"],
                r["stage"],
                r["method"],
                number(r["seconds"]),
                f"{r['rel_error_top']:.1e}",
                f"{r['rel_error_trace']:.1e}",
            ]
            for r in rows
        ],
    )


def trace_table(rows: list[dict]) -> str:
    """Hessian trace estimates with their standard error against BackPACK's exact diagonal."""
    return table(
        [
            "model",
            "n",
            "method",
            "median s",
            "HVPs",
            "estimate",
            "std. error",
            "exact",
            "rel. error",
            "error / std. error",
        ],
        [
            [
                r["model"],
                r["n"],
                r["method"],
                number(r["seconds"]),
                r["n_hvp"],
                number(r["trace"], 5),
                number(r["stderr"]),
                number(r["reference"], 5),
                f"{r['rel_error']:.1e}",
                number(r["error_in_stderrs"], 2),
            ]
            for r in rows
        ],
    )


def defaults_table(rows: list[dict]) -> str:
    """Each library's error at its own default setting (its first), per case and k."""
    chosen = []
    for model, n in cases(rows):
        for k in dict.fromkeys(r["k"] for r in rows):
            case = [r for r in rows if (r["model"], r["n"], r["k"]) == (model, n, k)]
            chosen += [
                next(r for r in case if r["method"] == m)
                for m in METHODS
                if any(r["method"] == m for r in case)
            ]
    return table(
        ["model", "n", "k", "method", "default setting", "HVPs", "median s", "max rel. error"],
        [
            [
                r["model"],
                r["n"],
                r["k"],
                r["method"],
                r["setting"],
                r["n_hvp"],
                number(r["seconds"]),
                f"{r['max_rel_error']:.1e}",
            ]
            for r in chosen
        ],
    )


def products_table(rows: list[dict]) -> str:
    """Set-up and per-product time of every Hessian-vector product, in gradient-equivalents too."""
    return table(
        ["model", "n", "product", "set-up s", "ms / product", "gradient-equivalents"],
        [
            [
                r["model"],
                r["n"],
                r["method"],
                number(r["setup_s"]),
                number(r["ms_per_product"]),
                number(r["gradient_equivalents"], 2),
            ]
            for r in rows
        ],
    )


def trace_accuracy_table(rows: list[dict]) -> str:
    """Hutchinson against Hutch++ at equal products: RMS error over seeds and the mean std.
    error."""
    return table(
        ["model", "n", "method", "products", "seeds", "RMS rel. error", "mean rel. std. error"],
        [
            [
                r["model"],
                r["n"],
                r["method"],
                r["matvecs"],
                r["seeds"],
                f"{r['rms_rel_error']:.1e}",
                f"{r['mean_rel_stderr']:.1e}",
            ]
            for r in rows
        ],
    )


def density_table(rows: list[dict]) -> str:
    """SLQ against the dense spectrum: L1 distance of the smoothed densities and the moments."""
    return table(
        ["matrix", "model", "P", "probes × steps", "HVPs", "s", "L1", "moment 1", "moment 2"],
        [
            [
                r["matrix"],
                f"{r['model']}, n={r['n']}",
                r["params"],
                f"{r['probes']} × {r['steps']}",
                r["n_hvp"],
                number(r["seconds"]),
                f"{r['l1_distance']:.3f}",
                f"{r['moment1_rel_error']:.1e}",
                f"{r['moment2_rel_error']:.1e}",
            ]
            for r in rows
        ],
    )


def book_table(book: dict) -> str:
    """Each chapter's recorded seconds at quick and full."""
    rows = [[r["chapter"], number(r["quick"]), number(r["full"])] for r in book["chapters"]]
    rows.append(["**total**", number(book["totals"]["quick"]), number(book["totals"]["full"])])
    return table(["chapter", "quick (s)", "full (s)"], rows)


def machine_section(results: dict) -> str:
    """Machine, library versions, settings and the contention caveat."""
    m, v = results["machine"], results["versions"]
    load = results["load"]
    contention = (
        f"**Measured under contention**: the 1-minute load average, sampled before each case, was "
        f"{span(load['samples'])} on {m['logical_cpus']} logical CPUs (this run used "
        f"{m['torch_threads']} thread), so absolute times are inflated and noisy; the ratios "
        "compare methods run back to back."
        if results["contended"]
        else f"Load average at most {load['max']:.1f} on {m['logical_cpus']} logical CPUs."
    )
    return (
        f"Measured {results['date']} at revision `{results.get('revision', 'not recorded')}` "
        f"({results['profile']} profile, {results['dtype']}, torch threads {m['torch_threads']}) "
        "on "
        f"{m['cpu_model']}, {m['platform']}, Python {m['python']}; "
        + ", ".join(f"{name} {version}" for name, version in v.items())
        + f".\n\n{contention}\n"
    )


def eigen_figure(rows: list[dict], top_k: int, accuracy: float, path: Path) -> None:
    """Median time against max relative error, one panel per case and k, one colour per method; the
    target accuracy dashed."""
    grid = cases(rows)
    fig, axes = plotting.figure(len(grid), 2, width=3.4, height=2.9, squeeze=False)
    palette = dict(zip(METHODS, plotting.colors(len(METHODS)), strict=True))
    for col, (model, n) in enumerate(grid):
        for row, k in enumerate((1, top_k)):
            ax = axes[row][col]
            for method, color in palette.items():
                chosen = [
                    r
                    for r in rows
                    if (r["model"], r["n"], r["k"], r["method"]) == (model, n, k, method)
                ]
                ax.scatter(
                    [max(r["max_rel_error"], 1e-16) for r in chosen],
                    [r["seconds"] for r in chosen],
                    color=color,
                    label=method,
                    s=22,
                )
            ax.axvline(
                accuracy,
                color="0.4",
                linestyle="--",
                linewidth=1,
                label=f"target accuracy {accuracy:g}",
            )
            ax.set(xscale="log", yscale="log")
            plotting.label(ax, "max relative error", "median time (s)", f"{model}, n={n}, top-{k}")
    axes[0][0].legend(fontsize=7)
    save(fig, path)


def covariance_figure(rows: list[dict], path: Path) -> None:
    """Median time of each stage against batch size: gradient methods solid, spectrum routes
    dashed; one panel per model."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig, axes = plotting.figure(len(models), 1, width=4.4, height=3.4, squeeze=False)
    stages = list(dict.fromkeys((r["stage"], r["method"]) for r in rows))
    for ax, model in zip(axes[0], models, strict=True):
        for (stage, method), color in zip(stages, plotting.colors(len(stages)), strict=True):
            chosen = [
                r for r in rows if (r["model"], r["stage"], r["method"]) == (model, stage, method)
            ]
            style = "o-" if stage == "gradients" else "s--"
            ax.plot(
                [r["n"] for r in chosen],
                [r["seconds"] for r in chosen],
                style,
                color=color,
                label=f"{stage}: {method}",
            )
        ax.set(xscale="log", yscale="log")
        sizes = sorted({r["n"] for r in rows})
        ax.set_xticks(sizes, labels=[str(n) for n in sizes], minor=False)
        ax.set_xticks([], minor=True)
        plotting.label(
            ax, "batch size n (examples)", "median time (s)", f"gradient covariance, {model}"
        )
    axes[0][0].legend(fontsize=7)
    save(fig, path)


def save(fig: plt.Figure, path: Path) -> None:
    """Write the figure and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def render(results: dict, book_dir: Path) -> Path:
    """Write ``book_dir/performance.md`` and its figures under ``book_dir/images/``; return the
    page's path."""
    images = Path(book_dir) / "images"
    eigen_figure(
        results["eigenvalues"],
        results["config"]["top_k"],
        results["config"]["accuracy"],
        images / EIGEN_FIGURE,
    )
    covariance_figure(results["covariance"], images / COVARIANCE_FIGURE)
    top_k = results["config"]["top_k"]
    intro = (
        "# Performance\n\n"
        "How fast, and how accurate, are the book's spectra diagnostics "
        "(`trainingdynamics.diagnostics.spectra`) "
        "next to curvlinops (+ scipy eigsh), hessian-eigenthings, PyHessian and BackPACK on the "
        "same model, data and precision? And what does the book itself cost "
        "to build? Generated by `python -m bench` (`make bench`) from `bench/results.json`; times "
        "are medians of repeated "
        "runs after a warm-up, errors are relative to float64 references (ARPACK for eigenvalues, "
        "whose residuals "
        f"‖Hv − λv‖ were at most {results['reference_residual']:.1e} · λ₁; BackPACK's exact "
        "Hessian diagonal for "
        "traces; a float64 per-example loop for the gradient covariance).\n"
    )
    sections = [
        intro,
        machine_section(results),
        targets_section(results),
        findings(results),
        f"## Top Hessian eigenvalue\n\n{eigen_table(results['eigenvalues'], 1)}\n",
        f"## Top-{top_k} Hessian eigenvalues\n\n{eigen_table(results['eigenvalues'], top_k)}\n\n"
        f"![time against accuracy](images/{EIGEN_FIGURE})\n",
        "## Gradient covariance\n\nTop eigenvalue and trace of K = (1/n) Σ (gᵢ − ḡ)(gᵢ − ḡ)ᵀ, in "
        "two stages: the n × P "
        "per-example gradients (three methods; their errors are those of λ₁ and Tr K computed from "
        "them) and the "
        "spectrum of the n × n Gram matrix (both methods of `covariance_spectrum`, timed on our "
        "gradients). A pipeline costs the sum of its two "
        'stages; the Gram matrix by layers (`gradient_covariance_eigenvalues(method="gram")`) does '
        "both in one."
        f"\n\n{covariance_table(results['covariance'])}\n\n"
        f"![time against batch size](images/{COVARIANCE_FIGURE})\n",
        "## Errors at each library's defaults\n\nWhat a user sees without tuning: the first "
        "setting of each method (eigsh's tol=0 is machine precision; hessian-eigenthings' default "
        "is 2k Lanczos steps; PyHessian's tol=1e-3, maxIter=100; ours tol=1e-2 is our loosest "
        f"setting, not a default).\n\n{defaults_table(results['eigenvalues'])}\n",
        "## What one product costs\n\nEach operator is built once (set-up) and then applied "
        f"{results['config']['hvp_products']} times; gradient-equivalents divide by the time of "
        "one "
        "gradient of the same loss (curvlinops' convention). The chunked rows cut the examples "
        f"into {results['config']['chunks']} "
        f"chunks.\n\n{products_table(results.get('products', []))}\n",
        f"## Hessian trace\n\n{trace_table(results['trace'])}\n\n"
        "Hutch++ against Hutchinson at equal products, against BackPACK's exact trace:\n\n"
        f"{trace_accuracy_table(results.get('trace_accuracy', []))}\n",
        "## Spectral density\n\nStochastic Lanczos quadrature (`spectra.spectral_density`) of "
        "H and K on a small trained network, against the densities of its dense spectra; both "
        "broadened by the same Gaussian, L1 = ∫|φ_SLQ − φ_dense| (at most 2), moments relative to "
        "(1/P) Tr A^p. PyHessian's `density()` does not run with torch 2 (below).\n\n"
        f"{density_table(results.get('density', []))}\n",
        "## The book's own cost\n\nSeconds recorded by the runner for each chapter's last run "
        "(`_build/claims/<chapter>.json`); a dash means not measured at that "
        f"profile.\n\n{book_table(results['book'])}\n",
    ]
    page = Path(book_dir) / "performance.md"
    atomic_write_text(page, "\n".join(sections))
    return page
