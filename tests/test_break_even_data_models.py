"""The digits loader and the small digit networks used by the break-even chapter."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from trainingdynamics.data import digits, one_hot, split
from trainingdynamics.models.digits import cnn, mlp


def test_digits_are_standardised_and_labelled():
    data = digits()
    assert data.X.shape == (1797, 64) and data.y.shape == (1797,) and data.n_classes == 10
    varying = data.X.std(dim=0) > 0
    torch.testing.assert_close(data.X.mean(dim=0), torch.zeros(64), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        data.X[:, varying].std(dim=0, unbiased=False),
        torch.ones(int(varying.sum())),
        atol=1e-5,
        rtol=0,
    )
    assert set(data.y.tolist()) == set(range(10))
    assert digits(images=True).X.shape == (1797, 1, 8, 8)


def test_global_standardisation_has_one_scale_and_no_outlier_pixels():
    per_pixel, shared = (
        digits(dtype=torch.float64),
        digits(dtype=torch.float64, standardise="global"),
    )
    assert (
        float(per_pixel.X.abs().max()) > 40
    )  # a near-blank pixel's rare stroke, in standard deviations
    assert float(shared.X.mean()) == pytest.approx(0.0, abs=1e-12) and float(
        shared.X.std(unbiased=False)
    ) == pytest.approx(1.0)
    assert float(shared.X.abs().max()) < 2.5
    raw = torch.as_tensor(
        load_digits().data, dtype=torch.float64
    )  # one affine map of the raw 0–16 pixels for all pixels
    torch.testing.assert_close(shared.X, (raw - raw.mean()) / raw.std(unbiased=False))
    with pytest.raises(ValueError):
        digits(standardise="none")


def test_split_is_a_seeded_partition():
    data = digits(dtype=torch.float64)
    train, test = split(data, 1000, seed=4)
    again, _ = split(data, 1000, seed=4)
    other, _ = split(data, 1000, seed=5)
    assert len(train) == 1000 and len(test) == 797
    torch.testing.assert_close(train.X, again.X)
    assert not torch.equal(train.X, other.X)
    rows = {tuple(x.tolist()) for x in train.X} | {tuple(x.tolist()) for x in test.X}
    assert len(rows) == len({tuple(x.tolist()) for x in data.X})  # nothing lost or duplicated
    with pytest.raises(ValueError):
        split(data, 1797, seed=0)


def test_one_hot_rows():
    torch.testing.assert_close(
        one_hot(torch.tensor([2, 0]), 3), torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    )


def test_mlp_layers_and_batch_norm_placement():
    model = mlp((64, 32, 16, 10), activation="tanh", batch_norm=True)
    kinds = [type(m) for m in model]
    assert kinds == [
        nn.Linear,
        nn.BatchNorm1d,
        nn.Tanh,
        nn.Linear,
        nn.BatchNorm1d,
        nn.Tanh,
        nn.Linear,
    ]
    assert model(torch.randn(5, 64)).shape == (5, 10)
    with pytest.raises(ValueError):
        mlp((64,))


def test_cnn_shapes_and_parameter_count():
    model = cnn((8, 16))
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 10)
    # conv 1→8: 8·9+8, conv 8→16: 16·8·9+16, read-out 16·2·2→10: 64·10+10
    assert sum(p.numel() for p in model.parameters()) == 80 + 1168 + 650
    assert any(isinstance(m, nn.BatchNorm2d) for m in cnn((4,), batch_norm=True))
    with pytest.raises(ValueError):
        cnn((2, 2, 2, 2))
