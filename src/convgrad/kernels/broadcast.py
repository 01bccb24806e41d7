"""Undoing broadcasting in backward passes."""
import numpy as np


def sum_to_shape(grad, shape):
    """Sum ``grad`` over the axes that broadcasting expanded so that it has ``shape``.

    If ``y = x + b`` broadcast ``b`` of shape (C, 1, 1) to (N, C, H, W), every element of ``b``
    fed N*H*W outputs, so its gradient is the sum of the output gradient over those positions.
    """
    if grad.shape == tuple(shape):
        return grad
    lead = grad.ndim - len(shape)
    axes = list(range(lead))
    axes += [lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1]
    out = grad.sum(axis=tuple(axes), keepdims=True) if axes else grad
    return out.reshape(shape)
