"""GD on wide two-layer nets against the linearised dynamics (I − ηG)^t r_0."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from trainingdynamics.device import resolve_device
from trainingdynamics.diagnostics.gram import (
    Activation,
    RandomFeatureNetwork,
    empirical_gram,
    sphere_in_subspace,
)
from trainingdynamics.diagnostics.rates import fit_exponential
from trainingdynamics.seeding import child_rng, child_seed, torch_generator
from trainingdynamics.training import Step, train

from .config import LARGE_SHARE, LEADING, LOSS_FLOOR, ROUND_OFF_CONTENT, Config
from .spectra import gram

# ----------- training (limit_gap, linear_deviation, deviation_width_law, leading_rates,
# final_loss_match)


@dataclass
class TrainingRun:
    """One GD run: the residuals u_t − y, the step, and the eigen-decompositions of G and of the
    network's H(0).
    """

    activation: str
    eta: float  # step_fraction / λ_max(G)
    limit_eigenvalues: np.ndarray  # of the infinite-width G, ascending
    limit_vectors: np.ndarray  # their eigenvectors (columns)
    eigenvalues: np.ndarray  # of the width-m network's Gram H(0), ascending
    vectors: np.ndarray  # their eigenvectors (columns)
    residuals: np.ndarray  # (steps + 1, n): u_t − y
    loss: np.ndarray  # ½‖u_t − y‖²


def bump_target(coordinates: np.ndarray, concentration: float) -> np.ndarray:
    """A smooth bump on the circle, exp(κ(cos ϕ − 1)) minus its mean, scaled to unit RMS."""
    y = np.exp(concentration * (coordinates[:, 0] - 1.0))
    y = y - y.mean()
    return y / np.sqrt(np.mean(y**2))


def training_data(cfg: Config, seed: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Points on the unit sphere of R^dim, target a bump for dim 2, random ±1 labels otherwise.

    Training on the coordinates inside the subspace is exact: w·x only sees w's projection on the
    subspace, which is again N(0, I), and the gradients stay in it.
    """
    rng = child_rng(seed, "training-data", dim)
    X = sphere_in_subspace(cfg.n_points, dim, dim, rng)
    y = (
        bump_target(X, cfg.bump_concentration)
        if dim == 2
        else rng.choice([-1.0, 1.0], cfg.n_points)
    )
    return X, y


def gd_residuals(
    X: np.ndarray,
    y: np.ndarray,
    activation: Activation,
    width: int,
    steps: int,
    step_fraction: float,
    seed: int,
    device: str | torch.device = "cpu",
    network_gram: bool = False,
) -> tuple[TrainingRun, RandomFeatureNetwork]:
    """Full-batch GD on the first layer of a width-``width`` net, η = step_fraction/λ_max(G).

    ``seed`` seeds the initial weights; H(0) (the network's Gram) is computed only with
    ``network_gram`` (otherwise the run carries G's eigen-decomposition in its place).
    """
    device = resolve_device(str(device))
    net = RandomFeatureNetwork(X.shape[1], width, activation, generator=torch_generator(seed)).to(
        device
    )
    Xt = torch.as_tensor(X, device=device)
    yt = torch.as_tensor(y, device=device)
    limit_eigenvalues, limit_vectors = np.linalg.eigh(gram(X, activation))
    if network_gram:
        eigenvalues, vectors = np.linalg.eigh(empirical_gram(net, Xt, ["hidden"]))
    else:
        eigenvalues, vectors = limit_eigenvalues, limit_vectors
    eta = step_fraction / limit_eigenvalues[-1]
    residuals: list[np.ndarray] = []

    def record(state: Step) -> None:
        with torch.no_grad():
            residuals.append((state.model(Xt) - yt).cpu().numpy())

    train(
        net,
        lambda out, target: 0.5 * torch.sum((out - target) ** 2),
        Xt,
        yt,
        optimizer=torch.optim.SGD(net.parameters(), lr=eta),
        steps=steps,
        callbacks=[record],
        seed=seed,
        desc=f"GD {activation.label} m={width}",
    )
    with torch.no_grad():
        residuals.append((net(Xt) - yt).cpu().numpy())
    r = np.array(residuals)
    run = TrainingRun(
        activation.name,
        eta,
        limit_eigenvalues,
        limit_vectors,
        eigenvalues,
        vectors,
        r,
        0.5 * np.sum(r**2, axis=1),
    )
    return run, net


def _train_network(
    cfg: Config,
    X: np.ndarray,
    y: np.ndarray,
    activation: Activation,
    seed: int,
    device: torch.device,
) -> TrainingRun:
    """The chapter's training run: width train_width, train_steps steps, with the network's H(0)."""
    return gd_residuals(
        X,
        y,
        activation,
        cfg.train_width,
        cfg.train_steps,
        cfg.step_fraction,
        seed,
        device,
        network_gram=True,
    )[0]


def _linear_prediction(run: TrainingRun) -> np.ndarray:
    """(I − ηG)^t r_0 for t = 0..T, in G's eigenbasis: Σ_i (1 − ηλ_i)^t c_i(0) v_i."""
    t = np.arange(len(run.residuals))[:, None]
    start = run.limit_vectors.T @ run.residuals[0]
    return ((1.0 - run.eta * run.limit_eigenvalues) ** t * start) @ run.limit_vectors.T


def deviation(run: TrainingRun) -> float:
    """max_t ‖r_t − (I − ηG)^t r_0‖ / ‖r_0‖: the whole residual against the linearised one."""
    gap = np.linalg.norm(run.residuals - _linear_prediction(run), axis=1)
    return float(gap.max() / np.linalg.norm(run.residuals[0]))


def _predicted_losses(run: TrainingRun) -> np.ndarray:
    """The Gram prediction of the loss at every step, ½ Σ_i (1 − ηλ_i)^(2t) c_i(0)²."""
    return 0.5 * np.sum(_linear_prediction(run) ** 2, axis=1)


def predicted_loss(run: TrainingRun) -> float:
    """The Gram prediction of the final loss, ½ Σ_i (1 − ηλ_i)^(2T) c_i(0)²."""
    return float(_predicted_losses(run)[-1])


def _compared_step(run: TrainingRun) -> int:
    """The step final_loss_match compares at: T, or the last step whose predicted loss is above
    LOSS_FLOOR (round-off below).
    """
    above = np.flatnonzero(_predicted_losses(run) >= LOSS_FLOOR)
    return int(above[-1]) if above.size else 0


def loss_mismatch(run: TrainingRun) -> float:
    """|log(L_t / L_pred)| / |log(L_pred / L_0)| at the compared step: the error of the predicted
    decay, as a fraction of it.
    """
    t = _compared_step(run)
    predicted = _predicted_losses(run)[t]
    if t == 0 or predicted == run.loss[0]:
        return math.nan
    return float(abs(math.log(run.loss[t] / predicted)) / abs(math.log(predicted / run.loss[0])))


def large_share(run: TrainingRun) -> np.ndarray:
    """The leading_rates claim's directions: measurable ones holding ≥ LARGE_SHARE of ‖r_0‖ along
    G's eigenvectors.
    """
    content = np.abs(run.residuals[0] @ run.limit_vectors) / np.linalg.norm(run.residuals[0])
    return measurable(run) & (content >= LARGE_SHARE)


def leading_rate_errors(run: TrainingRun) -> np.ndarray:
    """|measured − ηλ_i| / ηλ_i over the large-share directions, fitted while predicted above e⁻¹.

    The window ends where such a direction still holds ≥ e⁻¹·5 % ≈ 1.8 % of ‖r_0‖, above the
    whole-residual deviation, so that the deviation (not the direction's own decay) cannot dominate
    the fit.
    """
    columns = np.flatnonzero(large_share(run))
    predicted = run.eta * run.limit_eigenvalues[columns]
    components = np.abs(run.residuals @ run.limit_vectors[:, columns])
    t_star = np.minimum(len(run.residuals) - 1, np.ceil(1.0 / predicted)).astype(int)
    measured = np.array(
        [
            1.0 - fit_exponential(np.arange(t + 1), components[: t + 1, j]).factor
            for j, t in enumerate(t_star)
        ]
    )
    return np.abs(measured - predicted) / predicted


@dataclass
class WidthLaw:
    """The whole-residual deviation across widths, on the chapter's two training sets."""

    widths: np.ndarray
    deviations: dict[str, np.ndarray]  # data ("k = 2", "k = d") → (activations, widths)
    exponents: dict[
        str, float
    ]  # data → least-squares slope of log(RMS over activations) against log m


def _width_law(cfg: Config, seed: int, device: str | torch.device = "cpu") -> WidthLaw:
    """Deviation over rate_steps GD steps of every training activation at every width in
    rate_widths, k = 2 and k = d.
    """
    widths = np.array(sorted(set(cfg.rate_widths)))
    deviations, exponents = {}, {}
    for dim in (2, cfg.ambient_dim):
        X, y = training_data(cfg, seed, dim)
        values = np.array(
            [
                [
                    deviation(
                        gd_residuals(
                            X,
                            y,
                            Activation(name),
                            int(m),
                            cfg.rate_steps,
                            cfg.step_fraction,
                            child_seed(seed, "width-law", dim, int(m)),
                            device,
                        )[0]
                    )
                    for m in widths
                ]
                for name in cfg.train_activations
            ]
        )
        key = _data_label(cfg, dim)
        deviations[key] = values
        exponents[key] = float(
            np.polyfit(np.log(widths), np.log(np.sqrt(np.mean(values**2, axis=0))), 1)[0]
        )
    return WidthLaw(widths, deviations, exponents)


def _data_label(cfg: Config, dim: int) -> str:
    """How the figures and tables name a training set."""
    return "k = 2" if dim == 2 else f"k = {cfg.ambient_dim}"


def _basis_of(run: TrainingRun, basis: str) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and eigenvectors of G (``"limit"``, the claim) or of the network's H(0)
    (``"network"``).
    """
    if basis not in ("limit", "network"):
        raise ValueError(f"basis must be 'limit' or 'network', got {basis!r}")
    return (
        (run.limit_eigenvalues, run.limit_vectors)
        if basis == "limit"
        else (run.eigenvalues, run.vectors)
    )


def measurable(run: TrainingRun, basis: str = "limit") -> np.ndarray:
    """The rate claim's directions, λ_i ≥ 10⁻² λ_1, whose initial component is above round-off."""
    eigenvalues, vectors = _basis_of(run, basis)
    start = np.abs(run.residuals[0] @ vectors)
    return (eigenvalues >= LEADING * eigenvalues[-1]) & (
        start > ROUND_OFF_CONTENT * np.linalg.norm(run.residuals[0])
    )


def measured_rates(run: TrainingRun, basis: str = "limit") -> tuple[np.ndarray, np.ndarray]:
    """Per-step decay 1 − q of c_i(t) = v_iᵀ(u_t − y) and its prediction ηλ_i, per direction.

    q is the exponential fit (``fit_exponential``) to |c_i(t)| over t = 0..t*, where t* is the step
    at which (1 − ηλ_i)^t reaches e⁻² (or the last step).
    """
    eigenvalues, vectors = _basis_of(run, basis)
    steps = len(run.residuals) - 1
    columns = np.flatnonzero(measurable(run, basis))
    predicted = run.eta * eigenvalues[columns]
    components = np.abs(run.residuals @ vectors[:, columns])
    t_star = np.minimum(steps, np.ceil(2.0 / predicted)).astype(int)
    measured = [
        1.0 - fit_exponential(np.arange(t + 1), components[: t + 1, j]).factor
        for j, t in enumerate(t_star)
    ]
    return np.array(measured), predicted


def rate_errors(run: TrainingRun, basis: str = "limit") -> np.ndarray:
    """|measured − ηλ_i| / ηλ_i per measurable direction."""
    measured, predicted = measured_rates(run, basis)
    return np.abs(measured - predicted) / predicted


def rate_error(runs: list[TrainingRun], basis: str = "limit") -> float:
    """Largest relative error |measured − ηλ_i| / ηλ_i over all runs' measurable directions."""
    return float(max(np.max(rate_errors(run, basis)) for run in runs))


def limit_gap(run: TrainingRun) -> float:
    """Largest |λ_i(H_0) − λ_i(G)| / λ_i(G) over the rate claim's directions λ_i(G) ≥ 10⁻² λ_1(G)
    (paired by rank).
    """
    keep = run.limit_eigenvalues >= LEADING * run.limit_eigenvalues[-1]
    return float(
        np.max(
            np.abs(run.eigenvalues[keep] - run.limit_eigenvalues[keep])
            / run.limit_eigenvalues[keep]
        )
    )


def final_loss(runs: list[TrainingRun], activation: str) -> float:
    """The loss after the budget for one activation."""
    return float(next(run.loss[-1] for run in runs if run.activation == activation))
