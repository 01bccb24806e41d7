"""Elementwise arithmetic with broadcasting, and matrix multiplication.

For ``y = a op b`` with broadcasting, the gradient of an input is the elementwise rule
(for example dy/da = b for a product) summed back over the broadcast axes.
"""
import numpy as np

from ..kernels.broadcast import sum_to_shape
from ..tensor import Function, Tensor
from ..errors import ArgumentTypeError
from ._util import ShapeError, scalar_or_tensor


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.add(a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (sum_to_shape(grad, sa) if na else None, sum_to_shape(grad, sb) if nb else None)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, grad):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (sum_to_shape(grad, sa) if na else None, sum_to_shape(-grad, sb) if nb else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (sum_to_shape(grad * b, np.shape(a)) if na else None,
                sum_to_shape(grad * a, np.shape(b)) if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.true_divide(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = sum_to_shape(grad / b, np.shape(a)) if na else None
        gb = sum_to_shape(-grad * a / (b * b), np.shape(b)) if nb else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Pow(Function):
    """``a ** b``: d/da = b * a**(b-1), d/db = a**b * ln(a)."""

    @staticmethod
    def forward(ctx, a, b):
        out = np.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            ga = sum_to_shape(grad * b * np.power(a, b - 1), np.shape(a))
        if nb:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = sum_to_shape(grad * out * np.log(a), np.shape(b))
        return ga, gb


class MatMul(Function):
    """Matrix product with NumPy's rules for 1-D operands and batch broadcasting."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if na:
            ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
            ga = sum_to_shape(ga, a2.shape).reshape(a.shape)
        if nb:
            gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
            gb = sum_to_shape(gb, b2.shape).reshape(b.shape)
        return ga, gb


def into(out, result, op):
    """PyTorch's ``out=``: write ``result`` into the tensor ``out`` (reshaped if its shape differs)
    and return ``out``. Not differentiable, as in PyTorch."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise ArgumentTypeError(f"{op}: out must be a Tensor, got {type(out).__name__}")
    if result.requires_grad:
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic differentiation, "
                           f"but one of the arguments requires grad")
    if out.shape == result.shape:
        np.copyto(out._data, result._data, casting="same_kind")
    else:
        out._data = result._data.astype(out.dtype, copy=True)
    out._version[0] += 1
    return out


def _broadcast(fn, op, a, b):
    """``fn.apply(a, b)``; NumPy's broadcasting failure becomes a ShapeError naming both shapes."""
    try:
        return fn.apply(a, b)
    except ValueError as exc:
        if isinstance(exc, ShapeError):
            raise
        sa, sb = np.shape(a._data if isinstance(a, Tensor) else a), np.shape(b._data if isinstance(b, Tensor) else b)
        try:
            np.broadcast_shapes(sa, sb)
        except ValueError:
            raise ShapeError(f"{op}: shapes {tuple(sa)} and {tuple(sb)} do not broadcast (each dimension, counted "
                             f"from the last, must be equal or 1)") from None
        raise


def add(input, other, alpha=1, out=None):
    """``input + alpha * other``, broadcasting; ``other`` may be a number; ``out=`` receives the result.

    Example:
        >>> import convgrad
        >>> convgrad.add(convgrad.ones(2), convgrad.ones(2), alpha=2).tolist()
        [3.0, 3.0]
    """
    other = scalar_or_tensor(other)
    if alpha != 1:
        other = mul(other, alpha)
    return into(out, _broadcast(Add, "add", scalar_or_tensor(input), other), "add")


def sub(input, other, alpha=1, out=None):
    """``input - alpha * other``, broadcasting; ``other`` may be a number; ``out=`` receives the result."""
    other = scalar_or_tensor(other)
    if alpha != 1:
        other = mul(other, alpha)
    return into(out, _broadcast(Sub, "sub", scalar_or_tensor(input), other), "sub")


def mul(input, other, out=None):
    """Element-wise product ``input * other``, broadcasting; ``out=`` receives the result."""
    return into(out, _broadcast(Mul, "mul", scalar_or_tensor(input), scalar_or_tensor(other)), "mul")


def div(input, other, out=None):
    """Element-wise true division ``input / other``, broadcasting; ``out=`` receives the result."""
    return into(out, _broadcast(Div, "div", scalar_or_tensor(input), scalar_or_tensor(other)), "div")


def neg(input):
    """``-input``."""
    return Neg.apply(input)


def pow(input, exponent):
    """``input ** exponent`` element-wise (``exponent`` a number or a tensor)."""
    return Pow.apply(scalar_or_tensor(input), scalar_or_tensor(exponent))


def matmul(input, other, out=None):
    """Matrix product with NumPy's/PyTorch's rules: vectors, matrices, batches of matrices (broadcast).

    ``out=`` receives the result, as in PyTorch.

    Shape:
        ``(..., n, k) @ (..., k, m) -> (..., n, m)``; a 1-D operand is a vector.

    Example:
        >>> import convgrad
        >>> tuple(convgrad.matmul(convgrad.ones(2, 3), convgrad.ones(3, 4)).shape)
        (2, 4)
    """
    if out is not None:
        return into(out, matmul(input, other), "matmul")
    a, b = scalar_or_tensor(input), scalar_or_tensor(other)
    sa, sb = np.shape(a._data if isinstance(a, Tensor) else a), np.shape(b._data if isinstance(b, Tensor) else b)
    if not sa or not sb:
        raise ShapeError(f"matmul: both operands must have at least one dimension, got {sa} and {sb}")
    inner_b = sb[0] if len(sb) == 1 else sb[-2]
    if sa[-1] != inner_b:
        raise ShapeError(f"matmul: inner dimensions differ: {sa} @ {sb} ({sa[-1]} != {inner_b})")
    return MatMul.apply(a, b)


def mm(input, mat2, out=None):
    """Product of two matrices (2-D only, as ``torch.mm``); see :func:`matmul` for the general case."""
    for name, t in (("input", input), ("mat2", mat2)):
        if not isinstance(t, Tensor) or t.ndim != 2:
            raise ShapeError(f"mm: {name} must be a 2-D tensor, got "
                             f"{'shape ' + str(tuple(t.shape)) if isinstance(t, Tensor) else type(t).__name__}")
    return matmul(input, mat2, out=out)


def bmm(input, mat2, out=None):
    """Batched product of ``(b, n, m)`` and ``(b, m, p)`` tensors (``torch.bmm``)."""
    for name, t in (("input", input), ("mat2", mat2)):
        if not isinstance(t, Tensor) or t.ndim != 3:
            raise ShapeError(f"bmm: {name} must be a 3-D tensor, got "
                             f"{'shape ' + str(tuple(t.shape)) if isinstance(t, Tensor) else type(t).__name__}")
    return matmul(input, mat2, out=out)
