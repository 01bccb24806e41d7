"""Margin and embedding losses (``torch.nn.functional`` names, arguments and defaults):
``margin_ranking_loss``, ``hinge_embedding_loss``, ``soft_margin_loss``, ``cosine_embedding_loss``,
``multi_margin_loss``, ``multilabel_margin_loss`` and ``multilabel_soft_margin_loss``.

Each is written with convgrad's differentiable ops (clamp, where, logsigmoid, sums), in
PyTorch's own formula and order, so the gradients are those of the formula and the values agree
with PyTorch to rounding. ``y`` below is the target: +1 / -1 labels, or class indices. Hinge
terms are ``clamp(z, min=0)`` (PyTorch's ``clamp_min``). Every loss ends with the reduction:
'none' keeps one loss per sample, 'mean' averages them (NaN for an empty batch), 'sum' adds them.

    margin_ranking       max(0, -y (x1 - x2) + margin)
    hinge_embedding      x where y = 1, max(0, margin - x) where y = -1
    soft_margin          log(1 + exp(-y x))
    cosine_embedding     1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1
    multi_margin         sum_{j != y} w[y] max(0, margin - x[y] + x[j])^p / C
    multilabel_margin    sum_{j in targets} sum_{k not in targets} max(0, 1 - (x[j] - x[k])) / C
    multilabel_soft      -mean_c (y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c)) w_c
"""
import numpy as np

from ..tensor import Tensor
from . import activations as A
from . import elementwise as E
from ._util import ArgumentError, DTypeError, ShapeError, shape_str
from .loss import _reduction

COSINE_EPS = 1e-12  # PyTorch's EPSILON added to each squared norm


def _tensor(op, name, value, like=None):
    if isinstance(value, Tensor):
        t = value
    elif value is None:
        raise DTypeError(f"{op}: {name} is required, got None")
    else:
        t = Tensor(np.asarray(value))
    if like is not None and t.dtype.kind in "fiub" and t.dtype != like.dtype:
        t = t.to(like.dtype)
    return t


def _float_input(op, name, value):
    if not isinstance(value, Tensor):
        raise DTypeError(f"{op}: expected {name} to be a convgrad Tensor, got {type(value).__name__}")
    if value.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point {name}, got dtype {value.dtype}")
    return value


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _class_indices(op, target):
    t = target._data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise DTypeError(f"{op}: expected integer class indices as target, got dtype {t.dtype}")
    return t


# ----------------------------------------------------------------------------------------------
# Pairwise and binary-label losses
# ----------------------------------------------------------------------------------------------
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """Rank two inputs: ``max(0, -y (x1 - x2) + margin)``; y = 1 wants x1 above x2.

    Args:
        input1, input2: tensors of one shape (or broadcastable), same rank as target.
        target: +1 / -1 labels.
        margin: the required gap. Default 0.
        reduction: 'none' | 'mean' | 'sum'.

    Returns:
        The loss (a scalar, or the broadcast shape with 'none').

    Raises:
        ShapeError: inputs and target of different ranks (PyTorch's rule).

    Example:
        >>> F.margin_ranking_loss(cg.tensor([1.0, 0.2]), cg.tensor([0.5, 0.9]), cg.tensor([1.0, -1.0]), 0.1)
        tensor(0.)
    """
    op = "margin_ranking_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    input1, input2 = _float_input(op, "input1", input1), _float_input(op, "input2", input2)
    target = _tensor(op, "target", target, input1)
    if not input1.ndim == input2.ndim == target.ndim:
        raise ShapeError(f"{op}: all input tensors should have the same number of dimensions, got "
                         f"{shape_str(input1.shape)}, {shape_str(input2.shape)} and target {shape_str(target.shape)}")
    return _reduce(E.clamp(-target * (input1 - input2) + margin, min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """``x`` where y = 1 and ``max(0, margin - x)`` where y = -1 (``x`` is usually a distance).

    Args:
        input: any shape. target: +1 / -1 labels of the same shape.
        margin: Default 1. reduction: 'none' | 'mean' | 'sum'.

    Returns:
        The loss (a scalar, or the input's shape with 'none').

    Example:
        >>> F.hinge_embedding_loss(cg.tensor([0.3, 2.0]), cg.tensor([1.0, -1.0]))
        tensor(0.15)
    """
    op = "hinge_embedding_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    input = _float_input(op, "input", input)
    target = _tensor(op, "target", target, input)
    t = target._data
    margin_part = E.where(t != 1, E.clamp(margin - input, min=0), 0.0)
    self_part = E.where(t != -1, input, 0.0)
    return _reduce(margin_part + self_part, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Two-class logistic loss ``log(1 + exp(-y x))`` for +1 / -1 targets (as ``-logsigmoid(y x)``,
    which never overflows).

    Args:
        input: any shape. target: +1 / -1 of the same shape. reduction: 'none' | 'mean' | 'sum'.

    Returns:
        The loss (a scalar, or the input's shape with 'none').

    Example:
        >>> F.soft_margin_loss(cg.tensor([2.0, -1.0]), cg.tensor([1.0, 1.0]))
        tensor(0.7201)
    """
    op = "soft_margin_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    input = _float_input(op, "input", input)
    target = _tensor(op, "target", target, input)
    return _reduce(-A.logsigmoid(input * target), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """``1 - cos(x1, x2)`` where y = 1 and ``max(0, cos(x1, x2) - margin)`` where y = -1.

    ``cos = <x1, x2> / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12))`` over the last axis (PyTorch's
    formula, finite for zero vectors).

    Args:
        input1, input2: (N, D) with target (N,), or (D,) with a 0-d target.
        target: +1 / -1. margin: in [-1, 1], 0 to 0.5 suggested. Default 0.
        reduction: 'none' | 'mean' | 'sum'.

    Returns:
        The loss (a scalar, or (N,) with 'none').

    Raises:
        ShapeError: a target that is not 0-D or 1-D, or inputs of the wrong rank for it.

    Example:
        >>> F.cosine_embedding_loss(cg.randn(4, 8), cg.randn(4, 8), cg.tensor([1.0, -1.0, 1.0, 1.0]))
        tensor(...)
    """
    op = "cosine_embedding_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    input1, input2 = _float_input(op, "input1", input1), _float_input(op, "input2", input2)
    target = _tensor(op, "target", target, input1)
    if target.ndim not in (0, 1):
        raise ShapeError(f"{op}: expected a 0-D or 1-D target, got {shape_str(target.shape)}")
    want = target.ndim + 1
    if input1.ndim != want or input2.ndim != want:
        raise ShapeError(f"{op}: a {target.ndim}-D target expects {want}-D inputs, got {shape_str(input1.shape)} "
                         f"and {shape_str(input2.shape)}")
    dim = target.ndim
    prod_sum = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + COSINE_EPS
    mag2 = (input2 * input2).sum(dim) + COSINE_EPS
    cos = prod_sum / E.sqrt(mag1 * mag2)
    t = target._data
    pos = E.where(t == 1, 1 - cos, 0.0)
    neg = E.where(t == -1, E.clamp(cos - margin, min=0), 0.0)
    return _reduce(pos + neg, reduction)


# ----------------------------------------------------------------------------------------------
# Multi-class and multi-label margin losses
# ----------------------------------------------------------------------------------------------
def _rows(op, input):
    """(N, C) or (C,) -> (N, C) and whether the input was 1-D."""
    if input.ndim not in (1, 2):
        raise ShapeError(f"{op}: expected a 1-D (C,) or 2-D (N, C) input, got {shape_str(input.shape)}")
    return (input.reshape(1, -1), True) if input.ndim == 1 else (input, False)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge loss: ``sum_{j != y} w[y] max(0, margin - x[y] + x[j])^p / C`` per sample.

    Args:
        input: (N, C) scores or (C,). target: (N,) class indices (or 0-d / (1,) for a 1-D input).
        p: 1 or 2. margin: Default 1. weight: optional (C,) per-class weights.
        reduction: 'none' | 'mean' | 'sum'.

    Returns:
        The loss (a scalar, or (N,) with 'none').

    Raises:
        ArgumentError: p not 1 or 2, class indices out of range. ShapeError: mis-shaped target/weight.

    Example:
        >>> F.multi_margin_loss(cg.randn(3, 5), cg.tensor([0, 4, 2]))
        tensor(...)
    """
    op = "multi_margin_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    if p not in (1, 2):
        raise ArgumentError(f"{op}: only p == 1 and p == 2 are supported, got {p}")
    input = _float_input(op, "input", input)
    x, one = _rows(op, input)
    n, c = x.shape
    t = _class_indices(op, target).reshape(-1)
    if t.size != n:
        raise ShapeError(f"{op}: expected a target of {n} class indices for input {shape_str(input.shape)}, "
                         f"got {shape_str(np.shape(target))}")
    if t.size and (t.min() < 0 or t.max() >= c):
        raise ArgumentError(f"{op}: expected class indices in [0, {c}), got {int(t[(t < 0) | (t >= c)][0])}")
    rows = np.arange(n)
    x_y = x[rows, t].reshape(n, 1)
    z = E.clamp(margin - x_y + x, min=0)
    h = z if p == 1 else z * z
    if weight is not None:
        w = _tensor(op, "weight", weight, input)
        if tuple(w.shape) != (c,):
            raise ShapeError(f"{op}: expected weight of shape ({c},), got {shape_str(w.shape)}")
        h = h * w._data[t].reshape(n, 1)
    others = np.ones((n, c), dtype=bool)
    others[rows, t] = False
    loss = E.where(others, h, 0.0).sum(1) / c
    return _reduce(loss.reshape(()) if one else loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge loss: ``sum_{j in targets} sum_{k not in targets} max(0, 1 - (x[j] - x[k])) / C``.

    The target lists each sample's classes, padded with -1 after the last one (the first -1 ends
    the list), PyTorch's format: ``[3, 0, -1, 1]`` means classes 3 and 0.

    Args:
        input: (N, C) or (C,). target: integer, the input's shape.
        reduction: 'none' | 'mean' | 'sum'.

    Returns:
        The loss (a scalar, or (N,) with 'none').

    Raises:
        ShapeError: a target not of the input's shape. ArgumentError: classes out of range.

    Example:
        >>> F.multilabel_margin_loss(cg.tensor([[0.1, 0.2, 0.4, 0.8]]), cg.tensor([[3, 0, -1, 1]]))
        tensor(0.85)
    """
    op = "multilabel_margin_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    input = _float_input(op, "input", input)
    x, one = _rows(op, input)
    n, c = x.shape
    t = _class_indices(op, target)
    if t.shape != tuple(input.shape):
        raise ShapeError(f"{op}: expected a target of the input's shape {shape_str(input.shape)}, got "
                         f"{shape_str(t.shape)}")
    t = t.reshape(n, c)
    listed = np.cumprod(t >= 0, axis=1).astype(bool)  # entries before the first -1
    if np.any(listed & (t >= c)):
        raise ArgumentError(f"{op}: expected class indices in [0, {c}), got {int(t[listed & (t >= c)][0])}")
    counts = np.zeros((n, c))  # how often class j is listed for sample i
    np.add.at(counts, (np.nonzero(listed)[0], t[listed]), 1)
    is_target = counts > 0
    pair_weight = counts[:, :, None] * ~is_target[:, None, :]  # (i, j listed, k not a target)
    z = E.clamp(1 - x.reshape(n, c, 1) + x.reshape(n, 1, c), min=0)
    loss = (z * pair_weight.astype(input.dtype)).sum((1, 2)) / c
    return _reduce(loss.reshape(()) if one else loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Multi-label one-versus-all logistic loss, averaged over the C classes of each sample:
    ``-mean_c w_c (y_c log sigmoid(x_c) + (1 - y_c) log sigmoid(-x_c))``.

    Args:
        input: (N, C) or (C,). target: 0 / 1 (or probabilities) of the input's shape.
        weight: optional (C,) per-class weights. reduction: 'none' | 'mean' | 'sum'.

    Returns:
        The loss (a scalar, or (N,) with 'none').

    Example:
        >>> F.multilabel_soft_margin_loss(cg.randn(2, 4), cg.tensor([[1.0, 0, 0, 1], [0, 1, 0, 0]]))
        tensor(...)
    """
    op = "multilabel_soft_margin_loss"
    reduction = _reduction(op, size_average, reduce, reduction)
    input = _float_input(op, "input", input)
    target = _tensor(op, "target", target, input)
    loss = -(target * A.logsigmoid(input) + (1 - target) * A.logsigmoid(-input))
    if weight is not None:
        loss = loss * _tensor(op, "weight", weight, input)
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return _reduce(loss, reduction)
