"""Convolution: ``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d`` (``torch.nn.functional`` semantics).

The computation runs on channels-last memory (see ``convgrad.kernels.im2col``): the input is
viewed as ``(N, *S, C)`` (free when it already is channels-last, one copy otherwise), the
convolution is im2col + one GEMM, and the result is returned as an ``(N, C, *S)``-shaped view
of ``(N, *S, C)`` memory, like PyTorch's ``channels_last`` format. The next convolution reads it
without a copy.

Shapes (per spatial axis, with kernel k, stride s, padding p, dilation d)::

    conv:            out = floor((in + 2p - d(k-1) - 1) / s) + 1
    conv_transpose:  out = (in - 1) s - 2p + d(k-1) + output_padding + 1
"""
import weakref

import numpy as np

from ..kernels import conv_algo
from ..kernels import conv_batch_last as batch_last
from ..kernels.conv_algo import WORKSPACE, conv_forward, conv_input_grad, conv_out_size, conv_weight_grad
from ..kernels.im2col import pad_channels_last, to_channels_first, to_channels_last
from ..kernels.windows import match_layout, memory_order
from ..tensor import Function, Tensor, no_grad
from ._util import ArgumentError, ShapeError, empty_result, ntuple, shape_str

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


class ConvNd(Function):
    """N-d convolution (cross-correlation, as in every deep learning framework)."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1,), pad_lo=(0,), pad_hi=(0,), dilation=(1,), groups=1):
        need_x, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.options = (stride, pad_lo, pad_hi, dilation, groups)
        ctx.weight_shape = weight.shape
        ctx.batch_last = batch_last.eligible(x, weight.shape[0], groups)
        if ctx.batch_last:  # narrow layer: batch-last memory, see kernels/conv_batch_last.py
            xpad = batch_last.to_batch_last(x, pad_lo, pad_hi)
            wrows = batch_last.weight_rows(weight)
            out_spatial = ConvNd.output_shape(x.shape, weight.shape, *ctx.options)[2:]
            out = batch_last.conv_forward(xpad, wrows, out_spatial, weight.shape[2:], stride, dilation, bias)
            ctx.saved_x = xpad if need_w else None
            ctx.weight = wrows if need_x else None
            ctx.in_shape = (x.shape[1],) + tuple(x.shape[2:]) + (x.shape[0],)
            return batch_last.from_batch_last(out)
        xl = to_channels_last(x)
        out_l, saved = conv_forward(xl, weight, stride, pad_lo, pad_hi, dilation, groups,
                                    keep_cols=need_w, bias=bias)
        ctx.weight = weight if need_x else None
        ctx.saved_x = saved
        if saved is not None and saved[2] is not None:
            # once the graph lets go of this context, its column buffer goes back to the pool
            weakref.finalize(ctx, WORKSPACE.give, saved[2])
        ctx.in_shape = xl.shape
        ctx.x_order = memory_order(x) if need_x else None
        return to_channels_first(out_l)

    @staticmethod
    def backward(ctx, grad):
        stride, pad_lo, pad_hi, dilation, groups = ctx.options
        need_x, need_w, need_b = ctx.needs_input_grad
        if ctx.batch_last:
            return ConvNd._backward_batch_last(ctx, grad)
        gl = np.ascontiguousarray(to_channels_last(grad))
        gx = gw = gb = None
        if need_w:  # the saved columns stay in ctx: backward(retain_graph=True) may come back for them
            gw = conv_weight_grad(ctx.saved_x, gl, ctx.weight_shape, stride, dilation, groups)
        if need_x:
            gxl = conv_input_grad(gl, ctx.weight, ctx.in_shape, stride, pad_lo, pad_hi, dilation, groups)
            # in the input's layout: the backward of the op before multiplies it with arrays laid
            # out like its output, and a layout mismatch there costs several times the op
            gx = match_layout(to_channels_first(gxl), ctx.x_order)
        if need_b:
            gb = gl.reshape(-1, gl.shape[-1]).sum(axis=0)
        return gx, gw, gb

    @staticmethod
    def _backward_batch_last(ctx, grad):
        stride, pad_lo, pad_hi, dilation, groups = ctx.options
        need_x, need_w, need_b = ctx.needs_input_grad
        kernel = ctx.weight_shape[2:]
        g = batch_last.grad_batch_last(grad)  # (OC, *O, N)
        gx = gw = gb = None
        if need_w:
            gw = batch_last.conv_weight_grad(ctx.saved_x, g, g.shape[1:-1], kernel, stride, dilation)
            gw = gw.reshape(ctx.weight_shape)
        if need_x:
            gx = batch_last.conv_input_grad(g, ctx.weight, ctx.in_shape, kernel, stride, pad_lo, pad_hi, dilation)
            gx = batch_last.from_batch_last(gx)
        if need_b:
            gb = g.reshape(g.shape[0], -1).sum(axis=1)
        return gx, gw, gb

    @staticmethod
    def output_shape(x_shape, w_shape, stride=(1,), pad_lo=(0,), pad_hi=(0,), dilation=(1,), groups=1):
        spatial = tuple(conv_out_size(s, k, st, lo + hi, d) for s, k, st, lo, hi, d
                        in zip(x_shape[2:], w_shape[2:], stride, pad_lo, pad_hi, dilation))
        return (x_shape[0], w_shape[0]) + spatial


class ConvTransposeNd(Function):
    """N-d transposed convolution: the gradient of a convolution w.r.t. its input, as an op."""

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1,), padding=(0,), output_padding=(0,), dilation=(1,),
                groups=1):
        xl = np.ascontiguousarray(to_channels_last(x))
        out_shape = ConvTransposeNd.output_shape(x.shape, weight.shape, stride, padding, output_padding,
                                                 dilation, groups)
        out_l = conv_input_grad(xl, weight, (x.shape[0],) + out_shape[2:] + (out_shape[1],), stride, padding,
                                padding, dilation, groups)
        if bias is not None:
            out_l = out_l + bias
        ctx.save_for_backward(xl, weight)
        ctx.options = (stride, padding, dilation, groups)
        return to_channels_first(out_l)

    @staticmethod
    def backward(ctx, grad):
        xl, weight = ctx.saved
        stride, padding, dilation, groups = ctx.options
        need_x, need_w, need_b = ctx.needs_input_grad
        gl = to_channels_last(grad)
        gx = gw = gb = None
        in_spatial = xl.shape[1:-1]
        if need_x or need_w:
            gpad = pad_channels_last(gl, padding, padding)
            # output_padding leaves rows that no input position reaches: drop them
            gpad = gpad[(slice(None),) + tuple(slice(0, (i - 1) * s + d * (k - 1) + 1) for i, s, d, k
                                               in zip(in_spatial, stride, dilation, weight.shape[2:]))]
        if need_x:
            gxl, _ = conv_forward(gpad, weight, stride, (0,) * len(stride), (0,) * len(stride), dilation, groups)
            gx = to_channels_first(gxl)
        if need_w:
            # dW[ci, co, k] = sum over (n, i) of x[(n, i), ci] * cols(dy)[(n, i), (k, co)]
            saved = ("xpad", gpad, None)
            gw = conv_weight_grad(saved, xl, weight.shape, stride, dilation, groups)
        if need_b:
            gb = np.ascontiguousarray(gl).reshape(-1, gl.shape[-1]).sum(axis=0)
        return gx, gw, gb

    @staticmethod
    def output_shape(x_shape, w_shape, stride=(1,), padding=(0,), output_padding=(0,), dilation=(1,), groups=1):
        # out = (in - 1) s - 2p + d(k-1) + output_padding + 1
        spatial = tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, s, p, d, k, op
                        in zip(x_shape[2:], stride, padding, dilation, w_shape[2:], output_padding))
        return (x_shape[0], w_shape[1] * groups) + spatial


# ----------------------------------------------------------------------------------------------
# Validation shared by the public functions
# ----------------------------------------------------------------------------------------------
def _as_tensor(x, op, what):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x)
    raise TypeError(f"{op}: expected {what} to be a Tensor, got {type(x).__name__}")


def _positive(values, name, op, allow_zero=False):
    low = 0 if allow_zero else 1
    if any(v < low for v in values):
        bound = "non-negative" if allow_zero else "positive"
        raise ArgumentError(f"{op}: {name} must be {bound}, got {values}")
    return values


def _check_common(input, weight, bias, groups, d, op, transposed):
    input = _as_tensor(input, op, "input")
    weight = _as_tensor(weight, op, "weight")
    spatial = _SPATIAL[d]
    if weight.ndim != d + 2:
        what = "(C_in, C_out/groups, " if transposed else "(C_out, C_in/groups, "
        raise ShapeError(f"{op}: expected a {d + 2}-D weight {what}{spatial}), got shape {shape_str(weight.shape)}")
    if input.ndim not in (d + 1, d + 2):
        raise ShapeError(f"{op}: expected a {d + 1}-D (unbatched) or {d + 2}-D (batched) input "
                         f"(N, C, {spatial}), got shape {shape_str(input.shape)}")
    if input.dtype.kind != "f" or input.dtype != weight.dtype:
        raise TypeError(f"{op}: input and weight must have the same floating dtype, "
                        f"got {input.dtype} and {weight.dtype}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ArgumentError(f"{op}: groups must be a positive integer, got {groups}")
    if bias is not None:
        bias = _as_tensor(bias, op, "bias")
        n_out = weight.shape[1] * groups if transposed else weight.shape[0]
        if bias.shape != (n_out,):
            raise ShapeError(f"{op}: expected bias of shape ({n_out},), got {shape_str(bias.shape)}")
        if bias.dtype != weight.dtype:
            raise TypeError(f"{op}: bias dtype {bias.dtype} differs from weight dtype {weight.dtype}")
    return input, weight, bias


def _check_input_channels(input_shape, channels, op, d):
    if input_shape[-d - 1] != channels:
        batched = len(input_shape) == d + 2
        expected = f"(N, {channels}, {_SPATIAL[d]})" if batched else f"({channels}, {_SPATIAL[d]})"
        raise ShapeError(f"{op}: expected input of shape {expected} with {channels} channels, "
                         f"got {shape_str(input_shape)}")


def _same_padding(kernel, dilation):
    """PyTorch's 'same': total d(k-1), the extra element (when odd) on the high side."""
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    lo = tuple(t // 2 for t in total)
    return lo, tuple(t - low for t, low in zip(total, lo))


def _convnd(input, weight, bias, stride, padding, dilation, groups, d, epilogue=None):
    op = f"conv{d}d"
    input, weight, bias = _check_common(input, weight, bias, groups, d, op, transposed=False)
    original_shape = tuple(input.shape)
    unbatched = input.ndim == d + 1
    if unbatched:
        input = input.unsqueeze(0)
    stride = _positive(ntuple(stride, d, "stride", op), "stride", op)
    dilation = _positive(ntuple(dilation, d, "dilation", op), "dilation", op)
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pad_lo = pad_hi = (0,) * d
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ArgumentError(f"{op}: padding='same' is not supported for strided convolutions, "
                                    f"got stride={stride}")
            pad_lo, pad_hi = _same_padding(kernel, dilation)
        else:
            raise ArgumentError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    else:
        pad_lo = pad_hi = _positive(ntuple(padding, d, "padding", op), "padding", op, allow_zero=True)
    if weight.shape[0] % groups:
        raise ArgumentError(f"{op}: groups={groups} must divide out_channels={weight.shape[0]} "
                            f"(weight shape {shape_str(weight.shape)})")
    _check_input_channels(original_shape, weight.shape[1] * groups, op, d)
    padded = tuple(s + lo + hi for s, lo, hi in zip(input.shape[2:], pad_lo, pad_hi))
    dilated = tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation))
    if any(k > p for k, p in zip(dilated, padded)):
        raise ShapeError(f"{op}: kernel size (dilated) {dilated} is larger than the padded input {padded} "
                         f"(input {shape_str(original_shape)})")
    if conv_algo.use_fft(kernel, stride, dilation, int(groups)):
        from .convolve import FFTConvNd  # convolve.py builds on this module
        fn = FFTConvNd
    else:
        fn = ConvNd
    options = dict(stride=stride, pad_lo=pad_lo, pad_hi=pad_hi, dilation=dilation, groups=int(groups))
    if input.shape[0] == 0:  # an empty batch: an empty result, as in PyTorch
        out = empty_result(ConvNd.output_shape(input.shape, weight.shape, **options), input, weight, bias)
    elif epilogue is None:
        out = fn.apply(input, weight, bias, **options)
    else:
        out = _conv_inference(fn, input, weight, bias, epilogue, options)
    return out.squeeze(0) if unbatched else out


def _conv_inference(fn, input, weight, bias, epilogue, options):
    """The convolution without a graph, ``epilogue`` applied in place to its channels-last
    output (by the GEMM's blocks, in the cache, on the channels-last path)."""
    x = input._data
    if fn is ConvNd and not batch_last.eligible(x, weight.shape[0], options["groups"]):
        out_l, _ = conv_forward(to_channels_last(x), weight._data, options["stride"], options["pad_lo"],
                                options["pad_hi"], options["dilation"], options["groups"],
                                bias=None if bias is None else bias._data, epilogue=epilogue)
        return Tensor._wrap(to_channels_first(out_l))
    with no_grad():
        out = fn.apply(input, weight, bias, **options)
    epilogue(to_channels_last(out._data))  # our own fresh output: changed in place
    return out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over ``(N, C_in, L)`` with weight ``(C_out, C_in/groups, k)``.

    Args:
        padding: int, tuple, ``'valid'`` (none) or ``'same'`` (output length = input length;
            stride 1 only).

    Shape: ``L_out = floor((L + 2p - d(k-1) - 1) / s) + 1``.
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over ``(N, C_in, H, W)`` with weight ``(C_out, C_in/groups, kH, kW)``.

    Computed as im2col + one GEMM on channels-last memory; the result is an ``(N, C_out, H_out,
    W_out)`` view of channels-last memory.

    Args:
        input: ``(N, C_in, H, W)`` or unbatched ``(C_in, H, W)``.
        weight: ``(C_out, C_in/groups, kH, kW)``.
        bias: optional ``(C_out,)``.
        stride, dilation: int or pair, positive.
        padding: int or pair (zeros on both sides), ``'valid'`` (none) or ``'same'`` (output the
            size of the input; stride 1 only; an odd total goes to the bottom/right).
        groups: split input and output channels into ``groups`` independent convolutions
            (``groups == C_in`` is a depthwise convolution).

    Shape: ``H_out = floor((H + 2p - d(k-1) - 1) / s) + 1`` (same for W).

    Raises:
        ShapeError: wrong rank, channel count not ``C_in``, kernel larger than the padded input.
        ArgumentError: non-positive stride/dilation, negative padding, groups not dividing.
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution over ``(N, C_in, D, H, W)`` with weight ``(C_out, C_in/groups, kD, kH, kW)``.

    Shape: ``D_out = floor((D + 2p - d(k-1) - 1) / s) + 1`` (same for H, W).
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 3)


def _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, d):
    op = f"conv_transpose{d}d"
    input, weight, bias = _check_common(input, weight, bias, groups, d, op, transposed=True)
    original_shape = tuple(input.shape)
    unbatched = input.ndim == d + 1
    if unbatched:
        input = input.unsqueeze(0)
    stride = _positive(ntuple(stride, d, "stride", op), "stride", op)
    dilation = _positive(ntuple(dilation, d, "dilation", op), "dilation", op)
    if isinstance(padding, str):
        raise ArgumentError(f"{op}: padding must be an int or a tuple, got {padding!r}")
    padding = _positive(ntuple(padding, d, "padding", op), "padding", op, allow_zero=True)
    output_padding = _positive(ntuple(output_padding, d, "output_padding", op), "output_padding", op,
                               allow_zero=True)
    for op_, s, dl in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= dl:
            raise ArgumentError(f"{op}: output_padding must be smaller than either stride or dilation, "
                                f"got output_padding={output_padding}, stride={stride}, dilation={dilation}")
    if weight.shape[0] % groups:
        raise ArgumentError(f"{op}: groups={groups} must divide in_channels={weight.shape[0]} "
                            f"(weight shape {shape_str(weight.shape)})")
    _check_input_channels(original_shape, weight.shape[0], op, d)
    options = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation,
                   groups=int(groups))
    out_shape = ConvTransposeNd.output_shape(input.shape, weight.shape, **options)
    if any(s < 1 for s in out_shape[2:]):
        raise ShapeError(f"{op}: the output would have shape {shape_str(out_shape)} for input "
                         f"{shape_str(input.shape)}; reduce padding")
    if input.shape[0] == 0:  # an empty batch: an empty result, as in PyTorch
        out = empty_result(out_shape, input, weight, bias)
    else:
        out = ConvTransposeNd.apply(input, weight, bias, **options)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution over ``(N, C_in, L)``, weight ``(C_in, C_out/groups, k)``.

    Shape: ``L_out = (L - 1) s - 2p + d(k-1) + output_padding + 1``.
    """
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 1)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution (the gradient of conv2d w.r.t. its input, as a layer).

    Args:
        input: ``(N, C_in, H, W)``; weight ``(C_in, C_out/groups, kH, kW)``; bias ``(C_out,)``.
        output_padding: extra rows/columns on the bottom/right, smaller than stride or dilation.

    Shape: ``H_out = (H - 1) s - 2p + d(k-1) + output_padding + 1`` (same for W).
    """
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 2)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-D transposed convolution over ``(N, C_in, D, H, W)``, weight ``(C_in, C_out/groups, kD, kH, kW)``.

    Shape: ``D_out = (D - 1) s - 2p + d(k-1) + output_padding + 1`` (same for H, W).
    """
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 3)
