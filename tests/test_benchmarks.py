"""The benchmarks: their math against exact references, the peers' wrappers, targets, and a --quick
smoke run.

Nothing here asserts a timing: benchmarks measure, tests check that what is measured is right.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bench import main, peers
from bench.book_cost import chapter_times, totals
from bench.config import config
from bench.costs import CHUNKED, UNCHUNKED
from bench.covariance import (
    DENSE_GRAM,
    IMPLICIT_GRAM,
    LAYERED_GRAM,
    OURS_GRADIENTS,
)
from bench.hessian import (
    CURVLINOPS,
    EIGENTHINGS,
    OURS,
    PEERS,
    PYHESSIAN,
    reference_eigenvalues,
    relative_errors,
)
from bench.problems import LOSS, Problem
from bench.report import table, target_tally
from bench.targets import (
    book_targets,
    chunked_targets,
    covariance_targets,
    density_targets,
    eigen_target,
    fastest_accurate,
    trace_targets,
)
from bench.timing import measure
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


def test_relative_errors_compare_the_ith_largest() -> None:
    errors = relative_errors(np.array([1.0, 4.0]), np.array([4.0, 2.0, 1.0]))
    np.testing.assert_allclose(errors, [0.0, 0.5])


def test_reference_eigenvalues_match_a_dense_eigensolver() -> None:
    problem = tiny_problem()
    dense = spectra.dense_hessian(problem.model, LOSS, problem.X, problem.y)
    exact = torch.linalg.eigvalsh(dense).flip(0)[:4].numpy()
    reference = reference_eigenvalues(problem, 4)
    np.testing.assert_allclose(reference.values, exact, rtol=1e-8)
    assert reference.max_relative_residual < 1e-8


def test_covariance_targets_add_the_shared_spectrum_stage() -> None:
    """Each pipeline costs its gradient stage plus the same spectrum stage: (4 + 1) / (0.5 + 1) =
    3.33 vs the loop."""
    seconds = {
        ("gradients", OURS_GRADIENTS): 0.5,
        ("gradients", "per-example loop"): 4.0,
        ("gradients", "BackPACK BatchGrad"): 0.25,
        ("spectrum", DENSE_GRAM): 1.0,
        ("spectrum", IMPLICIT_GRAM): 0.1,
    }
    rows = [
        {"model": "m", "n": 8, "stage": stage, "method": method, "seconds": s}
        for (stage, method), s in seconds.items()
    ]
    found = {(t["method"], t["target"]): t for t in covariance_targets(rows)}
    dense_loop = found[
        f"{OURS_GRADIENTS} + {DENSE_GRAM}", "gradient-covariance top eigenvalue vs per-example loop"
    ]
    assert dense_loop["ratio"] == pytest.approx(5.0 / 1.5) and not dense_loop["met"]
    implicit_loop = found[
        f"{OURS_GRADIENTS} + {IMPLICIT_GRAM}",
        "gradient-covariance top eigenvalue vs per-example loop",
    ]
    assert implicit_loop["ratio"] == pytest.approx(4.1 / 0.6) and implicit_loop["met"]
    implicit_backpack = found[
        f"{OURS_GRADIENTS} + {IMPLICIT_GRAM}",
        "gradient-covariance top eigenvalue vs BackPACK BatchGrad",
    ]
    assert implicit_backpack["ratio"] == pytest.approx(0.35 / 0.6) and not implicit_backpack["met"]
    assert not any(method == LAYERED_GRAM for method, _ in found)  # not measured: no target


def test_the_layered_gram_is_compared_with_each_peer_followed_by_its_faster_route() -> None:
    seconds = {
        ("gradients", OURS_GRADIENTS): 0.5,
        ("gradients", "per-example loop"): 4.0,
        ("gradients", "BackPACK BatchGrad"): 0.25,
        ("spectrum", DENSE_GRAM): 1.0,
        ("spectrum", IMPLICIT_GRAM): 0.1,
        ("both", LAYERED_GRAM): 0.05,
    }
    rows = [
        {"model": "m", "n": 8, "stage": stage, "method": method, "seconds": s}
        for (stage, method), s in seconds.items()
    ]
    found = {(t["method"], t["target"]): t for t in covariance_targets(rows)}
    loop = found[LAYERED_GRAM, "gradient-covariance top eigenvalue vs per-example loop"]
    assert (
        loop["ratio"] == pytest.approx(4.1 / 0.05) and loop["met"] and IMPLICIT_GRAM in loop["note"]
    )
    assert found[LAYERED_GRAM, "gradient-covariance top eigenvalue vs BackPACK BatchGrad"][
        "ratio"
    ] == pytest.approx(0.35 / 0.05)


def test_measure_runs_round_robin_until_the_count_or_the_budget() -> None:
    order = []

    def method(name: str) -> tuple:
        return (lambda: name, lambda state: order.append(state) or state * 2)

    timed = measure({"a": method("a"), "b": method("b")}, repeats=3, budget_s=1e9)
    assert order == ["a", "b"] * 3
    assert {name: (len(t.seconds), t.result) for name, t in timed.items()} == {
        "a": (3, "aa"),
        "b": (3, "bb"),
    }
    assert {
        name: len(t.seconds)
        for name, t in measure({"a": method("a")}, repeats=3, budget_s=0.0).items()
    } == {"a": 1}


def test_settle_waits_for_the_load_average_and_gives_up_at_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench import timing

    averages = iter([3.0, 2.0, 1.0, 9.0])
    monkeypatch.setattr(timing, "load", lambda: next(averages))
    timing.settle(1.5, poll_s=0.0)
    assert next(averages) == 9.0  # polled until 1.0, no further
    monkeypatch.setattr(timing, "load", lambda: 9.0)
    assert timing.settle(1.5, limit_s=0.0, poll_s=0.0) == pytest.approx(0.0, abs=0.1)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ParameterError, match="probes"):
        config("full", probes=0)
    with pytest.raises(ParameterError, match="unknown model"):
        config("full", models=("resnet",))


def eigen_row(method: str, seconds: float, error: float, setting: str = "s") -> dict:
    """A result row as ``eigen_rows`` writes it, with only what the targets read."""
    return {
        "model": "m",
        "n": 8,
        "k": 1,
        "method": method,
        "setting": setting,
        "seconds": seconds,
        "n_hvp": 4,
        "max_rel_error": error,
    }


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


def test_the_peer_is_the_fastest_one_at_the_accuracy() -> None:
    """curvlinops gets there in 4 s, hessian-eigenthings in 2.5 s, PyHessian never: 2.5 / 1."""
    rows = [
        eigen_row(CURVLINOPS, 4.0, 1e-8, "default"),
        eigen_row(EIGENTHINGS, 0.1, 0.7, "default"),
        eigen_row(EIGENTHINGS, 2.5, 1e-5),
        eigen_row(PYHESSIAN, 0.5, 1e-2, "default"),
        eigen_row(OURS, 1.0, 1e-6),
    ]
    target = eigen_target(rows, OURS, 1e-4, 2.0, "top-k")
    assert (target["ratio"], target["met"]) == (2.5, True)
    assert target["peer"].startswith(EIGENTHINGS)


def test_targets_fall_back_to_pyhessians_default_and_say_so() -> None:
    rows = [
        eigen_row(PYHESSIAN, 1.0, 1e-2, "default"),
        eigen_row(PYHESSIAN, 3.0, 1e-3),
        eigen_row(OURS, 2.0, 1e-6),
    ]
    target = eigen_target(rows, OURS, 1e-4, 3.0, "top-1")
    assert target["ratio"] == 0.5 and not target["met"]
    assert "did not reach" in target["note"] and "default" in target["note"]


def test_chapter_times_read_the_runner_records(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.book.mkdir()
    (layout.build / "claims").mkdir(parents=True)
    for chapter in ("quickstart", "plateaus"):
        layout.source(chapter).write_text("{}")
    layout.claims("quickstart").write_text(
        json.dumps({"run": {"parameters": {"profile": "full"}, "seconds": 12.5}})
    )
    rows = chapter_times(layout)
    assert rows == [
        {"chapter": "quickstart", "quick": None, "full": 12.5},
        {"chapter": "plateaus", "quick": None, "full": None},
    ]
    assert totals(rows) == {"quick": None, "full": None}
    assert totals(rows[:1]) == {"quick": None, "full": 12.5}


def test_book_targets_add_the_html_build_and_need_a_fresh_book() -> None:
    """Whole book = chapters' recorded times + the timed unchanged rebuild; a stale chapter leaves
    both unmeasured."""
    whole, rebuild = book_targets(
        {"totals": {"full": 400.0}, "rebuild": {"chapters": 7, "fresh": 7, "seconds": 6.0}}
    )
    assert (whole["seconds"], whole["met"], rebuild["seconds"], rebuild["met"]) == (
        406.0,
        True,
        6.0,
        True,
    )
    whole, rebuild = book_targets(
        {"totals": {"full": 400.0}, "rebuild": {"chapters": 7, "fresh": 5}}
    )
    assert whole["met"] is None and rebuild["met"] is None and "5 of 7" in rebuild["note"]


def test_the_tally_counts_a_target_met_by_any_of_our_methods_once() -> None:
    rows = [
        {"target": "t", "case": "a", "met": False},
        {"target": "t", "case": "a", "met": True},
        {"target": "t", "case": "b", "met": False},
    ]
    assert "meets 1 of 2 speed targets (1 of the 3 method-by-method rows" in target_tally(rows)


def test_markdown_table() -> None:
    assert table(["a", "b"], [[1, "x"]]) == "| a | b |\n|---|---|\n| 1 | x |"


def test_a_missing_peer_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(
        sys.modules, "pyhessian", None
    )  # makes `import pyhessian` raise ImportError
    with pytest.raises(peers.MissingPeerError, match="--no-deps"):
        peers.peer("pyhessian")
    assert main(["--quick", "--root", str(REPO), "--out", "/nonexistent"]) == 2
    assert peers.INSTALL_HINT in capsys.readouterr().err


def test_pyhessian_wrapper_counts_hvps_and_releases_the_graph() -> None:
    pytest.importorskip("pyhessian")
    problem = tiny_problem(torch.float32)
    model = problem.copy().model
    torch.manual_seed(0)
    found = peers.pyhessian_eigenvalues(
        model, LOSS, problem.X, problem.y, k=2, tol=0.0, max_iter=7
    )  # tol 0: never stops early
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
    assert {
        "machine",
        "versions",
        "eigenvalues",
        "trace",
        "covariance",
        "book",
        "targets",
        "contended",
    } <= set(results)
    assert {r["method"] for r in results["eigenvalues"]} == {OURS, *PEERS}
    assert {"products", "trace_accuracy", "density"} <= set(results)
    assert {t["target"] for t in results["targets"]["quality"]} >= {
        "chunked HVP / unchunked HVP",
        "Hutch++ error / Hutchinson error",
    }
    assert all(r["max_rel_error"] < 1e-3 for r in results["eigenvalues"] if r["method"] == OURS)
    page = (book / "performance.md").read_text()
    assert page.startswith("# Performance") and "images/performance-eigenvalues.png" in page
    assert (book / "images" / "performance-eigenvalues.png").is_file()
    assert (book / "images" / "performance-covariance.png").is_file()
    assert main(["--render-only", "--root", str(REPO), "--out", str(out), "--book", str(book)]) == 0
    assert (book / "performance.md").read_text() == page


def test_the_quality_targets_compare_with_their_thresholds() -> None:
    products = [
        {"model": "m", "n": 8, "method": UNCHUNKED, "ms_per_product": 2.0},
        {"model": "m", "n": 8, "method": CHUNKED, "ms_per_product": 2.3},
    ]
    (chunked,) = chunked_targets(products)
    assert chunked["value"] == pytest.approx(1.15) and chunked["met"]
    trace = [
        {"model": "m", "n": 8, "method": m, "rms_rel_error": e, "seeds": 3, "matvecs": 99}
        for m, e in (("Hutchinson", 0.1), ("Hutch++", 0.06))
    ]
    (hutchpp,) = trace_targets(trace)
    assert hutchpp["value"] == pytest.approx(0.6) and not hutchpp["met"]
    density = {
        "model": "m",
        "n": 8,
        "params": 10,
        "matrix": "hessian",
        "probes": 2,
        "steps": 3,
        "sigma_fraction": 0.02,
        "moment1_rel_error": 0.0,
        "moment2_rel_error": 0.0,
    }
    met, missed = density_targets([density | {"l1_distance": 0.05}, density | {"l1_distance": 0.2}])
    assert met["met"] and not missed["met"]


def test_curvlinops_and_hessian_eigenthings_wrappers_match_a_dense_eigensolver() -> None:
    pytest.importorskip("curvlinops")
    pytest.importorskip("hessian_eigenthings")
    problem = tiny_problem()
    dense = spectra.dense_hessian(problem.model, LOSS, problem.X, problem.y)
    exact = torch.linalg.eigvalsh(dense).flip(0)[:2].numpy()
    args = (problem.model, LOSS, problem.X, problem.y)
    found = peers.curvlinops_eigenvalues(*args, k=2, tol=0.0, seed=0)
    np.testing.assert_allclose(found.values, exact, rtol=1e-8)
    assert found.n_hvp >= 2
    # 40 steps: it reorthogonalises only up to 50 (beyond, ghost copies of λ₁ appear)
    lanczos = peers.hessian_eigenthings_eigenvalues(*args, k=2, max_iter=40, seed=0)
    np.testing.assert_allclose(lanczos.values, exact, rtol=1e-6)
    assert lanczos.n_hvp == 40
