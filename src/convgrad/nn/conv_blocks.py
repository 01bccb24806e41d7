"""Convolution blocks built from Conv2d, and the deformable convolution layer.

* :class:`DepthwiseSeparableConv2d`: a depthwise ``k x k`` conv (one filter per input channel,
  ``groups = in_channels``) then a pointwise ``1 x 1`` conv mixing channels (MobileNet, Xception).
  Parameters ``C_in * m * k * k + C_in * m * C_out`` (+ biases) instead of ``C_in * C_out * k * k``.
* :class:`SpatiallySeparableConv2d`: a ``k x 1`` conv then a ``1 x k`` conv (Inception v3),
  ``2k`` weights per channel pair instead of ``k^2``; exact for rank-1 kernels such as Sobel's.
* :class:`DeformConv2d`: ``torchvision.ops.DeformConv2d``; the offsets (and mask) are inputs.
"""
from .. import backend
from .. import functional as F
from ..functional._util import ArgumentError, ShapeError, ntuple, shape_str
from .conv import Conv2d
from .init import default_weight_init_
from .module import Module
from .parameter import Parameter


class DepthwiseSeparableConv2d(Module):
    """Depthwise ``k x k`` convolution followed by a pointwise ``1 x 1`` convolution.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, padding_mode: as
            Conv2d; spatial arguments apply to the depthwise conv.
        bias: give both convs a bias (PyTorch's default for each Conv2d).
        depth_multiplier: filters per input channel in the depthwise stage (``m``).

    Submodules: ``depthwise`` = Conv2d(C_in, C_in*m, k, groups=C_in) and
    ``pointwise`` = Conv2d(C_in*m, C_out, 1).

    Shape: as ``Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation)``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
                 padding_mode="zeros", depth_multiplier=1, dtype=None):
        super().__init__()
        if not isinstance(depth_multiplier, int) or depth_multiplier < 1:
            raise ArgumentError(f"DepthwiseSeparableConv2d: depth_multiplier must be a positive int, "
                                f"got {depth_multiplier!r}")
        mid = in_channels * depth_multiplier
        self.in_channels, self.out_channels, self.depth_multiplier = in_channels, out_channels, depth_multiplier
        self.depthwise = Conv2d(in_channels, mid, kernel_size, stride, padding, dilation, groups=in_channels,
                                bias=bias, padding_mode=padding_mode, dtype=dtype)
        self.pointwise = Conv2d(mid, out_channels, 1, bias=bias, dtype=dtype)

    def forward(self, input):
        return self.pointwise(self.depthwise(input))

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return "" if self.depth_multiplier == 1 else f"depth_multiplier={self.depth_multiplier}"


class SpatiallySeparableConv2d(Module):
    """A ``k x 1`` convolution followed by a ``1 x k`` convolution.

    Args:
        in_channels, out_channels: as Conv2d.
        kernel_size: int k (or a pair (kh, kw): ``kh x 1`` then ``1 x kw``).
        stride, padding, dilation: int or pair; the (height) part goes to the first conv, the
            (width) part to the second, so the output shape is that of the k x k Conv2d.
        bias: a bias on the second conv only (one on the first would pass through the linear
            1 x k conv as a per-channel constant, redundant away from the borders).
        mid_channels: channels between the two (default ``out_channels``).
        padding_mode: as Conv2d.

    Submodules: ``vertical`` = Conv2d(C_in, mid, (kh, 1)), ``horizontal`` = Conv2d(mid, C_out, (1, kw)).
    With one channel throughout and zero padding it equals a Conv2d whose kernel is the outer
    product ``vertical.weight[:, :, :, 0] x horizontal.weight[:, :, 0, :]``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
                 mid_channels=None, padding_mode="zeros", dtype=None):
        super().__init__()
        name = "SpatiallySeparableConv2d"
        kh, kw = ntuple(kernel_size, 2, "kernel_size", name)
        sh, sw = ntuple(stride, 2, "stride", name)
        dh, dw = ntuple(dilation, 2, "dilation", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ArgumentError(f"{name}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
            pad_v = pad_h = padding
        else:
            ph, pw = ntuple(padding, 2, "padding", name)
            pad_v, pad_h = (ph, 0), (0, pw)
        mid = out_channels if mid_channels is None else mid_channels
        self.in_channels, self.out_channels, self.mid_channels = in_channels, out_channels, mid
        self.vertical = Conv2d(in_channels, mid, (kh, 1), (sh, 1), pad_v, (dh, 1), bias=False,
                               padding_mode=padding_mode, dtype=dtype)
        self.horizontal = Conv2d(mid, out_channels, (1, kw), (1, sw), pad_h, (1, dw), bias=bias,
                                 padding_mode=padding_mode, dtype=dtype)

    def forward(self, input):
        return self.horizontal(self.vertical(input))

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return "" if self.mid_channels == self.out_channels else f"mid_channels={self.mid_channels}"


class DeformConv2d(Module):
    """Deformable convolution layer (torchvision.ops.DeformConv2d): ``forward(input, offset, mask=None)``.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias: as
            Conv2d (padding is zeros).

    Parameters: ``weight`` (out_channels, in_channels/groups, kh, kw) and ``bias`` (out_channels,),
    initialised like Conv2d. The offsets (N, 2*offset_groups*kh*kw, H_out, W_out) and the optional
    mask (N, offset_groups*kh*kw, H_out, W_out) are inputs, usually predicted by a plain Conv2d
    on the same input (initialised to zero so training starts from a regular convolution).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, dtype=None):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ArgumentError(f"DeformConv2d: groups={groups} must divide in_channels={in_channels} and "
                                f"out_channels={out_channels}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(kernel_size, 2, "kernel_size", "DeformConv2d")
        self.stride = ntuple(stride, 2, "stride", "DeformConv2d")
        self.padding = ntuple(padding, 2, "padding", "DeformConv2d")
        self.dilation = ntuple(dilation, 2, "dilation", "DeformConv2d")
        dtype = backend.get_default_dtype() if dtype is None else dtype
        self.weight = Parameter(backend.xp.empty((out_channels, in_channels // groups) + self.kernel_size, dtype))
        if bias:
            self.bias = Parameter(backend.xp.empty((out_channels,), dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Re-initialise the weight and bias as ``nn.Conv2d`` does (PyTorch's default initialisation)."""
        default_weight_init_(self.weight, self.bias)

    def forward(self, input, offset, mask=None):
        if input.ndim != 4 or input.shape[1] != self.in_channels:
            raise ShapeError(f"DeformConv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}): "
                             f"expected input of shape (N, {self.in_channels}, H, W), got {shape_str(input.shape)}")
        return F.deform_conv2d(input, offset, self.weight, self.bias, stride=self.stride, padding=self.padding,
                               dilation=self.dilation, mask=mask)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

