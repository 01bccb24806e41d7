"""What every picture shares: the matplotlib import, the result object, layers, titles, inputs.

matplotlib is the optional extra ``viz`` (``pip install convgrad[viz]``). It is imported only here,
inside :func:`new_figure`, and only its object-oriented API is used: a ``Figure`` with an Agg
canvas, never ``pyplot``, so no display is needed and the caller's own matplotlib backend and
figures are left alone.
"""
import os

import numpy as np

from ..errors import ArgumentError, ConvgradError
from ..nn.conv import _Conv
from ..tensor import Tensor

DPI = 100


class MissingExtraError(ConvgradError, ImportError):
    """An optional dependency (an extra of convgrad) is not installed."""


def require_matplotlib():
    """The ``matplotlib`` module, or MissingExtraError naming the extra to install."""
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        raise MissingExtraError("convgrad.visualize needs matplotlib, which is not installed: "
                                "pip install convgrad[viz]") from None
    return matplotlib


def new_figure(width, height):
    """A matplotlib Figure of ``width x height`` inches on an Agg canvas (no display)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def figure_rgb(fig):
    """The rendered figure as a uint8 (H, W, 3) array."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


class Picture:
    """What every picture function returns.

    Attributes:
        figure: the matplotlib Figure (draw it, or ``save`` it again elsewhere).
        data: the numbers drawn (a dict of arrays / lists; each function documents its keys).
        path: the file written, or None.
        title: the figure's title.
    """

    def __init__(self, figure, data, title, path=None):
        self.figure, self.data, self.title, self.path = figure, data, title, path

    def save(self, path):
        """Write the figure as PNG to ``path`` (directories created); returns the path."""
        self.path = save_figure(self.figure, path)
        return self.path

    def __repr__(self):
        return f"Picture({self.title!r}, data keys {sorted(self.data)}, path={self.path!r})"


def save_figure(fig, path):
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fig.savefig(path, format="png", dpi=DPI)
    return path


def finish(fig, data, title, path):
    """The Picture for ``fig``, saved to ``path`` if one is given."""
    picture = Picture(fig, data, title)
    if path is not None:
        picture.save(path)
    return picture


# ----------------------------------------------------------------------------------------------
# Models and layers
# ----------------------------------------------------------------------------------------------
def model_name(model):
    """The zoo name recorded on the model (``lenet5``), else its class name."""
    config = getattr(model, "model_config", None) or {}
    return config.get("name") or type(model).__name__


def layer_names(model):
    return [name for name, _ in model.named_modules() if name]


def get_layer(model, name):
    """``model.get_submodule(name)``, or ArgumentError listing the valid names."""
    names = layer_names(model)
    if name not in names:
        shown = ", ".join(names) if len(names) <= 60 else ", ".join(names[:60]) + f", ... ({len(names)} in all)"
        raise ArgumentError(f"{model_name(model)} has no layer '{name}'; layers are: {shown}")
    return model.get_submodule(name)


def conv2d_layers(model):
    """Names of the 2-D convolution layers, in registration order."""
    return [name for name, m in model.named_modules() if name and isinstance(m, _Conv) and m.weight.ndim == 4]


def forward_with_layers(model, x, names):
    """``(activations dict name -> Tensor, output)`` for any Module, via forward hooks.

    Zoo models do this themselves (``model(x, return_layers=...)``); this is the same for a
    plain ``nn.Module`` and checks the names first.
    """
    modules = [(name, get_layer(model, name)) for name in names]
    captured = {}
    handles = [m.register_forward_hook(_capture(captured, name)) for name, m in modules]
    try:
        output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    missing = [name for name in names if name not in captured]
    if missing:
        raise ArgumentError(f"{model_name(model)}: layers {missing} did not run in the forward pass")
    return {name: captured[name] for name in names}, output


def _capture(store, name):
    def hook(module, inputs, output):
        store[name] = output
    return hook


def as_batch(x):
    """One sample ``(C, H, W)`` (or an already batched ``(1, C, H, W)``) -> ``(1, C, H, W)`` array
    (float64 stays float64, for a model in double precision; anything else becomes float32)."""
    arr = np.asarray(x.numpy() if isinstance(x, Tensor) else x)
    arr = arr.astype(np.float64 if arr.dtype == np.float64 else np.float32, copy=False)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[0] != 1:
        raise ArgumentError(f"expected one input (C, H, W) or (1, C, H, W), got shape {arr.shape}")
    return arr


def image_for_display(sample):
    """A model input ``(C, H, W)`` as something ``imshow`` shows: (H, W) grey or (H, W, 3) in [0, 1]."""
    arr = np.asarray(sample, dtype=np.float64)
    if arr.ndim == 4:
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[0] == 3:
        arr = arr.transpose(1, 2, 0)
        lo, hi = arr.min(), arr.max()
        return (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    return arr[0] if arr.ndim == 3 else arr


def grid_shape(n, max_cols=8):
    """(rows, cols) of a near-square grid for ``n`` tiles, at most ``max_cols`` wide."""
    cols = min(max_cols, max(1, int(np.ceil(np.sqrt(n)))))
    return int(np.ceil(n / cols)), cols


def tile_axes(fig, rows, cols, left, top, tile, gap_x, gap_y):
    """A (rows, cols) array of square axes of ``tile`` inches, placed from (``left``, ``top``)
    inches (measured from the figure's left and top edges) with gaps in inches; ticks hidden."""
    width, height = fig.get_size_inches()
    axes = np.empty((rows, cols), dtype=object)
    for r in range(rows):
        for c in range(cols):
            x = left + c * (tile + gap_x)
            y = height - top - (r + 1) * tile - r * gap_y
            axes[r, c] = fig.add_axes([x / width, y / height, tile / width, tile / height])
            hide_ticks(axes[r, c])
    return axes


def mosaic(tiles, rows, cols, gap=1):
    """Tiles (equal-shaped 2-D arrays, or (h, w, 3) colour tiles) laid out in a ``rows x cols``
    grid with ``gap`` pixels between them, as one array; gaps and missing tiles are NaN (2-D) or
    white (colour). One ``imshow`` of it is far cheaper than an axes per tile."""
    tiles = [np.asarray(t, dtype=np.float64) for t in tiles]
    h, w = tiles[0].shape[:2]
    extra = tiles[0].shape[2:]
    fill = np.nan if not extra else 1.0
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap) + extra, fill)
    for i, tile in enumerate(tiles[:rows * cols]):
        r, c = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tile
    return out


def tile_centres(n, size, gap):
    """Centres (in mosaic pixels) of ``n`` tiles of ``size`` pixels with ``gap`` between them."""
    return [i * (size + gap) + (size - 1) / 2 for i in range(n)]


def mosaic_axes(fig, left, top, width, height):
    """One axes at (``left``, ``top``) inches from the figure's left/top edges, ``width x height`` inches."""
    fig_w, fig_h = fig.get_size_inches()
    ax = fig.add_axes([left / fig_w, (fig_h - top - height) / fig_h, width / fig_w, height / fig_h])
    for side in ax.spines.values():
        side.set_visible(False)
    hide_ticks(ax)
    return ax


def colorbar_at(fig, image, left, top, bar_height, label, width_inches=0.15):
    """A colour bar for ``image`` at (``left``, ``top``) inches, ``bar_height`` inches tall."""
    width, height = fig.get_size_inches()
    ax = fig.add_axes([left / width, (height - top - bar_height) / height, width_inches / width,
                       bar_height / height])
    bar = fig.colorbar(image, cax=ax)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)
    return bar


def symmetric_limit(values):
    """``max |values|`` (1 if all are zero), for a colour scale centred on zero."""
    limit = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return limit if limit > 0 else 1.0


def hide_ticks(ax):
    ax.set_xticks([])
    ax.set_yticks([])


# ----------------------------------------------------------------------------------------------
# Checkpoints and their inputs
# ----------------------------------------------------------------------------------------------
def load_model(path):
    """``(model in eval mode, Checkpoint)`` from a checkpoint file or a run directory (its
    ``model.npz``, else its ``checkpoint.npz``)."""
    from ..io.checkpoint import load_checkpoint

    path = os.fspath(path)
    if os.path.isdir(path):
        for name in ("model.npz", "checkpoint.npz"):
            if os.path.isfile(os.path.join(path, name)):
                path = os.path.join(path, name)
                break
    ckpt = load_checkpoint(path)
    model = ckpt.build_model()
    model.eval()
    return model, ckpt


def trained_label(model, ckpt):
    """``"lenet5 after 15 epochs"`` from a checkpoint's recorded history, else the model's name."""
    history = (ckpt.extra or {}).get("history") or []
    name = model_name(model)
    if not history:
        return name
    epochs = len(history)
    return f"{name} after {epochs} epoch{'s' if epochs != 1 else ''}"


def class_names_of(ckpt):
    pre, extra = ckpt.preprocessing or {}, ckpt.extra or {}
    names = extra.get("class_names") or pre.get("classes")
    return [str(n) for n in names] if names else None


def checkpoint_input(preprocessing, path):
    """One input (C, H, W) float32 from an image file, prepared as the checkpoint's data was.

    ``convgrad.data.load_input`` when the data package has it; otherwise MNIST-style 1x28x28
    preprocessing (the digit found, centred as in MNIST, then normalised with the checkpoint's
    mean and std), or for other input sizes the image resized to the model's size.
    """
    from .. import data

    pre = dict(preprocessing or {})
    if hasattr(data, "load_input"):
        return np.asarray(data.load_input(path, pre), dtype=np.float32)
    size = list(pre.get("input_size") or [1, 28, 28])
    mean = np.asarray(pre.get("mean", [0.0]), dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(pre.get("std", [1.0]), dtype=np.float32).reshape(-1, 1, 1)
    if size == [1, 28, 28]:
        pixels = data.load_digit(path)[None].astype(np.float32) / 255
    else:
        from .demo import read_image

        channels, height, width = size
        image = read_image(path, max_side=10 ** 6)
        pixels = _resize(image, height, width, channels)
    return ((pixels - mean) / std).astype(np.float32)


def _resize(image, height, width, channels):
    from PIL import Image

    mode = "L" if image.ndim == 2 else "RGB"
    pil = Image.fromarray(np.round(image * 255).astype(np.uint8), mode=mode)
    pil = pil.convert("L" if channels == 1 else "RGB").resize((width, height), Image.Resampling.BILINEAR)
    arr = np.asarray(pil, dtype=np.float32) / 255
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
