"""The experiment: every grid of SGD runs, the edge-of-stability runs and the exactness check."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from trainingdynamics.data import Dataset, one_hot
from trainingdynamics.device import resolve_device
from trainingdynamics.diagnostics import spectra, stability
from trainingdynamics.models.digits import cnn
from trainingdynamics.seeding import child_seed, seed_everything, torch_seeded
from trainingdynamics.studies.break_even.config import Config
from trainingdynamics.studies.break_even.edge import EdgeOfStability, edge_of_stability_run
from trainingdynamics.studies.break_even.problem import load_data, squared_loss
from trainingdynamics.studies.break_even.sgd import SGDRun, sgd_trajectory


def exactness_error(seed: int) -> float:
    """Largest relative error of HVPs, top-3 H and K eigenvalues, per-example gradients and
    curvatures against dense or looped float64 references.

    The tiny CNN's weights come from the stream ``"exactness-init"``, its data from
    ``"exactness-data"``.
    """
    generator = torch.Generator().manual_seed(child_seed(seed, "exactness-data"))
    with torch_seeded(seed, "exactness-init"):
        model = cnn((2, 3), n_classes=3).double()
    X = torch.randn(24, 1, 8, 8, generator=generator, dtype=torch.float64)
    Y = one_hot(torch.randint(0, 3, (24,), generator=generator), 3, torch.float64)
    H = spectra.dense_hessian(model, squared_loss, X, Y)
    v = torch.randn(len(H), generator=generator, dtype=torch.float64)
    G = spectra.looped_per_example_gradients(model, squared_loss, X, Y)
    centred = G - G.mean(dim=0)
    exact_k = torch.linalg.eigvalsh(centred.T @ centred / len(G)).flip(0)[:3]
    errors = [
        _relative_error(
            spectra.hessian_vector_product(model, squared_loss, X, Y, v, chunk_size=7), H @ v
        ),
        _relative_error(
            spectra.hessian_eigenvalues(model, squared_loss, X, Y, k=3, tol=1e-8).values,
            torch.linalg.eigvalsh(H).flip(0)[:3],
        ),
        _relative_error(spectra.per_example_gradients(model, squared_loss, X, Y, chunk_size=5), G),
        _relative_error(
            spectra.gradient_covariance_eigenvalues(model, squared_loss, X, Y, k=3).values, exact_k
        ),
        _relative_error(
            stability.directional_curvatures(model, squared_loss, X, Y, v / v.norm()),
            stability.looped_directional_curvatures(model, squared_loss, X, Y, v / v.norm()),
        ),
    ]
    return max(errors)


def _relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """max |value − reference| / max |reference|."""
    return float((value - reference).abs().max() / reference.abs().max())


@dataclass
class BreakEvenResult:
    """All runs of the chapter."""

    cfg: Config
    replicates: tuple[int, ...]
    runs: dict[tuple[float, int, bool, int], SGDRun]
    edge: list[EdgeOfStability]
    exactness: float
    seconds: float = field(default=0.0)

    def trajectories(
        self, *, lr: float | None = None, batch_size: int | None = None, batch_norm: bool = False
    ) -> list[SGDRun]:
        """The runs matching the given learning rate / batch size / normalisation, over seeds."""
        return [
            t
            for (r, b, bn, _), t in self.runs.items()
            if (lr is None or r == lr)
            and (batch_size is None or b == batch_size)
            and bn == batch_norm
        ]


def _run_grids(
    cfg: Config, data: Dataset, targets: torch.Tensor, seed: int
) -> dict[tuple[float, int, bool, int], SGDRun]:
    """The learning-rate grid, the batch-size grid and the BatchNorm learning-rate grid (shared runs
    done once), for each of ``cfg.seeds`` replicates.
    """
    wanted = (
        [(lr, cfg.batch_size, False) for lr in cfg.learning_rates]
        + [(cfg.batch_lr, b, False) for b in cfg.batch_sizes]
        + [(lr, cfg.batch_size, True) for lr in cfg.bn_learning_rates]
    )
    extremes = (min(cfg.learning_rates), max(cfg.learning_rates))
    runs = {}
    for replicate in range(cfg.seeds):
        for lr, b, bn in dict.fromkeys(wanted):
            runs[(lr, b, bn, replicate)] = sgd_trajectory(
                cfg,
                data,
                targets,
                lr=lr,
                batch_size=b,
                batch_norm=bn,
                seed=seed,
                replicate=replicate,
                density=replicate == 0 and not bn and b == cfg.batch_size and lr in extremes,
            )
    return runs


def run(cfg: Config, seed: int = 0, device: str | torch.device = "cpu") -> BreakEvenResult:
    """Every SGD trajectory, the edge-of-stability runs and the exactness check, from ``seed``."""
    began = time.perf_counter()
    seed_everything(seed)
    device = resolve_device(str(device))
    data, targets = load_data(cfg, seed, device)
    runs = _run_grids(cfg, data, targets, seed)
    eos_data, eos_targets = load_data(cfg, seed, device, standardise="pixel")
    edge = [
        edge_of_stability_run(cfg, eos_data, eos_targets, lr=lr, seed=seed)
        for lr in cfg.eos_learning_rates
    ]
    return BreakEvenResult(
        cfg, tuple(range(cfg.seeds)), runs, edge, exactness_error(seed), time.perf_counter() - began
    )
