"""The benchmarks: their math against exact references, the peers' wrappers, targets, and a --quick smoke run.

Nothing here asserts a timing: benchmarks measure, tests check that what is measured is right.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from trainingdynamics.benchmarks import main, peers
from trainingdynamics.benchmarks.book_cost import chapter_times, totals
from trainingdynamics.benchmarks.config import config
from trainingdynamics.benchmarks.covariance import DENSE_GRAM, IMPLICIT_GRAM, OURS_GRADIENTS, implicit_gram_spectrum
from trainingdynamics.benchmarks.hessian import (
    OURS,
    PYHESSIAN,
    cached_hvp_operator,
    hutchinson_trace,
    mean_and_stderr,
    reference_eigenvalues,
    relative_errors,
)
from trainingdynamics.benchmarks.problems import LOSS, Problem
from trainingdynamics.benchmarks.report import table
from trainingdynamics.benchmarks.targets import covariance_targets, eigen_target, fastest_accurate
from trainingdynamics.benchmarks.timing import measure
from trainingdynamics.diagnostics import spectra
from trainingdynamics.models.digits import mlp
from trainingdynamics.profiles import ParameterError
from trainingdynamics.runner import Layout

REPO = Path(__file__).resolve().parents[1]


def tiny_problem(dtype: torch.dtype = torch.float64, n: int = 40, hidden: int = 5) -> Problem:
    """A small random MLP on random inputs: small enough for dense Hessians."""
    torch.manual_seed(0)
    model = mlp((8, hidden, 3)).to(dtype)
    return Problem("tiny", model, torch.randn(n, 8, dtype=dtype), torch.randint(0, 3, (n,)))


def symmetric_matrix(dim: int, seed: int = 0) -> torch.Tensor:
    """A random symmetric float64 matrix."""
    a = torch.randn(dim, dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (a + a.T) / 2


def test_hutchinson_is_exact_for_a_diagonal_matrix() -> None:
    """Rademacher probes have z_i² = 1, so zᵀDz = Tr D for every probe: zero spread."""
    d = torch.linspace(-1.0, 3.0, 17, dtype=torch.float64)
    estimate = hutchinson_trace(lambda v: d * v, 17, 5, seed=1)
    assert estimate.n_hvp == 5
    np.testing.assert_allclose(estimate.values, float(d.sum()), rtol=1e-12)


def test_hutchinson_mean_and_stderr_match_the_theory() -> None:
    """E[zᵀAz] = Tr A within 4 standard errors, and Var[zᵀAz] = 2 Σ_{i≠j} A_ij² within 15%."""
    a = symmetric_matrix(30)
    probes = 4000
    estimate = hutchinson_trace(lambda v: a @ v, 30, probes, seed=3)
    mean, stderr = mean_and_stderr(estimate.values)
    assert abs(mean - float(torch.trace(a))) <= 4 * stderr
    variance = 2 * float((a**2).sum() - (torch.diagonal(a) ** 2).sum())
    assert stderr**2 * probes == pytest.approx(variance, rel=0.15)


def test_mean_and_stderr() -> None:
    """Samples 1 and 3: mean 2, sample standard deviation √2, standard error √2/√2 = 1."""
    assert mean_and_stderr(np.array([1.0, 3.0])) == pytest.approx((2.0, 1.0))
    assert math.isnan(mean_and_stderr(np.array([4.0]))[1])


def test_relative_errors_compare_the_ith_largest() -> None:
    errors = relative_errors(np.array([1.0, 4.0]), np.array([4.0, 2.0, 1.0]))
    np.testing.assert_allclose(errors, [0.0, 0.5])


def test_cached_hvp_matches_the_dense_hessian() -> None:
    problem = tiny_problem()
    dense = spectra.dense_hessian(problem.model, LOSS, problem.X, problem.y)
    matvec = cached_hvp_operator(problem.model, LOSS, problem.X, problem.y)
    for seed in range(3):
        v = torch.randn(problem.n_params, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        torch.testing.assert_close(matvec(v), dense @ v, rtol=1e-10, atol=1e-12)


def test_reference_eigenvalues_match_a_dense_eigensolver() -> None:
    problem = tiny_problem()
    dense = spectra.dense_hessian(problem.model, LOSS, problem.X, problem.y)
    exact = torch.linalg.eigvalsh(dense).flip(0)[:4].numpy()
    reference = reference_eigenvalues(problem, 4)
    np.testing.assert_allclose(reference.values, exact, rtol=1e-8)
    assert reference.max_relative_residual < 1e-8


@pytest.mark.parametrize("n, dim", [(12, 30), (30, 12)])
def test_implicit_gram_spectrum_matches_the_dense_covariance(n: int, dim: int) -> None:
    """Lanczos on v ↦ (1/n) G_c G_cᵀ v gives K's top eigenvalues and trace, whether n < P or n > P."""
    g = torch.randn(n, dim, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    centred = g - g.mean(dim=0)
    covariance = centred.T @ centred / n
    found = implicit_gram_spectrum(g, k=3)
    np.testing.assert_allclose(found.values.numpy(), torch.linalg.eigvalsh(covariance).flip(0)[:3].numpy(), rtol=1e-10)
    assert found.trace == pytest.approx(float(torch.trace(covariance)), rel=1e-12)


def test_covariance_targets_add_the_shared_spectrum_stage() -> None:
    """Each pipeline costs its gradient stage plus the same spectrum stage: (4 + 1) / (0.5 + 1) = 3.33 vs the loop."""
    seconds = {("gradients", OURS_GRADIENTS): 0.5, ("gradients", "per-example loop"): 4.0, ("gradients", "BackPACK BatchGrad"): 0.25,
               ("spectrum", DENSE_GRAM): 1.0, ("spectrum", IMPLICIT_GRAM): 0.1}
    rows = [{"model": "m", "n": 8, "stage": stage, "method": method, "seconds": s} for (stage, method), s in seconds.items()]
    found = {(t["method"], t["target"]): t for t in covariance_targets(rows)}
    dense_loop = found[f"{OURS_GRADIENTS} + {DENSE_GRAM}", "gradient-covariance top eigenvalue vs per-example loop"]
    assert dense_loop["ratio"] == pytest.approx(5.0 / 1.5) and not dense_loop["met"]
    implicit_loop = found[f"{OURS_GRADIENTS} + {IMPLICIT_GRAM}", "gradient-covariance top eigenvalue vs per-example loop"]
    assert implicit_loop["ratio"] == pytest.approx(4.1 / 0.6) and implicit_loop["met"]
    implicit_backpack = found[f"{OURS_GRADIENTS} + {IMPLICIT_GRAM}", "gradient-covariance top eigenvalue vs BackPACK BatchGrad"]
    assert implicit_backpack["ratio"] == pytest.approx(0.35 / 0.6) and not implicit_backpack["met"]


def test_measure_runs_round_robin_until_the_count_or_the_budget() -> None:
    order = []

    def method(name: str) -> tuple:
        return (lambda: name, lambda state: order.append(state) or state * 2)

    timed = measure({"a": method("a"), "b": method("b")}, repeats=3, budget_s=1e9)
    assert order == ["a", "b"] * 3
    assert {name: (len(t.seconds), t.result) for name, t in timed.items()} == {"a": (3, "aa"), "b": (3, "bb")}
    assert {name: len(t.seconds) for name, t in measure({"a": method("a")}, repeats=3, budget_s=0.0).items()} == {"a": 1}


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ParameterError, match="probes"):
        config("full", probes=0)
    with pytest.raises(ParameterError, match="unknown model"):
        config("full", models=("resnet",))


def eigen_row(method: str, seconds: float, error: float, setting: str = "s") -> dict:
    """A result row as ``eigen_rows`` writes it, with only what the targets read."""
    return {"model": "m", "n": 8, "k": 1, "method": method, "setting": setting, "seconds": seconds, "n_hvp": 4, "max_rel_error": error}


def test_targets_use_the_fastest_setting_that_reaches_the_accuracy() -> None:
    rows = [
        eigen_row(PYHESSIAN, 1.0, 1e-2, "default"),
        eigen_row(PYHESSIAN, 6.0, 5e-5),
        eigen_row(PYHESSIAN, 9.0, 1e-7),
        eigen_row(OURS, 0.5, 1e-3),
        eigen_row(OURS, 2.0, 1e-6),
    ]
    assert fastest_accurate(rows, OURS, 1e-4)["seconds"] == 2.0
    target = eigen_target(rows, OURS, 1e-4, 3.0, "top-1")
    assert (target["ratio"], target["met"], target["note"]) == (3.0, True, "")


def test_targets_fall_back_to_pyhessians_default_and_say_so() -> None:
    rows = [eigen_row(PYHESSIAN, 1.0, 1e-2, "default"), eigen_row(PYHESSIAN, 3.0, 1e-3), eigen_row(OURS, 2.0, 1e-6)]
    target = eigen_target(rows, OURS, 1e-4, 3.0, "top-1")
    assert target["ratio"] == 0.5 and not target["met"]
    assert "did not reach" in target["note"] and "default" in target["note"]


def test_chapter_times_read_the_runner_records(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.book.mkdir()
    (layout.build / "claims").mkdir(parents=True)
    for chapter in ("quickstart", "plateaus"):
        layout.source(chapter).write_text("{}")
    layout.claims("quickstart").write_text(json.dumps({"run": {"parameters": {"profile": "full"}, "seconds": 12.5}}))
    rows = chapter_times(layout)
    assert rows == [
        {"chapter": "quickstart", "quick": None, "full": 12.5},
        {"chapter": "plateaus", "quick": None, "full": None},
    ]
    assert totals(rows) == {"quick": None, "full": None}
    assert totals(rows[:1]) == {"quick": None, "full": 12.5}


def test_markdown_table() -> None:
    assert table(["a", "b"], [[1, "x"]]) == "| a | b |\n|---|---|\n| 1 | x |"


def test_a_missing_peer_names_the_install_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "pyhessian", None)  # makes `import pyhessian` raise ImportError
    with pytest.raises(peers.MissingPeerError, match="--no-deps"):
        peers.peer("pyhessian")
    assert main(["--quick", "--root", str(REPO), "--out", "/nonexistent"]) == 2
    assert peers.INSTALL_HINT in capsys.readouterr().err


def test_pyhessian_wrapper_counts_hvps_and_releases_the_graph() -> None:
    pytest.importorskip("pyhessian")
    problem = tiny_problem(torch.float32)
    model = problem.copy().model
    torch.manual_seed(0)
    found = peers.pyhessian_eigenvalues(model, LOSS, problem.X, problem.y, k=2, tol=0.0, max_iter=7)  # tol 0: never stops early
    assert found.n_hvp == 14 and len(found.values) == 2
    assert all(p.grad is None for p in model.parameters())


def test_backpack_gradients_and_trace_match_autograd() -> None:
    pytest.importorskip("backpack")
    problem = tiny_problem()
    grads = peers.backpack_per_example_gradients(problem.copy().model, LOSS, problem.X, problem.y)
    looped = spectra.looped_per_example_gradients(problem.model, LOSS, problem.X, problem.y)
    torch.testing.assert_close(grads, looped, rtol=1e-10, atol=1e-12)
    trace = peers.backpack_hessian_trace(problem.copy().model, LOSS, problem.X, problem.y)
    dense = spectra.dense_hessian(problem.model, LOSS, problem.X, problem.y)
    assert trace == pytest.approx(float(torch.trace(dense)), rel=1e-10)


def test_summed_loss_leaves_the_original_alone() -> None:
    loss = nn.CrossEntropyLoss()
    assert peers.summed(loss).reduction == "sum" and loss.reduction == "mean"


def test_quick_mode_writes_results_and_renders_the_page(tmp_path: Path) -> None:
    """Smoke test: --quick runs end to end; the page is a pure function of results.json."""
    pytest.importorskip("pyhessian")
    pytest.importorskip("backpack")
    out, book = tmp_path / "bench", tmp_path / "book"
    assert main(["--quick", "--root", str(REPO), "--out", str(out), "--book", str(book)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {"machine", "versions", "eigenvalues", "trace", "covariance", "book", "targets", "contended"} <= set(results)
    assert {r["method"] for r in results["eigenvalues"]} >= {OURS, PYHESSIAN}
    assert all(r["max_rel_error"] < 1e-3 for r in results["eigenvalues"] if r["method"] == OURS)
    page = (book / "performance.md").read_text()
    assert page.startswith("# Performance") and "images/performance-eigenvalues.png" in page
    assert (book / "images" / "performance-eigenvalues.png").is_file()
    assert (book / "images" / "performance-covariance.png").is_file()
    assert main(["--render-only", "--root", str(REPO), "--out", str(out), "--book", str(book)]) == 0
    assert (book / "performance.md").read_text() == page
