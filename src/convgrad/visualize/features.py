"""Feature maps of chosen layers for one input, and (optionally) the gradient of the predicted
class score with respect to each map.

    maps = feature_maps(model, x, layers=["conv1", "conv2"], grad=True)
    maps["maps"]["conv1"]        # (6, 28, 28): model(x, return_layers=["conv1"])["conv1"][0]
    maps["grads"]["conv1"]       # d logit[predicted] / d conv1 output, same shape
    pic = features(model, x, layers=["conv1", "conv2"], grad=True, path="features.png")

Each map is drawn on its own scale (ConvNetJS's rule: a map's darkest pixel is its minimum, its
brightest its maximum), so weak maps stay visible; the numbers are in ``data``. Gradient maps use a
colour scale symmetric around zero, again per map: red means raising that activation raises the
score. Default layers: the model's top-level stages whose output is an image-like map (at most 8).
"""
import numpy as np

from ..functional import softmax
from ..tensor import Tensor, no_grad
from .common import (as_batch, colorbar_at, finish, forward_with_layers, get_layer, image_for_display,
                     model_name, mosaic, mosaic_axes, new_figure, symmetric_limit, tile_axes)

MAX_DEFAULT_LAYERS = 8
MAX_MAPS = 32


def default_layers(model, x):
    """Top-level stages whose output for ``x`` is a (C, H, W) map, at most 8."""
    stages = [name for name, _ in model.named_children()]
    with no_grad():
        acts, _ = forward_with_layers(model, Tensor(as_batch(x)), stages)
    return [name for name in stages if getattr(acts[name], "ndim", 0) == 4][:MAX_DEFAULT_LAYERS]


def feature_maps(model, x, layers=None, grad=False, target=None):
    """The activations of ``layers`` for one input ``x`` (C, H, W), in eval mode.

    Args:
        model: any Module (zoo models use their ``return_layers``; others, forward hooks).
        x: one preprocessed input, (C, H, W) or (1, C, H, W).
        layers: layer names (default :func:`default_layers`).
        grad: also compute the gradient of the target class's logit with respect to each map.
        target: class whose score is differentiated (default: the predicted class).

    Returns:
        dict with ``"layers"`` (names), ``"maps"`` {name: array without the batch axis},
        ``"grads"`` {name: array} (only with ``grad=True``), ``"predicted"``, ``"probability"``
        (of the predicted class), ``"target"``, ``"output"`` (logits, 1-D).

    Raises:
        ArgumentError: an unknown layer (the valid names are listed), or a bad input shape.
    """
    batch = as_batch(x)
    layers = default_layers(model, batch) if layers is None else list(dict.fromkeys(layers))
    for name in layers:
        get_layer(model, name)  # an unknown name lists the valid ones
    was_training = model.training
    model.eval()
    try:
        if grad:
            acts, output = _forward(model, Tensor(batch), layers)
            logits = output.numpy()[0]
            target = int(logits.argmax()) if target is None else int(target)
            for name in layers:
                acts[name].retain_grad()
            output[0, target].backward()
            grads = {name: _grad_of(acts[name]) for name in layers}
        else:
            with no_grad():
                acts, output = _forward(model, Tensor(batch), layers)
            logits = output.numpy()[0]
            target = int(logits.argmax()) if target is None else int(target)
            grads = None
    finally:
        model.train(was_training)
    probabilities = softmax(Tensor(logits[None].astype(np.float64)), dim=1).numpy()[0]
    result = {"layers": layers, "maps": {name: np.array(acts[name].numpy()[0]) for name in layers},
              "predicted": int(logits.argmax()), "probability": float(probabilities.max()), "target": target,
              "output": logits}
    if grads is not None:
        result["grads"] = grads
    return result


def _forward(model, batch, layers):
    if hasattr(model, "stage_names"):  # a zoo model: its own return_layers
        result = model(batch, return_layers=layers)
        return {name: result[name] for name in layers}, result["output"]
    return forward_with_layers(model, batch, layers)


def _grad_of(tensor):
    if tensor.grad is None:  # the score does not depend on this layer (e.g. a branch not used)
        return np.zeros(tensor.shape, dtype=np.float32)[0]
    g = tensor.grad
    return np.array(g.numpy() if isinstance(g, Tensor) else g)[0]


def features(model, x, layers=None, grad=False, path=None, input_name="input", max_maps=MAX_MAPS, title=None,
             class_names=None, model_label=None):
    """Draw :func:`feature_maps`: the input, then per layer its maps (and gradient maps with ``grad``).

    Args:
        model, x, layers, grad: as :func:`feature_maps`.
        path: PNG to write, or None.
        input_name: how the title names the input (e.g. the image file).
        max_maps: maps drawn per layer at most (the first ones; ``data`` holds all).
        class_names: names of the classes for the title (default: their indices).
        model_label: how the title names the model (default its zoo name).

    Returns:
        Picture whose ``data`` is the dict of :func:`feature_maps`.
    """
    data = feature_maps(model, x, layers=layers, grad=grad)
    label = class_names[data["predicted"]] if class_names else str(data["predicted"])
    title = title or (f"{model_label or model_name(model)}: feature maps for {input_name}: predicted {label} "
                      f"(p = {data['probability']:.3f})" + (", with d score / d map" if grad else ""))
    blocks = []
    for name in data["layers"]:
        blocks.append((name, data["maps"][name], "maps"))
        if grad:
            blocks.append((name, data["grads"][name], "grads"))
    fig = _draw(blocks, as_batch(x)[0], input_name, max_maps, data["target"], title)
    return finish(fig, data, title, path)


TILE, GAP, HEADING, LEFT, BAR_SPACE = 0.62, 0.08, 0.34, 0.25, 1.3  # inches


def _block_shape(array, max_maps, cols):
    """(rows, columns) of tiles a block needs (a vector is one wide strip)."""
    if array.ndim == 3:
        return -(-min(len(array), max_maps) // cols), cols
    return 1, cols


def _draw(blocks, sample, input_name, max_maps, target, title):
    cols = max([min(len(a), max_maps, 16) for _, a, _ in blocks if a.ndim == 3] + [8])
    cols = min(cols, 16)
    input_height = 1.5
    heights = [HEADING + r * TILE + (r - 1) * GAP + 0.12 for r, _ in (_block_shape(a, max_maps, cols)
                                                                      for _, a, _ in blocks)]
    width = LEFT + cols * TILE + (cols - 1) * GAP + BAR_SPACE
    height = 0.55 + input_height + sum(heights)
    fig = new_figure(max(width, 7.0), height)
    width = max(width, 7.0)
    fig.suptitle(title, fontsize=10, y=1 - 0.1 / height, va="top")
    _draw_input(fig, sample, input_name, top=0.55, size=input_height - 0.35)
    top = 0.55 + input_height
    for (name, array, kind), block_height in zip(blocks, heights):
        _draw_block(fig, name, array, kind, max_maps, cols, target, top)
        top += block_height
    return fig


def _draw_input(fig, sample, input_name, top, size):
    ax = tile_axes(fig, 1, 1, LEFT, top + 0.2, size, 0, 0)[0, 0]
    shown = image_for_display(sample)
    image = ax.imshow(shown, cmap=None if shown.ndim == 3 else "gray")
    ax.set_title(f"input: {input_name} {tuple(sample.shape)}", fontsize=8, loc="left")
    if shown.ndim == 2:
        colorbar_at(fig, image, LEFT + size + 0.1, top + 0.2, size, "input value\n(normalised)", width_inches=0.1)


def _draw_block(fig, name, array, kind, max_maps, cols, target, top):
    width, height = fig.get_size_inches()
    shape = tuple(array.shape)
    what = "activations" if kind == "maps" else f"gradient of the class-{target} score w.r.t. the map"
    if array.ndim == 3:
        n = min(len(array), max_maps)
        more = f", first {n} of {len(array)} maps" if n < len(array) else ""
        rows, used = -(-n // cols), min(n, cols)
        h, w = array.shape[1:]
        gap = max(1, round(h / 10))
        picture = mosaic([_scaled(m, kind) for m in array[:n]], rows, used, gap)
        block_height = rows * TILE + (rows - 1) * GAP
        ax = mosaic_axes(fig, LEFT, top + HEADING, used * TILE + (used - 1) * GAP, block_height)
        image = _show_map(ax, picture, kind, aspect="auto")
        for i in range(n):
            r, c = divmod(i, used)
            ax.text(c * (w + gap) + 0.3, r * (h + gap) + 0.3, str(i), fontsize=6, va="top", ha="left",
                    color="white" if kind == "maps" else "black")
    else:
        more = " (a vector: one column per unit)"
        strip_width = cols * TILE + (cols - 1) * GAP
        ax = fig.add_axes([LEFT / width, (height - top - HEADING - TILE * 0.6) / height, strip_width / width,
                           TILE * 0.6 / height])
        image = _show_map(ax, _scaled(array.reshape(1, -1), kind), kind, aspect="auto")
        ax.set_yticks([])
        ax.tick_params(labelsize=7)
        block_height = TILE * 0.6
    fig.text(LEFT / width, 1 - (top + HEADING - 0.08) / height, f"{name}  {shape}: {what}{more}", fontsize=9,
             va="bottom")
    bar_left = LEFT + cols * TILE + (cols - 1) * GAP + 0.15
    bar = colorbar_at(fig, image, bar_left, top + HEADING, max(block_height, 0.5),
                      "each map on\nits own scale", width_inches=0.1)
    if kind == "maps":
        bar.set_ticks([0, 1], labels=["min", "max"])
    else:
        bar.set_ticks([-1, 0, 1], labels=["-max", "0", "+max"])


def _scaled(values, kind):
    """A map on its own scale: activations to [0, 1] (min to max), gradients to [-1, 1] (by max |g|)."""
    values = np.asarray(values, dtype=np.float64)
    if kind == "maps":
        lo, hi = values.min(), values.max()
        return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)
    return values / symmetric_limit(values)


def _show_map(ax, values, kind, aspect="equal"):
    from matplotlib import colormaps

    # grey gaps between gradient maps: a gradient of 0 is white itself
    cmap = colormaps["viridis" if kind == "maps" else "RdBu_r"].with_extremes(bad="white" if kind == "maps" else "0.8")
    low = 0 if kind == "maps" else -1
    return ax.imshow(values, cmap=cmap, vmin=low, vmax=1, interpolation="nearest", aspect=aspect)
