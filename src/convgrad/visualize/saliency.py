"""Which pixels the decision depends on: input-gradient saliency, SmoothGrad and Grad-CAM.

    s = saliency_map(model, x, method="smoothgrad")     # s["saliency"]: (H, W), >= 0
    pic = saliency(model, x, method="gradcam", path="gradcam.png")

- ``gradient`` (Simonyan et al. 2014): ``|d score / d x|``, the largest over the input channels,
  where ``score`` is the logit of the target class (default: the predicted one).
- ``smoothgrad`` (Smilkov et al. 2017): the same, averaged over ``samples`` copies of ``x`` with
  Gaussian noise of standard deviation ``noise * (max(x) - min(x))``; less speckled.
- ``gradcam`` (Selvaraju et al. 2017): on a late conv layer with maps ``A_k``, weights
  ``alpha_k = mean over pixels of d score / d A_k`` and ``relu(sum_k alpha_k A_k)``, upsampled
  (bilinear) to the input size. Default layer: the top-level stage that holds the last
  convolution (``conv2`` for LeNet-5, ``layer3`` for a CIFAR ResNet), or that convolution itself
  when the stage's output has no spatial extent left.
"""
import numpy as np

from ..errors import ArgumentError
from ..functional import softmax
from ..tensor import Tensor, no_grad
from .common import (as_batch, conv2d_layers, finish, forward_with_layers, get_layer, hide_ticks,
                     image_for_display, model_name, new_figure)

METHODS = ("gradient", "smoothgrad", "gradcam")


def _input_gradient(model, batch, target):
    """``(d logit[target] / d x as (C, H, W), logits)`` for one batched input."""
    x = Tensor(batch, requires_grad=True)
    logits = model(x)
    target = int(logits.numpy()[0].argmax()) if target is None else int(target)
    logits[0, target].backward()
    return np.array(x.grad.numpy() if isinstance(x.grad, Tensor) else x.grad)[0], logits.numpy()[0], target


def default_gradcam_layer(model, x):
    """The layer Grad-CAM uses by default (see the module docstring)."""
    convs = conv2d_layers(model)
    if not convs:
        raise ArgumentError(f"gradcam: {model_name(model)} has no 2-D convolution layer")
    last, stage = convs[-1], convs[-1].split(".")[0]
    if stage == last:
        return last
    with no_grad():
        acts, _ = forward_with_layers(model, Tensor(as_batch(x)), [stage])
    out = acts[stage]
    return stage if getattr(out, "ndim", 0) == 4 and min(out.shape[2:]) >= 2 else last


def _unit_centre(model, batch, layer, i, j):
    """Input (row, column) of the centre of mass of |d A[:, i, j] / d x|: where unit (i, j) looks."""
    for trial in (batch, np.random.default_rng(0).normal(size=batch.shape).astype(np.float32)):
        x = Tensor(trial, requires_grad=True)
        acts, _ = forward_with_layers(model, x, [layer])
        acts[layer][0, :, i, j].sum().backward()
        weight = np.abs(x.grad.numpy() if isinstance(x.grad, Tensor) else np.asarray(x.grad))[0].sum(axis=0)
        if weight.sum() > 0:
            ys, xs = np.indices(weight.shape)
            return (ys * weight).sum() / weight.sum(), (xs * weight).sum() / weight.sum()
    return None


def _upsample(model, batch, layer, cam):
    """``cam`` (h, w) resampled (bilinear) to the input's pixels, each map unit placed at the
    centre of its receptive field (found from the gradient of the first and the last unit), so a
    LeNet-5 conv2 unit i lands on input pixel 2i + 4.5, not on 2.8i + 0.9 as a plain resize would."""
    h, w = cam.shape
    size = batch.shape[2:]
    first, last = _unit_centre(model, batch, layer, 0, 0), _unit_centre(model, batch, layer, h - 1, w - 1)
    positions = []
    for axis, n_map, n_in in ((0, h, size[0]), (1, w, size[1])):
        if first is None or last is None or n_map == 1:  # no gradient: spread the units evenly
            start, step = (n_in / n_map - 1) / 2, n_in / n_map
        else:
            start, step = first[axis], (last[axis] - first[axis]) / (n_map - 1)
        position = (np.arange(n_in) - start) / step if step else np.zeros(n_in)
        positions.append(np.clip(position, 0, n_map - 1))
    (fy, fx) = positions
    y0, x0 = np.floor(fy).astype(int), np.floor(fx).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (fy - y0)[:, None], (fx - x0)[None, :]
    top = cam[y0][:, x0] * (1 - wx) + cam[y0][:, x1] * wx
    bottom = cam[y1][:, x0] * (1 - wx) + cam[y1][:, x1] * wx
    return top * (1 - wy) + bottom * wy


def _gradcam(model, batch, target, layer):
    layer = default_gradcam_layer(model, batch) if layer is None else layer
    get_layer(model, layer)
    acts, logits = forward_with_layers(model, Tensor(batch), [layer])
    maps = acts[layer]
    if maps.ndim != 4:
        raise ArgumentError(f"gradcam: layer '{layer}' gives output of shape {tuple(maps.shape)}, not a map "
                            "(N, C, H, W); choose a conv layer")
    target = int(logits.numpy()[0].argmax()) if target is None else int(target)
    maps.retain_grad()
    logits[0, target].backward()
    grad = maps.grad.numpy() if isinstance(maps.grad, Tensor) else np.asarray(maps.grad)
    alpha = grad[0].mean(axis=(1, 2))
    cam = np.maximum(np.tensordot(alpha, maps.numpy()[0], axes=1), 0)
    return _upsample(model, batch, layer, cam), logits.numpy()[0], target, layer, cam


def saliency_map(model, x, method="gradient", target=None, layer=None, samples=25, noise=0.15, seed=0):
    """The saliency of one input ``x`` (C, H, W) for the ``target`` class (default: predicted).

    Args:
        model: any Module returning class scores.
        x: one preprocessed input.
        method: "gradient", "smoothgrad" or "gradcam".
        target: class index, or None for the predicted class.
        layer: Grad-CAM's layer (default: see the module docstring).
        samples, noise, seed: SmoothGrad's number of noisy copies, noise level (fraction of the
            input's range) and random seed.

    Returns:
        dict ``{"saliency": (H, W) float64 >= 0, "method", "target", "predicted", "probability",
        "layer" (Grad-CAM's, else None), "cam" (Grad-CAM at the layer's resolution, else None)}``.

    Raises:
        ArgumentError: unknown method or layer, a layer without spatial maps.
    """
    if method not in METHODS:
        raise ArgumentError(f"saliency: method must be one of {', '.join(METHODS)}, got {method!r}")
    batch = as_batch(x)
    was_training = model.training
    model.eval()
    cam_layer = cam = None
    try:
        if method == "gradient":
            grad, logits, target = _input_gradient(model, batch, target)
            value = np.abs(grad).max(axis=0)
        elif method == "smoothgrad":
            _, logits, target = _input_gradient(model, batch, target)
            rng = np.random.default_rng(seed)
            sigma = noise * float(batch.max() - batch.min())
            total = np.zeros(batch.shape[2:])
            for _ in range(samples):
                noisy = (batch + rng.normal(0, sigma, batch.shape)).astype(np.float32)
                total += np.abs(_input_gradient(model, noisy, target)[0]).max(axis=0)
            value = total / samples
        else:
            value, logits, target, cam_layer, cam = _gradcam(model, batch, target, layer)
    finally:
        model.train(was_training)
    probabilities = softmax(Tensor(logits[None].astype(np.float64)), dim=1).numpy()[0]
    return {"saliency": np.asarray(value, dtype=np.float64), "method": method, "target": target,
            "predicted": int(logits.argmax()), "probability": float(probabilities.max()), "layer": cam_layer,
            "cam": cam}


METHOD_TITLES = {"gradient": "input-gradient saliency |d score / d pixel|",
                 "smoothgrad": "SmoothGrad (mean |d score / d pixel| over noisy copies)",
                 "gradcam": "Grad-CAM"}


def saliency(model, x, method="gradient", path=None, input_name="input", target=None, layer=None,
             class_names=None, title=None, model_label=None, **options):
    """Draw :func:`saliency_map`: the input, the saliency map, and the map over the input.

    ``model_label`` names the model in the title (default its zoo name); ``options`` go to
    :func:`saliency_map` (``samples``, ``noise``, ``seed``).

    Returns:
        Picture whose ``data`` is the dict of :func:`saliency_map`.
    """
    data = saliency_map(model, x, method=method, target=target, layer=layer, **options)
    name = class_names[data["target"]] if class_names else str(data["target"])
    predicted = class_names[data["predicted"]] if class_names else str(data["predicted"])
    what = METHOD_TITLES[method] + (f" on {data['layer']}" if data["layer"] else "")
    title = title or (f"{model_label or model_name(model)}: {what}\nfor {input_name}, class {name} (predicted {predicted}, "
                      f"p = {data['probability']:.3f})")
    shown = image_for_display(as_batch(x)[0])
    grey = "gray" if shown.ndim == 2 else None
    sal = data["saliency"]
    fig = new_figure(10, 3.9)
    axes = fig.subplots(1, 3, gridspec_kw={"wspace": 0.35})
    image = axes[0].imshow(shown, cmap=grey)
    axes[0].set_title("input", fontsize=9)
    if grey:
        _bar(fig, axes[0], image, "input value (normalised)")
    image = axes[1].imshow(sal, cmap="inferno", vmin=0, vmax=sal.max() or 1)
    axes[1].set_title("saliency", fontsize=9)
    _bar(fig, axes[1], image, "saliency (" + ("Grad-CAM units" if method == "gradcam" else "|gradient|") + ")")
    axes[2].imshow(shown, cmap=grey)
    overlay = axes[2].imshow(sal, cmap="inferno", alpha=0.6, vmin=0, vmax=sal.max() or 1)
    axes[2].set_title("saliency over the input", fontsize=9)
    _bar(fig, axes[2], overlay, "saliency")
    for ax in axes:
        hide_ticks(ax)
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(top=0.8, bottom=0.04, left=0.02, right=0.95)
    return finish(fig, data, title.replace("\n", " "), path)


def _bar(fig, ax, image, label):
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    bar.set_label(label, fontsize=7)
    bar.ax.tick_params(labelsize=6)
