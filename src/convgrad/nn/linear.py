"""Dense layers and shape adapters: Identity, Linear, Bilinear, Flatten, Unflatten.

Parameter names, shapes and default initialisation are PyTorch's::

    Linear:   weight (out_features, in_features), bias (out_features,)
    Bilinear: weight (out_features, in1_features, in2_features), bias (out_features,)

both initialised U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (``init.default_weight_init_``).
A dense layer on a flattened 512x512 image with 64 outputs holds (512*512 + 1) * 64 = 16.8 M
parameters; that count is why convolutions share weights.
"""
import math

import numpy as np

from .. import backend
from .. import functional as F
from ..functional._util import ArgumentError, DTypeError, ShapeError, shape_str
from . import init
from .module import Module
from .parameter import Parameter


def _features(layer, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ArgumentError(f"{layer}: {name} must be a non-negative integer, got {value!r}")
    return int(value)


def _dtype(dtype):
    return backend.get_default_dtype() if dtype is None else np.dtype(dtype)


class Identity(Module):
    """Returns its input unchanged; accepts and ignores any constructor arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b.

    Shape:
        input (*, in_features) -> output (*, out_features).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = _features("Linear", "in_features", in_features)
        self.out_features = _features("Linear", "out_features", out_features)
        dtype = _dtype(dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype))
        self.bias = Parameter(np.empty((self.out_features,), dtype)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-initialise the weight and bias as PyTorch does (uniform in ``±1/sqrt(in_features)``)."""
        init.default_weight_init_(self.weight, self.bias)

    def _name(self):
        return f"Linear(in_features={self.in_features}, out_features={self.out_features})"

    def forward(self, input):
        if not hasattr(input, "shape") or input.ndim == 0 or input.shape[-1] != self.in_features:
            got = shape_str(input.shape) if hasattr(input, "shape") else type(input).__name__
            raise ShapeError(f"{self._name()}: expected input with last dimension {self.in_features}, got {got}")
        if input.dtype != self.weight.dtype:
            raise DTypeError(f"{self._name()}: input has dtype {input.dtype} but the layer's weight is "
                            f"{self.weight.dtype}; convert the input (x.to(np.{self.weight.dtype})) or the "
                            f"model (model.to(np.{input.dtype}))")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """y_k = x1^T A_k x2 + b_k.

    Shape:
        input1 (*, in1_features), input2 (*, in2_features) -> output (*, out_features).
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in1_features = _features("Bilinear", "in1_features", in1_features)
        self.in2_features = _features("Bilinear", "in2_features", in2_features)
        self.out_features = _features("Bilinear", "out_features", out_features)
        dtype = _dtype(dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in1_features, self.in2_features), dtype))
        self.bias = Parameter(np.empty((self.out_features,), dtype)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-initialise the weight and bias uniformly in ``±1/sqrt(in1_features)`` as PyTorch does."""
        # PyTorch: U(-1/sqrt(in1_features), 1/sqrt(in1_features)) for weight and bias
        bound = 1 / math.sqrt(self.in1_features) if self.in1_features else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        for i, (x, n) in enumerate(((input1, self.in1_features), (input2, self.in2_features)), 1):
            if not hasattr(x, "shape") or x.ndim == 0 or x.shape[-1] != n:
                got = shape_str(x.shape) if hasattr(x, "shape") else type(x).__name__
                raise ShapeError(f"Bilinear(in1_features={self.in1_features}, in2_features={self.in2_features}, "
                                 f"out_features={self.out_features}): expected input{i} with last dimension "
                                 f"{n}, got {got}")
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Flatten dims ``start_dim..end_dim`` into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        ndim = max(input.ndim, 1)
        start, end = self.start_dim, self.end_dim
        if not (-ndim <= start < ndim and -ndim <= end < ndim):
            raise ShapeError(f"Flatten(start_dim={start}, end_dim={end}): dimensions out of range for input "
                             f"of shape {shape_str(input.shape)}")
        if start % ndim > end % ndim:
            raise ShapeError(f"Flatten(start_dim={start}, end_dim={end}): start_dim comes after end_dim for "
                             f"input of shape {shape_str(input.shape)}")
        return F.flatten(input, start, end)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: (N, 400) -> (N, 16, 5, 5)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(int(s) for s in unflattened_size)
        if sum(1 for s in self.unflattened_size if s == -1) > 1:
            raise ArgumentError(f"Unflatten: at most one size may be -1, got {self.unflattened_size}")

    def forward(self, input):
        ndim = input.ndim
        if not -ndim <= self.dim < ndim:
            raise ShapeError(f"{self._name()}: dim {self.dim} out of range for input of shape "
                             f"{shape_str(input.shape)}")
        n = input.shape[self.dim]
        known = int(np.prod([s for s in self.unflattened_size if s != -1]))
        fits = n % known == 0 if -1 in self.unflattened_size and known else n == known
        if not fits:
            raise ShapeError(f"{self._name()}: dimension {self.dim} of the input has size {n}, which cannot be "
                             f"split into {self.unflattened_size}; input shape {shape_str(input.shape)}")
        return F.unflatten(input, self.dim, self.unflattened_size)

    def _name(self):
        return f"Unflatten(dim={self.dim}, unflattened_size={self.unflattened_size})"

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
