"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""
import numpy as np

from .optimizer import Optimizer, _check_nonnegative
from ..errors import ArgumentError


class SGD(Optimizer):
    r"""Gradient descent: ``p <- p - lr * d``, where ``d`` is the gradient, optionally with weight
    decay and (Nesterov) momentum, step for step like ``torch.optim.SGD``::

        g = grad (negated if maximize) + weight_decay * p
        b = g                                     on the first step, then
        b = momentum * b + (1 - dampening) * g    (the momentum buffer)
        d = g + momentum * b   if nesterov   else   b        (d = g without momentum)
        p = p - lr * d

    **Full-batch, stochastic and mini-batch gradient descent are this same optimizer.** What
    differs is only the gradient it is handed, that is, how many samples the loss averaged
    before ``backward()``: the whole training set gives (full-)batch gradient descent (the exact
    gradient, one update per epoch), a single sample gives stochastic gradient descent (a noisy
    but cheap estimate, N updates per epoch), and a batch of B samples gives mini-batch gradient
    descent, the usual compromise. Choose among them with the DataLoader's ``batch_size``
    (``len(dataset)``, ``1`` or ``B``), not with a different optimizer.

    Args:
        params: tensors or parameter-group dicts to optimize.
        lr: learning rate. Default 1e-3 (PyTorch's).
        momentum: momentum factor. Default 0.
        dampening: dampening of the momentum's gradient term. Default 0.
        weight_decay: L2 penalty coefficient (adds ``weight_decay * p`` to the gradient). Default 0.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening 0). Default False.
        maximize: ascend the objective instead of descending. Default False.

    Example:
        >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9)  # doctest: +SKIP
        >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()  # doctest: +SKIP
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False):
        _check_nonnegative("lr", lr, "learning rate")
        _check_nonnegative("momentum", momentum)
        _check_nonnegative("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ArgumentError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, grad, state, group):
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + weight_decay * p._data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=p._data.dtype, copy=True)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p._data -= lr * grad
