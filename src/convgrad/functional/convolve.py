"""True convolution next to cross-correlation, and convolution through the FFT.

What deep learning calls "convolution" (``conv2d``) is a cross-correlation::

    cross-correlation:  (f * g)(u) = sum_t f(u + t) g(t)
    convolution:        (f * g)(u) = sum_t f(t) g(u - t) = sum_t f(u + t) g(-t)

so a true convolution is a cross-correlation with the kernel flipped along every spatial axis
(and vice versa). ``convolve1d/2d/3d`` take the same arguments as ``conv1d/2d/3d`` and flip the
kernel first; for a learned kernel the two are the same model with the weights stored mirrored.

``fft_conv1d/2d/3d`` compute exactly ``conv1d/2d/3d`` (cross-correlation, zero padding, any
stride, dilation and groups) with the convolution theorem (``convgrad.kernels.fft_conv``): the
cost no longer grows with the kernel size, which pays for large kernels on large inputs.
"""
import numpy as np

from ..kernels.conv_backends import FFTBackend
from ..tensor import Function, Tensor
from ._util import ArgumentError, ShapeError, ntuple, shape_str
from .conv import ConvNd, conv1d, conv2d, conv3d
from .shape import flip
from ..errors import ArgumentTypeError, DTypeError

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


# ----------------------------------------------------------------------------------------------
# True convolution: cross-correlation with the flipped kernel
# ----------------------------------------------------------------------------------------------
def _flipped(weight, d, op):
    if not isinstance(weight, Tensor):
        raise ArgumentTypeError(f"{op}: expected weight to be a Tensor, got {type(weight).__name__}")
    if weight.ndim != d + 2:
        raise ShapeError(f"{op}: expected a {d + 2}-D weight (C_out, C_in/groups, {_SPATIAL[d]}), "
                         f"got shape {shape_str(weight.shape)}")
    return flip(weight, tuple(range(2, d + 2)))


def convolve1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """True 1-D convolution: ``conv1d`` with the kernel reversed. Same arguments and shapes."""
    return conv1d(input, _flipped(weight, 1, "convolve1d"), bias, stride, padding, dilation, groups)


def convolve2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """True 2-D convolution ``sum_{t, r} f(t, r) g(u - t, v - r)``: ``conv2d`` with the kernel
    flipped in both spatial axes.

    Args / Shape: as :func:`convgrad.functional.conv2d`. The output position (u, v) of a valid
    convolution pairs with the kernel's last tap at the window's first pixel.

    Example::

        >>> F.convolve2d(x, w)  # == F.conv2d(x, w.flip((2, 3)))  # doctest: +SKIP
    """
    return conv2d(input, _flipped(weight, 2, "convolve2d"), bias, stride, padding, dilation, groups)


def convolve3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """True 3-D convolution: ``conv3d`` with the kernel flipped in all three spatial axes."""
    return conv3d(input, _flipped(weight, 3, "convolve3d"), bias, stride, padding, dilation, groups)


# ----------------------------------------------------------------------------------------------
# Convolution through the FFT
# ----------------------------------------------------------------------------------------------
class FFTConvNd(ConvNd):
    """``conv{1,2,3}d`` (cross-correlation) computed with the convolution theorem: a
    :class:`ConvNd` whose backend is always ``kernels.conv_backends.FFTBackend``."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1,), pad_lo=(0,), pad_hi=(0,), dilation=(1,), groups=1):
        backend = FFTBackend(stride, pad_lo, pad_hi, dilation, groups)
        return ConvNd.forward(ctx, x, weight, bias, stride, pad_lo, pad_hi, dilation, groups, backend=backend)

    @staticmethod
    def output_shape(x_shape, w_shape, bias_shape=None, stride=(1,), pad_lo=(0,), pad_hi=(0,), dilation=(1,),
                     groups=1):
        # out = floor((in + p_lo + p_hi - d(k-1) - 1) / s) + 1 per spatial axis
        spatial = tuple((n + lo + hi - d * (k - 1) - 1) // s + 1
                        for n, k, s, lo, hi, d in zip(x_shape[2:], w_shape[2:], stride, pad_lo, pad_hi, dilation))
        return (x_shape[0], w_shape[0]) + spatial


def _padding_pairs(padding, kernel, stride, dilation, d, op):
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * d, (0,) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ArgumentError(f"{op}: padding='same' is not supported for strided convolutions, "
                                    f"got stride={stride}")
            total = [dl * (k - 1) for k, dl in zip(kernel, dilation)]  # odd totals: the extra one at the end
            return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)
        raise ArgumentError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    pad = ntuple(padding, d, "padding", op)
    if min(pad) < 0:
        raise ArgumentError(f"{op}: padding must be non-negative, got {pad}")
    return pad, pad


def _fft_convnd(input, weight, bias, stride, padding, dilation, groups, d):
    op = f"fft_conv{d}d"
    for name, value in (("input", input), ("weight", weight), ("bias", bias)):
        if value is not None and not isinstance(value, Tensor):
            raise ArgumentTypeError(f"{op}: expected {name} to be a Tensor, got {type(value).__name__}")
    if weight.ndim != d + 2:
        raise ShapeError(f"{op}: expected a {d + 2}-D weight (C_out, C_in/groups, {_SPATIAL[d]}), "
                         f"got shape {shape_str(weight.shape)}")
    if input.ndim not in (d + 1, d + 2):
        raise ShapeError(f"{op}: expected a {d + 1}-D (unbatched) or {d + 2}-D (batched) input "
                         f"(N, C, {_SPATIAL[d]}), got shape {shape_str(input.shape)}")
    if input.dtype.kind != "f" or input.dtype != weight.dtype:
        raise DTypeError(f"{op}: input and weight must have the same floating dtype, got {input.dtype} and {weight.dtype}")
    if not isinstance(groups, (int, np.integer)) or groups < 1 or weight.shape[0] % groups:
        raise ArgumentError(f"{op}: groups must be a positive integer dividing out_channels={weight.shape[0]}, "
                            f"got {groups}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ShapeError(f"{op}: expected bias of shape ({weight.shape[0]},), got {shape_str(bias.shape)}")
    unbatched = input.ndim == d + 1
    if unbatched:
        input = input.unsqueeze(0)
    channels = weight.shape[1] * groups
    if input.shape[1] != channels:
        raise ShapeError(f"{op}: expected input of shape (N, {channels}, {_SPATIAL[d]}) with {channels} channels, "
                         f"got {shape_str(input.shape)}")
    stride = ntuple(stride, d, "stride", op)
    dilation = ntuple(dilation, d, "dilation", op)
    if min(stride) < 1 or min(dilation) < 1:
        raise ArgumentError(f"{op}: stride and dilation must be positive, got stride={stride}, dilation={dilation}")
    pad_lo, pad_hi = _padding_pairs(padding, weight.shape[2:], stride, dilation, d, op)
    padded = tuple(s + lo + hi for s, lo, hi in zip(input.shape[2:], pad_lo, pad_hi))
    dilated = tuple(dl * (k - 1) + 1 for k, dl in zip(weight.shape[2:], dilation))
    if any(k > p for k, p in zip(dilated, padded)):
        raise ShapeError(f"{op}: kernel size (dilated) {dilated} is larger than the padded input {padded} "
                         f"(input {shape_str(input.shape)})")
    out = FFTConvNd.apply(input, weight, bias, stride=stride, pad_lo=pad_lo, pad_hi=pad_hi,
                          dilation=dilation, groups=int(groups))
    return out.squeeze(0) if unbatched else out


def fft_conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``conv1d`` computed through the FFT; same arguments, result and gradients."""
    return _fft_convnd(input, weight, bias, stride, padding, dilation, groups, 1)


def fft_conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``conv2d`` (cross-correlation) computed through the FFT: same arguments, result and gradients.

    Forward and both gradients cost a few FFTs of the padded input size plus one small matrix
    product per frequency, independent of the kernel size; im2col's cost grows with kH * kW.
    Stride is applied by subsampling the stride-1 result, so strided calls do the full work.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in/groups, kH, kW)``.
        bias: optional ``(C_out,)``.
        stride, dilation: int or pair. padding: int, pair, ``'same'`` or ``'valid'`` (zeros).
        groups: as for conv2d.

    Shape: ``H_out = floor((H + 2p - d(kH-1) - 1) / s) + 1`` (same for W).
    """
    return _fft_convnd(input, weight, bias, stride, padding, dilation, groups, 2)


def fft_conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """``conv3d`` computed through the FFT; same arguments, result and gradients."""
    return _fft_convnd(input, weight, bias, stride, padding, dilation, groups, 3)
