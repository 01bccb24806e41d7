"""Comparisons and logic as functions (``convgrad.eq``, ``le``, ``logical_and`` ...), plus
``max``/``min`` that, as in PyTorch, also take a second tensor (then they are ``maximum``/``minimum``).

Comparisons return bool tensors without gradient; ``allclose``/``equal`` return Python bools.
"""
import numpy as np

from ..tensor import Tensor
from . import elementwise as el, reductions as red


def _raw(x):
    return x._data if isinstance(x, Tensor) else x


def _compare(ufunc, name):
    def op(input, other):
        return Tensor._wrap(ufunc(_raw(input), _raw(other)))
    op.__name__ = name
    op.__doc__ = f"Elementwise ``{name}`` with broadcasting: a bool tensor (no gradient)."
    return op


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
logical_and = _compare(np.logical_and, "logical_and")
logical_or = _compare(np.logical_or, "logical_or")
logical_xor = _compare(np.logical_xor, "logical_xor")


def logical_not(input):
    """Element-wise logical NOT (a bool tensor)."""
    return Tensor._wrap(np.logical_not(_raw(input)))


def isnan(input):
    """Element-wise ``x != x``: True where the value is NaN."""
    return Tensor._wrap(np.isnan(_raw(input)))


def isinf(input):
    """True where the value is +inf or -inf."""
    return Tensor._wrap(np.isinf(_raw(input)))


def isfinite(input):
    """True where the value is neither NaN nor infinite."""
    return Tensor._wrap(np.isfinite(_raw(input)))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when ``|input - other| <= atol + rtol * |other|`` everywhere (a Python bool).

    Example:
        >>> import convgrad
        >>> convgrad.allclose(convgrad.ones(2), convgrad.ones(2) + 1e-9)
        True
    """
    return bool(np.allclose(_raw(input), _raw(other), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other):
    """True if both have the same shape and elements."""
    a, b = np.asarray(_raw(input)), np.asarray(_raw(other))
    return a.shape == b.shape and bool(np.array_equal(a, b))


def max(input, dim=None, keepdim=False):  # noqa: A001  (PyTorch's name)
    """``max(x)``, ``max(x, dim)`` -> (values, indices), or ``max(x, other)`` elementwise."""
    if isinstance(dim, Tensor):
        if dim.dtype == np.bool_ and input.dtype == np.bool_:
            return logical_or(input, dim)
        return el.maximum(input, dim)
    return red.max(input, dim, keepdim)


def min(input, dim=None, keepdim=False):  # noqa: A001
    """``min(x)``, ``min(x, dim)`` -> (values, indices), or ``min(x, other)`` elementwise."""
    if isinstance(dim, Tensor):
        if dim.dtype == np.bool_ and input.dtype == np.bool_:
            return logical_and(input, dim)
        return el.minimum(input, dim)
    return red.min(input, dim, keepdim)


def any(input, dim=None, keepdim=False):  # noqa: A001
    """True where any element (along ``dim``) is non-zero: a bool tensor."""
    return Tensor._wrap(np.any(_raw(input), axis=dim, keepdims=keepdim))


def all(input, dim=None, keepdim=False):  # noqa: A001
    """True where every element (along ``dim``) is non-zero: a bool tensor."""
    return Tensor._wrap(np.all(_raw(input), axis=dim, keepdims=keepdim))


def count_nonzero(input, dim=None):
    """Number of non-zero entries, over all of ``input`` or along ``dim`` (int64)."""
    return Tensor._wrap(np.asarray(np.count_nonzero(_raw(input), axis=dim), dtype=np.int64))


Tensor.any = any
Tensor.all = all
Tensor.count_nonzero = count_nonzero
Tensor.logical_and = logical_and
Tensor.logical_or = logical_or
Tensor.logical_not = logical_not
Tensor.isnan = isnan
Tensor.isfinite = isfinite
Tensor.allclose = allclose
Tensor.equal = equal
