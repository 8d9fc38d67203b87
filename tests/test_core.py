"""Core pieces: profiles, seeding, devices, atomic writes and the training loop."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pytest
import torch
from torch import nn

from trainingdynamics import fileio
from trainingdynamics.device import resolve_device, resolve_dtype
from trainingdynamics.profiles import ParameterError, require_positive, resolve
from trainingdynamics.seeding import seed_everything
from trainingdynamics.training import DivergenceError, every, log_spaced_steps, train


@dataclass(frozen=True)
class Knobs:
    width: int = 4
    lr: float = 0.1
    widths: tuple[int, ...] = (2, 3)
    loss: Literal["mse", "ce"] = "mse"
    bias: bool = True

    def __post_init__(self) -> None:
        require_positive(self, "width", "lr", "widths")


PROFILES = {"quick": Knobs(), "full": Knobs(width=16)}


def test_resolve_applies_and_coerces_overrides() -> None:
    cfg = resolve(PROFILES, "full", lr=1, widths=[5, 6], width=None)
    assert cfg == Knobs(width=16, lr=1.0, widths=(5, 6))
    assert isinstance(cfg.lr, float)


@pytest.mark.parametrize(
    ("profile", "overrides", "message"),
    [
        ("bogus", {}, "unknown profile 'bogus'; choose one of: quick, full"),
        ("quick", {"depth": 3}, "unknown parameter"),
        ("quick", {"width": 2.5}, "must be an integer"),
        ("quick", {"width": True}, "must be an integer"),
        ("quick", {"lr": "fast"}, "must be a number"),
        ("quick", {"width": -1}, "must be positive"),
        ("quick", {"widths": [3, 0]}, "must be positive"),
        ("quick", {"loss": "hinge"}, "must be one of"),
        ("quick", {"bias": 1}, "true or false"),
    ],
)
def test_resolve_rejects_bad_input_with_one_line(profile, overrides, message) -> None:
    with pytest.raises(ParameterError, match=message) as info:
        resolve(PROFILES, profile, **overrides)
    assert "\n" not in str(info.value)


def test_seed_everything_makes_draws_repeatable() -> None:
    first = (seed_everything(3).standard_normal(4), torch.rand(3), np.random.rand(2))
    second = (seed_everything(3).standard_normal(4), torch.rand(3), np.random.rand(2))
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ValueError):
        seed_everything(-1)


def test_devices_and_dtypes() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ParameterError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="CUDA is not available"):
            resolve_device("cuda")
    assert resolve_dtype("float64") is torch.float64
    with pytest.raises(ParameterError):
        resolve_dtype("float16")


def test_atomic_write_gives_the_usual_permissions(tmp_path) -> None:
    target = tmp_path / "out.json"
    fileio.atomic_write_text(target, "text")
    assert target.stat().st_mode & 0o777 == 0o666 & ~fileio.current_umask()


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch) -> None:
    target = tmp_path / "out.json"
    fileio.atomic_write_text(target, "old")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fileio.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def linear_problem(n: int = 32, d: int = 3) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    X = torch.randn(n, d, dtype=torch.float64)
    y = X @ torch.ones(d, dtype=torch.float64)
    return nn.Linear(d, 1, bias=False).double(), X, y


def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.mean((out[:, 0] - y) ** 2)


def test_full_batch_gd_matches_the_closed_form_update() -> None:
    model, X, y = linear_problem()
    w0 = model.weight.detach().clone()[0]
    lr = 0.05
    train(model, mse, X, y, optimizer=torch.optim.SGD(model.parameters(), lr=lr), steps=1)
    expected = w0 - lr * 2 * X.T @ (X @ w0 - y) / len(X)
    torch.testing.assert_close(model.weight.detach()[0], expected, rtol=1e-12, atol=1e-12)


def test_minibatches_cover_each_epoch_once() -> None:
    model, X, y = linear_problem(n=12)
    seen: list[int] = []
    model.register_forward_hook(lambda m, inputs, out: seen.extend(inputs[0][:, 0].tolist()))
    train(
        model,
        mse,
        X,
        y,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
        steps=3,
        batch_size=4,
    )
    assert sorted(seen) == sorted(X[:, 0].tolist())


def test_callbacks_see_the_step_and_can_stop_training() -> None:
    model, X, y = linear_problem()
    steps_seen: list[int] = []

    def stop_at_five(state) -> bool:
        steps_seen.append(state.step)
        state.history.log(state.step, grad_norm=float(state.model.weight.grad.norm()))
        return state.step == 5

    history = train(
        model,
        mse,
        X,
        y,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
        steps=50,
        callbacks=[every(1, stop_at_five)],
    )
    assert steps_seen == list(range(6))
    assert list(history.steps("grad_norm")) == list(range(6))
    assert (history.values("grad_norm") > 0).all()


def test_divergence_names_the_step() -> None:
    model, X, y = linear_problem()
    with pytest.raises(DivergenceError, match=r"at step \d+"):
        train(model, mse, X, y, optimizer=torch.optim.SGD(model.parameters(), lr=50.0), steps=2000)


def test_divergence_can_be_recorded_instead() -> None:
    model, X, y = linear_problem()
    history = train(
        model,
        mse,
        X,
        y,
        optimizer=torch.optim.SGD(model.parameters(), lr=50.0),
        steps=2000,
        stop_on_divergence=False,
    )
    assert history.diverged_at is not None and history.diverged_at < 2000
    assert len(history.values("loss")) == history.diverged_at


def test_log_spaced_steps() -> None:
    grid = log_spaced_steps(10_000, 50)
    assert grid[0] == 0 and grid[-1] == 10_000
    assert np.all(np.diff(grid) > 0)


def test_child_streams_are_repeatable_and_distinct() -> None:
    from trainingdynamics.seeding import child_rng, child_seed

    assert np.array_equal(child_rng(1, "data", 3).random(5), child_rng(1, "data", 3).random(5))
    draws = [child_rng(1, *key).random(5) for key in [("data", 3), ("data", 4), ("init", 3), (0,)]]
    assert len({d.tobytes() for d in draws}) == len(draws)
    assert not np.array_equal(child_rng(1, "data").random(5), np.random.default_rng(1).random(5))
    assert child_seed(2, "torch") == child_seed(2, "torch") != child_seed(3, "torch")


def test_fit_exponential_recovers_factor_and_flags_bad_fits() -> None:
    from trainingdynamics.diagnostics.rates import fit_exponential

    k = np.arange(50)
    exact = fit_exponential(k, 3.0 * 0.9**k)
    assert exact.factor == pytest.approx(0.9, rel=1e-12) and exact.r_squared == pytest.approx(1.0)
    noisy = fit_exponential(k, 1.0 + np.random.default_rng(0).random(50))
    assert noisy.r_squared < 0.5
    with pytest.raises(ValueError):
        fit_exponential(k[:3], np.array([1.0, 0.0, 1.0]))


def test_torch_seeded_repeats_draws_and_restores_the_global_state() -> None:
    from trainingdynamics.seeding import torch_seeded

    torch.manual_seed(0)
    expected_next = torch.rand(3)
    torch.manual_seed(0)
    with torch_seeded(5, "init"):
        first = torch.rand(4)
    with torch_seeded(5, "init"):
        second = torch.rand(4)
    with torch_seeded(5, "other"):
        other = torch.rand(4)
    assert torch.equal(first, second) and not torch.equal(first, other)
    assert torch.equal(torch.rand(3), expected_next)
