"""Adagrad (Duchi et al. 2011): per-coordinate learning rates from the accumulated squared gradients."""
import numpy as np

from .optimizer import Optimizer, _check_nonnegative


class Adagrad(Optimizer):
    r"""Adagrad, step for step like ``torch.optim.Adagrad``::

        t = t + 1
        g = grad (negated if maximize) + weight_decay * p
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s = s + g^2                        (s starts at initial_accumulator_value)
        p = p - lr_t * g / (sqrt(s) + eps)

    Args:
        params: tensors or parameter-group dicts.
        lr: learning rate. Default 1e-2.
        lr_decay: learning rate decay per step. Default 0.
        weight_decay: L2 penalty added to the gradient. Default 0.
        initial_accumulator_value: starting value of the sum of squares. Default 0.
        eps: added to the denominator. Default 1e-10.
        maximize: ascend instead of descend.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 maximize=False):
        _check_nonnegative("lr", lr, "learning rate")
        _check_nonnegative("lr_decay", lr_decay)
        _check_nonnegative("weight_decay", weight_decay)
        _check_nonnegative("initial_accumulator_value", initial_accumulator_value)
        _check_nonnegative("eps", eps, "epsilon")
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0.0
            state["sum"] = np.full_like(p._data, group["initial_accumulator_value"])
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p._data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += np.square(grad)
        std = np.sqrt(state["sum"], out=np.empty_like(state["sum"]))  # out=: an array even for 0-d
        std += group["eps"]
        np.divide(grad, std, out=std)
        std *= clr
        p._data -= std
