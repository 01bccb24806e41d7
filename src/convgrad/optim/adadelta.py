"""Adadelta (Zeiler 2012): a per-parameter step size from running averages of squared gradients
and squared updates, so the update has the units of the parameter."""
import numpy as np

from ..errors import ArgumentError
from .optimizer import Optimizer, _check_nonnegative


class Adadelta(Optimizer):
    r"""Adadelta, step for step like ``torch.optim.Adadelta``::

        g = grad (negated if maximize) + weight_decay * p
        v = rho * v + (1 - rho) * g^2                      running mean square of gradients
        d = sqrt(u + eps) / sqrt(v + eps) * g              the update (u: of past updates)
        u = rho * u + (1 - rho) * d^2                      running mean square of updates
        p = p - lr * d

    Args:
        params: tensors or parameter-group dicts.
        lr: coefficient that scales the update. Default 1.0.
        rho: smoothing constant of both running averages. Default 0.9.
        eps: added inside both square roots. Default 1e-6.
        weight_decay: L2 penalty added to the gradient. Default 0.
        maximize: ascend instead of descend.
        foreach, capturable, differentiable: accepted for compatibility (one CPU implementation).

    State per parameter: ``step``, ``square_avg`` (v) and ``acc_delta`` (u), PyTorch's names.

    Raises:
        ArgumentError: a negative lr, eps or weight_decay, or rho outside [0, 1].

    Example:
        >>> opt = convgrad.optim.Adadelta(model.parameters(), lr=1.0)  # doctest: +SKIP
        >>> loss.backward(); opt.step(); opt.zero_grad()  # doctest: +SKIP
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_nonnegative("lr", lr, "learning rate")
        _check_nonnegative("eps", eps, "epsilon")
        _check_nonnegative("weight_decay", weight_decay, "weight_decay")
        if not 0.0 <= rho <= 1.0:
            raise ArgumentError(f"Invalid rho value: {rho} (expected a number in [0, 1])")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, grad, state, group):
        lr, rho, eps, weight_decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0.0
            state["square_avg"] = np.zeros_like(p._data)
            state["acc_delta"] = np.zeros_like(p._data)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        if weight_decay != 0:
            grad = grad + weight_decay * p._data
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * np.square(grad)
        std = np.sqrt(square_avg + eps)
        delta = np.sqrt(acc_delta + eps) / std * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * np.square(delta)
        p._data -= (lr * delta).astype(p._data.dtype, copy=False)
