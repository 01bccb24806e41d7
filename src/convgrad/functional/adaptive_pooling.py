"""Adaptive pooling: choose the output size, let the windows follow (``torch.nn.functional``).

Output ``i`` of an axis of length ``L`` pooled to ``O`` covers ``[floor(i*L/O), ceil((i+1)*L/O))``
(PyTorch's windows: neighbouring windows may overlap by one element when ``O`` does not divide
``L``). ``output_size`` entries may be ``None`` (keep that axis). When every ``O`` divides its
``L`` the windows are a regular ``L/O`` tiling and the ordinary pooling kernels run; otherwise
average pooling is a product of small averaging matrices (one GEMM per axis) and max pooling a
separable running maximum over the few window offsets. Global pooling is adaptive pooling to 1.
"""
import numpy as np

from ..kernels import windows as W
from ..tensor import Function, Tensor
from ._util import ArgumentError, DTypeError, empty_result
from .pooling import check_input


def _output_size(op, output_size, in_sizes):
    nd = len(in_sizes)
    if isinstance(output_size, Tensor):
        output_size = output_size.tolist()
    if output_size is None or isinstance(output_size, (int, np.integer)):
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) == 1 and nd > 1:
        output_size = output_size * nd
    if len(output_size) != nd:
        raise ArgumentError(f"{op}: output_size must be an int or a tuple of {nd} ints (or None), got {output_size}")
    out = tuple(n if o is None else int(o) for o, n in zip(output_size, in_sizes))
    if any(o < 0 for o in out):
        raise ArgumentError(f"{op}: output_size must be non-negative, got {output_size}")
    return out


def _divides(in_sizes, out):
    return all(o > 0 and n % o == 0 for n, o in zip(in_sizes, out))


def _averaging_matrix(size, out, dtype):
    """``(out, size)`` matrix whose row ``i`` averages adaptive window ``i``."""
    start, end = W.adaptive_bounds(size, out)
    cols = np.arange(size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _apply_per_axis(a, matrices, transpose=False):
    """Contract each spatial axis of ``a`` (the last ones) with its matrix: one GEMM per axis."""
    nd = len(matrices)
    for i, m in enumerate(matrices):
        ax = a.ndim - nd + i
        a = np.moveaxis(np.tensordot(a, m, axes=([ax], [0 if transpose else 1])), -1, ax)
    return np.ascontiguousarray(a)


class AdaptiveAvgPoolNd(Function):
    @staticmethod
    def forward(ctx, x, out):
        nd = len(out)
        sizes = x.shape[-nd:]
        ctx.in_shape, ctx.out, ctx.x_order = x.shape, out, W.memory_order(x)
        ctx.mode = "global" if all(o == 1 for o in out) else "tiles" if _divides(sizes, out) else "matrices"
        if ctx.mode == "global":  # one reduction call, in whatever layout x has
            return np.mean(x, axis=tuple(range(x.ndim - nd, x.ndim)), keepdims=True)
        if ctx.mode == "tiles":
            kernel = tuple(n // o for n, o in zip(sizes, out))
            w, spatial, channels_last = W.work_view(x, nd)
            total = W.sum_windows(w, spatial, kernel, kernel, out)
            np.divide(total, int(np.prod(kernel)), out=total)
            result = W.from_work(total, nd, channels_last)
            in_shape, order, spatial, channels_last, _ = W.backward_layout(x, nd, w, spatial, channels_last, [])
            ctx.tiling = (kernel, spatial, channels_last, in_shape, order)
            return result
        ctx.matrices = [_averaging_matrix(n, o, x.dtype) for n, o in zip(sizes, out)]
        return _apply_per_axis(x, ctx.matrices)

    @staticmethod
    def backward(ctx, grad):
        nd = len(ctx.out)
        if ctx.mode == "global":
            gx = W.empty_in_order(ctx.in_shape, ctx.x_order, grad.dtype)
            np.copyto(gx, grad / int(np.prod(ctx.in_shape[-nd:])))  # broadcast over each whole plane
            return gx
        if ctx.mode == "matrices":
            return W.match_layout(_apply_per_axis(grad, ctx.matrices, transpose=True), ctx.x_order)
        kernel, spatial, channels_last, in_shape, order = ctx.tiling
        g = W.to_work(grad, nd, channels_last) / int(np.prod(kernel))
        gx = W.spread_windows(g, in_shape, order, spatial, kernel, kernel, (0,) * nd, ctx.out)
        return W.from_work(gx, nd, channels_last)

    @staticmethod
    def output_shape(x_shape, out):
        return tuple(x_shape[:-len(out)]) + tuple(out)


def _adaptive_max_scan(x, out):
    """Separable running maximum over adaptive windows with PyTorch's scan rule
    (``val > best || isnan(val)``); returns values and flat per-plane indices (int64)."""
    nd = len(out)
    a, flat, inner = x, None, 1
    for i in reversed(range(nd)):
        ax = x.ndim - nd + i
        size = x.shape[ax]
        start, end = W.adaptive_bounds(size, out[i])
        shape = [1] * x.ndim
        shape[ax] = out[i]
        cur = best = None
        for j in range(int((end - start).max())):
            pos = np.minimum(start + j, end - 1)  # short windows repeat their last element: harmless
            v = np.take(a, pos, axis=ax)
            cand = pos.reshape(shape) * inner + (0 if flat is None else np.take(flat, pos, axis=ax))
            if cur is None:
                cur, best = v, np.broadcast_to(cand, v.shape)
                continue
            upd = (v > cur) | np.isnan(v)
            cur = np.where(upd, v, cur)
            best = np.where(upd, cand, best)
        a, flat = cur, np.ascontiguousarray(best, dtype=np.int64)
        inner *= size
    return a, flat


class AdaptiveMaxPoolNd(Function):
    @staticmethod
    def forward(ctx, x, out, return_indices=False):
        nd = len(out)
        sizes = x.shape[-nd:]
        if _divides(sizes, out):
            kernel = tuple(n // o for n, o in zip(sizes, out))
            w, spatial, channels_last = W.work_view(x, nd)
            ones, zeros = (1,) * nd, (0,) * nd
            values, arg = W.max_pool_forward(w, spatial, kernel, kernel, zeros, ones, out)
            index = W.from_work(W.arg_to_flat_index(arg, spatial, sizes, kernel, kernel, zeros, ones), nd,
                                channels_last)
            values = W.from_work(values, nd, channels_last)
        else:
            values, index = _adaptive_max_scan(x, out)
        ctx.index, ctx.in_shape, ctx.nd, ctx.x_order = index, x.shape, nd, W.memory_order(x)
        return (values, index) if return_indices else values

    @staticmethod
    def backward(ctx, grad):
        return W.match_layout(scatter_add_to_planes(grad, ctx.index, ctx.in_shape, ctx.nd), ctx.x_order)

    @staticmethod
    def output_shape(x_shape, out, **_):
        return tuple(x_shape[:-len(out)]) + tuple(out)


def scatter_add_to_planes(grad, index, in_shape, nd):
    """Gradient of a per-plane gather: add ``grad`` at the flat per-plane positions ``index`` of
    an input of ``in_shape`` with ``nd`` spatial axes (positions may repeat where windows overlap;
    ``np.bincount`` adds them)."""
    planes = int(np.prod(in_shape[:-nd]))
    volume = int(np.prod(in_shape[-nd:]))
    flat = np.ascontiguousarray(index).reshape(planes, -1) + (np.arange(planes, dtype=np.int64) * volume)[:, None]
    total = np.bincount(flat.ravel(), weights=np.ascontiguousarray(grad).reshape(-1), minlength=planes * volume)
    return total.astype(grad.dtype).reshape(in_shape)


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------
def _adaptive(nd, op, input, output_size, take_max, return_indices=False):
    input = check_input(input, nd, op)
    out = _output_size(op, output_size, input.shape[-nd:])
    if not take_max and input.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point input, got dtype {input.dtype}")
    if 0 in out or input.numel() == 0:  # nothing to pool: an empty result, still connected to the graph
        empty = empty_result(tuple(input.shape[:-nd]) + out, input)
        if return_indices:
            return empty, Tensor(np.zeros(empty.shape, np.int64))
        return empty
    if take_max:
        return AdaptiveMaxPoolNd.apply(input, out, return_indices=bool(return_indices))
    return AdaptiveAvgPoolNd.apply(input, out)


def adaptive_avg_pool1d(input, output_size):
    """Average over adaptive windows of ``(N, C, L)`` or ``(C, L)`` to length ``output_size``."""
    return _adaptive(1, "adaptive_avg_pool1d", input, output_size, False)


def adaptive_avg_pool2d(input, output_size):
    """Average ``(N, C, H, W)`` or ``(C, H, W)`` over adaptive windows to ``output_size``
    (an int, or a pair whose entries may be None to keep that axis).

    Window ``i`` of an axis covers ``[floor(i*L/O), ceil((i+1)*L/O))``; ``output_size=1`` is
    global average pooling.
    """
    return _adaptive(2, "adaptive_avg_pool2d", input, output_size, False)


def adaptive_avg_pool3d(input, output_size):
    """Average ``(N, C, D, H, W)`` or ``(C, D, H, W)`` over adaptive windows to ``output_size``."""
    return _adaptive(3, "adaptive_avg_pool3d", input, output_size, False)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Maximum over adaptive windows of ``(N, C, L)``; flat indices with ``return_indices``."""
    return _adaptive(1, "adaptive_max_pool1d", input, output_size, True, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maximum over adaptive windows of ``(N, C, H, W)`` (windows as adaptive_avg_pool2d); the
    gradient goes to each window's first maximum; ``return_indices`` gives ``h*W + w``."""
    return _adaptive(2, "adaptive_max_pool2d", input, output_size, True, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Maximum over adaptive windows of ``(N, C, D, H, W)``."""
    return _adaptive(3, "adaptive_max_pool3d", input, output_size, True, return_indices)


def global_avg_pool2d(input, keepdim=False):
    """Mean of each feature map: ``(N, C, H, W) -> (N, C)`` (``(N, C, 1, 1)`` with ``keepdim``)."""
    out = adaptive_avg_pool2d(input, 1)
    return out if keepdim else out.reshape(out.shape[:-2])


def global_max_pool2d(input, keepdim=False):
    """Maximum of each feature map: ``(N, C, H, W) -> (N, C)`` (``(N, C, 1, 1)`` with ``keepdim``)."""
    out = adaptive_max_pool2d(input, 1)
    return out if keepdim else out.reshape(out.shape[:-2])
