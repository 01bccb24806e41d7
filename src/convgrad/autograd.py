"""``torch.autograd`` names: ``Variable`` (a tensor, as in PyTorch since 0.4), ``Function``,
``backward``, ``grad``, ``gradcheck``, ``no_grad`` and anomaly detection."""
import numpy as np

from .errors import ArgumentTypeError
from .tensor import (Function, Tensor, detect_anomaly, enable_grad, is_grad_enabled, no_grad,  # noqa: F401
                     run_backward, set_grad_enabled)


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802  (PyTorch's old class name)
    """``Variable(x)`` is ``x`` (a tensor) since PyTorch 0.4; arrays become tensors."""
    t = data if isinstance(data, Tensor) else Tensor(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def backward(tensors, grad_tensors=None, retain_graph=None):
    """``sum(t.backward(g))`` over several outputs."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    grads = [None] * len(tensors) if grad_tensors is None else (
        [grad_tensors] if isinstance(grad_tensors, Tensor) else list(grad_tensors))
    for t, g in zip(tensors, grads):
        t.backward(g, retain_graph=bool(retain_graph) or len(tensors) > 1)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of put into ``.grad``.

    Raises:
        ArgumentTypeError: for ``create_graph=True`` (higher-order gradients are not supported).
    """
    if create_graph:
        raise ArgumentTypeError("autograd.grad: create_graph=True (higher-order gradients) is not supported")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    saved = [(t, t.grad, t._retain) for t in inputs]
    for t in inputs:
        t.grad, t._retain = None, True
    try:
        gouts = [None] * len(outputs) if grad_outputs is None else (
            [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs))
        for out, g in zip(outputs, gouts):
            g = np.ones_like(out._data) if g is None else np.asarray(g._data if isinstance(g, Tensor) else g,
                                                                       dtype=out._data.dtype)
            run_backward(out, g, retain_graph=bool(retain_graph))
        result = []
        for t in inputs:
            if t.grad is None and not allow_unused:
                raise ArgumentTypeError("autograd.grad: one of the inputs was not used to compute the outputs; "
                                        "pass allow_unused=True")
            result.append(t.grad)
    finally:
        for t, g, r in saved:
            t.grad, t._retain = g, r
    return tuple(result)


def gradcheck(fn, inputs, **kwargs):
    from .inspect.gradcheck import gradcheck as _gradcheck
    return _gradcheck(fn, list(inputs) if isinstance(inputs, (list, tuple)) else [inputs], **kwargs)


set_detect_anomaly = detect_anomaly
