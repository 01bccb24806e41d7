"""``pad``: constant, reflect, replicate and circular padding (``torch.nn.functional.pad``).

``pad`` is a flat tuple that starts at the LAST dimension, as in PyTorch:
``(left, right)`` pads the last axis, ``(left, right, top, bottom)`` the last two, and so on.

Along one axis of size ``n`` padded by ``p`` on the left, output position ``i - p`` reads input
position ``r(i)``:

* reflect:   ``r(-j) = j``          (mirror without repeating the edge; ``p < n``)
* replicate: ``r(-j) = 0``          (repeat the edge)
* circular:  ``r(-j) = n - j``      (wrap around; ``p <= n``)

The backward pass adds each padded gradient element back to the input position it was read
from; ``constant`` padding may be negative (cropping).
"""
import numpy as np

from ..tensor import Function, Tensor
from ._util import ArgumentError, ShapeError, shape_str

MODES = ("constant", "reflect", "replicate", "circular")


def _axis_slice(ndim, axis, sl):
    index = [slice(None)] * ndim
    index[axis] = sl
    return tuple(index)


def _pad_axis(x, axis, lo, hi, mode):
    """Pad one axis of ``x`` (non-constant modes, lo, hi >= 0)."""
    n = x.shape[axis]
    take = lambda sl: x[_axis_slice(x.ndim, axis, sl)]  # noqa: E731
    if mode == "reflect":
        left = take(slice(lo, 0, -1)) if lo else take(slice(0, 0))
        stop = n - 2 - hi
        right = take(slice(n - 2, stop if stop >= 0 else None, -1)) if hi else take(slice(0, 0))
    elif mode == "replicate":
        left = np.repeat(take(slice(0, 1)), lo, axis=axis)
        right = np.repeat(take(slice(n - 1, n)), hi, axis=axis)
    else:  # circular
        left = take(slice(n - lo, n))
        right = take(slice(0, hi))
    return np.concatenate([left, x, right], axis=axis)


def _unpad_axis(g, axis, lo, hi, n, mode):
    """Adjoint of :func:`_pad_axis`: fold the padded gradient back onto the ``n`` inputs."""
    take = lambda sl: g[_axis_slice(g.ndim, axis, sl)]  # noqa: E731
    gx = np.array(take(slice(lo, lo + n)))
    into = lambda sl: gx[_axis_slice(gx.ndim, axis, sl)]  # noqa: E731
    if mode == "reflect":
        if lo:
            into(slice(1, lo + 1))[...] += take(slice(lo - 1, None, -1))
        if hi:
            into(slice(n - 1 - hi, n - 1))[...] += take(slice(lo + n + hi - 1, lo + n - 1, -1))
    elif mode == "replicate":
        if lo:
            into(slice(0, 1))[...] += take(slice(0, lo)).sum(axis=axis, keepdims=True)
        if hi:
            into(slice(n - 1, n))[...] += take(slice(lo + n, lo + n + hi)).sum(axis=axis, keepdims=True)
    else:  # circular
        if lo:
            into(slice(n - lo, n))[...] += take(slice(0, lo))
        if hi:
            into(slice(0, hi))[...] += take(slice(lo + n, lo + n + hi))
    return gx


class Pad(Function):
    @staticmethod
    def forward(ctx, x, pads=(), mode="constant", value=0.0):
        """``pads``: ((axis, lo, hi), ...) in any order."""
        ctx.pads, ctx.mode, ctx.shape = pads, mode, x.shape
        if mode == "constant":
            out_shape = list(x.shape)
            src = [slice(None)] * x.ndim
            dst = [slice(None)] * x.ndim
            for axis, lo, hi in pads:
                n = x.shape[axis]
                out_shape[axis] = n + lo + hi
                src[axis] = slice(max(0, -lo), n - max(0, -hi))
                dst[axis] = slice(max(0, lo), max(0, lo) + (src[axis].stop - src[axis].start))
            out = np.full(out_shape, value, dtype=x.dtype)
            out[tuple(dst)] = x[tuple(src)]
            ctx.slices = (tuple(src), tuple(dst))
            return out
        out = x
        for axis, lo, hi in pads:
            out = _pad_axis(out, axis, lo, hi, mode)
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.mode == "constant":
            src, dst = ctx.slices
            gx = np.zeros(ctx.shape, dtype=grad.dtype)
            gx[src] = grad[dst]
            return gx
        sizes = list(grad.shape)
        g = grad
        for axis, lo, hi in reversed(ctx.pads):
            sizes[axis] = ctx.shape[axis]
            g = _unpad_axis(g, axis, lo, hi, ctx.shape[axis], ctx.mode)
        return g

    @staticmethod
    def output_shape(x_shape, pads=(), mode="constant", value=0.0):
        shape = list(x_shape)
        for axis, lo, hi in pads:
            shape[axis] += lo + hi
        return tuple(shape)


def pad(input, pad, mode="constant", value=None):
    """Pad ``input``; ``pad`` lists (left, right) pairs starting from the last dimension.

    Args:
        input: a tensor. For ``reflect``/``replicate``/``circular`` only the last 1, 2 or 3
            dimensions can be padded, of a 2-D..5-D input (as in PyTorch).
        pad: ``(left_last, right_last, left_second_last, right_second_last, ...)``, even length,
            at most ``2 * input.ndim`` entries. Negative values crop (``constant`` mode only).
        mode: ``'constant'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        value: fill value for ``constant`` (default 0).

    Shape: each padded axis grows by ``left + right``.

    Raises:
        ArgumentError: unknown mode, odd-length ``pad``, ``value`` with a non-constant mode,
            reflect padding not smaller than the axis, circular padding larger than the axis.
        ShapeError: more padded axes than the input has, or than the mode supports.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: expected input to be a Tensor, got {type(input).__name__}")
    if mode not in MODES:
        raise ArgumentError(f"pad: mode must be one of {MODES}, got {mode!r}")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ArgumentError(f"pad: the padding tuple must have an even length (left, right per dimension), "
                            f"got {pad}")
    n_axes = len(pad) // 2
    if n_axes > input.ndim:
        raise ShapeError(f"pad: padding {pad} covers {n_axes} dimensions but the input has shape "
                         f"{shape_str(input.shape)}")
    pads = tuple((input.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]) for i in range(n_axes))
    if mode == "constant":
        for axis, lo, hi in pads:
            if input.shape[axis] + lo + hi < 0:
                raise ShapeError(f"pad: padding {pad} leaves a negative size on dimension {axis} "
                                 f"of input {shape_str(input.shape)}")
        return Pad.apply(input, pads=pads, mode=mode, value=0.0 if value is None else value)
    if value is not None and value != 0:
        raise ArgumentError(f"pad: value={value} is only meaningful with mode='constant', got mode={mode!r}")
    if not (1 <= n_axes <= 3) or not (n_axes + 1 <= input.ndim <= n_axes + 2):
        raise ShapeError(f"pad: {mode} padding of {n_axes} dimension(s) expects a {n_axes + 1}-D or "
                         f"{n_axes + 2}-D input, got shape {shape_str(input.shape)}")
    for axis, lo, hi in pads:
        n = input.shape[axis]
        if lo < 0 or hi < 0:
            raise ArgumentError(f"pad: {mode} padding must be non-negative, got {pad}")
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ArgumentError(f"pad: reflect padding must be smaller than the padded dimension, got "
                                f"padding ({lo}, {hi}) for dimension {axis} of size {n} "
                                f"(input {shape_str(input.shape)})")
        if mode == "circular" and (lo > n or hi > n):
            raise ArgumentError(f"pad: circular padding must not exceed the padded dimension, got "
                                f"padding ({lo}, {hi}) for dimension {axis} of size {n} "
                                f"(input {shape_str(input.shape)})")
        if mode == "replicate" and n == 0 and (lo or hi):
            raise ShapeError(f"pad: replicate padding needs a non-empty dimension {axis}, "
                             f"got input {shape_str(input.shape)}")
    return Pad.apply(input, pads=pads, mode=mode)
