"""Small helpers shared by the functional ops: argument normalisation and error messages."""
import numbers

import numpy as np

from ..errors import ArgumentError, DTypeError, ShapeError  # noqa: F401  (re-exported for the ops)
from ..tensor import Function, Tensor


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


# ----------------------------------------------------------------------------------------------
# Inputs PyTorch accepts beyond the usual batch: one sample without its batch axis, and empty batches
# ----------------------------------------------------------------------------------------------
def with_batch_dim(fn, input, batched_ndim, *args, **kwargs):
    """Run ``fn(input, *args, **kwargs)``, written for ``batched_ndim``-D batches, on one sample too.

    PyTorch's layers take a sample without its batch axis (``(C, L)`` for ``InstanceNorm1d``,
    ``(C, H, W)`` for pooling and convolutions): a ``batched_ndim - 1``-D input gets a batch axis of
    size 1 and every tensor in the result loses it again. Other inputs go to ``fn`` unchanged.
    """
    if input.ndim != batched_ndim - 1:
        return fn(input, *args, **kwargs)
    out = fn(input.unsqueeze(0), *args, **kwargs)
    if isinstance(out, tuple):
        return tuple(o.squeeze(0) if isinstance(o, Tensor) else o for o in out)
    return out.squeeze(0)


class EmptyResult(Function):
    """The result of an op on a zero-size batch: an empty array of the op's output shape, and
    zero gradients of each input's shape (what PyTorch returns for parameters, too)."""

    @staticmethod
    def forward(ctx, *arrays, shape=(), dtype=None):
        ctx.shapes = [None if a is None else np.shape(a) for a in arrays]
        return np.zeros(shape, dtype)

    @staticmethod
    def backward(ctx, grad):
        return tuple(None if s is None or not need else np.zeros(s, grad.dtype)
                     for s, need in zip(ctx.shapes, ctx.needs_input_grad))


def empty_result(shape, input, *others):
    """An empty result of ``shape`` (a zero in it) that stays connected to ``input`` and ``others``
    (weights, biases) in the graph."""
    return EmptyResult.apply(input, *others, shape=tuple(shape), dtype=input.dtype)
