"""torchvision-style transforms with torchvision's per-sample semantics.

    transform = Compose([ToTensor(), Normalize((0.1307,), (0.3081,)), Lambda(lambda x: x.flatten())])
    x = transform(pil_image)        # one image in, one (784,) tensor out

Each transform takes ONE sample: a PIL image, a NumPy image ``(H, W)`` / ``(H, W, C)``, or a
tensor ``(C, H, W)``. Geometric transforms on PIL images use Pillow directly (as torchvision
does); on tensors they work per channel through Pillow's float images. Randomness comes from
convgrad's generator, so ``convgrad.manual_seed`` fixes it.

A batch where one image is expected is refused where it happens (``ToTensor`` of an
``(N, 28, 28)`` array, a geometric transform of a 4-D tensor) instead of being silently
treated as one big image. For transforms applied to whole batches at once (faster, used by
``convgrad train``) see ``convgrad.data.transforms``.
"""
import numbers

import numpy as np

from .. import backend
from ..errors import ArgumentError, ArgumentTypeError, ShapeError
from ..tensor import Tensor


class InterpolationMode:
    """torchvision's interpolation names (strings here)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    LANCZOS = "lanczos"


def _pil_resample(mode):
    from PIL import Image

    table = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "box": Image.BOX,
             "lanczos": Image.LANCZOS}
    if isinstance(mode, int):
        return mode
    if mode not in table:
        raise ArgumentError(f"interpolation must be one of {sorted(table)}, got {mode!r}")
    return table[mode]


def _is_pil(x):
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return False
    return isinstance(x, Image.Image)


def _one_image(x, op):
    """Refuse batches and non-images where one image is expected; return the kind of input."""
    if _is_pil(x):
        return "pil"
    if isinstance(x, Tensor):
        if x.ndim == 4:
            raise ShapeError(f"{op}: got a batch of shape {tuple(x.shape)}; convgrad.vision transforms take one "
                             f"image (C, H, W) at a time (the DataLoader batches after them)")
        if x.ndim not in (2, 3):
            raise ShapeError(f"{op}: expected an image tensor (C, H, W), got shape {tuple(x.shape)}")
        return "tensor"
    if isinstance(x, np.ndarray):
        return "array"
    raise ArgumentTypeError(f"{op}: expected a PIL image, a NumPy image or a tensor (C, H, W), got {type(x).__name__}")


def _size_hw(image):
    """(height, width) of a PIL image or a (..., H, W) tensor."""
    if _is_pil(image):
        return image.size[1], image.size[0]
    return tuple(image.shape[-2:])


def _per_channel(x, fn):
    """Apply a PIL operation ``fn(float_image) -> float_image`` to each channel of a (C, H, W) tensor."""
    from PIL import Image

    arr = x._data if isinstance(x, Tensor) else np.asarray(x)
    squeeze = arr.ndim == 2
    chans = arr[None] if squeeze else arr
    out = [np.asarray(fn(Image.fromarray(np.ascontiguousarray(c, dtype=np.float32), mode="F")), np.float32)
           for c in chans]
    res = np.stack(out).astype(arr.dtype if arr.dtype.kind == "f" else np.float32, copy=False)
    return Tensor._wrap(res[0] if squeeze else res)


class Compose:
    """Apply transforms one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        return "Compose(\n" + "".join(f"    {t!r}\n" for t in self.transforms) + ")"


class ToTensor:
    """A PIL image or NumPy image ``(H, W[, C])`` -> float32 tensor ``(C, H, W)``; uint8 is scaled
    to [0, 1] (torchvision's ToTensor).

    Raises:
        ShapeError: for a 4-D array or one whose last axis is too long to be channels (a batch
            of images, ``(N, H, W)``, given where one image is expected).
    """

    def __call__(self, pic):
        kind = _one_image(pic, "ToTensor")
        if kind == "tensor":
            raise ArgumentTypeError("ToTensor: the input is already a tensor")
        if kind == "pil":
            mode = pic.mode
            arr = np.asarray(pic)
            if mode == "1":
                arr = arr.astype(np.uint8) * 255
            elif mode in ("I", "I;16"):
                arr = arr.astype(np.float32)  # kept as numbers, like torchvision (not scaled)
        else:
            arr = pic
            if arr.ndim == 4 or (arr.ndim == 3 and arr.shape[2] > 4 and arr.shape[0] > 4):
                raise ShapeError(f"ToTensor: got an array of shape {arr.shape}, which looks like a batch; it takes one "
                                 f"image (H, W) or (H, W, C) (the DataLoader batches after the transforms)")
            if arr.ndim not in (2, 3):
                raise ShapeError(f"ToTensor: expected an image (H, W) or (H, W, C), got shape {arr.shape}")
        if arr.ndim == 2:
            arr = arr[:, :, None]
        chw = np.ascontiguousarray(np.transpose(arr, (2, 0, 1)))
        if chw.dtype == np.uint8:
            return Tensor._wrap(chw.astype(np.float32) / np.float32(255))
        return Tensor._wrap(chw.astype(backend.get_default_dtype() if chw.dtype.kind != "f" else chw.dtype,
                                       copy=False))

    def __repr__(self):
        return "ToTensor()"


class PILToTensor:
    """A PIL image -> uint8 tensor ``(C, H, W)`` without scaling."""

    def __call__(self, pic):
        arr = np.asarray(pic)
        arr = arr[:, :, None] if arr.ndim == 2 else arr
        return Tensor._wrap(np.ascontiguousarray(np.transpose(arr, (2, 0, 1))))


class ToPILImage:
    """A tensor ``(C, H, W)`` (floats in [0, 1] or uint8) or an array ``(H, W[, C])`` -> PIL image."""

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        from PIL import Image

        if isinstance(pic, Tensor):
            _one_image(pic, "ToPILImage")
            arr = pic._data
            arr = arr[None] if arr.ndim == 2 else arr
            arr = np.transpose(arr, (1, 2, 0))
        else:
            arr = np.asarray(pic)
        if arr.dtype.kind == "f":
            arr = np.clip(arr * 255 + 0.5, 0, 255).astype(np.uint8)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        return Image.fromarray(arr, mode=self.mode)


class Normalize:
    """``(x - mean) / std`` per channel of a tensor ``(..., C, H, W)`` (torchvision's Normalize)."""

    def __init__(self, mean, std, inplace=False):
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if (self.std == 0).any():
            raise ArgumentError(f"Normalize: std must not be 0, got {self.std.tolist()}")
        self.inplace = inplace

    def __call__(self, x):
        if not isinstance(x, Tensor):
            raise ArgumentTypeError(f"Normalize: expected a tensor (C, H, W) (put ToTensor() first), got "
                                    f"{type(x).__name__}")
        if x.ndim < 3:
            raise ShapeError(f"Normalize: expected a tensor image (C, H, W), got shape {tuple(x.shape)}")
        c = x.shape[-3]
        if len(self.mean) not in (1, c) or len(self.std) not in (1, c):
            raise ShapeError(f"Normalize: {len(self.mean)} means / {len(self.std)} stds for an image of {c} channels")
        mean = self.mean.astype(x.dtype).reshape(-1, 1, 1)
        std = self.std.astype(x.dtype).reshape(-1, 1, 1)
        return Tensor._wrap(((x._data - mean) / std).astype(x.dtype, copy=False))

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Lambda:
    """Apply a function of your own to each sample."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise ArgumentTypeError(f"Lambda: expected a callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, x):
        return self.lambd(x)

    def __repr__(self):
        return "Lambda()"


def _output_size(size, h, w):
    """torchvision's Resize rule: an int matches the smaller edge (aspect kept), a pair is (h, w)."""
    if isinstance(size, numbers.Integral) or (isinstance(size, (list, tuple)) and len(size) == 1):
        s = int(size if isinstance(size, numbers.Integral) else size[0])
        if h <= w:
            return s, max(1, int(s * w / h))
        return max(1, int(s * h / w)), s
    oh, ow = size
    return int(oh), int(ow)


class Resize:
    """Resize to ``size`` (an int: the smaller edge, keeping the aspect ratio; or ``(h, w)``)."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        self.size, self.interpolation = size, interpolation

    def __call__(self, img):
        kind = _one_image(img, "Resize")
        h, w = _size_hw(img) if kind != "array" else img.shape[:2]
        oh, ow = _output_size(self.size, h, w)
        resample = _pil_resample(self.interpolation)
        if kind == "pil":
            return img.resize((ow, oh), resample)
        if kind == "array":
            from PIL import Image
            return np.asarray(Image.fromarray(img).resize((ow, oh), resample))
        return _per_channel(img, lambda c: c.resize((ow, oh), resample))

    def __repr__(self):
        return f"Resize(size={self.size}, interpolation={self.interpolation})"


def _pair(size, name):
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    size = tuple(int(s) for s in size)
    if len(size) == 1:
        return size * 2
    if len(size) != 2:
        raise ArgumentError(f"{name}: size must be an int or (h, w), got {size}")
    return size


def _pad(img, left, top, right, bottom, fill=0, padding_mode="constant"):
    """Pad a PIL image or a (C, H, W) tensor on each side."""
    modes = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}
    if padding_mode not in modes:
        raise ArgumentError(f"Pad: padding_mode must be one of {sorted(modes)}, got {padding_mode!r}")
    kwargs = {"constant_values": fill} if padding_mode == "constant" else {}
    if _is_pil(img):
        from PIL import Image

        if padding_mode == "constant":
            from PIL import ImageOps
            return ImageOps.expand(img, (left, top, right, bottom), fill=fill)
        arr = np.asarray(img)
        widths = ((top, bottom), (left, right)) + (((0, 0),) if arr.ndim == 3 else ())
        return Image.fromarray(np.pad(arr, widths, mode=modes[padding_mode]), mode=img.mode)
    arr = img._data
    widths = ((0, 0),) * (arr.ndim - 2) + ((top, bottom), (left, right))
    return Tensor._wrap(np.pad(arr, widths, mode=modes[padding_mode], **kwargs))


def _crop(img, top, left, height, width):
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    return Tensor._wrap(np.ascontiguousarray(img._data[..., top:top + height, left:left + width]))


class CenterCrop:
    """The central ``size`` region (padded with zeros first where the image is smaller)."""

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop")

    def __call__(self, img):
        _one_image(img, "CenterCrop")
        img = _as_image(img)
        h, w = _size_hw(img)
        th, tw = self.size
        if th > h or tw > w:
            pl, pt = max(tw - w, 0) // 2, max(th - h, 0) // 2
            img = _pad(img, pl, pt, max(tw - w, 0) - pl, max(th - h, 0) - pt)
            h, w = _size_hw(img)
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        return _crop(img, top, left, th, tw)

    def __repr__(self):
        return f"CenterCrop(size={self.size})"


def _as_image(img):
    """NumPy images become tensors (C, H, W) for the geometric transforms."""
    if isinstance(img, np.ndarray):
        return ToTensor()(img) if img.dtype == np.uint8 else Tensor._wrap(
            np.transpose(img[:, :, None] if img.ndim == 2 else img, (2, 0, 1)).copy())
    return img


def _padding4(padding):
    if isinstance(padding, numbers.Integral):
        return (int(padding),) * 4
    padding = tuple(int(p) for p in padding)
    if len(padding) == 2:
        return padding[0], padding[1], padding[0], padding[1]
    if len(padding) == 4:
        return padding
    raise ArgumentError(f"Pad: padding must be an int or a tuple of 2 or 4 ints, got {padding}")


class Pad:
    """Pad each side: ``padding`` is an int, ``(left/right, top/bottom)`` or ``(left, top, right, bottom)``."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self.padding, self.fill, self.padding_mode = _padding4(padding), fill, padding_mode

    def __call__(self, img):
        _one_image(img, "Pad")
        return _pad(_as_image(img), *self.padding, fill=self.fill, padding_mode=self.padding_mode)

    def __repr__(self):
        return f"Pad(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode})"


class RandomCrop:
    """A random ``size`` region, after optional ``padding`` (and padding up to ``size`` with
    ``pad_if_needed``)."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _pair(size, "RandomCrop")
        self.padding = None if padding is None else _padding4(padding)
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    def __call__(self, img):
        _one_image(img, "RandomCrop")
        img = _as_image(img)
        if self.padding is not None:
            img = _pad(img, *self.padding, fill=self.fill, padding_mode=self.padding_mode)
        h, w = _size_hw(img)
        th, tw = self.size
        if self.pad_if_needed and (h < th or w < tw):
            dw, dh = max(tw - w, 0), max(th - h, 0)
            img = _pad(img, dw, dh, dw, dh, fill=self.fill, padding_mode=self.padding_mode)
            h, w = _size_hw(img)
        if h < th or w < tw:
            raise ShapeError(f"RandomCrop: crop size {(th, tw)} is larger than the image {(h, w)}")
        rng = backend.get_rng()
        top, left = int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1))
        return _crop(img, top, left, th, tw)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p``."""

    def __init__(self, p=0.5):
        self.p = float(p)

    def __call__(self, img):
        _one_image(img, type(self).__name__)
        img = _as_image(img)
        if backend.get_rng().random() >= self.p:
            return img
        return self._flip(img)

    @staticmethod
    def _flip(img):
        if _is_pil(img):
            from PIL import Image
            return img.transpose(Image.FLIP_LEFT_RIGHT)
        return Tensor._wrap(np.ascontiguousarray(img._data[..., ::-1]))

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``."""

    @staticmethod
    def _flip(img):
        if _is_pil(img):
            from PIL import Image
            return img.transpose(Image.FLIP_TOP_BOTTOM)
        return Tensor._wrap(np.ascontiguousarray(img._data[..., ::-1, :]))


class RandomRotation:
    """Rotate by an angle drawn uniformly from ``degrees`` (a number d means (-d, d)), counter-clockwise."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=0):
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ArgumentError(f"RandomRotation: degrees must be non-negative, got {degrees}")
            degrees = (-float(degrees), float(degrees))
        self.degrees = tuple(float(d) for d in degrees)
        self.interpolation, self.expand, self.center, self.fill = interpolation, expand, center, fill

    def __call__(self, img):
        _one_image(img, "RandomRotation")
        img = _as_image(img)
        angle = float(backend.get_rng().uniform(*self.degrees))
        resample = _pil_resample(self.interpolation)
        if _is_pil(img):
            return img.rotate(angle, resample=resample, expand=self.expand, center=self.center, fillcolor=self.fill)
        return _per_channel(img, lambda c: c.rotate(angle, resample=resample, expand=self.expand,
                                                    center=self.center, fillcolor=float(self.fill)))

    def __repr__(self):
        return f"RandomRotation(degrees={self.degrees})"


class Grayscale:
    """To grey levels (ITU-R 601-2 luma, as Pillow and torchvision), with 1 or 3 output channels."""

    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ArgumentError(f"Grayscale: num_output_channels must be 1 or 3, got {num_output_channels}")
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        _one_image(img, "Grayscale")
        img = _as_image(img)
        if _is_pil(img):
            grey = img.convert("L")
            return grey if self.num_output_channels == 1 else grey.convert("RGB")
        arr = img._data
        if arr.shape[-3] == 1:
            grey = arr
        elif arr.shape[-3] == 3:
            grey = (0.299 * arr[..., 0:1, :, :] + 0.587 * arr[..., 1:2, :, :] + 0.114 * arr[..., 2:3, :, :])
            grey = grey.astype(arr.dtype, copy=False)
        else:
            raise ShapeError(f"Grayscale: expected 1 or 3 channels, got {arr.shape[-3]}")
        return Tensor._wrap(np.repeat(grey, self.num_output_channels, axis=-3))

    def __repr__(self):
        return f"Grayscale(num_output_channels={self.num_output_channels})"


__all__ = ["Compose", "ToTensor", "PILToTensor", "ToPILImage", "Normalize", "Lambda", "Resize", "CenterCrop",
           "RandomCrop", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation", "Grayscale", "Pad",
           "InterpolationMode"]
