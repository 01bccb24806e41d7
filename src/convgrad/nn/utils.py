"""Gradient clipping and parameter flattening (``torch.nn.utils`` names and semantics)."""
import math

import numpy as np

from ..errors import ArgumentError
from ..tensor import Tensor


def _as_list(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _vector_norm(a, norm_type):
    if norm_type == math.inf:
        return np.abs(a).max(initial=0.0)
    if norm_type == -math.inf:
        return np.abs(a).min() if a.size else np.asarray(math.inf, a.dtype)
    if norm_type == 0:
        return np.asarray(np.count_nonzero(a), dtype=a.dtype)
    if norm_type == 2:
        flat = a.reshape(-1)
        return np.sqrt(np.dot(flat, flat))
    if norm_type == 1:
        return np.abs(a).sum()
    return (np.abs(a) ** norm_type).sum() ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False):
    """The ``norm_type``-norm of all the arrays together, as if concatenated into one vector."""
    norm_type = _norm_type(norm_type)
    arrays = [t._data if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
    if not arrays:
        return Tensor(np.asarray(0.0, dtype=np.float32))
    dtype = np.result_type(*arrays)
    norms = np.array([_vector_norm(a, norm_type) for a in arrays], dtype=dtype)
    total = np.asarray(_vector_norm(norms, norm_type), dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           f"so it cannot be clipped. To disable this error and scale the gradients by the "
                           f"non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor(total)


def _norm_type(norm_type):
    if isinstance(norm_type, str):
        if norm_type.lower() not in ("inf", "-inf"):
            raise ArgumentError(f"clip_grad_norm_: norm_type must be a number or 'inf', got '{norm_type}'")
        return math.inf if norm_type.lower() == "inf" else -math.inf
    return float(norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients in place so that their total norm is at most ``max_norm``.

    The total norm is taken over all gradients together, as if concatenated into one vector. If it
    exceeds ``max_norm``, every gradient is multiplied by ``max_norm / (total_norm + 1e-6)``.

    Args:
        parameters: a tensor or an iterable of tensors (those without a gradient are skipped).
        max_norm: the largest allowed norm.
        norm_type: p of the p-norm; ``float('inf')`` or ``'inf'`` for the largest absolute value.
        error_if_nonfinite: raise RuntimeError when the total norm is NaN or infinite.

    Returns:
        The total norm of the gradients before clipping, as a 0-d Tensor.
    """
    grads = [p.grad._data for p in _as_list(parameters) if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if not grads:
        return total
    coef = min(float(max_norm) / (float(total._data) + 1e-6), 1.0)
    with np.errstate(invalid="ignore"):   # a non-finite norm makes NaN gradients, as in PyTorch
        for g in grads:
            g *= coef
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clip every gradient element into ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)


def parameters_to_vector(parameters):
    """All the parameters' values as one flat tensor (a copy, without gradient)."""
    return Tensor(np.concatenate([p._data.reshape(-1) for p in _as_list(parameters)]))


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the flat ``vec`` into the parameters (the inverse of the above)."""
    vec = vec._data if isinstance(vec, Tensor) else np.asarray(vec)
    params = _as_list(parameters)
    needed = sum(p._data.size for p in params)
    if vec.ndim != 1 or vec.size != needed:
        raise ArgumentError(f"vector_to_parameters: expected a 1-D vector of {needed} values, got shape {vec.shape}")
    offset = 0
    for p in params:
        n = p._data.size
        p._data[...] = vec[offset:offset + n].reshape(p._data.shape)
        offset += n


__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "parameters_to_vector", "vector_to_parameters"]
