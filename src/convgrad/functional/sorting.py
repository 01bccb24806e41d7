"""Sorting and ranking: ``sort``, ``argsort``, ``topk``, and running sums ``cumsum``.

``sort`` and ``topk`` return ``(values, indices)`` (named fields, as PyTorch's). The values'
gradient goes back to the positions they came from (a scatter by ``indices``); indices carry no
gradient. Sorting is stable (equal elements keep their order), so results are deterministic;
PyTorch guarantees that only with ``stable=True``, so ties may be ordered differently there.
``cumsum``'s gradient is the reversed running sum of the output gradient.
"""
from collections import namedtuple

import numpy as np

from ..tensor import Function, Tensor
from ._util import ArgumentError
from .indexing import _dim

SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])


def _order(a, dim, descending):
    if descending:
        # stable descending order: sort the reversed axis ascending by -a, map indices back
        return np.argsort(-a if a.dtype.kind != "b" else ~a, axis=dim, kind="stable")
    return np.argsort(a, axis=dim, kind="stable")


class TakeAlong(Function):
    """``a`` read at ``indices`` along ``dim`` (the values of a sort or top-k)."""

    @staticmethod
    def forward(ctx, a, dim, indices):
        ctx.shape, ctx.dim, ctx.indices = a.shape, dim, indices
        return np.take_along_axis(a, indices, axis=dim)

    @staticmethod
    def output_shape(shape, dim, indices_shape):
        return tuple(indices_shape)

    @staticmethod
    def backward(ctx, grad):
        g = np.zeros(ctx.shape, grad.dtype)
        np.put_along_axis(g, ctx.indices, grad, axis=ctx.dim)
        return g, None, None


class CumSum(Function):
    @staticmethod
    def forward(ctx, a, dim, dtype=None):
        ctx.dim, ctx.in_dtype = dim, a.dtype
        return np.cumsum(a, axis=dim, dtype=dtype)

    @staticmethod
    def backward(ctx, grad):
        g = np.flip(np.cumsum(np.flip(grad, ctx.dim), axis=ctx.dim), ctx.dim)
        return g.astype(ctx.in_dtype, copy=False), None

    @staticmethod
    def output_shape(shape, dim):
        return tuple(shape)


def _scalar_safe(input, dim, op):
    """0-d inputs are sorted as one element, as PyTorch does."""
    if input.ndim == 0:
        return True, 0
    return False, _dim(dim, input.ndim, op)


def sort(input, dim=-1, descending=False, stable=False):
    """Sort along ``dim``; returns ``(values, indices)`` with ``values == input.gather(dim, indices)``.

    Args:
        input: a tensor.
        dim: the dimension to sort (last by default).
        descending: largest first.
        stable: accepted; convgrad's sort is always stable.

    Returns:
        A named tuple ``(values, indices)``; ``indices`` are int64.

    Example:
        >>> convgrad.sort(convgrad.tensor([3., 1., 2.])).indices
        tensor([1, 2, 0])
    """
    zero_d, dim = _scalar_safe(input, dim, "sort")
    if zero_d:
        return SortResult(input * 1, Tensor._wrap(np.zeros((), np.int64)))
    idx = _order(input._data, dim, descending).astype(np.int64)
    return SortResult(TakeAlong.apply(input, dim, idx), Tensor._wrap(idx))


def argsort(input, dim=-1, descending=False, stable=False):
    """The int64 indices that sort ``input`` along ``dim`` (``sort(...).indices``)."""
    return sort(input, dim, descending, stable).indices


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or, with ``largest=False``, smallest) elements along ``dim``.

    Returns:
        A named tuple ``(values, indices)``, in descending (ascending) order.

    Raises:
        ArgumentError: if ``k`` is negative or larger than the dimension.
    """
    zero_d, dim = _scalar_safe(input, dim, "topk")
    n = 1 if zero_d else input.shape[dim]
    if not 0 <= int(k) <= n:
        raise ArgumentError(f"topk: k={k} is out of range for a dimension of size {n}")
    if zero_d:
        return TopkResult(input * 1, Tensor._wrap(np.zeros((), np.int64)))
    order = _order(input._data, dim, largest)
    idx = np.take(order, np.arange(int(k)), axis=dim).astype(np.int64)
    return TopkResult(TakeAlong.apply(input, dim, idx), Tensor._wrap(idx))


def cumsum(input, dim, dtype=None):
    """Running sums along ``dim``: ``out[i] = input[0] + ... + input[i]``."""
    if input.ndim == 0:
        return input * 1
    dim = _dim(dim, input.ndim, "cumsum")
    if dtype is None and input.dtype.kind in "biu":
        dtype = np.int64  # PyTorch sums integers and bools as int64
    return CumSum.apply(input, dim, dtype=dtype)


_METHODS = {"sort": sort, "argsort": argsort, "topk": topk, "cumsum": cumsum}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
