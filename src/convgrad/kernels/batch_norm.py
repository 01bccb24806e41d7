"""Batch-norm passes over an ``(M, C)`` matrix (channels-last activations), in pieces of rows.

Written plainly, batch norm makes about ten passes over the activations (mean, centring,
squares, their sum, scaling, shifting; as many again backward) and allocates three arrays of
their size. Here every pass works on pieces of about :data:`PIECE_ELEMENTS` numbers (1 MB of
float32, about what one core's L2 holds), a temporary is one piece-sized buffer used while the
piece is in the cache, ``x_hat`` is never stored, and each pass does as few NumPy operations per
number as the numerics allow:

* statistics, one reading pass: each piece minus a per-channel *shift* ``K`` (the mean of up to
  256 rows scattered over the batch) into the buffer, its sums and its sums of squares; ``mean
  = K + S1 / M``, ``var = S2 / M - (S1 / M)^2``. ``K`` is a fraction of a standard deviation
  from the mean, so nothing cancels (never ``E[x^2] - E[x]^2`` on raw data); should a channel's
  ``K`` be more than one standard deviation off, the pass runs again centred on the mean found.
* output, two operations per number: ``x * s + t`` with ``s = invstd * weight`` and ``t = bias
  - mean * s`` folded per channel. Folding rounds ``x * s``, an error of about ``|mean| *
  invstd`` units in the last place of the result, so when some channel's ``|mean| * invstd``
  exceeds :data:`FOLD_LIMIT` (3) the output is ``(x - mean) * s + bias`` (three).
* backward sums: ``sum(g)`` and ``sum(g * x) - mean * sum(g)`` (folded, no temporary), or
  ``sum(g * (x - mean))`` past FOLD_LIMIT; times ``invstd`` at the end.
* input gradient, four operations per number: ``dx = g * a + (x * b + k)`` with per-channel
  ``a = scale``, ``b = -scale invstd mean(g x_hat)``, ``k = -scale mean(g) - b mean`` (past
  FOLD_LIMIT ``(x - mean) * b - scale mean(g)``, five).

Layout details that keep NumPy fast:

* a per-channel vector broadcast over (m, C) runs inner loops of only C numbers, 2-3x the cost
  of a same-shape operation; rows are taken R = :data:`WIDE_ELEMENTS` / C at a time as (m / R,
  R C) with the vector tiled R times (R at least 64), inner loops of 16384 numbers, and the
  broadcast costs what a same-shape operation does (measured, 100352x16 multiply: 0.48 ms on
  64-row wide rows, 0.24 ms on 1024-row ones, 0.29 ms same-shape);
* per-channel sums are a BLAS product ``ones @ block`` and sums of products ``einsum("ij,ij->j")``
  over rows of 64 C numbers (float32 partial sums of at most a piece's rows / 64 terms, then
  float64 across blocks and pieces); ``v.sum(axis=0)`` is 10-20x slower than the product;
* the pieces run in the caller with one BLAS thread unless the array has PARALLEL_MIN_SIZE
  (16M) numbers: measured on this 2-core machine with another job on it, two workers were
  slower at every size of the benchmarks (100352x16: 5.6 vs 6.6 ms for the four passes,
  65536x64: 13.6 vs 16.6) and 6% faster only at 262144x64.

Measured (``bench/bn_micro.py --against 49a8923``, one thread, float32, hot in the cache,
medians of 21 alternating calls; statistics / output / backward sums / input gradient, ms):
100352x16 1.54 / 1.76 / 1.89 / 2.52 before, 1.40 / 1.02 / 0.99 / 1.64 now (7.80 -> 5.04 in
all); 65536x64 19.9 -> 12.0; 1024x512 1.55 -> 1.20. In the small-ResNet training step (nine
layers, the kernels module swapped step by step in one process) batch norm forward + backward
takes 48.5 -> 34.6 ms per step at one thread, 41.9 -> 30.3 at two. PyTorch: 1.9-2.4 ms for
the four passes on 100352x16.
"""
import threading

import numpy as np

from .blas import blas_threads
from .parallel import run_pieces, workers

PIECE_ELEMENTS = 1 << 18
WIDE_ELEMENTS = 1 << 14  # numbers per wide row (the inner loop of a broadcast)
# Largest |mean| * invstd for which x * s + t replaces (x - mean) * s + bias: the folded
# rounding error stays within about 4 units in the last place, against 2-3 for the centred
# formula. (At 8, tests/test_models_torch.py's ResNet-18 gradients differed from PyTorch by 2%:
# a ReLU input 1.8e-7 from zero in layer2.0 changed sign. In the benchmarks' training steps
# |mean| * invstd stays below 2.4, so every layer folds.)
FOLD_LIMIT = 3.0
PARALLEL_MIN_SIZE = 1 << 24  # smaller arrays run their pieces in the caller (see the docstring)
_ROWS = 64  # the narrowest wide row; pieces start at multiples of it
_SAMPLE_ROWS = 256  # rows averaged for the shift of the statistics (at most 16384 numbers)
_SCATTER = 2654435761  # row i of the sample is i * _SCATTER mod M (Knuth's multiplicative hash)


def _wide_rows(c):
    """Rows per wide row for C channels: about WIDE_ELEMENTS numbers, a multiple of 64 rows,
    and no more than a piece."""
    per_piece = max(_ROWS, PIECE_ELEMENTS // max(c, 1) // _ROWS * _ROWS)
    return min(per_piece, max(_ROWS, WIDE_ELEMENTS // max(c, 1) // _ROWS * _ROWS))


class _Plan:
    """How an (M, C) array is cut. ``rows`` (R) rows make one wide row of about WIDE_ELEMENTS
    numbers (a multiple of 64, at least 64). ``pieces`` are row ranges of about PIECE_ELEMENTS
    numbers starting at multiples of R rows (an array of less than two pieces stays whole; on
    the workers, a number of pieces divisible by theirs). ``blocks(piece)`` cuts a piece into at
    most three 2-D views of whole wide rows: R rows wide, then 64 rows wide, then single rows."""

    def __init__(self, shape):
        m, c = shape
        self.c = c
        self.rows = _wide_rows(c)
        self.widths = [w for w in (self.rows, _ROWS, 1) if w <= self.rows]
        self.widths = sorted(set(self.widths), reverse=True)
        self.parallel = m * c >= PARALLEL_MIN_SIZE
        parts = -(-m * c // PIECE_ELEMENTS)
        if parts >= 2 and self.parallel:
            count = workers()
            parts = -(-max(count, parts) // count) * count
        parts = max(1, min(-(-m // self.rows), parts))
        bounds = [min(m, -(-m * i // parts) // self.rows * self.rows) for i in range(parts)] + [m]
        self.pieces = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        self.largest = max((p.stop - p.start) * c for p in self.pieces) if self.pieces else 0
        self.tile = next((w for w in self.widths if w <= max(p.stop - p.start for p in self.pieces)), 1)

    def buffer(self, dtype):
        """A piece-sized buffer private to the calling thread (its contents are garbage): one
        per thread and dtype, kept at the largest size asked for. (``parallel.scratch`` keys
        its buffers by shape and drops them when the convolutions ask for a few other shapes;
        a new buffer costs a page fault per 4 kB on its first use.)"""
        buffers = getattr(_local, "buffers", None)
        if buffers is None:
            buffers = _local.buffers = {}
        key = np.dtype(dtype).str
        buf = buffers.get(key)
        if buf is None or buf.size < self.largest:
            buf = buffers[key] = np.empty(self.largest, dtype)
        return buf[:self.largest]

    def blocks(self, piece, *arrays):
        """``(width, views)`` for each block of ``piece``: every array's rows as (n, width C)."""
        start, stop = piece.start, piece.stop
        for width in self.widths:
            end = start + (stop - start) // width * width
            if end > start:
                yield width, [a[start:end].reshape(-1, width * self.c) for a in arrays]
                start = end

    def tiled(self, vector):
        """A per-channel vector tiled for the widest rows used; ``[:width C]`` fits narrower
        ones."""
        if vector is None or self.tile == 1:
            return vector
        return np.tile(vector, self.tile)

    def map(self, fn):
        """``[fn(piece) for piece in pieces]``: on the workers if the array is large enough,
        else in the caller with one BLAS thread (a product of one piece on two BLAS threads
        waits for the second core more than it gains)."""
        if self.parallel:
            return run_pieces(fn, self.pieces)
        with blas_threads(1):
            return [fn(piece) for piece in self.pieces]

    def run(self, fn):
        """:meth:`map`, the float64 results added up."""
        return np.sum(self.map(fn), axis=0)


_plans = {}


def _plan(shape):
    """The :class:`_Plan` of ``shape`` (kept: a training step asks for the same few shapes)."""
    key = (tuple(shape), PIECE_ELEMENTS, WIDE_ELEMENTS, PARALLEL_MIN_SIZE, workers())
    plan = _plans.get(key)
    if plan is None:
        if len(_plans) >= 64:
            _plans.clear()
        plan = _plans[key] = _Plan(shape)
    return plan


_ones = {}
_local = threading.local()


def _ones_for(n, dtype):
    """A read-only vector of at least ``n`` ones (the left side of the sums' products)."""
    key = np.dtype(dtype).str
    ones = _ones.get(key)
    if ones is None or ones.size < n:
        ones = np.ones(max(n, 1024), dtype)
        ones.flags.writeable = False
        _ones[key] = ones
    return ones[:n]


def _add_sum(acc, block, other=None):
    """``acc += per-channel sum of block`` (or of ``block * other``), both (n, width C), in
    float64. Viewed as rows of 64 C numbers (or C, for single rows), the column sums come from
    a BLAS product with ones, or for products from einsum (which multiplies and adds without
    writing the product): float32 sums of at most a piece's rows / 64 terms, as many as
    ``v.reshape(-1, 64, C).sum(axis=0)`` adds. A second product folds them to C in float64."""
    c = acc.size
    if block.shape[1] % (_ROWS * c) == 0:
        block = block.reshape(-1, _ROWS * c)
        other = None if other is None else other.reshape(-1, _ROWS * c)
    if other is not None:
        partial = np.einsum("ij,ij->j", block, other)
    else:
        partial = block[0] if block.shape[0] == 1 else _ones_for(block.shape[0], block.dtype) @ block
    acc += _ones_for(partial.size // c, np.float64) @ partial.reshape(-1, c).astype(np.float64)


def _dtype_vector(values, dtype):
    """A per-channel vector computed in float64, rounded once to ``dtype``."""
    return np.asarray(values, dtype=np.float64).astype(dtype)


def _fold(mean, invstd):
    """Whether ``x * s + t`` may replace ``(x - mean) * s + bias`` (see FOLD_LIMIT)."""
    return float(np.max(np.abs(np.asarray(mean, np.float64) * np.asarray(invstd, np.float64)), initial=0)) <= FOLD_LIMIT


def _sample_rows(m, c):
    """The rows whose mean is the statistics' shift: 16-256 of them (at most 16384 numbers),
    scattered over the batch (evenly spaced rows would fall on the same pixels of every image,
    often on its border, whose mean is not the batch's)."""
    rows = min(m, max(16, min(_SAMPLE_ROWS, WIDE_ELEMENTS // max(c, 1))))
    return np.arange(rows, dtype=np.int64) * _SCATTER % m


def mean_and_variance(v):
    """Per-channel mean and biased variance (float64) of ``v`` (M, C).

    One reading pass over ``v``: each piece minus the shift ``K`` (the mean of 16-256 rows) into a
    piece-sized buffer, then the buffer's column sums and sums of squares. If a channel's shift
    was further than one standard deviation from its mean (``(S1 / M)^2 > var``), the pass runs
    again centred on the mean found."""
    m, c = v.shape
    plan = _plan(v.shape)
    sample = v[_sample_rows(m, c)]
    shift = (_ones_for(sample.shape[0], np.float64) @ sample.astype(np.float64) / sample.shape[0]).astype(v.dtype)
    mean, var, off = _shifted_sums(v, plan, shift)
    if np.any(off):
        mean, var, _ = _shifted_sums(v, plan, mean.astype(v.dtype))
    return mean, var


def _shifted_sums(v, plan, shift):
    """Mean, variance and the channels whose shift was more than one standard deviation off
    the mean, from the sums of ``(v - shift)`` and of its squares."""
    m, c = v.shape
    shifts = plan.tiled(shift)

    def piece(p):
        sums = np.zeros((2, c))
        buf = plan.buffer(v.dtype)
        for width, (x,) in plan.blocks(p, v):
            d = buf[:x.size].reshape(x.shape)
            buf = buf[x.size:]
            np.subtract(x, shifts[:x.shape[1]], out=d)
            _add_sum(sums[0], d)
            _add_sum(sums[1], d, d)
        return sums
    s1, s2 = plan.run(piece) / m
    mean = shift.astype(np.float64) + s1
    var = s2 - s1 * s1
    return mean, np.maximum(var, 0), s1 * s1 > var


def normalize(v, mean, invstd, weight, bias):
    """``(v - mean) * invstd * weight + bias`` per channel (weight and bias may be None), a new
    array: ``v * s + t`` with ``s = invstd * weight`` and ``t = bias - mean * s`` (two operations
    per number), or ``(v - mean) * s + bias`` (three) when the mean is large (FOLD_LIMIT)."""
    s = np.asarray(invstd, np.float64) * (1 if weight is None else np.asarray(weight, np.float64))
    if _fold(mean, invstd):
        t = (0 if bias is None else np.asarray(bias, np.float64)) - np.asarray(mean, np.float64) * s
        return scale_shift(v, _dtype_vector(s, v.dtype), _dtype_vector(t, v.dtype))
    out = np.empty_like(v)
    plan = _plan(v.shape)
    means, scales = plan.tiled(mean), plan.tiled(_dtype_vector(s, v.dtype))
    biases = plan.tiled(bias)

    def piece(p):
        for width, (o, x) in plan.blocks(p, out, v):
            n = x.shape[1]
            np.subtract(x, means[:n], out=o)
            o *= scales[:n]
            if bias is not None:
                o += biases[:n]
    plan.map(piece)
    return out


def scale_shift(v, scale, shift):
    """``v * scale + shift`` per channel (shift may be None), a new array: inference with folded
    statistics, the folded training output, the evaluation-mode input gradient."""
    out = np.empty_like(v)
    plan = _plan(v.shape)
    scales, shifts = plan.tiled(scale), plan.tiled(shift)

    def piece(p):
        for width, (o, x) in plan.blocks(p, out, v):
            np.multiply(x, scales[:x.shape[1]], out=o)
            if shift is not None:
                o += shifts[:x.shape[1]]
    plan.map(piece)
    return out


def gradient_sums(g, v, mean, invstd):
    """Per-channel ``sum(g)`` and ``sum(g * x_hat)`` (float64), one pass over ``g`` and ``v``:
    ``ones @ g`` and ``einsum(g, v)`` per block, ``sum(g * v) - mean * sum(g)`` with no
    temporary; past FOLD_LIMIT ``sum(g * (v - mean))``, the centred piece in the buffer. Both
    times invstd at the end."""
    m, c = v.shape
    plan = _plan(v.shape)
    fold = _fold(mean, invstd)
    means = plan.tiled(mean)

    def piece(p):
        sums = np.zeros((2, c))
        buf = None if fold else plan.buffer(v.dtype)
        for width, (gb, x) in plan.blocks(p, g, v):
            _add_sum(sums[0], gb)
            if fold:
                _add_sum(sums[1], gb, x)
            else:
                d = buf[:x.size].reshape(x.shape)
                buf = buf[x.size:]
                _add_sum(sums[1], gb, np.subtract(x, means[:x.shape[1]], out=d))
        return sums
    sum_g, sum_gx = plan.run(piece)
    if fold:
        sum_gx = sum_gx - np.asarray(mean, np.float64) * sum_g
    return sum_g, sum_gx * np.asarray(invstd, np.float64)


def input_gradient(g, v, mean, invstd, mean_g, mean_gx, scale):
    """``(g - mean_g - x_hat * mean_gx) * scale`` per channel, a new array (the training-mode
    input gradient), as ``g * a + (v * b + k)`` with ``a = scale``, ``b = -scale invstd
    mean_gx`` and ``k = -scale mean_g - b mean``: ``v * b + k`` in the piece buffer, then ``g *
    a`` into the output and the buffer added, four operations per number. Past FOLD_LIMIT the
    buffer holds ``(v - mean) * b - scale mean_g`` (five)."""
    m, c = v.shape
    f64 = (lambda a: np.asarray(a, np.float64))
    a = f64(scale)
    b = -a * f64(invstd) * f64(mean_gx)
    k = -a * f64(mean_g)
    fold = _fold(mean, invstd)
    if fold:
        k = k - b * f64(mean)
    out = np.empty_like(g)
    plan = _plan(v.shape)
    a_s, b_s, k_s = (plan.tiled(_dtype_vector(x, g.dtype)) for x in (a, b, k))
    means = plan.tiled(mean)

    def piece(p):
        buf = plan.buffer(v.dtype)
        for width, (o, gb, x) in plan.blocks(p, out, g, v):
            n = x.shape[1]
            d = buf[:x.size].reshape(x.shape)
            buf = buf[x.size:]
            if fold:
                np.multiply(x, b_s[:n], out=d)
            else:
                np.subtract(x, means[:n], out=d)
                d *= b_s[:n]
            d += k_s[:n]  # in the buffer, while it is in the cache
            np.multiply(gb, a_s[:n], out=o)
            o += d
    plan.map(piece)
    return out


def scale_shift_epilogue(scale=None, shift=None, relu=False):
    """An epilogue for the convolution (``conv_algo.conv_forward``): in place, ``block = block *
    scale + shift`` per channel, then ``max(block, 0)`` if ``relu``, on each ``(rows, C)`` block
    of the output while it is in the cache. A batch norm in evaluation mode is such a scale and
    shift, so ``conv -> BN -> ReLU`` at inference makes no pass over memory of its own. The
    NumPy operations are the separate layers', in the same order: the results are identical."""
    channels = next((np.size(a) for a in (scale, shift) if a is not None), 1)
    rows = _wide_rows(channels)
    scales = None if scale is None else np.tile(scale, rows)
    shifts = None if shift is None else np.tile(shift, rows)

    def apply(block, scale_v, shift_v):
        if scale is not None:
            block *= scale_v
        if shift is not None:
            block += shift_v
        if relu:
            np.maximum(block, 0, out=block)

    def epilogue(block):
        if block.ndim != 2 or not block.flags.c_contiguous or block.shape[1] != channels:
            apply(block, scale, shift)  # any (..., C) array, in one go
            return
        start, m = 0, block.shape[0]
        for width in (rows, _ROWS, 1):
            end = start + (m - start) // width * width
            if end > start:
                n = width * channels
                apply(block[start:end].reshape(-1, n), None if scale is None else scales[:n],
                      None if shift is None else shifts[:n])
                start = end
    return epilogue
