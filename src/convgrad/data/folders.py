"""Folders of images, one subfolder per class (torchvision's ``ImageFolder`` layout)::

    root/cat/001.jpg
    root/cat/002.png
    root/dog/a.webp

Class names are the subfolder names, sorted; class ``i`` is the ``i``-th name. Files are found
by extension (PNG, JPEG, BMP, WebP, TIFF, GIF; hidden files and other files are ignored) and
decoded with :func:`convgrad.data.images.read_image` (EXIF orientation, 16-bit scans, size limit).

Every image is brought to ``image_size`` by **resize then centre crop**: scaled (keeping its
aspect ratio, with an anti-aliasing filter) so that it covers the target, then the centre cut
out, as torchvision's ``Resize`` + ``CenterCrop`` do. Nothing is padded; the borders of an image
of another aspect ratio are cut off.

Images are decoded lazily, a batch at a time, and kept in a least-recently-used cache bounded in
bytes (``cache_bytes``), so a folder larger than memory trains (each epoch reads the files the
cache no longer holds). The folder is scanned once at construction: every file is opened and
decoded once there, so unreadable files are found before training starts; they are skipped and
listed in ``ds.skipped`` (or raise with ``strict=True``).
"""
import os
from collections import OrderedDict

import numpy as np

from ..errors import ArgumentError
from .images import ImageError, open_image, read_image
from .mnist import DatasetNotFoundError
from .transforms import ToTensor, _call

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")
GREY_MODES = ("1", "L", "LA", "La", "I", "F")
DEFAULT_CACHE_BYTES = 256 * 2 ** 20


class EmptyClassError(DatasetNotFoundError):
    """A class folder holds no (readable) image."""


def find_classes(root):
    """Sorted names of the subfolders of ``root`` (hidden ones skipped)."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DatasetNotFoundError(f"image folder '{root}' does not exist or is not a directory")
    return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))


def list_images(folder):
    """Sorted paths of the image files directly in ``folder`` and its subfolders."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        paths += [os.path.join(dirpath, f) for f in sorted(filenames)
                  if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)]
    return paths


def _probe(path):
    """``(width, height, colour)`` of an image file after EXIF rotation; decodes it fully once
    (so truncated files are found now, not in the middle of an epoch)."""
    with open_image(path) as img:
        try:
            orientation = img.getexif().get(0x0112, 1)
            img.load()
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageError(f"cannot decode '{path}' (truncated or corrupt image?): "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        w, h = img.size
        colour = img.mode not in GREY_MODES and not img.mode.startswith("I;")
    return (h, w, colour) if orientation in (5, 6, 7, 8) else (w, h, colour)


def resize_crop(image, size):
    """Resize a float 0..255 ``(H, W)`` or ``(H, W, 3)`` array to cover ``size = (h, w)`` keeping
    its aspect ratio, then cut out the centre; returns uint8."""
    from PIL import Image

    th, tw = size
    arr = np.clip(np.round(image), 0, 255).astype(np.uint8)
    h, w = arr.shape[:2]
    scale = max(th / h, tw / w)
    nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
    if (nh, nw) != (h, w):
        arr = np.asarray(Image.fromarray(arr).resize((nw, nh), Image.Resampling.BILINEAR, reducing_gap=2.0))
    top, left = (nh - th) // 2, (nw - tw) // 2
    return arr[top:top + th, left:left + tw]


class ImageFolder:
    """Images in class subfolders, decoded lazily with a bounded cache.

    Args:
        root: the folder holding one subfolder per class.
        image_size: ``(height, width)`` or one int for square images; None: the images' own size
            when they all share one (up to 256 px), else a square of the median shorter side
            (at most 128 px); the choice is in ``ds.size_note``.
        channels: 1 (grey) or 3 (RGB); None: 3 if any image is in colour, else 1.
        transform: batch transform applied to the uint8 batch (default ``ToTensor()``:
            float32 ``(N, C, H, W)`` in [0, 1]).
        classes: the class names to use (e.g. the training folder's, for a test folder); a
            subfolder not in the list is an error, a listed class without a subfolder is allowed.
        strict: an unreadable file raises instead of being skipped.
        cache_bytes: bound of the decoded-image cache.

    Attributes:
        samples: list of ``(path, class index)``; targets: int64 array; classes: list of str;
        skipped: list of ``(path, reason)`` of unreadable files; image_size, channels.

    Raises:
        DatasetNotFoundError: no such folder, no class subfolders, or (EmptyClassError) a class
            folder with no image or only unreadable ones.
        ImageError: with ``strict``, the first unreadable file.

    Example::

        >>> ds = ImageFolder("pets", image_size=64, channels=3)  # doctest: +SKIP
        >>> images, labels = ds.get_batch(np.arange(8))  # float32 (8, 3, 64, 64), int64 (8,)  # doctest: +SKIP
    """

    def __init__(self, root, image_size=None, channels=None, transform=None, classes=None, strict=False,
                 cache_bytes=DEFAULT_CACHE_BYTES):
        self.root = os.fspath(root)
        found = find_classes(self.root)
        if not found:
            raise DatasetNotFoundError(f"image folder '{self.root}' has no class subfolders (expected "
                                       f"root/<class>/<image files>)")
        if classes is not None:
            unknown = [c for c in found if c not in classes]
            if unknown:
                raise DatasetNotFoundError(f"image folder '{self.root}' has classes {unknown} that the training "
                                           f"data does not have (its classes: {list(classes)})")
        self.classes = list(classes) if classes is not None else found
        self.samples, self.skipped, probes = [], [], []
        for name in found:
            self._scan_class(name, strict, probes)
        self.targets = np.array([t for _, t in self.samples], dtype=np.int64)
        if channels not in (None, 1, 3):
            raise ArgumentError(f"ImageFolder: channels must be 1 or 3, got {channels!r}")
        self.channels = channels or (3 if any(c for _, _, c in probes) else 1)
        self.image_size, self.size_note = _choose_size(image_size, probes)
        self.transform = ToTensor() if transform is None else transform
        self.cache_bytes = int(cache_bytes)
        self._cache, self._cached_bytes = OrderedDict(), 0

    def _scan_class(self, name, strict, probes):
        folder = os.path.join(self.root, name)
        paths = list_images(folder)
        if not paths:
            raise EmptyClassError(f"class folder '{folder}' holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        good = 0
        for path in paths:
            try:
                probes.append(_probe(path))
            except ImageError as exc:
                if strict:
                    raise
                self.skipped.append((path, str(exc)))
                continue
            self.samples.append((path, self.classes.index(name)))
            good += 1
        if good == 0:
            raise EmptyClassError(f"class folder '{folder}' holds no readable image ({len(paths)} unreadable, "
                                  f"e.g. '{paths[0]}')")

    def __len__(self):
        return len(self.samples)

    @property
    def input_shape(self):
        """The shape of one image, ``(channels, height, width)``."""
        return (self.channels,) + tuple(self.image_size)

    def load(self, index):
        """The uint8 image of sample ``index`` after resize + crop (cached)."""
        index = int(index)
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        image = resize_crop(read_image(self.samples[index][0], channels=self.channels), self.image_size)
        self._cache[index] = image
        self._cached_bytes += image.nbytes
        while self._cached_bytes > self.cache_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached_bytes -= old.nbytes
        return image

    def get_batch(self, indices, rng=None):
        """``(transformed images, labels)`` of the samples at ``indices``."""
        indices = np.asarray(indices, dtype=np.intp).reshape(-1)
        batch = np.stack([self.load(i) for i in indices])
        return _call(self.transform, batch, rng), self.targets[indices]

    def __getitem__(self, index):
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"ImageFolder: index {index} out of range for {len(self)} samples")
        images, labels = self.get_batch([index % len(self)])
        return images[0], int(labels[0])

    def subset(self, indices):
        """A view of the samples at ``indices`` sharing this folder's decoding settings and cache."""
        view = object.__new__(ImageFolder)
        view.__dict__.update(self.__dict__)
        indices = np.asarray(indices, dtype=np.intp)
        view.samples = [self.samples[i] for i in indices]
        view.targets = self.targets[indices]
        view._cache, view._cached_bytes = OrderedDict(), 0
        return view

    def __repr__(self):
        h, w = self.image_size
        return (f"ImageFolder('{self.root}', {len(self)} images, {len(self.classes)} classes, {h}x{w}, "
                f"{self.channels} channel(s))")


def _choose_size(image_size, probes):
    """``((h, w), note)``: the given size, or one chosen from the scanned sizes (note says which)."""
    if image_size is not None:
        size = (image_size, image_size) if isinstance(image_size, (int, np.integer)) else tuple(image_size)
        if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in size):
            raise ArgumentError(f"image_size must be a positive int or (height, width), got {image_size!r}")
        return (int(size[0]), int(size[1])), None
    if not probes:
        return (1, 1), None
    sizes = {(h, w) for w, h, _ in probes}
    if len(sizes) == 1 and max(next(iter(sizes))) <= 256:
        return next(iter(sizes)), None
    side = int(min(128, np.median([min(w, h) for w, h, _ in probes])))
    lo, hi = min(sizes), max(sizes)
    why = "mixed sizes" if len(sizes) > 1 else "large images"
    return (side, side), (f"{why} ({lo[1]}x{lo[0]} to {hi[1]}x{hi[0]}): resized to {side}x{side} "
                          f"(median shorter side, at most 128; pass image_size to choose)")
