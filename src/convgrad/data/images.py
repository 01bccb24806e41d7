"""Reading pictures: one decoder for the whole package, and MNIST-style digits from photos.

:func:`read_image` is how convgrad decodes every image file (``predict``, image folders):

- the size is checked against :data:`MAX_IMAGE_PIXELS` from the header, before any pixel is
  decoded (a 48 KB PNG can hold 20000x20000 pixels: a decompression bomb);
- the EXIF orientation tag is applied (``ImageOps.exif_transpose``), so a phone photo stored
  sideways is read the way it is displayed;
- 16-bit and 32-bit integer images (PNG/TIFF scans) and float TIFFs are scaled from their own
  minimum..maximum to 0..255 (float images already in [0, 1] are scaled by 255), instead of being
  clipped to {0, 255} by an 8-bit conversion;
- transparency is composited onto a background;
- the result is float32 0..255, ``(H, W)`` grey or ``(H, W, 3)`` RGB.

MNIST digits are white on black, size-normalised to fit a 20x20 box (keeping the aspect ratio) and
placed in a 28x28 field so that their centre of mass is at the centre. ``load_digit`` does the same
to any PNG/JPEG (any size, colour or grey, dark ink on light paper or light on dark):

1. grey levels (transparency composited onto the background);
2. polarity: the border is mostly background, so a light border means dark-on-light -> invert;
3. background removed (the border's median level becomes 0) and contrast stretched to 0..255;
4. crop to the bounding box of the ink, shrink with an area (box) filter so the longer side is
   20 px (every source pixel contributes, so a 3-pixel pen on a 500x500 canvas is not lost), then
   stretch the ink's contrast again so strokes reach full intensity, as in MNIST;
5. paste into 28x28 at the offset that puts the centre of mass at (14, 14).
"""
import os
import threading
import warnings

import numpy as np

from ..errors import FileFormatError
from .mnist import DatasetNotFoundError

MAX_IMAGE_PIXELS = 100_000_000  # 100 M pixels (a 108 MP phone photo is refused: resize it first)
EXIF_ORIENTATION = 0x0112
_OPEN_LOCK = threading.Lock()


class ImageError(FileFormatError):
    """A file could not be read as an image, is too large, or holds no digit."""


def _first_line(exc):
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def open_image(path):
    """Open ``path`` with Pillow (header only) and check its size against :data:`MAX_IMAGE_PIXELS`.

    Pillow's own decompression-bomb check is replaced by this one, which names the size.

    Raises:
        DatasetNotFoundError: no such file.
        ImageError: not an image Pillow can read, or more pixels than the limit.
    """
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DatasetNotFoundError(f"image '{path}' does not exist")
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                img = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"cannot read '{path}' as an image (PNG, JPEG, BMP, WebP, TIFF expected): "
                         f"{_first_line(exc)}") from None
    w, h = img.size
    if w * h > MAX_IMAGE_PIXELS:
        img.close()
        raise ImageError(f"image '{path}' is {w}x{h} = {w * h:,} pixels, above the limit of "
                         f"{MAX_IMAGE_PIXELS:,} pixels (convgrad.data.images.MAX_IMAGE_PIXELS); shrink it first")
    return img


def _high_depth_to_grey(img):
    """16/32-bit integer or float image -> float64 0..255 by its own range (float [0, 1] x 255)."""
    arr = np.asarray(img, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr.mean(axis=2)
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return np.zeros(arr.shape)
    lo, hi = float(finite.min()), float(finite.max())
    arr = np.nan_to_num(arr, nan=lo, posinf=hi, neginf=lo)
    if img.mode == "F" and lo >= 0 and hi <= 1:
        return arr * 255
    return (arr - lo) * (255 / (hi - lo)) if hi > lo else np.zeros(arr.shape)


def _composite(img, channels, background):
    """RGBA / LA / transparent palette -> float array with alpha composited onto ``background``."""
    rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
    alpha = rgba[..., 3:] / 255
    colour = rgba[..., :3] if channels == 3 else np.asarray(img.convert("RGBA").convert("L"),
                                                            dtype=np.float32)[..., None]
    if background == "auto":  # transparent pixels take the colour opposite to the ink they surround
        opaque = alpha[..., 0] > 0.5
        ink_mean = colour[opaque].mean() if opaque.any() else 0.0
        background = 255.0 if ink_mean < 128 else 0.0
    out = colour * alpha + float(background) * (1 - alpha)
    return out[..., 0] if channels == 1 else out


def read_image(path, channels=None, background=255.0, reduce_to=None):
    """Decode an image file into a float32 array with values 0..255.

    Args:
        path: a PNG, JPEG, BMP, WebP, TIFF, GIF (first frame) ... file.
        channels: 1 (grey ``(H, W)``), 3 (RGB ``(H, W, 3)``) or None (3 for colour files, else 1).
        background: grey level transparent pixels are composited onto, or ``"auto"``: the level
            opposite to the ink (for drawings of digits).
        reduce_to: if given, images whose shorter side is at least twice this are first shrunk by
            an integer factor with a box filter (cheap, keeps thin lines), the shorter side
            staying >= ``reduce_to``.

    Returns:
        float32 array ``(H, W)`` or ``(H, W, 3)``, upright (EXIF orientation applied).

    Raises:
        DatasetNotFoundError: no such file.
        ImageError: unreadable, truncated, or larger than :data:`MAX_IMAGE_PIXELS` (checked
            before decoding).

    Example::

        >>> read_image("cat.jpg", channels=3).shape  # doctest: +SKIP
        (480, 640, 3)
    """
    from PIL import ImageOps

    path = os.fspath(path)
    if channels not in (None, 1, 3):
        raise ImageError(f"read_image: channels must be 1, 3 or None, got {channels!r}")
    with open_image(path) as img:
        try:
            img = ImageOps.exif_transpose(img)
            if reduce_to and min(img.size) >= 2 * reduce_to:
                img = img.reduce(min(img.size) // int(reduce_to))
            return _decoded(img, channels, background)
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageError(f"cannot decode '{path}' (truncated or corrupt image?): {_first_line(exc)}") from None


def _decoded(img, channels, background):
    mode = img.mode
    if mode == "P" and "transparency" not in img.info:  # a palette may hold grey levels or colours
        img, mode = img.convert("RGB"), "RGB"
        rgb = np.asarray(img)
        if channels is None and (rgb == rgb[..., :1]).all():
            channels = 1
    colour = mode not in ("1", "L", "LA", "I", "F", "La") and not mode.startswith("I;")
    channels = channels or (3 if colour else 1)
    if mode in ("I", "F") or mode.startswith("I;"):
        grey = _high_depth_to_grey(img).astype(np.float32)
        return grey if channels == 1 else np.repeat(grey[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in img.info):
        return _composite(img, channels, background).astype(np.float32)
    return np.asarray(img.convert("L" if channels == 1 else "RGB"), dtype=np.float32)


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
    # shrinking: an area (box) filter, so every source pixel counts and thin strokes survive;
    # enlarging: bilinear
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    small = np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize((new_w, new_h), resample))
    small = _stretch_ink(np.clip(small, 0, 255))
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


def _stretch_ink(small):
    """Scale the ink so its strokes reach 255, as MNIST's strokes do: the 90th percentile of the
    inked pixels (those above 10% of the peak) becomes 255 (clipped), so a thin stroke that the
    downscaling averaged with the background gets full intensity back."""
    peak = small.max()
    if peak <= 0:
        return small
    inked = small[small > 0.1 * peak]
    reference = max(float(np.percentile(inked, 90)), 1e-6)
    return np.clip(small * (255 / reference), 0, 255)


def load_digit(path, size=28, box=20):
    """Read a PNG/JPEG of one digit and return it MNIST-style: uint8 ``(size, size)``, white on black.

    Raises:
        DatasetNotFoundError: the file does not exist.
        ImageError: the file is not a readable image, or no digit stands out from the background.
    """
    path = os.fspath(path)
    grey = read_image(path, channels=1, background="auto", reduce_to=1000)  # memory only: >= 2000 px sides
    return digit_from_array(grey, size=size, box=box, source=f"'{path}'")

