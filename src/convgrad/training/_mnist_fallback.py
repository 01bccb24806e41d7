"""TEMPORARY: the MNIST-only part of the data contract (INTERFACES.md section 1) until branch
`data` provides ``convgrad.data.open_data``, ``load_input`` and ``convgrad.models.build_for_data``.
Delete this file when those exist."""
from types import SimpleNamespace

import numpy as np

from ..data import MNIST, load_digit, mnist_transforms
from ..data.datasets import ArrayDataset
from ..data.mnist import MNIST_MEAN, MNIST_STD
from ..errors import ArgumentError
from ..io.checkpoint import build_model


def _subset(dataset, n, seed):
    if n is None or n >= len(dataset):
        return dataset
    idx = np.sort(np.random.default_rng([seed, 7]).permutation(len(dataset))[:n])
    return ArrayDataset(dataset.data[idx], dataset.targets[idx], dataset.transform)


def open_data(path=None, kind=None, *, image_size=None, channels=None, val_split=0.2, seed=0, label_column=None,
              strict=False, augment=False, max_train=None, max_test=None):
    if kind not in (None, "idx"):
        raise ArgumentError(f"--data-kind {kind} is not available in this build (only idx)")
    notes = [f"max_{w}={n:,} is more than the {len(ds):,} {w} samples: using all {len(ds):,}"
             for w, n, ds in (("train", max_train, MNIST(path, train=True)), ("test", max_test, MNIST(path, train=False)))
             if n is not None and n > len(ds)]
    train = _subset(MNIST(path, train=True, transform=mnist_transforms(augment=augment)), max_train, seed)
    test = _subset(MNIST(path, train=False, transform=mnist_transforms(augment=False)), max_test, seed)
    classes = [str(d) for d in range(10)]
    return SimpleNamespace(
        kind="idx", train=train, test=test, test_name="test", input_shape=(1, 28, 28), num_classes=10,
        class_names=classes, split=None, warnings=notes,
        description=f"MNIST (IDX): 10 classes, {len(train):,} train / {len(test):,} test images, 28x28 grey",
        preprocessing={"kind": "idx", "dataset": "mnist", "input_size": [1, 28, 28], "classes": classes,
                       "mean": [MNIST_MEAN], "std": [MNIST_STD]})


def build_for_data(name, input_shape, num_classes, **kwargs):
    kwargs = {"num_classes": num_classes, "in_channels": int(input_shape[0]), **kwargs}
    return build_model(name, **kwargs), kwargs


def load_input(path, preprocessing):
    digit = load_digit(path).astype(np.float32) / 255
    return ((digit - preprocessing["mean"][0]) / preprocessing["std"][0])[None]
