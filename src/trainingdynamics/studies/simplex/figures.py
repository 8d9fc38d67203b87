"""The chapter's figures: loss along the vertices, the decay's shape and predictability, density."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from trainingdynamics import plotting
from trainingdynamics.algorithms.simplex import distinct_vertices, fit_limit
from trainingdynamics.studies.simplex.analysis import (
    ESTIMATORS,
    SEEN,
    WINDOW,
    _vertex_losses,
    gap_ratios,
    relative_errors,
    tail_errors,
)
from trainingdynamics.studies.simplex.experiment import SettingRun, SimplexRuns

LABELS = {"fit": "3-parameter fit", "aitken": "Aitken Δ² on block means"}


def _certified(result: SimplexRuns) -> list[SettingRun]:
    """The main setting's runs that end at a certified minimum after a path long enough to test."""
    testable = [r for r in result.main if r.trace.certified]
    return [r for r in testable if np.isfinite(tail_errors(_vertex_losses(r.trace))[0])]


def plot_loss(result: SimplexRuns) -> Figure:
    """L_k at every vertex of each main run (left) and the remaining gap L_k − L_K, log scale."""
    colors = plotting.colors(len(result.main))
    fig, (ax_loss, ax_gap) = plotting.figure(ncols=2)
    for r, c in zip(result.main, colors, strict=True):
        losses = _vertex_losses(r.trace)
        k = np.arange(len(losses)) / max(len(losses) - 1, 1)
        ax_loss.plot(k, losses, color=c, label=f"seed {r.seed} ({r.trace.status})")
        gap = losses - losses[-1]
        ax_gap.semilogy(k[gap > 0], gap[gap > 0], color=c)
    plotting.label(ax_loss, "share k/K of the path", "L1 loss $L_k$", "Loss at distinct vertices")
    plotting.label(ax_gap, "share k/K of the path", "$L_k - L_K$", "Remaining gap (log scale)")
    ax_loss.legend()
    return fig


def plot_decay_shape(result: SimplexRuns) -> Figure:
    """Tail predictions of both models for one run (left); remaining-gap ratios per fifth."""
    fig, (ax_fit, ax_ratio) = plotting.figure(ncols=2)
    runs = _certified(result)
    if runs:
        losses = _vertex_losses(runs[0].trace)
        K = len(losses) - 1
        start, stop = int(WINDOW[0] * K), int(WINDOW[1] * K)
        k, window = np.arange(K + 1), slice(start, stop + 1)
        geo = fit_limit(k[window], losses[window], upper=losses[stop])
        ax_fit.plot(k, losses, color="0.3", label="$L_k$")
        ax_fit.plot(
            k[start:],
            geo.limit + geo.scale * geo.rate ** (k[start:] - start),
            "--",
            label="geometric fit",
        )
        ax_fit.plot(
            k[start:],
            np.polyval(np.polyfit(k[window], losses[window], 1), k[start:]),
            ":",
            label="linear fit",
        )
        ax_fit.axvspan(start, stop, color="0.9", zorder=0, label="fit window")
        ax_fit.set_ylim(losses[-1] - 0.3 * (losses[start] - losses[-1]), losses[start])
        plotting.label(ax_fit, "distinct vertex k", "L1 loss", f"Seed {runs[0].seed}")
        ax_fit.legend()
    for r in runs:
        ax_ratio.plot(np.arange(1, 5), gap_ratios(_vertex_losses(r.trace)), "o-", alpha=0.6)
    straight = np.array([5 / 4, 4 / 3, 3 / 2, 2.0])  # g_{j−1}/g_j = (6 − j)/(5 − j)
    ax_ratio.plot(np.arange(1, 5), straight, "k--", label="straight decay")
    plotting.label(
        ax_ratio,
        "fifth j of the path",
        "gap ratio $g_{j-1}/g_j$",
        "Remaining-gap ratios (geometric: flat)",
    )
    ax_ratio.set_yscale("log")
    ax_ratio.legend()
    return fig


def predictability(result: SimplexRuns) -> pd.DataFrame:
    """Median over certified main runs of |L̂*(k) − L_K| / (L_k − L_K) at each seen share k/K."""
    rows = [
        {"seen": f, "seed": r.seed, **relative_errors(_vertex_losses(r.trace), f)}
        for r in _certified(result)
        for f in SEEN
    ]
    return (
        pd.DataFrame(rows, columns=["seen", "seed", *ESTIMATORS])
        .groupby("seen")[list(ESTIMATORS)]
        .median()
    )


def plot_predictability(result: SimplexRuns) -> Figure:
    """Each estimator's error relative to the naive L_k, against the share of the path seen."""
    fig, ax = plotting.figure()
    errors = predictability(result)
    for e in ESTIMATORS:
        ax.semilogy(errors.index, errors[e], "o-", label=LABELS[e])
    ax.axhline(1.0, color="k", lw=1, label="naive $L_k$")
    ax.axhline(0.5, color="0.5", ls=":", lw=1, label="half the naive error")
    plotting.label(
        ax,
        "share k/K of the path seen",
        r"$|\hat L^\star - L_K| / (L_k - L_K)$",
        "Estimating the minimum's loss early (median over runs)",
    )
    ax.legend()
    return fig


def plot_density(result: SimplexRuns) -> Figure:
    """Line density against the offset from θ_0 and θ_K (left); ‖θ‖ and steps along a run."""
    fig, (ax_profile, ax_steps) = plotting.figure(ncols=2)
    medians = result.profile.groupby("offset")[["around start", "around end"]].median()
    for column in medians:
        ax_profile.loglog(medians.index, medians[column], "o-", label=column)
    ax_profile.axvline(result.cfg.offset, color="0.5", ls=":", lw=1, label="claim's offset")
    plotting.label(
        ax_profile,
        "offset of the line from the vertex",
        "crossings per unit length",
        "Boundary density (median over runs)",
    )
    ax_profile.legend()
    trace = result.main[0].trace
    thetas = trace.thetas[distinct_vertices(trace)]
    norms = np.linalg.norm(thetas, axis=1)
    steps = np.linalg.norm(np.diff(thetas, axis=0), axis=1)
    ax_steps.semilogy(steps, ".", ms=2, label=r"step $\|\theta_{k+1}-\theta_k\|$")
    ax_steps.semilogy(steps / norms[:-1], ".", ms=2, label=r"step / $\|\theta_k\|$")
    ax_steps.semilogy(norms, label=r"$\|\theta_k\|$")
    plotting.label(ax_steps, "distinct vertex k", "length", f"Seed {result.main[0].seed}")
    ax_steps.legend()
    return fig


def setting_summary(result: SimplexRuns) -> pd.DataFrame:
    """Per setting: runs by status, and the medians of the decay and density statistics."""
    table = result.table
    status = pd.crosstab(table["setting"], table["status"])
    columns = [
        "pivots",
        "tail error geometric",
        "tail error linear",
        "density ratio",
        "step ratio",
        "scaled step ratio",
        "norm growth",
    ]
    medians = table.groupby("setting")[columns].median().add_prefix("median ")
    order = [s.name for s in result.settings]
    return status.join(medians).reindex(order)


def numbers(result: SimplexRuns) -> dict[str, float]:
    """The numbers the chapter's prose quotes, as plain floats (for glue)."""
    table, main = result.table, result.settings[0].name
    rows = table[table["setting"] == main]
    testable = [r.seed for r in _certified(result)]
    tested = rows[rows["seed"].isin(testable)]
    flip = table[table["setting"].str.endswith("sequential_flip")]
    values = {
        "main_runs": len(rows),
        "main_certified": int((rows["status"] == "local minimum").sum()),
        "testable": len(tested),
        "median_pivots": rows["pivots"].median(),
        "pivot_rate": rows["pivots/s"].median(),
        "geometric_better": int(
            (tested["tail error geometric"] < tested["tail error linear"]).sum()
        ),
        "tail_geometric": tested["tail error geometric"].median(),
        "tail_linear": tested["tail error linear"].median(),
        "density_ratio": tested["density ratio"].median(),
        "density_min": tested["density ratio"].min(),
        "density_max": tested["density ratio"].max(),
        "norm_growth": tested["norm growth"].median(),
        "norm_growth_max": tested["norm growth"].max(),
        "step_ratio": tested["step ratio"].median(),
        "scaled_step_ratio": tested["scaled step ratio"].median(),
        "flip_runs": len(flip),
        "flip_certified": int((flip["status"] == "local minimum").sum()),
        "runs": len(table),
        "certified": int((table["status"] == "local minimum").sum()),
    }
    for e in ESTIMATORS:
        values[f"error_{e}"] = tested[f"error {e} at 0.8K"].median()
    return {k: float(v) for k, v in values.items()}
