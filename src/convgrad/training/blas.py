"""Limit the BLAS library's thread count while training small networks.

LeNet-sized layers multiply small matrices (a few hundred rows and columns). A multi-threaded
OpenBLAS gains nothing on them and, on a machine where other processes compete for the cores, its
spinning threads made a training step 3-10x slower in our measurements (2 cores: 20 ms per batch
of 32 with one thread, 70-220 ms with two). ``blas_threads(1)`` sets the count for a block and
restores it after. It finds OpenBLAS among the loaded shared libraries (NumPy's wheels ship it as
``scipy_openblas``); with another BLAS (MKL, Accelerate) it does nothing.
"""
import ctypes
import glob
import os

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads_64_",
            "scipy_openblas_set_num_threads", "openblas_set_num_threads64_", "openblas_set_num_threads")
_cache = {}


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
    import numpy

    libs = os.path.join(os.path.dirname(os.path.dirname(numpy.__file__)), "numpy.libs")
    paths.extend(glob.glob(os.path.join(libs, "*openblas*")))
    return list(dict.fromkeys(paths))


def _functions():
    """``(set_num_threads, get_num_threads)`` of the loaded OpenBLAS, or None."""
    if "fns" in _cache:
        return _cache["fns"]
    _cache["fns"] = None
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
                _cache["fns"] = (setter, getter)
                return _cache["fns"]
    return None


class blas_threads:
    """Context manager: run the block with ``n`` BLAS threads (no-op if the BLAS is not OpenBLAS)."""

    def __init__(self, n):
        self.n = int(n)
        self.previous = None

    def __enter__(self):
        fns = _functions()
        if fns is not None:
            self.previous = fns[1]()
            fns[0](self.n)
        return self

    def __exit__(self, *exc):
        fns = _functions()
        if fns is not None and self.previous is not None:
            fns[0](self.previous)
        return False


def get_blas_threads():
    """The current OpenBLAS thread count, or None if OpenBLAS was not found."""
    fns = _functions()
    return None if fns is None else int(fns[1]())
