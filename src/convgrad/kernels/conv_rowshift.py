"""Row-shift convolution: im2col over every kernel axis but the first, one GEMM per kernel row.

The full column matrix of a ``kh x kw`` convolution copies every input value about ``kh * kw``
times. But two kernel rows ``i`` and ``i + 1`` see the same input rows, one row apart. So copy
only the windows of the other axes, once for every input row (stride 1 along the first axis)::

    rows[n, h, o2, (k2, c)] = xpad[n, h, o2 * s2 + k2 * d2, c]            (kw times the input)

and for each kernel row ``i`` the rows ``h = o1 + i * d1`` form a plain sub-matrix of it, so

    out[(o1, o2), oc] = sum over i of rows[(o1 + i * d1, o2), (k2, c)] @ W[i][(k2, c), oc]

is ``kh`` GEMMs with ``K = kw * C`` summed into one output by BLAS itself (``beta = 1``, see
:func:`convgrad.kernels.blas.gemm_into`): a third of the copying for a 3x3 kernel and no extra
pass. The weight gradient is the same with the roles swapped: ``dW[i] = rows_i^T @ dy``.

Used per sample (a sample's rows are one contiguous matrix) for ungrouped convolutions of two or
more spatial axes with stride 1 and a kernel of at least two along the first axis, rows of at
most MAX_ROW_COLUMNS columns and products of at least MIN_ROW_FLOP: by the pieces of
:mod:`.conv_algo` and for a single sample at inference. Measured, 3x3 at batch 1 in isolation,
64 channels on 56x56 2.43 -> 2.32 ms and 128 on 28x28 1.76 -> 1.73 (the copy it saves is a
larger share with fewer channels); whole steps, alternating A/B, median of the paired ratios:
ResNet-18 inference 0.95 at batch 1 and 0.98 at batch 8, the 3x3 64-channel workload 0.97.
"""
import math

import numpy as np

from .blas import gemm_into
from .im2col import window_view
from .parallel import scratch


# Smallest product (2 M K N flops) of one kernel row for one sample: below it the per-sample
# GEMM calls cost more than the copying they save (measured: a small ResNet's 16-64 channel
# layers at batch 128 on 28x28, ~1 MFLOP products, made its training step 1.4x slower).
MIN_ROW_FLOP = 1e7
# Widest row of columns (kw * C) taken by rows: wider rows already make one long GEMM efficient
# and the copy a small share, and the three shorter products lose (measured, 3x3 at batch 1:
# 256 channels 1.83 -> 1.89 ms, 512 channels 2.16 -> 2.26; batch 8, 256 channels 7.9 -> 8.4).
MAX_ROW_COLUMNS = 512


def eligible(kernel, stride, groups, out_spatial=None, channels=0, out_channels=0):
    """True for ungrouped convolutions of 2 or more spatial axes with stride 1 along the first
    and a kernel of at least 2 along it; when the sizes are given, also rows of at most
    MAX_ROW_COLUMNS columns and per-sample products of at least MIN_ROW_FLOP."""
    if not (groups == 1 and len(kernel) >= 2 and stride[0] == 1 and kernel[0] > 1):
        return False
    if out_spatial is None:
        return True
    columns = math.prod(kernel[1:]) * channels
    return columns <= MAX_ROW_COLUMNS and 2 * math.prod(out_spatial) * columns * out_channels >= MIN_ROW_FLOP


def _kernel_row_operands(xs, rows, out_spatial, kernel, stride, dilation):
    """For output rows ``rows`` of one padded sample ``xs`` (``(*Sp, C)``): the columns of the
    input rows they reach, copied once into the thread's scratch buffer, as one sub-matrix
    ``(rows * prod(O[1:]), prod(K[1:]) * C)`` per kernel row, and the weight-matrix rows of each
    kernel row (``slice``s of ``prod(K[1:]) * C``)."""
    reach = (kernel[0] - 1) * dilation[0]
    read = slice(rows.start, rows.stop + reach)
    view = window_view(xs[None, read], (read.stop - read.start,) + tuple(out_spatial[1:]),
                       (1,) + tuple(kernel[1:]), (1,) + tuple(stride[1:]), (1,) + tuple(dilation[1:]))
    buf = scratch(view.shape, xs.dtype)
    np.copyto(buf, view)
    k_rest = math.prod(kernel[1:]) * xs.shape[-1]
    cols = buf.reshape(-1, k_rest)
    per_row, out_rows = math.prod(out_spatial[1:]), rows.stop - rows.start
    for i in range(kernel[0]):
        yield (cols[i * dilation[0] * per_row:(i * dilation[0] + out_rows) * per_row],
               slice(i * k_rest, (i + 1) * k_rest))


def forward_rows(xs, wmat, out2d, rows, out_spatial, kernel, stride, dilation):
    """Output rows ``rows`` of one sample: ``out2d`` (rows * prod(O[1:]), OC) <- the sum of the
    kernel rows' products. ``xs`` is the padded sample (``(*Sp, C)``) and ``wmat`` the
    ``(K*C, OC)`` weight matrix (rows ordered (k..., c))."""
    for i, (a, w_rows) in enumerate(_kernel_row_operands(xs, rows, out_spatial, kernel, stride, dilation)):
        gemm_into(a, wmat[w_rows], out2d, beta=0.0 if i == 0 else 1.0)
    return out2d


def weight_grad_rows(xs, g2d, gw, rows, out_spatial, kernel, stride, dilation, accumulate):
    """``gw`` (K*C, OC) += (or, without ``accumulate``, =) the weight gradient of output rows
    ``rows`` of one sample, whose gradient is ``g2d`` (rows * prod(O[1:]), OC)."""
    for a, w_rows in _kernel_row_operands(xs, rows, out_spatial, kernel, stride, dilation):
        gemm_into(a, g2d, gw[w_rows], beta=1.0 if accumulate else 0.0, transpose_a=True)
    return gw
