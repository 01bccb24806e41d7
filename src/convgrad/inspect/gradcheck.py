"""Finite-difference gradient checking: does backward agree with (f(x+h) - f(x-h)) / 2h?"""
import numpy as np

from ..errors import DTypeError
from ..tensor import Tensor, no_grad


def numerical_grad(fn, inputs, index, direction_out, eps=1e-6):
    """Central-difference gradient of ``sum(fn(*inputs) * direction_out)`` w.r.t. ``inputs[index]``."""
    x = inputs[index]._data
    grad = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)  # a view: inputs are made contiguous by gradcheck
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        with no_grad():
            plus = np.sum(fn(*inputs)._data * direction_out)
        flat[i] = old - eps
        with no_grad():
            minus = np.sum(fn(*inputs)._data * direction_out)
        flat[i] = old
        grad.reshape(-1)[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, seed=0, raise_exception=True):
    """Compare analytic and numerical gradients of ``fn`` for every input that requires grad.

    Inputs should be float64. The scalar checked is ``sum(fn(*inputs) * r)`` for a fixed random
    ``r``, so every output element contributes with a different weight.

    Returns True when they agree; otherwise raises ``AssertionError`` naming the input and the
    worst element (or returns False if ``raise_exception`` is False).
    """
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != np.float64:
            raise DTypeError(f"gradcheck: input {i} is {t.dtype}; finite differences need float64 (a step of "
                             f"{eps:g} is lost in {t.dtype}'s rounding): pass x.double()")
    inputs = [Tensor(np.ascontiguousarray(t._data), requires_grad=t.requires_grad) if isinstance(t, Tensor)
              else t for t in inputs]
    out = fn(*inputs)
    r = np.random.default_rng(seed).standard_normal(out.shape)
    for t in inputs:
        if isinstance(t, Tensor):
            t.grad = None
    out.backward(r.astype(out.dtype))
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            continue
        analytic = np.zeros(t.shape) if t.grad is None else t.grad._data.astype(np.float64)
        numeric = numerical_grad(fn, inputs, i, r, eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            if not raise_exception:
                return False
            err = np.abs(analytic - numeric)
            j = np.unravel_index(np.argmax(err), err.shape)
            raise AssertionError(f"gradcheck: input {i} element {j}: analytic {analytic[j]:.8g}, "
                                 f"numerical {numeric[j]:.8g} (max abs error {err.max():.3g})")
    return True
