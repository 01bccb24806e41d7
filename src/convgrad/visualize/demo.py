"""The lecture's classical pictures on any image: the Sobel pair and the gradient magnitude, a
Gabor bank, and max / min / average downsampling side by side.

    pic = filters_demo("cat.jpg", path="demo.png")
    pic.data["sobel_x"], pic.data["magnitude"], pic.data["gabor"], pic.data["downsampled"]["max"]

The filters are :mod:`convgrad.filters` kernels run as fixed ``Conv2d`` layers (cross-correlation,
'same' size by zero padding) on the grey image scaled to [0, 1]; the downsampling is
:func:`convgrad.image.downsample` on the image as it is (colour kept).
"""
import math
import os

import numpy as np

from .. import filters as classic
from ..errors import ArgumentError
from ..image import downsample
from ..tensor import Tensor, no_grad
from .common import finish, hide_ticks, new_figure, symmetric_limit

MAX_SIDE = 256          # larger images are shrunk first (the pictures are small anyway)
GABOR_ANGLES = 4


def read_image(path, max_side=MAX_SIDE):
    """``(H, W) or (H, W, 3)`` float64 array in [0, 1] from an image file, the longer side at most ``max_side``.

    Raises:
        DatasetNotFoundError: no such file. ImageError: not a readable image.
    """
    from PIL import Image, UnidentifiedImageError

    from ..data.images import ImageError
    from ..data.mnist import DatasetNotFoundError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DatasetNotFoundError(f"image '{path}' does not exist")
    try:
        with Image.open(path) as img:
            img.load()
            img = img.convert("L" if img.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"cannot read '{path}' as an image (PNG or JPEG expected): "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    scale = max_side / max(img.size)
    if scale < 1:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.LANCZOS)
    return np.asarray(img, dtype=np.float64) / 255.0


def _grey(image):
    return image if image.ndim == 2 else image @ np.array([0.299, 0.587, 0.114])  # ITU-R 601 luma


def _correlate(grey, kernels):
    """Each kernel over the grey image, 'same' size: (n, H, W)."""
    size = kernels.shape[-1]
    layer = classic.as_conv2d(kernels, in_channels=1, padding=size // 2, dtype="float64")
    with no_grad():
        return layer(Tensor(grey[None, None])).numpy()[0]


def filters_demo(image, path=None, factor=4, image_name=None, title=None):
    """The Sobel pair and magnitude, a 4-angle Gabor bank, and 3 downsamplings of one image.

    Args:
        image: an image file path, or an (H, W) / (H, W, 3) array with values in [0, 1].
        path: PNG to write, or None.
        factor: downsampling block size.
        image_name: how the title names the image (default: the file name).

    Returns:
        Picture with ``data = {"image", "grey", "sobel_x", "sobel_y", "magnitude", "gabor" (4, H, W),
        "gabor_angles" (edge angles in degrees), "downsampled" {"max", "min", "avg"}}``.

    Raises:
        DatasetNotFoundError: the file is missing.
        ImageError: the file is not a readable image.
        ArgumentError: a bad factor or an image smaller than one block.
    """
    if isinstance(image, (str, os.PathLike)):
        image_name = image_name or os.path.basename(os.fspath(image))
        image = read_image(image)
    image = np.asarray(image, dtype=np.float64)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ArgumentError(f"filters_demo: expected an (H, W) or (H, W, 3) image, got shape {image.shape}")
    image_name = image_name or "image"
    grey = _grey(image)
    horizontal, vertical = classic.sobel()
    sobel_x, sobel_y = _correlate(grey, np.stack([vertical, horizontal]))
    magnitude = np.hypot(sobel_x, sobel_y)
    side = max(7, 2 * (min(grey.shape) // 40) + 1)  # wavelength grows with the image
    lambd = max(4.0, side / 1.5)
    bank = classic.gabor_bank(side, sigma=lambd / 2, lambd=lambd, n_orientations=GABOR_ANGLES, gamma=0.6)
    gabor = _correlate(grey, bank)
    angles = [(90 - math.degrees(k * math.pi / GABOR_ANGLES)) % 180 for k in range(GABOR_ANGLES)]
    downsampled = {mode: downsample(image, factor, mode) for mode in ("max", "min", "avg")}
    data = {"image": image, "grey": grey, "sobel_x": sobel_x, "sobel_y": sobel_y, "magnitude": magnitude,
            "gabor": gabor, "gabor_angles": angles, "downsampled": downsampled}
    h, w = grey.shape
    title = title or f"classical filters on {image_name} ({w}x{h}): Sobel pair, Gabor bank, {factor}x{factor} pooling"
    fig = _draw(data, title, factor, side, lambd)
    return finish(fig, data, title, path)


def _draw(data, title, factor, side, lambd):
    h, w = data["grey"].shape
    cell = 2.3
    fig = new_figure(4 * cell + 0.8, 3 * cell * max(0.6, h / w) + 1.4)
    axes = fig.subplots(3, 4)
    colour = None if data["image"].ndim == 3 else "gray"

    def show(ax, values, label, cmap, symmetric=False, bar_label=None):
        hide_ticks(ax)
        ax.set_title(label, fontsize=8.5)
        if symmetric:
            limit = symmetric_limit(values)
            image = ax.imshow(values, cmap=cmap, vmin=-limit, vmax=limit)
        elif cmap == "magma":
            image = ax.imshow(values, cmap=cmap, vmin=0)
        else:  # the image itself, grey levels or colour in [0, 1]
            image = ax.imshow(values, cmap=cmap, vmin=0, vmax=1)
        if bar_label:
            bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
            bar.ax.tick_params(labelsize=6)
            bar.set_label(bar_label, fontsize=6.5)

    show(axes[0, 0], data["image"], "input", colour, bar_label=None if colour is None else "grey level")
    show(axes[0, 1], data["sobel_x"], "Sobel x: vertical edges", "RdBu_r", True, "response")
    show(axes[0, 2], data["sobel_y"], "Sobel y: horizontal edges", "RdBu_r", True, "response")
    show(axes[0, 3], data["magnitude"], "gradient magnitude\nsqrt(x^2 + y^2)", "magma", bar_label="magnitude")
    for k in range(GABOR_ANGLES):
        show(axes[1, k], data["gabor"][k], f"Gabor, edges at {data['gabor_angles'][k]:.0f} deg\n"
             f"({side}x{side}, wavelength {lambd:.0f} px)", "RdBu_r", True, "response")
    show(axes[2, 0], data["image"], f"input {w}x{h}", colour)
    for ax, mode in zip(axes[2, 1:], ("max", "min", "avg")):
        small = data["downsampled"][mode]
        show(ax, small, f"{mode} pooling {factor}x{factor} -> {small.shape[1]}x{small.shape[0]}", colour)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
