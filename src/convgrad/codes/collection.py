"""Which model and which images: a checkpoint, the collection it encodes, and a query image.

A checkpoint records its ``preprocessing`` (``input_size``, ``mean``, ``std``, how inputs are read)
and, for generative models trained by ``convgrad train``, the range its outputs come in
(``extra["objective"]["output_range"]``: [0, 1] for autoencoders and VAEs, [-1, 1] for a GAN).

The collection is opened with :func:`convgrad.data.open_data` (``data=None``: the bundled MNIST
sample; ``split="test"`` is the data's test split in its order, the 10,000 official test images for
MNIST) and re-normalised from the data's own mean and std to the checkpoint's, so the model sees
its inputs as it was trained on them. Image folders are resized to the checkpoint's input size.
"""
import os

import numpy as np

from ..data import load_digit, load_input, open_data
from ..data.transforms import Compose, Normalize, ToTensor
from ..errors import ArgumentError
from ..io.checkpoint import load_checkpoint
from .embed import check_fits

SPLITS = ("test", "train")


class LoadedModel:
    """A checkpoint's model (eval mode) with its ``preprocessing``, ``name`` and ``output_range``."""

    def __init__(self, model, preprocessing, name, output_range):
        self.model, self.preprocessing, self.name, self.output_range = model, preprocessing, name, output_range


def load_model(path):
    """The :class:`LoadedModel` of the checkpoint at ``path``.

    Raises:
        CheckpointError: the file is missing, corrupt or not a convgrad checkpoint.
    """
    ckpt = load_checkpoint(path)
    model = ckpt.build_model()
    model.eval()
    objective = (ckpt.extra or {}).get("objective") or {}
    output_range = objective.get("output_range") if isinstance(objective, dict) else None
    return LoadedModel(model, dict(ckpt.preprocessing or {}), ckpt.model_name, output_range)


def _stats(pre, channels):
    mean = np.resize(np.asarray(pre.get("mean", [0.0]), np.float32), channels)
    std = np.resize(np.asarray(pre.get("std", [1.0]), np.float32), channels)
    return mean, std


class Renormalised:
    """A dataset whose images, normalised with ``source`` mean/std, come out normalised with ``target``'s."""

    def __init__(self, dataset, source, target):
        self.dataset, self.source, self.target = dataset, source or {}, target or {}

    def __len__(self):
        return len(self.dataset)

    def get_batch(self, indices, rng=None):
        images, labels = self.dataset.get_batch(np.asarray(indices), rng)
        images = np.asarray(images, np.float32)
        shape = (1, -1) + (1,) * (images.ndim - 2)
        m_from, s_from = (a.reshape(shape) for a in _stats(self.source, images.shape[1]))
        m_to, s_to = (a.reshape(shape) for a in _stats(self.target, images.shape[1]))
        if np.array_equal(m_from, m_to) and np.array_equal(s_from, s_to):
            return images, labels
        return ((images * s_from + m_from - m_to) / s_to).astype(np.float32), labels

    def __getitem__(self, index):
        images, labels = self.get_batch(np.array([int(index)]))
        return images[0], int(labels[0])


def open_collection(data=None, split="test", preprocessing=None):
    """The dataset to encode (``len``, ``get_batch``), normalised as ``preprocessing`` says.

    Raises:
        ArgumentError: an unknown split.
        DatasetNotFoundError / FileFormatError: the data is missing or malformed.
    """
    if split not in SPLITS:
        raise ArgumentError(f"split must be one of {SPLITS}, got {split!r}")
    pre = dict(preprocessing or {})
    size = pre.get("input_size")
    options = {}
    if size is not None and len(size) == 3:
        options = {"image_size": (int(size[1]), int(size[2])), "channels": int(size[0])}
    bundle = open_data(data, **options)
    dataset = bundle.test if split == "test" else bundle.train
    return Renormalised(dataset, bundle.preprocessing, pre)


def open_for_model(path, data=None, split="test"):
    """``(LoadedModel, dataset)``; the data's sample shape is checked against the model's input
    (one clear EmbeddingError when they do not fit)."""
    loaded = load_model(path)
    dataset = open_collection(data, split, loaded.preprocessing)
    sample = dataset.get_batch(np.arange(1))[0][0]
    check_fits(loaded.model, sample.shape, loaded.preprocessing.get("input_size"),
               source=f"checkpoint '{os.fspath(path)}' ({loaded.name})")
    return loaded, dataset


def load_query(path, preprocessing=None):
    """One input file as a batch of one (1, ...) for the model, read as the checkpoint's data was
    (:func:`convgrad.data.load_input`; an MNIST-style centred digit for older checkpoints).

    Raises:
        ImageError / FileFormatError: the file is not an image of the kind the model takes.
    """
    pre = dict(preprocessing or {})
    if "input_size" in pre:
        return load_input(path, pre)[None]
    digit = load_digit(path)
    return Compose([ToTensor(), Normalize(pre.get("mean", [0.0]), pre.get("std", [1.0]))])(digit[None])


def transform_of(preprocessing):
    """uint8 images -> float (N, C, H, W) normalised with the checkpoint's mean and std."""
    pre = preprocessing or {}
    return Compose([ToTensor(), Normalize(pre.get("mean", [0.0]), pre.get("std", [1.0]))])


def to_display(images, preprocessing=None):
    """Normalised inputs back to [0, 1] for drawing: ``x * std + mean``, clipped."""
    images = np.asarray(images, dtype=np.float32)
    mean, std = _stats(preprocessing or {}, images.shape[1])
    shape = (1, -1) + (1,) * (images.ndim - 2)
    return np.clip(images * std.reshape(shape) + mean.reshape(shape), 0.0, 1.0)


def outputs_to_display(images, loaded):
    """A generative model's outputs in [0, 1]: by its recorded ``output_range`` if any (a GAN's
    [-1, 1] becomes (x + 1) / 2), else as normalised inputs (:func:`to_display`)."""
    images = np.asarray(images, dtype=np.float32)
    if loaded.output_range is not None:
        low, high = (float(v) for v in loaded.output_range)
        return np.clip((images - low) / (high - low), 0.0, 1.0)
    return to_display(images, loaded.preprocessing)
