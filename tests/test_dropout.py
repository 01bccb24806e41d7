"""Dropout: statistics of the masks, inverted scaling, channel-wise variants, alpha dropout,
train/eval behaviour, seeding, gradients and error messages."""
import math
import warnings

import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.nn as nn
import convgrad.nn.functional as F
from convgrad.errors import ConvgradError
from oracle import check_gradient


def _seeded(fn, seed=3):
    """The same mask on every call, so finite differences see one fixed function."""
    def run(*args):
        cg.manual_seed(seed)
        return fn(*args)
    return run


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_zeroes_a_fraction_p_and_scales_the_rest(p, dtype):
    cg.manual_seed(0)
    x = cg.tensor(np.random.default_rng(0).uniform(1, 2, (200, 500)).astype(dtype), requires_grad=True)
    out = F.dropout(x, p)
    assert out.dtype == dtype
    y = out.numpy()
    dropped = y == 0
    n = dropped.size
    assert abs(dropped.mean() - p) < 4 * math.sqrt(p * (1 - p) / n)  # within 4 standard errors
    np.testing.assert_allclose(y[~dropped], x.numpy()[~dropped] / (1 - p), rtol=1e-6)
    out.backward(np.ones(y.shape, dtype))
    np.testing.assert_allclose(x.grad.numpy(), np.where(dropped, 0, 1 / (1 - p)), rtol=1e-6)
    assert x.grad.dtype == dtype


def test_dropout_keeps_the_expectation():
    cg.manual_seed(1)
    x = cg.tensor(np.linspace(-2, 2, 10))
    mean = np.mean([F.dropout(x, 0.4).numpy() for _ in range(4000)], axis=0)
    np.testing.assert_allclose(mean, x.numpy(), atol=0.1)


def test_dropout_is_reproducible_with_manual_seed():
    x = cg.randn(50, 40)
    cg.manual_seed(7)
    a = F.dropout(x, 0.5).numpy()
    cg.manual_seed(7)
    b = F.dropout(x, 0.5).numpy()
    c = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_eval_mode_and_p_zero_are_the_identity():
    x = cg.randn(4, 3, 5, 5)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert F.dropout2d(x, 0.5, training=False) is x
    assert F.alpha_dropout(x, 0.5) is x  # PyTorch's default training=False for the functional form
    for layer in (nn.Dropout(), nn.Dropout2d(0.3), nn.Dropout3d(), nn.AlphaDropout(0.2), nn.FeatureAlphaDropout()):
        layer.eval()
        assert layer(x) is x
    model = nn.Sequential(nn.Linear(5, 5), nn.Dropout(0.9))
    model.eval()
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())


def test_p_one_gives_zeros_and_zero_gradient():
    x = cg.randn(3, 4, requires_grad=True)
    out = F.dropout(x, 1.0)
    assert np.all(out.numpy() == 0)
    out.sum().backward()
    assert np.all(x.grad.numpy() == 0)


def _check_channelwise(out, x, p, scale):
    """Every (n, c) map is either all zero or the whole input map times ``scale``."""
    y, xv = out.numpy(), x.numpy()
    n, c = y.shape[:2]
    maps = y.reshape(n, c, -1)
    zero = np.all(maps == 0, axis=2)
    kept = np.all(np.isclose(maps, xv.reshape(n, c, -1) * scale, rtol=1e-6), axis=2)
    assert np.all(zero | kept)
    return zero


@pytest.mark.parametrize("fn,shape", [(F.dropout1d, (40, 30, 7)), (F.dropout2d, (40, 30, 4, 5)),
                                      (F.dropout3d, (20, 30, 2, 3, 4))])
def test_channel_dropout_zeroes_whole_channels(fn, shape):
    cg.manual_seed(2)
    p = 0.3
    x = cg.tensor(np.random.default_rng(1).uniform(0.5, 1.5, shape), requires_grad=True)
    out = fn(x, p)
    zero = _check_channelwise(out, x, p, 1 / (1 - p))
    assert abs(zero.mean() - p) < 4 * math.sqrt(p * (1 - p) / zero.size)
    out.backward(np.ones(shape))
    grad_maps = x.grad.numpy().reshape(shape[0], shape[1], -1)
    np.testing.assert_allclose(grad_maps, np.where(zero[..., None], 0, 1 / (1 - p)) * np.ones_like(grad_maps))


def test_channel_dropout_without_batch_dimension():
    cg.manual_seed(4)
    x = cg.tensor(np.random.default_rng(1).uniform(0.5, 1.5, (30, 2, 3, 4)))  # (C, D, H, W)
    out = F.dropout3d(x, 0.5)
    assert out.shape == x.shape
    _check_channelwise(out.reshape(1, 30, -1), x.reshape(1, 30, -1), 0.5, 2.0)
    y = F.dropout1d(cg.tensor(np.ones((12, 9))), 0.5)  # (C, L)
    assert all(len(set(row)) == 1 for row in y.numpy().tolist())


def test_dropout2d_on_3d_input_is_channelwise_1d_like_torch():
    x = cg.tensor(np.ones((6, 10, 8)))
    with pytest.warns(UserWarning, match=r"\(N, C, L\)"):
        out = F.dropout2d(x, 0.5)
    _check_channelwise(out, x, 0.5, 2.0)


def test_alpha_dropout_keeps_mean_and_variance_of_selu_activations():
    cg.manual_seed(5)
    x = cg.tensor(np.random.default_rng(0).standard_normal(400_000))
    for p in (0.1, 0.3):
        y = F.alpha_dropout(x, p, training=True).numpy()
        assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01
        # kept elements are a*x + b, dropped ones the constant a*(-alpha') + b
        alpha_p = 1.7580993408473766
        a = 1 / math.sqrt((alpha_p ** 2 * p + 1) * (1 - p))
        b = a * alpha_p * p
        dropped = np.isclose(y, -a * alpha_p + b)
        np.testing.assert_allclose(y[~dropped], a * x.numpy()[~dropped] + b, rtol=1e-12)
        assert abs(dropped.mean() - p) < 0.01


def test_alpha_dropout_matches_torch_statistics():
    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal(200_000)
    ref = torch.nn.functional.alpha_dropout(torch.tensor(x), 0.2, training=True).numpy()
    ours = F.alpha_dropout(cg.tensor(x), 0.2, training=True).numpy()
    def mode(a):  # the dropped constant a*(-alpha') + b is by far the most frequent value
        values, counts = np.unique(a, return_counts=True)
        return values[np.argmax(counts)], counts.max() / a.size
    (ours_c, ours_frac), (ref_c, ref_frac) = mode(ours), mode(ref)
    assert abs(ours_c - ref_c) < 1e-12 and abs(ours_frac - ref_frac) < 0.01
    assert abs(ours.mean() - ref.mean()) < 0.02 and abs(ours.std() - ref.std()) < 0.02


def test_feature_alpha_dropout_is_channelwise():
    cg.manual_seed(6)
    x = cg.tensor(np.random.default_rng(0).standard_normal((8, 20, 3, 3)))
    y = F.feature_alpha_dropout(x, 0.5, training=True).numpy().reshape(8, 20, -1)
    constant = np.all(y == y[..., :1], axis=2)  # dropped channels are one constant value
    assert 0 < constant.mean() < 1


def test_dropout_finite_differences_with_a_fixed_mask():
    assert check_gradient(_seeded(lambda x: F.dropout(x, 0.4)), [(3, 4)])
    assert check_gradient(_seeded(lambda x: F.dropout2d(x, 0.4)), [(2, 3, 2, 2)])
    assert check_gradient(_seeded(lambda x: F.alpha_dropout(x, 0.3, training=True)), [(3, 4)])


def test_dropout_layers_follow_training_mode_and_repr():
    layer = nn.Dropout(0.25)
    assert repr(layer) == repr(torch.nn.Dropout(0.25)) == "Dropout(p=0.25, inplace=False)"
    for ours, ref in [(nn.Dropout1d(), torch.nn.Dropout1d()), (nn.Dropout2d(0.2), torch.nn.Dropout2d(0.2)),
                      (nn.Dropout3d(1), torch.nn.Dropout3d(1)), (nn.AlphaDropout(), torch.nn.AlphaDropout()),
                      (nn.FeatureAlphaDropout(0.1), torch.nn.FeatureAlphaDropout(0.1))]:
        assert repr(ours) == repr(ref)
    x = cg.ones(100, 100)
    assert (layer(x).numpy() == 0).any()
    layer.eval()
    assert layer(x) is x
    layer.train()
    assert (layer(x).numpy() == 0).any()


@pytest.mark.parametrize("call,fragment", [
    (lambda: F.dropout(cg.randn(3), 1.5), "dropout: dropout probability has to be between 0 and 1, but got 1.5"),
    (lambda: F.dropout(cg.randn(3), -0.1), "dropout: dropout probability has to be between 0 and 1, but got -0.1"),
    (lambda: F.dropout2d(cg.randn(2, 3, 4, 4), float("nan")), "dropout2d: dropout probability has to be between 0 and 1, but got nan"),
    (lambda: F.dropout(cg.tensor([1, 2, 3]), 0.5), "dropout: expected a floating point tensor, got dtype int64"),
    (lambda: F.dropout1d(cg.randn(2, 3, 4, 4), 0.5), "dropout1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got (2, 3, 4, 4)"),
    (lambda: F.dropout(np.ones(3), 0.5), "dropout: expected a convgrad Tensor, got ndarray"),
    (lambda: nn.Dropout(2), "Dropout: dropout probability has to be between 0 and 1, but got 2"),
    (lambda: nn.Dropout2d(-1), "Dropout2d: dropout probability has to be between 0 and 1, but got -1"),
])
def test_bad_arguments_raise_clear_errors(call, fragment):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ConvgradError) as info:
            call()
    assert fragment in str(info.value)
