"""In-place tensor methods: ``add_``, ``sub_``, ``mul_``, ``div_``, ``clamp_``, ``fill_``, ``zero_``,
``normal_``, ``uniform_``, ``masked_fill_`` and the augmented operators ``+=``, ``-=``, ``*=``, ``/=``.

PyTorch's autograd rules hold:

- A leaf tensor that requires grad cannot be changed in place while the graph is recorded
  (``RuntimeError``); do it under ``convgrad.no_grad()`` (initialisation, hand-written updates).
- Every in-place change raises the tensor's version counter. An operation that kept the tensor's
  values for its backward rule (``exp`` keeps its output, ``mul`` its inputs), or that must send
  a gradient through the tensor's earlier history, remembers the version it saw; backward through
  it after the tensor changed raises ``RuntimeError`` instead of computing with the new values.
  (convgrad is stricter than PyTorch in one place: a tensor that an op such as ``add`` used
  without keeping is also refused once changed, since its history now ends in the in-place op.)
- On a tensor in the graph the change is recorded: ``y.mul_(2)`` makes ``y.grad_fn`` a
  ``MulBackward0`` whose input is ``y``'s previous value.

Changes made through ``.data`` (or under ``no_grad``) are not recorded, as in PyTorch. An
in-place change of a view that is part of the graph (``y[0].add_(1)`` with ``y`` requiring grad)
raises, since convgrad cannot record it in ``y``'s history; outside the graph, changes through
views reach the storage but do not raise the base tensor's version counter.
"""
import numbers

import numpy as np

from .. import backend
from ..kernels.broadcast import sum_to_shape
from ..tensor import Function, Tensor, is_grad_enabled, no_grad
from . import arithmetic as ar, elementwise as el
from ..errors import ArgumentTypeError
from ._util import scalar_or_tensor
from .indexing import masked_fill, scatter, scatter_add


class Overwrite(Function):
    """``a`` replaced by fixed ``values`` (fill_, zero_, normal_, uniform_): no gradient reaches ``a``."""

    @staticmethod
    def forward(ctx, a, values):
        ctx.shape, ctx.dtype = a.shape, a.dtype
        return np.array(np.broadcast_to(values, a.shape), dtype=a.dtype)

    @staticmethod
    def output_shape(shape, *args):
        return tuple(shape)

    @staticmethod
    def backward(ctx, grad):
        return np.zeros(ctx.shape, ctx.dtype), None


class Copy(Function):
    """``a`` replaced by ``src`` broadcast to its shape (copy_): the gradient goes to ``src``."""

    @staticmethod
    def forward(ctx, a, src):
        ctx.shape, ctx.dtype, ctx.src_shape = a.shape, a.dtype, np.shape(src)
        return np.array(np.broadcast_to(src, a.shape), dtype=a.dtype)

    @staticmethod
    def output_shape(shape, *args):
        return tuple(shape)

    @staticmethod
    def backward(ctx, grad):
        na, ns = ctx.needs_input_grad
        return (np.zeros(ctx.shape, ctx.dtype) if na else None,
                sum_to_shape(grad, ctx.src_shape) if ns else None)


def _needs_graph(self, others):
    if not is_grad_enabled():
        return False
    return self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others)


def apply_inplace(self, name, compute, *others):
    """Run ``compute(stand_in)`` (an out-of-place op) and store the result in ``self``.

    ``stand_in`` is ``self`` itself when nothing is recorded, else a copy of ``self``'s values that
    carries its history, so the recorded op's saved arrays are not the ones being overwritten.
    """
    if not isinstance(self, Tensor):
        raise ArgumentTypeError(f"{name}: expected a Tensor, got {type(self).__name__}")
    self._check_inplace(name)
    if not _needs_graph(self, others):
        with no_grad():
            result = compute(self)
        return self._rebase(result)
    if self._node is not None and self._data.base is not None and any(
            t is not None and np.may_share_memory(t._data, self._data) for t in self._node.inputs):
        raise RuntimeError(f"{name}: this tensor is a view ({self._node.name()}) of another tensor in the graph; "
                           f"convgrad does not record in-place changes through views: use an out-of-place op "
                           f"(y = y + 1) or clone() the view first")
    stand_in = Tensor._wrap(self._data.copy(), self._requires_grad)
    stand_in._node = self._node
    return self._rebase(compute(stand_in))


def add_(self, other, alpha=1):
    """In place ``self += alpha * other``; returns ``self``."""
    other = scalar_or_tensor(other)
    return apply_inplace(self, "add_", lambda t: ar.add(t, other, alpha=alpha), other)


def sub_(self, other, alpha=1):
    """In place ``self -= alpha * other``; returns ``self``."""
    other = scalar_or_tensor(other)
    return apply_inplace(self, "sub_", lambda t: ar.sub(t, other, alpha=alpha), other)


def mul_(self, other):
    """In place ``self *= other``; returns ``self``."""
    other = scalar_or_tensor(other)
    return apply_inplace(self, "mul_", lambda t: ar.mul(t, other), other)


def div_(self, other, rounding_mode=None):
    """In place ``self /= other`` (``rounding_mode`` 'trunc' or 'floor' as in PyTorch); returns ``self``."""
    if rounding_mode is not None:
        raise ArgumentTypeError("div_: rounding_mode is not supported; use convgrad.floor_divide or // instead")
    other = scalar_or_tensor(other)
    return apply_inplace(self, "div_", lambda t: ar.div(t, other), other)


def clamp_(self, min=None, max=None):
    """Clamp ``self`` into ``[min, max]`` in place; returns ``self``."""
    return apply_inplace(self, "clamp_", lambda t: el.clamp(t, min, max))


def masked_fill_(self, mask, value):
    """Set the entries where ``mask`` (a bool tensor, broadcast) is True to ``value``, in place."""
    return apply_inplace(self, "masked_fill_", lambda t: masked_fill(t, mask, value), value)


def scatter_(self, dim, index, src=None, value=None, reduce=None):
    """In-place :func:`~convgrad.functional.indexing.scatter` (the one-hot idiom
    ``zeros(10).scatter_(0, tensor(y), value=1)``)."""
    src_t = src if isinstance(src, Tensor) else None
    return apply_inplace(self, "scatter_", lambda t: scatter(t, dim, index, src, value, reduce), src_t)


def scatter_add_(self, dim, index, src):
    """In-place :func:`~convgrad.functional.indexing.scatter_add`."""
    return apply_inplace(self, "scatter_add_", lambda t: scatter_add(t, dim, index, src), src)


def _overwrite(self, name, values):
    return apply_inplace(self, name, lambda t: Overwrite.apply(t, values))


def copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast, cast to this tensor's dtype) into this tensor; recorded in the graph
    when ``src`` requires grad, as in PyTorch."""
    if not isinstance(src, Tensor):
        src = Tensor(np.asarray(src))
    self._check_inplace("copy_")
    if not _needs_graph(self, (src,)):
        np.copyto(self._data, np.broadcast_to(src._data, self._data.shape), casting="unsafe")
        self._version[0] += 1
        return self
    return apply_inplace(self, "copy_", lambda t: Copy.apply(t, src), src)


def fill_(self, value):
    """Fill ``self`` with ``value`` in place; returns ``self``."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ArgumentTypeError(f"fill_: expected a number or a one-element tensor, got shape {tuple(value.shape)}")
        value = value.item()
    return _overwrite(self, "fill_", value)


def zero_(self):
    """Fill ``self`` with zeros in place; returns ``self``."""
    return _overwrite(self, "zero_", 0)


def normal_(self, mean=0.0, std=1.0, generator=None):
    """Fill with samples of N(mean, std^2) from convgrad's generator (or ``generator``)."""
    values = backend.rng_of(generator).normal(mean, std, self.shape)
    return _overwrite(self, "normal_", values)


def uniform_(self, a=0.0, b=1.0, generator=None):
    """Fill with samples of U(a, b) from convgrad's generator (or ``generator``)."""
    values = backend.rng_of(generator).uniform(a, b, self.shape)
    return _overwrite(self, "uniform_", values)


def _augmented(method):
    def op(self, other):
        if not isinstance(other, (Tensor, numbers.Number, np.ndarray, np.generic)):
            return NotImplemented
        return method(self, other)
    return op


_METHODS = {
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "clamp_": clamp_, "clip_": clamp_,
    "copy_": copy_, "fill_": fill_, "zero_": zero_, "normal_": normal_, "uniform_": uniform_, "masked_fill_": masked_fill_,
    "scatter_": scatter_, "scatter_add_": scatter_add_,
    "__iadd__": _augmented(add_), "__isub__": _augmented(sub_), "__imul__": _augmented(mul_),
    "__itruediv__": _augmented(div_),
}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
