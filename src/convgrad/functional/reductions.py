"""Reductions: sum, mean, max/min (with indices), var/std, logsumexp, argmax/argmin."""
import builtins
from collections import namedtuple

import numpy as np

from ..tensor import Function, Tensor
from ..errors import DTypeError

MaxMin = namedtuple("MaxMin", ["values", "indices"])


def _axes(dim, ndim):
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        return tuple(d % ndim if ndim else 0 for d in dim)
    return (dim % ndim,) if ndim else (0,)


def _expand_back(grad, in_shape, axes, keepdim):
    """Re-insert reduced axes into ``grad`` so it broadcasts against the input."""
    if axes is None:
        return np.reshape(grad, (1,) * len(in_shape))
    if not keepdim:
        grad = np.expand_dims(grad, axes)
    return grad


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False, dtype=None):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        return np.asarray(np.sum(a, axis=axes, keepdims=keepdim, dtype=dtype))

    @staticmethod
    def backward(ctx, grad):
        g = _expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim)
        return np.broadcast_to(g, ctx.shape)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        ctx.count = a.size if axes is None else int(np.prod([a.shape[d] for d in axes]))
        return np.asarray(np.mean(a, axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, grad):
        g = _expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim) / ctx.count
        return np.broadcast_to(g, ctx.shape).astype(grad.dtype, copy=False)


class Amax(Function):
    """max/min over axes; the gradient is shared evenly among tied extreme elements."""

    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False, take_max=True):
        out = np.amax(a, axis=axes, keepdims=True) if take_max else np.amin(a, axis=axes, keepdims=True)
        mask = a == out
        ctx.mask = mask / mask.sum(axis=axes, keepdims=True)
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        if not keepdim:
            out = out.reshape(()) if axes is None else np.squeeze(out, axis=axes)
        return np.asarray(out)

    @staticmethod
    def backward(ctx, grad):
        g = _expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim)
        return (g * ctx.mask).astype(grad.dtype, copy=False)


class MaxDim(Function):
    """max/min along one dimension returning values and indices; gradient goes to the index."""

    @staticmethod
    def forward(ctx, a, dim, keepdim=False, take_max=True):
        idx = np.argmax(a, axis=dim) if take_max else np.argmin(a, axis=dim)
        idx = np.expand_dims(idx, dim)
        values = np.take_along_axis(a, idx, axis=dim)
        ctx.shape, ctx.dim, ctx.idx, ctx.keepdim = a.shape, dim, idx, keepdim
        if not keepdim:
            values, idx = np.squeeze(values, dim), np.squeeze(idx, dim)
        return values, idx.astype(np.int64)

    @staticmethod
    def backward(ctx, grad):
        g = grad if ctx.keepdim else np.expand_dims(grad, ctx.dim)
        out = np.zeros(ctx.shape, dtype=grad.dtype)
        np.put_along_axis(out, ctx.idx, g, axis=ctx.dim)
        return out


class LogSumExp(Function):
    """log(sum(exp(a))) computed as m + log(sum(exp(a - m))) with m the maximum (no overflow)."""

    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False):
        m = np.amax(a, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        e = np.exp(a - m)
        s = e.sum(axis=axes, keepdims=True)
        out = np.log(s) + m
        ctx.softmax = e / s
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        if not keepdim:
            out = out.reshape(()) if axes is None else np.squeeze(out, axis=axes)
        return np.asarray(out)

    @staticmethod
    def backward(ctx, grad):
        return _expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim) * ctx.softmax


class Var(Function):
    @staticmethod
    def forward(ctx, a, axes=None, correction=1, keepdim=False):
        mean = np.mean(a, axis=axes, keepdims=True)
        n = a.size if axes is None else int(np.prod([a.shape[d] for d in axes]))
        ctx.centered, ctx.denom = a - mean, builtins.max(n - correction, 0)
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.sum(ctx.centered ** 2, axis=axes, keepdims=keepdim) / ctx.denom).astype(a.dtype)

    @staticmethod
    def backward(ctx, grad):
        g = _expand_back(grad, ctx.shape, ctx.axes, ctx.keepdim)
        return (g * 2 * ctx.centered / ctx.denom).astype(grad.dtype, copy=False)


def sum(input, dim=None, keepdim=False, dtype=None):
    """Sum over all entries (a 0-d tensor) or along ``dim`` (an int or a tuple).

    Args:
        input: a tensor.
        dim: axis or axes to reduce; None reduces all.
        keepdim: keep the reduced axes with size 1.
        dtype: accumulate in this dtype.

    Example:
        >>> import convgrad
        >>> convgrad.sum(convgrad.ones(2, 3), dim=1).tolist()
        [3.0, 3.0]
    """
    return Sum.apply(input, axes=_axes(dim, input.ndim), keepdim=keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False):
    """Mean over all entries or along ``dim``; arguments as :func:`sum`."""
    if input.dtype.kind not in "fc":
        raise DTypeError(f"mean(): expected a floating point tensor, got dtype {input.dtype}")
    return Mean.apply(input, axes=_axes(dim, input.ndim), keepdim=keepdim)


def _extreme(input, dim, keepdim, take_max):
    if dim is None:
        return Amax.apply(input, axes=None, keepdim=False, take_max=take_max)
    if isinstance(dim, (list, tuple)):
        return Amax.apply(input, axes=_axes(dim, input.ndim), keepdim=keepdim, take_max=take_max)
    values, indices = MaxDim.apply(input, dim % builtins.max(input.ndim, 1), keepdim=keepdim, take_max=take_max)
    return MaxMin(values, indices)


def max(input, dim=None, keepdim=False):
    """Without ``dim``: the largest element. With ``dim``: ``(values, indices)`` as in PyTorch."""
    return _extreme(input, dim, keepdim, True)


def min(input, dim=None, keepdim=False):
    """Minimum: over all entries (a 0-d tensor), or along ``dim`` as ``(values, indices)`` as in PyTorch;
    ``min(a, b)`` with a tensor ``b`` is :func:`minimum`.
    """
    return _extreme(input, dim, keepdim, False)


def amax(input, dim=None, keepdim=False):
    """Maximum over all entries or along ``dim`` (values only, no indices)."""
    return Amax.apply(input, axes=_axes(dim, input.ndim), keepdim=keepdim, take_max=True)


def amin(input, dim=None, keepdim=False):
    """Minimum over all entries or along ``dim`` (values only, no indices)."""
    return Amax.apply(input, axes=_axes(dim, input.ndim), keepdim=keepdim, take_max=False)


def argmax(input, dim=None, keepdim=False):
    """Index of the maximum (int64), of the flattened tensor or along ``dim``; the first on ties."""
    data = input._data
    if dim is None:
        return Tensor._wrap(np.asarray(np.argmax(data), dtype=np.int64))
    return Tensor._wrap(np.argmax(data, axis=dim, keepdims=keepdim).astype(np.int64))


def argmin(input, dim=None, keepdim=False):
    """Index of the minimum (int64), of the flattened tensor or along ``dim``; the first on ties."""
    data = input._data
    if dim is None:
        return Tensor._wrap(np.asarray(np.argmin(data), dtype=np.int64))
    return Tensor._wrap(np.argmin(data, axis=dim, keepdims=keepdim).astype(np.int64))


def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(x), dim))`` computed stably (shifted by the maximum)."""
    return LogSumExp.apply(input, axes=_axes(dim, input.ndim), keepdim=keepdim)


def var(input, dim=None, unbiased=True, keepdim=False, correction=None):
    """Variance along ``dim``; ``unbiased=True`` (or ``correction=1``) divides by ``n - 1``."""
    if correction is None:
        correction = 1 if unbiased else 0
    return Var.apply(input, axes=_axes(dim, input.ndim), correction=correction, keepdim=keepdim)


def std(input, dim=None, unbiased=True, keepdim=False, correction=None):
    """Standard deviation: the square root of :func:`var` with the same arguments."""
    from .elementwise import sqrt
    return sqrt(var(input, dim, unbiased, keepdim, correction))
