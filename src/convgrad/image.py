"""Operations on raw images (NumPy arrays, PIL images), outside any network.

``downsample`` shrinks a picture by pooling non-overlapping ``factor x factor`` blocks, the way a
pooling layer with ``kernel_size == stride`` would, but on an ``(H, W)`` greyscale or
``(H, W, C)`` colour array: min keeps the dark parts, max the bright parts, avg blurs.
"""
import numpy as np

from .errors import ArgumentError, ShapeError

_REDUCE = {"min": np.min, "max": np.max, "avg": np.mean, "mean": np.mean}


def downsample(img, factor, mode="avg"):
    """Shrink an image by pooling non-overlapping blocks.

    Args:
        img: (H, W) greyscale or (H, W, C) array (or anything ``np.asarray`` takes, e.g. a PIL image).
        factor: block size, an int or (fh, fw). Rows and columns that do not fill a whole block at
            the bottom/right are dropped (like pooling's floor rule).
        mode: ``'min'``, ``'max'`` or ``'avg'`` (``'mean'`` is accepted too).

    Returns:
        (H // fh, W // fw[, C]) array. min and max keep the input dtype; avg gives floats (the
        input's float dtype, float64 for integer images).

    Raises:
        ShapeError: not 2-D or 3-D, or smaller than one block.
        ArgumentError: unknown mode or a non-positive factor.
    """
    arr = np.asarray(img)
    if arr.ndim not in (2, 3):
        raise ShapeError(f"downsample: expected an (H, W) or (H, W, C) image, got shape {arr.shape}")
    if mode not in _REDUCE:
        raise ArgumentError(f"downsample: mode must be 'min', 'max' or 'avg', got {mode!r}")
    fh, fw = (factor, factor) if np.ndim(factor) == 0 else tuple(factor)
    if int(fh) != fh or int(fw) != fw or fh < 1 or fw < 1:
        raise ArgumentError(f"downsample: factor must be a positive int or a pair of them, got {factor!r}")
    fh, fw = int(fh), int(fw)
    h, w = arr.shape[0] // fh, arr.shape[1] // fw
    if h == 0 or w == 0:
        raise ShapeError(f"downsample: image of shape {arr.shape} is smaller than one {fh}x{fw} block")
    blocks = arr[:h * fh, :w * fw].reshape((h, fh, w, fw) + arr.shape[2:])
    if mode in ("avg", "mean") and arr.dtype.kind != "f":
        blocks = blocks.astype(np.float64)
    return _REDUCE[mode](blocks, axis=(1, 3))
