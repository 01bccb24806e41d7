"""Adaptive average/max pooling (1-D to 3-D) and global pooling: PyTorch parity, the window
definition written as loops, finite differences, layers and errors."""
import itertools
import math

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


def _grid(seed, count):
    rng = np.random.default_rng(seed)
    grid = []
    for _ in range(count):
        nd = int(rng.integers(1, 4))
        sizes = tuple(int(v) for v in rng.integers(1, 10 - 2 * (nd - 1), nd))
        out = tuple(int(v) for v in rng.integers(1, 9 - 2 * (nd - 1), nd))
        if nd > 1 and rng.integers(0, 3) == 0:
            out = (None,) + out[1:]  # keep the first spatial axis
        batched = bool(rng.integers(0, 4))
        grid.append((nd, ((2, 3) if batched else (3,)) + sizes, out))
    return grid


GRID = _grid(0, 24) + [(2, (2, 3, 8, 8), (1, 1)), (2, (2, 3, 8, 8), (2, 4)), (3, (1, 2, 4, 6, 6), (2, 3, 3)),
                       (1, (2, 3, 10), 5), (2, (2, 2, 5, 7), (7, 9))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,shape,output_size", GRID)
def test_adaptive_avg_pool_matches_torch(nd, shape, output_size, dtype):
    cg_fn, torch_fn = getattr(F, f"adaptive_avg_pool{nd}d"), getattr(TF, f"adaptive_avg_pool{nd}d")
    check_against_torch(lambda x: cg_fn(x, output_size), lambda x: torch_fn(x, output_size), [shape], dtype=dtype,
                        name=f"adaptive_avg_pool{nd}d")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,shape,output_size", GRID)
def test_adaptive_max_pool_matches_torch(nd, shape, output_size, dtype):
    cg_fn, torch_fn = getattr(F, f"adaptive_max_pool{nd}d"), getattr(TF, f"adaptive_max_pool{nd}d")
    ties = np.random.default_rng(1).integers(-2, 3, shape).astype(dtype)
    for x in (shape, ties):
        check_against_torch(lambda t: cg_fn(t, output_size), lambda t: torch_fn(t, output_size), [x], dtype=dtype,
                            name=f"adaptive_max_pool{nd}d")
    _, idx = cg_fn(cg.tensor(ties), output_size, return_indices=True)
    _, ref = torch_fn(torch.tensor(ties), output_size, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), ref.numpy())


def naive_adaptive_pool2d(x, out_h, out_w, reduce):
    """The definition: output (i, j) reduces rows [floor(iH/oH), ceil((i+1)H/oH)) and the same
    for columns."""
    n, c, h, w = x.shape
    out = np.zeros((n, c, out_h, out_w))
    for i, j in itertools.product(range(out_h), range(out_w)):
        r0, r1 = math.floor(i * h / out_h), math.ceil((i + 1) * h / out_h)
        q0, q1 = math.floor(j * w / out_w), math.ceil((j + 1) * w / out_w)
        out[:, :, i, j] = reduce(x[:, :, r0:r1, q0:q1], axis=(2, 3))
    return out


@pytest.mark.parametrize("size,out", [((7, 5), (3, 2)), ((4, 4), (3, 3)), ((5, 6), (5, 6)), ((3, 5), (6, 4)),
                                      ((8, 8), (2, 4))])
def test_adaptive_pooling_matches_nested_loops(size, out):
    x = np.random.default_rng(2).standard_normal((2, 3) + size)
    np.testing.assert_allclose(F.adaptive_avg_pool2d(cg.tensor(x), out).numpy(),
                               naive_adaptive_pool2d(x, *out, np.mean), rtol=1e-12)
    np.testing.assert_array_equal(F.adaptive_max_pool2d(cg.tensor(x), out).numpy(),
                                  naive_adaptive_pool2d(x, *out, np.max))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_adaptive_pooling_finite_differences(nd):
    shape = (1, 2) + (5,) * nd
    check_gradient(lambda x: getattr(F, f"adaptive_avg_pool{nd}d")(x, 3), [shape])
    check_gradient(lambda x: getattr(F, f"adaptive_max_pool{nd}d")(x, 3), [shape])
    check_gradient(lambda x: getattr(F, f"adaptive_max_pool{nd}d")(x, 1), [shape])


def test_adaptive_pooling_keeps_channels_last_layout():
    x = np.random.default_rng(3).standard_normal((2, 5, 8, 8)).astype(np.float32)
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    for cg_fn, torch_fn in [(F.adaptive_avg_pool2d, TF.adaptive_avg_pool2d),
                            (F.adaptive_max_pool2d, TF.adaptive_max_pool2d)]:
        for out in [(1, 1), (2, 4), (3, 5)]:
            check_against_torch(lambda t: cg_fn(t, out), lambda t: torch_fn(t, out), [x_cl])


def test_global_pooling_layers():
    x = cg.randn(4, 6, 7, 5, requires_grad=True)
    out = nn.GlobalAvgPool2d()(x)
    assert out.shape == (4, 6)
    np.testing.assert_allclose(out.numpy(), x.numpy().mean(axis=(2, 3)), rtol=1e-5, atol=1e-6)
    assert nn.GlobalAvgPool2d(keepdim=True)(x).shape == (4, 6, 1, 1)
    np.testing.assert_array_equal(nn.GlobalMaxPool2d()(x).numpy(), x.numpy().max(axis=(2, 3)))
    check_against_torch(nn.GlobalAvgPool2d(), lambda t: t.mean(dim=(2, 3)), [(3, 4, 5, 6)], dtype=np.float64,
                        name="global_avg_pool2d")
    check_against_torch(nn.GlobalMaxPool2d(), lambda t: t.amax(dim=(2, 3)), [(3, 4, 5, 6)], dtype=np.float64,
                        name="global_max_pool2d")
    assert repr(nn.GlobalAvgPool2d()) == "GlobalAvgPool2d()"
    assert repr(nn.GlobalMaxPool2d(keepdim=True)) == "GlobalMaxPool2d(keepdim=True)"


@pytest.mark.parametrize("make", [lambda m: m.AdaptiveAvgPool2d((None, 3)), lambda m: m.AdaptiveMaxPool2d(2, True),
                                  lambda m: m.AdaptiveAvgPool1d(4), lambda m: m.AdaptiveMaxPool3d((1, 2, 3))])
def test_adaptive_layers_repr_and_values_match_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))
    layer, ref = make(nn), make(torch.nn)
    nd = 1 if "1d" in repr(layer) else 3 if "3d" in repr(layer) else 2
    x = np.random.default_rng(4).standard_normal((2, 3) + (6,) * nd)
    out, expected = layer(cg.tensor(x)), ref(torch.tensor(x))
    if isinstance(expected, tuple):
        np.testing.assert_array_equal(out[1].numpy(), expected[1].numpy())
        out, expected = out[0], expected[0]
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12)


@pytest.mark.parametrize("call,error,words", [
    (lambda: F.adaptive_avg_pool2d(cg.randn(4, 4), 2), ShapeError, ["adaptive_avg_pool2d", "(N, C, H, W)", "(4, 4)"]),
    (lambda: F.adaptive_max_pool1d(cg.randn(1, 2, 0), 2), ShapeError, ["adaptive_max_pool1d", "(1, 2, 0)"]),
    (lambda: F.adaptive_avg_pool2d(cg.randn(1, 1, 4, 4), (1, 2, 3)), ArgumentError,
     ["adaptive_avg_pool2d", "(1, 2, 3)"]),
    (lambda: F.adaptive_max_pool3d(cg.randn(1, 1, 4, 4, 4), -1), ArgumentError,
     ["adaptive_max_pool3d", "non-negative"]),
    (lambda: nn.AdaptiveAvgPool2d(2)(cg.randn(3)), ShapeError, ["AdaptiveAvgPool2d(output_size=2)", "got shape (3"]),
])
def test_adaptive_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"
