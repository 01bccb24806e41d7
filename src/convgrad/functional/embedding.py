"""Lookups by class index: ``embedding`` (rows of a weight matrix) and ``one_hot``
(``torch.nn.functional`` names and arguments).

``embedding(input, weight)`` is ``weight[input]``: each integer of ``input`` picks a row of the
``(num_embeddings, embedding_dim)`` weight. Its backward adds each output row's gradient to the
row it was read from (``np.add.at``, so repeated indices accumulate); the row ``padding_idx``
gets no gradient, and ``scale_grad_by_freq`` divides each row's gradient by how often its index
occurs in the batch. ``max_norm`` renormalises, in place and outside the graph, every referenced
row whose ``norm_type``-norm exceeds it (PyTorch's ``embedding_renorm_``).
"""
import numpy as np

from ..tensor import Function, Tensor
from ._util import ArgumentError, DTypeError, ShapeError, shape_str


class Embedding(Function):
    @staticmethod
    def forward(ctx, weight, indices, padding_idx=None, scale_grad_by_freq=False):
        ctx.indices, ctx.shape = indices, weight.shape
        ctx.padding_idx, ctx.scale = padding_idx, scale_grad_by_freq
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        flat = ctx.indices.reshape(-1)
        rows = np.reshape(grad, (flat.size, ctx.shape[1]))
        if ctx.scale:  # divide by the number of times each index occurs in this batch
            counts = np.bincount(flat, minlength=ctx.shape[0])
            rows = rows / counts[flat][:, None]
        gw = np.zeros(ctx.shape, dtype=grad.dtype)
        np.add.at(gw, flat, rows)
        if ctx.padding_idx is not None:
            gw[ctx.padding_idx] = 0
        return gw, None

    @staticmethod
    def output_shape(weight_shape, indices_shape, **kwargs):
        return tuple(indices_shape) + (weight_shape[1],)


def _renorm_rows(weight, indices, max_norm, norm_type):
    """PyTorch's ``embedding_renorm_``: rows used by ``indices`` with norm > max_norm are scaled
    to norm max_norm (by max_norm / (norm + 1e-7)), in place, without gradient."""
    rows = np.unique(indices)
    w = weight._data
    norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
    big = norms > max_norm
    scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
    w[rows[big]] *= scale[:, None]


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Look up rows of ``weight`` by the integer indices in ``input``.

    Args:
        input: integer tensor or array of any shape, values in ``[0, num_embeddings)``.
        weight: ``(num_embeddings, embedding_dim)`` tensor.
        padding_idx: this row gets no gradient (negative counts from the end).
        max_norm: renormalise the rows used here to at most this ``norm_type``-norm (changes
            ``weight`` in place).
        norm_type: the p of the p-norm for ``max_norm``. Default 2.
        scale_grad_by_freq: divide each row's gradient by its index's frequency in ``input``.
        sparse: accepted for compatibility; gradients are always dense arrays.

    Returns:
        A tensor of shape ``input.shape + (embedding_dim,)``.

    Raises:
        DTypeError: non-integer indices. ShapeError: a weight that is not 2-D.
        ArgumentError: an index out of range or a padding_idx outside the table.

    Example:
        >>> table = convgrad.randn(10, 3, requires_grad=True)
        >>> convgrad.nn.functional.embedding(convgrad.tensor([[1, 2], [4, 9]]), table).shape
        convgrad.Size([2, 2, 3])
    """
    idx = input._data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"embedding: expected integer indices, got dtype {idx.dtype}")
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        got = shape_str(weight.shape) if hasattr(weight, "shape") else type(weight).__name__
        raise ShapeError(f"embedding: expected a 2-D weight (num_embeddings, embedding_dim), got {got}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)].reshape(-1)[0]
        raise ArgumentError(f"embedding: index {int(bad)} is out of range for a table of {n} rows")
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ArgumentError(f"embedding: padding_idx must be within the {n} rows, got {padding_idx}")
        padding_idx = int(padding_idx) % n
    idx = idx.astype(np.int64, copy=False)
    if max_norm is not None and idx.size:
        _renorm_rows(weight, idx, float(max_norm), float(norm_type))
    return Embedding.apply(weight, idx, padding_idx=padding_idx, scale_grad_by_freq=bool(scale_grad_by_freq))


def one_hot(tensor, num_classes=-1):
    """``(*) -> (*, num_classes)`` int64: 1 at each value's class, 0 elsewhere.

    Args:
        tensor: integer class indices, non-negative.
        num_classes: the number of classes; -1 (default) uses ``max(tensor) + 1``.

    Returns:
        An int64 tensor without gradient.

    Raises:
        DTypeError: non-integer input. ArgumentError: negative values or values >= num_classes.

    Example:
        >>> convgrad.nn.functional.one_hot(convgrad.tensor([0, 2]), 3).tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    idx = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"one_hot: expected an integer tensor of class indices, got dtype {idx.dtype}")
    if idx.size and idx.min() < 0:
        raise ArgumentError(f"one_hot: class values must be non-negative, got {int(idx.min())}")
    if num_classes == -1:
        if idx.size == 0:
            raise ArgumentError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(idx.max()) + 1
    elif idx.size and idx.max() >= num_classes:
        raise ArgumentError(f"one_hot: class values must be smaller than num_classes={num_classes}, "
                            f"got {int(idx.max())}")
    out = np.zeros(idx.shape + (int(num_classes),), dtype=np.int64)
    np.put_along_axis(out, idx.astype(np.int64)[..., None], 1, axis=-1)
    return Tensor._wrap(out)
