"""Negative log-likelihood losses of distributions (``torch.nn.functional`` names and arguments):
``gaussian_nll_loss`` and ``poisson_nll_loss``.

Both are written with convgrad's differentiable ops in PyTorch's formula and order::

    gaussian   0.5 (log v + (x - t)^2 / v)  [+ 0.5 log(2 pi) with full]     v = max(var, eps)
    poisson    exp(x) - t x  (log_input)   or   x - t log(x + eps)
               [+ t log t - t + 0.5 log(2 pi t) where t > 1, with full: Stirling's log t!]

The Gaussian clamps the variance as PyTorch does: the value is clamped, the gradient passes
through as if it were not (PyTorch clamps a copy under no_grad).
"""
import math

import numpy as np

from ..tensor import Tensor, no_grad
from . import elementwise as E
from ._util import ArgumentError, DTypeError, ShapeError, shape_str
from .loss import _reduction
from .margin_loss import _float_input, _reduce, _tensor


def _variance(op, input, var):
    """PyTorch's rules for var's shape: the input's, or one size-1 axis less/shorter (homoscedastic)."""
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ArgumentError(f"{op}: var has negative entries, got {var}")
        return Tensor(np.full(input.shape, var, dtype=input.dtype))
    var = _tensor(op, "var", var, input)
    if var._data.size and np.any(var._data < 0):
        raise ArgumentError(f"{op}: var has negative entries (min {float(var._data.min())})")
    if tuple(var.shape) == tuple(input.shape):
        return var
    if tuple(input.shape[:-1]) == tuple(var.shape):
        return var.unsqueeze(-1)
    mismatched = [v for x, v in zip(input.shape, var.shape) if x != v]
    if input.ndim == var.ndim and sum(mismatched) == 1:
        return var
    raise ShapeError(f"{op}: var of shape {shape_str(var.shape)} does not fit input {shape_str(input.shape)} "
                     f"(expected the input's shape, or it with one dimension of size 1 or without the last)")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Negative log-likelihood of ``target`` under N(input, var): ``0.5 (log v + (x - t)^2 / v)``.

    Args:
        input: predicted means, (N, *) or (*). target: the input's shape (or broadcastable).
        var: predicted variances: the input's shape, one size-1 dimension (homoscedastic), the
            input's shape without its last dimension, or a Python float. Must be >= 0.
        full: add the constant 0.5 log(2 pi). eps: variances are clamped to at least eps.
        reduction: 'none' | 'mean' | 'sum'.

    Returns:
        The loss (a scalar, or the broadcast shape with 'none').

    Raises:
        ArgumentError: negative variances or an unknown reduction. ShapeError: var of the wrong shape.

    Example:
        >>> F.gaussian_nll_loss(cg.randn(5, 2), cg.randn(5, 2), cg.ones(5, 2))
        tensor(...)
    """
    op = "gaussian_nll_loss"
    reduction = _reduction(op, None, None, reduction)
    input = _float_input(op, "input", input)
    target = _tensor(op, "target", target, input)
    var = _variance(op, input, var)
    with no_grad():  # PyTorch's var.clamp_(min=eps) on a copy: values clamped, gradient straight through
        lift = E.clamp(var, min=eps) - var
    var = var + lift
    loss = 0.5 * (E.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Negative log-likelihood of counts ``target`` under Poisson(rate): ``exp(x) - t x`` for a
    log-rate input, or ``x - t log(x + eps)`` for a rate input.

    Args:
        input: log-rates (``log_input=True``, default) or rates. target: counts, the input's shape.
        full: add Stirling's approximation of log(t!) where t > 1.
        eps: keeps log(x + eps) finite when ``log_input=False``. Default 1e-8.
        reduction: 'none' | 'mean' | 'sum'.

    Returns:
        The loss (a scalar, or the input's shape with 'none').

    Example:
        >>> F.poisson_nll_loss(cg.randn(4), cg.tensor([0.0, 1.0, 3.0, 2.0]))
        tensor(...)
    """
    op = "poisson_nll_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    input = _float_input(op, "input", input)
    target = _tensor(op, "target", target, input)
    if target.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point target, got dtype {target.dtype}")
    if log_input:
        loss = E.exp(input) - target * input
    else:
        loss = input - target * E.log(input + eps)
    if full:
        big = target._data > 1
        t = E.where(big, target, 1.0)  # a safe value where the term is dropped: no 0 * inf gradients
        stirling = t * E.log(t) - t + 0.5 * E.log(2 * math.pi * t)
        loss = loss + E.where(big, stirling, 0.0)
    return _reduce(loss, reduction)
