"""Operations that move elements without changing them: reshape, permute, index, cat, stack, flip.

Their backward rules move the gradient back the same way: reshape it back, apply the inverse
permutation, scatter it into the indexed positions, or split it along the concatenated axis.
"""
import numpy as np

from ..kernels.broadcast import sum_to_shape
from ..kernels.windows import match_layout, memory_order
from ..tensor import Function, Tensor
from ._util import ShapeError


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        # an input in another memory order (a channels-last or batch-last feature map before
        # flatten) gets its gradient back in that order: the element-wise backward steps before
        # it then run on matching layouts (a ReLU backward on 256x16x5x5: 0.81 -> 0.44 ms)
        ctx.order = None if a.flags.c_contiguous or a.ndim < 2 else memory_order(a)
        try:
            return np.reshape(a, shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot view shape {tuple(a.shape)} ({a.size} elements) "
                             f"as {tuple(shape)}") from None

    @staticmethod
    def backward(ctx, grad):
        g = np.reshape(grad, ctx.shape)
        return g if ctx.order is None else match_layout(g, ctx.order)


class Permute(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.inverse = tuple(np.argsort(axes))
        return np.transpose(a, axes)

    @staticmethod
    def backward(ctx, grad):
        return np.transpose(grad, ctx.inverse)


class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, grad):
        return sum_to_shape(grad, ctx.shape)


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items)


class GetItem(Function):
    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        out = a[index]
        return out if isinstance(out, np.ndarray) else np.asarray(out)

    @staticmethod
    def backward(ctx, grad):
        out = np.zeros(ctx.shape, dtype=grad.dtype)
        if _is_basic_index(ctx.index):
            out[ctx.index] = grad
        else:
            np.add.at(out, ctx.index, grad)  # repeated indices accumulate
        return out


class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        ctx.bounds = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, grad):
        return (None,) + tuple(np.split(grad, ctx.bounds, axis=ctx.dim))


class Flip(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return np.flip(a, axes)

    @staticmethod
    def backward(ctx, grad):
        return np.flip(grad, ctx.axes)


class Clone(Function):
    @staticmethod
    def forward(ctx, a, order="K"):
        return np.array(a, copy=True, order=order)

    @staticmethod
    def backward(ctx, grad):
        return grad


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(input, *shape):
    """The same values in a new shape (one size may be -1); a view when the layout allows, as in PyTorch.

    Example:
        >>> import convgrad
        >>> tuple(convgrad.reshape(convgrad.zeros(6), 2, -1).shape)
        (2, 3)
    """
    shape = _shape_arg(shape)
    if shape == input.shape:
        return input
    return Reshape.apply(input, shape)


view = reshape


def flatten(input, start_dim=0, end_dim=-1):
    """Merge axes ``start_dim`` .. ``end_dim`` into one.

    Example:
        >>> import convgrad
        >>> tuple(convgrad.flatten(convgrad.zeros(2, 3, 4), 1).shape)
        (2, 12)
    """
    nd = input.ndim
    if nd == 0:
        return reshape(input, (1,))
    s, e = start_dim % nd, end_dim % nd
    shape = input.shape[:s] + (-1,) + input.shape[e + 1:]
    if s == e:
        return input
    return reshape(input, tuple(int(np.prod(input.shape[s:e + 1])) if d == -1 else d for d in shape))


def unflatten(input, dim, sizes):
    """Split axis ``dim`` into ``sizes`` (the inverse of :func:`flatten`)."""
    dim = dim % input.ndim
    return reshape(input, input.shape[:dim] + tuple(sizes) + input.shape[dim + 1:])


def permute(input, *dims):
    """Reorder the axes: ``permute(x, 0, 2, 1)`` swaps the last two of a 3-D tensor."""
    dims = tuple(d % input.ndim for d in _shape_arg(dims))
    if sorted(dims) != list(range(input.ndim)):
        raise ShapeError(f"permute: {dims} is not a permutation of the {input.ndim} dimensions of {tuple(input.shape)}")
    return Permute.apply(input, dims)


def transpose(input, dim0, dim1):
    """Swap axes ``dim0`` and ``dim1``."""
    axes = list(range(input.ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return Permute.apply(input, tuple(axes))


def t(input):
    """Transpose of a tensor of at most 2 dimensions."""
    return input if input.ndim < 2 else transpose(input, 0, 1)


def squeeze(input, dim=None):
    """Remove axes of size 1 (all, or the ones in ``dim``)."""
    if dim is None:
        return reshape(input, tuple(s for s in input.shape if s != 1))
    dims = {d % input.ndim for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
    return reshape(input, tuple(s for i, s in enumerate(input.shape) if not (i in dims and s == 1)))


def unsqueeze(input, dim):
    """Insert an axis of size 1 at ``dim``.

    Example:
        >>> import convgrad
        >>> tuple(convgrad.unsqueeze(convgrad.zeros(28, 28), 0).shape)
        (1, 28, 28)
    """
    dim = dim % (input.ndim + 1)
    return reshape(input, input.shape[:dim] + (1,) + input.shape[dim:])


def expand(input, *sizes):
    """Broadcast size-1 axes to ``sizes`` without copying (-1 keeps an axis)."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - input.ndim
    shape = tuple(input.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return Expand.apply(input, shape)


def broadcast_to(input, shape):
    """Broadcast ``input`` to ``shape`` (NumPy's rules); the gradient sums over the broadcast axes."""
    return Expand.apply(input, tuple(shape))


def _unwrap_index(index):
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(input, index):
    """``input[index]`` (basic and advanced indexing, differentiable)."""
    return GetItem.apply(input, _unwrap_index(index))


def cat(tensors, dim=0):
    """Concatenate tensors along an existing axis ``dim``.

    Example:
        >>> import convgrad
        >>> tuple(convgrad.cat([convgrad.zeros(2, 3), convgrad.zeros(1, 3)]).shape)
        (3, 3)
    """
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ShapeError("cat: expected a non-empty list of tensors")
    dim = dim % tensors[0].ndim
    ref = tensors[0].shape
    for t in tensors[1:]:
        if t.ndim != len(ref) or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref)) if i != dim):
            raise ShapeError(f"cat: tensors must match except in dimension {dim}, got {tuple(ref)} and {tuple(t.shape)}")
    return Cat.apply(dim, *tensors)


concatenate = cat


def stack(tensors, dim=0):
    """Stack tensors of equal shape along a new axis ``dim``.

    Example:
        >>> import convgrad
        >>> tuple(convgrad.stack([convgrad.zeros(3), convgrad.zeros(3)]).shape)
        (2, 3)
    """
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    dim = dim % (tensors[0].ndim + 1)
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def flip(input, dims):
    """Reverse the order of the entries along ``dims``."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return Flip.apply(input, tuple(d % input.ndim for d in dims))


def split(input, split_size_or_sections, dim=0):
    """Split along ``dim`` into pieces of ``split_size_or_sections`` (an int, or a list of sizes); a tuple of tensors.
    """
    n = input.shape[dim]
    if isinstance(split_size_or_sections, int):
        sizes = [split_size_or_sections] * (n // split_size_or_sections)
        if n % split_size_or_sections:
            sizes.append(n % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
    out, start = [], 0
    index = [slice(None)] * input.ndim
    for s in sizes:
        index[dim] = slice(start, start + s)
        out.append(getitem(input, tuple(index)))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    """Split along ``dim`` into ``chunks`` pieces of (nearly) equal size; a tuple of tensors."""
    n = input.shape[dim]
    return split(input, -(-n // chunks), dim)


def clone(input):
    """A copy with its own memory (recorded in the graph: the gradient flows back to ``input``)."""
    return Clone.apply(input)


def contiguous(input):
    """``input`` in C-contiguous memory (itself when it already is)."""
    if input._data.flags.c_contiguous:
        return input
    return Clone.apply(input, order="C")
