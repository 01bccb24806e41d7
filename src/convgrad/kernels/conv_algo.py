"""Convolution drivers on channels-last arrays: forward, input gradient, weight gradient.

Three primitives cover every convolution and transposed convolution:

* :func:`conv_forward`      ``y = x (*) w``          im2col + one GEMM (per group)
* :func:`conv_weight_grad`  ``dw = cols(x)^T dy``     one GEMM on the forward's column buffer
* :func:`conv_input_grad`   ``dx = dy (*)^T w``       also the forward of a transposed convolution

The column buffer is the big allocation: ``N * prod(out) * prod(kernel) * C`` elements. Before
allocating it the drivers estimate its size and, when it would exceed the workspace limit
(:func:`set_workspace_limit`, 1 GiB by default), process the batch in chunks instead of failing.
Column buffers are recycled through a pool (:data:`WORKSPACE`) so that repeated calls do not
page-fault fresh memory in.

Algorithm choice (the input gradient, where two algorithms compete):

* ``'col2im'``: one GEMM per kernel offset, ``dcols[k] = dy @ W[k]^T``, and K contiguous slice
  adds (col2im). Cheap in memory traffic for narrow layers.
* ``'flip'``: ``dx`` is a full correlation of ``dy`` with the flipped, transposed kernel:
  im2col + one large GEMM. Faster for layers with 16 input channels and more. A strided
  (undilated) layer does it once per phase of the stride, on the taps of that phase, writing
  each result into its strided positions of ``dx`` (:func:`_input_grad_phases`, the sub-pixel
  form of a transposed convolution): the DCGAN layers' 4x4 stride-2 input gradients, and the
  forwards of their transposed convolutions, 1.1-2.1x faster than col2im at 2 threads.
* ``'auto'`` (default): 'flip' for layers with at least 16 input channels per group (dilated
  strided layers excepted), else 'col2im' (:func:`auto_input_grad_algorithm`, a rule from measurements; an earlier one-off
  timing per shape was too noisy on a shared machine and differed between processes).
  :func:`set_conv_algorithm` forces one.
"""
import math

import numpy as np

from ..errors import ArgumentError, ResourceLimitError
from .blas import matmul
from . import conv_rowshift as rowshift
from .parallel import run_pieces, scratch, workers
from .im2col import (Workspace, col2im, group_gemm, im2col, offset_weights, pad_channels_last,
                     weight_from_matrix, weight_matrix, window_view)

# fft_min_kernel: stride-1, undilated, ungrouped convolutions whose every kernel side is at least
# this large run through the FFT (convolution theorem). Measured here (float32, batch 4, 'same'):
# im2col wins at 3x3 and 5x5, 7x7 is even, the FFT is 1.2-2.1x faster at 9x9 and 1.8-3.2x at 11x11.
_config = {"workspace_limit": 1 << 30, "algorithm": "auto", "fft_min_kernel": 9}
# "auto", the channels-last input-gradient algorithms, then the backends of conv_backends.py
ALGORITHMS = ("auto", "col2im", "flip", "reference", "channels_last", "batch_last", "fft")
_choice_cache = {}  # layer shape -> 'col2im' or 'flip', as 'auto' chose (for inspection)


def set_workspace_limit(nbytes):
    """Largest column buffer (bytes) a convolution may allocate at once; larger batches are split.
    Returns the previous limit."""
    nbytes = int(nbytes)
    if nbytes <= 0:
        raise ArgumentError(f"set_workspace_limit: expected a positive number of bytes, got {nbytes}")
    previous = _config["workspace_limit"]
    _config["workspace_limit"] = nbytes
    WORKSPACE.clear()
    return previous


def get_workspace_limit():
    return _config["workspace_limit"]


# column buffers are reused across calls (the pool holds at most the workspace limit)
WORKSPACE = Workspace(get_workspace_limit)


def set_conv_algorithm(name):
    """Force how convolutions are computed; returns the previous setting.

    Args:
        name: ``'auto'`` (the rules of ``conv_backends.select_backend``), a backend
            (``'reference'``, ``'channels_last'``, ``'batch_last'``, ``'fft'``) for every
            convolution it can run, or the channels-last input-gradient algorithm, ``'col2im'``
            or ``'flip'`` (stride 1 only; strided layers use col2im), with the automatic backend
            choice otherwise.

    Raises:
        ArgumentError: an unknown name.

    Example:
        >>> previous = convgrad.set_conv_algorithm("reference")
        >>> _ = convgrad.set_conv_algorithm(previous)
    """
    if name not in ALGORITHMS:
        raise ArgumentError(f"set_conv_algorithm: expected one of {ALGORITHMS}, got {name!r}")
    previous = _config["algorithm"]
    _config["algorithm"] = name
    return previous


def get_conv_algorithm():
    return _config["algorithm"]


def set_fft_min_kernel(size):
    """Smallest kernel side for which a stride-1 convolution uses the FFT (None: never). Returns
    the previous value."""
    if size is not None and int(size) < 1:
        raise ArgumentError(f"set_fft_min_kernel: expected a positive kernel size or None, got {size}")
    previous = _config["fft_min_kernel"]
    _config["fft_min_kernel"] = None if size is None else int(size)
    return previous


def use_fft(kernel, stride, dilation, groups):
    """True when the FFT pays for this convolution (large kernel, stride 1, no dilation, one group)."""
    k = _config["fft_min_kernel"]
    return (k is not None and groups == 1 and min(kernel) >= k
            and all(s == 1 for s in stride) and all(d == 1 for d in dilation))


def conv_algorithm_choices():
    """What 'auto' picked so far: {(gradient shape, weight shape, input shape, ...): algorithm}."""
    return dict(_choice_cache)


def conv_out_size(size, k, stride, pad_total, dilation):
    # H_out = floor((H + 2p - d(k-1) - 1) / s) + 1
    return (size + pad_total - dilation * (k - 1) - 1) // stride + 1


def column_bytes(n, out_spatial, kernel, channels, itemsize):
    """Size of the column buffer of ``n`` samples."""
    return n * math.prod(out_spatial) * math.prod(kernel) * channels * itemsize


def batch_chunk(n, out_spatial, kernel, channels, itemsize):
    """How many samples fit in the workspace limit; a single sample that does not fit is refused
    with its size (ResourceLimitError) rather than allocated."""
    per_sample = max(1, column_bytes(1, out_spatial, kernel, channels, itemsize))
    limit = _config["workspace_limit"]
    if per_sample > limit:
        raise ResourceLimitError(f"convolution: one sample needs a column buffer of {_mib(per_sample)} "
                                 f"(output {tuple(out_spatial)}, kernel {tuple(kernel)}, {channels} channels), "
                                 f"above the workspace limit of {_mib(limit)}; raise it with "
                                 f"convgrad.set_workspace_limit(nbytes)")
    return max(1, min(n, limit // per_sample))


def _mib(nbytes):
    return f"{nbytes / 2 ** 20:,.1f} MiB"


def _gemm_into(out_l, cols, wmat, groups):
    """out_l (n, *O, OC) <- cols (G, M, K*Cg) @ wmat (G, K*Cg, OCg)."""
    m = cols.shape[1]
    oc = out_l.shape[-1]
    if groups == 1:
        matmul(cols[0], wmat[0], out=out_l.reshape(m, oc))
    else:
        res = matmul(cols, wmat)  # (G, M, OCg)
        out_l.reshape(m, groups, oc // groups)[...] = res.transpose(1, 0, 2)


def _grad_matrix(gl, groups):
    """dy (n, *O, OC) as the GEMM operand (G, M, OCg)."""
    oc = gl.shape[-1]
    m = gl.size // oc
    if groups == 1:
        return gl.reshape(1, m, oc)
    return gl.reshape(m, groups, oc // groups).transpose(1, 0, 2)


def conv_forward(xl, weight, stride, pad_lo, pad_hi, dilation, groups, keep_cols=False, bias=None,
                 epilogue=None, wmat=None):
    """Convolution of a channels-last input ``(N, *S, C)``; returns ``(out_l, saved)``.

    ``out_l`` is ``(N, *O, OC)`` contiguous. ``saved`` is what :func:`conv_weight_grad` needs
    (when ``keep_cols``): the column buffer if it was built in one piece, else the padded input.
    ``epilogue(block)``, if given, is applied in place to each ``(rows, OC)`` block of the output
    right after its GEMM wrote it, while it is still in the cache (after the bias); for example a
    folded batch norm and ReLU (``kernels/batch_norm.py``'s ``scale_shift_epilogue``).
    ``wmat``, if given, is ``weight``'s GEMM operand ``(G, K*Cg, OCg)`` already built (C- or
    Fortran-ordered matrices; see :func:`flipped_weight_matrix`).
    """
    kernel = weight.shape[2:]
    oc = weight.shape[0]
    pooled = any(pad_lo) or any(pad_hi)  # the padded copy is ours: it can go back to the pool
    xpad = pad_channels_last(xl, pad_lo, pad_hi, WORKSPACE if pooled else None)
    out_spatial = tuple(conv_out_size(s, k, st, 0, d)
                        for s, k, st, d in zip(xpad.shape[1:-1], kernel, stride, dilation))
    n, c = xpad.shape[0], xpad.shape[-1]
    out_l = np.empty((n,) + out_spatial + (oc,), dtype=xpad.dtype)
    wmat = weight_matrix(weight, groups) if wmat is None else wmat
    chunk = batch_chunk(n, out_spatial, kernel, c, xpad.itemsize)
    saved = ("xpad", xpad, None) if keep_cols else None
    finish = _finisher(bias, epilogue)
    split = _split_worthwhile(xpad, out_spatial, kernel, groups, oc)
    single = not split and n == 1 and not keep_cols and rowshift.eligible(kernel, stride, groups, out_spatial, c, oc)
    if split:  # large: in pieces on both cores; the weight gradient rebuilds its columns from xpad
        _forward_pieces(xpad, out_l, out_spatial, kernel, stride, dilation, _blas_matrix(wmat[0]), finish)
    elif single:  # one sample: kernel rows as separate GEMMs on a third of the columns
        out2d = out_l.reshape(-1, oc)
        rowshift.forward_rows(xpad[0], np.ascontiguousarray(wmat[0]), out2d, slice(0, out_spatial[0]),
                              out_spatial, kernel, stride, dilation)
        if finish is not None:
            finish(out2d)
    for start in () if split or single else range(0, n, chunk):
        cols, buf = im2col(xpad[start:start + chunk], out_spatial, kernel, stride, dilation, groups, WORKSPACE)
        _gemm_into(out_l[start:start + chunk], cols, wmat, groups)
        if finish is not None:
            finish(out_l[start:start + chunk].reshape(-1, oc))
        if keep_cols and chunk >= n:
            saved = ("cols", cols, buf)
        else:
            WORKSPACE.give(buf)
    if pooled and (saved is None or saved[0] != "xpad"):
        WORKSPACE.give(xpad)
    return out_l, saved


def _finisher(bias, epilogue):
    """What to do to each output block after its GEMM: add the bias, then the epilogue."""
    if bias is None:
        return epilogue

    def finish(block):
        block += bias
        if epilogue is not None:
            epilogue(block)
    return finish


# A convolution whose column matrix is at least this large runs in pieces of about PIECE_BYTES
# of columns, on both cores (kernels/parallel.py), without building the full matrix.
SPLIT_MIN_BYTES = 4 << 20
PIECE_BYTES = 4 << 20


SPLIT_MAX_OUT_CHANNELS = 256
SPLIT_MIN_POSITIONS = 128  # output positions per sample
SPLIT_SINGLE_MAX_COLUMNS = 256  # a single sample is split only when K*C is below this


def _split_worthwhile(xpad, out_spatial, kernel, groups, out_channels):
    """Pieces pay where the im2col copy is a large share of the work: not too many output
    channels per copied column, on feature maps that are not tiny, more than one sample.
    Measured, 3x3 layers forward + backward (batch, channels, size): (128, 16, 28) 43 -> 25 ms,
    (128, 32, 14) 24 -> 16, (32, 64, 56) 205 -> 143, (8, 64, 56) 62 -> 36; forward only:
    ResNet-18's 7x7 conv1 at batch 8 20.2 -> 17.3, (8, 64, 56) 17.2 -> 13.3, (32, 64, 56)
    68 -> 43, (8, 128, 28) 12.1 -> 10.6, (8, 256, 14) even. Slower: (8, 512, 7) 16.8 -> 20.3,
    (128, 64, 7) 12 -> 17 (tiny maps). A single sample gains nothing over one two-thread GEMM,
    except where the columns are narrow (K*C below SPLIT_SINGLE_MAX_COLUMNS) and copying them
    costs more than multiplying: ResNet-18's 7x7x3 conv1 at batch 1, with its batch norm and
    ReLU, 3.1 -> 2.5 ms (alone; within the whole network the gain is lost in the noise).
    """
    single_ok = math.prod(kernel) * xpad.shape[-1] < SPLIT_SINGLE_MAX_COLUMNS
    return (groups == 1 and (xpad.shape[0] > 1 or single_ok) and xpad.shape[-1] > 1 and math.prod(kernel) > 1
            and out_channels <= SPLIT_MAX_OUT_CHANNELS and math.prod(out_spatial) >= SPLIT_MIN_POSITIONS
            and column_bytes(xpad.shape[0], out_spatial, kernel, xpad.shape[-1], xpad.itemsize) >= SPLIT_MIN_BYTES)


def _pieces(n, out_spatial, row_bytes):
    """``(samples, rows)`` slice pairs over the batch and the first output axis, each about
    PIECE_BYTES of columns or the workspace limit if lower (several whole samples, or rows of
    one; a single row may exceed it), and at least two per worker (where there are enough rows)
    so that both cores stay busy."""
    rows = out_spatial[0]
    budget = min(PIECE_BYTES, _config["workspace_limit"])  # a piece never exceeds the workspace limit
    sample_bytes = row_bytes * rows
    if sample_bytes * 2 <= budget:  # several whole samples per piece
        per = max(1, min(budget // sample_bytes, -(-n // (2 * workers()))))
        return [(slice(i, min(i + per, n)), slice(0, rows)) for i in range(0, n, per)]
    per = max(1, min(rows, budget // max(1, row_bytes), -(-rows * n // (2 * workers()))))
    return [(slice(i, i + 1), slice(r, min(r + per, rows))) for i in range(n) for r in range(0, rows, per)]


def _piece_columns(win, piece, kc):
    """The column block ``(samples * rows * rest, K*C)`` of one piece, in the thread's scratch."""
    part = win[piece]
    buf = scratch(part.shape, win.dtype)
    np.copyto(buf, part)
    return buf.reshape(-1, kc)


def _piece_plan(xpad, out_spatial, kernel, stride, dilation):
    """``(window view, K*C, pieces)`` shared by the forward and the weight gradient."""
    win = window_view(xpad, out_spatial, kernel, stride, dilation)
    row_bytes = column_bytes(1, out_spatial[1:], kernel, xpad.shape[-1], xpad.itemsize)
    return win, math.prod(kernel) * xpad.shape[-1], _pieces(xpad.shape[0], out_spatial, row_bytes)


def _forward_pieces(xpad, out_l, out_spatial, kernel, stride, dilation, wmat, finish=None):
    """``out_l`` (N, *O, OC) <- im2col + GEMM (+ ``finish`` on each block), piece by piece on
    both cores; by kernel rows (:mod:`.conv_rowshift`) where that applies."""
    win, kc, pieces = _piece_plan(xpad, out_spatial, kernel, stride, dilation)
    oc = out_l.shape[-1]
    by_rows = rowshift.eligible(kernel, stride, 1, out_spatial, xpad.shape[-1], oc)
    if by_rows:  # the kernel rows' cblas calls read row-major slices of it
        wmat = np.ascontiguousarray(wmat)

    def piece(p):
        samples, rows = p
        block = out_l[p].reshape(-1, oc)
        if by_rows:
            for i in range(samples.start, samples.stop):
                rowshift.forward_rows(xpad[i], wmat, out_l[i, rows].reshape(-1, oc), rows, out_spatial, kernel,
                                      stride, dilation)
        else:
            np.matmul(_piece_columns(win, p, kc), wmat, out=block)
        if finish is not None:
            finish(block)
    run_pieces(piece, pieces)


def _weight_grad_pieces(xpad, gl, out_spatial, kernel, stride, dilation):
    """``dW (K*C, OC) = cols^T dy``, summed over pieces computed on both cores (by kernel rows
    where :mod:`.conv_rowshift` applies)."""
    win, kc, pieces = _piece_plan(xpad, out_spatial, kernel, stride, dilation)
    oc = gl.shape[-1]
    by_rows = rowshift.eligible(kernel, stride, 1, out_spatial, xpad.shape[-1], oc)

    def piece(p):
        samples, rows = p
        if not by_rows:
            return np.matmul(_piece_columns(win, p, kc).T, gl[p].reshape(-1, oc))
        gw = np.empty((kc, oc), dtype=gl.dtype)
        for i in range(samples.start, samples.stop):
            rowshift.weight_grad_rows(xpad[i], gl[i, rows].reshape(-1, oc), gw, rows, out_spatial, kernel, stride,
                                      dilation, accumulate=i > samples.start)
        return gw
    parts = run_pieces(piece, pieces)
    total = parts[0]
    for part in parts[1:]:
        total += part
    return total


def conv_weight_grad(saved, gl, weight_shape, stride, dilation, groups):
    """``dw[oc, c, k] = sum over (n, o) of cols[(n, o), (k, c)] * dy[(n, o), oc]``.

    Uses the forward's column buffer when it was kept (it is not released here: a second
    backward pass with ``retain_graph=True`` needs it again).
    """
    kind, array, _ = saved
    kernel = tuple(weight_shape[2:])
    out_spatial = gl.shape[1:-1]
    if kind == "cols":
        gw = group_gemm(array, _grad_matrix(gl, groups), transpose_a=True)
        return weight_from_matrix(gw, weight_shape, groups)
    xpad = array
    if _split_worthwhile(xpad, out_spatial, kernel, groups, weight_shape[0]):
        gw = _weight_grad_pieces(xpad, gl, out_spatial, kernel, stride, dilation)
        return weight_from_matrix(gw[None], weight_shape, groups)
    n, c = xpad.shape[0], xpad.shape[-1]
    chunk = batch_chunk(n, out_spatial, kernel, c, xpad.itemsize)
    gw = None
    for start in range(0, n, chunk):
        cols, buf = im2col(xpad[start:start + chunk], out_spatial, kernel, stride, dilation, groups, WORKSPACE)
        part = group_gemm(cols, _grad_matrix(gl[start:start + chunk], groups), transpose_a=True)
        WORKSPACE.give(buf)
        gw = part if gw is None else gw + part
    return weight_from_matrix(gw, weight_shape, groups)


def _blas_matrix(m):
    """``m`` itself when BLAS reads it in place (C- or Fortran-ordered), else a C-ordered copy."""
    return m if m.flags.c_contiguous or m.flags.f_contiguous else np.ascontiguousarray(m)


def flipped_weight_matrix(weight, groups):
    """The GEMM operand ``(G, K*OCg, Cg)`` of :func:`flipped_transposed_weight` (rows (flipped
    k..., oc)), or None for grouped weights (then :func:`weight_matrix` builds it).

    Built as the transpose of a C-ordered ``(Cg, K*OCg)`` buffer: from a weight in the GEMM
    layout (``(*K, Cg, OC)`` memory, how ``nn.Conv*d`` keeps it) that copies runs of OC
    contiguous numbers, where the C-ordered matrix transposes every ``(Cg, OC)`` block (DCGAN's
    512x256x4x4 weight: 4.86 -> 0.59 ms, 1.18 -> 0.07 ms per stride phase); BLAS reads the transpose in place."""
    if groups != 1:
        return None
    nk = weight.ndim - 2
    kernel_last = weight.transpose(tuple(range(2, weight.ndim)) + (1, 0))  # (*K, C, OC)
    flipped = kernel_last[(slice(None, None, -1),) * nk]  # taps reversed
    buf = np.ascontiguousarray(np.moveaxis(flipped, -2, 0))  # (C, *K, OC)
    return buf.reshape(buf.shape[0], -1).T[None]


def flipped_transposed_weight(weight, groups):
    """``w'[c, oc, k] = w[oc, c, K-1-k]`` per group: the weight of the convolution that maps
    ``dy`` to ``dx`` for a stride-1 convolution."""
    oc, cg = weight.shape[:2]
    kernel = weight.shape[2:]
    w = weight.reshape((groups, oc // groups, cg) + kernel).swapaxes(1, 2)
    w = w[(Ellipsis,) + (slice(None, None, -1),) * len(kernel)]
    return w.reshape((groups * cg, oc // groups) + kernel)


def conv_input_grad(gl, weight, in_shape, stride, pad_lo, pad_hi, dilation, groups):
    """Gradient w.r.t. the channels-last input of shape ``in_shape`` (N, *S, C), unpadded.

    ``dx[j] = sum over k, o with j + p = o s + k d of dy[o] W[k]``; by 'col2im' or 'flip' (see
    the module docstring). This is also the forward pass of a transposed convolution.
    """
    kernel = weight.shape[2:]
    spatial = tuple(in_shape[1:-1])
    reach = [d * (k - 1) for k, d in zip(kernel, dilation)]
    low = tuple(r - p for r, p in zip(reach, pad_lo))
    high = tuple(s + r - o - lo for s, r, o, lo in zip(spatial, reach, gl.shape[1:-1], low))
    strided = any(st > 1 for st in stride)
    flip_ok = (all(d == 1 for d in dilation) if strided else min(low + high) >= 0)
    algorithm = _config["algorithm"] if flip_ok else "col2im"
    if algorithm not in ("col2im", "flip"):  # 'auto', or a forced backend: the rule
        algorithm = auto_input_grad_algorithm(in_shape[-1], groups)
        _choice_cache[(gl.shape, weight.shape, tuple(in_shape), tuple(pad_lo), tuple(pad_hi), tuple(dilation),
                       groups, gl.dtype.str)] = algorithm
    if algorithm == "flip":
        if strided:
            return _input_grad_phases(gl, weight, in_shape, stride, pad_lo, groups)
        return _input_grad_flip(gl, weight, low, high, dilation, groups)
    return _input_grad_col2im(gl, weight, in_shape, stride, pad_lo, pad_hi, dilation, groups)


FLIP_MIN_CHANNELS = 16


def auto_input_grad_algorithm(in_channels, groups):
    """'flip' when the layer has at least 16 input channels per group, else 'col2im'.

    The flipped-kernel conv's GEMM produces ``in_channels / groups`` columns, too narrow below 16.
    Measured on a quiet machine (backward time flip / col2im, median of 4): LeNet's 1->6 and 6->16
    5x5 layers 2.2 and 1.8-2.6 (col2im wins); 3x3 layers with 16, 32, 64, 128, 256, 512 channels
    0.61, 0.57, 0.47-0.79, 0.84, 0.84, 0.72 (flip wins). A fixed rule, unlike a timing, gives the
    same choice, and so the same rounding, in every process.
    """
    return "flip" if in_channels // groups >= FLIP_MIN_CHANNELS else "col2im"


def _input_grad_flip(gl, weight, low, high, dilation, groups):
    """Stride 1: ``dx`` = correlation of ``dy`` (padded by d(k-1) - p) with the flipped kernel."""
    stride = (1,) * len(low)
    gx, _ = conv_forward(gl, flipped_transposed_weight(weight, groups), stride, low, high, dilation, groups,
                         wmat=flipped_weight_matrix(weight, groups))
    return gx


def _input_grad_phases(gl, weight, in_shape, stride, pad_lo, groups):
    """Strided, undilated: ``dx`` as one stride-1 correlation per phase of the stride (the
    "sub-pixel" form of a transposed convolution), each written straight into its strided
    positions of ``dx``; no column matrix of the whole input and no col2im pass.

    Along one axis (stride s, kernel k, padding lo), the input positions ``j = q s + r - lo`` of
    phase ``r`` receive only the taps ``t = r + s u`` (``u < U = ceil((k - r) / s)``), from
    ``dy[q - u]``: a stride-1 correlation of ``dy`` with the flipped, transposed sub-kernel
    ``W[..., r::s]``, i.e. :func:`_input_grad_flip` on ``U`` taps. Each phase is a
    :func:`conv_forward` (pieces on both cores); the s^d phases together do the FLOPs of one
    col2im GEMM. A phase that no tap reaches (k < s) is zero.
    """
    kernel = weight.shape[2:]
    spatial = tuple(in_shape[1:-1])
    out_spatial = gl.shape[1:-1]
    d = len(spatial)
    phases = list(np.ndindex(*stride))
    gx = np.empty(tuple(in_shape), dtype=gl.dtype)
    for phase in phases:
        target, crop, pad_a, pad_b, taps = [], [], [], [], []
        for r, s_, k, lo, size, o in zip(phase, stride, kernel, pad_lo, spatial, out_spatial):
            q_min = -(-(lo - r) // s_)  # first q with q s + r - lo >= 0
            q_max = (lo + size - 1 - r) // s_  # last with q s + r - lo < size
            u = -(-(k - r) // s_)  # taps of this phase
            target.append(slice(q_min * s_ + r - lo, None, s_))
            a, b = q_min - (u - 1), q_max  # the dy indices this phase reads
            crop.append(slice(max(a, 0), max(min(b, o - 1) + 1, max(a, 0))))
            pad_a.append(max(0, -a))
            pad_b.append(max(0, b - (o - 1)))
            taps.append((r, u, q_max - q_min + 1))
        view = gx[(slice(None),) + tuple(target) + (slice(None),)]
        if any(u <= 0 for _, u, _ in taps) or any(n <= 0 for _, _, n in taps):
            view[...] = 0
            continue
        sub = weight[(slice(None), slice(None)) + tuple(slice(r, None, s_) for (r, _, _), s_ in zip(taps, stride))]
        part = gl[(slice(None),) + tuple(crop) + (slice(None),)]
        res, _ = conv_forward(part, flipped_transposed_weight(sub, groups), (1,) * d, tuple(pad_a), tuple(pad_b),
                              (1,) * d, groups, wmat=flipped_weight_matrix(sub, groups))
        view[...] = res
    return gx


def _input_grad_col2im(gl, weight, in_shape, stride, pad_lo, pad_hi, dilation, groups):
    """``dcols = W dy^T`` then col2im (K slice adds)."""
    kernel = weight.shape[2:]
    columns = column_bytes(in_shape[0], gl.shape[1:-1], kernel, in_shape[-1], gl.itemsize)
    if groups == 1 and columns <= _config["workspace_limit"]:
        return _input_grad_col2im_channels_first(gl, weight, in_shape, stride, pad_lo, pad_hi, dilation)
    return _input_grad_col2im_per_offset(gl, weight, in_shape, stride, pad_lo, pad_hi, dilation, groups)


def _input_grad_col2im_channels_first(gl, weight, in_shape, stride, pad_lo, pad_hi, dilation):
    """One GEMM, ``dcols^T (K*C, M) = Wmat (K*C, OC) @ dy^T``, and col2im into a channels-first
    buffer, so that each of the K slice adds reads and writes rows of contiguous pixels even
    when C is small (a channels-last col2im would run inner loops of only C elements). The
    result is returned as a channels-last view of that buffer."""
    kernel = tuple(weight.shape[2:])
    c, oc = weight.shape[1], weight.shape[0]
    n = in_shape[0]
    out_spatial = tuple(gl.shape[1:-1])
    spatial = tuple(in_shape[1:-1])
    dcols = matmul(weight_matrix(weight, 1)[0], gl.reshape(-1, oc).T)  # (K*C, M), rows (k, c)
    dcols = dcols.reshape((math.prod(kernel), c, n) + out_spatial)
    padded = (c, n) + tuple(s + lo + hi for s, lo, hi in zip(spatial, pad_lo, pad_hi))
    gx = np.zeros(padded, dtype=gl.dtype)
    for index, offset in enumerate(np.ndindex(*kernel)):
        window = tuple(slice(o * dil, o * dil + (size - 1) * st + 1, st)
                       for o, dil, size, st in zip(offset, dilation, out_spatial, stride))
        target = gx[(slice(None), slice(None)) + window]
        np.add(target, dcols[index], out=target)
    gx = gx[(slice(None), slice(None)) + tuple(slice(lo, lo + s) for lo, s in zip(pad_lo, spatial))]
    return gx.transpose(tuple(range(1, gx.ndim)) + (0,))  # (N, *S, C) view


def _input_grad_col2im_per_offset(gl, weight, in_shape, stride, pad_lo, pad_hi, dilation, groups):
    """One GEMM per kernel offset, ``dcols[k] = dy @ W[k]^T``, then col2im (K slice adds)."""
    kernel = weight.shape[2:]
    out_spatial = gl.shape[1:-1]
    spatial = tuple(in_shape[1:-1])
    padded_shape = (in_shape[0],) + tuple(s + lo + hi for s, lo, hi in zip(spatial, pad_lo, pad_hi)) \
        + (in_shape[-1],)
    n, c = padded_shape[0], padded_shape[-1]
    w_offsets = offset_weights(weight, groups)  # (G, K, OCg, Cg)
    chunk = batch_chunk(n, out_spatial, kernel, c, gl.itemsize)
    gx = np.empty(padded_shape, dtype=gl.dtype) if chunk < n else None
    for start in range(0, n, chunk):
        part = gl[start:start + chunk]
        gmat = _grad_matrix(part, groups)
        dcols = WORKSPACE.take((groups, w_offsets.shape[1], gmat.shape[1], c // groups), gl.dtype)
        matmul(gmat[:, None], w_offsets, out=dcols)  # (G, K, M, Cg)
        piece = col2im(dcols, (part.shape[0],) + padded_shape[1:], out_spatial, kernel, stride, dilation)
        WORKSPACE.give(dcols)
        if gx is None:
            gx = piece
        else:
            gx[start:start + chunk] = piece
    window = tuple(slice(lo, lo + s) for lo, s in zip(pad_lo, spatial))
    return gx[(slice(None),) + window]
