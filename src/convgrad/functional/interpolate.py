"""``interpolate``: resize the spatial axes of (N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs
(``torch.nn.functional.interpolate``'s arguments and PyTorch's index arithmetic).

Every mode is separable: the result is one 1-D resampling per spatial axis, applied from the
last axis to the first (PyTorch's bilinear ``h0 (w0 x00 + w1 x01) + h1 (w0 x10 + w1 x11)``).
For an axis of ``n`` inputs and ``m`` outputs, with ``scale = 1 / scale_factor`` when a scale
factor is given (and not recomputed) and ``n / m`` otherwise, output ``i`` reads::

    nearest         src = min(floor(i * scale), n - 1)
    nearest-exact   src = min(floor((i + 0.5) * scale), n - 1)
    linear          x = (i + 0.5) * scale - 0.5 clamped at 0   (align_corners: x = i (n - 1) / (m - 1))
                    i0 = floor(x), i1 = min(i0 + 1, n - 1), out = (1 - t) in[i0] + t in[i1], t = x - i0

The coordinates are computed in the input's precision, as PyTorch's CPU kernels do (float32
for float32 inputs), so the same source pixels are picked. 'area' is adaptive average pooling.
The backward pass applies each axis' transposed resampling matrix, in reverse order.
"""
import numpy as np

from ..tensor import Function, Tensor
from ._util import ArgumentError, DTypeError, ShapeError, empty_result, shape_str

MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "area")
_LINEAR_RANK = {"linear": 3, "bilinear": 4, "trilinear": 5}


def _source_scale(n_in, n_out, scale_factor, align_corners, dtype):
    """The step between source coordinates of consecutive outputs (PyTorch's area_pixel_compute_scale)."""
    if align_corners:
        return dtype.type((n_in - 1) / (n_out - 1)) if n_out > 1 else dtype.type(0)
    if scale_factor is not None and scale_factor > 0:
        return dtype.type(1) / dtype.type(scale_factor)
    return dtype.type(n_in) / dtype.type(n_out)


def axis_map(n_in, n_out, mode, align_corners, scale_factor, dtype):
    """For one axis: source indices ``i0``, ``i1`` (int64, length ``n_out``) and weights ``t`` of
    ``i1`` (None for the nearest modes)."""
    if mode in ("nearest", "nearest-exact"):  # PyTorch computes these coordinates in float32
        scale = np.float32(1 / scale_factor) if scale_factor else np.float32(n_in) / np.float32(n_out)
        offset = np.float32(0.5) if mode == "nearest-exact" else np.float32(0)
        src = np.floor((np.arange(n_out, dtype=np.float32) + offset) * scale).astype(np.int64)
        return np.minimum(src, n_in - 1), None, None
    dst = np.arange(n_out, dtype=dtype)
    scale = _source_scale(n_in, n_out, scale_factor, align_corners, dtype)
    if align_corners:
        x = scale * dst
    else:
        x = np.maximum(scale * (dst + dtype.type(0.5)) - dtype.type(0.5), dtype.type(0))
    i0 = x.astype(np.int64)  # x >= 0: truncation is floor
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (x - i0).astype(dtype)


def _resample(x, axis, i0, i1, t):
    if t is None:
        return np.take(x, i0, axis=axis)
    shape = [1] * x.ndim
    shape[axis] = t.size
    t = t.reshape(shape)
    return (1 - t) * np.take(x, i0, axis=axis) + t * np.take(x, i1, axis=axis)


def _matrix(n_in, i0, i1, t, dtype):
    """The (n_out, n_in) matrix of one axis' resampling (for the backward pass)."""
    rows = np.arange(i0.size)
    a = np.zeros((i0.size, n_in), dtype)
    if t is None:
        a[rows, i0] = 1
    else:
        np.add.at(a, (rows, i0), 1 - t)
        np.add.at(a, (rows, i1), t)
    return a


class Interpolate(Function):
    @staticmethod
    def forward(ctx, x, maps=()):
        """``maps``: ((axis, n_in, i0, i1, t), ...) applied in order."""
        ctx.maps = maps
        out = x
        for axis, _, i0, i1, t in maps:
            out = _resample(out, axis, i0, i1, t)
        return np.ascontiguousarray(out)

    @staticmethod
    def backward(ctx, grad):
        g = grad
        for axis, n_in, i0, i1, t in reversed(ctx.maps):
            a = _matrix(n_in, i0, i1, t, grad.dtype)
            g = np.moveaxis(np.tensordot(g, a, axes=([axis], [0])), -1, axis)  # sum_out g[out] a[out, in]
        return g

    @staticmethod
    def output_shape(x_shape, maps=()):
        shape = list(x_shape)
        for axis, _, i0, _, _ in maps:
            shape[axis] = i0.size
        return tuple(shape)


def _per_axis(value, nd, name, cast):
    if isinstance(value, (tuple, list)):
        if len(value) != nd:
            raise ArgumentError(f"interpolate: {name} must have {nd} entries for {nd} spatial dimension(s), "
                                f"got {tuple(value)}")
        return tuple(cast(v) for v in value)
    return (cast(value),) * nd


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial axes of a batch by nearest-neighbour or (bi/tri)linear interpolation.

    Args:
        input: (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        size: the output's spatial size (an int for every axis, or one per axis).
        scale_factor: multiplier of each spatial size (a number or one per axis); the output size
            is ``floor(size * scale_factor)``. Give exactly one of size and scale_factor.
        mode: 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear' (4-D), 'trilinear' (5-D)
            or 'area' (adaptive average pooling).
        align_corners: linear modes only. True maps the corner pixels' centres onto each other
            (``x = i (n - 1) / (m - 1)``); False/None (default) treats pixels as areas.
        recompute_scale_factor: True computes the coordinates from the sizes (n / m) instead of
            from ``1 / scale_factor``.
        antialias: only False is supported.

    Returns:
        A tensor of shape (N, C, *output size).

    Raises:
        ArgumentError: an unknown mode, both or neither of size/scale_factor, align_corners
            with a nearest mode, antialias=True. ShapeError: an input rank the mode does not take.

    Example:
        >>> x = convgrad.randn(1, 3, 4, 4)
        >>> convgrad.nn.functional.interpolate(x, scale_factor=2, mode="bilinear").shape
        convgrad.Size([1, 3, 8, 8])
    """
    if not isinstance(input, Tensor):
        raise DTypeError(f"interpolate: expected input to be a Tensor, got {type(input).__name__}")
    if mode not in MODES:
        raise ArgumentError(f"interpolate: mode must be one of {MODES}, got {mode!r}")
    if antialias:
        raise ArgumentError("interpolate: antialias=True is not supported")
    if input.ndim not in (3, 4, 5):
        raise ShapeError(f"interpolate: expected a 3-D (N, C, L), 4-D (N, C, H, W) or 5-D (N, C, D, H, W) input, "
                         f"got {shape_str(input.shape)}")
    if mode in _LINEAR_RANK and input.ndim != _LINEAR_RANK[mode]:
        raise ShapeError(f"interpolate: mode {mode!r} expects a {_LINEAR_RANK[mode]}-D input, got "
                         f"{shape_str(input.shape)}")
    if align_corners is not None and mode not in _LINEAR_RANK:
        raise ArgumentError(f"interpolate: align_corners can only be set with the linear modes "
                            f"(linear, bilinear, trilinear), got mode={mode!r}")
    if input.dtype.kind != "f":
        raise DTypeError(f"interpolate: expected a floating point input, got dtype {input.dtype}")
    nd = input.ndim - 2
    sizes = tuple(input.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ArgumentError("interpolate: give exactly one of size and scale_factor")
    if size is not None:
        out = _per_axis(size, nd, "size", int)
        scales = (None,) * nd
    else:
        scales = _per_axis(scale_factor, nd, "scale_factor", float)
        if any(not s > 0 for s in scales):
            raise ArgumentError(f"interpolate: scale_factor must be positive, got {scale_factor}")
        out = tuple(int(np.floor(n * s)) for n, s in zip(sizes, scales))
        if recompute_scale_factor:
            scales = (None,) * nd
    if any(o <= 0 for o in out):
        raise ShapeError(f"interpolate: the output size {out} must be positive (input {shape_str(input.shape)})")
    if mode == "area":
        from . import adaptive_pooling  # the same windows as adaptive average pooling
        return getattr(adaptive_pooling, f"adaptive_avg_pool{nd}d")(input, out)
    if input.numel() == 0:
        return empty_result(tuple(input.shape[:2]) + out, input)
    maps = []
    for k in reversed(range(nd)):  # the last axis first, as PyTorch's kernels nest
        i0, i1, t = axis_map(sizes[k], out[k], mode, bool(align_corners), scales[k], input.dtype)
        maps.append((2 + k, sizes[k], i0, i1, t))
    return Interpolate.apply(input, maps=tuple(maps))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """``interpolate`` under its older name (``torch.nn.functional.upsample``)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """``interpolate(input, size, scale_factor, mode='nearest')`` (PyTorch's deprecated name)."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(input, size, scale_factor, mode='bilinear', align_corners=True)`` (PyTorch's
    deprecated name, which aligns corners)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
