"""Fractional max pooling (against PyTorch with the same random samples), stochastic pooling
(inference formula against loops, sampling frequencies, gradients) and spatial pyramid pooling."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.nn as nn
import convgrad.nn.functional as F
from convgrad.errors import ArgumentError, ShapeError
from oracle import check_against_torch, check_gradient

DTYPES = [np.float32, np.float64]


# ----------------------------------------------------------------------------------------------
# Fractional max pooling
# ----------------------------------------------------------------------------------------------
def _fractional_grid(seed, count):
    rng = np.random.default_rng(seed)
    grid = []
    for _ in range(count):
        nd = int(rng.integers(2, 4))
        sizes = tuple(int(v) for v in rng.integers(5, 12 - 3 * (nd - 2), nd))
        kernel = tuple(int(v) for v in rng.integers(1, 4, nd))
        strict = nd == 3  # PyTorch's 3-D version needs output + kernel - 1 < input
        out = tuple(int(rng.integers(1, n - k + 2 - strict)) for n, k in zip(sizes, kernel))
        grid.append((nd, (2, 3) + sizes, kernel, out))
    return grid


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,shape,kernel_size,output_size", _fractional_grid(0, 16))
def test_fractional_max_pool_matches_torch(nd, shape, kernel_size, output_size, dtype):
    rng = np.random.default_rng(1)
    samples = rng.random((shape[0], shape[1], nd)).astype(dtype)
    cg_fn, torch_fn = getattr(F, f"fractional_max_pool{nd}d"), getattr(TF, f"fractional_max_pool{nd}d")
    ties = rng.integers(-2, 3, shape).astype(dtype)
    for x in (shape, ties):
        check_against_torch(lambda t: cg_fn(t, kernel_size, output_size, _random_samples=samples),
                            lambda t: torch_fn(t, kernel_size, output_size, _random_samples=torch.tensor(samples)),
                            [x], dtype=dtype, name=f"fractional_max_pool{nd}d")
    _, idx = cg_fn(cg.tensor(ties), kernel_size, output_size, return_indices=True, _random_samples=samples)
    _, ref = torch_fn(torch.tensor(ties), kernel_size, output_size, return_indices=True,
                      _random_samples=torch.tensor(samples))
    np.testing.assert_array_equal(idx.numpy(), ref.numpy())


def test_fractional_output_ratio_and_layer_match_torch():
    x = np.random.default_rng(2).standard_normal((2, 3, 13, 11))
    samples = np.random.default_rng(3).random((2, 3, 2))
    check_against_torch(lambda t: F.fractional_max_pool2d(t, 2, output_ratio=(0.5, 0.7), _random_samples=samples),
                        lambda t: TF.fractional_max_pool2d(t, 2, output_ratio=(0.5, 0.7),
                                                           _random_samples=torch.tensor(samples)),
                        [x], dtype=np.float64, name="fractional_max_pool2d")
    layer = nn.FractionalMaxPool2d(3, output_size=(5, 4), _random_samples=samples)
    ref = torch.nn.FractionalMaxPool2d(3, output_size=(5, 4), _random_samples=torch.tensor(samples))
    np.testing.assert_array_equal(layer(cg.tensor(x)).numpy(), ref(torch.tensor(x)).numpy())
    assert repr(layer) == "FractionalMaxPool2d(kernel_size=3, output_size=(5, 4))"


def test_fractional_windows_follow_the_definition():
    """Window starts: int((i + u) * alpha) - int(u * alpha), alpha = (L - k) / (O - 1), the last
    window flush with the end; the maximum of each window as a plain loop."""
    x = np.random.default_rng(4).standard_normal((1, 1, 10, 9))
    u_w, u_h, k, (oh, ow) = 0.37, 0.81, 2, (6, 5)
    samples = np.array([[[u_w, u_h]]])

    def starts(u, size, out):
        alpha = (size - k) / (out - 1)
        return [int((i + u) * alpha) - int(u * alpha) for i in range(out - 1)] + [size - k]

    rows, cols = starts(u_h, 10, oh), starts(u_w, 9, ow)
    expected = np.array([[x[0, 0, r:r + k, c:c + k].max() for c in cols] for r in rows])
    got = F.fractional_max_pool2d(cg.tensor(x), k, (oh, ow), _random_samples=samples).numpy()[0, 0]
    np.testing.assert_array_equal(got, expected)


def test_fractional_finite_differences_and_seeding():
    samples = np.random.default_rng(5).random((1, 2, 2))
    check_gradient(lambda t: F.fractional_max_pool2d(t, 2, (4, 3), _random_samples=samples), [(1, 2, 7, 6)])
    x = cg.randn(2, 3, 13, 13)  # alpha = (13 - 2) / 5 is not an integer: the windows depend on u
    cg.manual_seed(7)
    first = F.fractional_max_pool2d(x, 2, output_ratio=0.5, return_indices=True)[1].numpy()
    cg.manual_seed(7)
    again = F.fractional_max_pool2d(x, 2, output_ratio=0.5, return_indices=True)[1].numpy()
    np.testing.assert_array_equal(first, again)
    draws = {F.fractional_max_pool2d(x, 2, output_ratio=0.5, return_indices=True)[1].numpy().tobytes()
             for _ in range(5)}
    assert len(draws) > 1, "without _random_samples the windows should vary between calls"


@pytest.mark.parametrize("call,error,words", [
    (lambda: F.fractional_max_pool2d(cg.randn(1, 1, 6, 6), 3, (5, 5)), ShapeError,
     ["fractional_max_pool2d", "(5, 5)", "(3, 3)", "(1, 1, 6, 6)"]),
    (lambda: F.fractional_max_pool2d(cg.randn(1, 1, 6, 6), 2), ArgumentError, ["fractional_max_pool2d", "output_size"]),
    (lambda: F.fractional_max_pool2d(cg.randn(2, 3, 6, 6), 2, 3, _random_samples=np.zeros((2, 3, 3))), ShapeError,
     ["fractional_max_pool2d", "(B, 3, 2)", "B >= 2", "(2, 3, 3)"]),
    (lambda: F.fractional_max_pool2d(cg.randn(2, 3, 6, 6), 2, 3, _random_samples=np.zeros((1, 3, 2))), ShapeError,
     ["fractional_max_pool2d", "B >= 2", "(1, 3, 2)"]),
    (lambda: nn.FractionalMaxPool2d(2, output_ratio=1.5), ArgumentError, ["FractionalMaxPool2d", "(0, 1)"]),
    (lambda: nn.FractionalMaxPool2d(2), ArgumentError, ["FractionalMaxPool2d", "output_size"]),
])
def test_fractional_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"


# ----------------------------------------------------------------------------------------------
# Stochastic pooling
# ----------------------------------------------------------------------------------------------
def naive_stochastic_expectation(x, k, s, p):
    """sum_i p_i a_i with p_i = a_i / sum(a) over the positive activations of each window."""
    n, c, h, w = x.shape
    xp = np.pad(np.maximum(x, 0), ((0, 0), (0, 0), (p, p), (p, p)))
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for b, ch, i, j in itertools.product(range(n), range(c), range(oh), range(ow)):
        a = xp[b, ch, i * s:i * s + k, j * s:j * s + k].ravel()
        if a.sum() > 0:
            out[b, ch, i, j] = np.sum(a / a.sum() * a)
    return out


@pytest.mark.parametrize("k,s,p", [(2, 2, 0), (3, 2, 1), (3, 1, 0), (2, 3, 1)])
def test_stochastic_pool_inference_matches_loop(k, s, p):
    x = np.random.default_rng(6).standard_normal((2, 3, 8, 7))
    x[0, 0, :4, :4] = -1.0  # windows without positive activations give 0
    got = F.stochastic_pool2d(cg.tensor(x), k, s, p, training=False).numpy()
    np.testing.assert_allclose(got, naive_stochastic_expectation(x, k, s, p), rtol=1e-12, atol=1e-15)


def test_stochastic_pool_inference_finite_differences():
    rng = np.random.default_rng(7)
    x = rng.uniform(0.2, 2.0, (1, 2, 5, 5)) * rng.choice([-1, 1], (1, 2, 5, 5))  # away from the kink at 0
    check_gradient(lambda t: F.stochastic_pool2d(t, 3, 2, 1, training=False), [x])
    check_gradient(lambda t: F.stochastic_pool2d(t, 2, 1, training=False), [np.abs(x)])


def test_stochastic_pool_sampling_frequencies():
    """Each window [1, 2, 3, 4] must output a_i with probability a_i / 10: a chi-square test
    (3 degrees of freedom, 0.1% critical value 16.27) on 20,000 seeded draws."""
    cg.manual_seed(0)
    x = cg.tensor(np.tile(np.array([[1.0, 2.0], [3.0, 4.0]]), (5000, 1, 2, 2)))
    out = F.stochastic_pool2d(x, 2, training=True).numpy().ravel()
    counts = np.array([(out == v).sum() for v in (1.0, 2.0, 3.0, 4.0)])
    assert counts.sum() == out.size
    expected = out.size * np.array([0.1, 0.2, 0.3, 0.4])
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 16.27, f"sampled frequencies {counts / out.size} far from [0.1, 0.2, 0.3, 0.4] (chi2 {chi2:.1f})"


def test_stochastic_pool_training_draws_from_window_and_routes_gradient():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 3, 6, 6))  # distinct values
    x[1, 2, :2, :2] = -0.5  # an all-negative window
    t = cg.tensor(x, requires_grad=True)
    cg.manual_seed(1)
    out = F.stochastic_pool2d(t, 2, training=True)
    windows = x.reshape(2, 3, 3, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 3, 3, 4)
    o = out.numpy()
    picked_from_window = (windows == o[..., None]).any(-1) & (o > 0)
    assert (picked_from_window | ((windows <= 0).all(-1) & (o == 0))).all()
    assert o[1, 2, 0, 0] == 0
    g = rng.standard_normal(o.shape)
    out.backward(g)
    grad = t.grad.numpy()
    expected = np.where((x == np.repeat(np.repeat(o, 2, 2), 2, 3)) & (x > 0), np.repeat(np.repeat(g, 2, 2), 2, 3), 0)
    np.testing.assert_array_equal(grad, expected)
    cg.manual_seed(1)
    np.testing.assert_array_equal(F.stochastic_pool2d(cg.tensor(x), 2).numpy(), o)  # seeded: same draw


def test_stochastic_pool_layer_switches_with_train_and_eval():
    layer = nn.StochasticPool2d(2)
    x = cg.tensor(np.abs(np.random.default_rng(9).standard_normal((2, 3, 6, 6))))
    layer.eval()
    np.testing.assert_allclose(layer(x).numpy(), naive_stochastic_expectation(x.numpy(), 2, 2, 0), rtol=1e-12)
    layer.train()
    drawn = layer(x).numpy()
    windows = x.numpy().reshape(2, 3, 3, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(2, 3, 3, 3, 4)
    assert (windows == drawn[..., None]).any(-1).all()
    assert repr(layer) == "StochasticPool2d(kernel_size=2, stride=2, padding=0)"
    assert layer(cg.randn(2, 3, 6, 6)).dtype == np.float32  # float32 stays float32 in training
    layer.eval()
    assert layer(cg.randn(2, 3, 6, 6)).dtype == np.float32


# ----------------------------------------------------------------------------------------------
# Spatial pyramid pooling
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("size", [(7, 9), (16, 16), (4, 5), (1, 3)])
def test_spatial_pyramid_pooling_fixed_length_and_torch(size, mode, dtype):
    levels = (1, 2, 4)
    torch_pool = TF.adaptive_max_pool2d if mode == "max" else TF.adaptive_avg_pool2d

    def reference(t):
        return torch.cat([torch_pool(t, n).flatten(1) for n in levels], 1)

    layer = nn.SpatialPyramidPooling(levels, mode)
    check_against_torch(layer, reference, [(2, 5) + size], dtype=dtype, name="spatial_pyramid_pool2d")
    assert layer(cg.randn(2, 5, *size)).shape == (2, layer.output_features(5)) == (2, 5 * 21)


def test_spatial_pyramid_pooling_layer_errors_and_repr():
    assert repr(nn.SpatialPyramidPooling()) == "SpatialPyramidPooling(levels=(1, 2, 4), mode='max')"
    with pytest.raises(ArgumentError, match="mode"):
        nn.SpatialPyramidPooling(mode="median")
    with pytest.raises(ArgumentError, match="levels"):
        nn.SpatialPyramidPooling(levels=(0, 2))
    with pytest.raises(ShapeError, match=r"SpatialPyramidPooling.*\(N, C, H, W\).*\(3, 8, 8\)"):
        nn.SpatialPyramidPooling()(cg.randn(3, 8, 8))
