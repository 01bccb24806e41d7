"""Vector norms: ``norm(input, p, dim, keepdim)`` (``Tensor.norm``) and ``linalg.vector_norm``.

``p`` is a positive number, ``inf``, ``-inf``, ``0`` (count of non-zeros, no gradient) or
``"fro"`` (= 2 over the given dimensions). The gradient of the 2-norm is ``x / ||x||`` and 0 at
``x = 0`` (PyTorch's subgradient); for ``inf`` it is shared evenly among the largest ``|x|``.
"""
import numbers

import numpy as np

from ..tensor import Function, Tensor
from ._util import ArgumentError


def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise ArgumentError(f"norm: dim {d} is out of range for a tensor of {ndim} dimensions")
    return tuple(sorted(d % max(ndim, 1) for d in dims)) if ndim else ()


class Norm(Function):
    @staticmethod
    def forward(ctx, a, p, axes, keepdim):
        ax = np.abs(a)
        if p == np.inf:
            out = np.max(ax, axis=axes, keepdims=True) if a.size else np.zeros(())
        elif p == -np.inf:
            out = np.min(ax, axis=axes, keepdims=True)
        elif p == 0:
            out = np.sum(ax != 0, axis=axes, keepdims=True).astype(a.dtype)
        elif p == 1:
            out = np.sum(ax, axis=axes, keepdims=True)
        elif p == 2:
            out = np.sqrt(np.sum(a * a, axis=axes, keepdims=True))
        else:
            out = np.sum(ax ** p, axis=axes, keepdims=True) ** (1.0 / p)
        ctx.a, ctx.p, ctx.out = a, p, out
        ctx.axes, ctx.keepdim = axes, keepdim
        return out.astype(a.dtype, copy=False) if keepdim else np.squeeze(out, axis=axes).astype(a.dtype, copy=False)

    @staticmethod
    def output_shape(shape, p, axes, keepdim):
        if keepdim:
            return tuple(1 if d in axes else n for d, n in enumerate(shape))
        return tuple(n for d, n in enumerate(shape) if d not in axes)

    @staticmethod
    def backward(ctx, grad):
        a, p, out = ctx.a, ctx.p, ctx.out
        g = grad if ctx.keepdim else np.expand_dims(grad, ctx.axes)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p in (np.inf, -np.inf):
                hit = np.abs(a) == out
                share = hit / np.sum(hit, axis=ctx.axes, keepdims=True)
                ga = g * np.sign(a) * share
            elif p == 0:
                ga = np.zeros_like(a)
            elif p == 1:
                ga = g * np.sign(a)
            elif p == 2:
                ga = np.where(out == 0, 0, g * a / out)
            else:
                ga = np.where(out == 0, 0, g * np.sign(a) * np.abs(a) ** (p - 1) / out ** (p - 1))
        return ga.astype(a.dtype, copy=False), None, None, None


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The ``p``-norm of ``input`` over ``dim`` (all elements by default), as ``torch.norm``.

    Args:
        input: a floating point tensor.
        p: ``"fro"``, a number, ``inf`` or ``-inf``. Matrix norms (``"nuc"``) are not supported.
        dim: an int or a tuple of ints; None for all dimensions.
        keepdim: keep the reduced dimensions with size 1.

    Example:
        >>> convgrad.tensor([3., 4.]).norm()
        tensor(5.)
    """
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str) or not isinstance(p, numbers.Real):
        raise ArgumentError(f"norm: p must be a number, inf or 'fro', got {p!r} (matrix norms are not supported)")
    if dtype is not None:
        input = input.to(dtype)
    return Norm.apply(input, float(p), _axes(dim, input.ndim), bool(keepdim))


def vector_norm(x, ord=2, dim=None, keepdim=False, dtype=None):
    """``torch.linalg.vector_norm``: :func:`norm` with ``ord`` for ``p``."""
    return norm(x, ord, dim, keepdim, dtype)


Tensor.norm = norm
