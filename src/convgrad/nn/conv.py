"""Convolution layers: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d`` (``torch.nn`` names and defaults).

Each layer holds ``weight`` (and ``bias``) and calls ``convgrad.functional``; parameter names,
shapes, default initialisation and ``repr`` are PyTorch's, so state dicts interchange::

    Conv:          weight (out_channels, in_channels/groups, *kernel_size)
    ConvTranspose: weight (in_channels, out_channels/groups, *kernel_size)
    bias:          (out_channels,)
"""
import numpy as np

from .. import backend
from .. import functional as F
from ..functional._util import ArgumentError, ShapeError, ntuple, shape_str
from ..kernels.im2col import gemm_layout, has_gemm_layout
from .init import default_weight_init_
from .module import Module
from .parameter import Parameter

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


class _ConvNd(Module):
    _dims = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", output_padding=0, dtype=None):
        super().__init__()
        name = type(self).__name__
        d = self._dims
        for what, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ArgumentError(f"{name}: {what} must be a positive integer, got {value!r}")
        if not isinstance(groups, int) or groups < 1:
            raise ArgumentError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups or out_channels % groups:
            raise ArgumentError(f"{name}: groups={groups} must divide in_channels={in_channels} and "
                                f"out_channels={out_channels}")
        if padding_mode not in PADDING_MODES:
            raise ArgumentError(f"{name}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ArgumentError(f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = ntuple(kernel_size, d, "kernel_size", name)
        self.stride = ntuple(stride, d, "stride", name)
        self.dilation = ntuple(dilation, d, "dilation", name)
        if any(v < 1 for v in self.kernel_size + self.stride + self.dilation):
            raise ArgumentError(f"{name}: kernel_size, stride and dilation must be positive, got "
                                f"kernel_size={self.kernel_size}, stride={self.stride}, dilation={self.dilation}")
        if isinstance(padding, str):
            if padding not in ("same", "valid") or self._transposed:
                raise ArgumentError(f"{name}: padding must be an int or a tuple{'' if self._transposed else ', same or valid'}"
                                    f", got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ArgumentError(f"{name}: padding='same' is not supported for strided convolutions, "
                                    f"got stride={self.stride}")
            self.padding = padding
        else:
            self.padding = ntuple(padding, d, "padding", name)
        self.output_padding = ntuple(output_padding, d, "output_padding", name)
        self.groups = groups
        self.padding_mode = padding_mode
        if self._transposed:
            shape = (self.in_channels, self.out_channels // groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // groups) + self.kernel_size
        dtype = backend.get_default_dtype() if dtype is None else dtype
        self.weight = Parameter(gemm_layout(backend.xp.empty(shape, dtype=dtype)))
        if bias:
            self.bias = Parameter(backend.xp.empty((self.out_channels,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) weights, U(+-1/sqrt(fan_in)) bias."""
        default_weight_init_(self.weight, self.bias)

    def _layer_name(self):
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size})")

    def _gemm_ready_weight(self):
        """The weight, kept in the memory order the convolution's GEMM reads without a copy
        ((*K, C_in/groups, C_out) under the (C_out, C_in/groups, *K) shape). Loading a state dict
        replaces the array; the first forward afterwards restores the order (same values)."""
        if not has_gemm_layout(self.weight._data):
            self.weight._data = gemm_layout(self.weight._data)
        return self.weight

    def _check_input(self, input):
        d = self._dims
        shape = tuple(input.shape)
        if len(shape) not in (d + 1, d + 2) or shape[-d - 1] != self.in_channels:
            raise ShapeError(f"{self._layer_name()}: expected input of shape (N, {self.in_channels}, "
                             f"{_SPATIAL[d]}) or ({self.in_channels}, {_SPATIAL[d]}), got {shape_str(shape)}")

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, dtype=dtype)

    def _explicit_padding(self):
        """F.pad's tuple (last dimension first) for padding_mode != 'zeros'."""
        if self.padding == "valid":
            return (0, 0) * self._dims
        if self.padding == "same":
            pairs = []
            for k, d in zip(self.kernel_size, self.dilation):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))
        else:
            pairs = [(p, p) for p in self.padding]
        return tuple(v for pair in reversed(pairs) for v in pair)

    def forward(self, input):
        self._check_input(input)
        conv = (F.conv1d, F.conv2d, F.conv3d)[self._dims - 1]
        if self.padding_mode == "zeros":
            return conv(input, self._gemm_ready_weight(), self.bias, self.stride, self.padding, self.dilation,
                        self.groups)
        padded = F.pad(input, self._explicit_padding(), mode=self.padding_mode)
        return conv(padded, self._gemm_ready_weight(), self.bias, self.stride, 0, self.dilation, self.groups)


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, dtype=dtype)

    def _output_padding_for(self, input_shape, output_size):
        """The output_padding that makes the result ``output_size`` (PyTorch's rule)."""
        d = self._dims
        output_size = tuple(output_size)[-d:]
        if len(output_size) != d:
            raise ArgumentError(f"{self._layer_name()}: output_size must have {d} spatial entries, "
                                f"got {output_size}")
        extra = []
        for i in range(d):
            size = input_shape[-d + i]
            smallest = ((size - 1) * self.stride[i] - 2 * self.padding[i]
                        + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            largest = smallest + max(self.stride[i], self.dilation[i]) - 1
            if not smallest <= output_size[i] <= largest:
                raise ShapeError(f"{self._layer_name()}: requested output size {output_size} is not reachable "
                                 f"from input {shape_str(input_shape)}; dimension {i} must lie in "
                                 f"[{smallest}, {largest}]")
            extra.append(output_size[i] - smallest)
        return tuple(extra)

    def forward(self, input, output_size=None):
        self._check_input(input)
        output_padding = self.output_padding if output_size is None else \
            self._output_padding_for(input.shape, output_size)
        conv = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[self._dims - 1]
        return conv(input, self._gemm_ready_weight(), self.bias, self.stride, self.padding, output_padding,
                    self.groups, self.dilation)


class Conv1d(_Conv):
    """1-D convolution layer over ``(N, C_in, L)``: ``L_out = floor((L + 2p - d(k-1) - 1)/s) + 1``."""
    _dims = 1


class Conv2d(_Conv):
    """2-D convolution layer over ``(N, C_in, H, W)``.

    Args:
        in_channels, out_channels, kernel_size: as in PyTorch.
        stride, padding (int, tuple, 'same', 'valid'), dilation, groups, bias: as in PyTorch.
        padding_mode: 'zeros' | 'reflect' | 'replicate' | 'circular'.

    Shape: ``H_out = floor((H + 2p - d(k-1) - 1) / s) + 1`` (same for W).
    Parameters: ``out_channels * (in_channels/groups * kH * kW) + out_channels`` (with bias);
    a 64-filter 7x7 conv on one channel has (7*7 + 1) * 64 = 3,200.
    """
    _dims = 2


class Conv3d(_Conv):
    """3-D convolution layer over ``(N, C_in, D, H, W)`` (video, volumes)."""
    _dims = 3


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution: ``L_out = (L - 1)s - 2p + d(k-1) + output_padding + 1``."""
    _dims = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution ("deconvolution"), the adjoint of Conv2d; upsamples by ``stride``.

    Shape: ``H_out = (H - 1)s - 2p + d(k-1) + output_padding + 1`` (same for W).
    ``forward(input, output_size=None)`` picks output_padding to reach ``output_size``.
    """
    _dims = 2


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution over ``(N, C_in, D, H, W)``."""
    _dims = 3
