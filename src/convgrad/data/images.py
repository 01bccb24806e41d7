"""Turn a user's picture of a digit into an MNIST-style 28x28 image.

MNIST digits are white on black, size-normalised to fit a 20x20 box (keeping the aspect ratio) and
placed in a 28x28 field so that their centre of mass is at the centre. ``load_digit`` does the same
to any PNG/JPEG (any size, colour or grey, dark ink on light paper or light on dark):

1. grey levels (transparency composited onto the background);
2. polarity: the border is mostly background, so a light border means dark-on-light -> invert;
3. background removed (the border's median level becomes 0) and contrast stretched to 0..255;
4. crop to the bounding box of the ink, resize so the longer side is 20 px;
5. paste into 28x28 at the offset that puts the centre of mass at (14, 14).
"""
import os

import numpy as np

from ..errors import FileFormatError
from .mnist import DatasetNotFoundError


class ImageError(FileFormatError):
    """A file could not be read as an image, or holds no digit."""


def _read_grey(path):
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise DatasetNotFoundError(f"image '{path}' does not exist")
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                alpha = np.asarray(rgba)[..., 3].astype(np.float32) / 255
                grey = np.asarray(rgba.convert("L"), dtype=np.float32)
                if alpha.min() < 1:
                    # transparent pixels take the colour opposite to the ink they surround
                    ink_mean = grey[alpha > 0.5].mean() if (alpha > 0.5).any() else 0.0
                    background = 255.0 if ink_mean < 128 else 0.0
                    grey = grey * alpha + background * (1 - alpha)
                return grey
            return np.asarray(img.convert("L"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"cannot read '{path}' as an image (PNG or JPEG expected): "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _border(grey):
    return np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])


def digit_from_array(grey, size=28, box=20, source="image"):
    """MNIST-style ``(size, size)`` uint8 array from a 2-D grey array (any polarity and size)."""
    grey = np.asarray(grey, dtype=np.float32)
    if grey.ndim != 2 or min(grey.shape) < 1:
        raise ImageError(f"{source}: expected a 2-D grey image, got shape {grey.shape}")
    if np.median(_border(grey)) > 127:
        grey = 255 - grey  # dark ink on light paper -> light ink on dark, like MNIST
    background = np.median(_border(grey))
    ink = np.clip(grey - background, 0, None)
    peak = ink.max()
    if peak < 16:  # nothing stands out from the background by more than ~6% of full scale
        raise ImageError(f"{source}: no digit found (the image is blank or has no contrast)")
    ink = ink * (255 / peak)
    rows = np.flatnonzero(ink.max(axis=1) > 0.1 * 255)
    cols = np.flatnonzero(ink.max(axis=0) > 0.1 * 255)
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return _fit_and_centre(ink, size, box)


def _fit_and_centre(ink, size, box):
    from PIL import Image

    h, w = ink.shape
    scale = box / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR
    small = Image.fromarray(ink.astype(np.float32), mode="F").resize((new_w, new_h), resample)
    small = np.clip(np.asarray(small), 0, 255)
    out = np.zeros((size, size), np.float32)
    mass = small.sum()
    ys, xs = np.indices(small.shape)
    com_y = (ys * small).sum() / mass if mass > 0 else (new_h - 1) / 2
    com_x = (xs * small).sum() / mass if mass > 0 else (new_w - 1) / 2
    top = int(round((size - 1) / 2 - com_y))
    left = int(round((size - 1) / 2 - com_x))
    top = min(max(top, 0), size - new_h)  # keep the whole digit inside the field
    left = min(max(left, 0), size - new_w)
    out[top:top + new_h, left:left + new_w] = small
    return np.round(out).astype(np.uint8)


def load_digit(path, size=28, box=20):
    """Read a PNG/JPEG of one digit and return it MNIST-style: uint8 ``(size, size)``, white on black.

    Raises:
        DatasetNotFoundError: the file does not exist.
        ImageError: the file is not a readable image, or no digit stands out from the background.
    """
    path = os.fspath(path)
    return digit_from_array(_read_grey(path), size=size, box=box, source=f"'{path}'")

