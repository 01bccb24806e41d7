"""Inference-time fusion: a convolution, an evaluation-mode batch norm and a ReLU as one op.

In evaluation mode a batch norm is a fixed per-channel affine map, ``y = x * a + b`` with
``a = weight / sqrt(running_var + eps)`` and ``b = bias - running_mean * a``
(:func:`~convgrad.functional.normalization.folded_batch_norm`). After a convolution it can be
applied to each block of the convolution's output right after the GEMM wrote it, while the block
is still in the cache, and so can the ReLU that usually follows: ``conv -> BN -> ReLU`` then costs
one pass over memory instead of three (measured on ResNet-18 inference, batch 8: the batch norms
and ReLUs took about 31 ms of a 265 ms step when run as separate layers).

The arithmetic is the separate layers' own, in the same order and precision (the convolution's
output, times ``a``, plus ``b``, then the maximum with 0), so the result is identical to
``relu(batch_norm(conv(x)))`` in evaluation mode. There is no backward: the op builds no graph
and refuses inputs that need gradients. ``nn.Sequential`` and the ResNet blocks call it (through
:func:`convgrad.nn.fusion.conv_bn`) only in evaluation mode when no gradient is needed.
"""
from ..kernels.batch_norm import scale_shift_epilogue
from ..tensor import Tensor, is_grad_enabled
from ._util import ArgumentError, ShapeError, shape_str
from .conv import _convnd
from .normalization import folded_batch_norm


def conv_batch_norm(input, weight, bias, running_mean, running_var, bn_weight=None, bn_bias=None, eps=1e-5,
                    stride=1, padding=0, dilation=1, groups=1, relu=False):
    """``relu(batch_norm(conv(input)))`` with the batch norm in evaluation mode, in one pass.

    Args:
        input, weight, bias, stride, padding, dilation, groups: as :func:`conv2d` (the rank of
            ``weight`` selects 1-, 2- or 3-D).
        running_mean, running_var: the batch norm's statistics, ``(C_out,)`` arrays or tensors.
        bn_weight, bn_bias: its affine parameters (None: 1 and 0).
        eps: added to the variance.
        relu: apply ``max(., 0)`` after the batch norm.

    Raises:
        ArgumentError: a gradient would be needed (use the separate layers to train).
        ShapeError: statistics or affine parameters not of shape ``(C_out,)``.
    """
    tensors = [t for t in (input, weight, bias, bn_weight, bn_bias) if isinstance(t, Tensor)]
    if is_grad_enabled() and any(t.requires_grad for t in tensors):
        raise ArgumentError("conv_batch_norm: inference only (it has no backward); run it under "
                            "convgrad.no_grad() or on tensors that do not require grad")
    channels = weight.shape[0]
    arrays = []
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("bn_weight", bn_weight), ("bn_bias", bn_bias)):
        if value is not None:
            value = value._data if isinstance(value, Tensor) else value
            if tuple(value.shape) != (channels,):
                raise ShapeError(f"conv_batch_norm: expected {name} of shape ({channels},) for "
                                 f"{channels} output channels, got {shape_str(value.shape)}")
        arrays.append(value)
    scale, shift = folded_batch_norm(*arrays, eps, weight.dtype)
    epilogue = scale_shift_epilogue(scale, shift, relu)
    return _convnd(input, weight, bias, stride, padding, dilation, groups, weight.ndim - 2, epilogue=epilogue)
