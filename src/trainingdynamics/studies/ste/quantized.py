"""Digits: a stack of quantized MLPs trained side by side (one batched matrix product per layer)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from trainingdynamics.algorithms import ste as S
from trainingdynamics.data import digits, split
from trainingdynamics.seeding import child_seed

from .config import Config

STE_BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "identity": (None, None),
    "relu": (0.0, None),
    "clipped_relu": (0.0, 1.0),
}
# the quantized ReLU's top level (2ᵇ − 1)α; for b = 1 the activation is 2·1{x > 0}
ACTIVATION_RANGE = 2.0


class StackedQuantizedReLU(torch.autograd.Function):
    """b-bit quantized ReLU of a stack of K models with per-model resolution α_k and top level n_k =
    2ᵇ − 1.

    Backward: the STE of each model as a band 1{lo_k < x < hi_k}: identity (−∞, ∞), ReLU (0, ∞),
    clipped ReLU (0, n_k α_k). Shapes: x (K, B, width); α, top, lo, hi (K, 1, 1).
    """

    @staticmethod
    def forward(ctx, x, resolution, top, lo, hi):
        ctx.save_for_backward(x, lo, hi)
        return resolution * torch.minimum(torch.clamp(torch.ceil(x / resolution), min=0.0), top)

    @staticmethod
    def backward(ctx, grad_output):
        x, lo, hi = ctx.saved_tensors
        return grad_output * ((x > lo) & (x < hi)), None, None, None, None


@dataclass
class ModelStack:
    """K MLPs 64 → width → width → 10 as stacked tensors; BatchNorm without scale and shift (as the
    paper's).
    """

    weights: list[torch.Tensor]  # (K, fan_in, fan_out)
    biases: list[torch.Tensor]  # (K, 1, fan_out)
    running_mean: list[torch.Tensor]  # (K, 1, width), one per hidden layer
    running_var: list[torch.Tensor]

    @property
    def size(self) -> int:
        return self.weights[0].shape[0]

    def parameters(self) -> list[torch.Tensor]:
        return [*self.weights, *self.biases]

    def select(self, index: list[int]) -> ModelStack:
        """A new stack holding copies of the models ``index`` (repeats allowed)."""
        pick = torch.as_tensor(index)
        return ModelStack(
            *[
                [t[pick].clone() for t in group]
                for group in (self.weights, self.biases, self.running_mean, self.running_var)
            ]
        )


def init_stack(cfg: Config, seeds: list[int]) -> ModelStack:
    """One model per seed, each layer U(−1/√fan_in, 1/√fan_in) as ``nn.Linear``, from its own named
    stream.
    """
    sizes = [(64, cfg.width), (cfg.width, cfg.width), (cfg.width, 10)]
    weights, biases = [], []
    for layer, (fan_in, fan_out) in enumerate(sizes):
        bound = 1.0 / math.sqrt(fan_in)
        draws = [
            torch.rand(
                fan_in + 1,
                fan_out,
                generator=torch.Generator().manual_seed(child_seed(s, "init", layer)),
            )
            for s in seeds
        ]
        stacked = (2.0 * torch.stack(draws) - 1.0) * bound
        weights.append(stacked[:, :fan_in].contiguous())
        biases.append(stacked[:, fan_in:].contiguous())
    hidden = [torch.zeros(len(seeds), 1, cfg.width) for _ in range(2)]
    return ModelStack(weights, biases, hidden, [torch.ones_like(h) for h in hidden])


@dataclass(frozen=True)
class StackSpec:
    """Per-model activation settings of a stack: quantization (None: full-precision ReLU) and STE
    bands.
    """

    resolution: torch.Tensor | None
    top: torch.Tensor | None
    lo: torch.Tensor | None
    hi: torch.Tensor | None

    @classmethod
    def full_precision(cls) -> StackSpec:
        return cls(None, None, None, None)

    @classmethod
    def quantized(cls, bits: list[int], stes: list[str]) -> StackSpec:
        levels = torch.tensor([2.0**b - 1 for b in bits]).view(-1, 1, 1)
        resolution = ACTIVATION_RANGE / levels
        inf = math.inf
        lo = torch.tensor(
            [STE_BOUNDS[s][0] if STE_BOUNDS[s][0] is not None else -inf for s in stes]
        ).view(-1, 1, 1)
        hi = torch.tensor([ACTIVATION_RANGE if s == "clipped_relu" else inf for s in stes]).view(
            -1, 1, 1
        )
        return cls(resolution, levels, lo, hi)


BN_EPS, BN_MOMENTUM = 1e-5, 0.1


def forward_stack(stack: ModelStack, spec: StackSpec, X: torch.Tensor, train: bool) -> torch.Tensor:
    """Logits (K, B, 10) of the stack on inputs X (K, B, 64); in training mode BatchNorm uses batch
    statistics and updates its running ones.
    """
    h = X
    for layer in range(2):
        h = torch.baddbmm(stack.biases[layer], h, stack.weights[layer])
        if train:
            mean, var = h.mean(dim=1, keepdim=True), h.var(dim=1, keepdim=True, unbiased=False)
            with torch.no_grad():
                n = h.shape[1]
                stack.running_mean[layer].mul_(1 - BN_MOMENTUM).add_(BN_MOMENTUM * mean)
                stack.running_var[layer].mul_(1 - BN_MOMENTUM).add_(BN_MOMENTUM * var * n / (n - 1))
        else:
            mean, var = stack.running_mean[layer], stack.running_var[layer]
        h = (h - mean) / torch.sqrt(var + BN_EPS)
        h = (
            torch.relu(h)
            if spec.resolution is None
            else StackedQuantizedReLU.apply(h, spec.resolution, spec.top, spec.lo, spec.hi)
        )
    return torch.baddbmm(stack.biases[2], h, stack.weights[2])


@dataclass(frozen=True)
class DigitsData:
    """Per-seed train/test splits, stacked: X_train (S, n_train, 64), y_train (S, n_train), X_test,
    y_test.
    """

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor


def _digits_data(cfg: Config, seeds: list[int]) -> DigitsData:
    """Each seed's split of scikit-learn's digits (pixel-standardised), from its child stream."""
    data = digits()
    splits = [split(data, cfg.n_train, seed=child_seed(s, "split")) for s in seeds]
    train, test = [t for t, _ in splits], [t for _, t in splits]
    return DigitsData(
        torch.stack([part.X for part in train]),
        torch.stack([part.y for part in train]),
        torch.stack([part.X for part in test]),
        torch.stack([part.y for part in test]),
    )


def _evaluate_stack(
    stack: ModelStack, spec: StackSpec, data: DigitsData, which: torch.Tensor
) -> dict[str, np.ndarray]:
    """Full training-set cross-entropy and accuracy, and held-out accuracy, per model (BatchNorm
    with running statistics).
    """
    with torch.no_grad():
        logits = forward_stack(stack, spec, data.X_train[which], train=False)
        labels = data.y_train[which]
        loss = nn.functional.cross_entropy(logits.transpose(1, 2), labels, reduction="none").mean(
            dim=1
        )
        train_acc = (logits.argmax(dim=2) == labels).float().mean(dim=1)
        test_acc = (
            (
                forward_stack(stack, spec, data.X_test[which], train=False).argmax(dim=2)
                == data.y_test[which]
            )
            .float()
            .mean(dim=1)
        )
    return {
        "train_loss": loss.numpy().astype(float),
        "train_accuracy": train_acc.numpy().astype(float),
        "test_accuracy": test_acc.numpy().astype(float),
    }


def _train_stack(
    cfg: Config,
    stack: ModelStack,
    spec: StackSpec,
    data: DigitsData,
    which: list[int],
    batch_seeds: list[int],
    learning_rates: list[float],
    epochs: int,
) -> dict[str, np.ndarray]:
    """SGD with momentum 0.9 (fresh buffers) on every model of the stack at once, in place; returns
    per-epoch metrics (K, epochs + 1).

    Model k trains on split ``which[k]`` with mini-batch order from ``batch_seeds[k]`` (a fresh
    permutation per epoch) and learning rate ``learning_rates[k]``; the loss is each model's mean
    cross-entropy, summed over models.
    """
    K, n = stack.size, cfg.n_train
    index = torch.as_tensor(which)
    X, y = data.X_train[index], data.y_train[index]
    lr = torch.tensor(learning_rates, dtype=torch.float32)
    params = stack.parameters()
    for p in params:
        p.requires_grad_(True)
    buffers = [torch.zeros_like(p) for p in params]
    rngs = [np.random.default_rng(s) for s in batch_seeds]
    rows = torch.arange(K)[:, None]
    steps = n // cfg.batch_size
    log = [_evaluate_stack(stack, spec, data, index)]
    for _ in range(epochs):
        order = torch.as_tensor(np.stack([rng.permutation(n) for rng in rngs]))
        for step in range(steps):
            batch = order[:, step * cfg.batch_size : (step + 1) * cfg.batch_size]
            logits = forward_stack(stack, spec, X[rows, batch], train=True)
            loss = (
                nn.functional.cross_entropy(
                    logits.transpose(1, 2), y[rows, batch], reduction="none"
                )
                .mean(dim=1)
                .sum()
            )
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, g, buf in zip(params, grads, buffers, strict=True):
                    buf.mul_(0.9).add_(g)
                    p.sub_(lr.view(-1, *[1] * (p.dim() - 1)) * buf)
        log.append(_evaluate_stack(stack, spec, data, index))
    for p in params:
        p.requires_grad_(False)
    return {key: np.stack([entry[key] for entry in log], axis=1) for key in log[0]}


# the paper's two improved minima (§4.2)
REPELLED_STARTS: tuple[S.STE, ...] = ("clipped_relu", "relu")
LEARNING_RATE_KINDS = ("training", "small")


@dataclass
class DigitsResult:
    """Per-epoch metrics (seeds × epochs + 1) of the three phases: full-precision pre-training,
    quantized training, continuation.
    """

    seeds: list[int]
    pretrain: dict[str, np.ndarray]
    quantized: dict[tuple[int, str], dict[str, np.ndarray]]
    repelled: dict[tuple[int, str, str, str], dict[str, np.ndarray]]


def _unstack(
    log: dict[str, np.ndarray], keys: list[tuple], seeds: int
) -> dict[tuple, dict[str, np.ndarray]]:
    """Split a stack's metrics (models ordered key-major, seed-minor) into one (seeds × epochs)
    block per key.
    """
    return {
        key: {name: values[i * seeds : (i + 1) * seeds] for name, values in log.items()}
        for i, key in enumerate(keys)
    }


def run_digits(cfg: Config, seed: int = 0) -> DigitsResult:
    """Pre-train full-precision MLPs, train them quantized with each STE, then continue from the
    ReLU-type minima with each STE.

    Phase 1 starts every (bits, STE) from its seed's pre-trained weights (the paper's protocol);
    phase 2 starts from phase 1's clipped-ReLU and ReLU end points with fresh momentum, at the
    training and at the small learning rate. Within a phase the models of one seed share its split
    and mini-batch order (common random numbers).
    """
    seeds = _digit_seeds(cfg, seed)
    count = len(seeds)
    data = _digits_data(cfg, seeds)
    pre = init_stack(cfg, seeds)
    pre_log = _train_stack(
        cfg,
        pre,
        StackSpec.full_precision(),
        data,
        list(range(count)),
        [child_seed(s, "batches", "pretrain") for s in seeds],
        [cfg.learning_rate] * count,
        cfg.pretrain_epochs,
    )
    keys1 = [(bits, ste) for bits in cfg.bits for ste in S.STES]
    models1 = [(b, ste, k) for b, ste in keys1 for k in range(count)]
    stack1 = pre.select([k for _, _, k in models1])
    spec1 = StackSpec.quantized([b for b, _, _ in models1], [ste for _, ste, _ in models1])
    log1 = _train_stack(
        cfg,
        stack1,
        spec1,
        data,
        [k for *_, k in models1],
        [child_seed(seeds[k], "batches", "quantized") for *_, k in models1],
        [cfg.learning_rate] * len(models1),
        cfg.epochs,
    )
    keys2 = [
        (bits, start, ste, kind)
        for bits in cfg.bits
        for start in REPELLED_STARTS
        for ste in S.STES
        for kind in LEARNING_RATE_KINDS
    ]
    models2 = [(*key, k) for key in keys2 for k in range(count)]
    stack2 = stack1.select([keys1.index((b, start)) * count + k for b, start, _, _, k in models2])
    spec2 = StackSpec.quantized([m[0] for m in models2], [m[2] for m in models2])
    rates = {"training": cfg.learning_rate, "small": cfg.small_learning_rate}
    log2 = _train_stack(
        cfg,
        stack2,
        spec2,
        data,
        [m[-1] for m in models2],
        [child_seed(seeds[m[-1]], "batches", "continue") for m in models2],
        [rates[m[3]] for m in models2],
        cfg.continue_epochs,
    )
    return DigitsResult(seeds, pre_log, _unstack(log1, keys1, count), _unstack(log2, keys2, count))


def _digit_seeds(cfg: Config, seed: int) -> list[int]:
    """The digits runs' seeds: one named child seed per run
    (:func:`trainingdynamics.seeding.child_seed`).
    """
    return [child_seed(seed, "digits", k) for k in range(cfg.digit_seeds)]
