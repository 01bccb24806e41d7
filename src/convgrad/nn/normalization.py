"""Normalisation layers: BatchNorm1d/2d/3d, LayerNorm, GroupNorm, InstanceNorm1d/2d/3d,
LocalResponseNorm (PyTorch's names, arguments, defaults, parameter and buffer names)."""
import numbers

import numpy as np

from .. import functional as F
from ..backend import get_default_dtype
from ..errors import ArgumentError, ShapeError
from ..functional._util import shape_str, with_batch_dim
from ..functional.normalization import values_per_channel
from ..tensor import Tensor
from .module import Module
from .parameter import Parameter



def _affine_parameters(module, shape, affine, bias):
    """The learned scale ``weight`` (ones) and shift ``bias`` (zeros) of a normalisation layer, or
    None for each that is switched off (registered, so state_dict keys match PyTorch's)."""
    dtype = get_default_dtype()
    module.register_parameter("weight", Parameter(np.ones(shape, dtype)) if affine else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, dtype)) if affine and bias else None)


class _NormBase(Module):
    """Shared state of batch and instance norm: affine (weight, bias) and running statistics."""

    # the input ranks a subclass accepts and the shape its error messages show
    _ranks = ()
    _shape_hint = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True):
        super().__init__()
        if int(num_features) <= 0:
            raise ArgumentError(f"{type(self).__name__}: num_features must be positive, got {num_features}")
        if momentum is not None and not isinstance(momentum, numbers.Real):
            raise ArgumentError(f"{type(self).__name__}: momentum must be a number or None, got {momentum!r}")
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dtype = get_default_dtype()
        _affine_parameters(self, self.num_features, affine, bias)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            self.weight._data[...] = 1
            if self.bias is not None:
                self.bias._data[...] = 0

    def _name(self):
        return f"{type(self).__name__}({self.num_features})"

    def _check_input(self, input):
        c = self.num_features
        hint = self._shape_hint.format(c=c)
        if input.ndim not in self._ranks:
            ranks = " or ".join(f"{r}-D" for r in self._ranks)
            raise ShapeError(f"{self._name()}: expected {ranks} input {hint}, got {shape_str(input.shape)}")
        if input.shape[1] != c and (self.affine or self.track_running_stats):
            raise ShapeError(f"{self._name()}: expected input with {c} channels {hint}, "
                             f"got {shape_str(input.shape)}")

    def _momentum_factor(self):
        """The weight of this batch in the running average: momentum, or 1 / batches seen so far
        (a cumulative moving average) when momentum is None. Counts the batch when tracking."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        return factor

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input(input)
        if self.training and values_per_channel(input.shape) == 1:
            raise ShapeError(f"{self._name()}: expected more than 1 value per channel when training, "
                             f"got input of shape {shape_str(input.shape)}")
        factor = self._momentum_factor()
        # batch statistics in training, and in evaluation too when no running statistics exist
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep_running = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep_running else None,
                            self.running_var if keep_running else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) input, per channel.

    Args:
        num_features: C.
        eps: added to the variance. Default 1e-5.
        momentum: weight of each new batch in the running statistics (None: cumulative average).
        affine: learn a per-channel scale ``weight`` (init 1) and shift ``bias`` (init 0).
        bias: (keyword only) with affine, learn the shift too. Default True.
        track_running_stats: keep ``running_mean``, ``running_var`` and ``num_batches_tracked``
            buffers and use them in evaluation mode; otherwise batch statistics are always used.

    Shape: input (N, C) or (N, C, L); output the same.
    """

    _ranks = (2, 3)
    _shape_hint = "(N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) feature maps, per channel (see BatchNorm1d for the
    arguments). The statistics of channel c run over all N * H * W positions."""

    _ranks = (4,)
    _shape_hint = "(N, {c}, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) volumes, per channel (see BatchNorm1d)."""

    _ranks = (5,)
    _shape_hint = "(N, {c}, D, H, W)"


class _InstanceNorm(_NormBase):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, *,
                 bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias=bias)

    def _check_input(self, input):
        if input.ndim == self._ranks[0] - 1:  # one sample without its batch axis, as PyTorch accepts
            return super()._check_input(input.unsqueeze(0))
        return super()._check_input(input)

    def forward(self, input):
        self._check_input(input)
        return with_batch_dim(self._normalize, input, self._ranks[0])

    def _normalize(self, input):
        momentum = 0.0 if self.momentum is None else self.momentum
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                               self.training or not self.track_running_stats, momentum, self.eps)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L): each sample's channel over its positions."""

    _ranks = (3,)
    _shape_hint = "(N, {c}, L) or ({c}, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W): each sample's channel over its H * W
    positions."""

    _ranks = (4,)
    _shape_hint = "(N, {c}, H, W) or ({c}, H, W)"


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or (C, D, H, W)."""

    _ranks = (5,)
    _shape_hint = "(N, {c}, D, H, W) or ({c}, D, H, W)"


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes of each sample.

    Args:
        normalized_shape: int or tuple, e.g. ``(C, H, W)`` to normalise whole feature maps.
        eps: added to the variance. Default 1e-5.
        elementwise_affine: learn ``weight`` (init 1) and ``bias`` (init 0) of shape normalized_shape.
        bias: learn the bias too (when elementwise_affine).
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias)

    def forward(self, input):
        k = len(self.normalized_shape)
        if input.ndim < k or tuple(input.shape[input.ndim - k:]) != self.normalized_shape:
            raise ShapeError(f"LayerNorm({self.normalized_shape}): expected input of shape "
                             f"(*, {', '.join(map(str, self.normalized_shape))}), got {shape_str(input.shape)}")
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` axes:
    ``y = x / sqrt(mean(x^2) + eps) * weight`` (no mean subtraction, no bias).

    Args:
        normalized_shape: int or tuple, e.g. ``(C,)`` for features in the last axis.
        eps: added to the mean square; None is the machine epsilon of the input's dtype.
        elementwise_affine: learn ``weight`` (init 1) of shape normalized_shape.

    Shape: input (*, *normalized_shape); output the same.

    Example:
        >>> norm = convgrad.nn.RMSNorm(64)
        >>> norm(convgrad.randn(8, 10, 64)).shape
        convgrad.Size([8, 10, 64])
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, (int, np.integer)):
            normalized_shape = (int(normalized_shape),)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        self.register_parameter("weight", Parameter(np.ones(self.normalized_shape, dtype))
                                if elementwise_affine else None)

    def reset_parameters(self):
        """Set the scale back to ones."""
        if self.weight is not None:
            self.weight._data[...] = 1

    def forward(self, input):
        k = len(self.normalized_shape)
        if input.ndim < k or tuple(input.shape[input.ndim - k:]) != self.normalized_shape:
            raise ShapeError(f"RMSNorm({self.normalized_shape}): expected input of shape "
                             f"(*, {', '.join(map(str, self.normalized_shape))}), got {shape_str(input.shape)}")
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        """``(D,), eps=None, elementwise_affine=True`` as PyTorch prints it."""
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Group normalisation: per sample, over groups of num_channels / num_groups channels.

    Args:
        num_groups: G, which must divide num_channels. G = 1 is layer norm over (C, H, W) with a
            per-channel affine; G = C is instance norm.
        num_channels: C.
        eps: added to the variance. Default 1e-5.
        affine: learn per-channel ``weight`` (init 1) and ``bias`` (init 0).
        bias: (keyword only) with affine, learn the bias too. Default True.
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, *, bias=True):
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ArgumentError(f"GroupNorm({num_groups}, {num_channels}): num_channels must be divisible "
                                f"by num_groups")
        self.num_groups, self.num_channels, self.eps, self.affine = int(num_groups), int(num_channels), eps, affine
        _affine_parameters(self, self.num_channels, affine, bias)

    def forward(self, input):
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ShapeError(f"GroupNorm({self.num_groups}, {self.num_channels}): expected input with "
                             f"{self.num_channels} channels (N, {self.num_channels}, *), got {shape_str(input.shape)}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """Local response normalisation across neighbouring channels (AlexNet, VGG's A-LRN).

    ``b_c = a_c / (k + alpha / size * sum of a_j^2 over the size channels around c) ** beta``.
    No parameters. Input (N, C, *) with at least one spatial dimension.
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = int(size), alpha, beta, k

    def forward(self, input):
        if input.ndim < 3:
            raise ShapeError(f"{type(self).__name__}({self.size}): expected input of shape (N, C, *) with 3 or "
                             f"more dimensions, got {shape_str(input.shape)}")
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
           "LayerNorm", "GroupNorm", "LocalResponseNorm", "RMSNorm"]
