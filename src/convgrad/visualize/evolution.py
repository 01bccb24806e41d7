"""How a layer's filters changed during training: an animated GIF and a "filters over time" grid.

    history = load_filter_history("runs/a")      # written by --record-filters N (FilterRecorder)
    pic = evolution("runs/a", path="evolution.png", gif_path="evolution.gif")
    print(format_filter_table(pic.data["report"]))   # the last snapshot's kernels, described

Every frame of the GIF and every row of the grid share one symmetric colour scale (the largest
absolute weight over the whole history), so growth of the weights shows as well as their shape.
"""
import os

import numpy as np

from ..errors import ArgumentError
from ..training.recorders import load_filter_history
from .common import figure_rgb, finish, hide_ticks, new_figure, symmetric_limit
from .filters import describe_filters, draw_filter_grid

MAX_GIF_FRAMES = 60
MAX_GRID_ROWS = 8
MAX_GRID_FILTERS = 16


def pick_snapshots(n, k):
    """Indices of ``k`` snapshots spread evenly over ``n``, always the first and the last."""
    if n <= k:
        return list(range(n))
    return sorted(set(np.round(np.linspace(0, n - 1, k)).astype(int).tolist()))


def _history(source):
    if isinstance(source, dict):
        return source
    return load_filter_history(source)


def _run_model_name(source):
    if isinstance(source, dict):
        return source.get("model")
    from .curves import run_model_name

    return run_model_name(source)


def evolution(source, path=None, gif_path=None, max_frames=MAX_GIF_FRAMES, rows=MAX_GRID_ROWS, model=None):
    """The filter history of a run as a grid (snapshots down, filters across) and optionally a GIF.

    Args:
        source: a run directory, a ``filters.npz`` path, or a dict ``{"steps", "weights", "layer"}``.
        path: PNG for the grid, or None.
        gif_path: GIF file for the animation (one frame per chosen snapshot), or None.
        max_frames: snapshots in the GIF at most (evenly spread, first and last included).
        rows: snapshots in the grid at most.
        model: name shown in the titles (default: read from the run's config.json).

    Returns:
        Picture of the grid with ``data = {"layer", "steps" (all), "weights" (all), "grid_steps",
        "gif_steps", "limit", "report" (describe_filters of the last snapshot), "gif_path"}``.

    Raises:
        FilterHistoryNotFound: the run does not exist or has no ``filters.npz``.
        MissingExtraError: matplotlib is not installed.
    """
    history = _history(source)
    steps, weights, layer = np.asarray(history["steps"]), np.asarray(history["weights"]), history["layer"]
    if max_frames < 1 or rows < 1:
        raise ArgumentError(f"evolution: max_frames and rows must be positive, got {max_frames} and {rows}")
    name = model or _run_model_name(source) or "model"
    limit = symmetric_limit(weights)
    grid_index = pick_snapshots(len(steps), rows)
    title = (f"{name} {layer}: filters over time, steps {int(steps[0])} to {int(steps[-1])} "
             f"({len(steps)} snapshots, {len(grid_index)} shown)")
    fig = _draw_time_grid(weights, steps, grid_index, limit, title)
    gif_index = pick_snapshots(len(steps), max_frames)
    data = {"layer": layer, "steps": steps, "weights": weights, "grid_steps": steps[grid_index],
            "gif_steps": steps[gif_index], "limit": limit, "report": describe_filters(weights[-1]),
            "gif_path": None}
    if gif_path is not None:
        data["gif_path"] = write_gif(weights[gif_index], steps[gif_index], f"{name} {layer}", limit, gif_path)
    return finish(fig, data, title, path)


def _tile(kernel):
    """(in, kh, kw) -> the 2-D (or RGB) tile shown for one filter at one time."""
    if kernel.shape[0] == 3:
        return kernel.transpose(1, 2, 0)
    return kernel.mean(axis=0) if kernel.shape[0] > 1 else kernel[0]


def _draw_time_grid(weights, steps, index, limit, title):
    out_c, in_c = weights.shape[1], weights.shape[2]
    n_filters = min(out_c, MAX_GRID_FILTERS)
    rows, cols = len(index), n_filters
    cell = 0.75
    width, height = cols * cell + 2.6, rows * cell + 1.3
    fig = new_figure(max(width, 5.5), height)
    width = max(width, 5.5)
    grid = fig.add_gridspec(rows, cols, left=1.1 / width, right=1 - 1.3 / width, top=1 - 0.8 / height,
                            bottom=0.35 / height, wspace=0.08, hspace=0.08)
    image = None
    for r, i in enumerate(index):
        for c in range(cols):
            ax = fig.add_subplot(grid[r, c])
            hide_ticks(ax)
            tile = _tile(weights[i, c])
            if tile.ndim == 3:
                image = ax.imshow(np.clip(0.5 + 0.5 * tile / limit, 0, 1), interpolation="nearest")
            else:
                image = ax.imshow(tile, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
            if r == 0:
                ax.set_title(str(c), fontsize=8, pad=2)
            if c == 0:
                ax.set_ylabel(f"step {int(steps[i])}", fontsize=8, rotation=0, ha="right", va="center")
    note = "columns: filter" + (f" (first {n_filters} of {out_c})" if out_c > n_filters else "")
    if in_c not in (1, 3):
        note += f"; each tile is the mean over {in_c} input channels"
    fig.text(0.5, 0.08 / height, note + "; rows: training step", ha="center", va="bottom", fontsize=8)
    fig.suptitle(title, fontsize=10)
    if in_c != 3:
        bar_ax = fig.add_axes([1 - 1.1 / width, 0.35 / height + 0.1 * (1 - 1.15 / height), 0.18 / width,
                               0.8 * (1 - 1.15 / height)])
        bar = fig.colorbar(image, cax=bar_ax)
        bar.set_label("weight", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    return fig


def write_gif(weights, steps, label, limit, gif_path, seconds_per_frame=0.2):
    """An animated GIF, one frame per snapshot (``label at step N``), one colour scale; returns the path."""
    from PIL import Image

    frames = []
    for w, step in zip(weights, steps):
        fig, _ = draw_filter_grid(w, f"{label} at step {int(step)}", limit=limit)
        frames.append(Image.fromarray(figure_rgb(fig)))
    size = frames[0].size
    frames = [f if f.size == size else f.resize(size) for f in frames]
    palette = [f.convert("P", palette=Image.Palette.ADAPTIVE, colors=128) for f in frames]
    gif_path = os.fspath(gif_path)
    os.makedirs(os.path.dirname(os.path.abspath(gif_path)), exist_ok=True)
    duration = [int(seconds_per_frame * 1000)] * len(palette)
    duration[-1] = 1500  # rest on the trained filters before looping
    palette[0].save(gif_path, format="GIF", save_all=True, append_images=palette[1:], duration=duration, loop=0,
                    disposal=1)
    return gif_path
