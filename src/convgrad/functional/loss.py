"""Loss functions (``torch.nn.functional`` names, arguments and defaults).

Classification
    cross_entropy is one fused Function: log-softmax and negative log-likelihood in one forward,
    and in one backward the gradient ``softmax(x) - onehot(y)`` (scaled by class weights, the
    label-smoothing mix and the reduction). Log-softmax subtracts the row maximum first
    (log-sum-exp), so logits of +-1e4 give finite losses and gradients.

    With label smoothing eps and C classes PyTorch mixes two losses per sample i:
        (1 - eps) * w[y_i] * (-log p_{i,y_i})  +  eps / C * sum_c w[c] * (-log p_{i,c})
    and 'mean' divides both by sum_i w[y_i] over the samples not equal to ignore_index.
    For class probabilities t the loss is -sum_c w[c] t'_{i,c} log p_{i,c} with
    t' = (1 - eps) t + eps / C, and 'mean' divides by the number of samples.

Regression and binary losses are elementwise ``l(x, t)`` followed by the reduction; each class
below gives the elementwise loss and its two partial derivatives side by side.
"""
import warnings

import numpy as np

from ..kernels.broadcast import sum_to_shape
from ..tensor import Function, Tensor
from ._util import ArgumentError, DTypeError, ShapeError, shape_str

_REDUCTIONS = ("none", "mean", "sum")


# ----------------------------------------------------------------------------------------------
# Shared helpers
# ----------------------------------------------------------------------------------------------
def _reduction(op, size_average, reduce, reduction, allowed=_REDUCTIONS):
    """Resolve PyTorch's legacy ``size_average``/``reduce`` flags and check ``reduction``."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
    if reduction not in allowed:
        names = ", ".join(repr(r) for r in allowed)
        raise ArgumentError(f"{op}: reduction must be one of {names}, got {reduction!r}")
    return reduction


def _as_tensor(op, name, value):
    if isinstance(value, Tensor):
        return value
    if value is None:
        raise DTypeError(f"{op}: {name} is required, got None")
    try:
        return Tensor(np.asarray(value))
    except (TypeError, ValueError) as e:
        raise DTypeError(f"{op}: expected {name} to be a Tensor or array, got {type(value).__name__}") from e


def _check_input(op, input, min_ndim=0):
    if not isinstance(input, Tensor):
        raise DTypeError(f"{op}: expected input to be a convgrad Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point input, got dtype {input.dtype}")
    if input.ndim < min_ndim:
        raise ShapeError(f"{op}: expected an input with at least {min_ndim} dimension(s), got "
                         f"{shape_str(input.shape)}")


def _to_rows(x):
    """(N, C, d1, ...) -> (M, C) with the class axis last; (C,) -> (1, C)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _from_rows(rows, shape):
    """Inverse of :func:`_to_rows` for an array of the input's shape."""
    if len(shape) <= 2:
        return rows.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(rows.reshape(moved), -1, 1)


def _row_grad(grad, reduction, denom, m):
    """The upstream gradient per row (sample) of a loss reduced over rows."""
    if reduction == "none":
        return grad.reshape(m)
    if reduction == "sum":
        return np.broadcast_to(grad, (m,))
    if denom == 0:  # every target ignored: the loss is NaN but, as in PyTorch, the gradient is 0
        return np.zeros(m, grad.dtype)
    return np.broadcast_to(grad / denom, (m,))


def _reduce_rows(loss, reduction, denom, shape):
    if reduction == "none":
        return loss.reshape(shape)
    total = loss.sum()
    if reduction == "sum":
        return np.asarray(total)
    if denom == 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(total / denom)
    return np.asarray(total / denom)


def _class_count(input):
    return input.shape[1] if input.ndim >= 2 else input.shape[0]


def _check_class_targets(op, input, target, ignore_index):
    """Integer targets of shape (N, d1, ...) with values in [0, C) (or equal to ignore_index)."""
    expected = tuple(input.shape[:1]) + tuple(input.shape[2:]) if input.ndim >= 2 else ()
    if target.dtype.kind not in "iu":
        raise DTypeError(f"{op}: expected class indices as an integer target of shape {shape_str(expected)} "
                        f"(or class probabilities of the input's shape {shape_str(input.shape)}), got "
                        f"{target.dtype} target of shape {shape_str(target.shape)}")
    if tuple(target.shape) != expected:
        raise ShapeError(f"{op}: expected target of shape {shape_str(expected)} for input of shape "
                         f"{shape_str(input.shape)}, got {shape_str(target.shape)}")
    c = _class_count(input)
    t = target._data
    if t.size == 0 or (t.min() >= 0 and t.max() < c):  # the common case, two reductions
        return
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise ArgumentError(f"{op}: expected class indices in [0, {c}), got {int(t[bad].reshape(-1)[0])}"
                            + (f" (ignore_index={ignore_index})" if ignore_index >= 0 else ""))


def _class_weight(op, weight, input):
    if weight is None:
        return None
    weight = _as_tensor(op, "weight", weight)
    c = _class_count(input)
    if weight.shape != (c,):
        raise ShapeError(f"{op}: expected weight of shape ({c},), one per class, got {shape_str(weight.shape)}")
    return weight._data.astype(input.dtype, copy=False)


# ----------------------------------------------------------------------------------------------
# Cross-entropy and negative log-likelihood
# ----------------------------------------------------------------------------------------------
class CrossEntropy(Function):
    """Fused log_softmax + nll_loss with class-index targets (weights, ignore_index, smoothing)."""

    @staticmethod
    def forward(ctx, x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        x2 = _to_rows(x)
        m, c = x2.shape
        t = target.reshape(-1)
        valid = t != ignore_index
        tc = np.where(valid, t, 0)
        rows = np.arange(m)
        shifted = x2 - x2.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        sum_e = e.sum(axis=1)
        log_sum = np.log(sum_e)
        coef = valid.astype(x.dtype) if weight is None else valid * weight[tc]
        loss = (log_sum - shifted[rows, tc]) * coef  # w[y] * -log p_y
        if label_smoothing > 0:
            logp = shifted - log_sum[:, None]
            smooth = -(logp.sum(axis=1) if weight is None else logp @ weight) * valid
            loss = (1 - label_smoothing) * loss + (label_smoothing / c) * smooth
        denom = coef.sum()
        ctx.softmax = e / sum_e[:, None]
        ctx.rows, ctx.tc, ctx.coef, ctx.valid, ctx.denom = rows, tc, coef, valid, denom
        ctx.weight, ctx.reduction, ctx.eps, ctx.x_shape = weight, reduction, label_smoothing, x.shape
        return _reduce_rows(loss, reduction, denom, target.shape)

    @staticmethod
    def backward(ctx, grad):
        p, rows, tc = ctx.softmax, ctx.rows, ctx.tc
        m, c = p.shape
        g = _row_grad(grad, ctx.reduction, ctx.denom, m)
        eps = ctx.eps
        a = g * ctx.coef if eps == 0 else g * ((1 - eps) * ctx.coef)
        if eps == 0:
            gx = p * a[:, None]
        else:
            b = g * ((eps / c) * ctx.valid.astype(p.dtype))
            w_sum = c if ctx.weight is None else ctx.weight.sum()
            gx = p * (a + b * w_sum)[:, None]
            gx -= b[:, None] * (1 if ctx.weight is None else ctx.weight)
        gx[rows, tc] -= a
        return _from_rows(gx, ctx.x_shape), None

    @staticmethod
    def output_shape(x_shape, t_shape, reduction="mean", **kwargs):
        return tuple(t_shape) if reduction == "none" else ()


class CrossEntropyProbs(Function):
    """Cross-entropy against class probabilities (soft targets), fused with log-softmax."""

    @staticmethod
    def forward(ctx, x, target, weight=None, reduction="mean", label_smoothing=0.0):
        x2, t2 = _to_rows(x), _to_rows(target)
        m, c = x2.shape
        shifted = x2 - x2.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        sum_e = e.sum(axis=1, keepdims=True)
        logp = shifted - np.log(sum_e)
        t_mix = t2 if label_smoothing == 0 else (1 - label_smoothing) * t2 + label_smoothing / c
        wt = t_mix if weight is None else t_mix * weight
        loss = -(wt * logp).sum(axis=1)
        ctx.softmax, ctx.logp, ctx.wt = e / sum_e, logp, wt
        ctx.weight, ctx.reduction, ctx.eps, ctx.shapes = weight, reduction, label_smoothing, (x.shape, target.shape)
        out_shape = (x.shape[0],) + tuple(x.shape[2:]) if x.ndim >= 2 else ()
        return _reduce_rows(loss, reduction, m, out_shape)

    @staticmethod
    def backward(ctx, grad):
        m = ctx.softmax.shape[0]
        g = _row_grad(grad, ctx.reduction, m, m)[:, None]
        nx, nt = ctx.needs_input_grad[:2]
        gx = gt = None
        if nx:  # d/dx_j = (sum_c w_c t'_c) p_j - w_j t'_j
            gx = _from_rows(g * (ctx.softmax * ctx.wt.sum(axis=1, keepdims=True) - ctx.wt), ctx.shapes[0])
        if nt:  # d/dt_c = -(1 - eps) w_c log p_c
            scale = -(1 - ctx.eps) if ctx.weight is None else -(1 - ctx.eps) * ctx.weight
            gt = _from_rows(g * scale * ctx.logp, ctx.shapes[1])
        return gx, gt

    @staticmethod
    def output_shape(x_shape, t_shape, reduction="mean", **kwargs):
        if reduction != "none":
            return ()
        return (x_shape[0],) + tuple(x_shape[2:]) if len(x_shape) >= 2 else ()


class NLLLoss(Function):
    """-w[y] * input[y] for log-probability inputs; the gradient is -w[y] at the target class."""

    @staticmethod
    def forward(ctx, x, target, weight=None, ignore_index=-100, reduction="mean"):
        x2 = _to_rows(x)
        m = x2.shape[0]
        t = target.reshape(-1)
        valid = t != ignore_index
        tc = np.where(valid, t, 0)
        rows = np.arange(m)
        coef = valid.astype(x.dtype) if weight is None else valid * weight[tc]
        loss = -x2[rows, tc] * coef
        denom = coef.sum()
        ctx.rows, ctx.tc, ctx.coef, ctx.denom = rows, tc, coef, denom
        ctx.reduction, ctx.x_shape, ctx.rows_shape = reduction, x.shape, x2.shape
        return _reduce_rows(loss, reduction, denom, target.shape)

    @staticmethod
    def backward(ctx, grad):
        m = ctx.rows_shape[0]
        g = _row_grad(grad, ctx.reduction, ctx.denom, m)
        gx = np.zeros(ctx.rows_shape, dtype=grad.dtype)
        gx[ctx.rows, ctx.tc] = -g * ctx.coef
        return _from_rows(gx, ctx.x_shape), None

    @staticmethod
    def output_shape(x_shape, t_shape, reduction="mean", **kwargs):
        return tuple(t_shape) if reduction == "none" else ()


def _check_label_smoothing(op, label_smoothing):
    label_smoothing = float(label_smoothing)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ArgumentError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    return label_smoothing


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross-entropy between logits and class indices or class probabilities.

    Shape:
        input (N, C), (C,) or (N, C, d1, ...): unnormalised scores (logits).
        target: class indices (N,), () or (N, d1, ...) of an integer dtype, values in [0, C) or
        equal to ``ignore_index``; or class probabilities of the input's shape (float).
        weight (C,): a rescaling weight per class.
        output: a scalar, or per-sample losses of the target's shape with ``reduction='none'``.

    Raises:
        ShapeError / TypeError / ArgumentError naming what was expected, e.g.
        ``cross_entropy: expected class indices in [0, 10), got 12``.
    """
    op = "cross_entropy"
    _check_input(op, input, min_ndim=1)
    target = _as_tensor(op, "target", target)
    reduction = _reduction(op, size_average, reduce, reduction)
    label_smoothing = _check_label_smoothing(op, label_smoothing)
    w = _class_weight(op, weight, input)
    if target.dtype.kind == "f" and tuple(target.shape) == tuple(input.shape):
        if ignore_index >= 0:
            raise ArgumentError(f"{op}: ignore_index is not supported for class-probability targets, "
                                f"got ignore_index={ignore_index}")
        if target.dtype != input.dtype:
            target = target.to(input.dtype)
        return CrossEntropyProbs.apply(input, target, weight=w, reduction=reduction,
                                       label_smoothing=label_smoothing)
    _check_class_targets(op, input, target, ignore_index)
    return CrossEntropy.apply(input, target, weight=w, ignore_index=ignore_index, reduction=reduction,
                              label_smoothing=label_smoothing)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of class indices given log-probabilities (e.g. from log_softmax).

    Shape: input (N, C), (C,) or (N, C, d1, ...); target (N,), () or (N, d1, ...) integer.
    """
    op = "nll_loss"
    _check_input(op, input, min_ndim=1)
    target = _as_tensor(op, "target", target)
    reduction = _reduction(op, size_average, reduce, reduction)
    w = _class_weight(op, weight, input)
    _check_class_targets(op, input, target, ignore_index)
    return NLLLoss.apply(input, target, weight=w, ignore_index=ignore_index, reduction=reduction)


# ----------------------------------------------------------------------------------------------
# Elementwise losses
# ----------------------------------------------------------------------------------------------
class _PointwiseLoss(Function):
    """``reduce(weight * l(x, t))``. Subclasses define ``elementwise(ctx, x, t, **options)`` and
    ``partials(ctx, x, t) -> (dl/dx, dl/dt)`` (either may be None when not needed)."""

    @classmethod
    def forward(cls, ctx, x, t, reduction="mean", weight=None, mean_over_weight=False, **options):
        loss = cls.elementwise(ctx, x, t, **options)
        if weight is not None:
            loss = loss * weight
        ctx.x, ctx.t, ctx.weight, ctx.reduction, ctx.loss_shape = x, t, weight, reduction, loss.shape
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "sum":
            return np.asarray(total)
        if reduction == "batchmean":
            ctx.count = x.shape[0] if x.ndim else 1
        else:  # PyTorch's weighted mse/l1 'mean' is sum(w * l) / sum(w)
            ctx.count = weight.sum() if mean_over_weight and weight is not None else loss.size
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(total / ctx.count)

    @classmethod
    def backward(cls, ctx, grad):
        if ctx.reduction in ("mean", "batchmean"):
            with np.errstate(divide="ignore", invalid="ignore"):
                grad = grad / ctx.count
        g = np.broadcast_to(grad, ctx.loss_shape)
        if ctx.weight is not None:
            g = g * ctx.weight
        nx, nt = ctx.needs_input_grad[:2]
        dx, dt = cls.partials(ctx, ctx.x, ctx.t, nx, nt)
        gx = sum_to_shape(g * dx, ctx.x.shape) if nx else None
        gt = sum_to_shape(g * dt, ctx.t.shape) if nt else None
        return gx, gt

    @staticmethod
    def output_shape(x_shape, t_shape, reduction="mean", **kwargs):
        return tuple(np.broadcast_shapes(tuple(x_shape), tuple(t_shape))) if reduction == "none" else ()


class MSELoss(_PointwiseLoss):
    """(x - t)^2; d/dx = 2 (x - t)."""

    @staticmethod
    def elementwise(ctx, x, t):
        d = x - t
        ctx.d = d
        return d * d

    @staticmethod
    def partials(ctx, x, t, nx, nt):
        dx = 2 * ctx.d
        return dx, -dx


class L1Loss(_PointwiseLoss):
    """|x - t|; d/dx = sign(x - t) (0 where equal)."""

    @staticmethod
    def elementwise(ctx, x, t):
        d = x - t
        ctx.d = d
        return np.abs(d)

    @staticmethod
    def partials(ctx, x, t, nx, nt):
        s = np.sign(ctx.d)
        return s, -s


class SmoothL1Loss(_PointwiseLoss):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; d/dx = clip(d / beta, -1, 1)."""

    @staticmethod
    def elementwise(ctx, x, t, beta=1.0):
        d = x - t
        ad = np.abs(d)
        ctx.d, ctx.beta = d, beta
        if beta == 0:
            return ad
        return np.where(ad < beta, (0.5 / beta) * d * d, ad - 0.5 * beta)

    @staticmethod
    def partials(ctx, x, t, nx, nt):
        d, beta = ctx.d, ctx.beta
        s = np.sign(d) if beta == 0 else np.clip(d / beta, -1, 1)
        return s, -s


class HuberLoss(_PointwiseLoss):
    """0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta); d/dx = clip(d, -delta, delta)."""

    @staticmethod
    def elementwise(ctx, x, t, delta=1.0):
        d = x - t
        ad = np.abs(d)
        ctx.d, ctx.delta = d, delta
        return np.where(ad <= delta, 0.5 * d * d, delta * (ad - 0.5 * delta))

    @staticmethod
    def partials(ctx, x, t, nx, nt):
        s = np.clip(ctx.d, -ctx.delta, ctx.delta)
        return s, -s


class BinaryCrossEntropy(_PointwiseLoss):
    """-(t log x + (1 - t) log(1 - x)) with each log clamped to >= -100 (PyTorch's rule, so x = 0
    or 1 gives 100 instead of inf). d/dx = (x - t) / max(x (1 - x), 1e-12); d/dt = log(1-x) - log(x)."""

    @staticmethod
    def elementwise(ctx, x, t):
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        return -(t * log_x + (1 - t) * log_1mx)

    @staticmethod
    def partials(ctx, x, t, nx, nt):
        dx = (x - t) / np.maximum(x * (1 - x), 1e-12) if nx else None
        dt = None
        if nt:
            with np.errstate(divide="ignore"):
                dt = np.log1p(-x) - np.log(x)
        return dx, dt


class BinaryCrossEntropyWithLogits(_PointwiseLoss):
    """BCE of sigmoid(x) computed from the logit x without overflow:
        l = (1 - t) x + lw * softplus(-x),   lw = 1 + (pos_weight - 1) t
    with softplus(-x) = max(-x, 0) + log1p(exp(-|x|)).
    d/dx = (1 - t) - lw * sigmoid(-x);  d/dt = -x + (pos_weight - 1) softplus(-x)."""

    @staticmethod
    def elementwise(ctx, x, t, pos_weight=None):
        sp_neg = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))
        ctx.sp_neg, ctx.pos_weight = sp_neg, pos_weight
        lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
        ctx.lw = lw
        return (1 - t) * x + lw * sp_neg

    @staticmethod
    def partials(ctx, x, t, nx, nt):
        dx = dt = None
        if nx:
            e = np.exp(-np.abs(x))
            sig_neg = np.where(x >= 0, e / (1 + e), 1 / (1 + e))  # sigmoid(-x), stable
            dx = (1 - t) - ctx.lw * sig_neg
        if nt:
            dt = -x if ctx.pos_weight is None else -x + (ctx.pos_weight - 1) * ctx.sp_neg
        return dx, dt


class KLDiv(_PointwiseLoss):
    """Pointwise t (log t - x) (``input`` holds log-probabilities), or e^t (t - x) with log_target.

    ``t log t`` is PyTorch's ``xlogy(t, t)``: 0 where t = 0, NaN where t < 0 (a negative
    probability has no logarithm), so negative targets give NaN as in PyTorch. Its derivative
    ``log t + 1`` is NaN at t = 0 too (PyTorch's xlogy rule: 0 / 0)."""

    @staticmethod
    def elementwise(ctx, x, t, log_target=False):
        ctx.log_target = log_target
        if log_target:
            et = np.exp(t)
            ctx.et = et
            return et * (t - x)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_log_t = np.where(t == 0, 0, t * np.log(np.where(t > 0, t, np.nan)))
        return t_log_t - t * x

    @staticmethod
    def partials(ctx, x, t, nx, nt):
        if ctx.log_target:
            return -ctx.et, (ctx.et * (t - x + 1) if nt else None)
        dt = None
        if nt:
            with np.errstate(divide="ignore", invalid="ignore"):
                dt = np.where(t == 0, np.nan, np.log(t) + 1) - x
        return -np.broadcast_to(t, np.broadcast_shapes(x.shape, t.shape)), dt


def _check_pair(op, input, target, same_shape=False):
    """``input`` and ``target`` as float tensors of one dtype; broadcast shapes warn, like PyTorch."""
    _check_input(op, input)
    target = _as_tensor(op, "target", target)
    if target.dtype.kind not in "fb" and target.dtype.kind not in "iu":
        raise DTypeError(f"{op}: expected a numeric target, got dtype {target.dtype}")
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    if tuple(target.shape) != tuple(input.shape):
        if same_shape:
            raise ShapeError(f"{op}: expected target of the input's shape {shape_str(input.shape)}, got "
                             f"{shape_str(target.shape)}")
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ShapeError(f"{op}: target of shape {shape_str(target.shape)} does not broadcast with input "
                             f"of shape {shape_str(input.shape)}") from None
        warnings.warn(f"{op}: target size {shape_str(target.shape)} differs from input size "
                      f"{shape_str(input.shape)}; they will be broadcast, which is likely not what you want.",
                      stacklevel=3)
    return target


def _elementwise_weight(op, weight, input, same_shape=False):
    if weight is None:
        return None
    weight = _as_tensor(op, "weight", weight)
    if same_shape and tuple(weight.shape) != tuple(input.shape):
        raise ShapeError(f"{op}: expected weight of the input's shape {shape_str(input.shape)}, got "
                         f"{shape_str(weight.shape)}")
    try:
        np.broadcast_to(weight._data, input.shape)
    except ValueError:
        raise ShapeError(f"{op}: weight of shape {shape_str(weight.shape)} does not broadcast to the input's "
                         f"shape {shape_str(input.shape)}") from None
    return weight._data.astype(input.dtype, copy=False)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error (x - t)^2.

    ``weight`` (optional, the input's shape) rescales each element; then 'mean' is
    sum(w (x - t)^2) / sum(w), as in PyTorch.
    """
    op = "mse_loss"
    target = _check_pair(op, input, target)
    reduction = _reduction(op, size_average, reduce, reduction)
    return MSELoss.apply(input, target, reduction=reduction, mean_over_weight=True,
                        weight=_elementwise_weight(op, weight, input, same_shape=True))


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error |x - t|."""
    op = "l1_loss"
    target = _check_pair(op, input, target)
    reduction = _reduction(op, size_average, reduce, reduction)
    return L1Loss.apply(input, target, reduction=reduction, mean_over_weight=True,
                        weight=_elementwise_weight(op, weight, input, same_shape=True))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Quadratic for |x - t| < beta, linear beyond (Fast R-CNN's loss); beta=0 is l1_loss."""
    op = "smooth_l1_loss"
    target = _check_pair(op, input, target)
    reduction = _reduction(op, size_average, reduce, reduction)
    beta = float(beta)
    if not beta >= 0:
        raise ArgumentError(f"{op}: beta must be non-negative, got {beta}")
    return SmoothL1Loss.apply(input, target, reduction=reduction, beta=beta)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """Quadratic for |x - t| <= delta, then linear with slope delta (= delta * smooth_l1 with beta=delta)."""
    op = "huber_loss"
    target = _check_pair(op, input, target)
    reduction = _reduction(op, None, None, reduction)
    delta = float(delta)
    if not delta > 0:
        raise ArgumentError(f"{op}: delta must be positive, got {delta}")
    return HuberLoss.apply(input, target, reduction=reduction, delta=delta,
                           weight=_elementwise_weight(op, weight, input, same_shape=True))


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """BCE between probabilities ``input`` in [0, 1] and targets of the same shape.

    Prefer :func:`binary_cross_entropy_with_logits` on raw scores: it is exact where sigmoid
    saturates.
    """
    op = "binary_cross_entropy"
    target = _check_pair(op, input, target, same_shape=True)
    reduction = _reduction(op, size_average, reduce, reduction)
    x = input._data
    if x.size and not (np.all(x >= 0) and np.all(x <= 1)):  # also catches NaN
        bad = x[~((x >= 0) & (x <= 1))].reshape(-1)[0]
        raise ArgumentError(f"{op}: all elements of input should be between 0 and 1 (probabilities), got "
                            f"{float(bad)}; use binary_cross_entropy_with_logits on raw scores")
    t = target._data
    if t.size and not (np.all(t >= 0) and np.all(t <= 1)):  # PyTorch's rule for the target too
        bad = t[~((t >= 0) & (t <= 1))].reshape(-1)[0]
        raise ArgumentError(f"{op}: all elements of target should be between 0 and 1, got {float(bad)}")
    return BinaryCrossEntropy.apply(input, target, reduction=reduction,
                                    weight=_elementwise_weight(op, weight, input))


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """sigmoid + BCE in one stable formula. ``pos_weight`` (broadcast along the last axis, one per
    class) multiplies the positive term: > 1 raises recall, < 1 raises precision."""
    op = "binary_cross_entropy_with_logits"
    target = _check_pair(op, input, target, same_shape=True)
    reduction = _reduction(op, size_average, reduce, reduction)
    pw = None
    if pos_weight is not None:
        pw = _as_tensor(op, "pos_weight", pos_weight)
        try:
            np.broadcast_to(pw._data, input.shape)
        except ValueError:
            raise ShapeError(f"{op}: pos_weight of shape {shape_str(pw.shape)} does not broadcast to the "
                             f"input's shape {shape_str(input.shape)} (expected one value per class, "
                             f"the last dimension)") from None
        pw = pw._data.astype(input.dtype, copy=False)
    return BinaryCrossEntropyWithLogits.apply(input, target, reduction=reduction, pos_weight=pw,
                                              weight=_elementwise_weight(op, weight, input))


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence KL(target || exp(input)); ``input`` holds log-probabilities.

    ``reduction='batchmean'`` (sum / batch size) is the mathematically correct KL; 'mean' divides by
    the number of elements and warns, as in PyTorch.
    """
    op = "kl_div"
    target = _check_pair(op, input, target)
    reduction = _reduction(op, size_average, reduce, reduction, allowed=_REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size and the "
                      "support size; 'batchmean' divides only by the batch size and matches the KL "
                      "definition.", stacklevel=2)
    return KLDiv.apply(input, target, reduction=reduction, log_target=bool(log_target))
