"""Convolution of narrow layers on batch-last memory ``(C, *S, N)``.

A layer with few input channels (LeNet-5's 1 and 6, the first layer of most image models) makes
the channels-last im2col of :mod:`.im2col` move runs of only ``C`` (or ``k*C``) contiguous
numbers, and its GEMMs, ``(M, K*C) @ (K*C, OC)`` with ``K*C`` and ``OC`` in the tens, are
memory-bound: the column matrix streams through main memory once to be written and once per
product. Putting the batch axis last fixes both:

* the column matrix ``cols[(c, k...), (o..., n)] = xpad[c, o*s + k*d ..., n]`` is one copy of a
  strided view whose innermost runs are whole rows of ``N`` samples (long, contiguous);
* the products become ``out (OC, M) = W (OC, C*K) @ cols (C*K, M)``, and they are done in
  chunks of output rows whose column block fits in the core's cache (:data:`BUDGET`), so
  the block is written and read back from cache instead of from memory;
* the input gradient's col2im adds whole rows of ``N`` samples per kernel offset.

The output ``(OC, *O, N)`` is handed to the next op as an ``(N, OC, *O)`` view, so the ReLU and
pooling that follow keep this layout, and so does the gradient that comes back.

Used for ungrouped convolutions with at most :data:`MAX_CHANNELS` input channels and a batch of
at least :data:`MIN_BATCH` (a small batch would make the innermost runs short again). Measured
on this machine (2 cores, one BLAS thread), LeNet-5's conv1 at batch 64: forward 1.8 -> 0.45 ms,
weight gradient 1.3 -> 0.6 ms; PyTorch 0.34 ms forward.
"""
import math

import numpy as np

from .blas import matmul
from .im2col import pad_channels_last, window_view
from .parallel import scratch

MAX_CHANNELS = 8  # input channels per group: above this the channels-last im2col runs are long enough
MIN_BATCH = 16  # below this the batch-last runs are too short to pay
# Bytes of columns per block. A layer with few columns per output position (C*K below
# WIDE_COLUMNS, LeNet-5's conv1 has 25) has memory-bound products: its blocks must stay in one
# core's cache (measured: (6, 25) @ (25, n) costs 5 ns per column up to n = 3584 and 13 ns at
# 7168). Wider layers (conv2's 150) do enough arithmetic per column that one large block,
# multiplied on both cores, is faster.
BUDGET = {"narrow": 320 * 1024, "wide": 16 << 20}
WIDE_COLUMNS = 64


def _budget(ck):
    return BUDGET["wide"] if ck >= WIDE_COLUMNS else BUDGET["narrow"]


def eligible(x, out_channels, groups):
    """True when a convolution of ``x`` (N, C, *S) should run on batch-last memory: an ungrouped
    narrow layer (at most MAX_CHANNELS input channels) on a batch of at least MIN_BATCH, that
    either has few output channels too or already receives batch-last memory. The layout thus
    starts at a narrow-to-narrow layer (LeNet-5's conv1) and follows narrow layers after it
    (its conv2), but a stem that widens at once (1 -> 16 channels into a residual network) keeps
    the channels-last layout of the layers after it: mixing the two in one element-wise op
    (a residual sum, a ReLU's backward) costs several times the op itself (measured 13-23 ms
    instead of 1-2 ms on 128x16x28x28)."""
    return (groups == 1 and x.shape[1] <= MAX_CHANNELS and x.shape[0] >= MIN_BATCH
            and (out_channels <= MAX_CHANNELS or is_batch_last(x)))


def is_batch_last(x):
    """True when the batch axis of ``x`` is the fastest-varying in memory."""
    return x.shape[0] > 1 and x.strides[0] == x.itemsize


def to_batch_last(x, pad_lo, pad_hi):
    """``(N, C, *S)`` (any memory order) -> zero-padded contiguous ``(C, *Sp, N)``: the spatial
    axes sit between the first and the last axis as in channels-last memory, so the same padding
    routine serves."""
    return pad_channels_last(np.moveaxis(x, 0, -1), pad_lo, pad_hi)


def from_batch_last(a):
    """``(C, *S, N)`` -> an ``(N, C, *S)`` view of the same memory."""
    return np.moveaxis(a, -1, 0)


def grad_batch_last(grad):
    """An ``(N, OC, *O)`` gradient as contiguous ``(OC, *O, N)`` (free when it already is)."""
    return np.ascontiguousarray(np.moveaxis(grad, 0, -1))


def weight_rows(weight):
    """Conv weight ``(OC, C, *K)`` as the ``(OC, C*K)`` GEMM operand, columns ordered (c, k...)."""
    return np.ascontiguousarray(weight).reshape(weight.shape[0], -1)


def _columns_view(xpad, out_spatial, kernel, stride, dilation):
    """Read-only view ``(C, *K, *O, N)`` of the windows of a padded batch-last input (the
    channels-last window view with C and N in each other's places, kernel axes first)."""
    d = len(kernel)
    win = window_view(xpad, out_spatial, kernel, stride, dilation)  # (C, *O, *K, N)
    return win.transpose((0,) + tuple(range(1 + d, 1 + 2 * d)) + tuple(range(1, 1 + d)) + (1 + 2 * d,))


def _blocks(out_spatial, position_bytes, budget):
    """Split the output positions into blocks of about ``budget`` bytes of columns
    (``position_bytes`` per output position, all samples): runs of whole rows of the first output
    axis, or, when one row is already too large, pieces of the second axis within each row.
    Yields tuples of slices over the first one or two output axes."""
    row = position_bytes * math.prod(out_spatial[1:])
    if row <= budget or len(out_spatial) == 1:
        for start, stop in _even_split(out_spatial[0], row, budget):
            yield (slice(start, stop),)
        return
    pieces = _even_split(out_spatial[1], position_bytes * math.prod(out_spatial[2:]), budget)
    for r in range(out_spatial[0]):
        for start, stop in pieces:
            yield slice(r, r + 1), slice(start, stop)


def _even_split(length, unit_bytes, budget):
    """``range(length)`` in near-equal parts of at most ``budget`` bytes (at least one unit each)."""
    parts = min(length, max(1, -(-length * unit_bytes // budget)))
    bounds = [length * i // parts for i in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _column_blocks(xpad, out_spatial, kernel, stride, dilation):
    """Yield ``(block, cols)``: the column matrix ``(C*K, positions*N)`` of the output positions
    ``block`` (slices, see :func:`_blocks`), filled into the thread's reused scratch buffer."""
    view = _columns_view(xpad, out_spatial, kernel, stride, dilation)
    d = len(kernel)
    ck = xpad.shape[0] * math.prod(kernel)
    for block in _blocks(out_spatial, ck * xpad.shape[-1] * xpad.itemsize, _budget(ck)):
        part = view[(slice(None),) * (1 + d) + block]
        buf = scratch(part.shape, xpad.dtype)
        np.copyto(buf, part)
        yield block, buf.reshape(ck, -1)


def conv_forward(xpad, wrows, out_spatial, kernel, stride, dilation, bias=None):
    """``out (OC, *O, N) = W (OC, C*K) @ cols``, one cache-sized block of output rows at a time."""
    oc = wrows.shape[0]
    out = np.empty((oc,) + tuple(out_spatial) + (xpad.shape[-1],), dtype=xpad.dtype)
    for block, cols in _column_blocks(xpad, out_spatial, kernel, stride, dilation):
        matmul(wrows, cols, out=out[(slice(None),) + block].reshape(oc, -1))
    if bias is not None:
        out += bias.reshape((oc,) + (1,) * (out.ndim - 1))
    return out


def conv_weight_grad(xpad, g, out_spatial, kernel, stride, dilation):
    """``dW (OC, C*K) = (cols @ dy^T)^T``, rebuilding the column blocks (cheaper than keeping
    the whole matrix: a cached block is faster to refill than a full one is to read back). The
    product is taken as ``(C*K, M) @ (M, OC)``: OpenBLAS runs that orientation 1.7-2.5x faster
    than ``(OC, M) @ (M, C*K)`` for these shapes (measured)."""
    oc = g.shape[0]
    gw = None
    for block, cols in _column_blocks(xpad, out_spatial, kernel, stride, dilation):
        part = matmul(cols, g[(slice(None),) + block].reshape(oc, -1).T)
        gw = part if gw is None else np.add(gw, part, out=gw)
    return np.ascontiguousarray(gw.T)


def conv_input_grad(g, wrows, in_shape, kernel, stride, pad_lo, pad_hi, dilation):
    """``dx (C, *S, N)``: ``dcols = W^T dy`` per block of output rows, then one slice add per
    kernel offset into a zero padded buffer (col2im), cropped to ``in_shape``."""
    c = in_shape[0]
    spatial = tuple(in_shape[1:-1])
    out_spatial = tuple(g.shape[1:-1])
    padded = (c,) + tuple(s + lo + hi for s, lo, hi in zip(spatial, pad_lo, pad_hi)) + (in_shape[-1],)
    gx = np.zeros(padded, dtype=g.dtype)
    oc = g.shape[0]
    k = math.prod(kernel)
    n = in_shape[-1]
    wt = np.ascontiguousarray(wrows.T)  # (C*K, OC)
    for block in _blocks(out_spatial, c * k * n * g.itemsize, _budget(c * k)):
        full = block + (slice(None),) * (len(out_spatial) - len(block))
        starts = [sl.start or 0 for sl in full]
        counts = [(sl.stop if sl.stop is not None else size) - start
                  for sl, size, start in zip(full, out_spatial, starts)]
        dcols = matmul(wt, g[(slice(None),) + block].reshape(oc, -1))
        dcols = dcols.reshape((c, k) + tuple(counts) + (n,))
        for index, offset in enumerate(np.ndindex(*kernel)):
            window = tuple(slice(o * dil + b * st, o * dil + b * st + (cnt - 1) * st + 1, st)
                           for o, dil, b, cnt, st in zip(offset, dilation, starts, counts, stride))
            target = gx[(slice(None),) + window]
            np.add(target, dcols[:, index], out=target)
    return gx[(slice(None),) + tuple(slice(lo, lo + s) for lo, s in zip(pad_lo, spatial))]
