"""Whole training runs, as ``convgrad train / evaluate / predict`` perform them, on any data.

    result = train_run({"model": "lenet5"}, out="runs/a")              # the bundled MNIST sample
    result = train_run({"data": "photos/", "model": "resnet18"}, out="runs/b", stop=event)
    result = resume_run("runs/b")                                       # continue an interrupted run
    result = resume_run("runs/a", epochs=30)                            # extend a finished one

The data describes itself (``convgrad.data.open_data``: kind, channels, size, classes, names), the
model is built for it (``convgrad.models.build_for_data``), and the model's name picks the
objective (``conv_autoencoder`` -> reconstruction, ``vae`` -> ELBO, ``dcgan`` -> GAN, anything else
-> classification). The run directory's files are described in :mod:`convgrad.training.rundir`; using a finished
model (``evaluate``, ``predict``) is :mod:`convgrad.training.use`.

Before the first step the runner checks that the model runs on one sample of the data (a shape
trace, no arithmetic) and that a training step fits in memory at the chosen batch size; either
failure is one line saying what to change. ``stop`` (an object with ``is_set()``) ends the run
after the current step with a resumable checkpoint (``result["stopped"] = True``).
"""
import math
import os
import sys
import time

import numpy as np

from .. import backend
from ..data import DataLoader
from ..errors import ArgumentError, ResourceLimitError
from ..io.checkpoint import build_model, load_checkpoint, save_checkpoint
from ..kernels.blas import blas_threads
from .fit import fit
from .objectives import make_objective, objective_for_model
from .rundir import (CHECKPOINT_FILE, CONFIG_FILE, FILTERS_FILE, METRICS_FILE, MODEL_FILE, SPLIT_FILE, MetricsWriter,
                     RunError, RunLock, check_new_run_dir, default_run_dir, write_json)

# The defaults of `convgrad train`, chosen by measurement (see README): 98.2-98.6% on the official
# 10,000 test images from the 5,000 bundled training images (98.54% with seed 0 since augmentation
# draws per-sample streams, data/sample_rng.py; 98.58% before).
DEFAULTS = {
    "model": None,            # None: lenet5, or fcn1d for time series (.ts) data
    "variant": "modern",      # lenet5 only: ReLU + max pooling
    "data": None,             # None: the bundled sample
    "data_kind": None,        # None: detected (idx, image_folder, npz, csv, ts)
    "image_size": None,       # image side for image folders (None: the data's, or chosen and said)
    "channels": None,         # 1 or 3 for image folders (None: the data's)
    "val_split": 0.2,         # held-out share when the data has no test split (seeded, stratified)
    "label_column": None,     # CSV label column
    "strict": False,          # unreadable files fail the run instead of being skipped
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
    "latent_dim": None,       # conv_autoencoder / vae / dcgan code size (None: the model's default)
    "log_every": 10,          # a step row in metrics.jsonl every N steps
    "record_filters": None,   # record the first conv layer's filters every N steps (filters.npz)
    "health_every": None,     # health rows (dead ReLUs, gradient norms) every N steps
    "sync_bn": False,         # data-parallel runs: batch-norm statistics over all ranks (SyncBatchNorm)
}
# Defaults of the generative models, measured on the bundled sample (README, "Beyond the main
# job"): peak lr 3e-3 beat 1e-3 after 10 epochs for both autoencoders (test BCE 0.104 vs 0.116;
# VAE test loss 106.6 vs 117.4 per image); DCGAN: the paper's lr 2e-4 and Adam beta1 0.5, for 10
# epochs (LeNet-5's mean top probability on its samples 0.80; 5 epochs: 0.66, or 0.72 at lr 5e-4).
# Settings given explicitly win.
MODEL_DEFAULTS = {
    "conv_autoencoder": {"epochs": 10, "lr": 3e-3, "augment": False},
    "vae": {"epochs": 10, "lr": 3e-3, "augment": False},
    "dcgan": {"epochs": 10, "lr": 2e-4, "schedule": "none", "augment": False},
}
GENERATIVE = tuple(MODEL_DEFAULTS)
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("onecycle", "cosine", "none")
EVAL_BATCH = 500
# settings that change no result: a resumed run may take new values
RESUME_FREE = ("threads", "checkpoint_every", "log_every")
STEP_MEMORY_FACTOR = 3  # activations kept for backward + their gradients + im2col buffers, per sample


def _warn(text):
    print(f"warning: {text}", file=sys.stderr)


# ----------------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------------
def check_config(config):
    """Fill defaults (the model's own first) and check every setting; raise ArgumentError naming the bad one."""
    unknown = set(config) - set(DEFAULTS) - {"out"}
    if unknown:
        raise ArgumentError(f"train: unknown settings {sorted(unknown)}")
    given = {k: v for k, v in config.items() if v is not None and k != "out"}
    model = given.get("model") or _default_model(given)
    if "model" not in given and "image_size" not in given and _is_image_folder(given):
        given["image_size"] = 32  # the default LeNet-5 takes its paper's 32x32: pictures of any size fit it
    cfg = {**DEFAULTS, **MODEL_DEFAULTS.get(model, {}), **given, "model": model}
    for key in ("epochs", "batch_size", "checkpoint_every", "max_train", "max_test", "threads", "image_size",
                "latent_dim", "log_every", "record_filters", "health_every"):
        value = cfg[key]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ArgumentError(f"train: {key.replace('_', '-')} must be a positive integer, got {value!r}")
    if not isinstance(cfg["seed"], int) or isinstance(cfg["seed"], bool) or cfg["seed"] < 0:
        raise ArgumentError(f"train: seed must be an integer >= 0, got {cfg['seed']!r}")
    lr = cfg["lr"]
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= 10:
        raise ArgumentError(f"train: lr must be a number in (0, 10], got {lr!r}")
    cfg["lr"] = float(lr)
    split = cfg["val_split"]
    if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 < split < 1:
        raise ArgumentError(f"train: val-split must be a fraction in (0, 1), got {split!r}")
    if cfg["channels"] not in (None, 1, 3):
        raise ArgumentError(f"train: channels must be 1 or 3, got {cfg['channels']!r}")
    if cfg["optimizer"] not in OPTIMIZERS:
        raise ArgumentError(f"train: optimizer must be one of {', '.join(OPTIMIZERS)}, got {cfg['optimizer']!r}")
    if cfg["schedule"] not in SCHEDULES:
        raise ArgumentError(f"train: schedule must be one of {', '.join(SCHEDULES)}, got {cfg['schedule']!r}")
    from .. import models

    if cfg["model"] not in models.list_models():
        raise ArgumentError(f"train: unknown model {cfg['model']!r}; available models: "
                            f"{', '.join(models.list_models())}")
    if cfg["model"] != "lenet5" and given.get("variant") is not None:
        raise ArgumentError(f"train: --variant applies to lenet5 only, not {cfg['model']}")
    if cfg["latent_dim"] is not None and cfg["model"] not in GENERATIVE:
        raise ArgumentError(f"train: --latent-dim applies to {', '.join(GENERATIVE)}, not {cfg['model']}")
    return cfg


def _is_image_folder(given):
    """Whether ``--data`` (or ``--data-kind``) names an image folder."""
    if given.get("data_kind") is not None:
        return given["data_kind"] == "image_folder"
    if given.get("data") is None or not os.path.isdir(os.fspath(given["data"])):
        return False
    from ..data import detect_kind

    try:
        return detect_kind(os.fspath(given["data"])) == "image_folder"
    except ValueError:  # not a kind it knows: open_data will say so
        return False


def _default_model(given):
    """lenet5, or fcn1d when the data is time series (``--data-kind ts`` or ``*.ts`` files)."""
    data, kind = given.get("data"), given.get("data_kind")
    if kind == "ts":
        return "fcn1d"
    if kind is None and data is not None:
        path = os.fspath(data)
        if path.endswith(".ts") or (os.path.isdir(path) and any(f.endswith(".ts") for f in os.listdir(path))):
            return "fcn1d"
    return "lenet5"


# ----------------------------------------------------------------------------------------------
# Data and model
# ----------------------------------------------------------------------------------------------
def open_run_data(cfg):
    """The run's :class:`~convgrad.data.DataBundle` (``convgrad.data.open_data`` with its settings)."""
    from ..data import open_data

    return open_data(cfg["data"], cfg["data_kind"], image_size=cfg["image_size"], channels=cfg["channels"],
                     val_split=cfg["val_split"], seed=cfg["seed"], label_column=cfg["label_column"],
                     strict=cfg["strict"], augment=cfg["augment"], max_train=cfg["max_train"],
                     max_test=cfg["max_test"])


def _generative_kwargs(name, shape, cfg):
    if len(shape) != 3:
        raise ArgumentError(f"train: {name} works on images (C, H, W); the data's samples are {shape_text(shape)}")
    channels, height, width = shape
    latent = {} if cfg["latent_dim"] is None else {"latent_dim": cfg["latent_dim"]}
    if name == "dcgan":
        if height != width:
            raise ArgumentError(f"train: dcgan needs square images; the data's are {height}x{width} (use --image-size)")
        return {"in_channels": channels, "image_size": height, **latent}
    if name == "conv_autoencoder":
        latent = {"code_dim": latent["latent_dim"]} if latent else {}
    return {"in_channels": channels, "input_size": height if height == width else [height, width], **latent}


def build_run_model(cfg, bundle):
    """``(model, kwargs)``: the zoo model ``cfg["model"]`` built for the bundle's samples and classes."""
    name, shape = cfg["model"], tuple(bundle.input_shape)
    if name in GENERATIVE:
        kwargs = _generative_kwargs(name, shape, cfg)
        return build_model(name, **kwargs), kwargs
    from ..models import build_for_data

    extra = {"variant": cfg["variant"]} if name == "lenet5" else {}
    return build_for_data(name, shape, bundle.num_classes, **extra)


def shape_text(shape):
    """A shape as text: (1, 28, 28) -> '1x28x28'."""
    return "x".join(str(int(s)) for s in shape)


def _available_memory():
    """Bytes this process may still allocate: the smaller of the system's available memory and
    what the address-space limit (``ulimit -v``) leaves; None if neither is known."""
    limits = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            used = 0
            with open("/proc/self/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith("VmSize:"):
                        used = int(line.split()[1]) * 1024
            limits.append(max(soft - used, 0))
    except (ImportError, OSError, ValueError):
        pass
    return min(limits) if limits else None


def _gb(nbytes):
    return f"{nbytes / 1e9:.1f} GB" if nbytes >= 1e8 else f"{nbytes / 1e6:.0f} MB"


def check_input_memory(shape, batch_size, n_train, what="train"):
    """Refuse, before a model is built, a batch whose input array alone does not fit in memory."""
    batch = min(batch_size, n_train)
    need = batch * int(np.prod(shape)) * 4
    available = _available_memory()
    if available is not None and need > available:
        fits = max(1, available // (int(np.prod(shape)) * 4 * 8))
        raise ResourceLimitError(f"{what}: a batch of {batch:,} samples of {shape_text(shape)} needs {_gb(need)} for its "
                                 f"input alone, about {_gb(available)} is available; use --batch-size {fits:,} or "
                                 "less (or a smaller --image-size)")


def check_model_fits(model, name, shape, batch_size, objective, what="train"):
    """Before the first step: the model runs on one sample of ``shape`` (a shape trace), and a
    training step at ``batch_size`` fits in memory (its activations, gradients and buffers, and
    the parameters with their gradients and optimizer moments). Returns the estimated bytes.

    Raises:
        ArgumentError: the model does not take samples of this shape (the layer's message kept).
        ResourceLimitError: the step would not fit; names the largest batch size that would.
    """
    from ..inspect.summary import summary

    sample = (model.latent_dim,) if objective.name == "gan" else tuple(shape)
    try:
        s = summary(model, sample, batch_size=1)
        if objective.name == "gan":  # the discriminator sees the images
            s.activation_bytes += summary(model.discriminator, tuple(shape), batch_size=1).activation_bytes
    except (ValueError, TypeError) as exc:
        raise ArgumentError(f"{what}: {name} does not fit the data's {shape_text(shape)} samples: "
                            f"{' '.join(str(exc).split())}") from None
    per_sample = STEP_MEMORY_FACTOR * s.activation_bytes
    fixed = 4 * s.param_bytes  # weights, gradients, two Adam moments
    need = fixed + batch_size * per_sample
    available = _available_memory()
    if available is not None and need > available:
        fits = int((available - fixed) // per_sample) if available > fixed else 0
        advice = f"use --batch-size {fits:,} or less" if fits >= 1 else "the model itself does not fit: choose a smaller one"
        raise ResourceLimitError(f"{what}: {name} at batch size {batch_size:,} on {shape_text(shape)} samples needs about "
                                 f"{_gb(need)} for a training step, about {_gb(available)} is available; {advice}"
                                 " (or a smaller --image-size)")
    return need


def _objective(cfg, bundle):
    name = objective_for_model(cfg["model"])
    if name == "classification":
        return make_objective(name)
    pre = bundle.preprocessing or {}
    return make_objective(name, mean=pre.get("mean"), std=pre.get("std"))


def _optimizers(cfg, model, objective, steps, scheduled_steps=None):
    """The optimizer (an :class:`Optimizers` group for several networks) and the LR schedule."""
    from .. import optim
    from .groups import Optimizers

    def one(params):
        params = list(params)
        if cfg["optimizer"] == "adam":
            betas = (0.5, 0.999) if objective.name == "gan" else (0.9, 0.999)  # DCGAN's beta1
            return optim.Adam(params, lr=cfg["lr"], betas=betas)
        return optim.SGD(params, lr=cfg["lr"], momentum=0.9, nesterov=True, weight_decay=5e-4)

    keys = objective.optimizer_keys
    opts = {key: one(objective.parameters(model, key)) for key in keys}
    optimizer = opts["model"] if keys == ("model",) else Optimizers(opts)
    return optimizer, _schedule(cfg, opts, keys, scheduled_steps or cfg["epochs"] * steps)


def _schedule(cfg, opts, keys, total):
    from .. import optim
    from .groups import Schedulers

    def one(opt):
        if cfg["schedule"] == "onecycle":
            return optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=total)
        return optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)

    if cfg["schedule"] == "none":
        return None
    scheds = {key: one(opt) for key, opt in opts.items()}
    return scheds["model"] if keys == ("model",) else Schedulers(scheds)


# ----------------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------------
def train_run(config=None, out=None, log=print, progress=True, callbacks=(), stop=None, distributed=None):
    """Train from scratch with ``config`` (see DEFAULTS) into run directory ``out``.

    Args:
        config: settings (see :data:`DEFAULTS`); missing or None ones take the model's defaults.
        out: the run directory (default ``runs/<timestamp>``); it may exist if it holds no run.
        log: callable taking each line of progress (None: quiet).
        progress: a progress bar on stderr when it is a terminal (else one line per epoch).
        callbacks: ``fit`` callbacks (``on_train_begin``, ``on_step_end``, ``on_epoch_end``), and
            ``on_train_end(result)`` with this function's result.
        stop: an object with ``is_set()``; when set, the run ends after the current step with a
            resumable checkpoint.
        distributed: None: data-parallel when the process was started by ``mpiexec -n N`` with
            N > 1; True: data-parallel over MPI in any case (``--distributed``); False: never.
            Rank 0 alone logs, writes the run directory and holds its lock
            (:mod:`convgrad.distributed.training`).

    Returns:
        A dict: ``run_dir``, ``stopped``, ``objective``, ``history``, ``seconds`` (training only),
        ``images_per_second``, and when finished ``model_path``, ``test_images``, ``test_name``
        ("test" or "validation") and the test figures (``test_accuracy`` for classification,
        ``test_loss`` ... otherwise).

    Raises:
        ArgumentError, RunError, ResourceLimitError, data and checkpoint errors: one line each.
    """
    cfg = check_config(dict(config or {}))
    dp = _data_parallel(distributed, cfg)
    main = dp is None or dp.is_main
    run_dir = os.fspath(out) if out is not None else default_run_dir()
    if dp is not None:
        run_dir = dp.same_on_all(run_dir)  # rank 0's timestamp
        log, progress = (log, progress) if main else (None, False)
    if main:
        check_new_run_dir(run_dir)
    prepared = _prepare(cfg, log)  # before creating the directory: bad data or model leaves nothing behind
    if main:
        os.makedirs(run_dir, exist_ok=True)
    with _locked(run_dir, log, main):
        if main:
            _clear_failed_run(run_dir)
            write_json(os.path.join(run_dir, CONFIG_FILE), {"format": "convgrad-run", "version": 1, "config": cfg})
            _write_split(run_dir, prepared["bundle"])
        return _run(cfg, run_dir, prepared, None, log, progress, callbacks, stop, dp=dp)


def _data_parallel(distributed, cfg):
    """The run's :class:`~convgrad.distributed.training.DataParallelRun`, or None (one process)."""
    if distributed is False:
        return None
    if distributed is None:
        from ..distributed.comm import launched_world_size

        if launched_world_size() <= 1:
            return None  # a plain run never imports mpi4py
    from ..distributed.training import data_parallel_run

    return data_parallel_run(explicit=distributed is True, sync_bn=cfg["sync_bn"])


def _clear_failed_run(run_dir):
    """Under the lock: a reused directory loses the failed run's metrics, filters and split."""
    for name in (METRICS_FILE, FILTERS_FILE, SPLIT_FILE):
        path = os.path.join(run_dir, name)
        if os.path.exists(path):
            os.unlink(path)


class _locked:
    def __init__(self, run_dir, log, active=True):
        self.lock, self.log, self.active = RunLock(run_dir), log, active  # data-parallel: rank 0 holds it

    def __enter__(self):
        if not self.active:
            return self.lock
        self.lock.acquire()
        if self.lock.replaced is not None and self.log is not None:
            _warn(f"removed a stale lock of process {self.lock.replaced.get('pid')} (it is no longer running)")
        return self.lock

    def __exit__(self, *exc):
        if self.active:
            self.lock.release()


def _write_split(run_dir, bundle):
    split = getattr(bundle, "split", None)
    if split is not None:
        write_json(os.path.join(run_dir, SPLIT_FILE), split)


def _prepare(cfg, log, announce=True):
    """Open the data, say what it is, check sizes, build the model and check it fits."""
    bundle = open_run_data(cfg)
    if announce and log is not None:
        log(bundle.description)
    for text in getattr(bundle, "warnings", None) or []:
        _warn(text)
    n_train = len(bundle.train)
    if announce:
        if cfg["batch_size"] > n_train:
            _warn(f"--batch-size {cfg['batch_size']:,} is more than the {n_train:,} training samples: each epoch is "
                  f"one batch of {n_train:,}")
    batch = min(cfg["batch_size"], n_train)
    check_input_memory(bundle.input_shape, batch, n_train)
    backend.manual_seed(cfg["seed"])
    objective = _objective(cfg, bundle)
    if objective.name == "classification" and bundle.num_classes < 2:
        raise ArgumentError(f"train: the data has {bundle.num_classes} class; a classifier needs at least 2")
    model, kwargs = build_run_model(cfg, bundle)
    check_model_fits(model, cfg["model"], bundle.input_shape, batch, objective)
    return {"bundle": bundle, "objective": objective, "model": model, "model_kwargs": kwargs}


def _read_config(run_dir):
    import json

    config_path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise RunError(f"'{run_dir}' is not a run directory (no {CONFIG_FILE})")
    try:
        with open(config_path, encoding="utf-8") as f:
            saved = json.load(f)
        return check_config(saved["config"])
    except (ValueError, KeyError, TypeError) as exc:
        raise RunError(f"'{config_path}' is malformed: {exc}") from None


def resume_run(run_dir, log=print, progress=True, callbacks=(), stop=None, epochs=None, settings=None,
               distributed=None):
    """Continue the run in ``run_dir`` from its last checkpoint (from the start if there is none),
    or extend a finished run to ``epochs`` epochs.

    Args:
        run_dir: a run directory written by :func:`train_run`.
        epochs: more epochs than the run had: extends a finished run (a new learning-rate schedule
            of the same kind covers the added epochs). An unfinished run must first finish.
        settings: settings given again by the user (e.g. from the command line); each must equal
            the saved one, except ``threads``, ``checkpoint_every`` and ``log_every``, which change no
            result. A setting that cannot be honoured is refused.
        log, progress, callbacks, stop, distributed: as for :func:`train_run` (a data-parallel run
            resumes bit-identically with the same number of ranks; another number gives the same
            run up to float rounding).

    Returns: as :func:`train_run`.

    Raises:
        RunError: not a run directory, finished (without ``epochs``), busy, or settings that
            cannot be honoured.
    """
    run_dir = os.fspath(run_dir)
    cfg = _read_config(run_dir)
    cfg = _apply_resume_settings(cfg, settings or {}, run_dir)
    dp = _data_parallel(distributed, cfg)
    main = dp is None or dp.is_main
    if not main:
        log, progress = None, False
    ckpt_path = os.path.join(run_dir, CHECKPOINT_FILE)
    with _locked(run_dir, log, main):
        ckpt = load_checkpoint(ckpt_path) if os.path.isfile(ckpt_path) else None
        # finished: its model is saved and no checkpoint is behind (an extension interrupted
        # half way has the old model.npz beside a checkpoint short of the new epochs)
        finished = os.path.isfile(os.path.join(run_dir, MODEL_FILE)) and (
            ckpt is None or int(ckpt.training.get("epoch", 0)) >= cfg["epochs"])
        extend_from = None
        if epochs is not None and epochs != cfg["epochs"]:
            extend_from = _check_extension(run_dir, cfg, ckpt, epochs, finished)
            cfg = {**cfg, "epochs": epochs}
        elif finished:
            raise RunError(f"the run in '{run_dir}' has already finished ({MODEL_FILE} exists); extend it with "
                           f"--resume {run_dir} --epochs N (N > {cfg['epochs']})")
        prepared = _prepare(cfg, log, announce=False)
        if log is not None:
            if extend_from is not None:
                log(f"extending '{run_dir}' from {extend_from} to {epochs} epochs"
                    + (f" with a new {cfg['schedule']} schedule over the added epochs" if cfg["schedule"] != "none" else ""))
            elif ckpt is not None:
                log(f"resuming '{run_dir}' at epoch {ckpt.training['epoch'] + 1}, optimizer step {ckpt.training['step']}")
        if main:
            write_json(os.path.join(run_dir, CONFIG_FILE), {"format": "convgrad-run", "version": 1, "config": cfg})
        return _run(cfg, run_dir, prepared, ckpt, log, progress, callbacks, stop, extend_from=extend_from, dp=dp)


def _apply_resume_settings(cfg, settings, run_dir):
    cfg = dict(cfg)
    refused = []
    for key, value in settings.items():
        if value is None or key == "epochs":
            continue
        if key not in DEFAULTS:
            raise ArgumentError(f"train: unknown setting {key!r}")
        if key in RESUME_FREE:
            cfg[key] = value
        elif value != cfg.get(key):
            refused.append(f"--{key.replace('_', '-')} {value} (the run has {cfg.get(key)})")
    if refused:
        raise RunError(f"--resume continues '{run_dir}' with its saved settings and cannot honour "
                       f"{', '.join(refused)}; start a new run with --out to change them")
    return cfg


def _check_extension(run_dir, cfg, ckpt, epochs, finished):
    done = cfg["epochs"]
    if not finished:
        raise RunError(f"the run in '{run_dir}' has not finished its {done} epochs; resume it without --epochs "
                       f"first, then extend it with --epochs N")
    if epochs <= done:
        raise RunError(f"the run in '{run_dir}' has already trained {done} epochs; --epochs must be more than "
                       f"{done} to extend it")
    if ckpt is None or int(ckpt.training.get("epoch", -1)) != done or int(ckpt.training.get("batch", -1)) != 0:
        raise RunError(f"the run in '{run_dir}' has no final training state ({CHECKPOINT_FILE} of its end) to "
                       "extend; train a new run with more --epochs")
    return done


def _run(cfg, run_dir, prepared, resume, log, progress, callbacks, stop, extend_from=None, dp=None):
    bundle, objective, model = prepared["bundle"], prepared["objective"], prepared["model"]
    # per-sample augmentation streams: the same images whatever the number of ranks (distributed/)
    loader = DataLoader(bundle.train, batch_size=cfg["batch_size"], shuffle=True, seed=cfg["seed"],
                        per_sample_rng=True)
    if extend_from is None:
        optimizer, scheduler = _optimizers(cfg, model, objective, len(loader))
    else:  # the optimizer continues; a new schedule covers the added epochs
        optimizer, _ = _optimizers({**cfg, "schedule": "none"}, model, objective, len(loader))
        resume.load_into(model)
        optimizer.load_state_dict(resume.training["optimizer"])
        opts = optimizer.members if hasattr(optimizer, "members") else {"model": optimizer}
        scheduler = _schedule(cfg, opts, objective.optimizer_keys, (cfg["epochs"] - extend_from) * len(loader))
        resume = {k: v for k, v in resume.training.items() if k not in ("optimizer", "scheduler")}
    interval = "step" if scheduler is not None else "epoch"
    preprocessing = dict(bundle.preprocessing or {})
    class_names = list(bundle.class_names or [])
    test_loader = DataLoader(bundle.test, batch_size=EVAL_BATCH)
    validation = bundle.test_name != "test"
    prefix = "val" if validation else "test"
    final = {}

    def final_eval():
        final.update({f"{prefix}_{k}": v for k, v in objective.evaluate(model, test_loader).items()})
        return final

    metrics = MetricsWriter(os.path.join(run_dir, METRICS_FILE), cfg["log_every"],
                            final_eval=None if validation else final_eval, epochs=cfg["epochs"])
    inner = [metrics] + _recorders(cfg, run_dir, metrics) + [_WithoutTrainEnd(cb) for cb in callbacks]
    main = dp is None or dp.is_main
    trained, train_loader = model, loader
    if dp is not None:  # data-parallel: the wrapped model and this rank's shards; rank 0 alone writes files
        trained, train_loader = dp.wrap_model(model), dp.wrap_loader(loader)
        inner = inner if main else []
        if log is not None:
            log(dp.describe())
    if log is not None and resume is None:
        n_params = sum(p.numel() for p in model.parameters())
        log(f"training {cfg['model']} ({n_params:,} parameters, {objective.name}) on {len(bundle.train):,} samples for "
            f"{cfg['epochs']} epochs: {cfg['optimizer']} lr {cfg['lr']:g} ({cfg['schedule']}), batch "
            f"{cfg['batch_size']}, augment {'on' if cfg['augment'] else 'off'}, seed {cfg['seed']}")
    extra = {"config": cfg, "objective": objective.describe(), "class_names": class_names}
    t0 = time.perf_counter()
    # overflow on the way to a NaN loss is reported by fit's NaN watch, not by NumPy warnings
    with blas_threads(cfg["threads"]), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        try:
            history = fit(trained, train_loader, optimizer, cfg["epochs"], scheduler=scheduler,
                          scheduler_interval=interval,
                          val_loader=test_loader if validation else None, callbacks=inner,
                          checkpoint_path=os.path.join(run_dir, CHECKPOINT_FILE),
                          checkpoint_every=cfg["checkpoint_every"],
                          checkpoint_kwargs={"preprocessing": preprocessing, "extra": extra}, resume=resume,
                          on_nonfinite=cfg["on_nonfinite"], detect_anomaly=cfg["detect_anomaly"], progress=progress,
                          log=log, objective=objective, stop=stop, distributed=dp)
        except MemoryError as exc:
            if isinstance(exc, ResourceLimitError):
                raise
            raise ResourceLimitError(f"train: out of memory in a training step of {cfg['model']} at batch size "
                                     f"{cfg['batch_size']:,} on {shape_text(bundle.input_shape)} samples; use a smaller "
                                     f"--batch-size (e.g. {max(1, cfg['batch_size'] // 4):,})") from None
        finally:
            if main:
                metrics.close()
        seconds = time.perf_counter() - t0
        images = sum(h["images_per_second"] * h["seconds"] for h in history)
        train_seconds = sum(h["seconds"] for h in history)
        result = {"run_dir": run_dir, "stopped": bool(history.stopped), "objective": objective.name,
                  "history": list(history), "seconds": seconds, "step": history.step,
                  "images_per_second": images / max(train_seconds, 1e-9),
                  "checkpoint_path": os.path.join(run_dir, CHECKPOINT_FILE)}
        if not history.stopped and main:
            result.update(_finish(cfg, run_dir, model, objective, history, test_loader, validation, metrics, final,
                                  preprocessing, extra, bundle))
    for cb in callbacks:
        if hasattr(cb, "on_train_end"):
            cb.on_train_end(result)
    return result


def _finish(cfg, run_dir, model, objective, history, test_loader, validation, metrics, final, preprocessing, extra,
            bundle):
    if validation:
        figures = {k[len("val_"):]: v for k, v in history[-1].items() if k.startswith("val_")}
    elif metrics.final is not None:
        figures = {k[len("test_"):]: v for k, v in metrics.final.items()}
    else:  # a resumed run whose last epoch row was written before: measure again
        figures = objective.evaluate(model, test_loader)
    out = {"test_name": bundle.test_name, "test_images": len(bundle.test), "input_shape": tuple(bundle.input_shape),
           "model_path": os.path.join(run_dir, MODEL_FILE)}
    out.update({f"test_{k}": v for k, v in figures.items()})
    save_checkpoint(out["model_path"], model, preprocessing=preprocessing,
                    extra={**extra, **{f"test_{k}": v for k, v in figures.items()}, "test_images": len(bundle.test),
                           "test_name": bundle.test_name, "history": list(history)})
    return out


class _WithoutTrainEnd:
    """A user's callback seen by ``fit`` without its ``on_train_end``: the runner calls that one
    itself, with the whole result (test figures included)."""

    def __init__(self, callback):
        self.callback = callback
        for name in ("on_train_begin", "on_step_end", "on_epoch_end"):
            if hasattr(callback, name):
                setattr(self, name, getattr(callback, name))


def _recorders(cfg, run_dir, metrics):
    """``--record-filters N`` and ``--health-every N``: the recorders of ``training.recorders``."""
    out = []
    if cfg["record_filters"] is None and cfg["health_every"] is None:
        return out
    try:
        from . import recorders
    except ImportError:
        raise ArgumentError("train: --record-filters / --health-every need convgrad.training.recorders, "
                            "which this installation lacks") from None
    if cfg["record_filters"] is not None:
        out.append(recorders.FilterRecorder(run_dir, cfg["record_filters"]))
    if cfg["health_every"] is not None:
        out.append(recorders.HealthMonitor(cfg["health_every"], metrics.write))
    return out
