"""Style transfer (Gatys, Ecker & Bethge, 2015): an image optimised to have one picture's content
and another's style, measured in a VGG's feature maps.

With F_l the (C_l, H_l W_l) feature map of layer l, the style of an image is the Gram matrix
``G_l = F_l F_l^T / (C_l H_l W_l)`` (which features fire together, wherever they are), its content
the map itself. Starting from the content image, gradient descent (Adam on the pixels, kept in
[0, 1]) lowers

    loss = content_weight * mean((F_c(x) - F_c(content))^2)
         + style_weight   * sum_l mean((G_l(x) - G_l(style))^2)

through convgrad's own autodiff. The layers follow the paper: style at the first ReLU of every
block (relu1_1 ... relu5_1, blocks split by the max-pools), content at relu4_2 (or the deepest
ReLU of a shorter network). Any VGG works: a checkpoint, a zoo name, or torchvision weights read
with ``convgrad.io.load_torch_checkpoint`` into the zoo model; with random weights the result is a
texture mix, not a painting.
"""
import sys

import numpy as np

from .. import nn, optim
from ..errors import ArgumentError, ShapeError
from ..nn import functional as F
from ..tensor import Tensor, no_grad

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def feature_stack(model):
    """The ``nn.Sequential`` of convolutions a VGG's features run through (``model.features``)."""
    features = getattr(model, "features", model)
    if not isinstance(features, nn.Sequential) or not any(isinstance(m, nn.Conv2d) for m in features):
        raise ArgumentError(f"style transfer needs a VGG-like model (a 'features' Sequential of convolutions), "
                            f"got {type(model).__name__}")
    return features


def style_layers(features):
    """``(style_indices, content_index)`` into ``features``: the first ReLU of each block and
    relu4_2 (the second ReLU of the fourth block), else the last ReLU there is."""
    blocks, current = [], []
    for i, m in enumerate(features):
        if isinstance(m, nn.ReLU):
            current.append(i)
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) and current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    if not blocks:
        raise ArgumentError("style transfer: the features have no ReLU layers to take maps from")
    style = [block[0] for block in blocks[:5]]
    content = blocks[3][1] if len(blocks) > 3 and len(blocks[3]) > 1 else blocks[min(3, len(blocks) - 1)][-1]
    return style, content


def gram_matrix(maps):
    """(N, C, H, W) feature maps -> (N, C, C) Gram matrices divided by C * H * W."""
    n, c, h, w = maps.shape
    flat = maps.reshape(n, c, h * w)
    return (flat @ flat.transpose(1, 2)) / float(c * h * w)


def _maps(features, x, wanted):
    out, last = {}, max(wanted)
    for i, layer in enumerate(features):
        x = layer(x)
        if i in wanted:
            out[i] = x
        if i == last:
            break
    return out


def stylize(model, content, style, steps=200, style_weight=1e4, content_weight=1.0, lr=0.02, mean=None,
            std=None, progress=True, callback=None):
    """Optimise an image toward ``content``'s content and ``style``'s style.

    Args:
        model: a VGG (or its ``features`` Sequential); its weights are not changed.
        content, style: images (C, H, W) float in [0, 1] with the model's channels (sizes may differ).
        steps: Adam steps on the pixels.
        style_weight, content_weight: the two terms' weights.
        lr: Adam's learning rate (pixels are in [0, 1]).
        mean, std: per-channel normalisation the model expects (ImageNet's for 3 channels by default).
        progress: a tqdm bar on stderr.
        callback: ``callback(step, losses_dict)`` after each step.

    Returns:
        ``(image, history)``: the image (C, H, W) float32 in [0, 1] and one dict per step with
        ``"loss"``, ``"content"`` and ``"style"`` (the weighted terms).

    Raises:
        ArgumentError: not a VGG-like model, or bad steps.
        ShapeError: the images are not (C, H, W) with the model's channels.
    """
    from tqdm import tqdm

    features = feature_stack(model)
    channels = next(m for m in features if isinstance(m, nn.Conv2d)).in_channels
    content, style = (np.asarray(img, np.float32) for img in (content, style))
    for name, img in (("content", content), ("style", style)):
        if img.ndim != 3 or img.shape[0] != channels:
            raise ShapeError(f"stylize: expected the {name} image as ({channels}, H, W), got {img.shape}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ArgumentError(f"stylize: steps must be a positive integer, got {steps!r}")
    default_mean, default_std = (IMAGENET_MEAN, IMAGENET_STD) if channels == 3 else ((0.0,), (1.0,))
    mean = np.resize(np.asarray(mean or default_mean, np.float32), channels).reshape(1, channels, 1, 1)
    std = np.resize(np.asarray(std or default_std, np.float32), channels).reshape(1, channels, 1, 1)
    normalise = lambda x: (x - Tensor(mean)) / Tensor(std)  # noqa: E731
    style_idx, content_idx = style_layers(features)
    wanted = set(style_idx) | {content_idx}
    features.eval()
    with no_grad():
        target_content = _maps(features, normalise(Tensor(content[None])), wanted)[content_idx]
        style_maps = _maps(features, normalise(Tensor(style[None])), wanted)
        target_grams = {i: gram_matrix(style_maps[i]) for i in style_idx}
    for p in features.parameters():
        p.requires_grad = False
    image = nn.Parameter(Tensor(content[None].copy()))
    opt = optim.Adam([image], lr=lr)
    history = []
    try:
        for step in tqdm(range(steps), desc="stylize", disable=not progress, file=sys.stderr, leave=False):
            maps = _maps(features, normalise(image), wanted)
            c_loss = F.mse_loss(maps[content_idx], target_content) * content_weight
            s_loss = sum((F.mse_loss(gram_matrix(maps[i]), target_grams[i]) for i in style_idx),
                         start=Tensor(np.zeros((), np.float32))) * style_weight
            loss = c_loss + s_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            with no_grad():
                image.clamp_(0.0, 1.0)
            record = {"loss": float(loss.item()), "content": float(c_loss.item()), "style": float(s_loss.item())}
            history.append(record)
            if callback is not None:
                callback(step, record)
    finally:
        for p in features.parameters():
            p.requires_grad = True
    return np.array(image.detach().numpy()[0], np.float32), history


def load_image(path, channels=3, size=None):
    """A picture file as (C, H, W) float32 in [0, 1]; ``size`` resizes its longer side."""
    from PIL import Image, UnidentifiedImageError

    from ..data import ImageError

    try:
        with Image.open(path) as img:
            img = img.convert("RGB" if channels == 3 else "L")
            if size is not None:
                scale = size / max(img.size)
                img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                                 Image.Resampling.LANCZOS)
            array = np.asarray(img, np.float32) / 255
    except FileNotFoundError:
        raise
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"cannot read '{path}' as an image: {type(exc).__name__}") from None
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
