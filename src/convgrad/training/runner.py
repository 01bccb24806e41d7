"""Whole training runs on MNIST, as ``convgrad train / evaluate / predict`` perform them.

A run directory holds::

    config.json       the run's settings (everything needed to rebuild model, optimizer and data)
    checkpoint.npz    the latest resumable checkpoint (with --checkpoint-every N), written atomically
    model.npz         the final weights, preprocessing and test accuracy

``train_run(config)`` starts a run, ``resume_run(run_dir)`` continues an interrupted one (same
weights at the end as an uninterrupted run), ``evaluate_checkpoint`` and ``predict_digits`` use a
finished model.
"""
import json
import math
import os
import time

import numpy as np

from .. import backend
from ..data import DataLoader, MNIST, load_digit, mnist_transforms
from ..data.datasets import ArrayDataset
from ..data.mnist import MNIST_MEAN, MNIST_STD
from ..data.transforms import Compose, Normalize, ToTensor
from ..errors import ArgumentError, ConvgradError
from ..io.checkpoint import CheckpointError, atomic_write, build_model, load_checkpoint, save_checkpoint
from ..tensor import Tensor, no_grad
from ..kernels.blas import blas_threads
from .fit import evaluate, fit

# The defaults of `convgrad train`, chosen by measurement (see README): 98.2-98.6% on the official
# 10,000 test images from the 5,000 bundled training images, in about 25 s of CPU time.
DEFAULTS = {
    "model": "lenet5",
    "variant": "modern",      # ReLU + max pooling
    "data": None,             # None: the bundled sample
    "epochs": 15,
    "batch_size": 64,
    "lr": 4e-3,               # peak learning rate of the one-cycle schedule
    "optimizer": "adam",
    "schedule": "onecycle",
    "augment": True,          # random rotation +-10 deg, shift +-2 px, zoom 0.9-1.1
    "seed": 0,
    "checkpoint_every": None,
    "max_train": None,        # use a random subset of this many training images (quick runs)
    "max_test": None,
    "detect_anomaly": False,
    "on_nonfinite": "stop",
    "threads": 1,             # BLAS threads: one is fastest for LeNet-sized matrices (see kernels/blas.py)
}
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("onecycle", "cosine", "none")
CONFIG_FILE, CHECKPOINT_FILE, MODEL_FILE = "config.json", "checkpoint.npz", "model.npz"
EVAL_BATCH = 500


class RunError(ConvgradError, ValueError):
    """A run directory cannot be used (missing, finished, or from another version)."""


def check_config(config):
    """Fill defaults and check every setting; raise ArgumentError naming the bad one."""
    unknown = set(config) - set(DEFAULTS) - {"out"}
    if unknown:
        raise ArgumentError(f"train: unknown settings {sorted(unknown)}")
    cfg = {**DEFAULTS, **{k: v for k, v in config.items() if v is not None}}
    for key in ("epochs", "batch_size", "checkpoint_every", "max_train", "max_test", "threads"):
        value = cfg[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ArgumentError(f"train: {key.replace('_', '-')} must be a positive integer, got {value!r}")
    if not isinstance(cfg["seed"], int) or cfg["seed"] < 0:
        raise ArgumentError(f"train: seed must be an integer >= 0, got {cfg['seed']!r}")
    lr = cfg["lr"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 10:
        raise ArgumentError(f"train: lr must be a number in (0, 10], got {lr!r}")
    cfg["lr"] = float(lr)
    if cfg["optimizer"] not in OPTIMIZERS:
        raise ArgumentError(f"train: optimizer must be one of {', '.join(OPTIMIZERS)}, got {cfg['optimizer']!r}")
    if cfg["schedule"] not in SCHEDULES:
        raise ArgumentError(f"train: schedule must be one of {', '.join(SCHEDULES)}, got {cfg['schedule']!r}")
    from .. import models

    if cfg["model"] not in models.list_models():
        raise ArgumentError(f"train: unknown model {cfg['model']!r}; available models: "
                            f"{', '.join(models.list_models())}")
    if cfg["model"] != "lenet5" and "variant" in config and config["variant"] is not None:
        raise ArgumentError(f"train: --variant applies to lenet5 only, not {cfg['model']}")
    return cfg


def model_kwargs(cfg):
    if cfg["model"] == "lenet5":
        return {"num_classes": 10, "in_channels": 1, "variant": cfg["variant"]}
    return {"num_classes": 10, "in_channels": 1}


def _subset(dataset, n, seed):
    """A seeded random subset of ``n`` samples (the bundled train set is sorted by class)."""
    if n is None or n >= len(dataset):
        return dataset
    idx = np.sort(np.random.default_rng([seed, 7]).permutation(len(dataset))[:n])
    return ArrayDataset(dataset.data[idx], dataset.targets[idx], dataset.transform)


def _datasets(cfg):
    train = MNIST(cfg["data"], train=True, transform=mnist_transforms(augment=cfg["augment"]))
    test = MNIST(cfg["data"], train=False, transform=mnist_transforms(augment=False))
    return _subset(train, cfg["max_train"], cfg["seed"]), _subset(test, cfg["max_test"], cfg["seed"])


def _optimizer(cfg, model, steps_per_epoch):
    from .. import optim

    params = list(model.parameters())
    if cfg["optimizer"] == "adam":
        opt = optim.Adam(params, lr=cfg["lr"])
    else:
        opt = optim.SGD(params, lr=cfg["lr"], momentum=0.9, nesterov=True, weight_decay=5e-4)
    total = cfg["epochs"] * steps_per_epoch
    if cfg["schedule"] == "onecycle":
        sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=total)
    elif cfg["schedule"] == "cosine":
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    else:
        sched = None
    return opt, sched


def preprocessing_of(cfg):
    return {"mean": [MNIST_MEAN], "std": [MNIST_STD], "input_size": [1, 28, 28], "dataset": "mnist",
            "classes": [str(d) for d in range(10)]}


def default_run_dir():
    base = os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}-{n}"
    return path


def _write_json(path, obj):
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=1, sort_keys=True).encode("utf-8")))


def train_run(config=None, out=None, log=print, progress=True):
    """Train from scratch with ``config`` (see DEFAULTS) into run directory ``out``.

    Returns a dict: ``test_accuracy``, ``model_path``, ``run_dir``, ``seconds`` (training only),
    ``images_per_second``, ``history``.
    """
    cfg = check_config(dict(config or {}))
    run_dir = os.fspath(out) if out is not None else default_run_dir()
    if os.path.exists(os.path.join(run_dir, CONFIG_FILE)):
        raise RunError(f"'{run_dir}' already holds a run; continue it with --resume {run_dir} or choose another --out")
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise RunError(f"--out '{run_dir}' exists and is not a directory")
    datasets = _datasets(cfg)  # before creating the directory: bad data leaves nothing behind
    os.makedirs(run_dir, exist_ok=True)
    _write_json(os.path.join(run_dir, CONFIG_FILE), {"format": "convgrad-run", "version": 1, "config": cfg})
    return _run(cfg, run_dir, datasets, None, log, progress)


def resume_run(run_dir, log=print, progress=True):
    """Continue the run in ``run_dir`` from its last checkpoint (from the start if there is none)."""
    run_dir = os.fspath(run_dir)
    config_path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise RunError(f"'{run_dir}' is not a run directory (no {CONFIG_FILE})")
    try:
        with open(config_path, encoding="utf-8") as f:
            saved = json.load(f)
        cfg = check_config(saved["config"])
    except (ValueError, KeyError, TypeError) as exc:
        raise RunError(f"'{config_path}' is malformed: {exc}") from None
    if os.path.isfile(os.path.join(run_dir, MODEL_FILE)):
        raise RunError(f"the run in '{run_dir}' has already finished ({MODEL_FILE} exists)")
    ckpt_path = os.path.join(run_dir, CHECKPOINT_FILE)
    ckpt = load_checkpoint(ckpt_path) if os.path.isfile(ckpt_path) else None
    if ckpt is not None and log is not None:
        log(f"resuming '{run_dir}' at epoch {ckpt.training['epoch'] + 1}, optimizer step {ckpt.training['step']}")
    return _run(cfg, run_dir, _datasets(cfg), ckpt, log, progress)


def _run(cfg, run_dir, datasets, resume, log, progress):
    train_set, test_set = datasets
    backend.manual_seed(cfg["seed"])
    model = build_model(cfg["model"], **model_kwargs(cfg))
    loader = DataLoader(train_set, batch_size=cfg["batch_size"], shuffle=True, seed=cfg["seed"])
    optimizer, scheduler = _optimizer(cfg, model, len(loader))
    interval = "step" if scheduler is not None else "epoch"
    preprocessing = preprocessing_of(cfg)
    ckpt_path = os.path.join(run_dir, CHECKPOINT_FILE) if cfg["checkpoint_every"] else None
    if log is not None and resume is None:
        n_params = sum(p.numel() for p in model.parameters())
        log(f"training {cfg['model']} ({n_params:,} parameters) on {len(train_set)} images for {cfg['epochs']} "
            f"epochs: {cfg['optimizer']} lr {cfg['lr']:g} ({cfg['schedule']}), batch {cfg['batch_size']}, "
            f"augment {'on' if cfg['augment'] else 'off'}, seed {cfg['seed']}")
    # overflow on the way to a NaN loss is reported by fit's NaN watch, not by NumPy warnings
    with blas_threads(cfg["threads"]), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _fit_and_save(cfg, run_dir, model, loader, optimizer, scheduler, interval, preprocessing, ckpt_path,
                             test_set, resume, log, progress)


def _fit_and_save(cfg, run_dir, model, loader, optimizer, scheduler, interval, preprocessing, ckpt_path, test_set,
                  resume, log, progress):
    t0 = time.perf_counter()
    history = fit(model, loader, optimizer, cfg["epochs"], scheduler=scheduler, scheduler_interval=interval,
                  checkpoint_path=ckpt_path, checkpoint_every=cfg["checkpoint_every"],
                  checkpoint_kwargs={"preprocessing": preprocessing, "extra": {"config": cfg}},
                  resume=resume, on_nonfinite=cfg["on_nonfinite"], detect_anomaly=cfg["detect_anomaly"],
                  progress=progress, log=log)
    seconds = time.perf_counter() - t0
    test_loader = DataLoader(test_set, batch_size=EVAL_BATCH)
    accuracy = evaluate(model, test_loader)
    images = sum(h["images_per_second"] * h["seconds"] for h in history)
    train_seconds = sum(h["seconds"] for h in history)
    result = {"test_accuracy": accuracy, "test_images": len(test_set), "run_dir": run_dir,
              "model_path": os.path.join(run_dir, MODEL_FILE), "seconds": seconds,
              "images_per_second": images / max(train_seconds, 1e-9), "history": history}
    save_checkpoint(result["model_path"], model, preprocessing=preprocessing,
                    extra={"config": cfg, "test_accuracy": accuracy, "test_images": len(test_set),
                           "history": history})
    return result


# ----------------------------------------------------------------------------------------------
# Using a finished model
# ----------------------------------------------------------------------------------------------
def _load_mnist_model(path):
    ckpt = load_checkpoint(path)
    pre = ckpt.preprocessing or {}
    size = pre.get("input_size")
    if size is not None and list(size) != [1, 28, 28]:
        raise CheckpointError(f"checkpoint '{path}' is a {ckpt.model_name} model for {'x'.join(map(str, size))} "
                              f"input; MNIST digits are 1x28x28")
    model = ckpt.build_model()
    model.eval()
    mean, std = pre.get("mean", [0.0]), pre.get("std", [1.0])
    return ckpt, model, Compose([ToTensor(), Normalize(mean, std)])


def evaluate_checkpoint(path, data=None, max_test=None):
    """Accuracy of the model in checkpoint ``path`` on the MNIST test split (bundled by default,
    else the ``t10k-*`` files of ``data``), with the checkpoint's preprocessing.

    ``max_test`` defaults to the test-set size recorded at training time when evaluating on the
    same data, so the result matches what ``train`` printed."""
    ckpt, model, transform = _load_mnist_model(path)
    test = MNIST(data, train=False, transform=transform)
    trained_cfg = (ckpt.extra or {}).get("config") or {}
    if max_test is None and trained_cfg.get("data") == data:
        max_test = trained_cfg.get("max_test")
    test = _subset(test, max_test, trained_cfg.get("seed", 0))
    with blas_threads(1):
        return evaluate(model, DataLoader(test, batch_size=EVAL_BATCH)), len(test)


def predict_digits(path, image_paths):
    """``[(image_path, digit, probability)]`` for each image file, with the model in ``path``."""
    from ..functional import softmax

    if not image_paths:
        raise ArgumentError("predict: give at least one image file")
    _, model, transform = _load_mnist_model(path)
    digits = np.stack([load_digit(p) for p in image_paths])  # all read first: a bad file fails early
    with no_grad(), blas_threads(1):
        probs = softmax(model(Tensor(transform(digits))), dim=1).numpy()
    return [(p, int(row.argmax()), float(row.max())) for p, row in zip(image_paths, probs)]
