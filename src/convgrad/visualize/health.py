"""Training health of a run: per layer, the fraction of zero ReLU outputs and the gradient norm.

    pic = health("runs/a", path="health.png")
    pic.data["layers"]["conv1"]["zero_fraction"], pic.data["dead"]

The rows are the ``{"kind": "health", "step", "epoch", "layer", "zero_fraction", "grad_norm"}``
lines of the run's ``metrics.jsonl``, written by :class:`convgrad.training.recorders.HealthMonitor`
(``convgrad train --health-every N``). A layer whose ReLUs give only zeros (zero fraction 1) no
longer learns: its gradient is zero too. Such a layer is named in ``data["dead"]`` when it stays
dead to the last row, and marked in the picture.
"""
import math
import os

import numpy as np

from ..errors import FileFormatError
from .common import finish, new_figure
from .curves import metrics_path, read_metrics, run_model_name


def health_series(rows):
    """``{layer: {"step", "zero_fraction", "grad_norm"}}`` (arrays; nan where not measured), in
    the order the layers first appear."""
    layers = {}
    for r in rows:
        if r.get("kind") != "health" or not isinstance(r.get("step"), (int, float)) or "layer" not in r:
            continue
        entry = layers.setdefault(str(r["layer"]), {"step": [], "zero_fraction": [], "grad_norm": []})
        entry["step"].append(r["step"])
        for key in ("zero_fraction", "grad_norm"):
            value = r.get(key)
            entry[key].append(float(value) if isinstance(value, (int, float)) else math.nan)
    return {name: {k: np.asarray(v, dtype=np.float64) for k, v in entry.items()} for name, entry in layers.items()}


def dead_layers(series):
    """Layers whose last measured zero fraction is 1 (every ReLU output zero)."""
    dead = []
    for name, s in series.items():
        zf = s["zero_fraction"][np.isfinite(s["zero_fraction"])]
        if len(zf) and zf[-1] >= 1.0:
            dead.append(name)
    return dead


def health(run_dir, path=None, title=None):
    """Zero fraction of the ReLU outputs (left) and gradient norm (right, log scale) per layer.

    Returns:
        Picture with ``data = {"layers": {name: {"step", "zero_fraction", "grad_norm"}}, "dead": [...]}``.

    Raises:
        RunNotFound: no run or no metrics file. FileFormatError: no health rows in it (train with
        ``--health-every N``). MissingExtraError: matplotlib is not installed.
    """
    series = health_series(read_metrics(run_dir))
    if not series:
        raise FileFormatError(f"'{metrics_path(run_dir)}' has no health rows; train with --health-every N")
    dead = dead_layers(series)
    name = run_model_name(run_dir) or "model"
    run = os.path.basename(os.path.normpath(os.fspath(run_dir)))
    title = title or (f"{name} run '{run}': training health per layer" +
                      (f" (dead: {', '.join(dead)})" if dead else ""))
    many = len(series) > 8  # a deep network: the legend goes beside the plots, 20 colours x 3 dash styles
    fig = new_figure(12 if many else 10, 4.6 if many else 4)
    zero_ax, grad_ax = fig.subplots(1, 2)
    from matplotlib import colormaps

    palette = colormaps["tab20"] if many else colormaps["tab10"]
    for i, (layer, s) in enumerate(series.items()):
        style = {"color": palette(i % palette.N), "ls": ("-", "--", ":")[(i // palette.N) % 3], "lw": 1.2}
        label = layer + (" (dead)" if layer in dead else "")
        if np.isfinite(s["zero_fraction"]).any():
            zero_ax.plot(s["step"], 100 * s["zero_fraction"], label=label, **style)
        grad = np.where(s["grad_norm"] > 0, s["grad_norm"], np.nan)
        if np.isfinite(grad).any():
            grad_ax.plot(s["step"], grad, label=label, **style)
        elif np.isfinite(s["grad_norm"]).any():
            grad_ax.plot([], [], label=label + ": gradient 0", **style)
    zero_ax.set_ylim(-2, 102)
    zero_ax.axhline(100, color="k", lw=0.6, ls="--")
    zero_ax.set_xlabel("optimizer step")
    zero_ax.set_ylabel("ReLU outputs that are zero (%)")
    zero_ax.set_title("zero fraction after each layer's ReLU (100% = dead)", fontsize=10)
    zero_ax.grid(alpha=0.3)
    grad_ax.set_yscale("log")
    grad_ax.set_xlabel("optimizer step")
    grad_ax.set_ylabel("gradient norm of the layer's parameters")
    grad_ax.set_title("gradient norm (log scale)", fontsize=10)
    grad_ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    if many:  # one legend for both panels (the gradient panel names every layer)
        grad_ax.legend(fontsize=7, ncol=1 + len(series) // 16, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        fig.tight_layout()  # counts the legend beside the panel in
    else:
        for ax in (zero_ax, grad_ax):
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8, ncol=2 if len(series) > 5 else 1)
        fig.tight_layout()
    return finish(fig, {"layers": series, "dead": dead}, title, path)
