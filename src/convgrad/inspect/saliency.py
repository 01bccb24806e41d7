"""Saliency: which input pixels the score of one class is most sensitive to.

The vanilla gradient map of Simonyan, Vedaldi & Zisserman (2014): for an input ``x`` and a class
``c``, ``|d score_c / d x|`` (the score is the logit, before the softmax), the largest magnitude
over the colour channels. It is one backward pass of convgrad's own autodiff.
"""
import numpy as np

from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor
from .trace import eval_mode


def input_gradient(model, x, target=None):
    """The gradient of one class's score with respect to the input, and the class.

    Args:
        model: a Module returning ``(N, classes)`` scores.
        x: one input, an array or Tensor ``(C, H, W)`` or ``(1, C, H, W)``.
        target: the class whose score is differentiated; default: the predicted (largest) one.

    Returns:
        ``(gradient, target)``: a float array shaped like ``x`` (without a batch axis) and the int class.

    Raises:
        ShapeError: ``x`` is not one sample, or the model's output is not ``(1, classes)``.
        ArgumentError: ``target`` is not a class index of the output.

    Example::

        >>> grad, c = input_gradient(convgrad.models.lenet5(), np.zeros((1, 28, 28), np.float32))
    """
    data = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    if data.ndim == 3:
        data = data[None]
    if data.ndim != 4 or data.shape[0] != 1:
        raise ShapeError(f"input_gradient: expected one input (C, H, W) or (1, C, H, W), got shape {data.shape}")
    inp = Tensor(np.array(data, dtype=data.dtype if data.dtype.kind == "f" else np.float32), requires_grad=True)
    with eval_mode(model):
        scores = model(inp)
        if not isinstance(scores, Tensor) or scores.ndim != 2 or scores.shape[0] != 1:
            raise ShapeError(f"input_gradient: expected the model to return scores (1, classes), got "
                             f"{getattr(scores, 'shape', type(scores).__name__)}")
        if target is None:
            target = int(scores.numpy()[0].argmax())
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < scores.shape[1]:
            raise ArgumentError(f"input_gradient: target must be a class index in [0, {scores.shape[1]}), "
                                f"got {target!r}")
        scores[0, int(target)].backward()
    return inp.grad.numpy()[0].copy(), int(target)


def saliency_map(model, x, target=None):
    """``(H, W)`` map of ``max over channels |d score_target / d x|`` scaled to [0, 1], and the class.

    Args and Raises: as :func:`input_gradient`.

    Returns:
        ``(saliency, target)``: float32 ``(H, W)`` in [0, 1] (all zeros if the gradient is zero).
    """
    grad, target = input_gradient(model, x, target)
    magnitude = np.abs(grad).max(axis=0).astype(np.float32)
    peak = float(magnitude.max())
    return (magnitude / peak if peak > 0 else magnitude), target
