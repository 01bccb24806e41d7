"""Datasets: arrays of images and labels held as uint8, transformed a batch at a time.

A dataset has ``len(ds)``, ``ds[i] -> (image, label)`` and, for speed, ``ds.get_batch(indices,
rng) -> (images, labels)`` which the :class:`~convgrad.data.DataLoader` prefers when present.
"""
import os

import numpy as np

from ..errors import DTypeError, ShapeError
from .mnist import MNIST_MEAN, MNIST_STD, load_mnist_arrays
from .transforms import Compose, Normalize, RandomAffine, ToTensor, _call

BUNDLED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundled")


class ArrayDataset:
    """Images and integer labels in two arrays of equal length.

    Args:
        images: array ``(N, ...)``, typically uint8 ``(N, H, W)``; kept as given (no float copy).
        targets: integer array ``(N,)``.
        transform: batch transform applied to the images of each batch (see ``transforms``).
    """

    def __init__(self, images, targets, transform=None):
        images, targets = np.asarray(images), np.asarray(targets)
        if targets.ndim != 1 or len(images) != len(targets):
            raise ShapeError(f"ArrayDataset: expected images (N, ...) and targets (N,), got {images.shape} "
                             f"and {targets.shape}")
        if targets.dtype.kind == "f" and not np.all(np.isfinite(targets) & (targets == np.round(targets))):
            bad = targets[~(np.isfinite(targets) & (targets == np.round(targets)))][:3].tolist()
            raise DTypeError(f"ArrayDataset: labels must be integers (class indices), got non-integral values "
                             f"{bad}; convert them to class indices first")
        if targets.dtype.kind not in "iufb":
            raise DTypeError(f"ArrayDataset: labels must be integers (class indices), got dtype {targets.dtype}")
        self.data, self.targets, self.transform = images, targets.astype(np.int64, copy=False), transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} out of range for {len(self)} samples")
        images, labels = self.get_batch(np.array([index % len(self)]))
        return images[0], int(labels[0])

    def get_batch(self, indices, rng=None):
        """``(transformed images, labels)`` of the samples at ``indices``."""
        images = self.data[indices]
        if self.transform is not None:
            images = _call(self.transform, images, rng)
        return images, self.targets[indices]

    def subset(self, n):
        """The first ``n`` samples (same transform): handy for quick tests."""
        return ArrayDataset(self.data[:n], self.targets[:n], self.transform)

    def __repr__(self):
        return f"{type(self).__name__}({len(self)} samples, images {self.data.dtype} {self.data.shape[1:]})"


class MNIST(ArrayDataset):
    """MNIST from a directory holding the standard IDX files.

    ``train=True`` reads ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte``, ``train=False``
    the ``t10k-*`` pair; each may be gzip-compressed (``.gz``). ``root=None`` is the sample bundled
    with convgrad: 5,000 training images (500 per class, sorted by class) and the official 10,000
    test images (see ``data/bundled/ATTRIBUTION.md``).

    Raises:
        DatasetNotFoundError: the directory or a file is missing.
        FileFormatError: a file is not a valid MNIST IDX file.
    """

    def __init__(self, root=None, train=True, transform=None):
        self.root = BUNDLED_DIR if root is None else os.fspath(root)
        self.train = bool(train)
        images, labels = load_mnist_arrays(self.root, self.train)
        super().__init__(images, labels, transform)

    def __repr__(self):
        split = "train" if self.train else "test"
        return f"MNIST({split}, {len(self)} samples, root='{self.root}')"


def mnist_transforms(augment=False, mean=MNIST_MEAN, std=MNIST_STD, degrees=10.0, translate=2.0,
                     scale=(0.9, 1.1)):
    """The usual MNIST pipeline: uint8 -> float [0, 1], optional random affine, normalisation."""
    steps = [ToTensor()]
    if augment:
        steps.append(RandomAffine(degrees=degrees, translate=translate, scale=scale))
    steps.append(Normalize(mean, std))
    return Compose(steps)


def bundled_mnist(train=True, transform=None):
    """The MNIST sample shipped with convgrad (same as ``MNIST(None, train)``)."""
    return MNIST(None, train=train, transform=transform)
