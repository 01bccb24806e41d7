"""Normalisation: batch_norm, layer_norm, group_norm, instance_norm, local_response_norm.

Batch, layer, group and instance norm all compute ``x_hat = (x - mean) / sqrt(var + eps)`` over
some axes (biased variance) followed by a per-channel (or per-element) affine ``x_hat * w + b``.
They share one closed-form backward. With ``m`` the number of elements averaged over and
``g_hat = dL/dx_hat = g * w``::

    dL/dx = invstd * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat))
    dL/dw = sum(g * x_hat)        dL/db = sum(g)

(the means run over the normalised axes). Each op is a single fused Function, so a training step
through a normalisation layer costs a handful of passes over the data instead of a graph of ten
elementwise nodes.

local_response_norm follows PyTorch's formula (AlexNet's LRN):
``y_c = x_c / (k + alpha / size * sum_{j in window(c)} x_j^2) ** beta`` with the window
``[c - size // 2, c + (size - 1) // 2]`` over channels and zeros beyond the edges.
"""
import numbers

import numpy as np

from ..kernels import batch_norm as bn_kernels
from ..kernels.parallel import elementwise
from ..tensor import Function, Tensor
from ._util import ArgumentError, ShapeError, empty_result, shape_str


# ----------------------------------------------------------------------------------------------
# Memory layout: reduce over (N, *spatial) per channel without copying channels-last arrays
# ----------------------------------------------------------------------------------------------
class _ChannelLayout:
    """A 2-D or 3-D view of an (N, C, *S) array in which the per-channel reduction is cheap.

    * channels-last memory (an NCHW shape over NHWC storage, as the convolution may return) and
      2-D (N, C) input: the view is (M, C) with M = N * prod(S), reduced over axis 0;
    * anything else: (N, C, L) in C order, reduced over axes 0 and 2.
    Outputs built in the view's memory come back in the input's layout by :meth:`restore`.
    """

    def __init__(self, x):
        self.shape = x.shape
        self.channels = x.shape[1]
        self.count = x.size // max(self.channels, 1)
        moved = np.moveaxis(x, 1, -1)
        self.rows = x.ndim == 2 or (moved.flags.c_contiguous and not x.flags.c_contiguous)
        self.moved_shape = moved.shape
        self.bshape = (self.channels,) if self.rows else (self.channels, 1)

    def view(self, a):
        """``a`` (shaped like the input) in this layout; a copy only when its memory differs."""
        if self.rows:
            return np.moveaxis(a, 1, -1).reshape(-1, self.channels)
        return np.reshape(a, (self.shape[0], self.channels, -1))

    def restore(self, v):
        if self.rows:
            return np.moveaxis(v.reshape(self.moved_shape), -1, 1)
        return v.reshape(self.shape)

    def channel_sum(self, v):
        """Per-channel sum of a view in the (N, C, L) layout. The (M, C) layout has its own,
        blocked sums in kernels/batch_norm.py."""
        return v.sum(axis=2).sum(axis=0)

    def per_channel(self, values):
        """A per-channel vector shaped to broadcast against the view."""
        return values.reshape(self.bshape)


def _normalized_input_grad(g_hat, x_hat, invstd, mean_fn):
    """invstd * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)), the shared backward."""
    dx = g_hat - mean_fn(g_hat)
    dx -= x_hat * mean_fn(g_hat * x_hat)
    dx *= invstd
    return dx


# ----------------------------------------------------------------------------------------------
# Batch normalisation
# ----------------------------------------------------------------------------------------------
class BatchNorm(Function):
    """Per-channel normalisation over (N, *spatial). Running statistics arrive as NumPy arrays
    (keyword arguments, not graph inputs) and are updated in place in training mode."""

    @staticmethod
    def output_shape(x_shape, *args, **kwargs):
        return tuple(x_shape)  # normalisation keeps the shape

    @staticmethod
    def forward(ctx, x, weight, bias, training=False, momentum=0.1, eps=1e-5,
                running_mean=None, running_var=None):
        layout = _ChannelLayout(x)
        xv = layout.view(x)
        dtype = x.dtype
        fast = layout.rows  # (M, C) memory: the pieces of kernels/batch_norm.py, no x_hat stored
        x_hat = None
        if training:
            m = layout.count
            if fast:
                mean, var = (s.astype(dtype) for s in bn_kernels.mean_and_variance(xv))
            else:
                mean = (layout.channel_sum(xv) / m).astype(dtype, copy=False)
                x_hat = xv - layout.per_channel(mean)
                var = (layout.channel_sum(np.square(x_hat)) / m).astype(dtype, copy=False)
            if running_mean is not None:
                _update_running(running_mean, mean, momentum)
            if running_var is not None:
                _update_running(running_var, var * (m / (m - 1)), momentum)  # unbiased for the running estimate
        else:
            mean = running_mean.astype(dtype, copy=False)
            var = running_var.astype(dtype, copy=False)
            if not any(ctx.needs_input_grad):
                return layout.restore(_affine_inference(xv, layout, mean, var, weight, bias, eps))
            if not fast:
                x_hat = xv - layout.per_channel(mean)
        invstd = (1 / np.sqrt(var + eps)).astype(dtype, copy=False)
        w = None if weight is None else weight.astype(dtype, copy=False)
        b = None if bias is None else bias.astype(dtype, copy=False)
        if fast:
            out = bn_kernels.normalize(xv, mean, invstd, w, b)
        else:
            x_hat *= layout.per_channel(invstd)
            out = x_hat.copy() if w is None else x_hat * layout.per_channel(w)
            if b is not None:
                out += layout.per_channel(b)
        if any(ctx.needs_input_grad):
            ctx.layout, ctx.xv, ctx.x_hat, ctx.mean, ctx.invstd = layout, xv, x_hat, mean, invstd
            ctx.scale = invstd if w is None else invstd * w
            ctx.training = training
        return layout.restore(out)

    @staticmethod
    def backward(ctx, grad):
        layout, x_hat, invstd = ctx.layout, ctx.x_hat, ctx.invstd
        gv = layout.view(grad)
        need_x, need_w, need_b = ctx.needs_input_grad
        gx = gw = gb = None
        dtype = grad.dtype
        scale = ctx.scale.astype(dtype, copy=False)
        if need_w or need_b or (need_x and ctx.training):
            if x_hat is None:
                sum_g, sum_gx = (a.astype(dtype) for a in bn_kernels.gradient_sums(gv, ctx.xv, ctx.mean, invstd))
            else:
                sum_g = layout.channel_sum(gv)
                sum_gx = layout.channel_sum(gv * x_hat)
            gw = sum_gx if need_w else None  # sum of g * x_hat
            gb = sum_g if need_b else None
        if need_x:
            if ctx.training:
                # scale * (g - mean(g) - x_hat * mean(g * x_hat))
                m = layout.count
                if x_hat is None:
                    dx = bn_kernels.input_gradient(gv, ctx.xv, ctx.mean, invstd, sum_g / m, sum_gx / m, scale)
                else:
                    dx = gv - layout.per_channel(sum_g / m)
                    dx -= x_hat * layout.per_channel(sum_gx / m)
                    dx *= layout.per_channel(scale)
            elif layout.rows:
                dx = bn_kernels.scale_shift(gv, scale, None)
            else:
                dx = elementwise(np.multiply, np.empty_like(gv), gv, layout.per_channel(scale))
            gx = layout.restore(dx)
        return gx, gw, gb


def folded_batch_norm(mean, var, weight, bias, eps, dtype):
    """Evaluation-mode batch norm as a per-channel ``x * a + b``: ``a = weight / sqrt(var + eps)``
    and ``b = bias - mean * a`` (computed in float64, returned in ``dtype``). PyTorch's CPU
    inference kernel folds the statistics the same way."""
    a = 1 / np.sqrt(var.astype(dtype, copy=False).astype(np.float64) + eps)
    if weight is not None:
        a = a * weight
    b = -mean.astype(dtype, copy=False) * a
    if bias is not None:
        b = b + bias
    return a.astype(dtype), b.astype(dtype)


def _affine_inference(xv, layout, mean, var, weight, bias, eps):
    """Evaluation without gradients: ``x * a + b`` (:func:`folded_batch_norm`), two passes
    instead of four."""
    a, b = folded_batch_norm(mean, var, weight, bias, eps, xv.dtype)
    if layout.rows:
        return bn_kernels.scale_shift(xv, a, b)
    return elementwise(_scale_shift, np.empty_like(xv), xv, layout.per_channel(a), layout.per_channel(b))


def _scale_shift(x, a, b, out):
    np.multiply(x, a, out=out)
    return np.add(out, b, out=out)


def _update_running(running, batch_value, momentum):
    """running = (1 - momentum) * running + momentum * batch_value, in place."""
    running *= 1 - momentum
    running += momentum * batch_value.astype(running.dtype, copy=False)


def _array_or_none(t):
    return None if t is None else (t._data if isinstance(t, Tensor) else np.asarray(t))


def _check_channel_vector(op, name, t, channels):
    if t is not None and tuple(t.shape) != (channels,):
        raise ShapeError(f"{op}: expected {name} of shape ({channels},) for {channels} channels, "
                         f"got {shape_str(t.shape)}")


def values_per_channel(shape):
    """N * (product of the spatial sizes): how many values batch statistics average per channel."""
    return int(shape[0] * np.prod(shape[2:], dtype=np.int64))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    """Batch normalisation (Ioffe & Szegedy 2015) over every axis but the channel axis 1.

    In training mode the batch's mean and biased variance normalise the input and the running
    statistics (if given) are updated in place:
    ``running = (1 - momentum) * running + momentum * batch_stat``, with the *unbiased* variance
    for ``running_var``. In evaluation mode the running statistics normalise the input.

    Args:
        input: (N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        running_mean, running_var: (C,) tensors or None (then training must be True).
        weight, bias: optional (C,) affine parameters (gamma, beta).
        training: use batch statistics (and update the running ones).
        momentum: weight of the new batch statistic in the running average (a number; the
            BatchNorm layers turn ``momentum=None`` into a cumulative average).
        eps: added to the variance before the square root.

    Shape:
        output has the shape (and memory layout) of ``input``.

    Raises:
        ShapeError: fewer than 2 dimensions, mis-shaped statistics or affine parameters, or a
            single value per channel in training mode.
    """
    if input.ndim < 2:
        raise ShapeError(f"batch_norm: expected input of shape (N, C, *) with at least 2 dimensions, "
                         f"got {shape_str(input.shape)}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        _check_channel_vector("batch_norm", name, t, channels)
    if training:
        if values_per_channel(input.shape) == 1:  # PyTorch's rule: an empty batch is fine
            raise ShapeError(f"batch_norm: expected more than 1 value per channel when training, "
                             f"got input of shape {shape_str(input.shape)}")
    elif running_mean is None or running_var is None:
        raise ArgumentError("batch_norm: running_mean and running_var must be given when training=False")
    if momentum is None or not isinstance(momentum, numbers.Real):
        raise ArgumentError(f"batch_norm: momentum must be a number, got {momentum!r}")
    if input.numel() == 0:  # no values: an empty result, the running statistics unchanged
        return empty_result(input.shape, input, weight, bias)
    return BatchNorm.apply(input, weight, bias, training=bool(training), momentum=float(momentum),
                           eps=float(eps), running_mean=_array_or_none(running_mean),
                           running_var=_array_or_none(running_var))


# ----------------------------------------------------------------------------------------------
# Layer normalisation
# ----------------------------------------------------------------------------------------------
class LayerNorm(Function):
    """Normalise each sample over its trailing ``normalized_shape`` axes (K elements)."""

    @staticmethod
    def output_shape(x_shape, *args, **kwargs):
        return tuple(x_shape)  # normalisation keeps the shape

    @staticmethod
    def forward(ctx, x, weight, bias, normalized_size=1, eps=1e-5):
        xv = np.ascontiguousarray(x).reshape(-1, normalized_size)
        dtype = x.dtype
        x_hat = xv - xv.mean(axis=1, keepdims=True)
        var = np.square(x_hat).mean(axis=1, keepdims=True)
        invstd = (1 / np.sqrt(var + eps)).astype(dtype, copy=False)
        x_hat *= invstd
        out = x_hat * weight.reshape(-1).astype(dtype, copy=False) if weight is not None else x_hat.copy()
        if bias is not None:
            out += bias.reshape(-1).astype(dtype, copy=False)
        if any(ctx.needs_input_grad):
            ctx.x_hat, ctx.invstd, ctx.weight, ctx.shape = x_hat, invstd, weight, x.shape
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x_hat = ctx.x_hat
        gv = np.reshape(grad, x_hat.shape)
        need_x, need_w, need_b = ctx.needs_input_grad
        gx = gw = gb = None
        if need_x:
            g_hat = gv if ctx.weight is None else gv * ctx.weight.reshape(-1).astype(grad.dtype, copy=False)
            dx = _normalized_input_grad(g_hat, x_hat, ctx.invstd, lambda a: a.mean(axis=1, keepdims=True))
            gx = dx.reshape(ctx.shape)
        if need_w:
            gw = (gv * x_hat).sum(axis=0).reshape(ctx.weight.shape)
        if need_b:
            gb = gv.sum(axis=0).reshape(ctx.weight.shape if ctx.weight is not None else (-1,))
        return gx, gw, gb


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation (Ba et al. 2016): normalise over the last ``len(normalized_shape)`` axes.

    Args:
        input: (*, *normalized_shape).
        normalized_shape: int or tuple, the trailing shape normalised over.
        weight, bias: optional tensors of shape ``normalized_shape`` (elementwise affine).
        eps: added to the variance.
    """
    normalized_shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise ShapeError(f"layer_norm: expected input of shape (*, {', '.join(map(str, normalized_shape))}) "
                         f"ending in normalized_shape {normalized_shape}, got {shape_str(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != normalized_shape:
            raise ShapeError(f"layer_norm: expected {name} of shape {shape_str(normalized_shape)}, "
                             f"got {shape_str(t.shape)}")
    return LayerNorm.apply(input, weight, bias, normalized_size=int(np.prod(normalized_shape)), eps=float(eps))


class RMSNorm(Function):
    """y = x / rms(x) * weight with rms(x) = sqrt(mean(x^2) + eps) over the trailing axes.

    Backward, with r = 1 / rms and x^ = x r (per row of the normalised axes, D values):
        dx = r (g^ - x^ mean(g^ x^)),  g^ = g * weight;   dweight = sum over rows of g x^
    """

    @staticmethod
    def output_shape(x_shape, *args, **kwargs):
        return tuple(x_shape)

    @staticmethod
    def forward(ctx, x, weight, normalized_size=1, eps=1e-6):
        xv = np.ascontiguousarray(x).reshape(-1, normalized_size)
        r = (1 / np.sqrt(np.square(xv).mean(axis=1, keepdims=True) + eps)).astype(x.dtype, copy=False)
        x_hat = xv * r
        out = x_hat if weight is None else x_hat * weight.reshape(-1).astype(x.dtype, copy=False)
        if any(ctx.needs_input_grad):
            ctx.x_hat, ctx.r, ctx.weight, ctx.shape = x_hat, r, weight, x.shape
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x_hat, r = ctx.x_hat, ctx.r
        gv = np.reshape(grad, x_hat.shape)
        need_x, need_w = ctx.needs_input_grad
        gx = gw = None
        if need_x:
            g_hat = gv if ctx.weight is None else gv * ctx.weight.reshape(-1).astype(grad.dtype, copy=False)
            gx = (r * (g_hat - x_hat * (g_hat * x_hat).mean(axis=1, keepdims=True))).reshape(ctx.shape)
        if need_w:
            gw = (gv * x_hat).sum(axis=0).reshape(ctx.weight.shape)
        return gx, gw


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square normalisation (Zhang & Sennrich 2019) over the trailing
    ``normalized_shape`` axes: ``x / sqrt(mean(x^2) + eps) * weight`` (no centring, no bias).

    Args:
        input: (*, *normalized_shape).
        normalized_shape: int or tuple, the trailing shape normalised over.
        weight: optional scale of shape ``normalized_shape``.
        eps: added to the mean square; None (the default) is the machine epsilon of the
            input's dtype (``np.finfo(dtype).eps``), as in PyTorch.

    Returns:
        A tensor of the input's shape.

    Raises:
        ShapeError: the input does not end in ``normalized_shape``, or a mis-shaped weight.

    Example:
        >>> y = convgrad.nn.functional.rms_norm(convgrad.randn(4, 10), (10,))
    """
    normalized_shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != normalized_shape:
        raise ShapeError(f"rms_norm: expected input of shape (*, {', '.join(map(str, normalized_shape))}) "
                         f"ending in normalized_shape {normalized_shape}, got {shape_str(input.shape)}")
    if weight is not None and tuple(weight.shape) != normalized_shape:
        raise ShapeError(f"rms_norm: expected weight of shape {shape_str(normalized_shape)}, got "
                         f"{shape_str(weight.shape)}")
    eps = float(np.finfo(input.dtype).eps) if eps is None else float(eps)
    if input.numel() == 0:
        return empty_result(input.shape, input, weight)
    return RMSNorm.apply(input, weight, normalized_size=int(np.prod(normalized_shape)), eps=eps)


# ----------------------------------------------------------------------------------------------
# Group (and instance) normalisation
# ----------------------------------------------------------------------------------------------
class GroupNorm(Function):
    """Normalise each (sample, group of C/G channels) over its channels and positions; the
    affine parameters stay per channel. The view is (N, G, C/G, L)."""

    @staticmethod
    def output_shape(x_shape, *args, **kwargs):
        return tuple(x_shape)  # normalisation keeps the shape

    @staticmethod
    def forward(ctx, x, weight, bias, num_groups=1, eps=1e-5):
        n, c = x.shape[0], x.shape[1]
        xv = np.ascontiguousarray(x).reshape(n, num_groups, c // num_groups, -1)
        dtype = x.dtype
        x_hat = xv - xv.mean(axis=(2, 3), keepdims=True)
        var = np.square(x_hat).mean(axis=(2, 3), keepdims=True)
        invstd = (1 / np.sqrt(var + eps)).astype(dtype, copy=False)
        x_hat *= invstd
        wshape = (1, num_groups, c // num_groups, 1)
        out = x_hat * weight.astype(dtype, copy=False).reshape(wshape) if weight is not None else x_hat.copy()
        if bias is not None:
            out += bias.astype(dtype, copy=False).reshape(wshape)
        if any(ctx.needs_input_grad):
            ctx.x_hat, ctx.invstd, ctx.weight, ctx.shape, ctx.wshape = x_hat, invstd, weight, x.shape, wshape
        return out.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x_hat = ctx.x_hat
        gv = np.reshape(grad, x_hat.shape)
        need_x, need_w, need_b = ctx.needs_input_grad
        gx = gw = gb = None
        if need_x:
            g_hat = gv if ctx.weight is None else gv * ctx.weight.astype(grad.dtype, copy=False).reshape(ctx.wshape)
            dx = _normalized_input_grad(g_hat, x_hat, ctx.invstd, lambda a: a.mean(axis=(2, 3), keepdims=True))
            gx = dx.reshape(ctx.shape)
        if need_w:
            gw = (gv * x_hat).sum(axis=3).sum(axis=0).reshape(-1)
        if need_b:
            gb = gv.sum(axis=3).sum(axis=0).reshape(-1)
        return gx, gw, gb


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation (Wu & He 2018): statistics per sample over groups of C / num_groups
    channels and all positions; per-channel affine ``weight`` and ``bias`` of shape (C,)."""
    if input.ndim < 2:
        raise ShapeError(f"group_norm: expected input of shape (N, C, *) with at least 2 dimensions, "
                         f"got {shape_str(input.shape)}")
    num_groups = int(num_groups)
    channels = input.shape[1]
    if num_groups <= 0 or channels % num_groups:
        raise ArgumentError(f"group_norm: expected the {channels} channels of input {shape_str(input.shape)} "
                            f"to be divisible by num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        _check_channel_vector("group_norm", name, t, channels)
    if input.numel() == 0:
        return empty_result(input.shape, input, weight, bias)
    return GroupNorm.apply(input, weight, bias, num_groups=num_groups, eps=float(eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Instance normalisation: each (sample, channel) normalised over its positions.

    With ``use_input_stats`` (the default) the statistics come from the input (group_norm with
    one channel per group) and, if given, ``running_mean``/``running_var`` are updated in place
    with the batch average of the per-instance mean and unbiased variance; otherwise the running
    statistics normalise the input (batch_norm in evaluation mode).
    """
    if input.ndim < 3:
        raise ShapeError(f"instance_norm: expected input of shape (N, C, *) with a spatial dimension, "
                         f"got {shape_str(input.shape)}")
    channels = input.shape[1]
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        _check_channel_vector("instance_norm", name, t, channels)
    if input.numel() == 0:
        return empty_result(input.shape, input, weight, bias)
    if running_mean is not None or running_var is not None:
        x = input._data.reshape(input.shape[0], channels, -1)
        count = x.shape[2]
        if count <= 1:
            raise ShapeError(f"instance_norm: expected more than 1 spatial element per channel when "
                             f"training, got input of shape {shape_str(input.shape)}")
        if running_mean is not None:
            _update_running(_array_or_none(running_mean), x.mean(axis=2).mean(axis=0), momentum)
        if running_var is not None:
            _update_running(_array_or_none(running_var), x.var(axis=2, ddof=1).mean(axis=0), momentum)
    return group_norm(input, channels, weight, bias, eps)


# ----------------------------------------------------------------------------------------------
# Local response normalisation (AlexNet)
# ----------------------------------------------------------------------------------------------
def _channel_window_sum(a, before, after):
    """out[:, c] = sum of a[:, j] for j in [c - before, c + after], zero outside the channels."""
    out = a.copy()
    channels = a.shape[1]
    for off in range(1, min(before, channels - 1) + 1):
        out[:, off:] += a[:, :-off]
    for off in range(1, min(after, channels - 1) + 1):
        out[:, :-off] += a[:, off:]
    return out


class LocalResponseNorm(Function):
    @staticmethod
    def output_shape(x_shape, *args, **kwargs):
        return tuple(x_shape)  # normalisation keeps the shape

    @staticmethod
    def forward(ctx, x, size=5, alpha=1e-4, beta=0.75, k=1.0):
        before, after = size // 2, (size - 1) // 2
        avg = _channel_window_sum(np.square(x), before, after)
        avg /= size
        div = avg * alpha + k                  # PyTorch: (k + alpha * avg) ** beta
        scale = np.power(div, -beta).astype(x.dtype, copy=False)
        out = x * scale
        if ctx.needs_input_grad[0]:
            ctx.x, ctx.div, ctx.scale, ctx.out = x, div, scale, out
            ctx.params = (size, alpha, beta, before, after)
        return out

    @staticmethod
    def backward(ctx, grad):
        # dy_c/dx_i = [c == i] div_c^-beta - 2 alpha beta / size * x_c x_i div_c^(-beta-1) for i in window(c);
        # i in window(c) <=> c in [i - after, i + before], so the sum runs over the mirrored window.
        size, alpha, beta, before, after = ctx.params
        t = grad * ctx.out / ctx.div
        back = _channel_window_sum(t, after, before)
        gx = grad * ctx.scale
        gx -= (2 * alpha * beta / size) * ctx.x * back
        return gx


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation across channels (Krizhevsky et al. 2012), PyTorch's formula:

    ``b_c = a_c / (k + alpha / size * sum_{j=c-size//2}^{c+(size-1)//2} a_j^2) ** beta``

    with zero padding beyond the first and last channel. Input (N, C, *) with at least one
    spatial dimension; the output has the same shape.
    """
    if input.ndim < 3:
        raise ShapeError(f"local_response_norm: expected input of shape (N, C, *) with 3 or more "
                         f"dimensions, got {shape_str(input.shape)}")
    size = int(size)
    if size <= 0:
        raise ArgumentError(f"local_response_norm: size must be a positive int, got {size}")
    return LocalResponseNorm.apply(input, size=size, alpha=float(alpha), beta=float(beta), k=float(k))


__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm"]
