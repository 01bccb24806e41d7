"""A convolution layer's kernels as a picture, and what each kernel looks like to a human.

    pic = convgrad.visualize.filters(model, layer="conv1", path="filters.png")
    pic.data["weights"]            # (out, in, kh, kw): exactly the tiles drawn
    rows = describe_filters(pic.data["weights"])
    print(format_filter_table(rows))

The grid has one tile per output channel. A first layer on 1 channel shows each kernel as one
tile; on 3 channels as one colour tile (the RGB weights, grey = 0); on more channels as one row
per input channel. The colour scale is symmetric around zero (blue negative, white zero, red
positive), so the sign of every weight is visible.

``describe_filters`` gives, per kernel, its dominant orientation from the gradient structure
tensor ``J = sum over pixels of [gx^2, gx gy; gx gy, gy^2]`` (``gx``, ``gy`` the kernel's own
spatial derivatives, by the Scharr operator): the gradient direction is ``0.5 * atan2(2 Jxy, Jxx - Jyy)``, the edge the
kernel responds to lies across it, and ``coherence = (l1 - l2) / (l1 + l2)`` (eigenvalues of
``J``) says how oriented the kernel is (1 = a pure edge, 0 = no preferred direction). It also
gives the nearest classical filter (Sobel x/y, Laplacian, Gaussian, a Gabor bank of 8 angles and
two phases, all made at the kernel's size) by Pearson correlation; a negative correlation means
the kernel is that filter with its sign flipped.
"""
import math

import numpy as np

from .. import filters as classic
from ..errors import ArgumentError
from ..nn.conv import _Conv
from .common import (colorbar_at, conv2d_layers, finish, get_layer, grid_shape, model_name, mosaic, mosaic_axes,
                     new_figure, symmetric_limit, tile_centres)

MAX_INPUT_ROWS = 8     # per-input-channel rows drawn for deep layers
MAX_OUTPUT_TILES = 64  # filters drawn at most (one tile each)
MAX_OUTPUT_COLUMNS = 32  # filters drawn at most when each has a row per input channel


def filter_weights(model, layer=None):
    """``(layer name, weights (out, in, kh, kw) float32 array)`` of a 2-D conv layer.

    Args:
        model: any Module.
        layer: dotted layer name; default the first 2-D convolution.

    Raises:
        ArgumentError: unknown layer (the message lists the valid names), a layer that is not a 2-D
            convolution, or a model without one.
    """
    if layer is None:
        convs = conv2d_layers(model)
        if not convs:
            raise ArgumentError(f"{model_name(model)} has no 2-D convolution layer")
        layer = convs[0]
    module = get_layer(model, layer)
    if not (isinstance(module, _Conv) and module.weight.ndim == 4):
        raise ArgumentError(f"layer '{layer}' of {model_name(model)} is a {type(module).__name__}, not a 2-D "
                            f"convolution; conv layers are: {', '.join(conv2d_layers(model))}")
    return layer, np.array(module.weight.numpy(), dtype=np.float32)


def filters(model, layer=None, path=None, title=None, model_label=None):
    """Draw a conv layer's kernels (see the module docstring); write a PNG when ``path`` is given.

    Args:
        model: any Module with a 2-D convolution.
        layer: layer name (default: the first conv).
        path: PNG file to write, or None.
        title: figure title; default names the model, the layer and the kernel shape.
        model_label: how the title names the model (default its zoo name, e.g. "lenet5").

    Returns:
        Picture with ``data = {"layer", "weights" (out, in, kh, kw), "limit" (the colour scale's
        +-bound), "report" (describe_filters rows)}``.

    Raises:
        ArgumentError: as :func:`filter_weights`. MissingExtraError: matplotlib is not installed.

    Example:
        >>> pic = filters(convgrad.load("run/model.npz"), path="conv1.png")  # doctest: +SKIP
    """
    name, weights = filter_weights(model, layer)
    out_c, in_c, kh, kw = weights.shape
    title = title or f"{model_label or model_name(model)}, layer {name}: {out_c} filters of {in_c}x{kh}x{kw}"
    fig, limit = draw_filter_grid(weights, title)
    return finish(fig, {"layer": name, "weights": weights, "limit": limit, "report": describe_filters(weights)},
                  title, path)


def draw_filter_grid(weights, title, limit=None):
    """Draw ``weights`` (out, in, kh, kw) as a tile grid with a symmetric colour bar.

    ``limit`` fixes the colour scale (an animation keeps one for all frames). Returns
    ``(figure, limit)``.
    """
    weights = np.asarray(weights, dtype=np.float64)
    total_out, in_c, kh, kw = weights.shape
    limit = symmetric_limit(weights) if limit is None else float(limit)
    per_input = in_c not in (1, 3)
    weights = weights[:MAX_OUTPUT_COLUMNS if per_input else MAX_OUTPUT_TILES]
    out_c = len(weights)
    if per_input:
        rows, cols = min(in_c, MAX_INPUT_ROWS), out_c
        tiles = [weights[c, r] for r in range(rows) for c in range(cols)]
    else:
        rows, cols = grid_shape(out_c)
        tiles = [_rgb_tile(w, limit) if in_c == 3 else w[0] for w in weights]
    gap = max(1, round(kh / 5))
    picture = mosaic(tiles, rows, cols, gap)
    tile = 0.8 if cols <= 8 else max(0.3, 8.0 / cols)
    pixel = tile / kw  # inches per kernel pixel, square
    grid_w, grid_h = picture.shape[1] * pixel, picture.shape[0] * pixel
    left, top, right = (0.55 if per_input else 0.2), 0.6, 1.25
    width = max(4.2, left + grid_w + right)
    left += (width - left - grid_w - right) / 2  # centre the grid in a figure wide enough for the title
    fig = new_figure(width, top + grid_h + (0.45 if per_input else 0.15))
    ax = mosaic_axes(fig, left, top, grid_w, grid_h)
    image = ax.imshow(picture, cmap=_filter_cmap(), vmin=-limit, vmax=limit, interpolation="nearest",
                      aspect="auto")
    centres_x, centres_y = tile_centres(cols, kw, gap), tile_centres(rows, kh, gap)
    if per_input:
        ax.xaxis.tick_top()
        ax.set_xticks(centres_x, labels=[str(c) for c in range(cols)], fontsize=7 if cols > 16 else 8)
        ax.set_yticks(centres_y, labels=[f"in {r}" for r in range(rows)], fontsize=8)
        ax.tick_params(length=0, pad=2)
        more_in = f" (first {rows} of {in_c})" if in_c > rows else ""
        more_out = f" (first {out_c} of {total_out})" if total_out > out_c else ""
        fig.text((left + grid_w / 2) / width, 0.12 / fig.get_size_inches()[1], f"columns: output channel (filter)"
                 f"{more_out}; rows: input channel{more_in}", ha="center", va="bottom", fontsize=8)
    else:
        for i in range(out_c):
            r, c = divmod(i, cols)
            ax.text(centres_x[c], r * (kh + gap) - 0.6, str(i), ha="center", va="bottom", fontsize=8)
        if total_out > out_c:
            fig.text(0.5, 0.02, f"first {out_c} of {total_out} filters", ha="center", va="bottom", fontsize=8)
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / fig.get_size_inches()[1], va="top")
    bar_left = left + grid_w + 0.25
    if in_c == 3:
        fig.text(bar_left / width, 0.5, f"RGB weights:\ngrey = 0,\nfull colour\n= +-{limit:.2g}", fontsize=8,
                 va="center")
    else:
        colorbar_at(fig, image, bar_left, top, grid_h, "weight")
    return fig, limit


def _filter_cmap():
    """Blue - white - red, with the gaps between tiles light grey (so white tiles stay visible)."""
    from matplotlib import colormaps

    return colormaps["RdBu_r"].with_extremes(bad="0.85")


def _rgb_tile(weight, limit):
    """(3, kh, kw) -> a (kh, kw, 3) image, 0.5 grey = weight 0, scale shared by all tiles."""
    return np.clip(0.5 + 0.5 * weight.transpose(1, 2, 0) / limit, 0, 1)


# ----------------------------------------------------------------------------------------------
# What each kernel is: orientation and nearest classical filter
# ----------------------------------------------------------------------------------------------
def orientation(kernel):
    """``(edge angle in degrees [0, 180), coherence in [0, 1])`` of a 2-D kernel or a stack
    (in, kh, kw) whose structure tensors are summed.

    Angles are counter-clockwise from the x axis with y pointing up: a vertical edge (the Sobel x
    kernel) is 90, a horizontal edge 0. A kernel with no gradient gets (nan, 0).
    """
    stack = np.asarray(kernel, dtype=np.float64)
    stack = stack[None] if stack.ndim == 2 else stack
    jxx = jyy = jxy = 0.0
    for k in stack:
        if min(k.shape) < 2:
            return math.nan, 0.0
        gx, gy = _scharr_gradients(k)
        jxx, jyy, jxy = jxx + np.sum(gx * gx), jyy + np.sum(gy * gy), jxy + np.sum(gx * gy)
    trace = jxx + jyy
    if trace <= 1e-12 * max(1.0, float(np.sum(stack ** 2))):
        return math.nan, 0.0
    gradient_angle = 0.5 * math.degrees(math.atan2(2 * jxy, jxx - jyy))
    coherence = math.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2) / trace
    if coherence < 0.01:
        return math.nan, float(coherence)
    return (gradient_angle + 90.0) % 180.0, float(coherence)


def _scharr_gradients(kernel):
    """(gx, gy) of a kernel taken as zero outside its window, by the Scharr operator (smoothing
    3-10-3 across, central difference along), with y pointing up. Scharr's derivative is close to
    rotation invariant: a rotated Gabor's angle comes out within 0.5 degrees (np.gradient: 6)."""
    k = np.pad(kernel, 1)
    h, w = kernel.shape
    smooth, diff = np.array([3.0, 10.0, 3.0]) / 16, np.array([-1.0, 0.0, 1.0]) / 2
    window = lambda i, j: k[i:i + h, j:j + w]  # noqa: E731  (the kernel shifted by (i - 1, j - 1))
    gx = sum(smooth[i] * diff[j] * window(i, j) for i in range(3) for j in range(3))
    gy_down = sum(diff[i] * smooth[j] * window(i, j) for i in range(3) for j in range(3))
    return gx, -gy_down


def _binomial(n):
    row = np.array([1.0])
    for _ in range(n - 1):
        row = np.convolve(row, [1.0, 1.0])
    return row


def classical_bank(size):
    """``{name: (size, size) kernel}``: the classical filters a ``size`` kernel is compared with.

    Sobel x/y: the 3x3 pair, or for larger sizes the same construction (binomial smoothing times
    a binomial-smoothed central difference, OpenCV's ``getDerivKernels``). Laplacian: the 3x3
    4- and 8-neighbour kernels, or a Laplacian of Gaussian for larger sizes. Gaussian: the
    default-sigma Gaussian. Gabor: 8 angles, odd (edge) and even (bar) phases, wavelength ~ size.
    """
    if size < 3:
        return {}
    smooth = _binomial(size)                                     # 1 2 1
    deriv = np.convolve(_binomial(size - 2), [-1.0, 0.0, 1.0])   # -1 0 1 (dark left of bright: positive)
    bank = {"sobel x (vertical edge)": np.outer(smooth, deriv),
            "sobel y (horizontal edge)": np.outer(deriv[::-1], smooth)}
    if size == 3:
        bank["laplacian"] = classic.laplacian()
        bank["laplacian (8-neighbour)"] = classic.laplacian(diagonal=True)
    else:
        sigma = max(size / 5.0, 0.5)
        r = np.arange(size) - (size - 1) / 2
        rr = r[:, None] ** 2 + r[None, :] ** 2
        log = (rr - 2 * sigma ** 2) * np.exp(-rr / (2 * sigma ** 2))  # Laplacian of Gaussian
        bank["laplacian"] = log - log.mean()  # centre negative, as the 3x3 kernel
        pad = (size - 3) // 2
        if size % 2:  # the 3x3 pair itself, centred in the larger window
            horizontal, vertical = classic.sobel()
            bank["sobel x 3x3 (vertical edge)"] = np.pad(vertical, pad)
            bank["sobel y 3x3 (horizontal edge)"] = np.pad(horizontal, pad)
    bank["gaussian"] = classic.gaussian(size)
    lambd, sigma = max(size * 0.8, 2.5), max(size / 4.0, 0.6)
    for k in range(8):
        theta = k * math.pi / 8
        # theta is the normal to the stripes, in OpenCV's layout (x stored right to left): on
        # the picture the stripes, i.e. the edge, run at 90 - theta
        edge = (90 - math.degrees(theta)) % 180
        for phase, psi in (("odd", math.pi / 2), ("even", 0.0)):
            g = classic.gabor(size, sigma, theta, lambd, gamma=0.75, psi=psi)
            if g.shape == (size, size):
                bank[f"gabor {edge:.1f} deg {phase}"] = g
    return bank


def _pearson(a, b):
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    denominator = math.sqrt(float(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b) / denominator) if denominator > 0 else 0.0


def nearest_classical(kernel):
    """``(name, correlation)`` of the classical filter best correlated (in absolute value) with a
    square 2-D kernel (or a stack (in, kh, kw), compared through its mean over input channels)."""
    k = np.asarray(kernel, dtype=np.float64)
    k = k.mean(axis=0) if k.ndim == 3 else k
    if k.shape[0] != k.shape[1]:
        return None, math.nan
    scores = {name: _pearson(k, template) for name, template in classical_bank(k.shape[0]).items()}
    if not scores:
        return None, math.nan
    best = max(scores, key=lambda name: abs(scores[name]))
    return best, scores[best]


def describe_filters(weights):
    """One dict per output channel of ``weights`` (out, in, kh, kw) (or (out, kh, kw)):
    ``{"filter", "orientation_deg", "coherence", "nearest", "correlation", "norm"}``.

    Example:
        >>> rows = describe_filters(model.conv1.weight.numpy())  # doctest: +SKIP
        >>> rows[0]["nearest"], rows[0]["correlation"]  # doctest: +SKIP
        ('sobel x (vertical edge)', 0.93)
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 3:
        w = w[:, None]
    if w.ndim != 4:
        raise ArgumentError(f"describe_filters: expected weights (out, in, kh, kw), got shape {w.shape}")
    rows = []
    for i, kernel in enumerate(w):
        angle, coherence = orientation(kernel)
        name, corr = nearest_classical(kernel)
        rows.append({"filter": i, "orientation_deg": angle, "coherence": coherence, "nearest": name,
                     "correlation": corr, "norm": float(np.sqrt(np.sum(kernel ** 2)))})
    return rows


def format_filter_table(rows, header=None):
    """The rows of :func:`describe_filters` as a fixed-width text table."""
    lines = [header] if header else []
    lines.append(f"{'filter':>6}  {'edge angle':>10}  {'coherence':>9}  {'nearest classical filter':<28}  "
                 f"{'correlation':>11}  {'norm':>6}")
    for r in rows:
        angle = "-" if math.isnan(r["orientation_deg"]) else f"{r['orientation_deg']:.1f} deg"
        corr = "-" if r["nearest"] is None else f"{r['correlation']:+.2f}"
        lines.append(f"{r['filter']:>6}  {angle:>10}  {r['coherence']:>9.2f}  {str(r['nearest']):<28}  "
                     f"{corr:>11}  {r['norm']:>6.3f}")
    return "\n".join(lines)
