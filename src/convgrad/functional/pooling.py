"""Pooling: max, min, average and Lp pooling in 1, 2 and 3 dimensions, and max unpooling.

PyTorch's names, argument order and defaults (``torch.nn.functional``); min pooling, which
PyTorch lacks, takes max pooling's arguments. Shapes, per spatial axis with kernel ``k``,
stride ``s`` (default ``k``), padding ``p`` and dilation ``d``::

    out = floor((L + 2p - d(k-1) - 1) / s) + 1          (ceil instead of floor with ceil_mode,
                                                         dropping a last window that would start
                                                         in the right padding)
    max_unpool: out = (L - 1) s - 2p + k                 (or the given output_size)

Backward rules: max (min) pooling routes each output's gradient to the arg-max (arg-min) of its
window only, the first in row-major scan order on ties (PyTorch's indices); average pooling
shares it equally among the window's elements, divided by PyTorch's divisor.

The computation is in :mod:`convgrad.kernels.windows`: strided views per kernel offset, no loops
over pixels. Channels-last inputs (an ``(N, C, H, W)`` view of ``(N, H, W, C)`` memory, as the
convolution returns) with 16 or more channels are pooled in their layout and the output keeps
it; with fewer channels the forward pass runs in NCHW order (faster in NumPy) and returns NCHW.
Either way the input gradient comes back in the input's layout.
"""
import numpy as np

from ..kernels import windows as W
from ..kernels import parallel
from ..tensor import Function, Tensor
from ._util import ArgumentError, DTypeError, ShapeError, ntuple, shape_str

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


# ----------------------------------------------------------------------------------------------
# Argument checks shared by every windowed pooling
# ----------------------------------------------------------------------------------------------
def check_input(input, nd, op):
    """A tensor of rank ``nd+1`` (unbatched) or ``nd+2`` with non-empty non-batch axes."""
    if not isinstance(input, Tensor):
        input = Tensor(input)
    spatial = _SPATIAL[nd]
    if input.ndim not in (nd + 1, nd + 2) or any(s == 0 for s in input.shape[-nd - 1:]):
        raise ShapeError(f"{op}: expected a non-empty {nd + 1}-D (C, {spatial}) or {nd + 2}-D "
                         f"(N, C, {spatial}) input, got shape {shape_str(input.shape)}")
    return input


def window_args(op, nd, kernel_size, stride, padding, dilation=1):
    """Normalise kernel/stride/padding/dilation to ``nd``-tuples and check their ranges."""
    kernel = ntuple(kernel_size, nd, "kernel_size", op)
    empty = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    stride = kernel if empty else ntuple(stride, nd, "stride", op)
    padding = ntuple(padding, nd, "padding", op)
    dilation = ntuple(dilation, nd, "dilation", op)
    for name, value in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if any(v <= 0 for v in value):
            raise ArgumentError(f"{op}: {name} must be greater than zero, got {value}")
    if any(p < 0 for p in padding):
        raise ArgumentError(f"{op}: padding must be non-negative, got {padding}")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ArgumentError(f"{op}: padding must be at most half the kernel size (padding <= kernel_size // 2), "
                            f"got padding={padding} for kernel_size={kernel}")
    return kernel, stride, padding, dilation


def pool_output_shape(op, x_shape, kernel, stride, padding, dilation, ceil_mode):
    """Output shape of a windowed pooling, or a ShapeError when a window does not fit."""
    nd = len(kernel)
    sizes = x_shape[-nd:]
    out = tuple(W.pool_out_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(sizes, kernel, stride, padding, dilation))
    if any(o < 1 for o in out):
        padded = tuple(n + 2 * p for n, p in zip(sizes, padding))
        raise ShapeError(f"{op}: the window (kernel_size={kernel}, dilation={dilation}) does not fit the padded "
                         f"input {shape_str(padded)} (input {shape_str(x_shape)}, padding={padding}); "
                         f"output size would be {shape_str(out)}")
    return tuple(x_shape[:-nd]) + out


# ----------------------------------------------------------------------------------------------
# Max and min pooling
# ----------------------------------------------------------------------------------------------
class ExtremePoolNd(Function):
    """Max (``take_max=True``) or min pooling; optional PyTorch flat per-plane indices."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, ceil_mode=False, take_max=True, return_indices=False):
        nd = len(kernel)
        out = ExtremePoolNd.output_shape(x.shape, kernel, stride, padding, dilation, ceil_mode)[-nd:]
        w, spatial, channels_last = W.work_view(x, nd)
        need_grad = ctx.needs_input_grad[0]
        if (not (need_grad or return_indices) and w.shape[0] > 1 and w.size >= parallel.ELEMENTWISE_MIN_SIZE
                and W.memory_order(w)[0] == 0):
            # values only (inference), samples outermost in memory: in pieces of samples on both cores
            parts = min(w.shape[0], 2 * parallel.workers())
            bounds = [w.shape[0] * i // parts for i in range(parts + 1)]
            values = np.concatenate(parallel.run_pieces(lambda i: W.max_pool_forward(
                w[bounds[i]:bounds[i + 1]], spatial, kernel, stride, padding, dilation, out, take_max,
                need_arg=False)[0], range(parts)))
            return W.from_work(values, nd, channels_last)
        values, arg = W.max_pool_forward(w, spatial, kernel, stride, padding, dilation, out, take_max,
                                         need_arg=need_grad or return_indices)
        result = W.from_work(values, nd, channels_last)
        if return_indices:
            sizes = [w.shape[ax] for ax in spatial]
            index = W.arg_to_flat_index(arg, spatial, sizes, kernel, stride, padding, dilation)
            result = (result, W.from_work(index, nd, channels_last))
        if need_grad:
            ctx.in_shape, ctx.order, spatial, channels_last, (ctx.arg,) = W.backward_layout(
                x, nd, w, spatial, channels_last, [arg])
            ctx.geometry = (nd, channels_last, spatial, kernel, stride, padding, dilation, out)
        return result

    @staticmethod
    def backward(ctx, grad):
        nd, channels_last, spatial, kernel, stride, padding, dilation, out = ctx.geometry
        g = W.to_work(grad, nd, channels_last, like=ctx.arg)
        gx = W.max_pool_backward(g, ctx.arg, ctx.in_shape, ctx.order, spatial, kernel, stride, padding, dilation, out)
        return W.from_work(gx, nd, channels_last)

    @staticmethod
    def output_shape(x_shape, kernel, stride, padding, dilation, ceil_mode=False, **_):
        return pool_output_shape("max_pool", x_shape, kernel, stride, padding, dilation, ceil_mode)


def _extreme_pool(nd, op, take_max, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    input = check_input(input, nd, op)
    kernel, stride, padding, dilation = window_args(op, nd, kernel_size, stride, padding, dilation)
    pool_output_shape(op, input.shape, kernel, stride, padding, dilation, ceil_mode)
    return ExtremePoolNd.apply(input, kernel, stride, padding, dilation, ceil_mode=bool(ceil_mode),
                               take_max=take_max, return_indices=bool(return_indices))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D max pooling over ``(N, C, L)`` or ``(C, L)``; ``(out, indices)`` with ``return_indices``."""
    return _extreme_pool(1, "max_pool1d", True, input, kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling over ``(N, C, H, W)`` or ``(C, H, W)``.

    Args:
        kernel_size, stride (default ``kernel_size``), padding (at most ``kernel_size // 2``,
        never selected), dilation: ints or pairs. ceil_mode: round the output size up.
        return_indices: also return the flat index ``h*W + w`` of each maximum in its plane
        (for :func:`max_unpool2d`).
    Shape: ``H_out = floor((H + 2p - d(k-1) - 1) / s) + 1`` (ceil with ``ceil_mode``).
    Raises: ShapeError for a wrong rank or a window larger than the padded input;
        ArgumentError for non-positive sizes or padding above half the kernel.
    """
    return _extreme_pool(2, "max_pool2d", True, input, kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """3-D max pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; indices are ``(d*H + h)*W + w``."""
    return _extreme_pool(3, "max_pool3d", True, input, kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices)


def min_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D min pooling: ``-max_pool1d(-x)`` with the gradient routed to the arg-min."""
    return _extreme_pool(1, "min_pool1d", False, input, kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices)


def min_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D min pooling (PyTorch has none): the smallest value of each window, i.e.
    ``-max_pool2d(-x)``; the gradient goes to the first arg-min in scan order. Arguments,
    shapes and errors as :func:`max_pool2d`."""
    return _extreme_pool(2, "min_pool2d", False, input, kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices)


def min_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """3-D min pooling: ``-max_pool3d(-x)`` with the gradient routed to the arg-min."""
    return _extreme_pool(3, "min_pool3d", False, input, kernel_size, stride, padding, dilation, ceil_mode,
                         return_indices)


# ----------------------------------------------------------------------------------------------
# Average pooling
# ----------------------------------------------------------------------------------------------
class AvgPoolNd(Function):
    """Average pooling with PyTorch's divisors (count_include_pad, ceil_mode, divisor_override)."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, ceil_mode=False, count_include_pad=True, divisor_override=None):
        nd = len(kernel)
        ones = (1,) * nd
        out = AvgPoolNd.output_shape(x.shape, kernel, stride, padding, ceil_mode)[-nd:]
        w, spatial, channels_last = W.work_view(x, nd)
        sizes = [w.shape[ax] for ax in spatial]
        hi = [n2 - n - p for n2, n, p in zip(W.padded_sizes(sizes, out, kernel, stride, ones, padding), sizes, padding)]
        total = W.sum_windows(W.pad_axes(w, spatial, padding, hi, 0), spatial, kernel, stride, out)
        div = W.avg_divisor(sizes, kernel, stride, padding, out, count_include_pad, divisor_override,
                            w.ndim, spatial, w.dtype)
        np.divide(total, div, out=total)
        result = W.from_work(total, nd, channels_last)
        if ctx.needs_input_grad[0]:
            ctx.in_shape, ctx.order, spatial, channels_last, (ctx.div,) = W.backward_layout(
                x, nd, w, spatial, channels_last, [div])
            ctx.geometry = (nd, channels_last, spatial, kernel, stride, padding, out)
        return result

    @staticmethod
    def backward(ctx, grad):
        nd, channels_last, spatial, kernel, stride, padding, out = ctx.geometry
        g = W.to_work(grad, nd, channels_last) / ctx.div
        gx = W.spread_windows(g, ctx.in_shape, ctx.order, spatial, kernel, stride, padding, out)
        return W.from_work(gx, nd, channels_last)

    @staticmethod
    def output_shape(x_shape, kernel, stride, padding, ceil_mode=False, **_):
        return pool_output_shape("avg_pool", x_shape, kernel, stride, padding, (1,) * len(kernel), ceil_mode)


def _avg_pool(nd, op, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    input = check_input(input, nd, op)
    if input.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point input, got dtype {input.dtype}")
    kernel, stride, padding, _ = window_args(op, nd, kernel_size, stride, padding)
    if divisor_override is not None and int(divisor_override) == 0:
        raise ArgumentError(f"{op}: divisor_override must be non-zero, got {divisor_override}")
    pool_output_shape(op, input.shape, kernel, stride, padding, (1,) * nd, ceil_mode)
    return AvgPoolNd.apply(input, kernel, stride, padding, ceil_mode=bool(ceil_mode),
                           count_include_pad=bool(count_include_pad), divisor_override=divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling over ``(N, C, L)`` or ``(C, L)``."""
    return _avg_pool(1, "avg_pool1d", input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-D average pooling over ``(N, C, H, W)`` or ``(C, H, W)``.

    The divisor of a window (PyTorch's rule): with ``start = i*s - p`` and
    ``end = min(start + k, L + p)`` per axis, ``prod(end - start)`` when ``count_include_pad``
    (zero padding counts, a window running past the right padding with ``ceil_mode`` does not),
    else the number of real input elements in the window; ``divisor_override`` replaces both.
    Shape: ``H_out = floor((H + 2p - k) / s) + 1`` (ceil with ``ceil_mode``).
    """
    return _avg_pool(2, "avg_pool2d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """3-D average pooling over ``(N, C, D, H, W)`` or ``(C, D, H, W)``; divisors as avg_pool2d."""
    return _avg_pool(3, "avg_pool3d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ----------------------------------------------------------------------------------------------
# Lp pooling: (sum over the window of x^p)^(1/p), PyTorch's formula on top of avg_pool
# ----------------------------------------------------------------------------------------------
class LpRoot(Function):
    """``(k * sign(a) * relu(|a|))^(1/p)`` of a window average ``a`` (PyTorch's lp_pool tail);
    the gradient is zero where ``a == 0`` as in PyTorch's relu."""

    @staticmethod
    def forward(ctx, a, norm_type, volume):
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = a * volume  # sign(a) * relu(|a|) == a
            out = np.power(scaled, 1.0 / norm_type).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, scaled, out)
        ctx.norm_type, ctx.volume = norm_type, volume
        return out

    @staticmethod
    def backward(ctx, grad):
        a, scaled, out = ctx.saved
        with np.errstate(invalid="ignore", divide="ignore"):
            local = (out / scaled) * (ctx.volume / ctx.norm_type)  # d/da (k a)^(1/p)
        return np.where(a != 0, grad * local, 0).astype(grad.dtype, copy=False)


def _lp_pool(nd, op, input, norm_type, kernel_size, stride, ceil_mode):
    from .arithmetic import pow as tensor_pow
    input = check_input(input, nd, op)
    norm_type = float(norm_type)
    if norm_type == 0:
        raise ArgumentError(f"{op}: norm_type must be non-zero, got {norm_type}")
    kernel = ntuple(kernel_size, nd, "kernel_size", op)
    avg = _avg_pool(nd, op, tensor_pow(input, norm_type), kernel, stride, 0, ceil_mode, True, None)
    return LpRoot.apply(avg, norm_type, int(np.prod(kernel)))


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """1-D power-average pooling ``(sum x^p)^(1/p)`` (``p = inf`` is max pooling, ``p = 1`` sum
    pooling), computed as PyTorch does: ``(avg_pool1d(x^p) * k)^(1/p)``."""
    return _lp_pool(1, "lp_pool1d", input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """2-D power-average pooling: ``(avg_pool2d(x^p) * kH * kW)^(1/p)``, PyTorch's formula (so with
    ``ceil_mode`` a window clipped at the edge is rescaled by the full kernel size, as there)."""
    return _lp_pool(2, "lp_pool2d", input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """3-D power-average pooling: ``(avg_pool3d(x^p) * kD * kH * kW)^(1/p)``."""
    return _lp_pool(3, "lp_pool3d", input, norm_type, kernel_size, stride, ceil_mode)


# ----------------------------------------------------------------------------------------------
# Max unpooling: place values at their pooling indices, zeros elsewhere
# ----------------------------------------------------------------------------------------------
class MaxUnpoolNd(Function):
    """Scatter ``x`` to the flat per-plane positions ``indices`` of an ``out_size`` plane."""

    @staticmethod
    def forward(ctx, x, indices, out_size):
        nd = len(out_size)
        lead = x.shape[:-nd]
        planes = int(np.prod(lead))
        volume = int(np.prod(out_size))
        flat_idx = np.ascontiguousarray(indices).reshape(planes, -1)
        out = np.zeros((planes, volume), dtype=x.dtype)
        rows = np.arange(planes)[:, None]
        out[rows, flat_idx] = np.ascontiguousarray(x).reshape(planes, -1)
        ctx.rows, ctx.flat_idx, ctx.planes, ctx.x_shape = rows, flat_idx, planes, x.shape
        return out.reshape(lead + tuple(out_size))

    @staticmethod
    def backward(ctx, grad):
        g = np.ascontiguousarray(grad).reshape(ctx.planes, -1)
        return g[ctx.rows, ctx.flat_idx].reshape(ctx.x_shape), None

    @staticmethod
    def output_shape(x_shape, indices_shape, out_size):
        return tuple(x_shape[:-len(out_size)]) + tuple(out_size)


def unpool_output_size(op, in_sizes, kernel, stride, padding, output_size):
    """PyTorch's rule: default ``(L-1)s - 2p + k``; a given size must lie strictly within a
    stride of it (any output of the matching max pooling had one of those sizes)."""
    nd = len(kernel)
    default = [(n - 1) * s - 2 * p + k for n, k, s, p in zip(in_sizes, kernel, stride, padding)]
    if output_size is None:
        return tuple(default)
    output_size = tuple(int(v) for v in (output_size.tolist() if isinstance(output_size, Tensor) else output_size))
    if len(output_size) in (nd + 1, nd + 2):
        output_size = output_size[-nd:]
    if len(output_size) != nd:
        raise ArgumentError(f"{op}: output_size must have {nd} (or {nd + 2}) elements, got {output_size}")
    for d, (n, s) in enumerate(zip(default, stride)):
        if not n - s < output_size[d] < n + s:
            raise ArgumentError(f"{op}: invalid output_size {output_size}: axis {d} must lie strictly between "
                                f"{n - s} and {n + s} (default size {tuple(default)})")
    return output_size


def _max_unpool(nd, op, input, indices, kernel_size, stride, padding, output_size):
    input = check_input(input, nd, op)
    idx = indices._data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"{op}: expected integer indices, got dtype {idx.dtype}")
    if idx.shape != input.shape:
        raise ShapeError(f"{op}: expected indices of the input's shape {shape_str(input.shape)}, "
                         f"got {shape_str(idx.shape)}")
    kernel = ntuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None else ntuple(stride, nd, "stride", op)
    padding = ntuple(padding, nd, "padding", op)
    if any(s <= 0 for s in stride) or any(k <= 0 for k in kernel):
        raise ArgumentError(f"{op}: kernel_size and stride must be greater than zero, got {kernel} and {stride}")
    out_size = unpool_output_size(op, input.shape[-nd:], kernel, stride, padding, output_size)
    volume = int(np.prod(out_size))
    if idx.size and (idx.min() < 0 or idx.max() >= volume):
        bad = int(idx.max()) if idx.max() >= volume else int(idx.min())
        raise ArgumentError(f"{op}: found an invalid max index {bad} (output planes are of size "
                            f"{'x'.join(map(str, out_size))})")
    return MaxUnpoolNd.apply(input, idx.astype(np.int64, copy=False), out_size=tuple(out_size))


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of :func:`max_pool1d`: values at their indices, zeros elsewhere."""
    return _max_unpool(1, "max_unpool1d", input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of :func:`max_pool2d` given its ``return_indices`` output.

    Shape: ``H_out = (H - 1) s - 2p + k`` unless ``output_size`` (within one stride of it)
    is given. The gradient w.r.t. ``input`` gathers the output gradient at ``indices``.
    """
    return _max_unpool(2, "max_unpool2d", input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of :func:`max_pool3d`."""
    return _max_unpool(3, "max_unpool3d", input, indices, kernel_size, stride, padding, output_size)
