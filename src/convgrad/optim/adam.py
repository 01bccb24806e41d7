"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019, decoupled weight decay)."""
import numpy as np

from .optimizer import Optimizer, _check_nonnegative
from ..errors import ArgumentError


class Adam(Optimizer):
    r"""Adaptive moment estimation, step for step like ``torch.optim.Adam``::

        t = t + 1
        g = grad (negated if maximize) + weight_decay * p      (AdamW instead: p *= 1 - lr * wd)
        m = beta1 * m + (1 - beta1) * g                          first moment
        v = beta2 * v + (1 - beta2) * g^2                        second moment
        v_max = max(v_max, v)   and v := v_max                   (amsgrad only)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Args:
        params: tensors or parameter-group dicts.
        lr: learning rate. Default 1e-3.
        betas: (beta1, beta2), the decay rates of the moment estimates. Default (0.9, 0.999).
        eps: added to the denominator. Default 1e-8.
        weight_decay: L2 penalty added to the gradient. Default 0.
        amsgrad: use the maximum of all second-moment estimates so far (Reddi et al. 2018).
        maximize: ascend instead of descend.
        decoupled_weight_decay: shrink the weights directly (AdamW) instead of adding to the gradient.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                 maximize=False, decoupled_weight_decay=False):
        _check_nonnegative("lr", lr, "learning rate")
        _check_nonnegative("eps", eps, "epsilon")
        betas = tuple(betas)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ArgumentError(f"Invalid beta parameter at index {i}: {beta}")
        _check_nonnegative("weight_decay", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, p, grad, state, group):
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = np.zeros_like(p._data)
            state["exp_avg_sq"] = np.zeros_like(p._data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p._data)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        step = state["step"]
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                p._data *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * p._data
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (grad - exp_avg) * (1 - beta1)            # torch's lerp_(grad, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * np.square(grad)
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = np.zeros_like(p._data)
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            denom = np.sqrt(state["max_exp_avg_sq"], out=np.empty_like(exp_avg_sq))  # out=: an array even for 0-d
        else:
            denom = np.sqrt(exp_avg_sq, out=np.empty_like(exp_avg_sq))
        denom /= bias_correction2_sqrt
        denom += eps
        np.divide(exp_avg, denom, out=denom)
        denom *= step_size
        p._data -= denom


class AdamW(Adam):
    r"""Adam with decoupled weight decay: the weights shrink by ``lr * weight_decay`` each step
    (``p *= 1 - lr * weight_decay``) instead of the decay entering the moment estimates.
    Same arguments as :class:`Adam`; ``weight_decay`` defaults to 1e-2 (PyTorch's)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay=True)
