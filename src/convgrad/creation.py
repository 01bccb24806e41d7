"""Making tensors: from data, filled with constants, or random from convgrad's seeded generator."""
import numpy as np

from . import backend
from .tensor import Tensor
from .errors import ArgumentTypeError


def _dtype(dtype):
    return backend.get_default_dtype() if dtype is None else np.dtype(dtype)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(int(s) for s in size)


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (PyTorch's dtype rules, see :class:`Tensor`)."""
    if isinstance(data, Tensor):
        data = data.data
    arr = backend.to_array(data, dtype)
    return Tensor(np.array(arr, copy=True), requires_grad=requires_grad)


def from_numpy(array):
    """A tensor sharing memory with ``array`` (dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise ArgumentTypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def as_tensor(data, dtype=None):
    return data if isinstance(data, Tensor) and dtype is None else Tensor(data, dtype=dtype)


def zeros(*size, dtype=None, requires_grad=False):
    return Tensor(np.zeros(_size(size), _dtype(dtype)), requires_grad=requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    return Tensor(np.ones(_size(size), _dtype(dtype)), requires_grad=requires_grad)


def empty(*size, dtype=None, requires_grad=False):
    return Tensor(np.empty(_size(size), _dtype(dtype)), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    return Tensor(np.full(tuple(size), fill_value, _dtype(dtype)), requires_grad=requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return Tensor(np.zeros(t.shape, t.dtype if dtype is None else dtype), requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return Tensor(np.ones(t.shape, t.dtype if dtype is None else dtype), requires_grad=requires_grad)


def randn(*size, dtype=None, requires_grad=False):
    data = backend.get_rng().standard_normal(_size(size)).astype(_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def rand(*size, dtype=None, requires_grad=False):
    data = backend.get_rng().random(_size(size)).astype(_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def randn_like(t, dtype=None):
    return randn(*t.shape, dtype=t.dtype if dtype is None else dtype)


def rand_like(t, dtype=None):
    return rand(*t.shape, dtype=t.dtype if dtype is None else dtype)


def randint(low, high=None, size=(), dtype=np.int64):
    if high is None:
        low, high = 0, low
    return Tensor(backend.get_rng().integers(low, high, size=tuple(size)).astype(dtype))


def randperm(n):
    return Tensor(backend.get_rng().permutation(n).astype(np.int64))


def arange(start, end=None, step=1, dtype=None):
    if end is None:
        start, end = 0, start
    arr = np.arange(start, end, step)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype.kind == "f":
        arr = arr.astype(backend.get_default_dtype())
    return Tensor(arr)


def linspace(start, end, steps, dtype=None):
    return Tensor(np.linspace(start, end, steps).astype(_dtype(dtype)))


def eye(n, m=None, dtype=None):
    return Tensor(np.eye(n, m, dtype=_dtype(dtype)))
