"""Which model and which images: a checkpoint, the collection it encodes, and a query image.

A checkpoint records its ``preprocessing`` (``input_size``, ``mean``, ``std``, ``kind``); the
collection is read and normalised with it, so the codes are those the model was trained on.
``data=None`` is the bundled MNIST sample (``split="test"``: the 10,000 official test images in
their order; ``"train"``: the 5,000 bundled training images); a directory is read as MNIST IDX
files (``train-*`` / ``t10k-*``).
"""
import os

import numpy as np

from ..data import MNIST, load_digit
from ..data.transforms import Compose, Normalize, ToTensor
from ..errors import ArgumentError
from ..io.checkpoint import load_checkpoint
from .embed import EmbeddingError, check_fits

SPLITS = ("test", "train")


def load_model(path):
    """``(model, preprocessing, name)`` of the checkpoint at ``path``, in eval mode.

    Raises:
        CheckpointError: the file is missing, corrupt or not a convgrad checkpoint.
    """
    ckpt = load_checkpoint(path)
    model = ckpt.build_model()
    model.eval()
    return model, dict(ckpt.preprocessing or {}), ckpt.model_name


def transform_of(preprocessing):
    """uint8 images -> float (N, C, H, W) normalised with the checkpoint's mean and std."""
    pre = preprocessing or {}
    return Compose([ToTensor(), Normalize(pre.get("mean", [0.0]), pre.get("std", [1.0]))])


def open_collection(data=None, split="test", preprocessing=None):
    """The dataset to encode: MNIST IDX files in ``data`` (bundled sample if None), normalised.

    Raises:
        ArgumentError: an unknown split.
        DatasetNotFoundError / FileFormatError: the directory or its files are missing or malformed.
    """
    if split not in SPLITS:
        raise ArgumentError(f"split must be one of {SPLITS}, got {split!r}")
    return MNIST(data, train=split == "train", transform=transform_of(preprocessing))


def open_for_model(path, data=None, split="test"):
    """``(model, preprocessing, name, dataset)``; the dataset's image size is checked against the
    model's input (one clear EmbeddingError when they do not fit)."""
    model, pre, name = load_model(path)
    dataset = open_collection(data, split, pre)
    sample = dataset.get_batch(np.arange(1))[0][0]
    check_fits(model, sample.shape, pre.get("input_size"), source=f"checkpoint '{os.fspath(path)}' ({name})")
    return model, pre, name, dataset


def load_query(path, preprocessing=None):
    """One image file as a model input (1, C, H, W): an MNIST-style digit (centred, 28x28).

    Raises:
        ImageError: the file is not an image or holds no digit.
        EmbeddingError: the model's input is not a grey 28x28 digit.
    """
    size = (preprocessing or {}).get("input_size")
    if size is not None and list(size)[0] != 1:
        raise EmbeddingError(f"the model takes {'x'.join(map(str, size))} images; query images are read as "
                             "grey MNIST-style digits (1x28x28)")
    side = int(size[-1]) if size is not None else 28
    digit = load_digit(path, size=side, box=round(side * 20 / 28))
    return transform_of(preprocessing)(digit[None])


def to_display(images, preprocessing=None):
    """Normalised images back to [0, 1] for drawing: ``x * std + mean``, clipped."""
    pre = preprocessing or {}
    images = np.asarray(images, dtype=np.float32)
    c = images.shape[1]
    mean = np.resize(np.asarray(pre.get("mean", [0.0]), np.float32), c).reshape(1, c, 1, 1)
    std = np.resize(np.asarray(pre.get("std", [1.0]), np.float32), c).reshape(1, c, 1, 1)
    return np.clip(images * std + mean, 0.0, 1.0)
