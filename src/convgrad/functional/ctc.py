"""``ctc_loss``: Connectionist Temporal Classification (Graves et al. 2006), PyTorch's arguments.

A target ``l`` of length S is extended with blanks to ``l' = (blank, l1, blank, l2, ..., lS, blank)``
(length 2S + 1). With ``y_t(k) = log_probs[t, k]`` the forward variables in log space are::

    alpha_0(0) = y_0(blank),  alpha_0(1) = y_0(l1),  alpha_0(s) = -inf otherwise
    alpha_t(s) = y_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2))

where the s-2 term is allowed only for a label ``l'_s`` different from ``l'_{s-2}`` (a repeated
label needs a blank between). The loss is ``-log p(l | x) = -logsumexp(alpha_{T-1}(2S), alpha_{T-1}(2S-1))``
with T the sample's input length. The backward variables beta run the same recursion from the end;
both include ``y_t(l'_s)``, so with ``lcab_t(k) = logsumexp_{s: l'_s = k} (alpha_t(s) + beta_t(s))``
PyTorch's gradient is::

    d loss / d log_probs[t, k] = exp(y_t(k)) - exp(lcab_t(k) + loss - y_t(k))      (t < T, else 0)

This is the gradient with respect to the logits when ``log_probs = log_softmax(logits)`` (the
``exp(y)`` term is what the softmax adds), PyTorch's convention, which it applies to
``log_probs`` itself; through a log_softmax the two agree. Both recursions are vectorised over
the batch (one NumPy step per time step, in float64).

Reductions: 'none' gives one loss per sample; 'mean' divides each by its target length (at
least 1) and averages over the batch; 'sum' adds them. ``zero_infinity`` replaces infinite losses
(targets too long for their inputs) and their gradients by zero.
"""
import numpy as np

from ..tensor import Function, Tensor
from ._util import ArgumentError, DTypeError, ShapeError, shape_str
from .loss import _reduction

NEG_INF = -np.inf


def _logsumexp3(a, b, c):
    m = np.maximum(np.maximum(a, b), c)
    safe = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(a - safe) + np.exp(b - safe) + np.exp(c - safe)) + safe


def _shift(x, k):
    """x[..., s - k] along the last axis, -inf where s - k < 0 (k > 0) or s - k >= L (k < 0)."""
    out = np.full_like(x, NEG_INF)
    if k > 0:
        out[..., k:] = x[..., :-k]
    else:
        out[..., :k] = x[..., -k:]
    return out


def _extended(targets, target_lengths, blank):
    """l' per sample (N, 2 S_max + 1), which positions exist, and where the s-2 skip is allowed."""
    n, s_max = targets.shape
    length = 2 * s_max + 1
    ext = np.full((n, length), blank, dtype=np.int64)
    ext[:, 1::2] = targets
    valid = np.arange(length)[None, :] < (2 * target_lengths + 1)[:, None]
    skip = np.zeros((n, length), dtype=bool)
    skip[:, 3::2] = ext[:, 3::2] != ext[:, 1:-2:2]
    return ext, valid, skip


def ctc_forward_backward(lp, targets, input_lengths, target_lengths, blank):
    """Negative log-likelihoods (N,) and PyTorch's gradient of each with respect to ``lp`` (T, N, C)."""
    t_max, n, c = lp.shape
    ext, valid, skip = _extended(targets, target_lengths, blank)
    lp_ext = np.take_along_axis(lp, np.broadcast_to(ext[None], (t_max,) + ext.shape), axis=2)  # (T, N, L)
    rows = np.arange(n)
    last = 2 * target_lengths  # index of the final blank of l'
    alpha = np.full(lp_ext.shape, NEG_INF)
    alpha[0, :, 0] = lp_ext[0, :, 0]
    if lp_ext.shape[2] > 1:  # some target is non-empty
        alpha[0, :, 1] = np.where(target_lengths > 0, lp_ext[0, :, 1], NEG_INF)
    alpha[0][~valid] = NEG_INF
    for t in range(1, t_max):
        a = alpha[t - 1]
        step = _logsumexp3(a, _shift(a, 1), np.where(skip, _shift(a, 2), NEG_INF)) + lp_ext[t]
        alpha[t] = np.where(valid, step, NEG_INF)
    end = np.clip(input_lengths - 1, 0, None)
    final = alpha[end, rows]
    before_last = np.where(target_lengths > 0, final[rows, np.maximum(last - 1, 0)], NEG_INF)
    ll = np.logaddexp(final[rows, last], before_last)
    ll = np.where(input_lengths > 0, ll, np.where(target_lengths == 0, 0.0, NEG_INF))
    nll = -ll

    beta = np.full(lp_ext.shape, NEG_INF)
    skip_next = _shift(skip.astype(float), -2) > 0  # the s+2 skip from s is allowed iff skip[s + 2]
    init = np.full((n, lp_ext.shape[2]), NEG_INF)
    for t in range(t_max - 1, -1, -1):
        starting = (input_lengths - 1) == t
        init.fill(NEG_INF)
        init[rows, last] = lp_ext[t, rows, last]
        init[rows, np.maximum(last - 1, 0)] = np.where(target_lengths > 0, lp_ext[t, rows, np.maximum(last - 1, 0)],
                                                       init[rows, np.maximum(last - 1, 0)])
        if t + 1 < t_max:
            b = beta[t + 1]
            step = _logsumexp3(b, _shift(b, -1), np.where(skip_next, _shift(b, -2), NEG_INF)) + lp_ext[t]
        else:
            step = np.full_like(init, NEG_INF)
        inside = (t < input_lengths - 1)[:, None]
        beta[t] = np.where(valid, np.where(starting[:, None], init, np.where(inside, step, NEG_INF)), NEG_INF)

    # lcab_t(k) = logsumexp over the positions s of l' holding k of alpha_t(s) + beta_t(s)
    ab = alpha + beta
    top = ab.max(axis=2, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    onehot = np.zeros((n, lp_ext.shape[2], c))
    onehot[rows[:, None], np.arange(lp_ext.shape[2])[None, :], ext] = 1
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        summed = np.einsum("tns,nsc->tnc", np.exp(ab - top), onehot)
        lcab = np.log(summed) + top
        grad = np.exp(lp) - np.exp(lcab + nll[None, :, None] - lp)
    grad[np.arange(t_max)[:, None] >= input_lengths[None, :]] = 0
    return nll, grad


class CTCLoss(Function):
    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
                zero_infinity=False, unbatched=False):
        lp = log_probs.astype(np.float64)
        if unbatched:  # (T, C): one sample
            lp = lp[:, None, :]
        nll, grad = ctc_forward_backward(lp, targets, input_lengths, target_lengths, blank)
        if zero_infinity:
            inf = np.isinf(nll)
            nll = np.where(inf, 0.0, nll)
            grad[:, inf] = 0
        ctx.grad, ctx.reduction, ctx.dtype = grad, reduction, log_probs.dtype
        ctx.scale = 1.0 / np.maximum(target_lengths, 1) / len(nll)
        ctx.unbatched = unbatched
        if reduction == "none":
            return (nll[0] if unbatched else nll).astype(log_probs.dtype)
        if reduction == "sum":
            return np.asarray(nll.sum(), dtype=log_probs.dtype)
        return np.asarray((nll * ctx.scale).sum(), dtype=log_probs.dtype)

    @staticmethod
    def backward(ctx, grad):
        if ctx.reduction == "none":
            per_sample = np.reshape(grad, (-1,))
        elif ctx.reduction == "sum":
            per_sample = np.broadcast_to(grad, ctx.scale.shape)
        else:
            per_sample = grad * ctx.scale
        g = ctx.grad * per_sample[None, :, None]
        g = g[:, 0] if ctx.unbatched else g
        return (g.astype(ctx.dtype), None, None, None)


def _lengths(op, name, value, n):
    arr = value._data if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"{op}: expected integer {name}, got dtype {arr.dtype}")
    arr = arr.astype(np.int64).reshape(-1)
    if arr.size != n:
        raise ShapeError(f"{op}: expected {n} {name} (one per sample), got {arr.size}")
    if arr.size and arr.min() < 0:
        raise ArgumentError(f"{op}: {name} must be non-negative, got {int(arr.min())}")
    return arr


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist Temporal Classification loss of unsegmented label sequences.

    Args:
        log_probs: (T, N, C) or unbatched (T, C) log-probabilities (e.g. ``log_softmax(x, 2)``).
        targets: (N, S) padded class indices, or the N targets concatenated (sum(target_lengths),);
            unbatched: (S,). Values in [0, C), never ``blank``.
        input_lengths: (N,) lengths of the inputs (each <= T); a number when unbatched.
        target_lengths: (N,) lengths of the targets; a number when unbatched.
        blank: the blank class. Default 0.
        reduction: 'none' | 'mean' (each loss divided by its target length, then averaged) | 'sum'.
        zero_infinity: replace infinite losses (impossible alignments) and their gradients by 0.

    Returns:
        A scalar, or (N,) with reduction='none' (a 0-d tensor unbatched).

    Raises:
        ShapeError / DTypeError / ArgumentError: mis-shaped inputs, lengths past T or S, a blank
        outside [0, C), target classes outside [0, C).

    Example:
        >>> lp = convgrad.randn(50, 4, 20).log_softmax(2)
        >>> loss = F.ctc_loss(lp, convgrad.randint(1, 20, (4, 10)), [50] * 4, [10, 8, 9, 10])
    """
    op = "ctc_loss"
    reduction = _reduction(op, None, None, reduction)
    if not isinstance(log_probs, Tensor) or log_probs.dtype.kind != "f":
        raise DTypeError(f"{op}: expected floating point log_probs tensor, got "
                         f"{getattr(log_probs, 'dtype', type(log_probs).__name__)}")
    unbatched = log_probs.ndim == 2
    if log_probs.ndim not in (2, 3):
        raise ShapeError(f"{op}: expected log_probs of shape (T, N, C) or (T, C), got {shape_str(log_probs.shape)}")
    t_max, c = log_probs.shape[0], log_probs.shape[-1]
    n = 1 if unbatched else log_probs.shape[1]
    if not 0 <= blank < c:
        raise ArgumentError(f"{op}: blank must be in [0, {c}), got {blank}")
    tg = targets._data if isinstance(targets, Tensor) else np.asarray(targets)
    if tg.dtype.kind not in "iu":
        raise DTypeError(f"{op}: expected integer targets, got dtype {tg.dtype}")
    il = _lengths(op, "input_lengths", input_lengths, n)
    tl = _lengths(op, "target_lengths", target_lengths, n)
    if il.size and il.max() > t_max:
        raise ArgumentError(f"{op}: input_lengths must be at most T={t_max}, got {int(il.max())}")
    if unbatched:
        tg = tg.reshape(1, -1)
    if tg.ndim == 1:  # concatenated targets
        if tg.size != tl.sum():
            raise ShapeError(f"{op}: concatenated targets must hold sum(target_lengths)={int(tl.sum())} labels, "
                             f"got {tg.size}")
        padded = np.zeros((n, max(int(tl.max()) if n else 0, 0)), np.int64)
        starts = np.concatenate([[0], np.cumsum(tl)[:-1]]).astype(np.int64)
        for i in range(n):
            padded[i, :tl[i]] = tg[starts[i]:starts[i] + tl[i]]
        tg = padded
    elif tg.ndim != 2 or tg.shape[0] != n:
        raise ShapeError(f"{op}: expected targets of shape ({n}, S) or concatenated (sum(target_lengths),), "
                         f"got {shape_str(tg.shape)}")
    elif tl.size and tl.max() > tg.shape[1]:
        raise ArgumentError(f"{op}: target_lengths must be at most S={tg.shape[1]}, got {int(tl.max())}")
    tg = tg.astype(np.int64)
    used = np.arange(tg.shape[1])[None, :] < tl[:, None]
    if np.any(used & ((tg < 0) | (tg >= c))):
        raise ArgumentError(f"{op}: target classes must be in [0, {c}), got {int(tg[used & ((tg < 0) | (tg >= c))][0])}")
    tg = np.where(used, tg, blank)
    return CTCLoss.apply(log_probs, tg, il, tl, blank=int(blank), reduction=reduction,
                         zero_infinity=bool(zero_infinity), unbatched=unbatched)
