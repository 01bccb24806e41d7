"""Matrix products that run small problems on one BLAS thread.

With two OpenBLAS threads, every product wakes a helper thread. On a busy machine that wake-up
waits for the scheduler. Measured here under load: a 64x400 @ 400x120 product took 31.7 ms
(median) with 2 threads and 0.085 ms with 1. Products below ``SMALL_GEMM_FLOP`` therefore run
single-threaded. This uses NumPy's bundled OpenBLAS and does nothing when that library cannot be
found.
"""
import ctypes
import glob
import os

import numpy as np

SMALL_GEMM_FLOP = 2e7  # below ~0.2 ms of single-thread work a second thread cannot pay for its wake-up


def _openblas_thread_controls():
    pattern = os.path.join(os.path.dirname(np.__file__) + ".libs", "libscipy_openblas*")
    for path in glob.glob(pattern):
        try:
            lib = ctypes.CDLL(path)
            return lib.scipy_openblas_get_num_threads64_, lib.scipy_openblas_set_num_threads64_
        except (OSError, AttributeError):
            continue
    return None, None


_get_threads, _set_threads = _openblas_thread_controls()


def matmul(a, b, out=None):
    """``np.matmul(a, b, out=out)``, on one BLAS thread when the product is small."""
    flop = 2.0 * a.size * b.shape[-1]  # 2 * (batch * M * K) * N
    if _set_threads is None or flop >= SMALL_GEMM_FLOP:
        return np.matmul(a, b, out=out)
    threads = _get_threads()
    if threads <= 1:
        return np.matmul(a, b, out=out)
    _set_threads(1)
    try:
        return np.matmul(a, b, out=out)
    finally:
        _set_threads(threads)
