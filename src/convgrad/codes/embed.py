"""Embeddings of a whole collection: one code vector per image, streamed to an ``.npz`` on disk.

What a model's code is:

- an autoencoder or a VAE: ``model.encode(x)`` (a VAE's encoder gives the mean of q(z|x); if it
  returns ``(mean, log_var)`` the mean is taken);
- a classifier: its penultimate layer, found generically as the *input of the last Linear layer
  that runs* (a forward hook on every ``nn.Linear`` records the last one called), so LeNet-5's 84
  features, VGG's 4096 or ResNet's pooled 512 without naming a layer.

``embed_dataset`` encodes batch after batch under ``no_grad`` with a progress bar and writes each
batch straight into memory-mapped ``.npy`` files (``np.lib.format.open_memmap``), which are then
stored in one ``.npz`` (arrays ``embeddings`` (N, d) float32 and ``labels`` (N,) int64, in the
collection's order). Memory stays at one batch whatever N is; the file appears atomically.
"""
import os
import sys
import tempfile
import zipfile

import numpy as np

from .. import nn
from ..errors import ArgumentError, ConvgradError, ShapeError
from ..tensor import Tensor, no_grad

DEFAULT_BATCH = 256


class EmbeddingError(ConvgradError, ValueError):
    """A model cannot produce codes, or a collection does not fit it."""


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def _penultimate(model, x):
    """The input of the last ``nn.Linear`` that runs in ``model(x)``."""
    seen = {}

    def record(module, inputs, output):
        seen["features"] = inputs[0]

    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise EmbeddingError(f"{type(model).__name__} has neither encode() nor a Linear layer: no code to take "
                             "(embed works with autoencoders, VAEs and classifiers)")
    handles = [m.register_forward_hook(record) for m in linears]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return seen["features"]


def encode_batch(model, images):
    """Codes (B, d) float32 of a batch (array or Tensor (B, C, H, W)) under ``no_grad``.

    Args:
        model: an autoencoder/VAE (has ``encode``) or a classifier (has a Linear layer), in eval mode.
        images: the batch, preprocessed as the model expects.

    Raises:
        EmbeddingError: the model is a generator only (a GAN) or has no layer to take codes from.
    """
    if hasattr(model, "generator") and not hasattr(model, "encode"):
        raise EmbeddingError(f"{type(model).__name__} is a generator (a GAN): it has no codes of images; "
                             "embed an autoencoder, a VAE or a classifier")
    x = images if isinstance(images, Tensor) else Tensor(np.asarray(images, dtype=np.float32))
    with no_grad():
        out = _first(model.encode(x)) if hasattr(model, "encode") else _penultimate(model, x)
    codes = np.asarray(out.numpy(), dtype=np.float32)
    return codes.reshape(len(codes), -1)


def check_fits(model, sample_shape, model_input=None, source="checkpoint"):
    """Raise a one-line EmbeddingError if images of ``sample_shape`` (C, H, W) do not fit the model.

    ``model_input`` is the input size the checkpoint records (its preprocessing ``input_size``); when
    absent, one zero image is run through the model and a shape error is reported the same way.
    """
    sample_shape = tuple(int(s) for s in sample_shape)
    if model_input is not None:
        model_input = tuple(int(s) for s in model_input)
        if model_input != sample_shape:
            raise EmbeddingError(f"{source} takes input {'x'.join(map(str, model_input))}, the data's images "
                                 f"are {'x'.join(map(str, sample_shape))}")
        return
    try:
        encode_batch(model, np.zeros((1,) + sample_shape, np.float32))
    except (ShapeError, ValueError) as exc:
        if isinstance(exc, EmbeddingError):
            raise
        raise EmbeddingError(f"{source} does not take the data's {'x'.join(map(str, sample_shape))} images: "
                             f"{' '.join(str(exc).split())}") from None


def _batches(dataset, batch_size):
    n = len(dataset)
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(start + batch_size, n))
        images, labels = dataset.get_batch(idx, None) if hasattr(dataset, "get_batch") else _stack(dataset, idx)
        yield np.asarray(images, dtype=np.float32), np.asarray(labels, dtype=np.int64)


def _stack(dataset, idx):
    pairs = [dataset[int(i)] for i in idx]
    return np.stack([np.asarray(p[0]) for p in pairs]), np.array([p[1] for p in pairs], np.int64)


def embed_dataset(model, dataset, out, batch_size=DEFAULT_BATCH, progress=True):
    """Encode every image of ``dataset`` (in order) and write ``out`` (.npz), one batch in memory.

    Args:
        model: see :func:`encode_batch`; put in eval mode here.
        dataset: ``len()`` and ``get_batch(indices, rng) -> (images, labels)`` (or ``ds[i]``), already
            preprocessed for the model.
        out: path of the ``.npz`` to write (arrays ``embeddings`` (N, d) float32, ``labels`` (N,) int64).
        batch_size: images per forward pass.
        progress: a tqdm bar on stderr.

    Returns:
        ``out``.

    Example:
        >>> embed_dataset(convgrad.load("ae.npz"), MNIST(train=False, transform=ToTensor()), "codes.npz")  # doctest: +SKIP
        'codes.npz'
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ArgumentError(f"embed_dataset: batch_size must be a positive integer, got {batch_size!r}")
    n = len(dataset)
    if n == 0:
        raise ArgumentError("embed_dataset: the collection is empty")
    model.eval()
    batches = ((encode_batch(model, images), labels) for images, labels in _batches(dataset, batch_size))
    return write_codes(out, n, batches, progress)


def write_codes(out, n, batches, progress=True, desc="embed"):
    """Write the codes file ``out`` from ``(codes (b, d), labels (b,))`` batches that come in
    order and cover ``n`` images: each batch goes into memory-mapped ``.npy`` files beside
    ``out`` (the codes of a large collection never sit in RAM at once), zipped by
    :func:`write_codes_file` at the end. Returns ``out``."""
    from tqdm import tqdm

    out = os.fspath(out)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(os.path.abspath(out)) or None) as tmp:
        emb_path, lab_path = os.path.join(tmp, "embeddings.npy"), os.path.join(tmp, "labels.npy")
        labels = np.lib.format.open_memmap(lab_path, mode="w+", dtype=np.int64, shape=(n,))
        embeddings, at = None, 0
        bar = tqdm(total=n, desc=desc, unit="img", disable=not progress, file=sys.stderr, leave=False)
        for codes, batch_labels in batches:
            if embeddings is None:
                embeddings = np.lib.format.open_memmap(emb_path, mode="w+", dtype=np.float32,
                                                       shape=(n, codes.shape[1]))
            embeddings[at:at + len(codes)] = codes
            labels[at:at + len(codes)] = batch_labels
            at += len(codes)
            bar.update(len(codes))
        bar.close()
        embeddings.flush()
        labels.flush()
        del embeddings, labels  # close the maps before zipping their files
        write_codes_file(out, emb_path, lab_path)
    return out


def write_codes_file(out, embeddings_npy, labels_npy):
    """Zip two ``.npy`` files (written as memory maps) into the codes file ``out``, atomically,
    as an ``.npz`` with ``embeddings`` and ``labels`` (stored, not compressed: no second copy in RAM)."""
    from ..io.checkpoint import atomic_write

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            zf.write(embeddings_npy, "embeddings.npy")
            zf.write(labels_npy, "labels.npy")

    atomic_write(out, write)


def load_embeddings(path):
    """``(embeddings, labels)`` from a file written by :func:`embed_dataset` (never unpickles).

    Raises:
        EmbeddingError: the file is missing or is not an embeddings file.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise EmbeddingError(f"embeddings file '{path}' does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            embeddings, labels = data["embeddings"], data["labels"]
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as exc:
        raise EmbeddingError(f"'{path}' is not an embeddings file (arrays 'embeddings' and 'labels'): "
                             f"{type(exc).__name__}") from None
    if embeddings.ndim != 2 or labels.shape != (len(embeddings),):
        raise EmbeddingError(f"'{path}': expected embeddings (N, d) and labels (N,), got {embeddings.shape} and "
                             f"{labels.shape}")
    return embeddings, labels
