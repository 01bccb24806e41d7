"""Batch-norm passes over an ``(M, C)`` matrix (channels-last activations), in pieces of rows.

Written plainly, batch norm makes about ten passes over the activations (mean, centring,
squares, their sum, scaling, shifting; as many again backward) and allocates three arrays of
their size. Here every pass works on pieces of about :data:`PIECE_ELEMENTS` numbers, on both
cores (``kernels/parallel.py``): the statistics are two read-only passes (the sum, then the sum
of squares of the centred piece, centred while it is in the cache), the output one pass, and
the backward one reading pass for its two sums and one for the gradient. ``x_hat`` is never
stored: each pass rebuilds it from the saved input, piece by piece, with the same roundings as
the plain formula ``(x - mean) * invstd``.

Two layout details keep NumPy's inner loops long: a per-channel vector broadcast over (m, C)
runs inner loops of only C numbers, so rows are taken 64 at a time as (m / 64, 64 C) with the
vector tiled 64 times; and per-channel sums add 64-row blocks first, then the blocks, and the
pieces in float64 (rounding error growing with about sqrt(M), not M).

Measured on 128x16x28x28 float32, forward + backward: 9.6 ms before (PyTorch 1.9-2.4 ms).
"""
import numpy as np

from .parallel import run_pieces, workers

PIECE_ELEMENTS = 1 << 18
_ROWS = 64  # rows per wide row, and per block of the sums


def _pieces(v):
    """Row ranges of about PIECE_ELEMENTS numbers, starting at multiples of 64 rows; an array of
    less than two pieces stays whole (handing it to a thread would cost more than the work)."""
    m = v.shape[0]
    parts = -(-v.size // PIECE_ELEMENTS)
    parts = min(-(-m // _ROWS), 1 if parts < 2 else max(workers(), parts))
    bounds = [min(m, -(-m * i // parts) // _ROWS * _ROWS) for i in range(parts)] + [m]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


class _Rows:
    """One piece of rows as at most two blocks: the whole multiples of 64 rows viewed as
    (m / 64, 64 C), and the rest as (r, C). ``vector(v)`` gives a per-channel vector in the
    shape that broadcasts over each block."""

    def __init__(self, piece, c):
        wide_stop = piece.start + (piece.stop - piece.start) // _ROWS * _ROWS
        self.blocks = [(slice(piece.start, wide_stop), True)] if wide_stop > piece.start else []
        if piece.stop > wide_stop:
            self.blocks.append((slice(wide_stop, piece.stop), False))
        self.c = c

    def each(self, *arrays):
        for rows, wide in self.blocks:
            yield wide, [a[rows].reshape(-1, _ROWS * self.c) if wide else a[rows] for a in arrays]


def _tiled(vector):
    """``(narrow, wide)`` forms of a per-channel vector (None stays None)."""
    return (None, None) if vector is None else (vector, np.tile(vector, _ROWS))


def _column_sum(a):
    """Per-column sum of ``a`` (m, C): 64-row blocks, then the blocks, in float64."""
    whole = a.shape[0] - a.shape[0] % _ROWS
    total = a[:whole].reshape(-1, _ROWS, a.shape[1]).sum(axis=0).sum(axis=0, dtype=np.float64)
    return total + a[whole:].sum(axis=0, dtype=np.float64)


def _column_dot(a, b):
    """Per-column sum of ``a * b`` (m, C) without the product array, blocked as above."""
    c = a.shape[1]
    whole = a.shape[0] - a.shape[0] % _ROWS
    blocks = np.einsum("ij,ij->j", a[:whole].reshape(-1, _ROWS * c), b[:whole].reshape(-1, _ROWS * c))
    total = blocks.reshape(_ROWS, c).sum(axis=0, dtype=np.float64)
    return total + np.einsum("ij,ij->j", a[whole:], b[whole:]).astype(np.float64)


def _normalized_into(out, v, mean, invstd):
    """``out = (v - mean) * invstd`` on one block."""
    np.subtract(v, mean, out=out)
    out *= invstd
    return out


def mean_and_variance(v):
    """Per-channel mean and biased variance (float64) of ``v`` (M, C): two read-only passes."""
    m, c = v.shape
    pieces = _pieces(v)
    mean = np.sum(run_pieces(lambda p: _column_sum(v[p]), pieces), axis=0) / m
    means = _tiled(mean.astype(v.dtype))

    def centred_squares(p):
        total = 0.0
        for wide, (block,) in _Rows(p, c).each(v):
            centred = block - means[wide]
            total = total + _column_dot(centred.reshape(-1, c), centred.reshape(-1, c))
        return total
    return mean, np.sum(run_pieces(centred_squares, pieces), axis=0) / m


def normalize(v, mean, invstd, weight, bias):
    """``(v - mean) * invstd * weight + bias`` per channel (weight and bias may be None), a new
    array, with the roundings of that formula."""
    out = np.empty_like(v)
    means, invstds, weights, biases = (_tiled(a) for a in (mean, invstd, weight, bias))

    def piece(p):
        for wide, (o, x) in _Rows(p, v.shape[1]).each(out, v):
            _normalized_into(o, x, means[wide], invstds[wide])
            if weight is not None:
                o *= weights[wide]
            if bias is not None:
                o += biases[wide]
    run_pieces(piece, _pieces(v))
    return out


def scale_shift(v, scale, shift):
    """``v * scale + shift`` per channel, a new array (inference with folded statistics)."""
    out = np.empty_like(v)
    scales, shifts = _tiled(scale), _tiled(shift)

    def piece(p):
        for wide, (o, x) in _Rows(p, v.shape[1]).each(out, v):
            np.multiply(x, scales[wide], out=o)
            o += shifts[wide]
    run_pieces(piece, _pieces(v))
    return out


def gradient_sums(g, v, mean, invstd):
    """Per-channel ``sum(g)`` and ``sum(g * x_hat)`` (float64), one pass over ``g`` and ``v``."""
    c = v.shape[1]
    means, invstds = _tiled(mean), _tiled(invstd)

    def piece(p):
        sums = np.zeros((2, c))
        for wide, (gb, x) in _Rows(p, c).each(g, v):
            x_hat = _normalized_into(np.empty_like(x), x, means[wide], invstds[wide])
            sums[0] += _column_sum(gb.reshape(-1, c))
            sums[1] += _column_dot(gb.reshape(-1, c), x_hat.reshape(-1, c))
        return sums
    sums = np.sum(run_pieces(piece, _pieces(g)), axis=0)
    return sums[0], sums[1]


def input_gradient(g, v, mean, invstd, mean_g, mean_gx, scale):
    """``(g - mean_g - x_hat * mean_gx) * scale`` per channel, a new array (the training-mode
    input gradient)."""
    out = np.empty_like(g)
    means, invstds, mean_gs, mean_gxs, scales = (_tiled(a) for a in (mean, invstd, mean_g, mean_gx, scale))

    def piece(p):
        for wide, (o, gb, x) in _Rows(p, v.shape[1]).each(out, g, v):
            np.subtract(gb, mean_gs[wide], out=o)
            x_hat = _normalized_into(np.empty_like(x), x, means[wide], invstds[wide])
            x_hat *= mean_gxs[wide]
            o -= x_hat
            o *= scales[wide]
    run_pieces(piece, _pieces(g))
    return out


def scale_shift_epilogue(scale=None, shift=None, relu=False):
    """An epilogue for the convolution (``conv_algo.conv_forward``): in place, ``block = block *
    scale + shift`` per channel, then ``max(block, 0)`` if ``relu``, on each ``(rows, C)`` block
    of the output while it is in the cache. A batch norm in evaluation mode is such a scale and
    shift, so ``conv -> BN -> ReLU`` at inference makes no pass over memory of its own. The
    NumPy operations are the separate layers', in the same order: the results are identical."""
    scales, shifts = _tiled(scale), _tiled(shift)

    def apply(block, wide):
        if scale is not None:
            block *= scales[wide]
        if shift is not None:
            block += shifts[wide]
        if relu:
            np.maximum(block, 0, out=block)

    def epilogue(block):
        if block.ndim != 2 or not block.flags.c_contiguous:  # any (..., C) array, in one go
            apply(block, False)
            return
        for wide, (part,) in _Rows(slice(0, block.shape[0]), block.shape[1]).each(block):
            apply(part, wide)
    return epilogue
