"""Indexing by index tensors: ``gather``, ``scatter``, ``scatter_add``, ``masked_fill``, ``where``.

``gather(input, dim, index)`` reads ``out[i][j][k] = input[index[i][j][k]][j][k]`` (for ``dim=0``;
the index replaces the coordinate of dimension ``dim``), ``scatter`` writes the other way round.
As in PyTorch, ``index`` has as many dimensions as ``input`` and is no larger than it in the
other dimensions. The gradient of a gather is a scatter-add of the output gradient, and the
gradient of a scatter sends the written positions' gradient to ``src`` and the rest to ``input``.
"""
import numbers

import numpy as np

from ..kernels.broadcast import sum_to_shape
from ..tensor import Function, Tensor
from ._util import ArgumentError, DTypeError, ShapeError, scalar_or_tensor, shape_str
from . import elementwise as el


def _dim(dim, ndim, op):
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ArgumentError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dimensions")
    return dim % max(ndim, 1)


def _as_rank(idx, ndim):
    """PyTorch counts a 0-d index as 1-d against a 0-d or 1-d input."""
    return idx.reshape(1) if idx.ndim == 0 and ndim <= 1 else idx


def _grid(index, dim):
    """Advanced-index tuple that puts ``index`` along ``dim`` and the identity elsewhere."""
    grid = list(np.indices(index.shape, sparse=True))
    grid[dim] = index
    return tuple(grid)


def _check_index(op, input_shape, index, dim, other=None):
    if not isinstance(index, np.ndarray) or index.dtype.kind not in "iu":
        raise DTypeError(f"{op}: index must be an int64 tensor, got {getattr(index, 'dtype', type(index).__name__)}")
    if index.ndim != len(input_shape):
        raise ShapeError(f"{op}: index has {index.ndim} dimensions, input has {len(input_shape)} "
                         f"({shape_str(index.shape)} vs {shape_str(input_shape)})")
    for d, (i, n) in enumerate(zip(index.shape, input_shape)):
        if d != dim and i > n:
            raise ShapeError(f"{op}: index {shape_str(index.shape)} is larger than the input {shape_str(input_shape)} "
                             f"in dimension {d}")
    if other is not None and any(i > n for i, n in zip(index.shape, other)):
        raise ShapeError(f"{op}: index {shape_str(index.shape)} is larger than src {shape_str(other)}")
    n = input_shape[dim] if input_shape else 1
    if index.size and (index.min() < -n or index.max() >= n):
        raise ArgumentError(f"{op}: index out of range for dimension {dim} of size {n}")


class Gather(Function):
    @staticmethod
    def forward(ctx, a, dim, index):
        ctx.shape, ctx.where = a.shape, _grid(index, dim)
        return a[ctx.where]

    @staticmethod
    def backward(ctx, grad):
        g = np.zeros(ctx.shape, grad.dtype)
        np.add.at(g, ctx.where, grad)
        return g, None, None

    @staticmethod
    def output_shape(shape, dim, index_shape):
        return tuple(index_shape)


class Scatter(Function):
    """``out = input`` with ``src`` written (or added, ``add=True``) at the indexed positions."""

    @staticmethod
    def forward(ctx, a, dim, index, src, add=False):
        where = _grid(index, dim)
        out = a.copy()
        values = src[tuple(slice(0, n) for n in index.shape)] if np.ndim(src) else src
        if add:
            np.add.at(out, where, values)
        else:
            out[where] = values
        ctx.where, ctx.add, ctx.src_shape = where, add, np.shape(src)
        return out

    @staticmethod
    def output_shape(shape, *args, **kwargs):
        return tuple(shape)

    @staticmethod
    def backward(ctx, grad):
        na, _, _, ns = ctx.needs_input_grad
        ga = gs = None
        if na:
            ga = grad.copy()
            if not ctx.add:
                ga[ctx.where] = 0
        if ns:
            gs = np.zeros(ctx.src_shape, grad.dtype)
            part = grad[ctx.where]
            gs[tuple(slice(0, n) for n in part.shape)] = part
        return ga, None, None, gs


class MaskedFill(Function):
    @staticmethod
    def forward(ctx, a, mask, value):
        ctx.mask, ctx.shape, ctx.value_shape = mask, a.shape, np.shape(value)
        return np.where(mask, np.asarray(value, a.dtype), a)

    @staticmethod
    def output_shape(shape, *args, **kwargs):
        return tuple(shape)

    @staticmethod
    def backward(ctx, grad):
        na, _, nv = ctx.needs_input_grad
        zero = np.zeros((), grad.dtype)
        ga = sum_to_shape(np.where(ctx.mask, zero, grad), ctx.shape) if na else None
        gv = sum_to_shape(np.where(ctx.mask, grad, zero), ctx.value_shape) if nv else None
        return ga, None, gv


def gather(input, dim, index, sparse_grad=False):
    """``out[..., i, ...] = input[..., index[..., i, ...], ...]`` along ``dim`` (torch.gather).

    Args:
        input: a tensor.
        dim: the dimension ``index`` indexes.
        index: an int64 tensor with ``input``'s number of dimensions.

    Returns:
        A tensor of ``index``'s shape.

    Raises:
        ShapeError / DTypeError / ArgumentError: for an index of the wrong rank, size, dtype or range.

    Example:
        >>> convgrad.gather(convgrad.tensor([[1., 2.], [3., 4.]]), 1, convgrad.tensor([[0, 0], [1, 0]]))
        tensor([[1., 1.], [4., 3.]])
    """
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    zero_d = idx.ndim == 0
    idx = _as_rank(idx, input.ndim)
    dim = _dim(dim, input.ndim, "gather")
    _check_index("gather", input.shape, idx, dim)
    out = Gather.apply(input, dim, idx)
    return out.reshape(()) if zero_d else out


def _scatter(op, input, dim, index, src, add):
    idx = _as_rank(index._data if isinstance(index, Tensor) else np.asarray(index), input.ndim)
    dim = _dim(dim, input.ndim, op)
    if isinstance(src, Tensor) and src.ndim == 0 and input.ndim <= 1:
        src = src.reshape(1)
    if isinstance(src, numbers.Number) and not isinstance(src, bool) and add:
        src = Tensor(np.full(idx.shape, src, input.dtype))
    src = scalar_or_tensor(src)
    _check_index(op, input.shape, idx, dim, None if not isinstance(src, Tensor) else src.shape)
    if isinstance(src, Tensor) and src.ndim != input.ndim:
        raise ShapeError(f"{op}: src has {src.ndim} dimensions, input has {input.ndim}")
    return Scatter.apply(input, dim, idx, src, add=add)


def scatter(input, dim, index, src=None, value=None, reduce=None):
    """``input`` with ``src`` (a tensor, or a number ``value``) written at ``index`` along ``dim``.

    Where ``index`` names the same position twice, one of the writes wins (PyTorch leaves which
    unspecified too). ``reduce`` is not supported: use :func:`scatter_add` for sums.
    """
    if reduce is not None:
        raise ArgumentError("scatter: reduce= is not supported; use scatter_add for sums")
    if src is None:
        if value is None:
            raise ArgumentError("scatter: give src (a tensor or number) or value")
        src = value
    return _scatter("scatter", input, dim, index, src, add=False)


def scatter_add(input, dim, index, src):
    """``input`` with ``src`` added at ``index`` along ``dim`` (repeated positions add up)."""
    return _scatter("scatter_add", input, dim, index, src, add=True)


def masked_fill(input, mask, value):
    """``input`` with ``value`` wherever the boolean ``mask`` (broadcast to ``input``) is True.

    ``value`` is a number or a 0-d tensor (which then receives the gradient of the filled places).
    """
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise DTypeError(f"masked_fill: mask must be a bool tensor, got {m.dtype}")
    try:
        shape = np.broadcast_shapes(m.shape, input.shape)
    except ValueError:
        shape = None
    if shape != tuple(input.shape):
        raise ShapeError(f"masked_fill: mask {shape_str(m.shape)} does not broadcast to the input {shape_str(input.shape)}")
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got shape {shape_str(value.shape)}")
    return MaskedFill.apply(input, m, scalar_or_tensor(value))


def where(condition, input=None, other=None):
    """``input`` where ``condition`` holds, else ``other`` (broadcast); ``where(condition)`` alone
    is ``nonzero(condition, as_tuple=True)``."""
    if input is None and other is None:
        cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in np.nonzero(cond))
    if input is None or other is None:
        raise ArgumentError("where: give both input and other, or neither")
    return el.where(condition, input, other)


def nonzero(input, as_tuple=False):
    """Indices of the non-zero elements: an ``(n, ndim)`` int64 tensor, or a tuple of 1-D ones."""
    arr = input._data if isinstance(input, Tensor) else np.asarray(input)
    idx = np.nonzero(arr)
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in idx)
    return Tensor._wrap(np.stack(idx, axis=1).astype(np.int64) if idx else np.zeros((0, 0), np.int64))


def _where_method(self, condition, other):
    """``self`` where ``condition`` is True, else ``other`` (the method form of ``convgrad.where``)."""
    return el.where(condition, self, other)


_METHODS = {
    "gather": gather, "scatter": scatter, "scatter_add": scatter_add, "masked_fill": masked_fill,
    "where": _where_method, "nonzero": nonzero,
}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
