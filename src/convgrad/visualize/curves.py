"""Learning curves of a run: loss and accuracy per epoch (and the loss per step where logged).

    pic = curves("runs/a", path="curves.png")
    pic.data["epoch"]["loss"], pic.data["epoch"]["test_accuracy"], pic.data["step"]["loss"]

They come from the run's ``metrics.jsonl``: one JSON object per line, ``{"kind": "epoch", "epoch",
"step", "loss", "accuracy", "val_accuracy" or "test_accuracy", "lr", "seconds", ...}``,
``{"kind": "step", "epoch", "step", "loss", "lr"}`` every N steps, and ``{"kind": "health", ...}``
(see :mod:`convgrad.visualize.health`).
"""
import json
import math
import os

import numpy as np

from ..errors import ConvgradError, FileFormatError
from .common import finish, new_figure

METRICS_FILE = "metrics.jsonl"
ACCURACY_KEYS = ("accuracy", "val_accuracy", "test_accuracy")
OBJECTIVE_LOSSES = ("recon_loss", "kl", "d_loss", "g_loss")  # what the objectives add to the epoch rows
ACCURACY_LABELS = {"accuracy": "train", "val_accuracy": "validation", "test_accuracy": "test"}


class RunNotFound(ConvgradError, FileNotFoundError):
    """A run directory is missing, or lacks the file a picture needs."""


def metrics_path(run_dir):
    path = os.fspath(run_dir)
    if os.path.isdir(path):
        return os.path.join(path, METRICS_FILE)
    if os.path.isfile(path):
        return path
    raise RunNotFound(f"run directory '{path}' does not exist")


def read_metrics(run_dir):
    """The rows of ``run_dir/metrics.jsonl`` (or of that file given directly), as dicts.

    Raises:
        RunNotFound: no such directory, or no metrics file in it.
        FileFormatError: a line is not a JSON object (its number is named).
    """
    path = metrics_path(run_dir)
    if not os.path.isfile(path):
        raise RunNotFound(f"'{os.fspath(run_dir)}' has no {METRICS_FILE} (is it a run directory?)")
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise FileFormatError(f"'{path}' line {number} is not JSON: {line.strip()[:60]!r}") from None
            if not isinstance(row, dict):
                raise FileFormatError(f"'{path}' line {number}: expected a JSON object, got {type(row).__name__}")
            rows.append(row)
    return rows


def run_model_name(run_dir):
    """The model name in ``run_dir/config.json`` (``config.model``), or None."""
    path = os.fspath(run_dir)
    config = os.path.join(path if os.path.isdir(path) else os.path.dirname(path), "config.json")
    try:
        with open(config, encoding="utf-8") as f:
            saved = json.load(f)
        return (saved.get("config") or saved).get("model")
    except (OSError, ValueError, AttributeError):
        return None


def _series(rows, x_key, keys):
    """``{x_key: array, key: array with nan where missing}`` for rows that have ``x_key``."""
    rows = [r for r in rows if isinstance(r.get(x_key), (int, float))]
    out = {x_key: np.array([r[x_key] for r in rows], dtype=np.float64)}
    for key in keys:
        out[key] = np.array([r[key] if isinstance(r.get(key), (int, float)) else math.nan for r in rows],
                            dtype=np.float64)
    return out


def learning_curves(rows):
    """``{"epoch": {...}, "step": {...}}`` series from metrics rows (arrays, nan where a value is missing)."""
    epochs = [r for r in rows if r.get("kind", "epoch") == "epoch"]
    steps = [r for r in rows if r.get("kind") == "step"]
    numeric = sorted({k for r in epochs for k, v in r.items() if isinstance(v, (int, float))
                      and not isinstance(v, bool) and k not in ("epoch", "kind")})
    return {"epoch": _series(epochs, "epoch", numeric), "step": _series(steps, "step", ["loss", "lr", "epoch"])}


def curves(run_dir, path=None, title=None):
    """Loss (left) and accuracy (right) of a run against the epoch; the per-step loss behind.

    Returns:
        Picture with ``data = {"epoch": {"epoch", "loss", "accuracy", "test_accuracy", "lr", ...},
        "step": {"step", "loss", "lr", "epoch"}}`` (NumPy arrays).

    Raises:
        RunNotFound: no run or no metrics file. FileFormatError: a malformed line; a file with no
        epoch rows. MissingExtraError: matplotlib is not installed.
    """
    rows = read_metrics(run_dir)
    data = learning_curves(rows)
    ep, st = data["epoch"], data["step"]
    if len(ep["epoch"]) == 0 and len(st["step"]) == 0:
        raise FileFormatError(f"'{metrics_path(run_dir)}' has no epoch or step rows to plot")
    name = run_model_name(run_dir) or "model"
    title = title or f"{name} run '{os.path.basename(os.path.normpath(os.fspath(run_dir)))}': loss and accuracy " \
                     f"over {len(ep['epoch'])} epochs"
    fig = new_figure(10, 4)
    loss_ax, acc_ax = fig.subplots(1, 2)
    steps_per_epoch = _steps_per_epoch(ep)
    if len(st["step"]) and steps_per_epoch:
        loss_ax.plot(st["step"] / steps_per_epoch, st["loss"], color="0.7", lw=0.8, label="loss per step (logged)")
    if len(ep["epoch"]) and "loss" in ep:
        loss_ax.plot(ep["epoch"], ep["loss"], "o-", color="C0", label="mean training loss per epoch")
    for i, key in enumerate(k for k in OBJECTIVE_LOSSES if k in ep and np.isfinite(ep[k]).any()):
        loss_ax.plot(ep["epoch"], ep[key], "s--", color=f"C{i + 2}", ms=4, label=key.replace("_", " "))
    shown = np.concatenate([v[np.isfinite(v)] for k, v in ep.items() if k == "loss" or k in OBJECTIVE_LOSSES]
                           + [st["loss"][np.isfinite(st["loss"])]])
    positive = bool(len(shown)) and shown.min() > 0
    if positive:
        loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss" + (" (log scale)" if positive else ""))
    loss_ax.set_title("loss", fontsize=10)
    loss_ax.grid(alpha=0.3)
    loss_ax.legend(fontsize=8)
    plotted = False
    for key in ACCURACY_KEYS:
        if key in ep and np.isfinite(ep[key]).any():
            values = ep[key]
            last = np.flatnonzero(np.isfinite(values))[-1]
            acc_ax.plot(ep["epoch"], 100 * values, "o-", ms=4,
                        label=f"{ACCURACY_LABELS[key]} accuracy (last: {100 * values[last]:.2f}%)")
            plotted = True
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("accuracy (%)")
    acc_ax.set_title("accuracy", fontsize=10)
    acc_ax.grid(alpha=0.3)
    if plotted:
        acc_ax.legend(fontsize=8, loc="lower right")
        finite = np.concatenate([100 * ep[k][np.isfinite(ep[k])] for k in ACCURACY_KEYS if k in ep])
        acc_ax.set_ylim(max(0.0, min(finite.min(), 100) - 2), 100.5)
    else:
        acc_ax.text(0.5, 0.5, "no accuracy logged", ha="center", va="center", transform=acc_ax.transAxes)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return finish(fig, data, title, path)


def _steps_per_epoch(ep):
    """Optimizer steps per epoch, from the epoch rows' cumulative ``step`` (None if not logged)."""
    if "step" not in ep or not len(ep["step"]) or not np.isfinite(ep["step"]).all():
        return None
    return float(ep["step"][0]) / float(ep["epoch"][0]) if ep["epoch"][0] else None
