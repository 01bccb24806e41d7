"""RMSprop (Hinton's lecture 6e): divide the gradient by a running root mean square."""
import numpy as np

from .optimizer import Optimizer, _check_nonnegative


class RMSprop(Optimizer):
    r"""RMSprop, step for step like ``torch.optim.RMSprop``::

        g = grad (negated if maximize) + weight_decay * p
        v = alpha * v + (1 - alpha) * g^2                  mean square
        a = alpha * a + (1 - alpha) * g  and  v~ = v - a^2   (centered only: a variance estimate)
        d = g / (sqrt(v or v~) + eps)
        b = momentum * b + d ; p = p - lr * b       (momentum > 0)   else   p = p - lr * d

    Args:
        params: tensors or parameter-group dicts.
        lr: learning rate. Default 1e-2.
        alpha: smoothing constant of the mean square. Default 0.99.
        eps: added to the denominator. Default 1e-8.
        weight_decay: L2 penalty added to the gradient. Default 0.
        momentum: momentum factor. Default 0.
        centered: normalise by the estimated variance of the gradient instead of its mean square.
        maximize: ascend instead of descend.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 maximize=False):
        _check_nonnegative("lr", lr, "learning rate")
        _check_nonnegative("eps", eps, "epsilon")
        _check_nonnegative("momentum", momentum)
        _check_nonnegative("weight_decay", weight_decay)
        _check_nonnegative("alpha", alpha)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, grad, state, group):
        lr, alpha, eps, weight_decay, momentum = (group["lr"], group["alpha"], group["eps"],
                                                  group["weight_decay"], group["momentum"])
        if not state:
            state["step"] = 0.0
            state["square_avg"] = np.zeros_like(p._data)
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(p._data)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(p._data)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        if weight_decay != 0:
            grad = grad + weight_decay * p._data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * np.square(grad)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg += (grad - grad_avg) * (1 - alpha)   # torch's lerp_(grad, 1 - alpha)
            avg = np.subtract(square_avg, np.square(grad_avg), out=np.empty_like(square_avg))
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(square_avg, out=np.empty_like(square_avg))  # out=: an array even for 0-d
        avg += eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            p._data -= lr * buf
        else:
            np.divide(grad, avg, out=avg)
            avg *= lr
            p._data -= avg
