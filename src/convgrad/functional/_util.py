"""Small helpers shared by the functional ops: argument normalisation and error messages."""
import numbers

import numpy as np

from ..errors import ArgumentError, DTypeError, ShapeError  # noqa: F401  (re-exported for the ops)
from ..tensor import Tensor


def scalar_or_tensor(x):
    """Python numbers pass through (so float32 stays float32, as in PyTorch); NumPy arrays
    and scalars become tensors without gradient."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, numbers.Number)) and not isinstance(x, np.generic):
        return x
    if isinstance(x, np.generic) and x.ndim == 0 and not isinstance(x, np.ndarray):
        return x.item()
    return Tensor(x)


def ntuple(value, n, name="argument", op="op"):
    """``3 -> (3, 3)``; a tuple of length ``n`` passes through; anything else is an error."""
    if isinstance(value, Tensor):
        value = value.tolist()
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise ArgumentError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value}")
    return value


def shape_str(shape):
    """``(64, 256)``, ``(3,)`` for one dimension and ``()`` for a scalar: Python's tuple spelling."""
    return str(tuple(int(s) for s in shape))
