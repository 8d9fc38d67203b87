"""What the claims, tables and prose read from a run."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from trainingdynamics.algorithms import ste as S

from .config import (
    MC_Z_BOUND,
    MIN_CORRELATION_POINTS,
    MIN_MC_POINTS,
    MIN_MC_SAMPLES,
    PAPER_BITS,
    REPELLED_SHARE,
    Config,
)
from .experiment import SteResult
from .quantized import LEARNING_RATE_KINDS, REPELLED_STARTS
from .toy import CoarseGDRun, _w_cosines, ratio_slopes, teacher_odds

DIGITS = 1797  # examples in scikit-learn's digits: the held-out set is the rest of n_train


def monte_carlo_table(result: SteResult) -> pd.DataFrame:
    """Largest error in standard errors over the Monte Carlo points, per checked quantity."""
    return pd.DataFrame(result.monte_carlo).max().rename("largest z").to_frame()


def _trajectory_cosines(result: SteResult, ste: str, stride: int = 10) -> np.ndarray:
    """cos(E g_w, ∂f/∂w) along each expected coarse-GD run of ``ste`` (every ``stride`` steps; NaN
    where θ ∈ {0, π}).
    """

    def along(trajectory: CoarseGDRun) -> list[float]:
        regular = (trajectory.theta > 1e-9) & (trajectory.theta < np.pi - 1e-9)
        kept = range(0, len(trajectory.w), stride)
        return [
            _w_cosines(trajectory.v[t], trajectory.w[t], result.teacher)[ste]
            if regular[t]
            else np.nan
            for t in kept
        ]

    return np.array([along(t) for t in result.descent[ste]])


def largest_rise(trajectory: CoarseGDRun, norm_floor: float) -> float:
    """max_t f(t+1) − f(t) over steps with ‖w_t‖, ‖w_{t+1}‖ ≥ ``norm_floor`` (−inf if there are
    none).
    """
    kept = (trajectory.w_norm[:-1] >= norm_floor) & (trajectory.w_norm[1:] >= norm_floor)
    rises = np.diff(trajectory.loss)[kept]
    return float(rises.max()) if rises.size else -np.inf


def collapsed_runs(result: SteResult, ste: str) -> int:
    """Number of coarse-GD runs with this STE in which ‖w_t‖ fell below ``norm_floor``."""
    return sum(int(t.w_norm.min() < result.cfg.norm_floor) for t in result.descent[ste])


def excursion_from_minimum(trajectory: CoarseGDRun) -> float:
    """max_t (π − θ_t) − (π − θ_0): how much farther from θ = π than its start the run gets (≤ 0 if
    it never does).
    """
    distance = np.pi - trajectory.theta
    return float(distance.max() - distance[0])


def false_alarm_bound(checks: int, z: float = MC_Z_BOUND) -> float:
    """Union bound on the probability that any of ``checks`` |N(0, 1)| errors exceeds ``z`` (no
    independence needed).
    """
    return min(1.0, checks * math.erfc(z / math.sqrt(2.0)))


# Table 1 of the paper (training loss / validation accuracy %, identity | vanilla ReLU | clipped
# ReLU), quoted.
PAPER_TABLE_1 = pd.DataFrame(
    [
        ("MNIST", "LeNet-5", 2, 2.6e-2, 98.49, 5.1e-3, 99.24, 5.4e-3, 99.23),
        ("MNIST", "LeNet-5", 4, 6.0e-3, 98.98, 9.0e-4, 99.32, 8.8e-4, 99.24),
        ("CIFAR-10", "VGG-11", 2, 0.19, 86.58, 0.10, 88.69, 0.02, 90.92),
        ("CIFAR-10", "VGG-11", 4, 3.1e-2, 90.19, 1.5e-3, 92.01, 1.3e-3, 92.08),
        ("CIFAR-10", "ResNet-20", 2, 1.56, 46.52, 1.50, 48.05, 0.24, 88.39),
        ("CIFAR-10", "ResNet-20", 4, 1.38, 54.16, 0.25, 86.59, 0.04, 91.24),
    ],
    columns=[
        "data",
        "network",
        "bits",
        "identity loss",
        "identity acc %",
        "relu loss",
        "relu acc %",
        "clipped_relu loss",
        "clipped_relu acc %",
    ],
).set_index(["data", "network", "bits"])


def _final(result: SteResult, bits: int, ste: str, metric: str) -> np.ndarray:
    """Per seed, ``metric`` (train_loss, train_accuracy, test_accuracy) at the end of quantized
    training.
    """
    return result.digits.quantized[(bits, ste)][metric][:, -1]


def digits_table(result: SteResult) -> pd.DataFrame:
    """Median over seeds, after quantized training from pre-trained weights: full training-set loss,
    training and held-out accuracy.
    """
    rows = [
        {
            "bits": bits,
            "STE": ste,
            **{
                name: float(np.median(_final(result, bits, ste, key)))
                for name, key in (
                    ("train loss", "train_loss"),
                    ("train accuracy", "train_accuracy"),
                    ("held-out accuracy", "test_accuracy"),
                )
            },
        }
        for bits in result.cfg.bits
        for ste in S.STES
    ]
    return pd.DataFrame(rows).set_index(["bits", "STE"])


def _paper_bits(result: SteResult) -> list[int]:
    """The run's bit widths that the paper also runs (2 and 4)."""
    return [b for b in result.cfg.bits if b in PAPER_BITS]


def loss_margin(result: SteResult, bits: list[int]) -> float:
    """min over ``bits`` of [median final training loss, identity − best of ReLU/clipped ReLU] (NaN
    without bit widths).
    """
    margins = [
        float(
            np.median(_final(result, b, "identity", "train_loss"))
            - min(np.median(_final(result, b, s, "train_loss")) for s in ("relu", "clipped_relu"))
        )
        for b in bits
    ]
    return min(margins) if margins else math.nan


def _accuracy_margin(result: SteResult, bits: list[int]) -> float:
    """min over ``bits`` of [best of ReLU/clipped ReLU − identity, median final held-out accuracy]
    (NaN without bit widths).
    """
    margins = [
        float(
            max(np.median(_final(result, b, s, "test_accuracy")) for s in ("relu", "clipped_relu"))
            - np.median(_final(result, b, "identity", "test_accuracy"))
        )
        for b in bits
    ]
    return min(margins) if margins else math.nan


def _continuation(result: SteResult, bits: int, start: str, ste: str, kind: str) -> np.ndarray:
    """Per seed and epoch, the training loss of the continuation from the ``start`` STE's minimum
    with ``ste`` at the ``kind`` learning rate.
    """
    return result.digits.repelled[(bits, start, ste, kind)]["train_loss"]


def repelled_cases(
    result: SteResult, kind: str, start: str = "clipped_relu", bits: list[int] | None = None
) -> np.ndarray:
    """Per (bits, seed), whether the identity STE's continuation ends with a higher training loss
    than the clipped ReLU's.
    """
    bits = _paper_bits(result) if bits is None else bits
    return (
        np.concatenate(
            [
                _continuation(result, b, start, "identity", kind)[:, -1]
                > _continuation(result, b, start, "clipped_relu", kind)[:, -1]
                for b in bits
            ]
        )
        if bits
        else np.array([], bool)
    )


def repelled_share(
    result: SteResult, kind: str, start: str = "clipped_relu", bits: list[int] | None = None
) -> float:
    """Share of (seed, bits) cases in which the identity STE ends above the clipped ReLU (NaN
    without cases).
    """
    cases = repelled_cases(result, kind, start, bits)
    return float(cases.mean()) if cases.size else math.nan


def repelled_rises(
    result: SteResult, kind: str, start: str = "clipped_relu", bits: list[int] | None = None
) -> np.ndarray:
    """Per (bits, seed), the identity STE's final continuation loss over the loss at the start (> 1:
    it rose).
    """
    bits = _paper_bits(result) if bits is None else bits
    return (
        np.concatenate(
            [
                _continuation(result, b, start, "identity", kind)[:, -1]
                / _continuation(result, b, start, "identity", kind)[:, 0]
                for b in bits
            ]
        )
        if bits
        else np.array([])
    )


def repelled_table(result: SteResult) -> pd.DataFrame:
    """Median over seeds of the final continuation loss per (bits, start, learning rate) and STE,
    with the starting loss.
    """
    rows = []
    for bits in result.cfg.bits:
        for start in REPELLED_STARTS:
            for kind in LEARNING_RATE_KINDS:
                row = {
                    "bits": bits,
                    "start": start,
                    "learning rate": kind,
                    "start loss": float(
                        np.median(_continuation(result, bits, start, "identity", kind)[:, 0])
                    ),
                }
                row |= {
                    ste: float(np.median(_continuation(result, bits, start, ste, kind)[:, -1]))
                    for ste in S.STES
                }
                above = int(repelled_cases(result, kind, start, [bits]).sum())
                row["identity above clipped_relu"] = f"{above}/{len(result.digits.seeds)}"
                rows.append(row)
    return pd.DataFrame(rows).set_index(["bits", "start", "learning rate"])


def descent_report(result: SteResult) -> str:
    """Collapsed runs and the largest per-step rise of f over all steps, per STE."""
    cfg = result.cfg
    collapsed = {ste: collapsed_runs(result, ste) for ste in S.STES}
    rises = {
        ste: float(f"{max(largest_rise(path, 0.0) for path in result.descent[ste]):.3g}")
        for ste in S.STES
    }
    return (
        f"{collapsed} of {cfg.starts} runs had ‖w‖ < {cfg.norm_floor}\n"
        f"largest per-step rise of f, all steps: {rises}"
    )


def near_minimum_report(result: SteResult) -> str:
    """vᵀv* at the spurious v, ‖E g_w‖ at the spurious minima, the smallest θ reached per STE."""
    teacher = result.teacher
    norms = {ste: np.round(n, 12) for ste, n in result.minimum_norms.items()}
    smallest = {
        ste: (
            round(float(result.near_minimum[ste].theta.min()), 3),
            round(float(result.near_minimum_sampled[ste].theta.min()), 3),
        )
        for ste in S.STES
    }
    return (
        f"vᵀv* at the spurious v: {teacher.v_spurious @ teacher.v_star:.3f} "
        "(negative: the points are local minima)\n"
        f"‖E g_w‖ at spurious minima (radii 0.5, 1, 2): {norms}\n"
        f"smallest θ reached (expected, mini-batch): {smallest}"
    )


def ratio_report(result: SteResult) -> str:
    """The range over paths of the ratio's log-log slope, and the largest ratio, per STE."""
    slopes = {ste: ratio_slopes(result.ratios[ste]) for ste in S.STES}
    ranges = {
        ste: (round(float(s.min()), 3), round(float(s.max()), 3)) for ste, s in slopes.items()
    }
    largest = {ste: float(f"{result.ratios[ste].max():.3g}") for ste in S.STES}
    return (
        f"log-log slope over t ≤ 1e-2, range over paths: {ranges}\n"
        f"largest ratio along the paths: {largest}"
    )


def _digits_numbers(result: SteResult) -> dict[str, float | int]:
    """The digits section's numbers: pre-training, held-out margins, 1 bit, flattening."""
    cfg, digits_run, widths = result.cfg, result.digits, _paper_bits(result)
    numbers: dict[str, float | int] = {
        "pretrain_loss": float(np.median(digits_run.pretrain["train_loss"][:, -1])),
        "pretrain_accuracy": float(np.median(digits_run.pretrain["test_accuracy"][:, -1])),
        "heldout_margin": _accuracy_margin(result, widths),
        "heldout_margin_2": _accuracy_margin(result, [2]) if 2 in cfg.bits else float("nan"),
        "heldout_examples": DIGITS - cfg.n_train,
        "steps_per_epoch": cfg.n_train // cfg.batch_size,
    }
    if 1 in cfg.bits:
        for ste in S.STES:
            loss, heldout = (
                _final(result, 1, ste, "train_loss"),
                _final(result, 1, ste, "test_accuracy"),
            )
            numbers[f"binarized_loss_{ste}"] = float(np.median(loss))
            numbers[f"binarized_heldout_{ste}"] = float(np.median(heldout))
    flattening = [
        run["train_loss"][:, -1] / run["train_loss"][:, -4]
        for (b, ste), run in digits_run.quantized.items()
        if ste in REPELLED_STARTS and b in widths
    ]
    numbers["flattening"] = (
        float(np.median(np.concatenate(flattening))) if flattening else float("nan")
    )
    return numbers


def _repelled_numbers(result: SteResult) -> dict[str, float | int]:
    """The repelled section's numbers: shares, rises and cases of the continuations."""
    numbers: dict[str, float | int] = {
        "repelled_small": repelled_share(result, "small"),
        "repelled_relu_start": repelled_share(result, "training", start="relu"),
        "repelled_relu_start_small": repelled_share(result, "small", start="relu"),
        "repelled_rise": float(np.median(repelled_rises(result, "training"))),
        "repelled_rise_small": float(np.median(repelled_rises(result, "small"))),
        "repelled_cases": int(repelled_cases(result, "training").size),
    }
    for bits in _paper_bits(result):
        rises = repelled_rises(result, "training", bits=[bits])
        numbers[f"repelled_rose_{bits}"] = int((rises > 1).sum())
    numbers["digit_seeds"] = len(result.digits.seeds)
    return numbers


def _settings(cfg: Config) -> dict[str, float | int]:
    """The run's sizes and steps, and the bounds the prose quotes."""
    return {
        "step": cfg.step,
        "batch": cfg.batch,
        "starts": cfg.starts,
        "norm_floor": cfg.norm_floor,
        "minimum_offset": cfg.minimum_offset,
        "minimum_steps": cfg.minimum_steps,
        "ratio_paths": cfg.ratio_paths,
        "width": cfg.width,
        "pretrain_epochs": cfg.pretrain_epochs,
        "epochs": cfg.epochs,
        "continue_epochs": cfg.continue_epochs,
        "learning_rate": cfg.learning_rate,
        "small_learning_rate": cfg.small_learning_rate,
        "mc_z_bound": MC_Z_BOUND,
        "repelled_bound": REPELLED_SHARE,
    }


def _train_accuracy(result: SteResult) -> float:
    """The lowest median final training accuracy over the paper's bit widths and the STEs."""
    accuracies = [
        float(np.median(_final(result, bits, ste, "train_accuracy")))
        for bits in _paper_bits(result)
        for ste in S.STES
    ]
    return min(accuracies) if accuracies else math.nan


def prose_numbers(result: SteResult) -> dict[str, float | int]:
    """Every number the chapter's prose quotes, by glue name (without the chapter prefix)."""
    violation, kept = teacher_odds(result.cfg.hidden)
    numbers: dict[str, float | int] = {
        "hidden": result.cfg.hidden,
        "teacher_violation": violation,
        "teacher_kept": kept,
        "min_mc_points": MIN_MC_POINTS,
        "min_mc_samples": MIN_MC_SAMPLES,
        "min_correlation_points": MIN_CORRELATION_POINTS,
        "train_accuracy": _train_accuracy(result),
    }
    return numbers | _settings(result.cfg) | _digits_numbers(result) | _repelled_numbers(result)
