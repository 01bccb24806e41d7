"""Activation functions and softmax (PyTorch's ``torch.nn.functional`` names and defaults).

Every activation is one :class:`Function` whose backward rule sits under its forward. The rules,
with ``s = sigmoid(x)`` and ``y`` the output:

    relu' = [x > 0]                     leaky_relu' = 1 if x > 0 else slope
    tanh' = 1 - y^2                     sigmoid' = y (1 - y)
    elu'  = 1 if x > 0 else alpha e^x   (selu and celu are scaled ELUs, as in PyTorch)
    gelu' = Phi(x) + x phi(x)           silu' = s (1 + x (1 - s))
    softplus' = sigmoid(beta x)         mish' = tanh(sp) + x s (1 - tanh(sp)^2), sp = softplus(x)
    hardtanh' = [min < x < max]         softsign' = 1 / (1 + |x|)^2
    softmax:  dx = y * (g - sum(g * y))  log_softmax: dx = g - e^y * sum(g)

Numerical stability: nothing here calls ``exp`` on a large positive number. Sigmoid uses
``e^-|x|``; softplus is ``max(x, 0) + log1p(e^-|x|)``; softmax and log_softmax subtract the
maximum first; ELU-like functions only exponentiate ``min(x, 0)``. Inputs of +-1e4 give finite
values and gradients wherever PyTorch's do.
"""
import math
import warnings

import numpy as np

from ..kernels.parallel import elementwise
from ..tensor import Function, Tensor
from ._util import ArgumentError, DTypeError, ShapeError, shape_str

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class _Pointwise(Function):
    """An elementwise op: the output has the input's shape."""

    @staticmethod
    def output_shape(x_shape, *args, **kwargs):
        return tuple(x_shape)


def _stable_sigmoid(x):
    # exp of a non-positive number only: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) for x < 0
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def _stable_softplus(x):
    # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never overflows
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def _erf(x):
    """The error function elementwise, via the C library's erf (NumPy has none)."""
    # np.asarray: on a 0-d input the ufunc returns a bare Python float
    return np.asarray(_erf_scalar(x.astype(np.float64, copy=False)), dtype=x.dtype)


# ----------------------------------------------------------------------------------------------
# Rectifiers and clipping
# ----------------------------------------------------------------------------------------------
class ReLU(_Pointwise):
    @staticmethod
    def forward(ctx, x):
        out = elementwise(np.maximum, np.empty_like(x), x, x.dtype.type(0))
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return elementwise(_pass_where_positive, np.empty_like(ctx.out), grad, ctx.out)


def _pass_where_positive(grad, out_value, out):
    """ReLU's backward rule: the gradient where the output is positive, else 0."""
    return np.multiply(grad, out_value > 0, out=out)


class LeakyReLU(_Pointwise):
    """``x if x > 0 else slope * x``. For slopes in (0, 1] (all common ones) the forward is
    ``max(x, slope * x)`` and the backward reads the sign from the output, in pieces on both
    cores with no mask stored (measured, DCGAN's discriminator at batch 64, 4 layers forward +
    backward: see bench/NOTES.md); other slopes keep the mask (slope 0 would turn inf into NaN)."""

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        ctx.slope = negative_slope
        if 0 < negative_slope <= 1:
            out = elementwise(_leaky_small_slope, np.empty_like(x), x, x.dtype.type(negative_slope))
            ctx.out, ctx.positive = out, None
            return out
        ctx.positive = x > 0
        return np.where(ctx.positive, x, x * negative_slope)

    @staticmethod
    def backward(ctx, grad):
        if ctx.positive is None:  # slope in (0, 1]: out > 0 exactly where x > 0
            return elementwise(_leaky_grad_small_slope, np.empty_like(grad), grad, ctx.out,
                               grad.dtype.type(ctx.slope))
        return np.where(ctx.positive, grad, grad * ctx.slope)


def _leaky_small_slope(x, slope, out):
    """``max(x, slope * x)``: leaky ReLU for 0 < slope <= 1 (NaN stays NaN, infinities stay)."""
    np.multiply(x, slope, out=out)
    return np.maximum(x, out, out=out)


def _leaky_grad_small_slope(grad, out_value, slope, out):
    """The gradient where the output is positive, ``slope *`` it elsewhere: ``grad * f`` with
    ``f = max([out > 0], slope)``, 1 or the slope exactly, so the result is the same numbers as
    a masked copy. Three plain passes; ``np.copyto(where=)`` on a boolean mask was 3.7x slower
    (DCGAN's 64x64x32x32 layer at 2 threads: 16.2 -> 4.4 ms; 128x16x28x28: 8.6 -> 1.6 ms)."""
    np.greater(out_value, 0, out=out)
    np.maximum(out, slope, out=out)
    return np.multiply(grad, out, out=out)


class PReLU(Function):
    """``x if x > 0 else w_c x`` with one learned slope per channel (dim 1) or one shared slope."""

    @staticmethod
    def forward(ctx, x, weight):
        if weight.size == 1:
            w = weight.reshape(())
        else:
            w = weight.reshape((1, -1) + (1,) * (x.ndim - 2))
        ctx.x, ctx.w, ctx.w_shape = x, w, weight.shape
        return np.where(x > 0, x, w * x)

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.x, ctx.w
        positive = x > 0
        gx = np.where(positive, grad, grad * w) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            contrib = np.where(positive, 0, grad * x)
            axes = tuple(i for i in range(x.ndim) if i != 1) if w.size > 1 else None
            gw = np.asarray(contrib.sum(axis=axes)).reshape(ctx.w_shape)
        return gx, gw

    @staticmethod
    def output_shape(x_shape, w_shape):
        return tuple(x_shape)


class Hardtanh(_Pointwise):
    """Clip to [min_val, max_val]; the gradient passes strictly inside (PyTorch's convention)."""

    @staticmethod
    def forward(ctx, x, min_val=-1.0, max_val=1.0):
        ctx.inside = (x > min_val) & (x < max_val)
        return np.clip(x, min_val, max_val).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.inside


class Hardsigmoid(_Pointwise):
    """relu6(x + 3) / 6."""

    @staticmethod
    def forward(ctx, x):
        ctx.inside = (x > -3) & (x < 3)
        return np.clip(x / 6 + 0.5, 0, 1).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.inside / 6


class Hardswish(_Pointwise):
    """x * relu6(x + 3) / 6; derivative 0 below -3, x/3 + 1/2 on [-3, 3], 1 above."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x * np.clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, grad):
        x = ctx.x
        slope = np.where(x < -3, 0, np.where(x <= 3, x / 3 + 0.5, 1))
        return grad * slope


# ----------------------------------------------------------------------------------------------
# Exponential family
# ----------------------------------------------------------------------------------------------
class ELU(_Pointwise):
    """PyTorch's generalised ELU: ``scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1))``.

    elu: scale = input_scale = 1; selu: fixed alpha and scale; celu: input_scale = 1 / alpha.
    """

    @staticmethod
    def forward(ctx, x, alpha=1.0, scale=1.0, input_scale=1.0):
        positive = x > 0
        negative_part = np.exp(np.minimum(x, 0) * input_scale)  # exp of x <= 0 only: no overflow
        ctx.positive, ctx.negative_part = positive, negative_part
        ctx.coef = (alpha, scale, input_scale)
        out = np.where(positive, x, alpha * (negative_part - 1))
        if scale != 1.0:
            out = out * scale
        return out

    @staticmethod
    def backward(ctx, grad):
        alpha, scale, input_scale = ctx.coef
        slope = np.where(ctx.positive, scale, (scale * alpha * input_scale) * ctx.negative_part)
        return grad * slope


class GELU(_Pointwise):
    """x * Phi(x) with Phi the standard normal CDF ('none'), or its tanh approximation ('tanh')."""

    _K = math.sqrt(2 / math.pi)

    @staticmethod
    def forward(ctx, x, approximate="none"):
        ctx.x, ctx.approximate = x, approximate
        if approximate == "tanh":
            t = np.tanh(GELU._K * (x + 0.044715 * x * x * x))
            ctx.t = t
            return 0.5 * x * (1 + t)
        cdf = 0.5 * (1 + _erf(x * (1 / math.sqrt(2))))
        ctx.cdf = cdf
        return x * cdf

    @staticmethod
    def backward(ctx, grad):
        x = ctx.x
        if ctx.approximate == "tanh":
            t = ctx.t
            inner = GELU._K * (1 + 3 * 0.044715 * x * x)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * inner)
        pdf = np.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return grad * (ctx.cdf + x * pdf)


class SiLU(_Pointwise):
    """x * sigmoid(x) (also called swish)."""

    @staticmethod
    def forward(ctx, x):
        s = _stable_sigmoid(x)
        ctx.x, ctx.s = x, s
        return x * s

    @staticmethod
    def backward(ctx, grad):
        s = ctx.s
        return grad * (s * (1 + ctx.x * (1 - s)))


class Mish(_Pointwise):
    """x * tanh(softplus(x))."""

    @staticmethod
    def forward(ctx, x):
        t = np.tanh(_stable_softplus(x))
        ctx.x, ctx.t = x, t
        return x * t

    @staticmethod
    def backward(ctx, grad):
        x, t = ctx.x, ctx.t
        return grad * (t + x * _stable_sigmoid(x) * (1 - t * t))


class Softplus(_Pointwise):
    """log(1 + exp(beta x)) / beta, and the identity where beta x > threshold (as PyTorch)."""

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        bx = x * beta
        linear = bx > threshold
        ctx.linear, ctx.bx = linear, bx
        return np.where(linear, x, _stable_softplus(bx) / beta)

    @staticmethod
    def backward(ctx, grad):
        return np.where(ctx.linear, grad, grad * _stable_sigmoid(ctx.bx))


class Softsign(_Pointwise):
    @staticmethod
    def forward(ctx, x):
        denom = 1 + np.abs(x)
        ctx.denom = denom
        return x / denom

    @staticmethod
    def backward(ctx, grad):
        return grad / (ctx.denom * ctx.denom)


class Tanh(_Pointwise):
    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * (1 - ctx.out * ctx.out)


class Sigmoid(_Pointwise):
    @staticmethod
    def forward(ctx, x):
        out = _stable_sigmoid(x)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.out * (1 - ctx.out)


class LogSigmoid(_Pointwise):
    """log(sigmoid(x)) = -softplus(-x); derivative sigmoid(-x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return -_stable_softplus(-x)

    @staticmethod
    def backward(ctx, grad):
        return grad * _stable_sigmoid(-ctx.x)


class Threshold(_Pointwise):
    """x where x > threshold, else ``value``."""

    @staticmethod
    def forward(ctx, x, threshold=0.0, value=0.0):
        ctx.above = x > threshold
        return np.where(ctx.above, x, np.asarray(value, dtype=x.dtype))

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.above


class Shrink(_Pointwise):
    """hardshrink: x where |x| > lambd, else 0; softshrink: x - lambd*sign(x) where |x| > lambd,
    else 0. Both pass the gradient only where |x| > lambd."""

    @staticmethod
    def forward(ctx, x, lambd=0.5, soft=False):
        outside = (x > lambd) | (x < -lambd)
        ctx.outside = outside
        shifted = x - np.sign(x) * lambd if soft else x
        return np.where(outside, shifted, np.zeros((), x.dtype))

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.outside


class Tanhshrink(_Pointwise):
    """x - tanh(x); derivative tanh(x)^2."""

    @staticmethod
    def forward(ctx, x):
        t = np.tanh(x)
        ctx.t = t
        return x - t

    @staticmethod
    def backward(ctx, grad):
        return grad * (ctx.t * ctx.t)


class GLU(Function):
    """Gated linear unit: split x in halves a, b along ``dim``; a * sigmoid(b)."""

    @staticmethod
    def forward(ctx, x, dim):
        a, b = np.split(x, 2, axis=dim)
        s = _stable_sigmoid(b)
        ctx.a, ctx.s, ctx.dim = a, s, dim
        return a * s

    @staticmethod
    def backward(ctx, grad):
        a, s = ctx.a, ctx.s
        return np.concatenate([grad * s, grad * a * s * (1 - s)], axis=ctx.dim)

    @staticmethod
    def output_shape(x_shape, dim):
        shape = list(x_shape)
        shape[dim] //= 2
        return tuple(shape)


# ----------------------------------------------------------------------------------------------
# Softmax family (along one dimension)
# ----------------------------------------------------------------------------------------------
def _softmax_array(x, dim):
    e = np.exp(x - np.amax(x, axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


class Softmax(_Pointwise):
    @staticmethod
    def forward(ctx, x, dim):
        out = _softmax_array(x, dim)
        ctx.out, ctx.dim = out, dim
        return out

    @staticmethod
    def backward(ctx, grad):
        y = ctx.out
        return y * (grad - (grad * y).sum(axis=ctx.dim, keepdims=True))


class Softmin(_Pointwise):
    """softmax(-x): the gradient is minus softmax's."""

    @staticmethod
    def forward(ctx, x, dim):
        out = _softmax_array(-x, dim)
        ctx.out, ctx.dim = out, dim
        return out

    @staticmethod
    def backward(ctx, grad):
        y = ctx.out
        return -y * (grad - (grad * y).sum(axis=ctx.dim, keepdims=True))


class LogSoftmax(_Pointwise):
    @staticmethod
    def forward(ctx, x, dim):
        shifted = x - np.amax(x, axis=dim, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.out, ctx.dim = out, dim
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad - np.exp(ctx.out) * grad.sum(axis=ctx.dim, keepdims=True)


# ----------------------------------------------------------------------------------------------
# Public functions (torch.nn.functional names and defaults)
# ----------------------------------------------------------------------------------------------
def _check_tensor(op, input, floating=True):
    if not isinstance(input, Tensor):
        raise DTypeError(f"{op}: expected a convgrad Tensor, got {type(input).__name__}")
    if floating and input.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point tensor, got dtype {input.dtype}")


def _finite_number(op, name, value):
    if isinstance(value, Tensor):
        value = value.item()
    value = float(value)
    if not math.isfinite(value):
        raise ArgumentError(f"{op}: {name} must be a finite number, got {value}")
    return value


def relu(input, inplace=False):
    """max(x, 0). ``inplace`` is accepted for compatibility; a new tensor is always returned."""
    _check_tensor("relu", input, floating=False)
    return ReLU.apply(input)


def relu6(input, inplace=False):
    """min(max(x, 0), 6), i.e. ``hardtanh(x, 0, 6)``."""
    _check_tensor("relu6", input)
    return Hardtanh.apply(input, min_val=0.0, max_val=6.0)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """Leaky ReLU: ``x`` where ``x > 0``, else ``negative_slope * x``. Shape: any."""
    _check_tensor("leaky_relu", input)
    slope = _finite_number("leaky_relu", "negative_slope", negative_slope)
    return LeakyReLU.apply(input, negative_slope=slope)


def prelu(input, weight):
    """``x if x > 0 else weight * x``; ``weight`` has 1 element or one per channel (dim 1)."""
    _check_tensor("prelu", input)
    _check_tensor("prelu", weight)
    if weight.ndim > 1:
        raise ShapeError(f"prelu: expected a 0-D or 1-D weight, got shape {shape_str(weight.shape)}")
    if weight._data.size != 1:
        channels = input.shape[1] if input.ndim > 1 else 1
        if input.ndim == 0 or weight._data.size != channels:
            raise ShapeError(f"prelu: weight has {weight._data.size} elements, expected 1 or one per "
                             f"channel ({channels}) for input of shape {shape_str(input.shape)}")
    return PReLU.apply(input, weight)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """Hard tanh: ``x`` clamped to ``[min_val, max_val]``. Shape: any."""
    _check_tensor("hardtanh", input)
    min_val = _finite_number("hardtanh", "min_val", min_val)
    max_val = _finite_number("hardtanh", "max_val", max_val)
    if min_val > max_val:
        raise ArgumentError(f"hardtanh: min_val cannot be greater than max_val, got min_val={min_val}, "
                            f"max_val={max_val}")
    return Hardtanh.apply(input, min_val=min_val, max_val=max_val)


def hardsigmoid(input, inplace=False):
    """Hard sigmoid: ``relu6(x + 3) / 6``, a piecewise-linear sigmoid. Shape: any."""
    _check_tensor("hardsigmoid", input)
    return Hardsigmoid.apply(input)


def hardswish(input, inplace=False):
    """Hard swish: ``x * relu6(x + 3) / 6`` (MobileNetV3). Shape: any."""
    _check_tensor("hardswish", input)
    return Hardswish.apply(input)


def elu(input, alpha=1.0, inplace=False):
    """ELU: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``. Shape: any."""
    _check_tensor("elu", input)
    return ELU.apply(input, alpha=_finite_number("elu", "alpha", alpha))


def selu(input, inplace=False):
    """scale * elu(x, alpha) with Klambauer et al.'s self-normalising constants."""
    _check_tensor("selu", input)
    return ELU.apply(input, alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    _check_tensor("celu", input)
    alpha = _finite_number("celu", "alpha", alpha)
    if alpha == 0:
        raise ArgumentError("celu: alpha must not be 0 (the input is divided by alpha)")
    return ELU.apply(input, alpha=alpha, input_scale=1 / alpha)


def gelu(input, approximate="none"):
    """x * Phi(x); ``approximate='tanh'`` uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    _check_tensor("gelu", input)
    if approximate not in ("none", "tanh"):
        raise ArgumentError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate=approximate)


def silu(input, inplace=False):
    """SiLU (swish): ``x * sigmoid(x)``. Shape: any."""
    _check_tensor("silu", input)
    return SiLU.apply(input)


def mish(input, inplace=False):
    """Mish: ``x * tanh(softplus(x))``. Shape: any."""
    _check_tensor("mish", input)
    return Mish.apply(input)


def softplus(input, beta=1.0, threshold=20.0):
    """Softplus: ``log(1 + exp(beta * x)) / beta``; linear where ``beta * x > threshold``. Shape: any."""
    _check_tensor("softplus", input)
    beta = _finite_number("softplus", "beta", beta)
    if beta == 0:
        raise ArgumentError("softplus: beta must not be 0")
    return Softplus.apply(input, beta=beta, threshold=_finite_number("softplus", "threshold", threshold))


def softsign(input):
    """Softsign: ``x / (1 + |x|)``. Shape: any."""
    _check_tensor("softsign", input)
    return Softsign.apply(input)


def tanh(input):
    """Hyperbolic tangent, element-wise; the gradient is ``1 - tanh(x)**2``.

    Example:
        >>> import convgrad
        >>> convgrad.tanh(convgrad.zeros(2)).tolist()
        [0.0, 0.0]
    """
    _check_tensor("tanh", input)
    return Tanh.apply(input)


def sigmoid(input):
    """The logistic sigmoid ``1 / (1 + exp(-x))``, element-wise (computed without overflow).

    Example:
        >>> import convgrad
        >>> convgrad.sigmoid(convgrad.zeros(1)).tolist()
        [0.5]
    """
    _check_tensor("sigmoid", input)
    return Sigmoid.apply(input)


def logsigmoid(input):
    """``log(sigmoid(x))``, computed stably for large ``|x|``. Shape: any."""
    _check_tensor("logsigmoid", input)
    return LogSigmoid.apply(input)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    _check_tensor("threshold", input)
    return Threshold.apply(input, threshold=_finite_number("threshold", "threshold", threshold),
                           value=float(value))


def _lambd(op, lambd):
    lambd = _finite_number(op, "lambd", lambd)
    if lambd < 0:
        raise ArgumentError(f"{op}: lambd must be greater than or equal to 0, got {lambd}")
    return lambd


def hardshrink(input, lambd=0.5):
    """Hard shrinkage: ``x`` where ``|x| > lambd``, else 0. Shape: any."""
    _check_tensor("hardshrink", input)
    return Shrink.apply(input, lambd=_lambd("hardshrink", lambd), soft=False)


def softshrink(input, lambd=0.5):
    """Soft shrinkage: ``x - lambd * sign(x)`` where ``|x| > lambd``, else 0. Shape: any."""
    _check_tensor("softshrink", input)
    return Shrink.apply(input, lambd=_lambd("softshrink", lambd), soft=True)


def tanhshrink(input):
    """``x - tanh(x)``. Shape: any."""
    _check_tensor("tanhshrink", input)
    return Tanhshrink.apply(input)


def glu(input, dim=-1):
    """a * sigmoid(b) for the two halves a, b of ``input`` along ``dim`` (its size must be even)."""
    _check_tensor("glu", input)
    if input.ndim == 0:
        raise ShapeError("glu: expected an input with at least 1 dimension, got a 0-D tensor")
    if not -input.ndim <= dim < input.ndim:
        raise ShapeError(f"glu: dim {dim} is out of range for a {input.ndim}-D input")
    dim %= input.ndim
    if input.shape[dim] % 2:
        raise ShapeError(f"glu: halving dimension must be even, but dimension {dim} is size {input.shape[dim]} "
                         f"(input {shape_str(input.shape)})")
    return GLU.apply(input, dim)


def _softmax_dim(op, ndim, dim):
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. "
                      f"Change the call to include dim=X as an argument.", stacklevel=3)
        return 0 if ndim in (0, 1, 3) else 1  # PyTorch's legacy rule
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise ShapeError(f"{op}: dim {dim} is out of range for a {ndim}-D input "
                         f"(expected -{rank} <= dim < {rank})")
    return dim % rank


def _softmax_like(op, fn, input, dim, dtype):
    _check_tensor(op, input)
    if dtype is not None:
        input = input.to(dtype)
    dim = _softmax_dim(op, input.ndim, dim)
    if input.ndim == 0:  # a single element: treat it as a vector of one
        return fn.apply(input.reshape(1), 0).reshape(())
    return fn.apply(input, dim)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Softmax along ``dim``: ``exp(x) / sum(exp(x))``, shifted by the maximum for stability.

    Args:
        input: a tensor.
        dim: the axis whose entries sum to 1 (PyTorch's legacy choice when None).
        dtype: compute in this dtype.

    Example:
        >>> import convgrad
        >>> convgrad.softmax(convgrad.zeros(1, 4), dim=1).tolist()
        [[0.25, 0.25, 0.25, 0.25]]
    """
    return _softmax_like("softmax", Softmax, input, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """Softmin along ``dim``: ``softmax(-x, dim)``."""
    return _softmax_like("softmin", Softmin, input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``log(softmax(x, dim))`` computed stably (log-sum-exp); what ``nll_loss`` expects."""
    return _softmax_like("log_softmax", LogSoftmax, input, dim, dtype)
