"""What the workbench page asks of a model, as plain functions (no HTTP here; see ``app.py``).

Every function takes a :class:`~convgrad.web.registry.ModelEntry` and already-decoded request
values and returns a JSON-able dict. The numbers come from the floor-5 code the command line uses:

- the input: :func:`convgrad.data.digit_from_array`, the preprocessing of ``convgrad predict``
  (polarity, crop, 20x20 box, centre of mass at the centre of 28x28), then the checkpoint's
  mean/std;
- layers, shapes, parameters, mult-adds: :func:`convgrad.summary` and :func:`convgrad.explain`;
- feature maps: ``model(x, return_layers=[...])``;
- saliency: :func:`convgrad.inspect.saliency.saliency_map` (one backward pass of convgrad's autodiff);
- output sizes: the formula :func:`convgrad.explain` prints, checked against the real op.

Arrays travel compactly: a feature map as base64 of uint8 bytes autoscaled per map (its own min ->
0, max -> 255), with the min and max beside it.
"""
import base64
import io
import math
import time

import numpy as np

from ..data import digit_from_array
from ..errors import ConvgradError
from ..tensor import Tensor, no_grad
from .registry import MODEL_LOCK, RequestError

MAX_IMAGE_SIDE = 4096      # decoded uploads larger than this are refused (a small PNG can inflate hugely)
MAX_PIXELS_SIDE = 1024     # {"pixels": ...} arrays
MAX_MAPS_PER_LAYER = 64    # feature maps sent per layer
MAX_CODES = 2000           # test digits on the codes map
ACTIVATIONS = {"ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Tanh",
               "Sigmoid", "Hardtanh", "Hardswish", "Hardsigmoid", "Softplus"}


# ----------------------------------------------------------------------------------------------
# Request bodies -> the network's input
# ----------------------------------------------------------------------------------------------
def grey_from_image_bytes(data):
    """A PNG/JPEG (or any image Pillow reads) as a 2-D float32 grey array, transparency composited
    onto the background opposite to the ink (as ``convgrad predict`` reads files)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            if max(img.size) > MAX_IMAGE_SIDE:
                raise RequestError(f"image is {img.size[0]}x{img.size[1]} pixels; at most "
                                   f"{MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE} accepted", 413)
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                alpha = np.asarray(rgba)[..., 3].astype(np.float32) / 255
                grey = np.asarray(rgba.convert("L"), dtype=np.float32)
                if alpha.min() < 1:
                    ink = grey[alpha > 0.5].mean() if (alpha > 0.5).any() else 0.0
                    grey = grey * alpha + (255.0 if ink < 128 else 0.0) * (1 - alpha)
                return grey
            return np.asarray(img.convert("L"), dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        if isinstance(exc, RequestError):
            raise
        raise RequestError(f"the request body is not a readable image (PNG or JPEG expected): "
                           f"{type(exc).__name__}") from None


def grey_from_pixels(pixels):
    """``{"pixels": [[...], ...]}``: a 2-D list of numbers in 0..255 -> float32 array."""
    try:
        grey = np.asarray(pixels, dtype=np.float64)
    except (TypeError, ValueError):
        raise RequestError("pixels must be a list of rows of numbers 0..255 (28 rows of 28 for MNIST)") from None
    if grey.ndim != 2 or not 1 <= grey.shape[0] <= MAX_PIXELS_SIDE or not 1 <= grey.shape[1] <= MAX_PIXELS_SIDE:
        raise RequestError(f"pixels must be a 2-D array of rows (28 rows of 28 for MNIST), at most "
                           f"{MAX_PIXELS_SIDE} per side; got shape {grey.shape}")
    if not np.isfinite(grey).all() or grey.min() < 0 or grey.max() > 255:
        raise RequestError("pixels must be finite numbers in 0..255 (white digit on black)")
    return grey.astype(np.float32)


def network_input(entry, grey, centre=True):
    """The digit as the network sees it and the model's input.

    Args:
        entry: the model (its input size, mean and std).
        grey: a 2-D float array, any polarity and size (see :func:`grey_from_image_bytes`).
        centre: apply ``convgrad predict``'s preprocessing (find, crop, fit into 20x20, centre by
            mass in 28x28); False takes ``grey`` as already MNIST-style, of the model's input size.

    Returns:
        ``(digit, x)``: uint8 ``(H, W)`` and float32 ``(1, C, H, W)``, normalised with the
        checkpoint's mean and std (the grey digit repeated over C channels).

    Raises:
        RequestError: no digit in the image, or a size the model does not take.
    """
    channels, height, width = entry.input_size
    if centre:
        if height != width:
            raise RequestError(f"this model takes {height}x{width} input; the workbench draws square digits")
        try:
            digit = digit_from_array(grey, size=height, box=max(1, round(height * 20 / 28)), source="the image")
        except ConvgradError as exc:
            raise RequestError(str(exc)) from None
    else:
        if grey.shape != (height, width):
            raise RequestError(f"with centre=false the pixels must be {height}x{width}, got "
                               f"{grey.shape[0]}x{grey.shape[1]}")
        digit = np.round(grey).astype(np.uint8)
    x = np.repeat(digit[None].astype(np.float32) / 255, channels, axis=0)
    x = (x - entry.mean) / entry.std
    return digit, x[None].astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Describing a model
# ----------------------------------------------------------------------------------------------
def describe_model(entry):
    """``GET /api/model/{id}``: layers in network order (shapes, params, mult-adds), totals, the
    ``explain`` text and which layers have filters."""
    s = entry.summary
    layers = []
    for row in s.layers:
        m = row.module
        weight = getattr(m, "weight", None)
        layers.append({"name": row.name, "type": row.type, "input_shape": list(row.input_shape),
                       "output_shape": _jsonable_shape(row.output_shape), "params": int(row.params),
                       "macs": int(row.macs), "filters": weight is not None and weight.ndim == 4,
                       "detail": _detail_kind(m)})
    return {**entry.describe(), "layers": layers, "total_params": int(s.total_params),
            "total_macs": int(s.total_macs), "summary": str(s), "explain": entry.explain,
            "extra": {k: v for k, v in entry.extra.items() if k in ("test_accuracy", "test_images", "config")}}


def _jsonable_shape(shape):
    if shape and isinstance(shape[0], tuple):
        return [list(s) for s in shape]
    return list(shape)


def _detail_kind(module):
    name = type(module).__name__
    if hasattr(module, "in_channels") and hasattr(module, "kernel_size") and not getattr(module, "transposed", False) \
            and "Transpose" not in name and getattr(module, "weight", None) is not None and module.weight.ndim == 4:
        return "conv"
    if name in ("MaxPool2d", "AvgPool2d"):
        return "pool"
    return None


def filters(entry, layer):
    """``GET /api/model/{id}/filters?layer=``: a conv layer's kernels (at most 32 out x 8 in)."""
    module = _layer_module(entry, layer)
    weight = getattr(module, "weight", None)
    if weight is None or weight.ndim != 4:
        raise RequestError(f"layer '{layer}' ({type(module).__name__}) has no 2-D filters")
    w = weight.numpy()[:32, :8].astype(np.float64)
    return {"layer": layer, "shape": list(weight.shape), "shown": list(w.shape), "min": float(w.min()),
            "max": float(w.max()), "weights": np.round(w, 5).tolist()}


def _layer_module(entry, layer):
    names = {row.name: row.module for row in entry.summary.layers}
    if not isinstance(layer, str) or layer not in names:
        raise RequestError(f"model {entry.id} has no layer {str(layer)[:80]!r}; layers: {', '.join(names)}", 404)
    return names[layer]


# ----------------------------------------------------------------------------------------------
# Predictions and activations
# ----------------------------------------------------------------------------------------------
def predict(entry, grey, centre=True):
    """``POST /api/predict``: what the model answers for one image.

    Args: as :func:`network_input`.

    Returns:
        ``{"model", "kind", "input" (the network's input as rows of 0..255), "prediction",
        "label", "probabilities" (softmax of the scores), "milliseconds"}``; for an autoencoder
        ``prediction`` and ``probabilities`` are None and ``reconstruction`` holds its output.

    Raises:
        RequestError: see :func:`network_input`.

    Example::

        >>> predict(entry, grey_from_pixels(mnist_digit))["prediction"]   # doctest: +SKIP
        7
    """
    t0 = time.perf_counter()
    digit, x = network_input(entry, grey, centre)
    with MODEL_LOCK, no_grad():
        out = entry.model(Tensor(x)).numpy()
    answer = {"model": entry.id, "kind": entry.kind, "input": digit.tolist()}
    if entry.kind == "classifier":
        logits = out[0].astype(np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        k = int(probs.argmax())
        answer.update(prediction=k, label=entry.class_names[k] if k < len(entry.class_names) else str(k),
                      probabilities=[round(float(p), 6) for p in probs])
    else:
        answer.update(prediction=None, probabilities=None)
        if entry.kind == "autoencoder":
            answer["reconstruction"] = _to_pixels(out[0], entry).tolist()
    answer["milliseconds"] = round((time.perf_counter() - t0) * 1000, 2)
    return answer


def _to_pixels(image, entry):
    """An autoencoder's output (C, H, W), in [0, 1] pixels as the reconstruction objective trains it,
    as uint8 grey pixels (the channel mean)."""
    return np.clip(np.round(image.mean(axis=0) * 255), 0, 255).astype(np.uint8)


def _encode_maps(array):
    """(C, H, W) -> autoscaled uint8 bytes per map (base64) with each map's min and max."""
    maps = array[:MAX_MAPS_PER_LAYER].astype(np.float64)
    lo = maps.min(axis=(1, 2))
    hi = maps.max(axis=(1, 2))
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = np.round((maps - lo[:, None, None]) / span[:, None, None] * 255)
    scaled[hi == lo] = 0
    return {"data": base64.b64encode(scaled.astype(np.uint8).tobytes()).decode("ascii"),
            "min": [round(float(v), 6) for v in lo], "max": [round(float(v), 6) for v in hi]}


def activations(entry, grey, centre=True):
    """``POST /api/activations``: every layer's output for this input, in network order.

    Args: as :func:`network_input`.

    Returns:
        ``{"model", "input", "layers": [...]}``; each layer: ``name``, ``type``, ``output_shape``,
        ``params``, ``macs``, and for tensor outputs ``channels``, ``height``, ``width``,
        ``shown`` (at most 64 maps), ``min``/``max`` per map and ``data``: base64 of the maps as
        uint8, each scaled from its own min (0) to its max (255). A vector output is one map of
        height 1.
    """
    digit, x = network_input(entry, grey, centre)
    names = list(dict.fromkeys(row.name for row in entry.summary.layers))
    with MODEL_LOCK, no_grad():
        captured = _run_capturing(entry.model, x, names)
    layers = []
    for row in entry.summary.layers:
        if row.name in {layer["name"] for layer in layers}:
            continue
        value = captured.get(row.name)
        item = {"name": row.name, "type": row.type, "output_shape": _jsonable_shape(row.output_shape),
                "params": int(row.params), "macs": int(row.macs), "detail": _detail_kind(row.module),
                "filters": getattr(row.module, "weight", None) is not None and row.module.weight.ndim == 4}
        if isinstance(value, Tensor) and value.ndim >= 2:
            a = value.numpy()[0]
            a = a[None, None] if a.ndim == 1 else a[:, None] if a.ndim == 2 else a.reshape(a.shape[0], a.shape[-2], -1)
            item.update(channels=int(a.shape[0]), height=int(a.shape[1]), width=int(a.shape[2]),
                        shown=min(int(a.shape[0]), MAX_MAPS_PER_LAYER), **_encode_maps(a))
        layers.append(item)
    return {"model": entry.id, "input": digit.tolist(), "layers": layers}


def _run_capturing(model, x, names):
    """{name: output} of the named submodules for input ``x`` (``return_layers`` for zoo models)."""
    if hasattr(model, "_check_layer_names"):
        acts = model(Tensor(x), return_layers=names)
        return {k: v for k, v in acts.items() if k in names}
    captured, handles = {}, []
    for name in names:
        def hook(module, inputs, output, name=name):
            captured[name] = output
        handles.append(model.get_submodule(name).register_forward_hook(hook))
    try:
        model(Tensor(x))
    finally:
        for h in handles:
            h.remove()
    return captured


# ----------------------------------------------------------------------------------------------
# One output value, explained
# ----------------------------------------------------------------------------------------------
def detail(entry, grey, layer, channel, y, x, centre=True):
    """``POST /api/detail``: how one output value of a conv or pooling layer is computed.

    Args:
        entry, grey, centre: as :func:`network_input`.
        layer: the layer's name (as ``GET /api/model/{id}`` lists it).
        channel, y, x: which output value.

    Returns:
        For a convolution: ``window`` (the group's input channels x kernel, dilation applied,
        zero padding included, as ``rows``/``cols`` say), ``kernel``, ``products`` (element-wise),
        ``sum``, ``bias``, ``value`` = sum + bias, ``output`` (what the layer really computed,
        equal up to rounding) and ``next`` (the following layer's value at the same place, e.g.
        the ReLU). For pooling: ``window`` (None for padding), ``winner`` and ``value`` (max), or
        ``sum``, ``divisor`` and ``value`` (average, PyTorch's divisor rule).

    Raises:
        RequestError: an unknown layer (404), a layer that is not a convolution or pooling, or a
            position outside the output.
    """
    module = _layer_module(entry, layer)
    kind = _detail_kind(module)
    if kind is None:
        raise RequestError(f"layer '{layer}' is a {type(module).__name__}; the detail view explains "
                           "convolution and pooling layers")
    rows = [r.name for r in entry.summary.layers]
    following = rows[rows.index(layer) + 1] if rows.index(layer) + 1 < len(rows) else None
    next_module = entry.model.get_submodule(following) if following else None
    _, inp = network_input(entry, grey, centre)
    seen = {}
    handles = [module.register_forward_hook(lambda m, i, o: seen.update(input=i[0].numpy()[0], output=o.numpy()[0]))]
    if next_module is not None:
        handles.append(next_module.register_forward_hook(lambda m, i, o: seen.update(next=o.numpy()[0])))
    try:
        with MODEL_LOCK, no_grad():
            entry.model(Tensor(inp))
    finally:
        for h in handles:
            h.remove()
    out = seen["output"]
    for what, value, size in (("channel", channel, out.shape[0]), ("y", y, out.shape[1]), ("x", x, out.shape[2])):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
            raise RequestError(f"{what} must be an integer in [0, {size}) for layer '{layer}' "
                               f"(output {tuple(out.shape)}), got {value!r}")
    answer = (_conv_detail if kind == "conv" else _pool_detail)(module, seen["input"], channel, y, x)
    answer.update(layer=layer, type=type(module).__name__, channel=channel, y=y, x=x,
                  output=float(out[channel, y, x]), input_shape=list(seen["input"].shape),
                  output_shape=list(out.shape))
    nxt = seen.get("next")
    if nxt is not None and nxt.shape == out.shape:
        answer["next"] = {"name": following, "type": type(next_module).__name__,
                          "value": float(nxt[channel, y, x]),
                          "activation": type(next_module).__name__ in ACTIVATIONS}
    return answer


def _pair(value):
    return (int(value), int(value)) if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)


def _window_indices(start, k, d):
    return [start + i * d for i in range(k)]


def _conv_detail(module, inp, c, y, x):
    kh, kw = _pair(module.kernel_size)
    sh, sw = _pair(module.stride)
    dh, dw = _pair(module.dilation)
    if isinstance(module.padding, str):  # "same": PyTorch pads d*(k-1) in total, the extra one on the right
        ph, pw = (dh * (kh - 1)) // 2 if module.padding == "same" else 0, \
                 (dw * (kw - 1)) // 2 if module.padding == "same" else 0
    else:
        ph, pw = _pair(module.padding)
    groups = module.groups
    per_group_out = module.out_channels // groups
    cin = module.in_channels // groups
    first = (c // per_group_out) * cin
    rows = _window_indices(y * sh - ph, kh, dh)
    cols = _window_indices(x * sw - pw, kw, dw)
    window = np.zeros((cin, kh, kw))
    for i, r in enumerate(rows):
        for j, col in enumerate(cols):
            if 0 <= r < inp.shape[1] and 0 <= col < inp.shape[2]:
                window[:, i, j] = inp[first:first + cin, r, col]
    kernel = module.weight.numpy()[c].astype(np.float64)
    products = window * kernel
    total = float(products.sum())
    bias = float(module.bias.numpy()[c]) if getattr(module, "bias", None) is not None else 0.0
    return {"kind": "conv", "rows": rows, "cols": cols, "in_channels": list(range(first, first + cin)),
            "window": _round(window), "kernel": _round(kernel), "products": _round(products),
            "sum": total, "bias": bias, "value": total + bias,
            "padding": [ph, pw], "stride": [sh, sw], "dilation": [dh, dw]}


def _pool_detail(module, inp, c, y, x):
    kh, kw = _pair(module.kernel_size)
    sh, sw = _pair(module.stride if module.stride is not None else module.kernel_size)
    ph, pw = _pair(module.padding)
    dh, dw = _pair(getattr(module, "dilation", 1))
    rows = _window_indices(y * sh - ph, kh, dh)
    cols = _window_indices(x * sw - pw, kw, dw)
    height, width = inp.shape[1:]
    is_max = type(module).__name__ == "MaxPool2d"
    window = np.full((kh, kw), np.nan)
    inside = np.zeros((kh, kw), bool)      # in the input
    in_padded = np.zeros((kh, kw), bool)   # in the input or its padding
    for i, r in enumerate(rows):
        for j, col in enumerate(cols):
            inside[i, j] = 0 <= r < height and 0 <= col < width
            in_padded[i, j] = -ph <= r < height + ph and -pw <= col < width + pw
            if inside[i, j]:
                window[i, j] = inp[c, r, col]
            elif in_padded[i, j] and not is_max:
                window[i, j] = 0.0
    answer = {"kind": "pool", "rows": rows, "cols": cols, "window": [[None if math.isnan(v) else round(float(v), 6)
                                                                      for v in row] for row in window],
              "inside": inside.tolist(), "stride": [sh, sw], "padding": [ph, pw], "mode": "max" if is_max else "avg"}
    if is_max:
        masked = np.where(inside, window, -np.inf)
        i, j = np.unravel_index(int(np.argmax(masked)), masked.shape)
        answer.update(winner=[int(i), int(j)], value=float(masked[i, j]))
    else:
        counted = in_padded if getattr(module, "count_include_pad", True) else inside
        divisor = getattr(module, "divisor_override", None) or int(counted.sum())
        total = float(np.where(inside, window, 0).sum())
        answer.update(sum=total, divisor=divisor, value=total / divisor)
    return answer


def _round(array):
    return np.round(np.asarray(array, np.float64), 6).tolist()


# ----------------------------------------------------------------------------------------------
# Saliency
# ----------------------------------------------------------------------------------------------
def saliency(entry, grey, centre=True, target=None):
    """``POST /api/saliency``: ``|d score / d input|`` of the predicted (or ``target``) class.

    Returns:
        ``{"model", "target", "label", "input", "saliency"}``: the map as rows of numbers in [0, 1]
        (see :func:`convgrad.inspect.saliency.saliency_map`).

    Raises:
        RequestError: the model is not a classifier, or ``target`` is not a class.
    """
    from ..inspect.saliency import saliency_map

    if entry.kind != "classifier":
        raise RequestError(f"saliency needs class scores; model {entry.id} is an {entry.kind}")
    digit, x = network_input(entry, grey, centre)
    try:
        with MODEL_LOCK:
            sal, k = saliency_map(entry.model, x[0], target)
    except ConvgradError as exc:
        raise RequestError(str(exc)) from None
    return {"model": entry.id, "target": k, "label": entry.class_names[k] if k < len(entry.class_names) else str(k),
            "input": digit.tolist(), "saliency": np.round(sal.astype(np.float64), 4).tolist()}


# ----------------------------------------------------------------------------------------------
# Codes: a 2-D map of the test digits
# ----------------------------------------------------------------------------------------------
_TEST_DIGITS = {}


def test_digits():
    """The bundled official MNIST test images (uint8 (10000, 28, 28)) and labels, read once."""
    if not _TEST_DIGITS:
        from ..data import MNIST

        ds = MNIST(train=False)
        _TEST_DIGITS["images"], _TEST_DIGITS["labels"] = ds.data, ds.targets
    return _TEST_DIGITS["images"], _TEST_DIGITS["labels"]


def test_digit(index):
    """``GET /api/digit/{index}``: one test digit's pixels and label."""
    images, labels = test_digits()
    if not 0 <= index < len(images):
        raise RequestError(f"digit index must be in [0, {len(images)}), got {index}", 404)
    return {"index": index, "pixels": images[index].tolist(), "label": int(labels[index])}


def _codes_of(entry, n):
    """Codes of the first ``n`` test digits: ``model.encode`` if the model has it, else the input of
    its last linear layer (the penultimate features); and what they are."""
    if n in entry.codes:
        return entry.codes[n]
    if entry.input_size[1:] != (28, 28):
        raise RequestError(f"the codes map uses 28x28 MNIST test digits; model {entry.id} takes "
                           f"{'x'.join(map(str, entry.input_size))}")
    images, _ = test_digits()
    x = np.repeat(images[:n, None].astype(np.float32) / 255, entry.input_size[0], axis=1)
    x = ((x - entry.mean) / entry.std).astype(np.float32)
    model = entry.model
    last_linear = [name for name, m in model.named_modules() if name and hasattr(m, "in_features")]
    chunks = []
    with MODEL_LOCK, no_grad():
        for start in range(0, n, 500):
            batch = Tensor(x[start:start + 500])
            if hasattr(model, "encode"):
                chunks.append(model.encode(batch).numpy().reshape(len(batch), -1))
                continue
            if not last_linear:
                chunks.append(model(batch).numpy().reshape(len(batch), -1))
                continue
            grabbed = {}
            handle = model.get_submodule(last_linear[-1]).register_forward_hook(
                lambda m, i, o: grabbed.update(code=i[0].numpy()))
            try:
                model(batch)
            finally:
                handle.remove()
            chunks.append(grabbed["code"].reshape(len(batch), -1))
    codes = np.concatenate(chunks).astype(np.float64)
    source = "model.encode" if hasattr(model, "encode") else \
        f"input of {last_linear[-1]}" if last_linear else "model output"
    entry.codes[n] = (codes, source)
    return entry.codes[n]


def pca_2d(codes):
    """The codes projected on their two principal axes (NumPy SVD) and the variance each explains."""
    centred = codes - codes.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2] if vt.shape[0] >= 2 else np.vstack([vt, np.zeros_like(vt)])[:2]
    variance = s ** 2
    ratio = (variance[:2] / variance.sum()).tolist() if variance.sum() > 0 else [0.0, 0.0]
    return centred @ axes.T, ratio + [0.0] * (2 - len(ratio))


def codes_map(entry, n=500):
    """``GET /api/codes/{id}?n=``: the first ``n`` test digits' codes on a 2-D PCA map.

    Returns:
        ``{"model", "n", "code_dim", "source" (what the codes are), "explained_variance" (of the
        two axes), "points" (n x 2), "labels", "images" (base64 of n x 28 x 28 uint8)}``.

    Raises:
        RequestError: ``n`` outside [10, 2000], or a model that does not take 28x28 digits.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 10 <= n <= MAX_CODES:
        raise RequestError(f"n must be an integer in [10, {MAX_CODES}], got {n!r}")
    codes, source = _codes_of(entry, n)
    points, ratio = pca_2d(codes)
    images, labels = test_digits()
    return {"model": entry.id, "n": n, "code_dim": int(codes.shape[1]), "source": source,
            "explained_variance": [round(float(r), 4) for r in ratio],
            "points": np.round(points, 4).tolist(), "labels": labels[:n].tolist(),
            "images": base64.b64encode(np.ascontiguousarray(images[:n]).tobytes()).decode("ascii")}


def neighbours(entry, index, n=500, k=8):
    """``GET /api/codes/{id}/neighbours?index=&n=&k=``: the ``k`` digits whose codes are nearest
    (Euclidean, in the full code space) to digit ``index``'s, among the first ``n``."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 50:
        raise RequestError(f"k must be an integer in [1, 50], got {k!r}")
    if isinstance(n, bool) or not isinstance(n, int) or not 10 <= n <= MAX_CODES:
        raise RequestError(f"n must be an integer in [10, {MAX_CODES}], got {n!r}")
    codes, _ = _codes_of(entry, n)
    if not 0 <= index < len(codes):
        raise RequestError(f"index must be in [0, {len(codes)}), got {index}")
    distance = np.sqrt(((codes - codes[index]) ** 2).sum(axis=1))
    order = [int(i) for i in np.argsort(distance, kind="stable") if i != index][:k]
    _, labels = test_digits()
    return {"index": index, "label": int(labels[index]), "neighbours": order,
            "labels": [int(labels[i]) for i in order], "distances": [round(float(distance[i]), 4) for i in order]}


# ----------------------------------------------------------------------------------------------
# Arithmetic of one layer
# ----------------------------------------------------------------------------------------------
ARITHMETIC_OPS = {"conv": "Conv2d", "maxpool": "MaxPool2d", "avgpool": "AvgPool2d"}
ARITHMETIC_LIMITS = {"size": (1, 64), "kernel": (1, 32), "stride": (1, 32), "padding": (0, 32), "dilation": (1, 16)}


def arithmetic(op, size, kernel, stride, padding, dilation, ceil_mode):
    """``GET /api/arithmetic``: the output size of one conv or pooling layer on a square input,
    with the formula filled in as ``convgrad.explain`` prints it, and where each window starts.

    The size is checked by running the real op (convgrad's ``conv2d`` / ``max_pool2d`` /
    ``avg_pool2d``) on zeros; settings the op refuses come back as RequestError with its message.
    """
    from .. import functional as F
    from ..inspect.summary import output_size_formula

    if op not in ARITHMETIC_OPS:
        raise RequestError(f"op must be one of {', '.join(ARITHMETIC_OPS)}, got {str(op)[:40]!r}")
    values = {"size": size, "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}
    for name, value in values.items():
        low, high = ARITHMETIC_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise RequestError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
    if op == "conv" and ceil_mode:
        raise RequestError("ceil mode is an option of pooling layers; a convolution always rounds down")
    if op == "avgpool" and dilation != 1:
        raise RequestError("average pooling has no dilation (PyTorch's AvgPool2d neither); use 1")
    text, formula_value = output_size_formula(size, kernel, stride, padding, dilation, ceil_mode)
    zeros = Tensor(np.zeros((1, 1, size, size), np.float32))
    try:
        if op == "conv":
            out = F.conv2d(zeros, Tensor(np.zeros((1, 1, kernel, kernel), np.float32)), stride=stride,
                           padding=padding, dilation=dilation)
        elif op == "maxpool":
            out = F.max_pool2d(zeros, kernel, stride=stride, padding=padding, dilation=dilation,
                               ceil_mode=bool(ceil_mode))
        else:
            out = F.avg_pool2d(zeros, kernel, stride=stride, padding=padding, ceil_mode=bool(ceil_mode))
    except ConvgradError as exc:
        raise RequestError(f"{ARITHMETIC_OPS[op]}: {exc}") from None
    n_out = int(out.shape[-1])
    name = "conv" if op == "conv" else "pool"
    formula = f"{name}: {text}"
    if formula_value != n_out:
        formula += f"  (PyTorch's rule gives {n_out}: the last window may not start in the padding)"
    return {"op": op, "size": size, "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation,
            "ceil_mode": bool(ceil_mode), "output": n_out, "formula": formula, "padded": size + 2 * padding,
            "span": dilation * (kernel - 1) + 1, "starts": [i * stride - padding for i in range(n_out)]}
