"""im2col / col2im on channels-last memory, for 1-, 2- and 3-D convolution.

Every array here is channels-last: an input is ``(N, *spatial, C)``. In that layout the
``C`` values of one pixel are adjacent, so the column matrix of a convolution is a plain copy of
a strided window view and one GEMM does the whole convolution::

    cols[n, o..., k..., c] = xpad[n, o*s + k*d ..., c]          (one copy, no transpose)
    out[(n, o...), oc]     = cols[(n, o...), (k..., c)] @ Wmat[(k..., c), oc]

With groups, the channels split as ``C = G * Cg`` and the column matrix is stored per group,
``(G, M, K*Cg)``, so the GEMM is one batched ``matmul``. ``col2im`` is the adjoint of
``im2col``: it adds each kernel offset's slice of the columns back into the padded input, one
slice add per offset (never ``np.add.at``).
"""
import math
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .blas import matmul


def window_view(xpad, out_spatial, kernel, stride, dilation):
    """Read-only view ``(N, *out_spatial, *kernel, C)`` of the sliding windows of ``xpad``."""
    d = len(kernel)
    s = xpad.strides
    shape = (xpad.shape[0], *out_spatial, *kernel, xpad.shape[-1])
    strides = (s[0], *(s[1 + i] * stride[i] for i in range(d)),
               *(s[1 + i] * dilation[i] for i in range(d)), s[-1])
    return as_strided(xpad, shape, strides, writeable=False)


class Workspace:
    """A pool of column buffers reused across calls, so that the large ``im2col`` buffers are
    not freshly allocated (and page-faulted in) for every convolution.

    Only buffers that :func:`im2col` allocated come back here (``give``), after their last use;
    the pool holds at most ``limit()`` bytes.
    """

    def __init__(self, limit):
        self.limit = limit
        self.free = {}
        self.held = 0
        self._lock = threading.Lock()  # a convolution's two gradients may run on two threads

    def take(self, shape, dtype):
        key = (tuple(shape), np.dtype(dtype).str)
        with self._lock:
            stack = self.free.get(key)
            if stack:
                buf = stack.pop()
                self.held -= buf.nbytes
                return buf
        return np.empty(shape, dtype=dtype)

    def give(self, buf):
        if buf is None:
            return
        with self._lock:
            if self.held + buf.nbytes > self.limit():
                return
            self.free.setdefault((buf.shape, buf.dtype.str), []).append(buf)
            self.held += buf.nbytes

    def clear(self):
        with self._lock:
            self.free.clear()
            self.held = 0


def im2col(xpad, out_spatial, kernel, stride, dilation, groups=1, workspace=None):
    """Column matrix ``(G, M, K*Cg)`` of a padded channels-last input ``(N, *Sp, C)``.

    ``M = N * prod(out_spatial)`` rows (one per output position), ``K = prod(kernel)``; within
    a row the order is (kernel offsets..., channel of the group).

    Returns ``(cols, buffer)``: ``buffer`` is the freshly filled array behind ``cols`` (to give
    back to ``workspace`` after use), or None when ``cols`` is a view of ``xpad`` itself.
    """
    n, c = xpad.shape[0], xpad.shape[-1]
    m = n * math.prod(out_spatial)
    k = math.prod(kernel)
    if k == 1 and groups == 1 and all(st == 1 for st in stride) and xpad.flags.c_contiguous \
            and tuple(xpad.shape[1:-1]) == tuple(out_spatial):
        return xpad.reshape(1, m, c), None  # 1x1, stride 1, no padding: the input is the matrix
    if c == 1:
        return _im2col_single_channel(xpad, out_spatial, kernel, stride, dilation, workspace)
    win = window_view(xpad, out_spatial, kernel, stride, dilation)
    if groups > 1:
        win = win.reshape(win.shape[:-1] + (groups, c // groups))
        win = np.moveaxis(win, -2, 0)  # (G, N, *O, *K, Cg)
    buf = np.empty(win.shape, dtype=xpad.dtype) if workspace is None else workspace.take(win.shape, xpad.dtype)
    np.copyto(buf, win)
    return buf.reshape(groups, m, k * (c // groups)), buf


def _im2col_single_channel(xpad, out_spatial, kernel, stride, dilation, workspace):
    """One input channel: copying window views would move K-element runs one at a time, so fill
    a kernel-offset-major buffer ``(K, M)`` with one slice copy per offset instead and hand it to
    the GEMM as its (free) transpose ``(M, K)``."""
    k = math.prod(kernel)
    shape = (k, xpad.shape[0]) + tuple(out_spatial)
    buf = np.empty(shape, dtype=xpad.dtype) if workspace is None else workspace.take(shape, xpad.dtype)
    for index, offset in enumerate(np.ndindex(*kernel)):
        window = tuple(slice(o * dil, o * dil + (size - 1) * st + 1, st)
                       for o, dil, size, st in zip(offset, dilation, out_spatial, stride))
        buf[index] = xpad[(slice(None),) + window + (0,)]
    return buf.reshape(k, -1).T[None], buf


def col2im(dcols, padded_shape, out_spatial, kernel, stride, dilation):
    """Adjoint of :func:`im2col`: sum per-offset columns back into a zero ``padded_shape`` array.

    ``dcols`` is ``(G, K, M, Cg)``: for each kernel offset a contiguous ``(M, Cg)`` block (one
    GEMM per offset produces it), so every one of the K slice adds reads contiguous memory.
    """
    n, c = padded_shape[0], padded_shape[-1]
    groups, cg = dcols.shape[0], dcols.shape[-1]
    gx = np.zeros(padded_shape, dtype=dcols.dtype)
    for index, offset in enumerate(np.ndindex(*kernel)):
        window = tuple(slice(o * dil, o * dil + (size - 1) * st + 1, st)
                       for o, dil, size, st in zip(offset, dilation, out_spatial, stride))
        target = gx[(slice(None),) + window]
        block = dcols[:, index].reshape((groups, n) + tuple(out_spatial) + (cg,))
        if groups == 1:
            np.add(target, block[0], out=target)
        else:
            target = target.reshape(target.shape[:-1] + (groups, cg))  # a view: splits the last axis
            np.add(target, np.moveaxis(block, 0, -2), out=target)
    return gx


def offset_weights(weight, groups):
    """Conv weight ``(OC, Cg, *K)`` as ``(G, K, OCg, Cg)``: one ``dy -> dx`` matrix per offset.

    A contiguous copy (small): NumPy's batched matmul falls back to a slow non-BLAS loop when an
    operand's matrices are transposed views, which the GEMM-layout view would be (measured 200 ms
    instead of 10 ms per LeNet-5 step)."""
    oc, cg = weight.shape[:2]
    k = math.prod(weight.shape[2:])
    wt = _kernel_last(weight).reshape(k, cg, groups, oc // groups)
    return np.ascontiguousarray(wt.transpose(2, 0, 3, 1))


# ----------------------------------------------------------------------------------------------
# Weights. The GEMM wants the kernel as a (K*Cg, OC) matrix, rows ordered (kernel offset, channel).
# A weight of shape (OC, Cg, *K) stored in (*K, Cg, OC) memory order (the "GEMM layout", what the
# nn layers allocate, like channels-last for activations) gives that matrix as a free view; any
# other layout costs one copy per call.
# ----------------------------------------------------------------------------------------------
def gemm_layout(weight):
    """The same values as an ``(OC, Cg, *K)`` view of ``(*K, Cg, OC)`` memory."""
    stored = np.ascontiguousarray(_kernel_last(weight))
    return np.moveaxis(stored, (-1, -2), (0, 1))


def has_gemm_layout(weight):
    return _kernel_last(weight).flags.c_contiguous


def weight_matrix(weight, groups):
    """Conv weight ``(OC, Cg, *K)`` as the GEMM operand ``(G, K*Cg, OCg)``, rows ordered (k..., c)."""
    oc, cg = weight.shape[:2]
    k = math.prod(weight.shape[2:])
    mat = _kernel_last(weight).reshape(k * cg, groups, oc // groups)
    return mat.transpose(1, 0, 2)


def weight_from_matrix(wmat, weight_shape, groups):
    """Inverse of :func:`weight_matrix`: ``(G, K*Cg, OCg)`` back to ``(OC, Cg, *K)``, returned in
    the GEMM layout (a free view when ``groups == 1``)."""
    oc, cg = weight_shape[:2]
    kernel = tuple(weight_shape[2:])
    stored = np.ascontiguousarray(wmat.transpose(1, 0, 2)).reshape(kernel + (cg, oc))
    return np.moveaxis(stored, (-1, -2), (0, 1))


def group_gemm(a, b, transpose_a=False, transpose_b=False):
    """Per-group matrix product ``a[g] @ b[g]`` (optionally transposed), one BLAS call per group."""
    if transpose_a:
        a = a.transpose(0, 2, 1)
    if transpose_b:
        b = b.transpose(0, 2, 1)
    if a.shape[0] == 1:
        return matmul(a[0], b[0])[None]
    return matmul(a, b)


def to_channels_last(x):
    """``(N, C, *S)`` -> ``(N, *S, C)``; free when ``x`` already has channels-last strides."""
    return x.transpose((0,) + tuple(range(2, x.ndim)) + (1,))


def to_channels_first(x):
    """``(N, *S, C)`` -> an ``(N, C, *S)`` view of the same memory."""
    return x.transpose((0, x.ndim - 1) + tuple(range(1, x.ndim - 1)))


def _kernel_last(weight):
    """``(OC, Cg, *K)`` -> ``(*K, Cg, OC)`` (a view)."""
    return weight.transpose(tuple(range(2, weight.ndim)) + (1, 0))


def pad_channels_last(xl, pad_lo, pad_hi, workspace=None):
    """Zero-pad the spatial axes of a channels-last array into a contiguous buffer.

    With ``workspace`` the buffer comes from the pool (only its border is zeroed); give it back
    when done. Without padding a contiguous input is returned as is.
    """
    if not any(pad_lo) and not any(pad_hi):
        return np.ascontiguousarray(xl)
    spatial = xl.shape[1:-1]
    shape = (xl.shape[0],) + tuple(s + lo + hi for s, lo, hi in zip(spatial, pad_lo, pad_hi)) + (xl.shape[-1],)
    if workspace is None:
        xpad = np.zeros(shape, dtype=xl.dtype)
    else:
        xpad = workspace.take(shape, xl.dtype)
        for axis, (lo, size) in enumerate(zip(pad_lo, spatial), start=1):
            index = [slice(None)] * xpad.ndim
            index[axis] = slice(0, lo)
            xpad[tuple(index)] = 0
            index[axis] = slice(lo + size, None)
            xpad[tuple(index)] = 0
    inner = tuple(slice(lo, lo + s) for lo, s in zip(pad_lo, spatial))
    xpad[(slice(None),) + inner] = xl
    return xpad
