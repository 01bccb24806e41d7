"""Activation layers (``torch.nn`` names, arguments, defaults and ``repr``).

Each layer stores its hyper-parameters and calls the function of the same name in
``convgrad.functional``; only :class:`PReLU` holds a parameter (its learned slope). ``inplace``
is accepted for compatibility and shown in the repr, but every layer returns a new tensor.
"""
import numpy as np

from .. import backend
from .. import functional as F
from ..functional._util import ArgumentError, ShapeError, shape_str
from .module import Module
from .parameter import Parameter


class _InplaceActivation(Module):
    """An activation whose only option is PyTorch's ``inplace`` flag."""

    _fn = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class _PlainActivation(Module):
    """An activation without options."""

    _fn = None

    def forward(self, input):
        return type(self)._fn(input)


class ReLU(_InplaceActivation):
    """max(x, 0)."""
    _fn = staticmethod(F.relu)


class ReLU6(_InplaceActivation):
    """min(max(x, 0), 6)."""
    _fn = staticmethod(F.relu6)


class SELU(_InplaceActivation):
    """scale * ELU(x, alpha) with the self-normalising constants of Klambauer et al. (2017)."""
    _fn = staticmethod(F.selu)


class SiLU(_InplaceActivation):
    """x * sigmoid(x)."""
    _fn = staticmethod(F.silu)


class Mish(_InplaceActivation):
    """x * tanh(softplus(x))."""
    _fn = staticmethod(F.mish)


class Hardsigmoid(_InplaceActivation):
    """relu6(x + 3) / 6."""
    _fn = staticmethod(F.hardsigmoid)


class Hardswish(_InplaceActivation):
    """x * relu6(x + 3) / 6."""
    _fn = staticmethod(F.hardswish)


class Sigmoid(_PlainActivation):
    """1 / (1 + exp(-x)), computed without overflow."""
    _fn = staticmethod(F.sigmoid)


class Tanh(_PlainActivation):
    """Hyperbolic tangent, element-wise: ``tanh(x)``.

    Shape:
        Input: any; output: the same shape.

    Example:
        >>> import convgrad, convgrad.nn as nn
        >>> nn.Tanh()(convgrad.zeros(2)).tolist()
        [0.0, 0.0]
    """
    _fn = staticmethod(F.tanh)


class Softsign(_PlainActivation):
    """x / (1 + |x|)."""
    _fn = staticmethod(F.softsign)


class LogSigmoid(_PlainActivation):
    """log(sigmoid(x)) = -softplus(-x)."""
    _fn = staticmethod(F.logsigmoid)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """x if x > 0 else a * x with a learned slope ``a``: one shared (num_parameters=1) or one per
    channel (num_parameters = C, the input's dim 1). Parameter ``weight`` of shape (num_parameters,)."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        if int(num_parameters) < 1:
            raise ArgumentError(f"PReLU: num_parameters must be a positive integer, got {num_parameters}")
        self.num_parameters = int(num_parameters)
        self.init = init
        dtype = backend.get_default_dtype() if dtype is None else dtype
        self.weight = Parameter(np.full((self.num_parameters,), init, dtype=dtype))

    def reset_parameters(self):
        """Reset the learnable slopes to their initial value ``init``."""
        self.weight._data[...] = self.init

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"num_parameters={self.num_parameters}"


class ELU(Module):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.elu(input, self.alpha)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    def forward(self, input):
        return F.celu(input, self.alpha)


class GELU(Module):
    """x * Phi(x), or its tanh approximation with ``approximate='tanh'``."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ArgumentError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """Clip to [min_val, max_val]."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if min_val > max_val:
            raise ArgumentError(f"Hardtanh: min_val cannot be greater than max_val, got min_val={min_val}, "
                                f"max_val={max_val}")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class _SoftmaxLike(Module):
    _fn = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return type(self)._fn(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_SoftmaxLike):
    """exp(x_i) / sum_j exp(x_j) along ``dim``."""
    _fn = staticmethod(F.softmax)


class LogSoftmax(_SoftmaxLike):
    """log(softmax(x)) along ``dim``, computed with log-sum-exp."""
    _fn = staticmethod(F.log_softmax)


class Softmax2d(Module):
    """Softmax over the channels at every spatial position: ``softmax(x, dim=-3)``.

    Shape: input (N, C, H, W) or (C, H, W); output the same.

    Raises:
        ShapeError: an input that is not 3-D or 4-D.

    Example:
        >>> probs = convgrad.nn.Softmax2d()(convgrad.randn(2, 5, 8, 8))   # sums to 1 over dim 1
    """

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ShapeError(f"Softmax2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
                             f"{shape_str(input.shape)}")
        return F.softmax(input, dim=-3)


class Softmin(_SoftmaxLike):
    """softmax(-x) along ``dim``."""
    _fn = staticmethod(F.softmin)


class Threshold(Module):
    """x where x > threshold, else value."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class _Shrink(Module):
    _fn = None

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return type(self)._fn(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Hardshrink(_Shrink):
    """x where |x| > lambd, else 0."""
    _fn = staticmethod(F.hardshrink)


class Softshrink(_Shrink):
    """x - lambd * sign(x) where |x| > lambd, else 0."""
    _fn = staticmethod(F.softshrink)


class Tanhshrink(_PlainActivation):
    """x - tanh(x)."""
    _fn = staticmethod(F.tanhshrink)


class GLU(Module):
    """Gated linear unit: a * sigmoid(b) for the halves a, b of the input along ``dim``."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.glu(input, self.dim)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"dim={self.dim}"
