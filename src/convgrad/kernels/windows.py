"""Pooling windows on NumPy arrays: output sizes, padding, and reductions over kernel offsets.

A pooling window of kernel ``k``, stride ``s`` and dilation ``d`` along one axis covers
``start + j*d`` for ``j < k``, with ``start = i*s - p`` for output ``i``. For one kernel offset
``j`` the elements of every window form the strided view ``a[j*d : j*d + s*(out-1) + 1 : s]``
(no copy). A pooling is then a loop over the few kernel offsets, each step one vectorised
NumPy operation over all windows at once; never a loop over pixels. Reductions are separable
(the last spatial axis first, then the next), so a ``k x k`` window costs ``2k`` steps, not ``k*k``.

Layout: the ops here take ``spatial`` (the spatial axes' positions) so they work equally on an
``(N, C, H, W)`` array and on its channels-last view ``(N, H, W, C)``; :func:`work_view` picks
the view that matches the memory, so results keep the input's layout.

Nothing here touches ``Tensor``.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided


# ----------------------------------------------------------------------------------------------
# Output sizes
# ----------------------------------------------------------------------------------------------
def pool_out_size(size, kernel, stride, padding, dilation=1, ceil_mode=False):
    """PyTorch's pooling output size along one axis.

    ``out = floor_or_ceil((size + 2p - d(k-1) - 1) / s) + 1``; with ``ceil_mode`` the last
    window must start inside the input or the left padding, else it is dropped.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + padding:
            out -= 1
    else:
        out = span // stride + 1
    return out


def window_extent(out, kernel, stride, dilation):
    """Number of (padded) elements the windows of one axis reach: ``(out-1)s + d(k-1) + 1``."""
    return (out - 1) * stride + dilation * (kernel - 1) + 1


def padded_sizes(sizes, out, kernel, stride, dilation, padding):
    """Length of each padded axis: the input plus both paddings, or more when ``ceil_mode``
    lets the last window run past the end."""
    return [max(window_extent(o, k, s, d), n + 2 * p)
            for n, o, k, s, d, p in zip(sizes, out, kernel, stride, dilation, padding)]


def adaptive_bounds(size, out):
    """PyTorch's adaptive windows: ``start = floor(i*L/out)``, ``end = ceil((i+1)*L/out)``."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


# ----------------------------------------------------------------------------------------------
# Layout
# ----------------------------------------------------------------------------------------------
def is_channels_last(a, nd):
    """True when the channel axis (``-nd-1``) of ``a`` is the fastest-varying in memory."""
    if a.ndim < nd + 1 or a.ndim < 2 or a.shape[-nd - 1] == 1:
        return False
    strides = a.strides
    c = strides[-nd - 1]
    return c == a.itemsize and all(abs(strides[ax]) >= c * a.shape[-nd - 1]
                                   for ax in range(a.ndim - nd, a.ndim) if a.shape[ax] > 1)


# Below this many channels a channels-last pass runs NumPy's inner loops over only C elements
# (measured 3-7x slower than NCHW for LeNet's 6 maps), so such inputs are pooled as NCHW.
CHANNELS_LAST_MIN_CHANNELS = 16


def work_view(a, nd):
    """``(view, spatial_axes, channels_last)``: channels-last memory with enough channels is
    viewed as ``(..., *S, C)`` (a transposed view, no copy); few channels are copied to
    ``(..., C, *S)`` order; anything else stays ``(..., C, *S)`` as it is."""
    if is_channels_last(a, nd):
        if a.shape[-nd - 1] >= CHANNELS_LAST_MIN_CHANNELS:
            return channels_last_view(a, nd)
        a = np.ascontiguousarray(a)
    return a, tuple(range(a.ndim - nd, a.ndim)), False


def channels_last_view(a, nd):
    """``(a viewed as (..., *S, C), its spatial axes, True)``."""
    return np.moveaxis(a, -nd - 1, -1), tuple(range(a.ndim - nd - 1, a.ndim - 1)), True


def backward_layout(x, nd, w, spatial, channels_last, per_output):
    """Where a pooling's backward runs. A channels-last input pooled in NCHW order (few
    channels) still gets its gradient scattered in channels-last order, so it comes back in the
    input's layout without a full-size copy: the small per-output arrays are moved instead.

    Returns ``(in_shape, order, spatial, channels_last, per_output)`` for the backward pass.
    """
    if channels_last or not is_channels_last(x, nd):
        return w.shape, memory_order(w), spatial, channels_last, per_output
    view, spatial, _ = channels_last_view(x, nd)
    moved = [to_work(a, nd, True) if isinstance(a, np.ndarray) and a.ndim == x.ndim else a for a in per_output]
    return view.shape, memory_order(view), spatial, True, moved


def match_layout(a, order):
    """``a`` in memory ``order`` (see :func:`memory_order`), copied only when it differs: a
    gradient must come back in its input's layout, or the next element-wise backward step
    mixes layouts and slows several-fold."""
    if a.ndim < 2 or memory_order(a) == tuple(order):
        return a
    out = empty_in_order(a.shape, order, a.dtype)
    np.copyto(out, a)
    return out


def from_work(a, nd, channels_last):
    """Undo :func:`work_view` on a result: ``(..., *S, C) -> (..., C, *S)`` view."""
    return np.moveaxis(a, -1, -nd - 1) if channels_last else a


def to_work(a, nd, channels_last, like=None):
    """Bring another array (e.g. an incoming gradient) into the working layout, contiguously,
    so every operand of the following element-wise steps shares one memory order: that of
    ``like`` when given (say a batch-last input's), else C order."""
    if channels_last:
        return np.ascontiguousarray(np.moveaxis(a, -nd - 1, -1))
    if like is not None:
        return match_layout(a, memory_order(like))
    return np.ascontiguousarray(a)


def memory_order(a):
    """``a``'s axes from the slowest-varying in memory to the fastest."""
    return tuple(sorted(range(a.ndim), key=lambda ax: -abs(a.strides[ax])))


def empty_in_order(shape, order, dtype, fill=None):
    """A new array of ``shape`` laid out in memory in axis ``order`` (see :func:`memory_order`),
    so a channels-last input gets a channels-last buffer."""
    buf = np.empty([shape[ax] for ax in order], dtype=dtype)
    if fill is not None:
        buf.fill(fill)
    return buf.transpose(np.argsort(order))


# ----------------------------------------------------------------------------------------------
# Padding and offset views
# ----------------------------------------------------------------------------------------------
def pad_axes(a, spatial, lo, hi, fill):
    """Pad the spatial axes of ``a`` by ``lo`` before and ``hi`` after with ``fill``; returns
    ``a`` itself when nothing is padded. The buffer keeps ``a``'s memory order."""
    if not any(lo) and not any(hi):
        return a
    shape = list(a.shape)
    inner = [slice(None)] * a.ndim
    for ax, l, h in zip(spatial, lo, hi):
        shape[ax] += l + h
        inner[ax] = slice(l, l + a.shape[ax])
    out = empty_in_order(shape, memory_order(a), a.dtype, fill)
    out[tuple(inner)] = a
    return out


def offset_view(a, axis, offset, stride, count):
    """``a[..., offset : offset + stride*(count-1) + 1 : stride, ...]`` along ``axis``: the
    elements at kernel offset ``offset`` of ``count`` consecutive windows."""
    index = [slice(None)] * a.ndim
    index[axis] = slice(offset, offset + stride * (count - 1) + 1, stride)
    return a[tuple(index)]


def window_view(a, axis_offsets, spatial, stride, out):
    """The strided view of one kernel position (``axis_offsets`` already multiplied by the
    dilation) across all windows: one view per kernel offset, used by scatter and spread."""
    index = [slice(None)] * a.ndim
    for ax, off, s, o in zip(spatial, axis_offsets, stride, out):
        index[ax] = slice(off, off + s * (o - 1) + 1, s)
    return a[tuple(index)]


def sliding_window_view(a, spatial, kernel, stride, dilation, out):
    """All windows as one strided view: shape ``a.shape`` with each spatial axis replaced by its
    output size, followed by the kernel axes. No copy; treat it as read-only."""
    shape = list(a.shape)
    strides = list(a.strides)
    for ax, s, o in zip(spatial, stride, out):
        shape[ax] = o
        strides[ax] = a.strides[ax] * s
    shape += list(kernel)
    strides += [a.strides[ax] * d for ax, d in zip(spatial, dilation)]
    return as_strided(a, shape=shape, strides=strides, writeable=False)


def kernel_offsets(kernel, dilation):
    """Every kernel position in row-major (PyTorch's scan) order, as per-axis element offsets."""
    grids = np.indices(kernel).reshape(len(kernel), -1).T
    return [tuple(int(j) * d for j, d in zip(pos, dilation)) for pos in grids]


def index_dtype(count):
    """Smallest integer dtype that holds an offset into a window of ``count`` elements."""
    return np.uint8 if count <= 255 else np.int32


# ----------------------------------------------------------------------------------------------
# Max / min: values and the window-local arg-extreme
# ----------------------------------------------------------------------------------------------
def extreme_fill(dtype, take_max):
    """Padding value that never wins: -inf for max, +inf for min (integer limits for ints)."""
    if np.dtype(dtype).kind == "f":
        return -np.inf if take_max else np.inf
    info = np.iinfo(dtype)
    return info.min if take_max else info.max


def _reduce_extreme(a, spatial, kernel, stride, dilation, out, take_max):
    """Values only: running max/min over kernel offsets, one axis at a time. The axis with the
    largest memory stride goes first, so the first (largest) pass reads contiguous rows."""
    combine = np.maximum if take_max else np.minimum
    axes = sorted(zip(spatial, kernel, stride, dilation, out), key=lambda t: -abs(a.strides[t[0]]))
    for ax, k, s, d, o in axes:
        cur = offset_view(a, ax, 0, s, o)
        for j in range(1, k):
            v = offset_view(a, ax, j * d, s, o)
            cur = combine(cur, v) if j == 1 else combine(cur, v, out=cur)
        a = cur
    return a if a.flags.owndata else a.copy()


def _first_match(xp, values, spatial, kernel, stride, dilation, out):
    """Row-major offset of the first element of each window equal to its extreme ``values``:
    PyTorch's arg on ties. Offsets are scanned last to first, each match overwriting."""
    offsets = kernel_offsets(kernel, dilation)
    dtype = np.dtype(index_dtype(len(offsets)))
    best = np.full_like(values, len(offsets) - 1, dtype)  # values' memory order
    for j in range(len(offsets) - 2, -1, -1):
        hit = np.equal(window_view(xp, offsets[j], spatial, stride, out), values)
        # best = where(hit, j, best) as integer arithmetic (wraps harmlessly in uint8), several
        # times faster than np.where / copyto(where=) on these small dtypes
        best -= hit.view(np.uint8).astype(dtype, copy=False) * (best - dtype.type(j))
    return best


def _scan_extreme_arg(a, spatial, kernel, stride, dilation, out, take_max):
    """Values and arg with PyTorch's exact scan rule ``val > best || isnan(val)`` (the last NaN
    of a window wins); used when the values hold NaN, where equality matching cannot work.

    Separable: reducing the last axis first and carrying its winner's offset, the element
    PyTorch's row-major scan would keep is what survives every stage.
    """
    dtype = np.dtype(index_dtype(int(np.prod(kernel))))
    arg = None
    inner = 1  # kernel volume of the axes already reduced
    for ax, k, s, d, o in reversed(list(zip(spatial, kernel, stride, dilation, out))):
        cur = offset_view(a, ax, 0, s, o).copy()
        best = np.zeros(cur.shape, dtype) if arg is None else offset_view(arg, ax, 0, s, o).copy()
        for j in range(1, k):
            v = offset_view(a, ax, j * d, s, o)
            upd = (np.greater(v, cur) if take_max else np.less(v, cur)) | np.isnan(v)
            cur = np.where(upd, v, cur)
            cand = j * inner if arg is None else offset_view(arg, ax, j * d, s, o) + j * inner
            best = np.where(upd, cand, best).astype(dtype, copy=False)
        a, arg = cur, best
        inner *= k
    return a, arg


def max_pool_forward(x, spatial, kernel, stride, padding, dilation, out, take_max=True, need_arg=True):
    """Max (or min) pooling of ``x`` over ``spatial`` axes.

    Returns ``(values, arg)``: ``arg`` (None unless ``need_arg``) holds, per output element, the
    row-major offset of the winning element in its window (first extreme on ties, last NaN if
    any, as PyTorch). Padding never wins (filled with -inf/+inf).
    """
    sizes = [x.shape[ax] for ax in spatial]
    hi = [n2 - n - p for n2, n, p in zip(padded_sizes(sizes, out, kernel, stride, dilation, padding), sizes, padding)]
    xp = pad_axes(x, spatial, padding, hi, extreme_fill(x.dtype, take_max))
    values = _reduce_extreme(xp, spatial, kernel, stride, dilation, out, take_max)
    if not need_arg:
        return values, None
    if values.dtype.kind == "f" and np.isnan(values.sum()):  # rare: PyTorch's NaN rule, slowly
        return _scan_extreme_arg(xp, spatial, kernel, stride, dilation, out, take_max)
    return values, _first_match(xp, values, spatial, kernel, stride, dilation, out)


def arg_to_flat_index(arg, spatial, in_sizes, kernel, stride, padding, dilation):
    """Window-local offsets -> PyTorch's flat per-plane index ``(d*H + h)*W + w`` (int64)."""
    flat = np.zeros(arg.shape, np.int64)
    rest = arg.astype(np.int64)
    for i in reversed(range(len(spatial))):
        ax, k = spatial[i], kernel[i]
        off = rest % k
        rest //= k
        shape = [1] * arg.ndim
        shape[ax] = arg.shape[ax]
        start = (np.arange(arg.shape[ax]) * stride[i] - padding[i]).reshape(shape)
        flat += (start + off * dilation[i]) * int(np.prod(in_sizes[i + 1:]))
    return flat


def _tiles_exactly(kernel, stride, dilation, out, padded_sizes):
    """Windows neither overlap nor leave gaps: every padded element belongs to one window."""
    return all(s == k and d == 1 and o * s == n
               for k, s, d, o, n in zip(kernel, stride, dilation, out, padded_sizes))


def _no_overlap(kernel, stride, dilation):
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


def max_pool_backward(grad, arg, in_shape, order, spatial, kernel, stride, padding, dilation, out):
    """Route each output gradient to the winning element of its window (arg from forward).

    The result has ``in_shape`` and memory ``order`` (the input's). Overlapping windows add.
    """
    sizes = [in_shape[ax] for ax in spatial]
    padded = padded_sizes(sizes, out, kernel, stride, dilation, padding)
    shape = list(in_shape)
    for ax, n in zip(spatial, padded):
        shape[ax] = n
    tiles = _tiles_exactly(kernel, stride, dilation, out, padded)
    gpad = empty_in_order(shape, order, grad.dtype, None if tiles else 0)
    routed = np.empty(grad.shape, grad.dtype) if not _no_overlap(kernel, stride, dilation) else None
    for j, offsets in enumerate(kernel_offsets(kernel, dilation)):
        dest = window_view(gpad, offsets, spatial, stride, out)
        if routed is None:  # windows are disjoint: write straight into place
            np.multiply(grad, arg == j, out=dest)
        else:  # overlapping windows add up, through one reused buffer
            np.multiply(grad, arg == j, out=routed)
            dest += routed
    return crop_axes(gpad, spatial, padding, sizes)


def crop_axes(a, spatial, lo, sizes):
    index = [slice(None)] * a.ndim
    for ax, l, n in zip(spatial, lo, sizes):
        index[ax] = slice(l, l + n)
    return a[tuple(index)]


# ----------------------------------------------------------------------------------------------
# Average: window sums, PyTorch's divisors, and spreading a gradient back over windows
# ----------------------------------------------------------------------------------------------
def sum_windows(xp, spatial, kernel, stride, out, dilation=None):
    """Sum of every window of the (already padded) ``xp``, separably, the axis with the largest
    memory stride first (the first, largest pass then reads contiguous rows)."""
    dilation = dilation or (1,) * len(kernel)
    a = xp
    for ax, k, s, d, o in sorted(zip(spatial, kernel, stride, dilation, out), key=lambda t: -abs(xp.strides[t[0]])):
        cur = offset_view(a, ax, 0, s, o)
        for j in range(1, k):
            v = offset_view(a, ax, j * d, s, o)
            cur = cur + v if j == 1 else np.add(cur, v, out=cur)
        a = cur
    return np.array(a, copy=True) if a is xp or not a.flags.owndata else a


def spread_windows(g, in_shape, order, spatial, kernel, stride, padding, out, dilation=None):
    """Adjoint of :func:`sum_windows` followed by cropping the padding: every input element
    receives the sum of ``g`` over the windows that contain it (``in_shape``, memory ``order``)."""
    dilation = dilation or (1,) * len(kernel)
    sizes = [in_shape[ax] for ax in spatial]
    padded = padded_sizes(sizes, out, kernel, stride, dilation, padding)
    shape = list(in_shape)
    for ax, n in zip(spatial, padded):
        shape[ax] = n
    tiles = _tiles_exactly(kernel, stride, dilation, out, padded)
    gpad = empty_in_order(shape, order, g.dtype, None if tiles else 0)
    overlap = not _no_overlap(kernel, stride, dilation)
    for offsets in kernel_offsets(kernel, dilation):
        dest = window_view(gpad, offsets, spatial, stride, out)
        if overlap:
            dest += g
        else:
            np.copyto(dest, g)
    return crop_axes(gpad, spatial, padding, sizes)


def avg_divisor(sizes, kernel, stride, padding, out, count_include_pad, divisor_override, ndim, spatial, dtype):
    """PyTorch's divisor for every output element (a Python number when all are equal).

    Per axis: ``start = i*s - p``, ``end = min(start + k, L + p)``; with ``count_include_pad`` the
    divisor is ``prod(end - start)``, else ``prod(min(end, L) - max(start, 0))``. Both are
    products over axes, so the divisor array is an outer product of per-axis counts.
    """
    if divisor_override:
        return int(divisor_override)
    counts = []
    for n, k, s, p, o in zip(sizes, kernel, stride, padding, out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        counts.append(end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0))
    if all(np.all(c == c[0]) for c in counts):
        return int(np.prod([int(c[0]) for c in counts]))
    div = np.ones([1] * ndim, dtype=dtype)
    for ax, c in zip(spatial, counts):
        shape = [1] * ndim
        shape[ax] = c.size
        div = div * c.astype(dtype).reshape(shape)
    return div
