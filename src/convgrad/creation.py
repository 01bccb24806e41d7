"""Making tensors: from data, filled with constants, or random from convgrad's seeded generator."""
import numpy as np

from . import backend
from .devices import check_device
from .tensor import Tensor
from .errors import ArgumentTypeError

# Every factory accepts PyTorch's ``device=`` (the CPU only: see convgrad.device), ``layout=`` and
# ``pin_memory=`` keywords; they change nothing.


def _dtype(dtype):
    return backend.get_default_dtype() if dtype is None else np.dtype(dtype)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(int(s) for s in size)


def tensor(data, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """A new tensor holding a copy of ``data`` (PyTorch's dtype rules, see :class:`Tensor`)."""
    check_device(device)
    if isinstance(data, Tensor):
        data = data._data
    arr = backend.to_array(data, dtype)
    return Tensor(np.array(arr, copy=True), requires_grad=requires_grad)


def from_numpy(array):
    """A tensor sharing memory with ``array`` (dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise ArgumentTypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def as_tensor(data, dtype=None, device=None, pin_memory=False):
    """A tensor sharing memory with ``data`` where possible, like ``torch.as_tensor``.

    Args:
        data: a Tensor (returned as is when the dtype matches), array, list or number.
        dtype: convert to this dtype (a copy).
        device, pin_memory: accepted for PyTorch compatibility; only the CPU exists.

    Example:
        >>> import numpy as np, convgrad
        >>> tuple(convgrad.as_tensor(np.arange(3.0)).shape)
        (3,)
    """
    check_device(device)
    return data if isinstance(data, Tensor) and dtype is None else Tensor(data, dtype=dtype)


def zeros(*size, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """A tensor of zeros; ``size`` as separate ints or one tuple.

    Args:
        size: the shape, e.g. ``zeros(2, 3)`` or ``zeros((2, 3))``.
        dtype: default: ``convgrad.get_default_dtype()`` (float32).
        requires_grad: record operations on it for autodiff.
        device, pin_memory: accepted for PyTorch compatibility (CPU only).

    Example:
        >>> import convgrad
        >>> tuple(convgrad.zeros(2, 3).shape)
        (2, 3)
    """
    check_device(device)
    return Tensor(np.zeros(_size(size), _dtype(dtype)), requires_grad=requires_grad)


def ones(*size, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """A tensor of ones; arguments as :func:`zeros`.

    Example:
        >>> import convgrad
        >>> convgrad.ones(2).tolist()
        [1.0, 1.0]
    """
    check_device(device)
    return Tensor(np.ones(_size(size), _dtype(dtype)), requires_grad=requires_grad)


def empty(*size, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """An uninitialised tensor of ``size`` (contents arbitrary); arguments as :func:`zeros`."""
    check_device(device)
    return Tensor(np.empty(_size(size), _dtype(dtype)), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """A tensor of ``size`` filled with ``fill_value``; other arguments as :func:`zeros`.

    Example:
        >>> import convgrad
        >>> convgrad.full((2,), 7.0).tolist()
        [7.0, 7.0]
    """
    check_device(device)
    size = (size,) if isinstance(size, int) else tuple(size)
    if dtype is None and isinstance(fill_value, (bool, int)):
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64
    return Tensor(np.full(size, fill_value, _dtype(dtype)), requires_grad=requires_grad)


def zeros_like(t, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """Zeros with the shape (and, unless ``dtype`` is given, the dtype) of tensor ``t``."""
    check_device(device)
    return Tensor(np.zeros(t.shape, t.dtype if dtype is None else dtype), requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """Ones with the shape (and, unless ``dtype`` is given, the dtype) of tensor ``t``."""
    check_device(device)
    return Tensor(np.ones(t.shape, t.dtype if dtype is None else dtype), requires_grad=requires_grad)


def randn(*size, dtype=None, requires_grad=False, device=None, pin_memory=False, generator=None):
    """Samples of the standard normal distribution, drawn from convgrad's global generator
    (``convgrad.manual_seed`` makes them reproducible); arguments as :func:`zeros`.
    """
    check_device(device)
    data = backend.rng_of(generator).standard_normal(_size(size)).astype(_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def rand(*size, dtype=None, requires_grad=False, device=None, pin_memory=False, generator=None):
    """Uniform samples in [0, 1) from convgrad's global generator; arguments as :func:`zeros`."""
    check_device(device)
    data = backend.rng_of(generator).random(_size(size)).astype(_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad)


def randn_like(t, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """Standard normal samples with the shape (and dtype) of tensor ``t``."""
    check_device(device)
    return randn(*t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def rand_like(t, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """Uniform [0, 1) samples with the shape (and dtype) of tensor ``t``."""
    check_device(device)
    return rand(*t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def empty_like(t, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """An uninitialised tensor of ``t``'s shape (and dtype unless ``dtype`` is given)."""
    check_device(device)
    return Tensor(np.empty(t.shape, t.dtype if dtype is None else dtype), requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """A tensor of ``t``'s shape (and dtype unless ``dtype`` is given) filled with ``fill_value``."""
    check_device(device)
    return Tensor(np.full(t.shape, fill_value, t.dtype if dtype is None else dtype), requires_grad=requires_grad)


def randint(low, high=None, size=(), dtype=np.int64, device=None, pin_memory=False, generator=None,
            requires_grad=False):
    """Random integers in ``[low, high)``; ``randint(high, size)`` as in PyTorch."""
    check_device(device)
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, int) else tuple(size)
    return Tensor(backend.rng_of(generator).integers(low, high, size=size).astype(dtype))


def randperm(n, dtype=np.int64, device=None, pin_memory=False, generator=None, requires_grad=False):
    """A random permutation of ``0 .. n-1`` (int64), from convgrad's generator or ``generator``."""
    check_device(device)
    return Tensor(backend.rng_of(generator).permutation(n).astype(dtype))


def arange(start, end=None, step=1, dtype=None, device=None, pin_memory=False, requires_grad=False):
    """Values from ``start`` to ``end`` (excluded) in steps of ``step``; ``arange(n)`` is 0 .. n-1.

    Integer arguments give int64, any float gives the default float dtype (as in PyTorch).

    Example:
        >>> import convgrad
        >>> convgrad.arange(4).tolist()
        [0, 1, 2, 3]
    """
    check_device(device)
    if end is None:
        start, end = 0, start
    arr = np.arange(start, end, step)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype.kind == "f":
        arr = arr.astype(backend.get_default_dtype())
    return Tensor(arr, requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, pin_memory=False, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end``, both included.

    Example:
        >>> import convgrad
        >>> convgrad.linspace(0, 1, 3).tolist()
        [0.0, 0.5, 1.0]
    """
    check_device(device)
    return Tensor(np.linspace(start, end, steps).astype(_dtype(dtype)), requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, pin_memory=False, requires_grad=False):
    """The ``n x m`` identity matrix (``m`` defaults to ``n``)."""
    check_device(device)
    return Tensor(np.eye(n, m, dtype=_dtype(dtype)), requires_grad=requires_grad)
