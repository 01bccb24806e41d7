"""Elementwise mathematical functions: exp, log, sqrt, abs, clamp, maximum/minimum, where, casts."""
import numpy as np

from ..kernels.broadcast import sum_to_shape
from ..tensor import Function, Tensor
from ._util import scalar_or_tensor


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.a


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad / (2 * ctx.out)


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.sign(ctx.a)


class Sin(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.sin(a)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.cos(ctx.a)


class Cos(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.cos(a)

    @staticmethod
    def backward(ctx, grad):
        return -grad * np.sin(ctx.a)


class Clamp(Function):
    """Gradient passes where ``min <= a <= max`` (PyTorch's convention at the bounds)."""

    @staticmethod
    def forward(ctx, a, min=None, max=None):
        mask = np.ones(a.shape, dtype=bool)
        if min is not None:
            mask &= a >= min
        if max is not None:
            mask &= a <= max
        ctx.mask = mask
        return np.clip(a, min, max).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.mask


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, grad):
        _, na, nb = ctx.needs_input_grad
        zero = np.zeros((), grad.dtype)
        ga = sum_to_shape(np.where(ctx.cond, grad, zero), ctx.shapes[0]) if na else None
        gb = sum_to_shape(np.where(ctx.cond, zero, grad), ctx.shapes[1]) if nb else None
        return None, ga, gb


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype)


def exp(input):
    """Element-wise ``e ** x``."""
    return Exp.apply(input)


def log(input):
    """Element-wise natural logarithm (``-inf`` at 0, NaN below)."""
    return Log.apply(input)


def sqrt(input):
    """Element-wise square root."""
    return Sqrt.apply(input)


def abs(input):
    """Element-wise absolute value (gradient 0 at 0, as in PyTorch)."""
    return Abs.apply(input)


def sin(input):
    """Element-wise sine."""
    return Sin.apply(input)


def cos(input):
    """Element-wise cosine."""
    return Cos.apply(input)


def clamp(input, min=None, max=None):
    """Clamp every value into ``[min, max]`` (either bound may be None); the gradient is 1 inside, 0 outside.

    Example:
        >>> import convgrad
        >>> convgrad.clamp(convgrad.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0).tolist()
        [0.0, 0.5, 1.0]
    """
    return Clamp.apply(input, min=min, max=max)


clip = clamp


def where(condition, input, other):
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    return Where.apply(cond, scalar_or_tensor(input), scalar_or_tensor(other))


class Maximum(Function):
    """Elementwise maximum; where both are equal the gradient is split in half (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b, take_max=True):
        ctx.save_for_backward(a, b)
        ctx.take_max = take_max
        return np.maximum(a, b) if take_max else np.minimum(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        first = np.greater(a, b) if ctx.take_max else np.less(a, b)
        share = first + 0.5 * np.equal(a, b)
        ga = sum_to_shape(grad * share, np.shape(a)) if na else None
        gb = sum_to_shape(grad * (1 - share), np.shape(b)) if nb else None
        return ga, gb


def maximum(input, other):
    """Element-wise maximum of two tensors or numbers (broadcasting)."""
    return Maximum.apply(scalar_or_tensor(input), scalar_or_tensor(other), take_max=True)


def minimum(input, other):
    """Element-wise minimum of two tensors (broadcasting)."""
    return Maximum.apply(scalar_or_tensor(input), scalar_or_tensor(other), take_max=False)


def sign(input):
    """-1, 0 or 1 by the sign of each value (gradient 0)."""
    return Tensor._wrap(np.sign(input._data))


def cast(input, dtype):
    """``input`` converted to ``dtype`` (differentiable between float dtypes)."""
    dtype = np.dtype(dtype)
    if input.dtype == dtype:
        return input
    if dtype.kind not in "fc" or not input.requires_grad:
        return Tensor._wrap(input._data.astype(dtype), False)
    return Cast.apply(input, dtype)


class Log1p(Function):
    """``log(1 + a)``, accurate for small ``a``."""

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.log1p(a)

    @staticmethod
    def output_shape(shape):
        return tuple(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad / (1 + ctx.a)


class Expm1(Function):
    """``exp(a) - 1``, accurate for small ``a``."""

    @staticmethod
    def forward(ctx, a):
        out = np.expm1(a)
        ctx.out = out
        return out

    @staticmethod
    def output_shape(shape):
        return tuple(shape)

    @staticmethod
    def backward(ctx, grad):
        return grad * (ctx.out + 1)


def log1p(input):
    """``log(1 + input)``, accurate near 0 (``torch.log1p``)."""
    return Log1p.apply(input)


def expm1(input):
    """``exp(input) - 1``, accurate near 0 (``torch.expm1``)."""
    return Expm1.apply(input)


Tensor.log1p = log1p
Tensor.expm1 = expm1
