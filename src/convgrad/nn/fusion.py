"""Fusing ``conv -> BatchNorm (-> ReLU)`` at inference, and pooling before the ReLU, when
nothing can tell the difference.

In evaluation mode without gradients, a convolution followed by a batch norm (and a ReLU) runs
as one op, :func:`convgrad.functional.conv_batch_norm`: the batch norm and the ReLU are applied to
the convolution's output block by block while it is in the cache, with the same arithmetic as
the separate layers (identical results). ``nn.Sequential`` does this for each such run of its
children, and the ResNet blocks call :func:`conv_bn` directly (and :func:`add_relu` for the
residual sum and its ReLU, in place).

``nn.Sequential`` also runs each ``ReLU -> MaxPool`` pair as ``MaxPool -> ReLU``, in training
too (:func:`swappable`): the values and the gradients are the same, and the ReLU touches a
quarter of the elements after a 2x2 pooling (LeNet-5 training step 7.3 -> 6.8 ms at batch 64,
26.2 -> 24.5 ms at batch 256).

The separate layers run instead whenever fusing could be observed or would be wrong: in
training mode (batch statistics, running-average updates), when a gradient is needed, under
``detect_anomaly`` (which names the failing layer), when any of the layers has a forward hook
(feature-map inspection reads the intermediate outputs) or a replaced ``forward``, for a batch
norm without running statistics, for convolutions with a ``padding_mode`` other than zeros, and
inside :class:`no_fusion` (the layer tracer of ``convgrad.inspect`` uses it to see every layer
run; it is also the switch for users who want the layers one by one).
"""
import numpy as np

from .. import functional as F
from ..tensor import Tensor, is_anomaly_enabled, is_grad_enabled
from .activation import ReLU
from .conv import _Conv
from .normalization import _BatchNorm
from .pooling import MaxPool1d, MaxPool2d, MaxPool3d

_MAX_POOLS = (MaxPool1d, MaxPool2d, MaxPool3d)


_state = {"enabled": True}


class no_fusion:
    """Context manager: run every layer on its own inside the block (``with nn.fusion.no_fusion(): ...``)."""

    def __enter__(self):
        self.previous = _state["enabled"]
        _state["enabled"] = False
        return self

    def __exit__(self, *exc):
        _state["enabled"] = self.previous
        return False


def conv_bn(conv, bn, x, relu=None):
    """``relu(bn(conv(x)))`` (``relu`` an ``nn.ReLU`` or None), fused when it cannot be told apart."""
    if fusable(conv, bn, relu, x):
        return _fused_conv_bn(conv, bn, x, relu)
    out = bn(conv(x))
    return out if relu is None else relu(out)


def _fused_conv_bn(conv, bn, x, relu):
    conv._check_input(x)
    return F.conv_batch_norm(x, conv._gemm_ready_weight(), conv.bias, bn.running_mean, bn.running_var,
                             bn.weight, bn.bias, bn.eps, conv.stride, conv.padding, conv.dilation, conv.groups,
                             relu=relu is not None)


def _active():
    """Fusion is on: not inside :class:`no_fusion`, not under ``detect_anomaly``."""
    return _state["enabled"] and not is_anomaly_enabled()


def _unobserved(*modules):
    """None of ``modules`` has a forward hook or a replaced ``forward``."""
    return not any(m._forward_hooks or "forward" in vars(m) for m in modules)


def _needs_grad(*tensors):
    return is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def fusable(conv, bn, relu, x):
    """True when running ``conv``, ``bn`` (and ``relu``) as one op gives what the layers would."""
    if not _active():
        return False
    if type(conv).forward is not _Conv.forward or type(bn).forward is not _BatchNorm.forward:
        return False  # a subclass (or a non-conv, non-BN layer) with its own forward
    if relu is not None and type(relu) is not ReLU:
        return False
    if not _unobserved(*((conv, bn) if relu is None else (conv, bn, relu))):
        return False
    if bn.training or bn.running_mean is None or bn.running_var is None:
        return False
    if conv.padding_mode != "zeros" or conv.out_channels != bn.num_features or not isinstance(x, Tensor):
        return False
    if x.ndim != conv._dims + 2 or x.ndim not in bn._ranks:  # let the layers raise their own errors
        return False
    return not _needs_grad(x, conv.weight, conv.bias, bn.weight, bn.bias)


def add_relu(out, identity, relu, producer):
    """``relu(out + identity)``, the end of a residual block; ``out`` is the fresh output of the
    layer ``producer`` (the block's last batch norm). At inference, when nothing else can hold
    ``out`` (no hook on ``producer`` or ``relu``, no gradient, rules as :func:`fusable`), the sum
    and the ReLU are done in place in ``out``'s memory: two passes, no new arrays."""
    if (_active() and type(relu) is ReLU and _unobserved(relu, producer)
            and isinstance(out, Tensor) and isinstance(identity, Tensor)
            and out.shape == identity.shape and out.dtype == identity.dtype and not _needs_grad(out, identity)):
        np.add(out._data, identity._data, out=out._data)
        np.maximum(out._data, 0, out=out._data)
        return out
    return relu(out + identity)


def swappable(relu, pool):
    """True when ``pool(relu(x))`` may run as ``relu(pool(x))``: a ReLU then a max pooling (that
    returns no indices), neither with hooks nor a replaced forward, outside ``detect_anomaly``.

    ReLU is non-decreasing, so the maximum of the ReLUs is the ReLU of the maximum: the values
    are equal. So are the gradients: where the window's maximum is positive both orders pick
    the same first maximal element and pass its gradient; where it is not, both pass zero. The
    ReLU then runs on the pooled map (a quarter of the elements after a 2x2 pooling), forward
    and backward."""
    return (_active() and type(relu) is ReLU and type(pool) in _MAX_POOLS and not pool.return_indices
            and _unobserved(relu, pool))


def run_sequence(modules, x):
    """Call ``modules`` in order, fusing each ``conv, bn[, relu]`` run that :func:`fusable` allows
    and pooling before the ReLU where :func:`swappable` allows."""
    i, count = 0, len(modules)
    while i < count:
        m = modules[i]
        if i + 1 < count and swappable(m, modules[i + 1]):
            x = m(modules[i + 1](x))
            i += 2
            continue
        if isinstance(m, _Conv) and i + 1 < count and isinstance(modules[i + 1], _BatchNorm):
            relu = modules[i + 2] if i + 2 < count and type(modules[i + 2]) is ReLU else None
            if fusable(m, modules[i + 1], relu, x):
                x = _fused_conv_bn(m, modules[i + 1], x, relu)
                i += 2 if relu is None else 3
                continue
        x = m(x)
        i += 1
    return x
