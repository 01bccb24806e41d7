"""Data that describes itself: ``open_data`` finds what a path holds and returns a :class:`DataBundle`.

    bundle = convgrad.data.open_data("pets/")            # or None for the bundled MNIST sample
    print(bundle.description)   # image folder: 2 classes (cat, dog), 1,204 train / 301 validation images, 64x64 RGB
    model, kwargs = convgrad.models.build_for_data("resnet18", bundle.input_shape, bundle.num_classes)
    loader = DataLoader(bundle.train, batch_size=64, shuffle=True)

Kinds and how they are detected (``kind=`` forces one):

===============  ============================================================================
``idx``          a directory with MNIST-format IDX files (MNIST, Fashion-MNIST, KMNIST); None
``ts``           a directory with ``*_TRAIN.ts`` (and ``*_TEST.ts``), or a ``.ts`` file
``image_folder`` a directory of class subfolders (``root/train`` + ``root/test|val`` if present)
``npz``          a ``.npz`` file with ``x``, ``y`` (optional ``x_test``, ``y_test``)
``csv``          a ``.csv``/``.tra``/``.txt``/``.data`` file (``.gz`` too) with a label column
===============  ============================================================================

Test split: the data's own (IDX t10k files, ``*_TEST.ts``, ``root/test``, ``x_test``, a CSV's
sibling ``*.tes`` / ``*test*`` file), called "test"; else ``val_split`` of the training data
is held out, seeded and stratified by class, called "validation", and recorded in ``split``.

Normalisation, stored in ``preprocessing`` (``load_input`` applies the same):

- images are scaled to [0, 1] (``uint8 / 255``; a CSV of pixel values by its training maximum),
  then ``(x - mean) / std`` per channel with mean and std of the training split (MNIST keeps its
  usual 0.1307 / 0.3081); image folders estimate them from up to 2,000 training images;
- ``.ts`` series are z-normalised per series and channel (see :mod:`convgrad.data.timeseries`);
- other arrays (npz/CSV sequences) are standardised per channel with training mean and std.
"""
import os
import re

import numpy as np

from ..errors import ArgumentError, FileFormatError
from .arrays import label_indices, read_csv, read_npz, sample_layout, square_side
from .datasets import BUNDLED_DIR, ArrayDataset
from .folders import IMAGE_EXTENSIONS, ImageFolder, find_classes
from .images import digit_from_array, read_image
from .mnist import MNIST_MEAN, MNIST_STD, DatasetNotFoundError, load_mnist_arrays
from .timeseries import class_order, find_ts_files, read_ts, stack_series, znormalize
from .transforms import Compose, Normalize, RandomAffine, ToTensor, Transform

KINDS = ("idx", "image_folder", "npz", "csv", "ts")
CSV_SUFFIXES = (".csv", ".tra", ".tes", ".txt", ".data", ".dat")
IDX_STEMS = ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte", "train-images.idx3-ubyte", "t10k-images.idx3-ubyte")
MAX_STAT_IMAGES = 2000  # images read to estimate an image folder's mean and std


class DataBundle:
    """A training split, a test (or validation) split, and what they are.

    Attributes:
        kind: "idx", "image_folder", "npz", "csv" or "ts".
        train, test: datasets with ``len()``, ``get_batch(indices, rng) -> (float32 (B, C, ...),
            int64 (B,))`` (transformed and normalised) and ``ds[i] -> (array, int)``.
        test_name: "test" (the data's own test split) or "validation" (held out by ``val_split``).
        input_shape: shape of one sample, e.g. ``(1, 28, 28)`` or ``(6, 100)``.
        num_classes, class_names: the classes, index ``i`` named ``class_names[i]``.
        description: one line saying what was found.
        preprocessing: JSON-able dict (``kind``, ``input_size``, ``classes``, ``mean``, ``std``, ...)
            that :func:`load_input` needs to prepare one new sample like the training data.
        split: JSON-able record of a validation split (fraction, seed, held-out indices), or None.
        warnings: one-line strings (files skipped, sizes chosen, labels remapped, subsets taken).
    """

    def __init__(self, kind, train, test, test_name, input_shape, class_names, description, preprocessing,
                 split=None, warnings=()):
        self.kind, self.train, self.test, self.test_name = kind, train, test, test_name
        self.input_shape = tuple(int(s) for s in input_shape)
        self.class_names = [str(c) for c in class_names]
        self.num_classes = len(self.class_names)
        self.description, self.preprocessing, self.split = description, preprocessing, split
        self.warnings = list(warnings)

    def __repr__(self):
        return f"DataBundle({self.description!r})"


# ----------------------------------------------------------------------------------------------
# Detection
# ----------------------------------------------------------------------------------------------
def _strip_gz(name):
    return name[:-3] if name.lower().endswith(".gz") else name


def detect_kind(path):
    """The kind of data at ``path`` (see the module table); None is the bundled MNIST ("idx").

    Raises:
        DatasetNotFoundError: the path does not exist or holds nothing convgrad reads.
    """
    if path is None:
        return "idx"
    path = os.fspath(path)
    if os.path.isfile(path):
        name = _strip_gz(os.path.basename(path)).lower()
        if name.endswith(".ts"):
            return "ts"
        if name.endswith(".npz"):
            return "npz"
        if name.endswith(CSV_SUFFIXES):
            return "csv"
        raise DatasetNotFoundError(f"'{path}': cannot tell the kind of data from its name (expected .ts, .npz, "
                                   f".csv, or a directory); pass kind=")
    if not os.path.isdir(path):
        raise DatasetNotFoundError(f"data path '{path}' does not exist")
    names = os.listdir(path)
    if any(n.endswith("_TRAIN.ts") for n in names):
        return "ts"
    if any(_strip_gz(n) in IDX_STEMS for n in names):
        return "idx"
    if find_classes(path):
        return "image_folder"
    raise DatasetNotFoundError(f"'{path}' holds no data convgrad recognises: expected MNIST IDX files, "
                               f"*_TRAIN.ts files, or one subfolder of images per class")


# ----------------------------------------------------------------------------------------------
# Splits, subsets, label checks
# ----------------------------------------------------------------------------------------------
def stratified_split(targets, fraction, seed):
    """``(train_indices, val_indices)``: ``fraction`` of each class held out (seeded), at least one
    sample of every class with two or more kept on each side."""
    if not 0 < fraction < 1:
        raise ArgumentError(f"val_split must be between 0 and 1 (exclusive), got {fraction!r}")
    rng = np.random.default_rng([int(seed), 11])
    train, val = [], []
    for c in np.unique(targets):
        members = np.flatnonzero(targets == c)
        members = members[rng.permutation(len(members))]
        n_val = 0 if len(members) < 2 else min(len(members) - 1, max(1, round(fraction * len(members))))
        val += members[:n_val].tolist()
        train += members[n_val:].tolist()
    return np.sort(np.array(train, dtype=np.intp)), np.sort(np.array(val, dtype=np.intp))


def _split_record(fraction, seed, n, val_idx):
    return {"kind": "val_split", "fraction": float(fraction), "seed": int(seed), "stratified": True,
            "samples": int(n), "validation_indices": [int(i) for i in val_idx]}


def _subset_indices(n, limit, seed, what, notes):
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ArgumentError(f"max_{what} must be a positive integer, got {limit!r}")
    if limit >= n:
        if limit > n:
            notes.append(f"max_{what}={limit:,} is more than the {n:,} {what} samples: using all {n:,}")
        return None
    return np.sort(np.random.default_rng([int(seed), 7]).permutation(n)[:limit])


def _check_classes(class_names, train_targets, test_targets, test_name, notes):
    if len(class_names) < 2:
        raise FileFormatError(f"the data has {len(class_names)} class ({', '.join(class_names) or 'none'}); "
                              f"classification needs at least 2")
    present = set(np.unique(train_targets).tolist())
    unseen = sorted(set(np.unique(test_targets).tolist()) - present)
    if unseen:
        raise FileFormatError(f"the {test_name} split has labels {[class_names[i] for i in unseen]} that the "
                              f"training split does not have")
    missing = [class_names[i] for i in range(len(class_names)) if i not in present]
    if missing:
        notes.append(f"classes {missing} have no training samples")


def _class_text(names, limit=6):
    shown = ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
    return f"{len(names)} classes ({shown})"


# ----------------------------------------------------------------------------------------------
# open_data
# ----------------------------------------------------------------------------------------------
def open_data(path=None, kind=None, *, image_size=None, channels=None, val_split=0.2, seed=0, label_column=None,
              strict=False, augment=False, max_train=None, max_test=None):
    """Open the data at ``path`` (None: the bundled MNIST sample) and describe it.

    Args:
        path: a directory or file (see the module docstring for the kinds and their detection).
        kind: force a kind: "idx", "image_folder", "npz", "csv" or "ts".
        image_size: image folders: target ``(h, w)`` or int (resize then centre crop).
        channels: image folders: 1 or 3 (default: 3 if any image is in colour).
        val_split: fraction held out (stratified, seeded) when the data has no test split.
        seed: seed of the validation split and of ``max_train``/``max_test`` subsets.
        label_column: CSV: the label's column name or index (default label/class/target/y, or last).
        strict: image folders: an unreadable file is an error instead of being skipped.
        augment: image data: small random shifts, rotations and zooms on the training split.
        max_train, max_test: use a seeded random subset of at most this many samples.

    Returns:
        :class:`DataBundle`.

    Raises:
        DatasetNotFoundError: the path does not exist or holds no recognisable data.
        FileFormatError: malformed files, one class only, test labels unseen in training,
            non-integral labels.
        ArgumentError: a bad option (unknown kind, val_split outside (0, 1), a missing CSV column).

    Example::

        >>> b = open_data("/data/ucr/GunPoint")  # doctest: +SKIP
        >>> b.description  # doctest: +SKIP
        'time series: 2 classes (1, 2), 50 train / 150 test series, length 150, 1 channel'
    """
    if kind is None:
        kind = detect_kind(path)
    elif kind not in KINDS:
        raise ArgumentError(f"open_data: kind must be one of {KINDS}, got {kind!r}")
    if path is not None and not os.path.exists(os.fspath(path)):
        raise DatasetNotFoundError(f"data path '{os.fspath(path)}' does not exist")
    opts = {"image_size": image_size, "channels": channels, "val_split": val_split, "seed": seed,
            "label_column": label_column, "strict": strict, "augment": augment, "max_train": max_train,
            "max_test": max_test}
    opener = {"idx": _open_idx, "image_folder": _open_folder, "npz": _open_npz, "csv": _open_csv, "ts": _open_ts}
    return opener[kind](None if path is None else os.fspath(path), opts)


# -- IDX ---------------------------------------------------------------------------------------
def _open_idx(path, opts):
    root = BUNDLED_DIR if path is None else path
    notes = []
    try:
        images, labels = load_mnist_arrays(root, train=True)
    except DatasetNotFoundError as missing:
        try:  # only the t10k pair: train on part of it, validate on the rest
            images, labels = load_mnist_arrays(root, train=False)
        except DatasetNotFoundError:
            raise missing from None
        notes.append(f"'{root}' has no train-images file: the t10k images are split into train and validation")
        test_images = test_labels = None
    else:
        try:
            test_images, test_labels = load_mnist_arrays(root, train=False)
        except DatasetNotFoundError:
            test_images = test_labels = None
    if test_images is not None and test_images.shape[1:] != images.shape[1:]:
        raise FileFormatError(f"'{root}': train images are {images.shape[1:]}, test images {test_images.shape[1:]}")
    images, labels, test_images, test_labels, split, test_name = _split_and_limit(images, labels, test_images,
                                                                                  test_labels, opts, notes)
    class_names = [str(d) for d in range(int(max(labels.max(), test_labels.max())) + 1)]
    _check_classes(class_names, labels, test_labels, test_name, notes)
    mean, std = _idx_stats(path, images)
    h, w = images.shape[1:]
    aug = [RandomAffine(degrees=10.0, translate=2.0, scale=(0.9, 1.1))] if opts["augment"] else []
    train = ArrayDataset(images, labels, Compose([ToTensor()] + aug + [Normalize(mean, std)]))
    test = ArrayDataset(test_images, test_labels, Compose([ToTensor(), Normalize(mean, std)]))
    is_mnist = path is None or (mean == MNIST_MEAN and std == MNIST_STD)
    name = "MNIST sample (bundled)" if path is None else ("MNIST" if is_mnist else "IDX")
    description = (f"{name}: {_class_text(class_names)}, {len(labels):,} train / {len(test_labels):,} "
                   f"{test_name} images, {h}x{w} grey")
    pre = {"kind": "idx", "input": "digit" if is_mnist else "image", "input_size": [1, h, w], "classes": class_names,
           "mean": [mean], "std": [std], "channels": 1, "resize": "crop", "scale": 1 / 255}
    if is_mnist:
        pre["dataset"] = "mnist"
    return DataBundle("idx", train, test, test_name, (1, h, w), class_names, description, pre, split, notes)


def _idx_stats(path, images):
    """MNIST's usual 0.1307/0.3081 for the bundled sample and for data whose statistics are within
    0.01 of them (MNIST itself); else the training images' own mean and std."""
    if path is None:
        return MNIST_MEAN, MNIST_STD
    sample = images[:20000].astype(np.float64) / 255
    mean, std = float(sample.mean()), float(sample.std())
    if abs(mean - MNIST_MEAN) < 0.01 and abs(std - MNIST_STD) < 0.01:
        return MNIST_MEAN, MNIST_STD
    return mean, max(std, 1e-6)


def _limit(x, y, limit, seed, what, notes):
    idx = _subset_indices(len(y), limit, seed, what, notes)
    return (x, y) if idx is None else (x[idx], y[idx])


# -- image folders ------------------------------------------------------------------------------
def _split_and_limit(x, y, x_test, y_test, opts, notes):
    """Hold out a seeded stratified validation split when there is no test split, then apply
    ``max_train`` / ``max_test``; returns ``(x, y, x_test, y_test, split record or None, test_name)``."""
    split, test_name = None, "test"
    if x_test is None:
        tr, va = stratified_split(y, opts["val_split"], opts["seed"])
        split = _split_record(opts["val_split"], opts["seed"], len(y), va)
        x, y, x_test, y_test = x[tr], y[tr], x[va], y[va]
        test_name = "validation"
    x, y = _limit(x, y, opts["max_train"], opts["seed"], "train", notes)
    x_test, y_test = _limit(x_test, y_test, opts["max_test"], opts["seed"], "test", notes)
    return x, y, x_test, y_test, split, test_name


def _split_dirs(root):
    train = os.path.join(root, "train")
    for name in ("test", "val", "validation"):
        test = os.path.join(root, name)
        if os.path.isdir(train) and os.path.isdir(test):
            return train, test, name
    return None


def _open_folder(path, opts):
    if path is None:
        raise ArgumentError("open_data: kind='image_folder' needs a path")
    notes = []
    pair = _split_dirs(path)
    kw = {"image_size": opts["image_size"], "channels": opts["channels"], "strict": opts["strict"]}
    full = ImageFolder(pair[0] if pair else path, **kw)
    split = None
    if pair:
        test = ImageFolder(pair[1], image_size=full.image_size, channels=full.channels, classes=full.classes,
                           strict=opts["strict"])
        train, test_name = full, "test"
        skipped = full.skipped + test.skipped
    else:
        tr, va = stratified_split(full.targets, opts["val_split"], opts["seed"])
        split = _split_record(opts["val_split"], opts["seed"], len(full), va)
        split["files"] = [os.path.relpath(full.samples[i][0], path) for i in va]
        train, test, test_name = full.subset(tr), full.subset(va), "validation"
        skipped = full.skipped
    if full.size_note:
        notes.append(full.size_note)
    if skipped:
        notes.append(f"skipped {len(skipped)} unreadable file(s): " + "; ".join(p for p, _ in skipped[:10])
                     + (" ..." if len(skipped) > 10 else ""))
    train_idx = _subset_indices(len(train), opts["max_train"], opts["seed"], "train", notes)
    train = train if train_idx is None else train.subset(train_idx)
    test_idx = _subset_indices(len(test), opts["max_test"], opts["seed"], "test", notes)
    test = test if test_idx is None else test.subset(test_idx)
    _check_classes(full.classes, train.targets, test.targets, test_name, notes)
    mean, std = _image_stats(train, opts["seed"])
    shift = 0.06 * min(full.image_size)  # pixels
    aug = [RandomAffine(degrees=10.0, translate=shift, scale=(0.9, 1.1))] if opts["augment"] else []
    train.transform = Compose([ToTensor()] + aug + [Normalize(mean, std)])
    test.transform = Compose([ToTensor(), Normalize(mean, std)])
    h, w = full.image_size
    colour = "RGB" if full.channels == 3 else "grey"
    description = (f"image folder: {_class_text(full.classes)}, {len(train):,} train / {len(test):,} {test_name} "
                   f"images, {h}x{w} {colour}")
    if skipped:
        description += f" ({len(skipped)} unreadable file(s) skipped)"
    pre = {"kind": "image_folder", "input": "image", "input_size": [full.channels, h, w], "classes": full.classes,
           "mean": mean, "std": std, "channels": full.channels, "resize": "crop", "scale": 1 / 255}
    return DataBundle("image_folder", train, test, test_name, (full.channels, h, w), full.classes, description,
                      pre, split, notes)


def _image_stats(folder, seed):
    """Per-channel mean and std of up to MAX_STAT_IMAGES training images scaled to [0, 1]."""
    n = len(folder)
    idx = np.arange(n) if n <= MAX_STAT_IMAGES else np.sort(
        np.random.default_rng([int(seed), 5]).permutation(n)[:MAX_STAT_IMAGES])
    total = np.zeros(folder.channels)
    total_sq = np.zeros(folder.channels)
    count = 0
    for start in range(0, len(idx), 256):
        batch = np.stack([folder.load(i) for i in idx[start:start + 256]]).astype(np.float64) / 255
        batch = batch.reshape(batch.shape[0], -1, folder.channels) if folder.channels == 3 else batch.reshape(
            batch.shape[0], -1, 1)
        total += batch.sum(axis=(0, 1))
        total_sq += (batch ** 2).sum(axis=(0, 1))
        count += batch.shape[0] * batch.shape[1]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 0))
    return [float(m) for m in mean], [float(max(s, 1e-3)) for s in std]


# -- arrays (npz, CSV) ---------------------------------------------------------------------------
def _array_bundle(kind, source, x, y, x_test, y_test, opts, extra_pre, layout=None):
    notes = []
    x, shape_kind = sample_layout(x, source, layout)
    if x_test is not None:
        x_test, _ = sample_layout(x_test, source, layout)
        if x_test.shape[1:] != x.shape[1:]:
            raise FileFormatError(f"{source}: training samples are {x.shape[1:]}, test samples {x_test.shape[1:]}")
    y_all = np.concatenate([np.asarray(y).ravel(), np.asarray(y_test).ravel()]) if y_test is not None else np.asarray(y)
    targets_all, class_names = label_indices(y_all, source)
    if class_names != [str(i) for i in range(len(class_names))]:
        notes.append(f"labels {_preview(class_names)} mapped to class indices 0..{len(class_names) - 1} "
                     f"(class_names keep the labels)")
    targets, test_targets = targets_all[:len(y)], targets_all[len(y):]
    x, targets, x_test, test_targets, split, test_name = _split_and_limit(x, targets, x_test, test_targets, opts,
                                                                          notes)
    _check_classes(class_names, targets, test_targets, test_name, notes)
    images = shape_kind == "images"
    scale = _scale_of(x) if images else 1.0
    axes = (0,) + tuple(range(2, x.ndim))
    xs = x.astype(np.float64) * scale
    mean, std = xs.mean(axis=axes), np.maximum(xs.std(axis=axes), 1e-6)
    train = ArrayDataset(_standardise(x, scale, mean, std), targets,
                         _image_augment(x.shape[-1]) if images and opts["augment"] else None)
    test = ArrayDataset(_standardise(x_test, scale, mean, std), test_targets)
    shape = x.shape[1:]
    what = (f"{shape[1]}x{shape[2]} {'RGB' if shape[0] == 3 else 'grey' if shape[0] == 1 else f'{shape[0]}-channel'} "
            f"images" if images else f"sequences of length {shape[-1]}, {shape[0]} channel(s)")
    description = (f"{kind}: {_class_text(class_names)}, {len(targets):,} train / {len(test_targets):,} {test_name} "
                   f"samples, {what}")
    pre = {"kind": kind, "input": "image" if images else "array", "input_size": list(shape), "classes": class_names,
           "mean": [float(m) for m in mean], "std": [float(s) for s in std], "scale": float(scale),
           "channels": int(shape[0])}
    pre.update(extra_pre)
    return DataBundle(kind, train, test, test_name, shape, class_names, description, pre, split, notes)


def _preview(names, limit=6):
    return "{" + ", ".join(names[:limit]) + (", ..." if len(names) > limit else "") + "}"


def _scale_of(x):
    """Images to [0, 1]: uint8 / 255; other values by their maximum when it exceeds 1."""
    if x.dtype == np.uint8:
        return 1 / 255
    top = float(np.max(x)) if x.size else 1.0
    return 1.0 / top if top > 1 else 1.0


def _standardise(x, scale, mean, std):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return ((x.astype(np.float64) * scale - mean.reshape(shape)) / std.reshape(shape)).astype(np.float32)


class AugmentStandardised(Transform):
    """RandomAffine (10 degrees, ``translate`` pixels, zoom 0.9..1.1) on already standardised
    images: pixels from outside take each image's minimum (its background level after
    standardisation) instead of 0."""

    def __init__(self, translate):
        self.affine = RandomAffine(degrees=10.0, translate=translate, scale=(0.9, 1.1))

    def __call__(self, x, rng=None):
        low = x.min(axis=(2, 3), keepdims=True)
        return self.affine(x - low, rng=rng) + low

    def describe(self):
        return {**self.affine.describe(), "name": "AugmentStandardised"}


def _image_augment(width):
    return AugmentStandardised(max(1.0, 0.08 * width))


def _open_npz(path, opts):
    if path is None:
        raise ArgumentError("open_data: kind='npz' needs a path")
    x, y, x_test, y_test, layout = read_npz(path)
    return _array_bundle("npz", f"'{path}'", x, y, x_test, y_test, opts, {"layout": layout}, layout)


def _test_file_for(path):
    """A CSV's test partner: ``x.tra`` -> ``x.tes``, ``*train*`` -> ``*test*`` (same folder)."""
    folder, name = os.path.split(path)
    candidates = []
    if ".tra" in name:
        candidates.append(name.replace(".tra", ".tes"))
    for a, b in (("train", "test"), ("TRAIN", "TEST"), ("Train", "Test")):
        if a in name:
            candidates.append(name.replace(a, b))
    for c in candidates:
        if c != name and os.path.isfile(os.path.join(folder, c)):
            return os.path.join(folder, c)
    return None


def _open_csv(path, opts):
    if path is None:
        raise ArgumentError("open_data: kind='csv' needs a path")
    x, y, header, label = read_csv(path, opts["label_column"])
    test_path = _test_file_for(path)
    x_test = y_test = None
    if test_path is not None:
        x_test, y_test, test_header, _ = read_csv(test_path, opts["label_column"])
        if x_test.shape[1] != x.shape[1]:
            raise FileFormatError(f"'{test_path}' has {x_test.shape[1]} features, '{path}' has {x.shape[1]}")
    side = square_side(x.shape[1])
    reshape = (lambda a: a.reshape(len(a), side, side)) if side else (lambda a: a)
    bundle = _array_bundle("csv", f"'{path}'", reshape(x), np.array(y), None if x_test is None else reshape(x_test),
                           None if y_test is None else np.array(y_test), opts,
                           {"label_column": label, "features": int(x.shape[1]),
                            "feature_names": None if header is None else header[:label] + header[label + 1:]})
    if side:
        bundle.description += f" ({x.shape[1]} features = {side}x{side})"
    if test_path is not None:
        bundle.preprocessing["test_file"] = os.path.basename(test_path)
    return bundle


# -- time series ---------------------------------------------------------------------------------
def _open_ts(path, opts):
    if path is None:
        raise ArgumentError("open_data: kind='ts' needs a path")
    if os.path.isdir(path):
        train_path, test_path = find_ts_files(path)
    else:
        train_path = path
        test_path = path[:-len("_TRAIN.ts")] + "_TEST.ts" if path.endswith("_TRAIN.ts") else None
        test_path = test_path if test_path and os.path.isfile(test_path) else None
    notes = []
    train_data = read_ts(train_path)
    test_data = read_ts(test_path) if test_path else None
    declared = train_data.class_labels
    if test_data is not None and test_data.channels != train_data.channels:
        raise FileFormatError(f"'{test_path}' has {test_data.channels} channel(s), '{train_path}' has "
                              f"{train_data.channels}")
    class_names = class_order(train_data.labels + (test_data.labels if test_data else []), declared)
    index = {name: i for i, name in enumerate(class_names)}
    every = train_data.series + (test_data.series if test_data else [])
    lengths = [s.shape[1] for s in every]
    length = max(lengths)
    if min(lengths) != length:
        notes.append(f"series have unequal lengths ({min(lengths)} to {length}): padded at the end with zeros "
                     f"to {length} after z-normalisation")
    x = stack_series(train_data.series, length)
    y = np.array([index[label] for label in train_data.labels], dtype=np.int64)
    x_test = y_test = None
    if test_data is not None:
        x_test = stack_series(test_data.series, length)
        y_test = np.array([index[label] for label in test_data.labels], dtype=np.int64)
    x, y, x_test, y_test, split, test_name = _split_and_limit(x, y, x_test, y_test, opts, notes)
    _check_classes(class_names, y, y_test, test_name, notes)
    channels = x.shape[1]
    description = (f"time series: {_class_text(class_names)}, {len(y):,} train / {len(y_test):,} {test_name} "
                   f"series, length {length}, {channels} channel{'s' if channels > 1 else ''}")
    pre = {"kind": "ts", "input": "series", "input_size": [channels, length], "classes": class_names,
           "mean": [0.0] * channels, "std": [1.0] * channels, "znormalize": True, "length": length,
           "channels": channels, "problem": train_data.problem_name}
    return DataBundle("ts", ArrayDataset(x, y), ArrayDataset(x_test, y_test), test_name, (channels, length),
                      class_names, description, pre, split, notes)


# ----------------------------------------------------------------------------------------------
# One new sample, prepared like the training data
# ----------------------------------------------------------------------------------------------
def load_inputs(path, preprocessing):
    """Every sample in ``path`` prepared as the training data was: float32 ``(N, *input_size)``.

    Pictures (one per file, told by the extension): ``input == "digit"`` (MNIST) uses the digit
    centring of :func:`~convgrad.data.load_digit`; otherwise any picture is converted to the
    recorded channels and gets the plain resize + centre crop of image folders. Rows (CSV/npz
    data, also image-shaped, such as the 8x8 digits): a text file of values. Series: a ``.ts``
    file (all its series; labels may be absent) or a text/CSV file with one series or feature row
    per line (values separated by commas or spaces; a label column, if present, is dropped).
    A ``.npy`` file holds one sample ``input_size`` or a batch of them.

    Raises:
        FileFormatError / ImageError / DatasetNotFoundError: unreadable input, or a sample of the
            wrong shape (the message says the shape the model needs).
    """
    path = os.fspath(path)
    pre = dict(preprocessing)
    if "input_size" not in pre:
        raise ArgumentError("load_input: preprocessing has no 'input_size' (a checkpoint from before convgrad "
                            "recorded its data; use load_digit for MNIST models)")
    size = tuple(int(s) for s in pre["input_size"])
    mean, std = _stats_array(pre, size[0])
    if not os.path.isfile(path):
        raise DatasetNotFoundError(f"input file '{path}' does not exist")
    if path.lower().endswith(".npy"):
        x = _load_npy(path, size)
    elif path.lower().endswith(IMAGE_EXTENSIONS) or pre.get("input", "digit") == "digit":
        x = _load_picture(path, pre, size)[None]
    else:
        x = _load_rows(path, pre, size)
    return ((x - mean) / std).astype(np.float32)


def load_input(path, preprocessing):
    """One sample from ``path`` ready for the model: float32 ``input_size`` (e.g. ``(1, 28, 28)``
    or ``(6, 100)``); see :func:`load_inputs` for what each kind of preprocessing reads.

    Raises:
        FileFormatError: the file holds more than one sample (use :func:`load_inputs`), or is unreadable.

    Example::

        >>> x = load_input("my_cat.jpg", checkpoint.preprocessing)  # doctest: +SKIP
        >>> logits = model(convgrad.from_numpy(x[None]))  # doctest: +SKIP
    """
    batch = load_inputs(path, preprocessing)
    if len(batch) != 1:
        raise FileFormatError(f"'{os.fspath(path)}' holds {len(batch)} samples; load_input reads one "
                              f"(use load_inputs)")
    return batch[0]


def _stats_array(pre, channels):
    mean = np.asarray(pre.get("mean", [0.0]), dtype=np.float64)
    std = np.asarray(pre.get("std", [1.0]), dtype=np.float64)
    extra = (1,) * (len(pre["input_size"]) - 1)
    if mean.size not in (1, channels) or std.size not in (1, channels):
        raise ArgumentError(f"load_input: preprocessing mean/std have {mean.size}/{std.size} values for "
                            f"{channels} channel(s)")
    return mean.reshape((1, -1) + extra), std.reshape((1, -1) + extra)


def _load_npy(path, size):
    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise FileFormatError(f"'{path}' is not a readable .npy array: {exc}") from None
    if x.shape == size:
        x = x[None]
    if x.ndim != len(size) + 1 or x.shape[1:] != size:
        raise FileFormatError(f"'{path}': expected an array of shape {size} (or (N, {', '.join(map(str, size))})), "
                              f"got {x.shape}")
    return x.astype(np.float64)


def _load_picture(path, pre, size):
    from .folders import resize_crop

    channels = size[0]
    if pre.get("input") == "digit" or (pre.get("dataset") == "mnist" and "input" not in pre):
        grey = read_image(path, channels=1, background="auto", reduce_to=1000)
        digit = digit_from_array(grey, size=size[1], box=round(size[1] * 20 / 28), source=f"'{path}'")
        return digit[None].astype(np.float64) / 255
    image = resize_crop(read_image(path, channels=1 if channels == 1 else 3), size[1:])
    image = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
    return image.astype(np.float64) * (1 / 255)  # a picture's 0..255 is the training data's [0, 1]


def _load_rows(path, pre, size):
    if path.lower().endswith(".ts") or _strip_gz(path.lower()).endswith(".ts"):
        return _load_ts_rows(path, pre, size)
    lines = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            cells = [c for c in re.split(r"[,;\s]+", line) if c]
            try:
                values = [float(c) for c in cells]
            except ValueError:
                raise FileFormatError(f"'{path}' line {number}: expected numbers separated by commas or "
                                      f"spaces") from None
            lines.append((number, values))
    if not lines:
        raise FileFormatError(f"'{path}' holds no values")
    want = int(np.prod(size))
    rows = []
    label = pre.get("label_column")
    for number, values in lines:
        if len(values) == want + 1 and label is not None:
            values = values[:label] + values[label + 1:]
        if len(values) != want:
            raise FileFormatError(f"'{path}' line {number}: {len(values)} values, the model needs {want} "
                                  f"(input size {size})")
        rows.append(values)
    x = np.asarray(rows, dtype=np.float64).reshape((len(rows),) + size)
    if pre.get("znormalize"):
        x = np.stack([znormalize(s) for s in x])
    return x * float(pre.get("scale", 1.0))


def _load_ts_rows(path, pre, size):
    from .timeseries import read_ts_unlabelled

    series = read_ts_unlabelled(path)
    channels, length = size
    out = np.zeros((len(series), channels, length))
    for i, s in enumerate(series):
        if s.shape[0] != channels:
            raise FileFormatError(f"'{path}': series {i + 1} has {s.shape[0]} channel(s), the model needs {channels}")
        if s.shape[1] > length:
            raise FileFormatError(f"'{path}': series {i + 1} has length {s.shape[1]}, longer than the {length} "
                                  f"the model was trained on")
        out[i, :, :s.shape[1]] = znormalize(s) if pre.get("znormalize", True) else np.nan_to_num(s)
    return out


__all__ = ["DataBundle", "open_data", "detect_kind", "load_input", "load_inputs", "stratified_split", "KINDS"]
