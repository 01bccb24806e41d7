"""Attach operators and methods to Tensor, so ``a + b``, ``a @ w`` and ``x.sum(1)`` work.

``tensor.py`` knows no operation by name; this table is the one place that binds the functional
ops to Tensor's Python operators and method names (PyTorch's names).
"""
import numpy as np

from ..tensor import Tensor
from . import activations, arithmetic as ar, elementwise as el, reductions as red, shape as sh
from ._util import scalar_or_tensor


def _reflected(fn):
    return lambda self, other: fn(scalar_or_tensor(other), self)


def _compare(ufunc):
    def op(self, other):
        """Element-wise comparison with a tensor or number: a bool tensor (not differentiable)."""
        other = other._data if isinstance(other, Tensor) else other
        return Tensor._wrap(ufunc(self._data, other))
    return op


def _type(self, dtype=None):
    """With no argument the dtype's name (e.g. ``'float32'``); with a dtype, the tensor converted to it."""
    if dtype is None:
        return str(self.dtype)
    return el.cast(self, dtype)


def _float(self):
    """``self`` as float32."""
    return el.cast(self, np.float32)


def _double(self):
    """``self`` as float64."""
    return el.cast(self, np.float64)


def _long(self):
    """``self`` as int64."""
    return el.cast(self, np.int64)


def _int(self):
    """``self`` as int32."""
    return el.cast(self, np.int32)


def _bool(self):
    """``self`` as bool."""
    return el.cast(self, np.bool_)


def _type_as(self, other):
    """``self`` converted to the dtype of ``other``."""
    return el.cast(self, other.dtype)


def _transposed(self):
    """The transpose (all axes reversed)."""
    return sh.permute(self, tuple(reversed(range(self.ndim))))


def _matrix_transposed(self):
    """The last two axes swapped (a batch of matrix transposes)."""
    return sh.transpose(self, -2, -1)


def _getitem(self, index):
    return sh.getitem(self, index)


def _iter(self):
    for i in range(len(self)):
        yield self[i]


_METHODS = {
    "__add__": ar.add, "__radd__": _reflected(ar.add),
    "__sub__": ar.sub, "__rsub__": _reflected(ar.sub),
    "__mul__": ar.mul, "__rmul__": _reflected(ar.mul),
    "__truediv__": ar.div, "__rtruediv__": _reflected(ar.div),
    "__pow__": ar.pow, "__rpow__": _reflected(ar.pow),
    "__matmul__": ar.matmul, "__rmatmul__": _reflected(ar.matmul),
    "__neg__": ar.neg, "__pos__": lambda self: self, "__abs__": el.abs,
    "__getitem__": _getitem, "__iter__": _iter,
    "__eq__": _compare(np.equal), "__ne__": _compare(np.not_equal),
    "__lt__": _compare(np.less), "__le__": _compare(np.less_equal),
    "__gt__": _compare(np.greater), "__ge__": _compare(np.greater_equal),
    "__and__": _compare(np.logical_and), "__or__": _compare(np.logical_or),
    "__invert__": lambda self: Tensor._wrap(np.logical_not(self._data)),
    "eq": _compare(np.equal), "ne": _compare(np.not_equal), "lt": _compare(np.less),
    "le": _compare(np.less_equal), "gt": _compare(np.greater), "ge": _compare(np.greater_equal),
    "add": ar.add, "sub": ar.sub, "mul": ar.mul, "div": ar.div, "neg": ar.neg, "pow": ar.pow,
    "matmul": ar.matmul, "mm": ar.matmul,
    "exp": el.exp, "log": el.log, "sqrt": el.sqrt, "abs": el.abs, "sin": el.sin, "cos": el.cos,
    "clamp": el.clamp, "clip": el.clamp, "sign": el.sign,
    "maximum": el.maximum, "minimum": el.minimum,
    "relu": activations.relu, "tanh": activations.tanh, "sigmoid": activations.sigmoid,
    "softmax": activations.softmax, "log_softmax": activations.log_softmax,
    "sum": red.sum, "mean": red.mean, "max": red.max, "min": red.min, "amax": red.amax,
    "amin": red.amin, "argmax": red.argmax, "argmin": red.argmin, "var": red.var, "std": red.std,
    "logsumexp": red.logsumexp,
    "reshape": sh.reshape, "view": sh.view, "flatten": sh.flatten, "unflatten": sh.unflatten,
    "permute": sh.permute, "transpose": sh.transpose, "t": sh.t, "squeeze": sh.squeeze,
    "unsqueeze": sh.unsqueeze, "expand": sh.expand, "flip": sh.flip, "split": sh.split,
    "chunk": sh.chunk, "clone": sh.clone, "contiguous": sh.contiguous,
    "type": _type,
    "float": _float, "double": _double, "long": _long, "int": _int, "bool": _bool, "type_as": _type_as,
}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(_transposed)
Tensor.mT = property(_matrix_transposed)
