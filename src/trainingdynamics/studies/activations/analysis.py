"""What the notebook reports beside the claims: its tables and the numbers its prose glues."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import (
    DEPTH_FACTOR,
    DEPTH_LIMIT,
    DEPTH_POINTS,
    DEPTH_SUFFICIENT,
    FIGURE_WIDTH,
    HIGH_DIM_FACTOR,
    KINKED_FLOOR,
    LARGE_SHARE,
    LEADING,
    RATE_TOLERANCE,
    SMOOTH_RATIO,
    Config,
)
from .depth import depth_growth
from .experiment import ActivationsResult
from .spectra import Spectra, high_dim_ratios, high_dim_spread
from .training import (
    TrainingRun,
    deviation,
    final_loss,
    leading_rate_errors,
    limit_gap,
    loss_mismatch,
    measurable,
    predicted_loss,
    rate_error,
    rate_errors,
)


def separation_fit(spectra: Spectra) -> tuple[float, float, float]:
    """Power, log-offset and correlation of a least-squares fit log λ_min(ReLU) ≈ p log δ + c."""
    log_delta, log_lambda = np.log(spectra.separation_low), np.log(spectra.draws_low["relu"])
    power, offset = np.polyfit(log_delta, log_lambda, 1)
    return float(power), float(offset), float(np.corrcoef(log_delta, log_lambda)[0, 1])


def _worst_direction_share(runs: list[TrainingRun]) -> float:
    """Share of ‖r_0‖ held by the direction with the largest every-direction rate error."""
    worst = max(runs, key=lambda run: np.max(rate_errors(run)))
    content = np.abs(
        worst.residuals[0] @ worst.limit_vectors[:, measurable(worst)]
    ) / np.linalg.norm(worst.residuals[0])
    return float(content[np.argmax(rate_errors(worst))])


def _kinked_below(spectra: Spectra) -> int:
    """Circles on which the smaller of ReLU's and SELU's λ_min is below the kinked claim's bar."""
    smaller = np.minimum(spectra.draws_low["relu"], spectra.draws_low["selu"])
    return int(np.sum(smaller < KINKED_FLOOR))


def _settings(cfg: Config) -> dict[str, float]:
    """The run's sizes and the claims' bounds, as the prose quotes them."""
    return {
        "n_points": float(cfg.n_points),
        "ambient_dim": float(cfg.ambient_dim),
        "sweep_dim": float(cfg.sweep_dim),
        "sweep_rank": float(cfg.sweep_dim * (cfg.sweep_dim + 1) / 2),
        "train_width": float(cfg.train_width),
        "train_steps": float(cfg.train_steps),
        "step_fraction": float(cfg.step_fraction),
        "rate_steps": float(cfg.rate_steps),
        "smallest_rate_width": float(min(cfg.rate_widths)),
        "largest_rate_width": float(max(cfg.rate_widths)),
        "figure_points_max": float(max(cfg.figure_points)),
        "depth_draws": float(cfg.depth_draws),
        "deepest": float(max(cfg.depths)),
        "depth_points": float(DEPTH_POINTS),
        "depth_sufficient": float(DEPTH_SUFFICIENT),
        "depth_limit": float(DEPTH_LIMIT),
        "depth_factor": float(DEPTH_FACTOR),
        "kinked_floor": float(KINKED_FLOOR),
        "smooth_ratio": float(SMOOTH_RATIO),
        "high_dim_factor": float(HIGH_DIM_FACTOR),
        "rate_tolerance": float(RATE_TOLERANCE),
        "large_share": float(LARGE_SHARE),
        "leading": float(LEADING),
    }


def prose_numbers(result: ActivationsResult) -> dict[str, float]:
    """Every number the chapter's prose quotes, by glue name (without the chapter prefix)."""
    cfg, spectra, depth = result.cfg, result.spectra, result.depth
    runs = result.runs_low + result.runs_high
    power, _, correlation = separation_fit(spectra)
    return {
        "high_dim_raw": float(high_dim_spread(spectra, normalised=False)),
        "delta_power": power,
        "delta_correlation": correlation,
        "figure_width": float(FIGURE_WIDTH),
        "exponent_circle": float(result.widths.exponents["k = 2"]),
        "exponent_high": float(result.widths.exponents[f"k = {cfg.ambient_dim}"]),
        "tanh_over_relu_loss": float(
            final_loss(result.runs_high, "tanh") / final_loss(result.runs_high, "relu")
        ),
        "small_rate_error": float(rate_error(runs)),
        "small_rate_share": _worst_direction_share(runs),
        "chi": float(depth.chi),
        "growth_at_4": float(depth_growth(depth, depth=4) if 4 in depth.depths else float("nan")),
        "claim_draws": float(cfg.claim_draws),
        "kinked_below": float(_kinked_below(spectra)),
    } | _settings(cfg)


def high_dim_table(spectra: Spectra) -> pd.DataFrame:
    """G_ii and each activation's λ_min against ReLU's at k = d, raw and in units of G_ii."""
    return pd.DataFrame(
        {
            "G_ii": spectra.diagonal,
            "λ_min / λ_min(ReLU), raw": high_dim_ratios(spectra, normalised=False),
            "(λ_min / G_ii) / (ReLU's), the claim": high_dim_ratios(spectra),
        }
    )


def _training_row(run: TrainingRun) -> dict[str, object]:
    """One training run's statistics: deviation, losses, rate errors and the limit gap."""
    on_g, on_h, large = rate_errors(run), rate_errors(run, "network"), leading_rate_errors(run)
    return {
        "activation": run.activation,
        "η": run.eta,
        "deviation": deviation(run),
        "loss L_T": run.loss[-1],
        "Gram prediction": predicted_loss(run),
        "loss mismatch": loss_mismatch(run),
        "≥ 5 % directions": large.size,
        "max error there": large.max(initial=0.0),
        "all leading directions": on_g.size,
        "max error along G": on_g.max(),
        "along H(0)": on_h.max(),
        "limit gap": limit_gap(run),
    }


def training_table(result: ActivationsResult) -> pd.DataFrame:
    """Every training run's statistics, indexed by data set and activation."""
    sets = (("k = 2", result.runs_low), (f"k = {result.cfg.ambient_dim}", result.runs_high))
    rows = [{"data": where} | _training_row(run) for where, runs in sets for run in runs]
    return pd.DataFrame(rows).set_index(["data", "activation"])
