"""The convolution's backends and the one place that chooses between them.

Every convolution (``conv1d/2d/3d``) runs through one backend object, picked by
:func:`select_backend` from the layer's shape and options, in the manner of ATen's
``ConvBackend`` / ``select_conv_backend``. A backend has three operations on NumPy arrays::

    out, saved = backend.forward(x, weight, bias, need_x, need_w)   # out: (N, OC, *O)
    g = backend.grad_operand(grad)                                  # the gradient in its layout
    gw = backend.weight_grad(g, saved); gx = backend.input_grad(g, saved); gb = backend.bias_grad(g)

``saved`` is a flat tuple of what the backward needs (the op's context holds it beside the
backend; the autograd's in-place check looks one level into it).

The backends (:data:`BACKENDS`):

* ``'reference'``: plain im2col + one GEMM per group, weight gradient ``cols^T dy`` and input
  gradient ``dy W^T`` + col2im, no pieces, no pools. Never chosen automatically: it is what
  every other backend is tested against (tests/test_conv_backends.py).
* ``'channels_last'``: the engine of :mod:`.conv_algo` (pieces on both cores, row-shift
  kernel rows, the 'flip' or 'col2im' input gradient). The default.
* ``'batch_last'``: narrow layers on ``(C, *S, N)`` memory (:mod:`.conv_batch_last`).
* ``'fft'``: the convolution theorem (:mod:`.fft_conv`), for large kernels.

:func:`set_conv_algorithm` forces one of them (or the channels-last input-gradient algorithm,
'col2im' or 'flip'); a forced backend that cannot run a given convolution (batch-last with
groups) leaves that one to the automatic choice.
"""
import math

import numpy as np

from . import conv_algo
from . import conv_batch_last as batch_last
from .conv_algo import WORKSPACE
from .fft_conv import fft_conv_backward, fft_conv_forward
from .im2col import (col2im, im2col, pad_channels_last, to_channels_first, to_channels_last,
                     weight_from_matrix, weight_matrix)
from .parallel import run_pieces, workers
from .windows import match_layout, memory_order


class ConvBackend:
    """One way of computing a convolution with fixed options (stride, padding, dilation, groups).

    Args:
        stride, pad_lo, pad_hi, dilation: one int per spatial axis.
        groups: the number of channel groups.
    """

    name = "base"

    def __init__(self, stride, pad_lo, pad_hi, dilation, groups):
        self.stride, self.pad_lo, self.pad_hi = tuple(stride), tuple(pad_lo), tuple(pad_hi)
        self.dilation, self.groups = tuple(dilation), int(groups)

    @classmethod
    def supports(cls, x_shape, weight_shape, stride, dilation, groups):
        """True when this backend can compute the convolution at all."""
        return True

    def forward(self, x, weight, bias, need_x, need_w):
        """Returns ``(out (N, OC, *O), saved)``."""
        raise NotImplementedError

    def forward_inference(self, x, weight, bias, epilogue):
        """The output without anything saved, ``epilogue`` applied in place to it viewed
        channels-last (a fused batch norm / ReLU)."""
        out, _ = self.forward(x, weight, bias, False, False)
        epilogue(to_channels_last(out))
        return out

    def grad_operand(self, grad):
        """The incoming ``(N, OC, *O)`` gradient as the backend's backward wants it."""
        return grad

    def weight_grad(self, g, saved):
        raise NotImplementedError

    def input_grad(self, g, saved):
        raise NotImplementedError

    def bias_grad(self, g):
        """The bias gradient from a channels-last operand (the default layout)."""
        return g.reshape(-1, g.shape[-1]).sum(axis=0)

    def backward(self, grad, saved, need_x, need_w, need_b):
        """``(gx, gw, gb)``, each None where not needed. When both the weight and the input
        gradient are needed and the layer is large (:func:`both_gradients_at_once`), they are
        computed at the same time, one on each of two workers with one BLAS thread each."""
        g = self.grad_operand(grad)
        if need_w and need_x and both_gradients_at_once(g, self.saved_weight_shape(saved)):
            gw, gx = run_pieces(lambda task: task(), (lambda: self.weight_grad(g, saved),
                                                       lambda: self.input_grad(g, saved)))
        else:
            gw = self.weight_grad(g, saved) if need_w else None
            gx = self.input_grad(g, saved) if need_x else None
        gb = self.bias_grad(g) if need_b else None
        return gx, gw, gb

    def pooled_buffer(self, saved):
        """A workspace buffer in ``saved`` to give back to the pool once the context goes."""
        return None

    def saved_weight_shape(self, saved):
        """The weight's shape, from what ``forward`` saved."""
        raise NotImplementedError

    def __repr__(self):
        return f"<conv backend {self.name!r}>"


# Both gradients at once pay when each is a large product: then two single-threaded tasks side
# by side keep both cores busy with less waiting than each task split over both (the products'
# threads, the pieces' copies). Measured at 2 threads, whole training steps, on / off alternating
# in one process: DCGAN 0.97 (twice), the MNIST example 0.97-0.98, the small ResNet 0.97-1.0;
# LeNet-5 at batch 256 (123 MFLOP products) 1.09 slower, hence the threshold above it.
CONCURRENT_MIN_FLOP = 2e8


def both_gradients_at_once(g, weight_shape):
    """True when the weight and input gradients of a convolution with incoming gradient ``g``
    and a weight of ``weight_shape`` should run side by side: more than one worker, and each
    gradient's product at least CONCURRENT_MIN_FLOP."""
    per_output = math.prod(weight_shape[1:])  # C/groups * prod(K) multiply-adds per output number
    return workers() > 1 and 2.0 * g.size * per_output >= CONCURRENT_MIN_FLOP


class ReferenceBackend(ConvBackend):
    """Plain im2col + GEMM on channels-last memory, the in-repo reference of the others."""

    name = "reference"

    def forward(self, x, weight, bias, need_x, need_w):
        xl = to_channels_last(x)
        xpad = pad_channels_last(xl, self.pad_lo, self.pad_hi)
        kernel = weight.shape[2:]
        out_spatial = tuple(conv_algo.conv_out_size(s, k, st, 0, d) for s, k, st, d
                            in zip(xpad.shape[1:-1], kernel, self.stride, self.dilation))
        cols, _ = im2col(xpad, out_spatial, kernel, self.stride, self.dilation, self.groups)
        res = np.matmul(cols, weight_matrix(weight, self.groups))  # (G, M, OCg)
        out_l = np.ascontiguousarray(res.transpose(1, 0, 2)).reshape((x.shape[0],) + out_spatial + (-1,))
        if bias is not None:
            out_l += bias
        saved = (cols if need_w else None, weight if need_x else None, xpad.shape, xl.shape, weight.shape)
        return to_channels_first(out_l), saved

    def saved_weight_shape(self, saved):
        return saved[4]

    def backward(self, grad, saved, need_x, need_w, need_b):
        """One gradient after the other, always (the reference has no threads)."""
        g = self.grad_operand(grad)
        return (self.input_grad(g, saved) if need_x else None, self.weight_grad(g, saved) if need_w else None,
                self.bias_grad(g) if need_b else None)

    def grad_operand(self, grad):
        return np.ascontiguousarray(to_channels_last(grad))

    def _grad_matrix(self, g):
        oc = g.shape[-1]
        return g.reshape(-1, self.groups, oc // self.groups).transpose(1, 0, 2)  # (G, M, OCg)

    def weight_grad(self, g, saved):
        cols, weight_shape = saved[0], saved[4]
        gw = np.matmul(cols.transpose(0, 2, 1), self._grad_matrix(g))  # (G, K*Cg, OCg)
        return weight_from_matrix(gw, weight_shape, self.groups)

    def input_grad(self, g, saved):
        weight, padded_shape, in_shape = saved[1], saved[2], saved[3]
        kernel = weight.shape[2:]
        wmat = weight_matrix(weight, self.groups)  # (G, K*Cg, OCg)
        dcols = np.matmul(self._grad_matrix(g), wmat.transpose(0, 2, 1))  # (G, M, K*Cg)
        cg = weight.shape[1]
        dcols = dcols.reshape(self.groups, -1, math.prod(kernel), cg).transpose(0, 2, 1, 3)
        gx = col2im(np.ascontiguousarray(dcols), padded_shape, g.shape[1:-1], kernel, self.stride, self.dilation)
        inner = tuple(slice(lo, lo + s) for lo, s in zip(self.pad_lo, in_shape[1:-1]))
        return to_channels_first(gx[(slice(None),) + inner])


class ChannelsLastBackend(ConvBackend):
    """The channels-last engine of :mod:`.conv_algo`: pieces on both cores, kernel rows,
    the 'flip' or 'col2im' input gradient, a column buffer from the pool."""

    name = "channels_last"

    def forward(self, x, weight, bias, need_x, need_w, epilogue=None):
        xl = to_channels_last(x)
        out_l, kept = conv_algo.conv_forward(xl, weight, self.stride, self.pad_lo, self.pad_hi, self.dilation,
                                             self.groups, keep_cols=need_w, bias=bias, epilogue=epilogue)
        kind, array, buf = kept if kept is not None else (None, None, None)
        saved = (kind, array, buf, weight if need_x else None, xl.shape, weight.shape,
                 memory_order(x) if need_x else None)
        return to_channels_first(out_l), saved

    def forward_inference(self, x, weight, bias, epilogue):
        out, _ = self.forward(x, weight, bias, False, False, epilogue=epilogue)
        return out

    def pooled_buffer(self, saved):
        return saved[2]

    def saved_weight_shape(self, saved):
        return saved[5]

    def grad_operand(self, grad):
        return np.ascontiguousarray(to_channels_last(grad))

    def weight_grad(self, g, saved):
        # the saved columns stay: backward(retain_graph=True) may come back for them
        return conv_algo.conv_weight_grad(saved[:3], g, saved[5], self.stride, self.dilation, self.groups)

    def input_grad(self, g, saved):
        gxl = conv_algo.conv_input_grad(g, saved[3], saved[4], self.stride, self.pad_lo, self.pad_hi,
                                        self.dilation, self.groups)
        # in the input's layout: the backward of the op before multiplies it with arrays laid
        # out like its output, and a layout mismatch there costs several times the op
        return match_layout(to_channels_first(gxl), saved[6])


class BatchLastBackend(ConvBackend):
    """Narrow layers on batch-last ``(C, *S, N)`` memory (:mod:`.conv_batch_last`)."""

    name = "batch_last"

    @classmethod
    def supports(cls, x_shape, weight_shape, stride, dilation, groups):
        return groups == 1

    def forward(self, x, weight, bias, need_x, need_w):
        kernel = weight.shape[2:]
        xpad = batch_last.to_batch_last(x, self.pad_lo, self.pad_hi)
        wrows = batch_last.weight_rows(weight)
        out_spatial = tuple(conv_algo.conv_out_size(s, k, st, 0, d) for s, k, st, d
                            in zip(xpad.shape[1:-1], kernel, self.stride, self.dilation))
        out = batch_last.conv_forward(xpad, wrows, out_spatial, kernel, self.stride, self.dilation, bias)
        in_shape = (x.shape[1],) + tuple(x.shape[2:]) + (x.shape[0],)
        saved = (xpad if need_w else None, wrows if need_x else None, in_shape, weight.shape)
        return batch_last.from_batch_last(out), saved

    def saved_weight_shape(self, saved):
        return saved[3]

    def grad_operand(self, grad):
        return batch_last.grad_batch_last(grad)  # (OC, *O, N)

    def weight_grad(self, g, saved):
        weight_shape = saved[3]
        gw = batch_last.conv_weight_grad(saved[0], g, g.shape[1:-1], weight_shape[2:], self.stride, self.dilation)
        return gw.reshape(weight_shape)

    def input_grad(self, g, saved):
        gx = batch_last.conv_input_grad(g, saved[1], saved[2], saved[3][2:], self.stride, self.pad_lo,
                                        self.pad_hi, self.dilation)
        return batch_last.from_batch_last(gx)

    def bias_grad(self, g):
        return g.reshape(g.shape[0], -1).sum(axis=1)


class FFTBackend(ConvBackend):
    """The convolution theorem on ``(N, C, *S)`` arrays (:mod:`.fft_conv`); both gradients come
    from one transform of the incoming gradient."""

    name = "fft"

    def forward(self, x, weight, bias, need_x, need_w):
        pads = ((0, 0), (0, 0)) + tuple(zip(self.pad_lo, self.pad_hi))
        x_padded = np.pad(x, pads) if any(self.pad_lo + self.pad_hi) else x
        out, cache = fft_conv_forward(x_padded, weight, self.stride, self.dilation, self.groups)
        if bias is not None:
            out += bias.reshape((1, -1) + (1,) * (out.ndim - 2))
        return out, cache

    def backward(self, grad, saved, need_x, need_w, need_b):
        gx, gw = fft_conv_backward(saved, grad, need_input=need_x, need_weight=need_w)
        if need_x:
            gx = gx[(Ellipsis,) + tuple(slice(lo, s - hi) for lo, hi, s
                                        in zip(self.pad_lo, self.pad_hi, gx.shape[2:]))]
        gb = grad.sum(axis=(0,) + tuple(range(2, grad.ndim))) if need_b else None
        return gx, gw, gb

    def weight_grad(self, g, saved):
        return self.backward(g, saved, False, True, False)[1]

    def input_grad(self, g, saved):
        return self.backward(g, saved, True, False, False)[0]

    def bias_grad(self, g):
        return g.sum(axis=(0,) + tuple(range(2, g.ndim)))


BACKENDS = {b.name: b for b in (ReferenceBackend, ChannelsLastBackend, BatchLastBackend, FFTBackend)}
INPUT_GRAD_ALGORITHMS = ("col2im", "flip")  # the channels-last backend's input gradient
assert set(conv_algo.ALGORITHMS) == {"auto", *INPUT_GRAD_ALGORITHMS, *BACKENDS}


set_conv_algorithm = conv_algo.set_conv_algorithm  # one setting, kept in conv_algo


def select_backend(x, weight_shape, stride, pad_lo, pad_hi, dilation, groups):
    """The backend for convolving ``x`` (an ``(N, C, *S)`` array, its memory order matters)
    with a weight of ``weight_shape``.

    Rules, in order: a backend forced by :func:`set_conv_algorithm` (where it supports the
    layer); the FFT for large stride-1 kernels (:func:`conv_algo.use_fft`); batch-last memory
    for narrow layers (:func:`conv_batch_last.eligible`); else the channels-last engine.

    Args:
        x: the input array ``(N, C, *S)``.
        weight_shape: ``(OC, C / groups, *K)``.
        stride, pad_lo, pad_hi, dilation: one int per spatial axis; groups: an int.

    Returns:
        A :class:`ConvBackend` holding these options.

    Example:
        >>> x = np.zeros((32, 1, 28, 28), np.float32)
        >>> select_backend(x, (6, 1, 5, 5), (1, 1), (2, 2), (2, 2), (1, 1), 1).name
        'batch_last'
    """
    groups = int(groups)
    kernel = tuple(weight_shape[2:])
    forced = BACKENDS.get(conv_algo.get_conv_algorithm())
    if forced is not None and forced.supports(x.shape, weight_shape, stride, dilation, groups):
        cls = forced
    elif conv_algo.use_fft(kernel, stride, dilation, groups):
        cls = FFTBackend
    elif batch_last.eligible(x, weight_shape[0], groups):
        cls = BatchLastBackend
    else:
        cls = ChannelsLastBackend
    return cls(stride, pad_lo, pad_hi, dilation, groups)


__all__ = ["ConvBackend", "ReferenceBackend", "ChannelsLastBackend", "BatchLastBackend", "FFTBackend",
           "BACKENDS", "select_backend", "set_conv_algorithm", "WORKSPACE"]
