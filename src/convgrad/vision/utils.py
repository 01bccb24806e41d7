"""``make_grid`` and ``save_image``, as in torchvision.utils."""
import os

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError, ShapeError
from ..tensor import Tensor


def _as_batch(tensor):
    if isinstance(tensor, (list, tuple)):
        arrays = [t._data if isinstance(t, Tensor) else np.asarray(t) for t in tensor]
        return np.stack(arrays)
    if not isinstance(tensor, Tensor):
        raise ArgumentTypeError(f"make_grid: expected a tensor or a list of tensors, got {type(tensor).__name__}")
    arr = tensor._data
    if arr.ndim == 2:
        return arr[None, None]
    if arr.ndim == 3:
        return arr[None] if arr.shape[0] in (1, 3) else arr[:, None]
    if arr.ndim == 4:
        return arr
    raise ShapeError(f"make_grid: expected images (B, C, H, W), (C, H, W) or (H, W), got shape {arr.shape}")


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """Tile a batch of images ``(B, C, H, W)`` into one image ``(3, H', W')`` (``nrow`` per row).

    Args:
        tensor: images (a tensor or a list of ``(C, H, W)`` tensors); one-channel images become
            three grey channels, as in torchvision.
        nrow: images per row.
        padding: pixels between images (filled with ``pad_value``).
        normalize: shift and scale to [0, 1] by ``value_range`` (default the min and max), per
            image with ``scale_each``.

    Returns:
        A float tensor ``(3, H', W')`` (or ``(C, H', W')`` for C other than 1).
    """
    batch = np.asarray(_as_batch(tensor), dtype=np.float32).copy()
    if batch.shape[1] == 1:
        batch = np.repeat(batch, 3, axis=1)
    if normalize:
        def scale(x, lo, hi):
            np.clip(x, lo, hi, out=x)
            x -= lo
            x /= max(hi - lo, 1e-5)
        if scale_each:
            for img in batch:
                scale(img, *(value_range or (float(img.min()), float(img.max()))))
        else:
            scale(batch, *(value_range or (float(batch.min()), float(batch.max()))))
    b, c, h, w = batch.shape
    if b == 1 and not padding:
        return Tensor._wrap(batch[0])
    ncol = min(int(nrow), b)
    nrows = -(-b // ncol)
    hh, ww = h + padding, w + padding
    grid = np.full((c, nrows * hh + padding, ncol * ww + padding), pad_value, np.float32)
    for k in range(b):
        r, q = divmod(k, ncol)
        grid[:, r * hh + padding:r * hh + padding + h, q * ww + padding:q * ww + padding + w] = batch[k]
    return Tensor._wrap(grid)


def save_image(tensor, fp, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0,
               format=None):
    """Write images (values in [0, 1]) to a PNG/JPEG file as one :func:`make_grid` picture.

    Raises:
        ArgumentError: if ``fp`` is a directory.
    """
    from PIL import Image

    if isinstance(fp, (str, os.PathLike)) and os.path.isdir(fp):
        raise ArgumentError(f"save_image: '{fp}' is a directory; give a file name such as '{os.path.join(fp, 'x.png')}'")
    grid = make_grid(tensor, nrow=nrow, padding=padding, normalize=normalize, value_range=value_range,
                     scale_each=scale_each, pad_value=pad_value)._data
    image = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    if image.shape[2] == 1:
        image = image[:, :, 0]
    if isinstance(fp, (str, os.PathLike)):
        parent = os.path.dirname(os.path.abspath(fp))
        if not os.path.isdir(parent):
            raise ArgumentError(f"save_image: the directory '{parent}' does not exist")
    Image.fromarray(image).save(fp, format=format)
