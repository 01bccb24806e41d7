"""Run independent pieces of one large operation on both cores, one BLAS thread each.

A large convolution is im2col (a memory copy, which NumPy runs on one core) followed by a GEMM
(which BLAS runs on all its threads). Done one after the other, one core idles through every
copy. Split into pieces by samples (or by output rows), each piece's copy and product run in a
worker thread with a one-thread BLAS, so one core copies while the other multiplies; NumPy
releases the GIL inside both. Each piece's column block is a small per-thread buffer
(:func:`scratch`), so the full column matrix is never built. Measured on the 3x3 64->64
convolution of 32x64x56x56: forward 86 -> 39 ms, weight gradient 46 -> 41 ms, and 231 MB less
memory.

The number of workers is the BLAS thread count (``--threads``, ``OPENBLAS_NUM_THREADS``): with
one thread everything runs in the caller, in order. A piece that itself asks for pieces runs
them in order too (a worker waiting on its own pool could deadlock it).
"""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .blas import blas_threads, get_blas_threads

_pools = {}
_local = threading.local()


def workers():
    """How many pieces may run at once: the BLAS thread count (1 if unknown)."""
    return max(1, get_blas_threads() or 1)


def run_pieces(fn, pieces):
    """Call ``fn(piece)`` for every piece, on ``workers()`` threads with one BLAS thread each;
    returns the results in order. Exceptions propagate to the caller."""
    pieces = list(pieces)
    count = workers()
    if count <= 1 or len(pieces) <= 1 or getattr(_local, "worker", False):
        return [fn(piece) for piece in pieces]
    pool = _pools.get(count)
    if pool is None:
        pool = _pools[count] = ThreadPoolExecutor(count, thread_name_prefix="convgrad", initializer=_mark_worker)
    with blas_threads(1):
        return list(pool.map(fn, pieces))


def _mark_worker():
    _local.worker = True


def scratch(shape, dtype):
    """A buffer of ``shape`` private to the calling thread, reused by its next call of the same
    shape (its contents are garbage)."""
    key = (tuple(shape), np.dtype(dtype).str)
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    buf = buffers.get(key)
    if buf is None:
        if len(buffers) >= 4:  # a few live shapes per thread (a layer's blocks differ by a row)
            buffers.clear()
        buf = buffers[key] = np.empty(shape, dtype=dtype)
    return buf


# Element-wise work: one NumPy call is one thread; large arrays are cut along their slowest
# memory axis into pieces of about PIECE_ELEMENTS, spread over the workers. Such ops are bound
# by memory bandwidth, so two cores pay only on large arrays (measured, ReLU: 6.4M elements
# 2.2 -> 1.7 ms; 1.2M-1.6M elements no faster). A function of several NumPy steps runs them on a
# piece that is still in the cache.
ELEMENTWISE_MIN_SIZE = 1 << 22
PIECE_ELEMENTS = 1 << 18


def elementwise(func, out, *operands):
    """``func(*operands, out=out)`` in pieces on both cores when ``out`` is large.

    Operands are scalars or arrays that broadcast to ``out`` (NumPy's rules: trailing axes
    align; axes of size 1 are passed whole). Returns ``out``.
    """
    if out.size < ELEMENTWISE_MIN_SIZE:
        func(*operands, out=out)
        return out
    axis = max(range(out.ndim), key=lambda ax: (out.shape[ax] > 1, abs(out.strides[ax])))
    length = out.shape[axis]
    parts = min(length, max(workers(), -(-out.size // PIECE_ELEMENTS)))
    if parts <= 1:
        func(*operands, out=out)
        return out
    bounds = [length * i // parts for i in range(parts + 1)]

    def cut(a, part):
        own = axis - (out.ndim - np.ndim(a))  # the split axis among a's own axes
        if own < 0 or a.shape[own] == 1:
            return a
        return a[(slice(None),) * own + (part,)]

    def piece(i):
        part = slice(bounds[i], bounds[i + 1])
        func(*(cut(a, part) for a in operands), out=out[(slice(None),) * axis + (part,)])

    run_pieces(piece, range(parts))
    return out
