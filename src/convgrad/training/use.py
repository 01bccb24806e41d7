"""Using a finished model, as ``convgrad evaluate`` and ``convgrad predict`` do: a checkpoint's
accuracy (and per-class table) on its own data or on ``--data``, and its answers for input files.

    accuracy, n, report = evaluate_checkpoint("runs/a/model.npz", per_class=True)
    for r in predict_files("runs/a/model.npz", ["digit.png", "other.png"], on_error="report"):
        print(r)

Each checkpoint says how it was trained (its objective, preprocessing and class names), so the
same functions serve classifiers, autoencoders and any data kind; a GAN is refused with a line
pointing to ``convgrad generate``.
"""
import os

import numpy as np

from ..data import DataLoader
from ..data.mnist import DatasetNotFoundError
from ..errors import ArgumentError, ConvgradError
from ..io.checkpoint import CheckpointError, load_checkpoint
from ..kernels.blas import blas_threads
from ..tensor import Tensor, no_grad
from .objectives import make_objective, objective_for_model
from .runner import DEFAULTS, EVAL_BATCH, open_run_data, shape_text


def checkpoint_objective(ckpt):
    """The objective name a checkpoint was trained with (``"classification"`` for older ones)."""
    recorded = (ckpt.extra or {}).get("objective") or (ckpt.training or {}).get("objective") or {}
    return recorded.get("name") or objective_for_model(ckpt.model_name)


def _refuse_generator(ckpt, path, verb):
    objective = checkpoint_objective(ckpt)
    if objective == "gan":
        raise CheckpointError(f"'{path}' is a {ckpt.model_name} generator (a GAN): it draws images and classifies "
                              f"none, so {verb} cannot use it; draw from it with `convgrad generate {path}`")
    return objective


def _rescale(images, bundle_pre, ckpt_pre):
    """Batches normalised with the data's mean/std, re-normalised with the checkpoint's."""
    bm, bs = bundle_pre.get("mean"), bundle_pre.get("std")
    cm, cs = ckpt_pre.get("mean"), ckpt_pre.get("std")
    if None in (bm, bs, cm, cs) or (list(bm) == list(cm) and list(bs) == list(cs)):
        return images
    shape = (1, -1) + (1,) * (images.ndim - 2)
    raw = images * np.asarray(bs, np.float32).reshape(shape) + np.asarray(bm, np.float32).reshape(shape)
    return ((raw - np.asarray(cm, np.float32).reshape(shape)) / np.asarray(cs, np.float32).reshape(shape)).astype(
        np.float32)


def _eval_data(ckpt, data, data_kind, max_test):
    """The data to evaluate on: ``data`` (else the run's own data), shaped like the training input."""
    cfg = (ckpt.extra or {}).get("config") or {}
    pre = ckpt.preprocessing or {}
    size = pre.get("input_size")
    same = data is None
    settings = {**DEFAULTS, **{k: v for k, v in cfg.items() if k in DEFAULTS}} if same else dict(DEFAULTS)
    if not same:
        settings["data"], settings["data_kind"] = data, data_kind
        if size is not None and len(size) == 3:
            settings["channels"], settings["image_size"] = int(size[0]), int(size[-1])
        settings["label_column"] = cfg.get("label_column")
    settings.update({"augment": False, "max_train": None, "max_test": max_test})
    bundle = _idx_test_only(settings, pre)  # t10k files alone: all of them, not a split of them
    if bundle is None:
        bundle = open_run_data(settings)
    if size is not None and list(bundle.input_shape) != [int(s) for s in size]:
        raise CheckpointError(f"checkpoint '{ckpt.path}' is a {ckpt.model_name} model for {shape_text(size)} input; the "
                              f"data's samples are {shape_text(bundle.input_shape)}")
    return bundle


def _idx_test_only(settings, pre):
    """An IDX directory holding only the ``t10k-*`` test files (enough to evaluate a model): its
    test split with the checkpoint's normalisation, or None if it has none."""
    from types import SimpleNamespace

    from ..data.datasets import ArrayDataset
    from ..data.mnist import load_mnist_arrays
    from ..data.transforms import Compose, Normalize, ToTensor

    if settings["data"] is None or settings["data_kind"] not in (None, "idx") or not os.path.isdir(settings["data"]):
        return None
    if any(name.startswith(("train-images", "train-labels")) for name in os.listdir(settings["data"])):
        return None  # a whole IDX directory: open_data reads it
    try:
        images, labels = load_mnist_arrays(settings["data"], train=False)
    except DatasetNotFoundError:
        return None
    if settings["max_test"] is not None and settings["max_test"] < len(labels):
        idx = np.sort(np.random.default_rng([settings["seed"], 7]).permutation(len(labels))[:settings["max_test"]])
        images, labels = images[idx], labels[idx]
    test = ArrayDataset(images, labels, Compose([ToTensor(), Normalize(pre.get("mean", [0.0]), pre.get("std", [1.0]))]))
    return SimpleNamespace(test=test, test_name="test", input_shape=(1,) + images.shape[1:], preprocessing=pre)


def _build_checked(ckpt):
    size = (ckpt.preprocessing or {}).get("input_size")
    model = ckpt.build_model()
    model.eval()
    return model, size


def evaluate_checkpoint(path, data=None, max_test=None, data_kind=None, per_class=False):
    """Evaluate the model in checkpoint ``path`` on the whole test split of ``data`` (default: the
    data it was trained on; the bundled MNIST sample's 10,000 official test images for the main
    job), with the checkpoint's preprocessing; ``max_test`` takes a seeded random subset.

    Returns:
        ``(accuracy, n)`` (classification), or, with ``per_class=True``, a dict: ``objective``,
        ``images`` (how many were used), ``split``, and ``accuracy`` plus ``per_class`` (a list of
        ``{"class", "name", "images", "correct", "accuracy"}``) for a classifier, ``loss`` ... for
        an autoencoder.

    Raises:
        CheckpointError: a GAN (it classifies nothing), or data that does not fit the model.
    """
    ckpt = load_checkpoint(path)
    objective_name = _refuse_generator(ckpt, path, "evaluate")
    bundle = _eval_data(ckpt, data, data_kind, max_test)
    model, _ = _build_checked(ckpt)
    pre, bpre = ckpt.preprocessing or {}, bundle.preprocessing or {}
    loader = DataLoader(bundle.test, batch_size=EVAL_BATCH)
    report = {"objective": objective_name, "images": len(bundle.test), "split": bundle.test_name}
    with blas_threads(1), no_grad():
        if objective_name == "classification":
            names = list((ckpt.extra or {}).get("class_names") or pre.get("classes") or [])
            counts, correct = {}, {}
            for images, labels in loader:
                logits = model(Tensor(_rescale(images.numpy(), bpre, pre))).numpy()
                y = labels.numpy()
                hit = logits.argmax(axis=1) == y
                for c in np.unique(y):
                    counts[int(c)] = counts.get(int(c), 0) + int((y == c).sum())
                    correct[int(c)] = correct.get(int(c), 0) + int(hit[y == c].sum())
            total = sum(correct.values()) / max(1, sum(counts.values()))
            report["accuracy"] = total
            report["per_class"] = [{"class": c, "name": names[c] if c < len(names) else str(c), "images": counts[c],
                                    "correct": correct[c], "accuracy": correct[c] / counts[c]} for c in sorted(counts)]
        else:
            pre_obj = make_objective(objective_name, mean=pre.get("mean"), std=pre.get("std"))
            rescaled = _Rescaled(loader, bpre, pre)
            report.update(pre_obj.evaluate(model, rescaled))
    if per_class:
        return report
    if objective_name != "classification":
        raise CheckpointError(f"'{path}' is an {ckpt.model_name} ({objective_name}); it has no accuracy")
    return report["accuracy"], report["images"]


class _Rescaled:
    def __init__(self, loader, bpre, pre):
        self.loader, self.bpre, self.pre = loader, bpre, pre

    def __iter__(self):
        for images, labels in self.loader:
            yield Tensor(_rescale(images.numpy(), self.bpre, self.pre)), labels


def predict_files(path, input_paths, on_error="raise"):
    """Predictions of the model in checkpoint ``path`` for each input file (images, or series for
    a sequence model), read with ``convgrad.data.load_input`` and the checkpoint's preprocessing.

    Args:
        path: the checkpoint.
        input_paths: the files to predict.
        on_error: "raise" (the first unreadable or ill-sized file raises, before any prediction)
            or "report" (such a file gets a result ``{"path", "error"}`` and the others are
            answered: what ``convgrad predict a.png missing.png b.png`` does).

    Returns:
        A list of dicts in the order of ``input_paths``: ``path`` and, for a classifier, ``class``
        (index), ``name`` and ``probability``; for an autoencoder, ``reconstruction_error`` (mean
        squared, in [0, 1] pixels); with ``on_error="report"``, ``error`` for a file that failed.

    Raises:
        CheckpointError: a GAN checkpoint, or one that cannot be read. With ``on_error="raise"``,
            the data errors of unreadable files.
    """
    from ..data import load_input
    from ..functional import softmax

    if not input_paths:
        raise ArgumentError("predict: give at least one input file")
    if on_error not in ("raise", "report"):
        raise ArgumentError(f"predict_files: on_error must be 'raise' or 'report', got {on_error!r}")
    ckpt = load_checkpoint(path)
    objective_name = _refuse_generator(ckpt, path, "predict")
    model, size = _build_checked(ckpt)
    pre = ckpt.preprocessing or {}
    results, samples = [None] * len(input_paths), []
    for i, p in enumerate(input_paths):
        try:
            sample = np.asarray(load_input(p, pre), dtype=np.float32)
            if size is not None and list(sample.shape) != [int(s) for s in size]:
                raise CheckpointError(f"checkpoint '{path}' expects inputs of {shape_text(size)}, '{p}' gave "
                                      f"{shape_text(sample.shape)}")
        except (ConvgradError, OSError) as exc:
            if on_error == "raise":
                raise
            results[i] = {"path": p, "error": " ".join(str(exc).split())}
            continue
        samples.append((i, sample))
    if not samples:
        return results
    batch = np.stack([sample for _, sample in samples])
    with no_grad(), blas_threads(1):
        if objective_name == "classification":
            names = list((ckpt.extra or {}).get("class_names") or pre.get("classes") or [])
            probs = softmax(model(Tensor(batch)), dim=1).numpy()
            for (i, _), row in zip(samples, probs):
                c = int(row.argmax())
                results[i] = {"path": input_paths[i], "class": c, "name": names[c] if c < len(names) else str(c),
                              "probability": float(row.max())}
            return results
        objective = make_objective(objective_name, mean=pre.get("mean"), std=pre.get("std"))
        target = objective.targets.unit(batch).numpy()
        recon = model(Tensor(batch)).numpy()
        errors = ((recon - target) ** 2).reshape(len(batch), -1).mean(axis=1)
        for (i, _), e in zip(samples, errors):
            results[i] = {"path": input_paths[i], "reconstruction_error": float(e)}
        return results


def predict_digits(path, image_paths):
    """``[(image_path, class index, probability)]`` for each image file (a classifier checkpoint)."""
    return [(r["path"], r["class"], r["probability"]) for r in predict_files(path, image_paths)
            if "class" in r]
