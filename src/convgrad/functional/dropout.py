"""Dropout: randomly zero activations while training (Srivastava et al. 2014).

Inverted dropout: each element is kept with probability 1 - p and scaled by 1 / (1 - p), so the
expected activation is unchanged and evaluation needs no rescaling (``training=False`` returns the
input itself). ``dropout1d/2d/3d`` drop whole channels: one draw per (sample, channel), shared by
every position of the feature map, because neighbouring pixels are strongly correlated and
dropping single pixels of a feature map barely regularises (Tompson et al. 2015).

``alpha_dropout`` keeps SELU activations at zero mean and unit variance (Klambauer et al. 2017):
dropped units are set to SELU's negative saturation -lambda*alpha and the result is corrected by
an affine map a*x + b. The random numbers come from ``convgrad.backend.get_rng()``, so
``convgrad.manual_seed`` makes every mask reproducible.
"""
import math
import warnings

import numpy as np

from .. import backend
from ..tensor import Function, Tensor
from ._util import ArgumentError, DTypeError, ShapeError, shape_str

# SELU's negative saturation value lambda * alpha (PyTorch's constant)
_ALPHA_PRIME = 1.7580993408473766


class MaskedAffine(Function):
    """y = x * scale + shift with a fixed random ``scale`` (and ``shift``) drawn by the caller;
    dy/dx = scale. The mask may have size-1 axes (channel dropout); it broadcasts against x."""

    @staticmethod
    def forward(ctx, x, scale, shift=None):
        ctx.scale = scale
        out = x * scale
        if shift is not None:
            out += shift
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale

    @staticmethod
    def output_shape(x_shape, *args, **kwargs):
        return tuple(x_shape)


def _check(op, input, p):
    if not isinstance(input, Tensor):
        raise DTypeError(f"{op}: expected a convgrad Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point tensor, got dtype {input.dtype}")
    p = float(p)
    if not 0.0 <= p <= 1.0:  # also rejects NaN
        raise ArgumentError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    return p


def _keep_mask(shape, p):
    """Bernoulli(1 - p) draws as booleans, from convgrad's seeded generator."""
    return backend.get_rng().random(shape, dtype=np.float32) >= p


def _apply(input, p, mask_shape, alpha):
    dtype = input.dtype.type
    if p == 1.0:  # everything dropped (PyTorch returns zeros, with zero gradient)
        return MaskedAffine.apply(input, np.zeros((), input.dtype))
    keep = _keep_mask(mask_shape, p)
    if not alpha:
        return MaskedAffine.apply(input, keep * dtype(1.0 / (1.0 - p)))
    a = 1.0 / math.sqrt((_ALPHA_PRIME ** 2 * p + 1) * (1 - p))
    # kept: a*x + a*alpha'*p ; dropped: a*(-alpha') + a*alpha'*p
    shift = np.where(keep, dtype(a * _ALPHA_PRIME * p), dtype(a * _ALPHA_PRIME * (p - 1)))
    return MaskedAffine.apply(input, keep * dtype(a), shift)


def _feature_mask_shape(shape):
    """One draw per (sample, channel): (N, C, 1, 1, ...)."""
    return tuple(shape[:2]) + (1,) * (len(shape) - 2)


def _feature(op, input, p, training, alpha, batched_ndim):
    """Channel-wise dropout; inputs without the batch axis get one added, as in PyTorch."""
    if not training or p == 0.0 or input._data.size == 0:
        return input
    shape = input.shape if input.ndim == batched_ndim else (1,) + tuple(input.shape)
    if len(shape) < 2:
        raise ShapeError(f"{op}: feature dropout needs at least 2 dimensions, got {shape_str(input.shape)}")
    mask_shape = _feature_mask_shape(shape)
    if input.ndim != batched_ndim:
        mask_shape = mask_shape[1:]
    return _apply(input, p, mask_shape, alpha)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) (training only)."""
    p = _check("dropout", input, p)
    if not training or p == 0.0 or input._data.size == 0:
        return input
    return _apply(input, p, input.shape, alpha=False)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: keeps zero mean and unit variance. Note PyTorch's default
    ``training=False`` for this function."""
    p = _check("alpha_dropout", input, p)
    if not training or p == 0.0 or input._data.size == 0:
        return input
    return _apply(input, p, input.shape, alpha=True)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Channel-wise dropout for (N, C, L) or (C, L) inputs."""
    p = _check("dropout1d", input, p)
    if input.ndim not in (2, 3):
        raise ShapeError(f"dropout1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got "
                         f"{shape_str(input.shape)}")
    return _feature("dropout1d", input, p, training, False, batched_ndim=3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Channel-wise dropout for (N, C, H, W) inputs.

    As in PyTorch, a 3-D input is read as (N, C, L) (channel-wise 1-D dropout, with a warning),
    and other ranks are accepted with a deprecation warning.
    """
    p = _check("dropout2d", input, p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: received a {input.ndim}-D input; dropout2d expects (N, C, H, W). "
                      f"Use dropout instead.", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: received a 3-D input and, like PyTorch, reads it as (N, C, L) "
                      "(channel-wise 1-D dropout); use dropout1d for that.", stacklevel=2)
    return _feature("dropout2d", input, p, training, False, batched_ndim=input.ndim)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Channel-wise dropout for (N, C, D, H, W) or (C, D, H, W) inputs."""
    p = _check("dropout3d", input, p)
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: received a {input.ndim}-D input; dropout3d expects (N, C, D, H, W) "
                      f"or (C, D, H, W). Use dropout instead.", stacklevel=2)
    return _feature("dropout3d", input, p, training, False, batched_ndim=5)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels (N, C, ...)."""
    p = _check("feature_alpha_dropout", input, p)
    return _feature("feature_alpha_dropout", input, p, training, True, batched_ndim=input.ndim)
