"""Pooling layers (``torch.nn`` names, arguments and reprs); the math is in
``convgrad.functional.pooling``, ``adaptive_pooling`` and ``special_pooling``.

Layers check their hyper-parameters when built and prefix errors raised on a bad input with
their own repr, e.g. ``MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1,
ceil_mode=False): max_pool2d: expected a non-empty 3-D (C, H, W) or 4-D (N, C, H, W) input, ...``.
"""
from ..errors import ArgumentError, ShapeError
from ..functional import adaptive_pooling as AP
from ..functional import pooling as P
from ..functional import special_pooling as SP
from .module import Module


def _single(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class _Pool(Module):
    """Shared by the pooling layers: re-raise input errors under the layer's name."""

    def _run(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ShapeError, ArgumentError) as err:
            raise type(err)(f"{self!r}: {err}") from None

    def _check(self, fn):
        """Validate the hyper-parameters now rather than at the first forward."""
        try:
            fn()
        except ArgumentError as err:
            raise ArgumentError(f"{type(self).__name__}: {err}") from None


# ----------------------------------------------------------------------------------------------
# Max and min pooling
# ----------------------------------------------------------------------------------------------
class _ExtremePoolNd(_Pool):
    _nd = 2
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode
        self._check(lambda: P.window_args(self._fn.__name__, self._nd, kernel_size, self.stride, padding, dilation))

    def forward(self, input):
        return self._run(type(self)._fn, input, self.kernel_size, self.stride, self.padding, self.dilation,
                         ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_ExtremePoolNd):
    """Max pooling over ``(N, C, L)``; see :func:`convgrad.functional.max_pool1d`."""
    _nd, _fn = 1, staticmethod(P.max_pool1d)


class MaxPool2d(_ExtremePoolNd):
    """Max pooling over ``(N, C, H, W)``: ``H_out = floor((H + 2p - d(k-1) - 1) / s) + 1``
    (ceil with ``ceil_mode``); see :func:`convgrad.functional.max_pool2d`."""
    _nd, _fn = 2, staticmethod(P.max_pool2d)


class MaxPool3d(_ExtremePoolNd):
    """Max pooling over ``(N, C, D, H, W)``; see :func:`convgrad.functional.max_pool3d`."""
    _nd, _fn = 3, staticmethod(P.max_pool3d)


class MinPool1d(_ExtremePoolNd):
    """Min pooling over ``(N, C, L)`` (not in PyTorch): ``-MaxPool1d(-x)``, gradient to the arg-min."""
    _nd, _fn = 1, staticmethod(P.min_pool1d)


class MinPool2d(_ExtremePoolNd):
    """Min pooling over ``(N, C, H, W)`` (not in PyTorch): the smallest value of each window;
    MaxPool2d's arguments and shapes."""
    _nd, _fn = 2, staticmethod(P.min_pool2d)


class MinPool3d(_ExtremePoolNd):
    """Min pooling over ``(N, C, D, H, W)`` (not in PyTorch)."""
    _nd, _fn = 3, staticmethod(P.min_pool3d)


# ----------------------------------------------------------------------------------------------
# Average pooling
# ----------------------------------------------------------------------------------------------
class AvgPool1d(_Pool):
    """Average pooling over ``(N, C, L)``; see :func:`convgrad.functional.avg_pool1d`."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self._check(lambda: P.window_args("avg_pool1d", 1, self.kernel_size, self.stride, self.padding))

    def forward(self, input):
        return self._run(P.avg_pool1d, input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                         self.count_include_pad)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(_Pool):
    _nd = 2
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override
        self._check(lambda: P.window_args(self._fn.__name__, self._nd, kernel_size, self.stride, padding))

    def forward(self, input):
        return self._run(type(self)._fn, input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                         self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """Average pooling over ``(N, C, H, W)`` with PyTorch's divisors; see
    :func:`convgrad.functional.avg_pool2d`."""
    _nd, _fn = 2, staticmethod(P.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """Average pooling over ``(N, C, D, H, W)``; see :func:`convgrad.functional.avg_pool3d`."""
    _nd, _fn = 3, staticmethod(P.avg_pool3d)


# ----------------------------------------------------------------------------------------------
# Lp pooling
# ----------------------------------------------------------------------------------------------
class _LPPoolNd(_Pool):
    _nd = 2
    _fn = None

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode
        self._check(lambda: P.window_args(self._fn.__name__, self._nd, kernel_size, stride, 0))

    def forward(self, input):
        return self._run(type(self)._fn, input, float(self.norm_type), self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Power-average pooling ``(sum x^p)^(1/p)`` over ``(N, C, L)``."""
    _nd, _fn = 1, staticmethod(P.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """Power-average pooling ``(sum x^p)^(1/p)`` over ``(N, C, H, W)``."""
    _nd, _fn = 2, staticmethod(P.lp_pool2d)


class LPPool3d(_LPPoolNd):
    """Power-average pooling ``(sum x^p)^(1/p)`` over ``(N, C, D, H, W)``."""
    _nd, _fn = 3, staticmethod(P.lp_pool3d)


# ----------------------------------------------------------------------------------------------
# Max unpooling
# ----------------------------------------------------------------------------------------------
class _MaxUnpoolNd(_Pool):
    _nd = 2
    _fn = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        nd = self._nd
        self.kernel_size = P.ntuple(kernel_size, nd, "kernel_size", type(self).__name__)
        self.stride = P.ntuple(stride if stride is not None else kernel_size, nd, "stride", type(self).__name__)
        self.padding = P.ntuple(padding, nd, "padding", type(self).__name__)

    def forward(self, input, indices, output_size=None):
        return self._run(type(self)._fn, input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Inverse of MaxPool1d given its indices; zeros elsewhere."""
    _nd, _fn = 1, staticmethod(P.max_unpool1d)


class MaxUnpool2d(_MaxUnpoolNd):
    """Inverse of MaxPool2d given its indices: ``H_out = (H - 1) s - 2p + k`` or ``output_size``."""
    _nd, _fn = 2, staticmethod(P.max_unpool2d)


class MaxUnpool3d(_MaxUnpoolNd):
    """Inverse of MaxPool3d given its indices."""
    _nd, _fn = 3, staticmethod(P.max_unpool3d)


# ----------------------------------------------------------------------------------------------
# Adaptive and global pooling
# ----------------------------------------------------------------------------------------------
class _AdaptivePool(_Pool):
    _fn = None

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return self._run(type(self)._fn, input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Adaptive average pooling over a sequence to ``output_size`` positions, whatever the input length.

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, C, output_size)``.
    """
    _fn = staticmethod(AP.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptivePool):
    """Average over adaptive windows to ``output_size`` (entries may be None)."""
    _fn = staticmethod(AP.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptivePool):
    """Adaptive average pooling over a volume to ``output_size`` (an int or a (d, h, w) triple).

    Shape:
        Input ``(N, C, D, H, W)`` or ``(C, D, H, W)``; output ``(N, C, *output_size)``.
    """
    _fn = staticmethod(AP.adaptive_avg_pool3d)


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        return self._run(type(self)._fn, input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """Adaptive max pooling over a sequence to ``output_size`` positions (``return_indices`` also gives the argmax).

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, C, output_size)``.
    """
    _fn = staticmethod(AP.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """Maximum over adaptive windows to ``output_size``; indices with ``return_indices``."""
    _fn = staticmethod(AP.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPool):
    """Adaptive max pooling over a volume to ``output_size`` (``return_indices`` also gives the argmax).

    Shape:
        Input ``(N, C, D, H, W)`` or ``(C, D, H, W)``; output ``(N, C, *output_size)``.
    """
    _fn = staticmethod(AP.adaptive_max_pool3d)


class _GlobalPool2d(_Pool):
    _fn = None

    def __init__(self, keepdim=False):
        super().__init__()
        self.keepdim = keepdim

    def forward(self, input):
        return self._run(type(self)._fn, input, self.keepdim)

    def extra_repr(self):
        return "keepdim=True" if self.keepdim else ""


class GlobalAvgPool2d(_GlobalPool2d):
    """Global average pooling (Network in Network, GoogLeNet, ResNet heads): the mean of each
    feature map, ``(N, C, H, W) -> (N, C)``, or ``(N, C, 1, 1)`` with ``keepdim=True``."""
    _fn = staticmethod(AP.global_avg_pool2d)


class GlobalMaxPool2d(_GlobalPool2d):
    """Global max pooling: the maximum of each feature map, ``(N, C, H, W) -> (N, C)``."""
    _fn = staticmethod(AP.global_max_pool2d)


# ----------------------------------------------------------------------------------------------
# Fractional, stochastic and spatial pyramid pooling
# ----------------------------------------------------------------------------------------------
class _FractionalMaxPoolNd(_Pool):
    _nd = 2
    _fn = None

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        name = type(self).__name__
        if output_size is None and output_ratio is None:
            raise ArgumentError(f"{name}: requires an output_size or an output_ratio")
        if output_size is not None and output_ratio is not None:
            raise ArgumentError(f"{name}: give only one of output_size and output_ratio")
        if output_ratio is not None:
            ratios = _single(output_ratio)
            if not all(0 < float(r) < 1 for r in ratios):
                raise ArgumentError(f"{name}: output_ratio must be in (0, 1), got {output_ratio}")
        self.kernel_size = kernel_size
        self.output_size = output_size
        self.output_ratio = output_ratio
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)  # a buffer, as in PyTorch's state_dict

    def forward(self, input):
        return self._run(type(self)._fn, input, self.kernel_size, self.output_size, self.output_ratio,
                         self.return_indices, self._random_samples)

    def extra_repr(self):
        target = (f"output_size={self.output_size}" if self.output_size is not None
                  else f"output_ratio={self.output_ratio}")
        return f"kernel_size={self.kernel_size}, {target}"


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Fractional max pooling (Graham 2014) to ``output_size`` or ``output_ratio`` with
    pseudo-random windows drawn per forward (fixed by ``_random_samples``, as in PyTorch)."""
    _nd, _fn = 2, staticmethod(SP.fractional_max_pool2d)


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Fractional max pooling over ``(N, C, T, H, W)``."""
    _nd, _fn = 3, staticmethod(SP.fractional_max_pool3d)


class StochasticPool2d(_Pool):
    """Stochastic pooling (Zeiler & Fergus 2013): in training each window outputs an activation
    drawn with probability proportional to it; in eval mode the probability-weighted average.
    Draws use convgrad's generator (``convgrad.manual_seed``)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self._check(lambda: P.window_args("stochastic_pool2d", 2, kernel_size, self.stride, padding))

    def forward(self, input):
        return self._run(SP.stochastic_pool2d, input, self.kernel_size, self.stride, self.padding, self.training)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class SpatialPyramidPooling(_Pool):
    """Spatial pyramid pooling (He et al. 2014): ``(N, C, H, W) -> (N, C * sum(n^2 for n in
    levels))`` for any ``H, W``, by adaptive ``mode`` pooling to each ``n x n`` grid."""

    def __init__(self, levels=(1, 2, 4), mode="max"):
        super().__init__()
        self.levels = tuple(int(n) for n in levels)
        self.mode = mode
        if mode not in ("max", "avg"):
            raise ArgumentError(f"SpatialPyramidPooling: mode must be 'max' or 'avg', got {mode!r}")
        if not self.levels or any(n < 1 for n in self.levels):
            raise ArgumentError(f"SpatialPyramidPooling: levels must be positive bin counts, got {levels}")

    def output_features(self, channels):
        """Length of the output vector for ``channels`` input maps."""
        return channels * sum(n * n for n in self.levels)

    def forward(self, input):
        return self._run(SP.spatial_pyramid_pool2d, input, self.levels, self.mode)

    def extra_repr(self):
        """The layer's options, shown inside its ``repr``."""
        return f"levels={self.levels}, mode={self.mode!r}"
