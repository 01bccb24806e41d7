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
from .common import colorbar_at, figure_rgb, finish, mosaic, mosaic_axes, new_figure, symmetric_limit, tile_centres
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
    title = (f"{name}, layer {layer}: filters over time, steps {int(steps[0])} to {int(steps[-1])} "
             f"({len(steps)} snapshots, {len(grid_index)} shown)")
    fig = _draw_time_grid(weights, steps, grid_index, limit, title)
    gif_index = pick_snapshots(len(steps), max_frames)
    data = {"layer": layer, "steps": steps, "weights": weights, "grid_steps": steps[grid_index],
            "gif_steps": steps[gif_index], "limit": limit, "report": describe_filters(weights[-1]),
            "gif_path": None}
    if gif_path is not None:
        data["gif_path"] = write_gif(weights[gif_index], steps[gif_index], f"{name}, layer {layer}", limit, gif_path)
    return finish(fig, data, title, path)


def _tile(kernel):
    """(in, kh, kw) -> the 2-D (or RGB) tile shown for one filter at one time."""
    if kernel.shape[0] == 3:
        return kernel.transpose(1, 2, 0)
    return kernel.mean(axis=0) if kernel.shape[0] > 1 else kernel[0]


def _draw_time_grid(weights, steps, index, limit, title):
    from .filters import _filter_cmap

    out_c, in_c, kh, kw = weights.shape[1:]
    n_filters = min(out_c, MAX_GRID_FILTERS)
    rows, cols = len(index), n_filters
    gap = max(1, round(kh / 5))
    tiles = [_tile(weights[i, c]) for i in index for c in range(cols)]
    if in_c == 3:
        tiles = [np.clip(0.5 + 0.5 * t / limit, 0, 1) for t in tiles]
    picture = mosaic(tiles, rows, cols, gap)
    pixel = min(0.7, 9.0 / cols) / kw  # inches per kernel pixel: tiles shrink when there are many filters
    grid_w, grid_h = picture.shape[1] * pixel, picture.shape[0] * pixel
    left, top, right = 1.0, 0.75, 1.3
    width = max(left + grid_w + right, 5.5)
    fig = new_figure(width, top + grid_h + 0.4)
    ax = mosaic_axes(fig, left, top, grid_w, grid_h)
    image = ax.imshow(picture, cmap=_filter_cmap(), vmin=-limit, vmax=limit, interpolation="nearest", aspect="auto")
    ax.xaxis.tick_top()
    ax.set_xticks(tile_centres(cols, kw, gap), labels=[str(c) for c in range(cols)], fontsize=8)
    ax.set_yticks(tile_centres(rows, kh, gap), labels=[f"step {int(steps[i])}" for i in index], fontsize=8)
    ax.tick_params(length=0, pad=2)
    note = "columns: filter" + (f" (first {n_filters} of {out_c})" if out_c > n_filters else "")
    if in_c not in (1, 3):
        note += f"; each tile is the mean over {in_c} input channels"
    fig.text((left + grid_w / 2) / width, 0.08 / fig.get_size_inches()[1], note + "; rows: training step",
             ha="center", va="bottom", fontsize=8)
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / fig.get_size_inches()[1], va="top")
    if in_c != 3:
        colorbar_at(fig, image, left + grid_w + 0.25, top, grid_h, "weight")
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
