"""The spectra diagnostics against dense float64 references on tiny networks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainingdynamics.diagnostics import lanczos as lanczos_module
from trainingdynamics.diagnostics import spectra
from trainingdynamics.models.digits import cnn, mlp


@pytest.fixture(autouse=True)
def float64_default():
    """Dense references in float64; the default dtype is restored for other test modules."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def cross_entropy(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(out, target)


def squared(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((out - target) ** 2).sum(dim=1).mean()


def tiny_problem(kind: str = "mlp", n: int = 12, seed: int = 0):
    """A float64 network with a few hundred parameters, random inputs and labels."""
    torch.manual_seed(seed)
    if kind == "mlp":
        model = mlp((5, 7, 6, 3), activation="tanh").double()
        X = torch.randn(n, 5)
    else:
        model = cnn((2, 3), n_classes=3).double()
        X = torch.randn(n, 1, 8, 8)
    y = torch.randint(0, 3, (n,))
    return model, X, y


def test_dense_hessian_reference_matches_finite_differences_of_the_gradient():
    model, X, y = tiny_problem()
    H = spectra.dense_hessian(model, cross_entropy, X, y)
    params = list(model.parameters())
    theta = torch.nn.utils.parameters_to_vector(params).detach()

    def gradient(at: torch.Tensor) -> torch.Tensor:
        torch.nn.utils.vector_to_parameters(at, params)
        return torch.cat(
            [g.reshape(-1) for g in torch.autograd.grad(cross_entropy(model(X), y), params)]
        )

    v, h = torch.randn(len(theta)), 1e-5
    central = (gradient(theta + h * v) - gradient(theta - h * v)) / (2 * h)
    torch.nn.utils.vector_to_parameters(theta, params)
    torch.testing.assert_close(central, H @ v, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_hvp_matches_dense_hessian(kind):
    model, X, y = tiny_problem(kind)
    H = spectra.dense_hessian(model, cross_entropy, X, y)
    v = torch.randn(len(H))
    Hv = spectra.hessian_vector_product(model, cross_entropy, X, y, v)
    torch.testing.assert_close(Hv, H @ v, rtol=1e-10, atol=1e-12)


def test_hvp_does_not_depend_on_chunk_size():
    model, X, y = tiny_problem(n=13)
    v = torch.randn(sum(p.numel() for p in model.parameters()))
    whole = spectra.hessian_vector_product(model, cross_entropy, X, y, v)
    for size in (1, 4, 5, 13, 50):
        torch.testing.assert_close(
            spectra.hessian_vector_product(model, cross_entropy, X, y, v, chunk_size=size), whole
        )


@pytest.mark.parametrize("loss_fn", [cross_entropy, squared])
def test_top_hessian_eigenpairs_match_dense_eigvalsh(loss_fn):
    model, X, y = tiny_problem()
    target = y if loss_fn is cross_entropy else nn.functional.one_hot(y, 3).double()
    exact_values, exact_vectors = torch.linalg.eigh(
        spectra.dense_hessian(model, loss_fn, X, target)
    )
    result = spectra.hessian_eigenvalues(model, loss_fn, X, target, k=3, chunk_size=5)
    assert result.converged
    assert result.n_hvp < len(exact_values)
    torch.testing.assert_close(result.values, exact_values.flip(0)[:3], rtol=1e-6, atol=0)
    overlaps = (result.vectors @ exact_vectors.flip(1)[:, :3]).diagonal().abs()
    torch.testing.assert_close(overlaps, torch.ones(3), rtol=0, atol=1e-6)


def test_lanczos_finds_largest_algebraic_eigenvalues_of_an_indefinite_matrix():
    generator = torch.Generator().manual_seed(1)
    basis, _ = torch.linalg.qr(torch.randn(60, 60, generator=generator))
    values = torch.cat([torch.tensor([5.0, 3.0, 2.5]), torch.linspace(-9.0, 1.0, 57)])
    A = basis @ torch.diag(values) @ basis.T
    result = spectra.lanczos(lambda v: A @ v, 60, k=3, tol=1e-10)
    assert result.converged
    torch.testing.assert_close(result.values, torch.tensor([5.0, 3.0, 2.5]), rtol=1e-9, atol=0)
    residuals = torch.linalg.norm(
        result.vectors @ A - result.values[:, None] * result.vectors, dim=1
    )
    torch.testing.assert_close(residuals, result.residuals, rtol=1e-3, atol=1e-12)


def test_lanczos_with_a_small_gap_runs_past_its_initial_basis_and_converges():
    A = torch.diag(torch.linspace(0.0, 1.0, 200))
    result = spectra.lanczos(lambda v: A @ v, 200, k=2, tol=1e-9)
    assert result.converged and result.n_hvp > 64  # the basis was grown at least twice
    torch.testing.assert_close(
        result.values, torch.tensor([1.0, 199 / 199 - 1 / 199]), rtol=1e-9, atol=0
    )


def test_lanczos_reports_non_convergence_within_its_budget():
    A = torch.diag(torch.linspace(0.0, 1.0, 200))
    result = spectra.lanczos(lambda v: A @ v, 200, k=1, tol=1e-12, max_iter=5)
    assert result.n_hvp == 5
    assert not result.converged


def test_warm_start_from_the_top_eigenvector_needs_few_products():
    """Warm: converged after at most 2 products, then one check run of k + CHECK_STEPS."""
    model, X, y = tiny_problem()
    cold = spectra.hessian_eigenvalues(model, cross_entropy, X, y)
    warm = spectra.hessian_eigenvalues(model, cross_entropy, X, y, start=cold.vectors[0])
    assert warm.converged and warm.n_hvp <= 2 + 1 + lanczos_module.CHECK_STEPS < cold.n_hvp
    torch.testing.assert_close(warm.values, cold.values, rtol=1e-6, atol=0)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_per_example_gradients_match_a_loop(kind):
    model, X, y = tiny_problem(kind)
    G = spectra.per_example_gradients(model, cross_entropy, X, y, chunk_size=5)
    torch.testing.assert_close(
        G, spectra.looped_per_example_gradients(model, cross_entropy, X, y), rtol=1e-10, atol=1e-13
    )


@pytest.mark.parametrize("n", [12, 400])  # n < P uses the Gram matrix, n > P the covariance itself
def test_gradient_covariance_spectrum_matches_the_dense_covariance(n):
    model, X, y = tiny_problem(n=n)
    G = spectra.looped_per_example_gradients(model, cross_entropy, X, y)
    centred = G - G.mean(dim=0)
    K = centred.T @ centred / n
    exact_values, exact_vectors = torch.linalg.eigh(K)
    result = spectra.gradient_covariance_eigenvalues(model, cross_entropy, X, y, k=4)
    torch.testing.assert_close(result.values, exact_values.flip(0)[:4], rtol=1e-6, atol=0)
    overlaps = (result.vectors @ exact_vectors.flip(1)[:, :4]).diagonal().abs()
    torch.testing.assert_close(overlaps, torch.ones(4), rtol=0, atol=1e-6)
    trace = spectra.gradient_covariance_trace(model, cross_entropy, X, y)
    assert trace == pytest.approx(float(torch.trace(K)), rel=1e-12)
    assert result.trace == pytest.approx(trace, rel=1e-12)


@pytest.mark.parametrize("method", ["dense", "lanczos"])
@pytest.mark.parametrize(
    "n, dim", [(40, 90), (90, 40)]
)  # the Gram matrix is the smaller operator, then K itself
def test_both_covariance_methods_match_the_explicit_covariance(method, n, dim):
    """Top eigenpairs and trace of K = (1/n) G_cᵀG_c by both routes, against eigh of the P × P K."""
    G = torch.randn(n, dim, generator=torch.Generator().manual_seed(n)) * torch.linspace(
        0.1, 3.0, dim
    )
    centred = G - G.mean(dim=0)
    K = centred.T @ centred / n
    exact_values, exact_vectors = torch.linalg.eigh(K)
    result = spectra.covariance_spectrum(G, k=5, method=method)
    torch.testing.assert_close(result.values, exact_values.flip(0)[:5], rtol=1e-9, atol=0)
    torch.testing.assert_close(
        result.vectors @ K,
        result.values[:, None] * result.vectors,
        rtol=0,
        atol=1e-8 * float(exact_values[-1]),
    )
    torch.testing.assert_close(result.vectors @ result.vectors.T, torch.eye(5), rtol=0, atol=1e-8)
    assert result.trace == pytest.approx(float(torch.trace(K)), rel=1e-12)


def test_lanczos_covariance_on_float32_gradients_is_accurate_to_float32():
    """Products in the gradients' precision: float32 gradients give eigenvalues within ~1e-6."""
    G = torch.randn(600, 300, generator=torch.Generator().manual_seed(1)) * torch.linspace(
        0.1, 3.0, 300
    )
    exact = spectra.covariance_spectrum(G, k=3, method="dense")
    found = spectra.covariance_spectrum(G.float(), k=3, method="lanczos")
    torch.testing.assert_close(found.values, exact.values, rtol=1e-5, atol=0)
    assert found.trace == pytest.approx(exact.trace, rel=1e-6)


def test_auto_picks_lanczos_only_for_few_eigenvalues_of_a_large_gram_matrix(monkeypatch):
    chosen = []
    monkeypatch.setattr(
        spectra,
        "lanczos_covariance_pairs",
        lambda c, k, tol: chosen.append("lanczos") or spectra.dense_covariance_pairs(c, k),
    )
    monkeypatch.setattr(spectra, "LANCZOS_MIN_SIZE", 20)
    spectra.covariance_spectrum(torch.randn(30, 50), k=2)
    spectra.covariance_spectrum(torch.randn(10, 50), k=2)
    spectra.covariance_spectrum(torch.randn(30, 50), k=spectra.LANCZOS_MAX_K + 1)
    assert chosen == ["lanczos"]
    with pytest.raises(ValueError, match="method"):
        spectra.covariance_spectrum(torch.randn(30, 50), method="arpack")


class SharedLayers(nn.Module):
    """Linear layers the factored Gram leaves to vmap.

    One applied twice, one on a 3-D input, two sharing a weight; one whose output is unused.
    """

    def __init__(self) -> None:
        super().__init__()
        self.twice, self.sequence = nn.Linear(5, 5), nn.Linear(5, 4)
        self.tied_a, self.tied_b = nn.Linear(4, 4), nn.Linear(4, 4, bias=False)
        self.tied_b.weight = self.tied_a.weight
        self.dead, self.readout = nn.Linear(4, 2), nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.twice(torch.tanh(self.twice(x))))
        h = torch.tanh(self.sequence(torch.stack([h, h.flip(-1)], dim=1))).mean(dim=1)
        h = torch.tanh(self.tied_b(torch.tanh(self.tied_a(h))))
        self.dead(h)
        return self.readout(h)


@pytest.mark.parametrize("kind", ["mlp", "cnn", "shared"])
def test_gradient_gram_matches_the_per_example_loop(kind):
    """g_i·g_j from layer factors (and vmap for the rest) equals that of looped gradients."""
    if kind == "shared":
        torch.manual_seed(0)
        model, X, y = SharedLayers(), torch.randn(12, 5), torch.randint(0, 3, (12,))
    else:
        model, X, y = tiny_problem(kind)
    G = spectra.looped_per_example_gradients(model, cross_entropy, X, y)
    torch.testing.assert_close(
        spectra.gradient_gram(model, cross_entropy, X, y), G @ G.T, rtol=1e-12, atol=1e-13
    )
    centred = G - G.mean(dim=0)
    values, vectors = torch.linalg.eigh(centred.T @ centred / len(X))
    found = spectra.gradient_covariance_eigenvalues(model, cross_entropy, X, y, k=2, method="gram")
    torch.testing.assert_close(found.values, values.flip(0)[:2], rtol=1e-10, atol=0)
    torch.testing.assert_close(
        (found.vectors @ vectors.flip(1)[:, :2]).diagonal().abs(), torch.ones(2), rtol=0, atol=1e-8
    )
    assert all(p.grad is None for p in model.parameters())


def test_gradient_gram_of_an_mlp_needs_no_per_example_gradients(monkeypatch):
    model, X, y = tiny_problem("mlp")
    monkeypatch.setattr(
        spectra,
        "per_example_gradients_of",
        lambda *args: pytest.fail("an MLP is covered by its linear layers"),
    )
    assert spectra.gradient_gram(model, cross_entropy, X, y).shape == (12, 12)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize(
    "lanczos_above", [10, 1000]
)  # the n × n Gram matrix's top pairs by Lanczos, or by LAPACK
def test_the_gram_method_matches_the_dense_covariance(kind, lanczos_above, monkeypatch):
    monkeypatch.setattr(spectra, "LANCZOS_MIN_SIZE", lanczos_above)
    model, X, y = tiny_problem(kind, n=30)
    dense = spectra.gradient_covariance_eigenvalues(model, cross_entropy, X, y, k=4, method="dense")
    found = spectra.gradient_covariance_eigenvalues(model, cross_entropy, X, y, k=4, method="gram")
    torch.testing.assert_close(found.values, dense.values, rtol=1e-10, atol=0)
    torch.testing.assert_close(
        (found.vectors @ dense.vectors.T).diagonal().abs(), torch.ones(4), rtol=0, atol=1e-8
    )
    assert found.trace == pytest.approx(dense.trace, rel=1e-12)


def test_the_gram_method_refuses_batch_norm_and_dropout_in_train_mode():
    X, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    with pytest.raises(ValueError, match="BatchNorm in train mode"):
        spectra.gradient_gram(mlp((5, 6, 3), batch_norm=True).train(), cross_entropy, X, y)
    dropout = nn.Sequential(nn.Linear(5, 6), nn.Dropout(0.5), nn.Linear(6, 3)).train()
    with pytest.raises(ValueError, match="dropout"):
        spectra.gradient_gram(dropout, cross_entropy, X, y)
    assert spectra.gradient_gram(dropout, cross_entropy, X, y, mode="eval").shape == (8, 8)
    assert dropout.training


def symmetric_matrix(dim: int, seed: int = 0) -> torch.Tensor:
    a = torch.randn(dim, dim, generator=torch.Generator().manual_seed(seed))
    return (a + a.T) / 2


def test_hutchinson_is_exact_for_a_diagonal_matrix():
    """Rademacher probes have z_i² = 1, so zᵀDz = Tr D for every probe: zero spread."""
    d = torch.linspace(-1.0, 3.0, 17)
    estimate = spectra.hutchinson_trace(lambda v: d * v, 17, 5, seed=1)
    assert estimate.n_hvp == 5 and estimate.stderr == pytest.approx(0.0, abs=1e-12)
    assert estimate.value == pytest.approx(float(d.sum()), rel=1e-12)


def test_hutchinson_mean_and_stderr_match_the_theory():
    """E[zᵀAz] = Tr A within 4 standard errors, and Var[zᵀAz] = 2 Σ_{i≠j} A_ij² within 15%."""
    a, probes = symmetric_matrix(30), 4000
    estimate = spectra.hutchinson_trace(lambda v: a @ v, 30, probes, seed=3)
    assert abs(estimate.value - float(torch.trace(a))) <= 4 * estimate.stderr
    variance = 2 * float((a**2).sum() - (torch.diagonal(a) ** 2).sum())
    assert estimate.stderr**2 * probes == pytest.approx(variance, rel=0.15)


def test_trace_estimate_from_samples():
    """Samples 1 and 3: mean 2, std √2, standard error 1; one sample: no error bar."""
    estimate = spectra.TraceEstimate.from_samples([1.0, 3.0])
    assert (estimate.value, estimate.stderr, estimate.n_hvp) == pytest.approx((2.0, 1.0, 2))
    assert torch.isnan(torch.tensor(spectra.TraceEstimate.from_samples([4.0]).stderr))
    with pytest.raises(ValueError, match="probes"):
        spectra.hutchinson_trace(lambda v: v, 3, 0)


def test_hessian_trace_matches_the_dense_hessian():
    model, X, y = tiny_problem()
    exact = float(torch.trace(spectra.dense_hessian(model, cross_entropy, X, y)))
    estimate = spectra.hessian_trace(model, cross_entropy, X, y, probes=400, seed=2)
    assert estimate.n_hvp == 400 and 0 < estimate.stderr < 0.2 * abs(exact)
    assert abs(estimate.value - exact) <= 4 * estimate.stderr


def test_batch_norm_in_train_mode_is_refused_for_per_example_quantities():
    model = mlp((5, 6, 3), batch_norm=True).double().train()
    X, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    with pytest.raises(ValueError, match="BatchNorm in train mode"):
        spectra.per_example_gradients(model, cross_entropy, X, y)
    with pytest.raises(ValueError, match="BatchNorm in train mode"):
        spectra.hessian_eigenvalues(model, cross_entropy, X, y, mode="train")
    G = spectra.per_example_gradients(model, cross_entropy, X, y, mode="eval")
    assert G.shape == (8, sum(p.numel() for p in model.parameters()))


def test_the_callers_modes_are_restored():
    model = mlp((5, 6, 3), batch_norm=True).double().train()
    model[1].eval()  # a mixed state must come back exactly
    before = [m.training for m in model.modules()]
    X, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    spectra.hessian_eigenvalues(model, cross_entropy, X, y, mode="eval")
    spectra.gradient_covariance_eigenvalues(model, cross_entropy, X, y, mode="eval")
    assert [m.training for m in model.modules()] == before
    with pytest.raises(ValueError):
        spectra.per_example_gradients(model, cross_entropy, X, y, mode="train")
    assert [m.training for m in model.modules()] == before


def test_eval_mode_diagnostics_do_not_touch_running_statistics():
    model = mlp((5, 6, 3), batch_norm=True).double()
    X, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    model.train()
    model(X)  # move the running statistics off their defaults
    stats = {name: b.clone() for name, b in model.named_buffers()}
    spectra.hessian_eigenvalues(model, cross_entropy, X, y, mode="eval")
    spectra.per_example_gradients(model, cross_entropy, X, y, mode="eval")
    for name, b in model.named_buffers():
        torch.testing.assert_close(b, stats[name], rtol=0, atol=0)


def test_float32_models_give_float32_accurate_eigenvalues():
    model, X, y = tiny_problem()
    exact = spectra.hessian_eigenvalues(model, cross_entropy, X, y, k=2).values
    single = spectra.hessian_eigenvalues(
        model.float(), cross_entropy, X.float(), y, k=2, tol=1e-4
    ).values
    torch.testing.assert_close(single, exact, rtol=1e-4, atol=0)


def test_flatten_and_unflatten_are_inverse():
    model, _, _ = tiny_problem("cnn")
    params = spectra.trainable_parameters(model)
    back = spectra.unflatten(spectra.flatten(params), params)
    assert list(back) == list(params)
    for name in params:
        torch.testing.assert_close(back[name], params[name], rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# Called as a library: every loss works chunked, randomness and bad input are refused by name

STANDARD_LOSSES = {
    "F.mse_loss": lambda out, t: nn.functional.mse_loss(
        out, nn.functional.one_hot(t, 3).to(out.dtype)
    ),
    "nn.MSELoss()": lambda out, t: nn.MSELoss()(out, nn.functional.one_hot(t, 3).to(out.dtype)),
    "F.huber_loss": lambda out, t: nn.functional.huber_loss(
        out, nn.functional.one_hot(t, 3).to(out.dtype)
    ),
    "nn.CrossEntropyLoss()": lambda out, t: nn.CrossEntropyLoss()(out, t),
}


@pytest.mark.parametrize("loss_name", list(STANDARD_LOSSES))
def test_chunked_products_work_for_pytorchs_standard_losses(loss_name):
    model, X, y = tiny_problem(n=10)
    loss_fn = STANDARD_LOSSES[loss_name]
    H = spectra.dense_hessian(model, loss_fn, X, y)
    v = torch.randn(H.shape[0])
    for chunk_size in (None, 3):
        torch.testing.assert_close(
            spectra.hessian_vector_product(model, loss_fn, X, y, v, chunk_size=chunk_size), H @ v
        )
    unchunked = spectra.hessian_eigenvalues(model, loss_fn, X, y, k=2, tol=1e-10)
    chunked = spectra.hessian_eigenvalues(model, loss_fn, X, y, k=2, tol=1e-10, chunk_size=4)
    torch.testing.assert_close(chunked.values, unchunked.values, rtol=1e-9, atol=1e-12)
    trace = spectra.hessian_trace(model, loss_fn, X, y, probes=5, chunk_size=3)
    assert trace.value == pytest.approx(
        spectra.hessian_trace(model, loss_fn, X, y, probes=5).value, rel=1e-10
    )


def test_dropout_in_train_mode_is_refused_with_the_fix():
    torch.manual_seed(0)
    model = (
        nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Dropout(0.5), nn.Linear(8, 3)).double().train()
    )
    X, y = torch.randn(6, 5), torch.randint(0, 3, (6,))
    for call in (spectra.hessian_eigenvalues, spectra.hessian_trace):
        with pytest.raises(ValueError, match=r"dropout 2 is in train mode\); pass mode='eval'"):
            call(model, cross_entropy, X, y)
    first, second = (
        spectra.hessian_eigenvalues(model, cross_entropy, X, y, mode="eval").values
        for _ in range(2)
    )
    assert torch.equal(first, second) and model.training  # the caller's mode is back


def test_batch_norm_refusal_does_not_mention_chunking_when_none_was_asked():
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Linear(4, 3)).double().train()
    with pytest.raises(ValueError, match=r"^Hessian-vector products are undefined for BatchNorm"):
        spectra.hessian_eigenvalues(
            model, cross_entropy, torch.randn(6, 5), torch.randint(0, 3, (6,))
        )


def frozen_model() -> nn.Module:
    model = nn.Linear(5, 3).double()
    model.requires_grad_(False)
    return model


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda m, X, y: spectra.hessian_eigenvalues(m, cross_entropy, X[:0], y[:0]),
            "X has no examples",
        ),
        (
            lambda m, X, y: spectra.hessian_trace(m, cross_entropy, X[:0], y[:0]),
            "X has no examples",
        ),
        (
            lambda m, X, y: spectra.gradient_covariance_eigenvalues(m, cross_entropy, X[:0], y[:0]),
            "X has no examples",
        ),
        (lambda m, X, y: spectra.covariance_spectrum(torch.zeros(0, 4)), "gradients has no rows"),
        (
            lambda m, X, y: spectra.hessian_trace(m, cross_entropy, X * float("nan"), y),
            "X contains NaN or infinite",
        ),
        (
            lambda m, X, y: spectra.hessian_eigenvalues(m, squared, X, X[:, :3] * float("inf")),
            "y contains NaN or infinite",
        ),
        (
            lambda m, X, y: spectra.gradient_covariance_eigenvalues(m, cross_entropy, X, y[:3]),
            "same number of examples",
        ),
        (
            lambda m, X, y: spectra.hessian_eigenvalues(frozen_model(), cross_entropy, X, y),
            "no trainable parameters",
        ),
        (
            lambda m, X, y: spectra.per_example_gradients(frozen_model(), cross_entropy, X, y),
            "no trainable parameters",
        ),
        (
            lambda m, X, y: spectra.hessian_eigenvalues(m, cross_entropy, X, y, k=2.5),
            r"k must be a positive integer, got 2.5",
        ),
        (
            lambda m, X, y: spectra.hessian_eigenvalues(m, cross_entropy, X, y, k=0),
            "k must be a positive integer",
        ),
        (
            lambda m, X, y: spectra.hessian_eigenvalues(m, cross_entropy, X, y, k=4, max_iter=3),
            r"max_iter \(3\) must be at least k \(4\)",
        ),
        (
            lambda m, X, y: spectra.hessian_trace(m, cross_entropy, X, y, probes=0),
            "probes must be a positive integer",
        ),
        (
            lambda m, X, y: spectra.gradient_covariance_eigenvalues(m, cross_entropy, X, y, k=1.5),
            "k must be a positive integer",
        ),
    ],
)
def test_bad_input_is_refused_with_a_value_error_that_names_the_argument(call, message):
    model, X, y = tiny_problem(n=6)
    with pytest.raises(ValueError, match=message):
        call(model, X, y)
