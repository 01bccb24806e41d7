"""Max, min, average and Lp pooling (1-D to 3-D) and max unpooling: PyTorch parity over a seeded
grid of options, finite differences, nested-loop references from the definitions, the lecture's
5x5 example, layers and errors."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.nn as nn
import convgrad.nn.functional as F
from convgrad.errors import ArgumentError, DTypeError, ShapeError
from convgrad.functional.pooling import AvgPoolNd, ExtremePoolNd
from oracle import check_against_torch, check_gradient

DTYPES = [np.float32, np.float64]


def _window_grid(seed, count, dilation=True):
    """Seeded random configurations that PyTorch accepts: (nd, kernel, stride, padding, dilation,
    ceil_mode, input shape)."""
    rng = np.random.default_rng(seed)
    grid = []
    while len(grid) < count:
        nd = int(rng.integers(1, 4))
        kernel = tuple(int(v) for v in rng.integers(1, 4, nd))
        stride = tuple(int(v) for v in rng.integers(1, 4, nd))
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        dil = tuple(int(v) for v in rng.integers(1, 3, nd)) if dilation else (1,) * nd
        ceil_mode = bool(rng.integers(0, 2))
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + tuple(int(v) for v in rng.integers(3, 9 - nd, nd))
        if any(n + 2 * p - d * (k - 1) - 1 < 0 for n, p, d, k in zip(shape[2:], padding, dil, kernel)):
            continue
        grid.append((nd, kernel, stride, padding, dil, ceil_mode, shape))
    return grid


MAX_GRID = _window_grid(0, 30)
AVG_GRID = [(nd, k, s, p, c, shape, cip) for (nd, k, s, p, _, c, shape), cip
            in zip(_window_grid(1, 30, dilation=False), itertools.cycle([True, False]))]


def _ties(shape, dtype, seed=0):
    """Small integers: many equal values per window, so tie-breaking is exercised."""
    return np.random.default_rng(seed).integers(-2, 3, shape).astype(dtype)


# ----------------------------------------------------------------------------------------------
# Max pooling
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,kernel_size,stride,padding,dilation,ceil_mode,shape", MAX_GRID)
def test_max_pool_matches_torch(nd, kernel_size, stride, padding, dilation, ceil_mode, shape, dtype):
    cg_fn, torch_fn = getattr(F, f"max_pool{nd}d"), getattr(TF, f"max_pool{nd}d")
    args = (kernel_size, stride, padding, dilation, ceil_mode)
    check_against_torch(lambda x: cg_fn(x, *args), lambda x: torch_fn(x, *args), [shape], dtype=dtype,
                        name=f"max_pool{nd}d")
    # ties: the gradient and the indices must pick PyTorch's element (the first in scan order)
    x = _ties(shape, dtype)
    check_against_torch(lambda x: cg_fn(x, *args), lambda x: torch_fn(x, *args), [x], dtype=dtype,
                        name=f"max_pool{nd}d")
    _, idx = cg_fn(cg.tensor(x), *args, return_indices=True)
    _, ref = torch_fn(torch.tensor(x), *args, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), ref.numpy())
    assert idx.dtype == np.int64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [5, 16])
@pytest.mark.parametrize("kernel_size,stride,padding", [(2, 2, 0), (3, 2, 1), (3, 1, 1), ((2, 3), (1, 2), (1, 0))])
def test_pooling_channels_last_input(kernel_size, stride, padding, channels, dtype):
    """An NCHW-shaped view of NHWC memory (what the convolution returns) pools like PyTorch; the
    gradient comes back channels-last too, and with 16+ channels so does the output (fewer
    channels are pooled in NCHW order, which NumPy runs faster)."""
    x = np.random.default_rng(3).standard_normal((2, channels, 9, 8)).astype(dtype)
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    for cg_fn, torch_fn in [(F.max_pool2d, TF.max_pool2d), (F.avg_pool2d, TF.avg_pool2d)]:
        check_against_torch(lambda t: cg_fn(t, kernel_size, stride, padding),
                            lambda t: torch_fn(t, kernel_size, stride, padding), [x_cl], dtype=dtype)
        t = cg.tensor(x_cl, requires_grad=True)
        out = cg_fn(t, kernel_size, stride, padding)
        out.backward(np.ones(out.shape, dtype))
        assert t.grad.numpy().strides[1] == t.grad.numpy().itemsize, "the gradient should be channels-last"
        if channels >= 16:
            assert out.numpy().strides[1] == out.numpy().itemsize, "the output should stay channels-last"


def test_max_pool_nan_follows_torch():
    """PyTorch's scan keeps the last NaN of a window; values and indices agree."""
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 7)).astype(np.float32)
    x[0, 0, 1, 1] = x[0, 0, 0, 1] = x[1, 2, 3, 3] = np.nan
    for args in [(2, 2, 0, 1, False), (3, 2, 1, 1, True), (3, 1, 1, 2, False)]:
        out, idx = F.max_pool2d(cg.tensor(x), *args, return_indices=True)
        ref, ref_idx = TF.max_pool2d(torch.tensor(x), *args, return_indices=True)
        np.testing.assert_array_equal(out.numpy(), ref.numpy())
        np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())


def test_max_pool_unbatched_and_no_grad():
    x = np.random.default_rng(5).standard_normal((3, 8, 8))
    check_against_torch(lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: TF.max_pool2d(t, 3, 2, 1), [x],
                        dtype=np.float64, name="max_pool2d")
    with cg.no_grad():
        out = F.max_pool2d(cg.tensor(x, requires_grad=True), 2)
    assert not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), TF.max_pool2d(torch.tensor(x), 2).numpy())


def naive_max_pool2d(x, k, s, p, d, ceil_mode, take_max=True):
    """From the definition: scan each window's in-bounds elements in row-major order and keep the
    first strict improvement (PyTorch's rule)."""
    n, c, h, w = x.shape
    oh, ow = (_naive_out(size, k, s, p, d, ceil_mode) for size in (h, w))
    out = np.zeros((n, c, oh, ow), x.dtype)
    for b, ch, i, j in itertools.product(range(n), range(c), range(oh), range(ow)):
        best = None
        for a, e in itertools.product(range(k), range(k)):
            r, q = i * s - p + a * d, j * s - p + e * d
            if 0 <= r < h and 0 <= q < w and (best is None or (x[b, ch, r, q] > best if take_max
                                                             else x[b, ch, r, q] < best)):
                best = x[b, ch, r, q]
        out[b, ch, i, j] = best
    return out


def _naive_out(size, k, s, p, d, ceil_mode):
    import math
    span = (size + 2 * p - d * (k - 1) - 1) / s
    out = (math.ceil(span) if ceil_mode else math.floor(span)) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


@pytest.mark.parametrize("k,s,p,d,ceil_mode", [(2, 2, 0, 1, False), (3, 2, 1, 1, True), (3, 1, 1, 2, False),
                                               (2, 3, 1, 1, True)])
def test_max_and_min_pool_match_nested_loops(k, s, p, d, ceil_mode):
    x = np.random.default_rng(6).standard_normal((2, 2, 7, 8))
    args = (k, s, p, d, ceil_mode)
    np.testing.assert_array_equal(F.max_pool2d(cg.tensor(x), *args).numpy(), naive_max_pool2d(x, *args))
    np.testing.assert_array_equal(F.min_pool2d(cg.tensor(x), *args).numpy(), naive_max_pool2d(x, *args, take_max=False))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_finite_differences(nd):
    shape = (2, 2) + (5,) * nd  # random normals: no ties, so the max is differentiable
    fn = getattr(F, f"max_pool{nd}d")
    check_gradient(lambda x: fn(x, 3, 2, 1, 1, True), [shape])
    check_gradient(lambda x: fn(x, 2, 1, 0, 2), [shape])


def test_max_pool_gradient_goes_to_arg_max_only():
    x = cg.tensor([[[[1.0, 5.0], [5.0, 2.0]]]], requires_grad=True)  # a tie: the first 5 wins
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0, 1], [0, 0]]]])


# ----------------------------------------------------------------------------------------------
# Min pooling (no PyTorch op: -max_pool(-x), whose gradient also lands on the arg-min)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,kernel_size,stride,padding,dilation,ceil_mode,shape", MAX_GRID[:12])
def test_min_pool_is_negated_max_of_negation(nd, kernel_size, stride, padding, dilation, ceil_mode, shape, dtype):
    cg_fn, torch_fn = getattr(F, f"min_pool{nd}d"), getattr(TF, f"max_pool{nd}d")
    args = (kernel_size, stride, padding, dilation, ceil_mode)
    for x in (np.random.default_rng(7).standard_normal(shape).astype(dtype), _ties(shape, dtype)):
        check_against_torch(lambda t: cg_fn(t, *args), lambda t: -torch_fn(-t, *args), [x], dtype=dtype,
                            name=f"min_pool{nd}d")
        _, idx = cg_fn(cg.tensor(x), *args, return_indices=True)
        _, ref = torch_fn(-torch.tensor(x), *args, return_indices=True)
        np.testing.assert_array_equal(idx.numpy(), ref.numpy())


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_min_pool_finite_differences(nd):
    check_gradient(lambda x: getattr(F, f"min_pool{nd}d")(x, 2, 1, 1), [(1, 2) + (4,) * nd])


# ----------------------------------------------------------------------------------------------
# The lecture's 5x5 example: 3x3 windows, stride 1
# ----------------------------------------------------------------------------------------------
LECTURE_GRID = np.array([[3, 3, 2, 1, 0],
                         [0, 0, 1, 3, 1],
                         [3, 1, 2, 2, 3],
                         [2, 0, 0, 2, 2],
                         [2, 0, 0, 0, 1]], dtype=np.float32)


def test_lecture_pooling_example():
    x = cg.tensor(LECTURE_GRID[None, None])
    np.testing.assert_array_equal(F.max_pool2d(x, 3, stride=1).numpy()[0, 0], [[3, 3, 3], [3, 3, 3], [3, 2, 3]])
    np.testing.assert_array_equal(np.round(F.avg_pool2d(x, 3, stride=1).numpy()[0, 0], 2),
                                  np.array([[1.67, 1.67, 1.67], [1.0, 1.22, 1.78], [1.11, 0.78, 1.33]], np.float32))
    np.testing.assert_array_equal(F.min_pool2d(x, 3, stride=1).numpy()[0, 0], np.zeros((3, 3)))
    np.testing.assert_array_equal(nn.MinPool2d(3, stride=1)(x).numpy(), F.min_pool2d(x, 3, stride=1).numpy())


# ----------------------------------------------------------------------------------------------
# Average pooling
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,kernel_size,stride,padding,ceil_mode,shape,count_include_pad", AVG_GRID)
def test_avg_pool_matches_torch(nd, kernel_size, stride, padding, ceil_mode, shape, count_include_pad, dtype):
    cg_fn, torch_fn = getattr(F, f"avg_pool{nd}d"), getattr(TF, f"avg_pool{nd}d")
    args = (kernel_size, stride, padding, ceil_mode, count_include_pad)
    check_against_torch(lambda x: cg_fn(x, *args), lambda x: torch_fn(x, *args), [shape], dtype=dtype,
                        name=f"avg_pool{nd}d")
    if nd > 1:  # divisor_override exists for 2-D and 3-D only
        check_against_torch(lambda x: cg_fn(x, *args, divisor_override=3),
                            lambda x: torch_fn(x, *args, divisor_override=3), [shape], dtype=dtype,
                            name=f"avg_pool{nd}d")


def naive_avg_pool2d(x, k, s, p, ceil_mode, count_include_pad):
    """PyTorch's divisor rule written out: the window clipped to the padded input counts when
    count_include_pad, else only its real elements."""
    n, c, h, w = x.shape
    oh, ow = (_naive_out(size, k, s, p, 1, ceil_mode) for size in (h, w))
    out = np.zeros((n, c, oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        r0, q0 = i * s - p, j * s - p
        r1, q1 = min(r0 + k, h + p), min(q0 + k, w + p)
        padded_count = (r1 - r0) * (q1 - q0)
        r0c, q0c, r1c, q1c = max(r0, 0), max(q0, 0), min(r1, h), min(q1, w)
        total = x[:, :, r0c:r1c, q0c:q1c].sum(axis=(2, 3))
        out[:, :, i, j] = total / (padded_count if count_include_pad else (r1c - r0c) * (q1c - q0c))
    return out


@pytest.mark.parametrize("k,s,p,ceil_mode,count_include_pad", [(2, 2, 0, False, True), (3, 2, 1, True, True),
                                                               (3, 2, 1, True, False), (2, 3, 1, True, False)])
def test_avg_pool_matches_nested_loops(k, s, p, ceil_mode, count_include_pad):
    x = np.random.default_rng(8).standard_normal((2, 2, 7, 8))
    got = F.avg_pool2d(cg.tensor(x), k, s, p, ceil_mode, count_include_pad).numpy()
    np.testing.assert_allclose(got, naive_avg_pool2d(x, k, s, p, ceil_mode, count_include_pad), rtol=1e-12)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_avg_pool_finite_differences(nd):
    fn = getattr(F, f"avg_pool{nd}d")
    check_gradient(lambda x: fn(x, 3, 2, 1, True, False), [(1, 2) + (5,) * nd])


def test_avg_pool_shares_the_error_equally():
    x = cg.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    F.avg_pool2d(x, 2).backward(np.array([[[[4.0, 8.0], [0.0, 4.0]]]]))
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [0, 0, 1, 1], [0, 0, 1, 1]])


def test_avg_pool_keeps_float32():
    x = cg.randn(2, 3, 8, 8, requires_grad=True)
    out = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
    out.sum().backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32


# ----------------------------------------------------------------------------------------------
# Lp pooling
# ----------------------------------------------------------------------------------------------
LP_GRID = [(nd, p, k, s, c) for nd in (1, 2, 3) for p, k, s, c in [(2.0, 2, None, False), (3.0, 3, 2, True),
                                                                    (1.5, 2, 1, False), (1.0, (2, 3, 2)[:nd], 2, True)]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,norm_type,kernel_size,stride,ceil_mode", LP_GRID)
def test_lp_pool_matches_torch(nd, norm_type, kernel_size, stride, ceil_mode, dtype):
    if nd == 1 and isinstance(kernel_size, tuple):
        kernel_size = kernel_size[0]
    x = np.abs(np.random.default_rng(9).standard_normal((2, 3) + (7,) * nd)) + 0.1  # x^p defined for any p
    cg_fn, torch_fn = getattr(F, f"lp_pool{nd}d"), getattr(TF, f"lp_pool{nd}d")
    check_against_torch(lambda t: cg_fn(t, norm_type, kernel_size, stride, ceil_mode),
                        lambda t: torch_fn(t, norm_type, kernel_size, stride, ceil_mode), [x], dtype=dtype,
                        name=f"lp_pool{nd}d")


def test_lp_pool_definition_and_gradient():
    x = np.abs(np.random.default_rng(10).standard_normal((1, 2, 4, 4))) + 0.1
    got = F.lp_pool2d(cg.tensor(x), 3, 2).numpy()
    windows = x.reshape(1, 2, 2, 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(1, 2, 2, 2, 4)
    np.testing.assert_allclose(got, (windows ** 3).sum(-1) ** (1 / 3), rtol=1e-12)
    check_gradient(lambda t: F.lp_pool2d(t * t + 0.1, 2.5, 2, 1), [(1, 2, 4, 4)])


# ----------------------------------------------------------------------------------------------
# Max unpooling
# ----------------------------------------------------------------------------------------------
# (nd, kernel, stride, padding, input length, pass the original size as output_size)
UNPOOL_GRID = [(1, 2, None, 0, 6, False), (1, 3, 2, 1, 7, False), (2, 2, None, 0, 6, False), (2, 3, 2, 1, 7, False),
               (2, 3, 2, 1, 8, True), (2, (2, 3), (2, 1), (1, 0), 7, True), (3, 2, None, 0, 4, False),
               (3, 3, 2, 1, 5, True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nd,kernel_size,stride,padding,length,pass_size", UNPOOL_GRID)
def test_max_unpool_matches_torch(nd, kernel_size, stride, padding, length, pass_size, dtype):
    shape = (2, 3) + (length,) * nd
    output_size = shape[2:] if pass_size else None
    x = np.random.default_rng(11).standard_normal(shape)
    pooled, idx = getattr(TF, f"max_pool{nd}d")(torch.tensor(x), kernel_size, stride, padding, return_indices=True)
    cg_fn, torch_fn = getattr(F, f"max_unpool{nd}d"), getattr(TF, f"max_unpool{nd}d")
    check_against_torch(lambda t: cg_fn(t, cg.tensor(idx.numpy()), kernel_size, stride, padding, output_size),
                        lambda t: torch_fn(t, idx, kernel_size, stride, padding, output_size),
                        [pooled.numpy().astype(dtype)], dtype=dtype, name=f"max_unpool{nd}d")


def test_unpool_round_trip():
    """unpool(pool(x)) keeps each window's maximum in place and zeros the rest; pooling it again
    gives back the same maxima and indices (positive inputs, so the zeros never win)."""
    x = cg.tensor(np.abs(np.random.default_rng(12).standard_normal((2, 3, 8, 6))) + 0.1)
    pooled, idx = F.max_pool2d(x, 2, return_indices=True)
    restored = F.max_unpool2d(pooled, idx, 2)
    assert restored.shape == x.shape
    xs = x.numpy()
    is_max = xs == np.repeat(np.repeat(pooled.numpy(), 2, axis=2), 2, axis=3)
    np.testing.assert_array_equal(restored.numpy(), np.where(is_max, xs, 0))
    again, idx2 = F.max_pool2d(restored, 2, return_indices=True)
    np.testing.assert_array_equal(again.numpy(), pooled.numpy())
    np.testing.assert_array_equal(idx2.numpy(), idx.numpy())
    layer_out = nn.MaxUnpool2d(2)(pooled, idx, output_size=x.shape)
    np.testing.assert_array_equal(layer_out.numpy(), restored.numpy())


def test_max_unpool_finite_differences():
    # non-overlapping windows: every index distinct (with repeats PyTorch's gather-backward is not
    # the derivative of its last-write-wins forward, and neither is ours, which copies it)
    _, idx = F.max_pool2d(cg.randn(1, 2, 7, 6), 2, return_indices=True)
    check_gradient(lambda t: F.max_unpool2d(t, idx, 2, output_size=(7, 6)), [(1, 2, 3, 3)])


# ----------------------------------------------------------------------------------------------
# Shape rules, layers, errors
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nd,kernel_size,stride,padding,dilation,ceil_mode,shape", MAX_GRID[:10])
def test_output_shape_rules_match_results(nd, kernel_size, stride, padding, dilation, ceil_mode, shape):
    k, s, p, d = (tuple(v) for v in (kernel_size, stride, padding, dilation))
    out = getattr(F, f"max_pool{nd}d")(cg.randn(*shape), k, s, p, d, ceil_mode)
    assert ExtremePoolNd.output_shape(shape, k, s, p, d, ceil_mode) == out.shape
    avg = getattr(F, f"avg_pool{nd}d")(cg.randn(*shape), k, s, p, ceil_mode)
    assert AvgPoolNd.output_shape(shape, k, s, p, ceil_mode) == avg.shape


LAYERS = [
    (lambda m: m.MaxPool2d(2), ()), (lambda m: m.MaxPool2d(3, 2, 1, ceil_mode=True), ()),
    (lambda m: m.MaxPool1d(3, 1, 1, dilation=2), ()), (lambda m: m.MaxPool3d((1, 2, 2)), ()),
    (lambda m: m.AvgPool2d(2), ()), (lambda m: m.AvgPool2d(3, 2, 1, True, False, 4), ()),
    (lambda m: m.AvgPool1d(2), ()), (lambda m: m.AvgPool3d(2, 1), ()),
    (lambda m: m.LPPool2d(2, 3), ()), (lambda m: m.LPPool1d(3, 2, 1), ()),
    (lambda m: m.MaxUnpool2d(2), ()), (lambda m: m.MaxUnpool1d(3, 1, 1), ()),
]


@pytest.mark.parametrize("make,_", LAYERS)
def test_layer_repr_matches_torch(make, _):
    assert repr(make(nn)) == repr(make(torch.nn))


@pytest.mark.parametrize("make,shape", [(lambda m: m.MaxPool2d(3, 2, 1), (2, 3, 9, 9)),
                                        (lambda m: m.AvgPool2d(3, 2, 1, True, False), (2, 3, 9, 9)),
                                        (lambda m: m.MaxPool1d(2), (2, 3, 9)),
                                        (lambda m: m.AvgPool3d(2), (1, 2, 4, 4, 4)),
                                        (lambda m: m.LPPool2d(2, 2), (2, 3, 6, 6))])
def test_layers_match_torch_layers(make, shape):
    x = np.abs(np.random.default_rng(13).standard_normal(shape)) + 0.1
    check_against_torch(make(nn), make(torch.nn), [x], dtype=np.float64)


def test_layers_return_indices_and_min_pool_layers():
    x = cg.randn(2, 3, 8, 8)
    out, idx = nn.MaxPool2d(2, return_indices=True)(x)
    ref, ref_idx = F.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    np.testing.assert_array_equal(idx.numpy(), ref_idx.numpy())
    for layer, max_fn, shape in [(nn.MinPool1d(2), F.max_pool1d, (2, 3, 8)),
                                 (nn.MinPool2d(2), F.max_pool2d, (2, 3, 8, 8)),
                                 (nn.MinPool3d(2), F.max_pool3d, (1, 2, 4, 4, 4))]:
        t = cg.randn(*shape)
        np.testing.assert_array_equal(layer(t).numpy(), -max_fn(-t, 2).numpy())
    assert repr(nn.MinPool2d(2)) == "MinPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"


@pytest.mark.parametrize("call,error,words", [
    (lambda: F.max_pool2d(cg.randn(8, 8), 2), ShapeError, ["max_pool2d", "(N, C, H, W)", "(8, 8)"]),
    (lambda: F.avg_pool1d(cg.randn(1, 2, 3, 4), 2), ShapeError, ["avg_pool1d", "(N, C, L)", "(1, 2, 3, 4)"]),
    (lambda: F.max_pool2d(cg.randn(1, 1, 3, 3), 4), ShapeError, ["max_pool2d", "(4, 4)", "(3, 3)"]),
    (lambda: F.max_pool2d(cg.randn(1, 1, 5, 5), 3, dilation=3), ShapeError, ["max_pool2d", "dilation=(3, 3)"]),
    (lambda: F.max_pool2d(cg.randn(1, 1, 9, 9), 3, padding=2), ArgumentError, ["max_pool2d", "padding=(2, 2)",
                                                                                "kernel_size=(3, 3)"]),
    (lambda: F.avg_pool3d(cg.randn(1, 1, 4, 4, 4), 2, stride=0), ArgumentError, ["avg_pool3d", "stride", "(0, 0, 0)"]),
    (lambda: F.max_pool1d(cg.randn(1, 1, 4), 0), ArgumentError, ["max_pool1d", "kernel_size", "(0,)"]),
    (lambda: F.max_pool2d(cg.randn(1, 1, 4, 4), (2, 2, 2)), ArgumentError, ["max_pool2d", "kernel_size", "(2, 2, 2)"]),
    (lambda: F.avg_pool2d(cg.tensor(np.ones((1, 1, 4, 4), np.int64)), 2), DTypeError, ["avg_pool2d", "int64"]),
    (lambda: F.avg_pool2d(cg.randn(1, 1, 4, 4), 2, divisor_override=0), ArgumentError, ["avg_pool2d", "divisor"]),
    (lambda: F.max_unpool2d(cg.randn(1, 1, 2, 2), cg.tensor(np.array([[[[0, 1], [2, 99]]]])), 2), ArgumentError,
     ["max_unpool2d", "99", "4x4"]),
    (lambda: F.max_unpool2d(cg.randn(1, 1, 2, 2), cg.tensor(np.zeros((1, 1, 2, 2), np.int64)), 2, output_size=(7, 4)),
     ArgumentError, ["max_unpool2d", "(7, 4)"]),
    (lambda: F.max_unpool2d(cg.randn(1, 1, 2, 2), cg.tensor(np.zeros((1, 1, 4), np.int64)), 2), ShapeError,
     ["max_unpool2d", "(1, 1, 2, 2)", "(1, 1, 4)"]),
    (lambda: nn.MaxPool2d(2)(cg.randn(3, 4)), ShapeError, ["MaxPool2d(kernel_size=2", "(3, 4)"]),
    (lambda: nn.AvgPool2d(3, padding=2), ArgumentError, ["AvgPool2d", "padding"]),
    (lambda: F.lp_pool2d(cg.randn(1, 1, 4, 4), 0, 2), ArgumentError, ["lp_pool2d", "norm_type"]),
])
def test_errors_name_op_expected_and_got(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"


def test_torch_rejects_what_we_reject():
    """Our padding and size limits are PyTorch's: the same calls fail there."""
    with pytest.raises(RuntimeError):
        TF.max_pool2d(torch.randn(1, 1, 9, 9), 3, padding=2)
    with pytest.raises(RuntimeError):
        TF.max_pool2d(torch.randn(1, 1, 3, 3), 4)
    assert F.max_pool2d(cg.randn(1, 1, 9, 9), 3, padding=1).shape == TF.max_pool2d(torch.randn(1, 1, 9, 9), 3,
                                                                                    padding=1).shape

