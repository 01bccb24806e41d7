"""Control of the BLAS library's threads, and matrix products that run small problems on one thread.

With two OpenBLAS threads, every product wakes a helper thread. On a busy machine that wake-up
waits for the scheduler. Measured here under load: a 64x400 @ 400x120 product took 31.7 ms
(median) with 2 threads and 0.085 ms with 1; a LeNet training step took 20 ms with one thread and
70-220 ms with two. Products below ``SMALL_GEMM_FLOP`` therefore run single-threaded, and
:class:`blas_threads` sets the count for a whole block. Both find OpenBLAS among the loaded shared
libraries (NumPy's wheels ship it as ``scipy_openblas``); with another BLAS they do nothing.
"""
import ctypes
import glob
import os

import numpy as np

SMALL_GEMM_FLOP = 2e7  # below ~0.2 ms of single-thread work a second thread cannot pay for its wake-up

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads_64_",
            "scipy_openblas_set_num_threads", "openblas_set_num_threads64_", "openblas_set_num_threads")


def _candidate_paths():
    paths = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                parts = line.split()
                if len(parts) >= 6 and "openblas" in os.path.basename(parts[5]).lower():
                    paths.append(parts[5])
    except OSError:
        pass
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    paths.extend(glob.glob(os.path.join(libs, "*openblas*")))
    return list(dict.fromkeys(paths))


def _thread_controls():
    """``(library, set_num_threads, get_num_threads)`` of the loaded OpenBLAS, or Nones."""
    for path in _candidate_paths():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(lib, name, None)
            getter = getattr(lib, name.replace("set_", "get_"), None)
            if setter is not None and getter is not None:
                getter.restype = ctypes.c_int
                return lib, setter, getter
    return None, None, None


_lib, _set_threads, _get_threads = _thread_controls()


def quiet_idle_threads(exponent=4):
    """Make OpenBLAS's helper threads sleep right after each product instead of spinning.

    OpenBLAS keeps its idle threads busy-waiting for new work for 2**28 cycles (about 0.1 s).
    convgrad runs its own worker threads next to BLAS (``kernels/parallel.py``): element-wise
    ops and the pieces of large convolutions. On a 2-core machine a spinning BLAS thread takes
    one of the two cores from them: measured, a 3x3 64-channel convolution in pieces took 25.7 ms
    right after a two-thread GEMM and 15.5 ms otherwise (13 ms with this setting either way).

    Sets ``OPENBLAS_THREAD_TIMEOUT`` (2**exponent cycles; 4 is OpenBLAS's minimum) and restarts
    the BLAS thread server so that it takes effect. Leaves an ``OPENBLAS_THREAD_TIMEOUT`` that the
    user set alone, as it does ``CONVGRAD_BLAS_IDLE=spin``. Returns True if it took effect.
    """
    names = ("openblas_read_env", "blas_thread_shutdown_", "blas_thread_init")
    if _lib is None or any(getattr(_lib, name, None) is None for name in names):
        return False
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ or os.environ.get("CONVGRAD_BLAS_IDLE") == "spin":
        return False
    threads = _get_threads()
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(int(exponent))
    _lib.openblas_read_env()
    _lib.blas_thread_shutdown_()
    _lib.blas_thread_init()
    _set_threads(threads)
    return True


idle_threads_quiet = quiet_idle_threads()


def get_blas_threads():
    """The current OpenBLAS thread count, or None if OpenBLAS was not found."""
    return None if _get_threads is None else int(_get_threads())


def set_num_threads(n):
    """``convgrad.set_num_threads(n)``: the threads convgrad computes with, as in PyTorch.

    Sets the BLAS library's thread count, which is also the number of convgrad's own worker
    threads for large convolutions, batch norms and element-wise ops (``kernels/parallel.py``).
    On a busy machine, or for small networks such as LeNet-5, one thread is often the fastest:
    every product on two threads waits for a second core (``convgrad train`` uses one for
    LeNet-5 by default; ``--threads N`` sets it there).

    Args:
        n: a positive integer.

    Raises:
        ArgumentError: ``n`` is not a positive integer.

    Example::

        >>> convgrad.set_num_threads(1)
        >>> convgrad.get_num_threads()
        1
    """
    from ..errors import ArgumentError

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ArgumentError(f"set_num_threads: expected a positive integer, got {n!r}")
    if _set_threads is not None:
        _set_threads(int(n))
    else:
        _fallback_threads[0] = int(n)


def get_num_threads():
    """The thread count set by :func:`set_num_threads` (the BLAS library's, where it is OpenBLAS)."""
    threads = get_blas_threads()
    return threads if threads is not None else _fallback_threads[0]


_fallback_threads = [os.cpu_count() or 1]  # what get_num_threads reports when the BLAS is not OpenBLAS


class blas_threads:
    """Context manager: run the block with ``n`` BLAS threads (no-op if the BLAS is not OpenBLAS)."""

    def __init__(self, n):
        self.n = int(n)
        self.previous = None

    def __enter__(self):
        if _set_threads is not None:
            self.previous = _get_threads()
            _set_threads(self.n)
        return self

    def __exit__(self, *exc):
        if _set_threads is not None and self.previous is not None:
            _set_threads(self.previous)
        return False


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


# ``c = a @ b + beta * c`` in one BLAS call (cblas_?gemm's beta): the row-shift convolution sums
# one product per kernel row into the same output without a temporary and an extra pass.
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_GEMM_NAMES = (("scipy_cblas_{}gemm64_", ctypes.c_int64), ("cblas_{}gemm64_", ctypes.c_int64),
               ("scipy_cblas_{}gemm", ctypes.c_int), ("cblas_{}gemm", ctypes.c_int))


def _cblas_gemms():
    """``{dtype: cblas gemm function}`` for float32 and float64 in the loaded OpenBLAS (ctypes
    signatures set)."""
    found = {}
    if _lib is None:
        return found
    for dtype, letter, scalar in ((np.dtype(np.float32), "s", ctypes.c_float),
                                  (np.dtype(np.float64), "d", ctypes.c_double)):
        for pattern, integer in _GEMM_NAMES:
            fn = getattr(_lib, pattern.format(letter), None)
            if fn is not None:
                fn.restype = None
                fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, integer, integer, integer, scalar,
                               ctypes.c_void_p, integer, ctypes.c_void_p, integer, scalar, ctypes.c_void_p, integer]
                found[dtype] = fn
                break
    return found


_GEMMS = _cblas_gemms()


def _rows_operand(a):
    """True when ``a`` is a 2-D matrix BLAS can read in place: unit column stride, row stride a
    whole number of elements and at least one row long."""
    return (a.ndim == 2 and a.strides[1] == a.itemsize and a.strides[0] % a.itemsize == 0
            and a.strides[0] // a.itemsize >= max(1, a.shape[1]))


def gemm_into(a, b, c, beta=0.0, transpose_a=False):
    """``c = op(a) @ b + beta * c`` in place, ``op(a)`` being ``a`` or ``a.T``.

    One cblas call when the operands allow it (same float dtype, row-major 2-D matrices that BLAS
    can read in place, see :func:`_rows_operand`); otherwise NumPy with a temporary. Runs on the
    current number of BLAS threads.
    """
    fn = _GEMMS.get(c.dtype)
    if (fn is None or not all(x.dtype == c.dtype and _rows_operand(x) for x in (a, b, c))
            or c.shape[1] < 1 or b.shape[0] < 1):
        product = np.matmul(a.T if transpose_a else a, b)
        if beta == 0:
            c[...] = product
        else:
            c *= beta
            c += product
        return c
    m, n = c.shape
    k = a.shape[0] if transpose_a else a.shape[1]
    size = c.itemsize
    fn(_ROW_MAJOR, _TRANS if transpose_a else _NO_TRANS, _NO_TRANS, m, n, k, 1.0,
       a.ctypes.data, a.strides[0] // size, b.ctypes.data, b.strides[0] // size, beta,
       c.ctypes.data, c.strides[0] // size)
    return c
