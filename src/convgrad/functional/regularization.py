"""Explicit weight penalties to add to a loss (PyTorch has no such helpers; these are convgrad's).

    l1_penalty(params) = sum_i |w_i|          gradient sign(w)   (pushes weights to exactly 0)
    l2_penalty(params) = 1/2 * sum_i w_i^2    gradient w         (shrinks weights smoothly)

The 1/2 in ``l2_penalty`` is deliberate: ``loss + wd * l2_penalty(model.parameters())`` then has
the gradient ``grad + wd * w``, exactly what ``SGD(..., weight_decay=wd)`` adds. Each call is one
graph node however many parameters are passed. Biases and normalisation parameters are usually
left out of weight decay; select what to penalise, e.g.::

    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    loss = F.cross_entropy(model(x), y) + 1e-4 * F.l2_penalty(weights)
"""
import numpy as np

from .. import backend
from ..tensor import Function, Tensor
from ._util import DTypeError


class L1Penalty(Function):
    @staticmethod
    def forward(ctx, *params):
        ctx.params = params
        return np.asarray(sum(np.abs(p).sum() for p in params), dtype=params[0].dtype)

    @staticmethod
    def backward(ctx, grad):
        return tuple(grad * np.sign(p) if need else None for p, need in zip(ctx.params, ctx.needs_input_grad))

    @staticmethod
    def output_shape(*shapes):
        return ()


class L2Penalty(Function):
    @staticmethod
    def forward(ctx, *params):
        ctx.params = params
        return np.asarray(0.5 * sum(np.vdot(p, p) for p in params), dtype=params[0].dtype)

    @staticmethod
    def backward(ctx, grad):
        return tuple(grad * p if need else None for p, need in zip(ctx.params, ctx.needs_input_grad))

    @staticmethod
    def output_shape(*shapes):
        return ()


def _collect(op, parameters):
    if hasattr(parameters, "parameters") and callable(parameters.parameters):
        parameters = parameters.parameters()  # a Module
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    params = list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor) or p.dtype.kind != "f":
            what = type(p).__name__ if not isinstance(p, Tensor) else f"a tensor of dtype {p.dtype}"
            raise DTypeError(f"{op}: expected floating point tensors (parameters), got {what} at position {i}")
    return params


def l1_penalty(parameters):
    """sum of |w| over every element of every tensor in ``parameters`` (a Module, a tensor, or an
    iterable of tensors). Returns a scalar tensor; 0 for an empty iterable."""
    params = _collect("l1_penalty", parameters)
    if not params:
        return Tensor(np.zeros((), backend.get_default_dtype()))
    return L1Penalty.apply(*params)


def l2_penalty(parameters):
    """1/2 * sum of w^2 over every element of every tensor in ``parameters`` (a Module, a tensor,
    or an iterable of tensors); its gradient is w itself. Returns a scalar tensor."""
    params = _collect("l2_penalty", parameters)
    if not params:
        return Tensor(np.zeros((), backend.get_default_dtype()))
    return L2Penalty.apply(*params)
