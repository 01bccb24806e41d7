"""Batch transforms on NumPy arrays: conversion, normalisation and light augmentation.

Unlike torchvision, which transforms one PIL image at a time, these work on a whole batch at once
(a Python loop per image is the slow part of a NumPy data pipeline). Every transform is a callable
``t(batch, rng=None) -> batch``: ``batch`` has a leading batch dimension, ``rng`` is the
``np.random.Generator`` that random transforms draw from (the :class:`DataLoader` passes one derived
from its seed, the epoch and the batch index, which makes augmentation reproducible and resumable).

Typical MNIST pipelines::

    train_tf = Compose([ToTensor(), RandomAffine(degrees=10, translate=2), Normalize(0.1307, 0.3081)])
    test_tf = Compose([ToTensor(), Normalize(0.1307, 0.3081)])
"""
import numbers

import numpy as np

from .. import backend
from ..errors import ArgumentError, ShapeError


def _call(transform, x, rng):
    """Call a transform with the generator if it takes one (plain functions may not)."""
    if isinstance(transform, Transform):
        return transform(x, rng=rng)
    return transform(x)


class Transform:
    """Base class: ``__call__(batch, rng=None)``; ``describe()`` gives a JSON-friendly dict."""

    def __call__(self, x, rng=None):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.describe().items() if k != "name")
        return f"{type(self).__name__}({args})"

    def describe(self):
        """A JSON-able description of the transform (stored in checkpoints' preprocessing)."""
        return {"name": type(self).__name__}


class Compose(Transform):
    """Apply transforms in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x, rng=None):
        for t in self.transforms:
            x = _call(t, x, rng)
        return x

    def __repr__(self):
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"

    def describe(self):
        """A JSON-able description of the whole pipeline (a list of its steps)."""
        return {"name": "Compose", "transforms": [t.describe() for t in self.transforms if isinstance(t, Transform)]}


class ToTensor(Transform):
    """uint8 images ``(N, H, W)`` or ``(N, H, W, C)`` -> float32 ``(N, C, H, W)`` in [0, 1].

    Float input ``(N, C, H, W)`` passes through unchanged (cast to float32).
    """

    def __call__(self, x, rng=None):
        x = np.asarray(x)
        if x.dtype == np.uint8:
            if x.ndim == 3:
                x = x[:, None]
            elif x.ndim == 4:
                x = x.transpose(0, 3, 1, 2)
            else:
                raise ShapeError(f"ToTensor: expected uint8 images of shape (N, H, W) or (N, H, W, C), got {x.shape}")
            return x.astype(np.float32) * np.float32(1 / 255)
        if x.ndim != 4:
            raise ShapeError(f"ToTensor: expected float images of shape (N, C, H, W), got {x.shape}")
        return x.astype(np.float32, copy=False)


def _per_channel(value, name):
    arr = np.atleast_1d(np.asarray(value, dtype=np.float32))
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise ArgumentError(f"Normalize: {name} must be a finite number or a list of them, got {value!r}")
    return arr


class Normalize(Transform):
    """``(x - mean) / std`` per channel, on float batches ``(N, C, H, W)``."""

    def __init__(self, mean, std):
        self.mean = _per_channel(mean, "mean")
        self.std = _per_channel(std, "std")
        if np.any(self.std <= 0):
            raise ArgumentError(f"Normalize: std must be positive, got {std!r}")

    def __call__(self, x, rng=None):
        x = np.asarray(x)
        if x.ndim != 4 or x.dtype.kind != "f":
            raise ShapeError(f"Normalize: expected a float batch of shape (N, C, H, W), got {x.dtype} {x.shape} "
                             f"(put ToTensor() first)")
        c = x.shape[1]
        if self.mean.size not in (1, c) or self.std.size not in (1, c):
            raise ShapeError(f"Normalize: mean/std have {self.mean.size}/{self.std.size} values, "
                             f"the batch has {c} channels")
        mean = self.mean.astype(x.dtype).reshape(1, -1, 1, 1)
        inv_std = (1 / self.std).astype(x.dtype).reshape(1, -1, 1, 1)
        return (x - mean) * inv_std

    def describe(self):
        """A JSON-able description: ``{"name": "normalize", "mean", "std"}``."""
        return {"name": "Normalize", "mean": self.mean.tolist(), "std": self.std.tolist()}


class RandomAffine(Transform):
    """Random rotation, translation and scaling of each image, as a 2x3 affine map per image,
    sampled bilinearly; pixels from outside the image are ``fill``.

    Args:
        degrees: rotation angle drawn uniformly from [-degrees, degrees].
        translate: shift in pixels drawn uniformly from [-translate, translate] on each axis.
        scale: ``(lo, hi)`` zoom factor range, or None for no zoom.
        fill: value for pixels that come from outside the image (0 = background after ToTensor).
    """

    def __init__(self, degrees=0.0, translate=0.0, scale=None, fill=0.0):
        for name, v in (("degrees", degrees), ("translate", translate)):
            if not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0:
                raise ArgumentError(f"RandomAffine: {name} must be a finite number >= 0, got {v!r}")
        if scale is not None:
            lo, hi = scale
            if not (0 < lo <= hi and np.isfinite(hi)):
                raise ArgumentError(f"RandomAffine: scale must be (lo, hi) with 0 < lo <= hi, got {scale!r}")
        self.degrees, self.translate, self.scale, self.fill = float(degrees), float(translate), scale, float(fill)

    def __call__(self, x, rng=None):
        x = np.asarray(x)
        if x.ndim != 4 or x.dtype.kind != "f":
            raise ShapeError(f"RandomAffine: expected a float batch of shape (N, C, H, W), got {x.dtype} {x.shape}")
        rng = backend.get_rng() if rng is None else rng
        n, c, h, w = x.shape
        angle = np.deg2rad(rng.uniform(-self.degrees, self.degrees, n))
        shift = rng.uniform(-self.translate, self.translate, (n, 2))
        zoom = rng.uniform(self.scale[0], self.scale[1], n) if self.scale is not None else np.ones(n)
        # inverse map: output pixel p comes from source  R(-angle) (p - centre - shift) / zoom + centre
        f = x.dtype.type
        cos = (np.cos(angle) / zoom).astype(f)[:, None, None]
        sin = (np.sin(angle) / zoom).astype(f)[:, None, None]
        cy, cx = f((h - 1) / 2), f((w - 1) / 2)
        dy = (np.arange(h, dtype=f) - cy)[None, :, None] - shift[:, 0, None, None].astype(f)  # (N, H, 1)
        dx = (np.arange(w, dtype=f) - cx)[None, None, :] - shift[:, 1, None, None].astype(f)  # (N, 1, W)
        src_y = cos * dy - sin * dx + cy
        src_x = sin * dy + cos * dx + cx
        return _bilinear(x, src_y, src_x, self.fill)

    def describe(self):
        """A JSON-able description of the augmentation's ranges."""
        return {"name": "RandomAffine", "degrees": self.degrees, "translate": self.translate,
                "scale": None if self.scale is None else list(self.scale), "fill": self.fill}


def _bilinear(x, src_y, src_x, fill):
    """Sample ``x`` (N, C, H, W) at fractional source coordinates (N, H, W), ``fill`` outside."""
    n, c, h, w = x.shape
    pw = w + 2
    padded = np.full((n, c, (h + 2) * pw), fill, dtype=x.dtype)  # one ring of fill absorbs the border
    padded.reshape(n, c, h + 2, pw)[:, :, 1:-1, 1:-1] = x
    sy = np.clip(src_y + 1, 0, h + 1)
    sx = np.clip(src_x + 1, 0, w + 1)
    y0 = np.minimum(sy.astype(np.intp), h)  # sy >= 0, so truncation is floor; y0 + 1 stays inside
    x0 = np.minimum(sx.astype(np.intp), w)
    fy = (sy - y0).astype(x.dtype).reshape(n, 1, -1)
    fx = (sx - x0).astype(x.dtype).reshape(n, 1, -1)
    # flat index into `padded` of each output pixel's top-left neighbour, per image and channel
    plane = np.arange(n * c, dtype=np.intp).reshape(n, c, 1) * padded.shape[2]
    corner = (y0 * pw + x0).reshape(n, 1, -1) + plane
    flat = padded.reshape(-1)

    def at(offset):
        return np.take(flat, corner + offset)

    top_left, top_right, bottom_left, bottom_right = at(0), at(1), at(pw), at(pw + 1)
    top = top_left + (top_right - top_left) * fx
    bottom = bottom_left + (bottom_right - bottom_left) * fx
    out = (top + (bottom - top) * fy).reshape(n, c, h, w)
    outside = ((src_y < -1) | (src_y > h) | (src_x < -1) | (src_x > w))[:, None]
    return np.where(outside, np.asarray(fill, x.dtype), out).astype(x.dtype, copy=False)


def normalization_of(transform):
    """The ``(mean, std)`` lists of the last Normalize inside ``transform``, or None."""
    found = None
    stack = [transform]
    while stack:
        t = stack.pop(0)
        if isinstance(t, Compose):
            stack = list(t.transforms) + stack
        elif isinstance(t, Normalize):
            found = (t.mean.tolist(), t.std.tolist())
    return found
