"""The array module under convgrad: NumPy, the default dtype and the global random generator.

Everything numeric in convgrad is a NumPy array underneath a :class:`convgrad.Tensor`. This module
holds the few process-wide settings that the rest of the package reads: the default floating
point dtype (float32, as in PyTorch) and the seeded random generator behind initialisation,
dropout and data shuffling.
"""
import numpy as np
from .errors import DTypeError

xp = np

float32 = np.float32
float64 = np.float64
int64 = np.int64
bool_ = np.bool_

_default_dtype = np.dtype(np.float32)
_rng = np.random.default_rng()


def get_default_dtype():
    """The dtype that Python floats and new parameters get (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype):
    """Set the floating point dtype for new tensors made from Python numbers and for parameters."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise DTypeError(f"set_default_dtype: expected a floating point dtype, got {dtype}")
    _default_dtype = dtype


def manual_seed(seed):
    """Seed convgrad's random generator (initialisation, dropout, shuffling). Returns the generator."""
    global _rng
    _rng = np.random.default_rng(int(seed))
    return _rng


def get_rng():
    """The process-wide random generator; :func:`manual_seed` replaces it."""
    return _rng


def get_rng_state():
    """The generator's state as a JSON-friendly dict, for checkpoints."""
    return _rng.bit_generator.state


def set_rng_state(state):
    """Restore a state returned by :func:`get_rng_state`."""
    _rng.bit_generator.state = state


def to_array(data, dtype=None):
    """Convert ``data`` to a NumPy array with PyTorch's dtype rules.

    NumPy arrays keep their dtype; Python floats become the default dtype (float32), Python ints
    int64 and bools bool, as ``torch.tensor`` does. ``dtype`` overrides all of that.
    """
    if dtype is not None:
        return np.asarray(data, dtype=np.dtype(dtype))
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    arr = np.asarray(data)
    if arr.dtype.kind == "f":
        return arr.astype(_default_dtype, copy=False)
    if arr.dtype.kind in "iu" and arr.dtype != np.uint8:
        return arr.astype(np.int64, copy=False)
    return arr
