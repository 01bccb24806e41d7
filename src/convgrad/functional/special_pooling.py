"""Pooling beyond max and average: fractional max pooling (Graham 2014), stochastic pooling
(Zeiler & Fergus 2013) and spatial pyramid pooling (He et al. 2014).

- :func:`fractional_max_pool2d` / ``3d``: max over ``kernel_size`` windows whose starts follow
  PyTorch's pseudo-random sequence, generated from ``_random_samples`` (one ``u`` in [0, 1) per
  plane and axis) exactly as PyTorch does, in the input's dtype, so both agree given the same
  samples: ``start_i = int((i + u) * alpha) - int(u * alpha)`` with
  ``alpha = (L - k) / (O - 1)``, and the last window ends at the input's end.
- :func:`stochastic_pool2d`: in training, each window outputs one of its activations, drawn with
  probability ``a_i / sum(a)`` (negative activations get probability 0, as after a ReLU), and
  the gradient flows to the drawn element only; at inference the output is the expectation
  ``sum(p_i a_i) = sum(a_i^2) / sum(a_i)``. Random draws come from ``convgrad.backend.get_rng()``
  (seed with ``convgrad.manual_seed``).
- :func:`spatial_pyramid_pool2d`: adaptive pooling to ``n x n`` for each pyramid level,
  flattened and concatenated: a fixed-length vector of ``C * sum(n^2)`` for any input size.
"""
import numpy as np

from .. import backend
from ..kernels import windows as W
from ..tensor import Function, Tensor
from ._util import ArgumentError, DTypeError, ShapeError, empty_result, ntuple, shape_str
from .adaptive_pooling import adaptive_avg_pool2d, adaptive_max_pool2d, scatter_add_to_planes
from .pooling import check_input, pool_output_shape, window_args


# ----------------------------------------------------------------------------------------------
# Fractional max pooling
# ----------------------------------------------------------------------------------------------
def fractional_starts(samples, size, out, pool):
    """PyTorch's ``generate_intervals`` for a batch of samples (computed in their dtype):
    window starts, shape ``samples.shape + (out,)``."""
    starts = np.empty(samples.shape + (out,), dtype=np.int64)
    if out > 1:
        dtype = samples.dtype.type
        alpha = dtype(size - pool) / dtype(out - 1)
        i = np.arange(out - 1).astype(samples.dtype)
        scaled = (i + samples[..., None]) * alpha
        starts[..., :-1] = scaled.astype(np.int64) - (samples * alpha).astype(np.int64)[..., None]
    starts[..., -1] = size - pool
    return starts


# which spatial axis each of PyTorch's per-plane samples drives: 2-D (W, H), 3-D (T, H, W)
_SAMPLE_AXIS = {2: (1, 0), 3: (0, 1, 2)}


class FractionalMaxPoolNd(Function):
    @staticmethod
    def forward(ctx, x, samples, kernel, out, return_indices=False):
        nd = len(kernel)
        sizes = x.shape[-nd:]
        planes = int(np.prod(x.shape[:-nd]))
        samples = np.ascontiguousarray(samples, dtype=x.dtype).reshape(planes, nd)
        plane_strides = [int(np.prod(sizes[i + 1:])) for i in range(nd)]
        base = np.zeros((planes,) + tuple(out), dtype=np.int64)
        for j, ax in enumerate(_SAMPLE_AXIS[nd]):
            starts = fractional_starts(samples[:, j], sizes[ax], out[ax], kernel[ax])
            shape = [planes] + [1] * nd
            shape[1 + ax] = out[ax]
            base = base + starts.reshape(shape) * plane_strides[ax]
        base = base.reshape(planes, -1)
        flat_x = np.ascontiguousarray(x).reshape(planes, -1)
        cur = best = None
        for offsets in W.kernel_offsets(kernel, (1,) * nd):  # PyTorch's scan: val > best || isnan(val)
            idx = base + sum(o * s for o, s in zip(offsets, plane_strides))
            v = np.take_along_axis(flat_x, idx, axis=1)
            if cur is None:
                cur, best = v, idx
                continue
            upd = (v > cur) | np.isnan(v)
            cur, best = np.where(upd, v, cur), np.where(upd, idx, best)
        out_shape = tuple(x.shape[:-nd]) + tuple(out)
        ctx.index, ctx.in_shape, ctx.nd, ctx.x_order = best.reshape(out_shape), x.shape, nd, W.memory_order(x)
        values = cur.reshape(out_shape)
        return (values, ctx.index) if return_indices else values

    @staticmethod
    def backward(ctx, grad):
        return W.match_layout(scatter_add_to_planes(grad, ctx.index, ctx.in_shape, ctx.nd), ctx.x_order), None

    @staticmethod
    def output_shape(x_shape, samples_shape, kernel, out, **_):
        return tuple(x_shape[:-len(out)]) + tuple(out)


def _fractional(nd, op, input, kernel_size, output_size, output_ratio, return_indices, _random_samples):
    input = check_input(input, nd, op)
    if input.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point input, got dtype {input.dtype}")
    kernel = ntuple(kernel_size, nd, "kernel_size", op)
    if any(k <= 0 for k in kernel):
        raise ArgumentError(f"{op}: kernel_size must be greater than zero, got {kernel}")
    sizes = input.shape[-nd:]
    if output_size is None:
        if output_ratio is None:
            raise ArgumentError(f"{op}: requires either an output_size or an output_ratio")
        ratio = tuple(float(r) for r in (output_ratio if isinstance(output_ratio, (tuple, list))
                                         else (output_ratio,) * nd))
        if len(ratio) != nd or not all(0 < r < 1 for r in ratio):
            raise ArgumentError(f"{op}: output_ratio must be {nd} numbers in (0, 1), got {output_ratio}")
        output_size = tuple(int(n * r) for n, r in zip(sizes, ratio))
    out = ntuple(output_size, nd, "output_size", op)
    strict = nd == 3  # PyTorch's 3-D version also demands output + kernel - 1 < input
    for n, o, k in zip(sizes, out, kernel):
        if o < 1 or o + k - 1 > n or (strict and o + k - 1 == n):
            raise ShapeError(f"{op}: output size {out} with kernel_size {kernel} does not fit input "
                             f"{shape_str(input.shape)} (need 1 <= output and output + kernel - 1 "
                             f"{'<' if strict else '<='} input)")
    batch = 1 if input.ndim == nd + 1 else input.shape[0]
    expected = (batch, input.shape[-nd - 1], nd)
    if _random_samples is None:
        samples = backend.get_rng().random(expected).astype(input.dtype)
    else:
        samples = _random_samples._data if isinstance(_random_samples, Tensor) else np.asarray(_random_samples)
        # PyTorch's rule: (at least N, C, nd); rows past the batch are ignored
        if samples.ndim != 3 or samples.shape[0] < batch or samples.shape[1:] != expected[1:]:
            raise ShapeError(f"{op}: expected _random_samples of shape (B, {expected[1]}, {nd}) with "
                             f"B >= {batch} for input {shape_str(input.shape)}, got {shape_str(samples.shape)}")
        samples = samples[:batch]
    if input.numel() == 0:  # an empty batch: an empty result, as in PyTorch
        empty = empty_result(tuple(input.shape[:-nd]) + out, input)
        return (empty, Tensor(np.zeros(empty.shape, np.int64))) if return_indices else empty
    return FractionalMaxPoolNd.apply(input, samples, kernel=kernel, out=out, return_indices=bool(return_indices))


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Fractional max pooling of ``(N, C, H, W)`` or ``(C, H, W)`` to ``output_size`` (or
    ``floor(size * output_ratio)``) with pseudo-random, overlapping ``kernel_size`` windows.

    ``_random_samples`` ``(N, C, 2)`` in [0, 1) fixes the windows (sample 0 drives the width,
    1 the height, as in PyTorch); without it they are drawn from convgrad's generator.
    Raises ShapeError when ``output + kernel - 1 > input`` along an axis.
    """
    return _fractional(2, "fractional_max_pool2d", input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Fractional max pooling of ``(N, C, T, H, W)``; ``_random_samples`` ``(N, C, 3)`` drive T, H, W."""
    return _fractional(3, "fractional_max_pool3d", input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


# ----------------------------------------------------------------------------------------------
# Stochastic pooling
# ----------------------------------------------------------------------------------------------
def _padded_windows_setup(x, kernel, stride, padding):
    nd = len(kernel)
    spatial = tuple(range(x.ndim - nd, x.ndim))
    out = pool_output_shape("stochastic_pool", x.shape, kernel, stride, padding, (1,) * nd, False)[-nd:]
    sizes = [x.shape[ax] for ax in spatial]
    hi = [n2 - n - p for n2, n, p in zip(W.padded_sizes(sizes, out, kernel, stride, (1,) * nd, padding), sizes,
                                          padding)]
    return spatial, out, hi


class StochasticPoolTrain(Function):
    """One activation per window, drawn with probability proportional to it."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, rng):
        nd = len(kernel)
        spatial, out, hi = _padded_windows_setup(x, kernel, stride, padding)
        xp = W.pad_axes(x, spatial, padding, hi, 0)
        windows = W.sliding_window_view(xp, spatial, kernel, stride, (1,) * nd, out)
        windows = windows.reshape(windows.shape[:x.ndim] + (-1,))
        cumulative = np.cumsum(np.maximum(windows, 0), axis=-1)
        total = cumulative[..., -1]
        u = rng.random(total.shape, dtype=x.dtype) * total  # < total, so some element exceeds it
        pick = np.argmax(cumulative > u[..., None], axis=-1)
        drawn = total > 0
        values = np.where(drawn, np.take_along_axis(windows, pick[..., None], axis=-1)[..., 0], 0).astype(x.dtype)
        volume = windows.shape[-1]
        # empty windows (all activations <= 0) output 0 and pass no gradient: offset `volume` never matches
        ctx.arg = np.where(drawn, pick, volume).astype(W.index_dtype(volume + 1))
        ctx.geometry = (x.shape, W.memory_order(x), spatial, kernel, stride, padding, out)
        return values

    @staticmethod
    def output_shape(x_shape, kernel, stride, padding, *_):
        return pool_output_shape("stochastic_pool2d", x_shape, kernel, stride, padding, (1,) * len(kernel), False)

    @staticmethod
    def backward(ctx, grad):
        in_shape, order, spatial, kernel, stride, padding, out = ctx.geometry
        return W.max_pool_backward(np.ascontiguousarray(grad), ctx.arg, in_shape, order, spatial, kernel, stride,
                                   padding, (1,) * len(kernel), out)


class StochasticPoolEval(Function):
    """The expected value of the training draw: ``sum(a_i^2) / sum(a_i)`` over positive ``a_i``."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding):
        spatial, out, hi = _padded_windows_setup(x, kernel, stride, padding)
        positive = np.maximum(x, 0)
        s1 = W.sum_windows(W.pad_axes(positive, spatial, padding, hi, 0), spatial, kernel, stride, out)
        s2 = W.sum_windows(W.pad_axes(positive * positive, spatial, padding, hi, 0), spatial, kernel, stride, out)
        nonzero = s1 > 0
        safe = np.where(nonzero, s1, 1)
        ctx.saved = (positive, nonzero, safe, s2)
        ctx.geometry = (x.shape, W.memory_order(x), spatial, kernel, stride, padding, out)
        return np.where(nonzero, s2 / safe, 0).astype(x.dtype)

    output_shape = staticmethod(StochasticPoolTrain.output_shape)

    @staticmethod
    def backward(ctx, grad):
        positive, nonzero, s1, s2 = ctx.saved
        in_shape, order, spatial, kernel, stride, padding, out = ctx.geometry
        # d/da_j (S2 / S1) = 2 a_j / S1 - S2 / S1^2 for a_j > 0 (0 for a_j <= 0 and empty windows)
        g_lin = np.where(nonzero, grad / s1, 0)
        g_const = np.where(nonzero, grad * s2 / (s1 * s1), 0)
        spread_lin = W.spread_windows(g_lin.astype(grad.dtype), in_shape, order, spatial, kernel, stride, padding, out)
        spread_const = W.spread_windows(g_const.astype(grad.dtype), in_shape, order, spatial, kernel, stride,
                                        padding, out)
        return np.where(positive > 0, 2 * positive * spread_lin - spread_const, 0).astype(grad.dtype)


def stochastic_pool2d(input, kernel_size, stride=None, padding=0, training=True):
    """Stochastic pooling (Zeiler & Fergus 2013) of ``(N, C, H, W)`` or ``(C, H, W)``.

    Each window's activations ``a_i`` (negative ones count as 0) define probabilities
    ``p_i = a_i / sum(a)``. With ``training=True`` one element per window is drawn from ``p``
    (convgrad's seeded generator) and passed on, its gradient flowing back to it alone; with
    ``training=False`` the output is ``sum(p_i a_i)``. A window without positive activations
    outputs 0. Shape as :func:`avg_pool2d` (``stride`` defaults to ``kernel_size``; zero padding).
    """
    op = "stochastic_pool2d"
    input = check_input(input, 2, op)
    if input.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point input, got dtype {input.dtype}")
    kernel, stride, padding, _ = window_args(op, 2, kernel_size, stride, padding)
    pool_output_shape(op, input.shape, kernel, stride, padding, (1, 1), False)
    if training:
        return StochasticPoolTrain.apply(input, kernel, stride, padding, backend.get_rng())
    return StochasticPoolEval.apply(input, kernel, stride, padding)


# ----------------------------------------------------------------------------------------------
# Spatial pyramid pooling
# ----------------------------------------------------------------------------------------------
def spatial_pyramid_pool2d(input, levels=(1, 2, 4), mode="max"):
    """Spatial pyramid pooling (He et al. 2014): for each level ``n`` pool ``(N, C, H, W)`` to
    ``n x n`` adaptive bins, flatten, and concatenate the levels: ``(N, C * sum(n^2))`` for any
    ``H, W`` (at least 1), so a variable-size image feeds a fixed-size dense layer.
    ``mode`` is ``'max'`` (the paper's) or ``'avg'``.
    """
    from .shape import cat
    op = "spatial_pyramid_pool2d"
    if mode not in ("max", "avg"):
        raise ArgumentError(f"{op}: mode must be 'max' or 'avg', got {mode!r}")
    levels = tuple(int(n) for n in levels)
    if not levels or any(n < 1 for n in levels):
        raise ArgumentError(f"{op}: levels must be positive bin counts, got {levels}")
    input = check_input(input, 2, op)
    if input.ndim != 4:
        raise ShapeError(f"{op}: expected a 4-D (N, C, H, W) input, got shape {shape_str(input.shape)}")
    pool = adaptive_max_pool2d if mode == "max" else adaptive_avg_pool2d
    n = input.shape[0]
    return cat([pool(input, level).reshape(n, -1) for level in levels], 1)
