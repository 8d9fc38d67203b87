"""The chapter's figures: each takes the run's result and draws one figure of the notebook."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from trainingdynamics import plotting
from trainingdynamics.diagnostics.gram import ACTIVATIONS, Activation

from .analysis import separation_fit
from .config import (
    DEPTH_FACTOR,
    DEPTH_POINTS,
    DEPTH_SCALE,
    DEPTH_SUFFICIENT,
    DEVIATION_BOUND,
    KINKED_FLOOR,
    SMOOTH,
)
from .experiment import ActivationsResult
from .spectra import kinked_lambda_min
from .training import _linear_prediction


def _palette() -> dict[str, tuple[float, float, float]]:
    """One colour per activation, the same in every figure."""
    return dict(zip(ACTIVATIONS, plotting.colors(len(ACTIVATIONS)), strict=True))


def _style(name: str) -> str:
    """Dashed lines for the smooth activations, solid for the kinked ones."""
    return "--" if name in SMOOTH else "-"


def plot_gram_check(result: ActivationsResult) -> Figure:
    """The finite-width ReLU Gram's relative error against the width, beside m^(−1/2)."""
    check = result.check
    fig, ax = plotting.figure()
    label = r"$\|H_0 - G\|_F / \|G\|_F$ (RMS over networks)"
    ax.loglog(check.widths, check.width_errors, "o-", label=label)
    reference = check.width_errors[0] * np.sqrt(check.widths[0] / check.widths)
    ax.loglog(check.widths, reference, "--", color="0.4", label=r"$\propto m^{-1/2}$")
    plotting.label(
        ax,
        "width m (neurons)",
        "relative error of the network's Gram",
        "Finite-width ReLU Gram converges to G",
    )
    ax.legend()
    return fig


def plot_lambda_min(result: ActivationsResult) -> Figure:
    """λ_min(G) of every activation against the dimension k of the data's subspace."""
    spectra, palette = result.spectra, _palette()
    fig, ax = plotting.figure(width=7)
    for name in spectra.lambda_min:
        ax.semilogy(
            spectra.subspace_dims,
            spectra.lambda_min[name],
            _style(name),
            marker="o",
            color=palette[name],
            label=name,
        )
    ax.fill_between(
        spectra.subspace_dims, 1e-18, spectra.floor["relu"], color="0.88", label="round-off (ReLU)"
    )
    ax.set_ylim(bottom=1e-14)
    title = f"n = {result.cfg.n_points} points"
    plotting.label(ax, "dimension k of the data's subspace", r"$\lambda_{\min}(G)$", title)
    ax.legend(ncols=2)
    return fig


def plot_size_and_separation(result: ActivationsResult) -> Figure:
    """λ_min against the number of points (left) and against each circle's separation δ (right)."""
    cfg, spectra, palette = result.cfg, result.spectra, _palette()
    fig, (ax, ax_delta) = plotting.figure(ncols=2)
    for name in spectra.sweep_lambda_min:
        ax.loglog(
            spectra.sweep_points,
            spectra.sweep_lambda_min[name],
            _style(name),
            marker="o",
            color=palette[name],
            label=name,
        )
    title = f"k = {cfg.sweep_dim}, first n points of one sample"
    plotting.label(ax, "number of points n", r"$\lambda_{\min}(G)$", title)
    ax.legend(ncols=2)
    for name in spectra.draws_low:
        ax_delta.loglog(
            spectra.separation_low,
            spectra.draws_low[name],
            "o",
            color=palette[name],
            ms=5,
            mfc="none" if name in SMOOTH else palette[name],
            label=name,
        )
    power, offset, _ = separation_fit(spectra)
    delta = np.sort(spectra.separation_low)
    fit = np.exp(offset) * delta**power
    ax_delta.loglog(delta, fit, ":", color="0.4", label=f"ReLU fit ∝ δ^{power:.2f}")
    plotting.label(
        ax_delta,
        r"separation $\delta$ of the set",
        r"$\lambda_{\min}(G)$",
        f"k = 2, {cfg.claim_draws} circles of n = {cfg.n_points}",
    )
    ax_delta.legend(ncols=2)
    return fig


def plot_elu_jump(result: ActivationsResult) -> Figure:
    """λ_min of ELU(α), ReLU and SELU at k = 2 against the jump of φ' at 0."""
    spectra, palette = result.spectra, _palette()
    k2 = list(spectra.subspace_dims).index(2)
    jumps = np.array([Activation("elu", a).derivative_jump for a in spectra.elu_alphas])
    kinked = jumps > 0
    fig, ax = plotting.figure()
    label = r"ELU, $\alpha \neq 1$"
    ax.loglog(jumps[kinked], spectra.elu_lambda_min[kinked], "o", color=palette["elu"], label=label)
    for a, j, lam in zip(
        spectra.elu_alphas[kinked], jumps[kinked], spectra.elu_lambda_min[kinked], strict=True
    ):
        offset = (4, 6) if a > 1 else (4, -12)
        ax.annotate(f"α={a:g}", (j, lam), textcoords="offset points", xytext=offset)
    for name in ("relu", "selu"):
        jump, lam = Activation(name).derivative_jump, spectra.lambda_min[name][k2]
        ax.loglog(jump, lam, "s", color=palette[name], label=name)
    reference = spectra.lambda_min["relu"][k2] * jumps[kinked] ** 2
    label = r"$\propto (\Delta\phi')^2$ through ReLU"
    ax.loglog(jumps[kinked], reference, "--", color="0.4", label=label)
    alpha_one = spectra.elu_lambda_min[~kinked]
    if alpha_one.size:
        label = r"ELU, $\alpha = 1$ (no jump in $\phi'$)"
        ax.axhline(alpha_one[0], color=palette["elu"], ls=":", label=label)
    plotting.label(
        ax,
        r"jump of $\phi'$ at 0, $|\Delta\phi'|$",
        r"$\lambda_{\min}(G)$",
        "k = 2: the size of the jump sets the eigenvalue",
    )
    ax.legend()
    return fig


def plot_spectra(result: ActivationsResult) -> Figure:
    """ReLU's and tanh's sorted eigenvalues on the circle and in the full space."""
    cfg, spectra, palette = result.cfg, result.spectra, _palette()
    fig, axes = plotting.figure(ncols=2)
    panels = ((spectra.spectra_low, "k = 2"), (spectra.spectra_high, f"k = {cfg.ambient_dim}"))
    for ax, (spectrum, title) in zip(axes, panels, strict=True):
        for name in ("relu", "tanh"):
            index = np.arange(1, cfg.n_points + 1)
            ax.semilogy(index, spectrum[name][::-1], color=palette[name], label=name)
        plotting.label(ax, "eigenvalue index i", r"$\lambda_i(G)$", title)
        ax.legend()
    return fig


def plot_figure_one(result: ActivationsResult) -> Figure:
    """The paper's Figure 1 on our data: GD's loss and G's eigenvalues, per n, circle and R^d."""
    one, palette = result.figure, _palette()
    fig, axes = plotting.figure(ncols=2, nrows=4, width=4.2, height=3.0)
    cases = [(data, n) for data in ("k = 2", f"k = {result.cfg.ambient_dim}") for n in one.points]
    for letter, (ax_loss, ax_eig), (data, n) in zip("abcd", axes, cases, strict=True):
        for name in ACTIVATIONS:
            loss = one.losses[(n, data)][name]
            ax_loss.semilogy(loss / loss[0], _style(name), color=palette[name], label=name)
            ax_eig.semilogy(
                np.arange(1, n + 1),
                one.spectra[(n, data)][name],
                _style(name),
                marker=".",
                color=palette[name],
                label=name,
            )
        title = f"({letter}) convergence, n = {n}, {data}"
        plotting.label(ax_loss, "GD step", "loss / initial loss", title)
        title = f"({letter}) G's eigenvalues, n = {n}, {data}"
        plotting.label(ax_eig, "eigenvalue index i", r"$\lambda_i(G)$ at initialisation", title)
    axes[0][0].legend()
    return fig


def plot_training(result: ActivationsResult) -> Figure:
    """GD's loss beside the Gram prediction on both data sets, and the deviation against width."""
    cfg, palette = result.cfg, _palette()
    fig, (ax_low, ax_high, ax_width) = plotting.figure(ncols=3, width=4.6)
    for ax, runs, where in (
        (ax_low, result.runs_low, "k = 2 (bump)"),
        (ax_high, result.runs_high, f"k = {cfg.ambient_dim} (±1 labels)"),
    ):
        for run in runs:
            ax.semilogy(run.loss, color=palette[run.activation], label=run.activation)
            predicted = 0.5 * np.sum(_linear_prediction(run) ** 2, axis=1)
            ax.semilogy(predicted, ":", color="0.2", lw=1)
        ylabel = r"loss $\frac{1}{2}\|u_t - y\|^2$ (dotted: Gram prediction)"
        plotting.label(ax, "GD step", ylabel, where)
    ax_high.set_ylim(bottom=1e-12)
    ax_low.legend()
    law = result.widths
    for (_, values), marker in zip(law.deviations.items(), ("o", "x"), strict=True):
        for name, row in zip(cfg.train_activations, values, strict=True):
            label = name if marker == "o" else None
            ax_width.loglog(
                law.widths, row, marker + "-", color=palette[name], ms=5, lw=0.8, label=label
            )
        rms = np.sqrt(np.mean(values**2, axis=0))
        reference = rms[0] * np.sqrt(law.widths[0] / law.widths)
        ax_width.loglog(law.widths, reference, "--", color="0.4", lw=1)
    ax_width.axhline(DEVIATION_BOUND, color="0.4", ls=":", label="linear_deviation's bar")
    plotting.label(
        ax_width,
        "width m",
        r"$\max_t \|r_t - (I-\eta G)^t r_0\| / \|r_0\|$",
        f"o: k = 2, x: k = {cfg.ambient_dim}; dashed ∝ m^(−1/2)",
    )
    ax_width.legend()
    return fig


def _plot_depth_scales(ax, result: ActivationsResult) -> None:
    """Median growth of tanh's λ_min with depth, one curve per hidden-weight scale σ_w."""
    depth = result.depth
    colours = plotting.colors(len(depth.scales))
    for scale, row, colour in zip(depth.scales, depth.growth, colours, strict=True):
        ax.semilogy(depth.depths, row, "o-", color=colour, ms=4, label=f"σ_w = {scale:g}")
    label = f"{DEPTH_FACTOR:g}× (the depth-growth claim's bar, L = {DEPTH_SUFFICIENT})"
    ax.axhline(DEPTH_FACTOR, color="0.4", ls=":", label=label)
    ax.axvline(DEPTH_SUFFICIENT, color="0.7", lw=0.8)
    plotting.label(
        ax,
        "depth L (hidden layers + 1)",
        r"median $\lambda_{\min}(G^{(L)}) / \lambda_{\min}(G^{(1)})$",
        f"tanh, n = {DEPTH_POINTS} points on a circle",
    )
    ax.legend()


def _plot_depth_circles(ax, result: ActivationsResult) -> None:
    """tanh's λ_min with depth on the kinked claim's circles, against that claim's bar."""
    cfg, depth, tanh, relu = result.cfg, result.depth, _palette()["tanh"], _palette()["relu"]
    for row in depth.circle_lambda_min:
        ax.semilogy(depth.depths, row, color=tanh, alpha=0.25, lw=0.8)
    median = np.median(depth.circle_lambda_min, axis=0)
    ax.semilogy(depth.depths, median, "o-", color=tanh, ms=4, label="tanh, median")
    ax.axhline(KINKED_FLOOR, color=relu, ls=":", label="the kinked claim's bar")
    label = "ReLU/SELU, depth 1 (smaller median)"
    ax.axhline(kinked_lambda_min(result.spectra), color=relu, ls="--", lw=1, label=label)
    plotting.label(
        ax,
        "depth L",
        r"$\lambda_{\min}(G^{(L)})$ (floored at round-off)",
        f"{cfg.claim_draws} circles of n = {cfg.n_points}, σ_w = {DEPTH_SCALE:g}",
    )
    ax.legend()


def _plot_depth_gap(ax, result: ActivationsResult) -> None:
    """The closest pair's 1 − |ρ| at the top layer with depth, beside χ^(L−1)."""
    depth, tanh = result.depth, _palette()["tanh"]
    gap = np.median(depth.circle_gap, axis=0)
    label = r"median $1 - \max_{i\neq j}|\rho_{ij}|$"
    ax.semilogy(depth.depths, gap, "o-", color=tanh, ms=4, label=label)
    predicted = np.minimum(gap[0] * depth.chi ** (depth.depths - 1.0), 1.0)
    ax.semilogy(
        depth.depths, predicted, "--", color="0.3", label=r"$\chi^{L-1}$ from L = 1 (capped at 1)"
    )
    title = f"χ = {depth.chi:.4f} (quadrature)"
    plotting.label(ax, "depth L", "closest pair's 1 − |ρ| at the top layer", title)
    ax.legend()


def plot_depth(result: ActivationsResult) -> Figure:
    """Depth: growth per σ_w, tanh's λ_min on the claim's circles, and the closest pair's gap."""
    fig, (ax_scale, ax_circles, ax_gap) = plotting.figure(nrows=3, width=6.5, height=3.4)
    _plot_depth_scales(ax_scale, result)
    _plot_depth_circles(ax_circles, result)
    _plot_depth_gap(ax_gap, result)
    return fig
