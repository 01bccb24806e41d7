"""CTC loss: PyTorch parity (values and gradients) over randomized input and target lengths,
blank index, reduction, zero_infinity, padded and concatenated targets, batched and unbatched,
float32/float64; a brute-force sum over every alignment; finite differences through log_softmax;
errors."""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.nn as nn
import convgrad.nn.functional as F
from convgrad.errors import ArgumentError, ShapeError
from oracle import check_against_torch, check_gradient

DTYPES = [np.float32, np.float64]


def _problem(seed, impossible=False):
    """Random log-probabilities and targets: T, N, C, lengths and the blank index all vary."""
    rng = np.random.default_rng(seed)
    t_max, n, c = int(rng.integers(1, 12)), int(rng.integers(1, 5)), int(rng.integers(2, 7))
    blank = int(rng.integers(0, c))
    labels = [k for k in range(c) if k != blank]
    input_lengths = rng.integers(1, t_max + 1, n)
    input_lengths[0] = t_max
    s_max = int(rng.integers(0, t_max + 1))
    target_lengths = rng.integers(0, s_max + 1, n)
    if not impossible:  # a target needs T >= S + (number of repeats)
        target_lengths = np.minimum(target_lengths, (input_lengths + 1) // 2)
    targets = rng.choice(labels, (n, max(s_max, 1)))
    if rng.random() < 0.5 and targets.size > 1:
        targets[:, 1::2] = targets[:, ::2][:, :targets[:, 1::2].shape[1]]  # repeated labels
    logits = rng.standard_normal((t_max, n, c)) * 2
    lp = logits - np.log(np.exp(logits).sum(2, keepdims=True))
    return lp, targets[:, :max(s_max, 1)], input_lengths, target_lengths, blank


CASES = [(seed, red, zi, impossible) for seed, (red, zi, impossible) in
         enumerate(itertools.product(["none", "mean", "sum"], [False, True], [False, True, False]))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed,reduction,zero_infinity,impossible", CASES)
def test_ctc_loss_matches_torch(seed, reduction, zero_infinity, impossible, dtype):
    lp, targets, il, tl, blank = _problem(seed, impossible)
    kw = dict(blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    ours = F.ctc_loss(cg.tensor(lp.astype(dtype)), cg.tensor(targets), il, tl, **kw)
    ref = TF.ctc_loss(torch.tensor(lp.astype(dtype)), torch.tensor(targets), torch.tensor(il), torch.tensor(tl), **kw)
    if not np.all(np.isfinite(ref.detach().numpy())):  # infinite losses (NaN gradients): compare values only
        np.testing.assert_array_equal(np.isinf(ours.numpy()), np.isinf(ref.numpy()))
        return
    check_against_torch(lambda x: F.ctc_loss(x, cg.tensor(targets), il, tl, **kw),
                        lambda x: TF.ctc_loss(x, torch.tensor(targets), torch.tensor(il), torch.tensor(tl), **kw),
                        [lp], dtype=dtype, name="ctc_loss")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("seed", range(4))
def test_ctc_concatenated_targets_and_module(seed, dtype):
    lp, targets, il, tl, blank = _problem(100 + seed)
    flat = np.concatenate([targets[i, :tl[i]] for i in range(len(tl))]).astype(np.int64)
    ours, ref = nn.CTCLoss(blank=blank, zero_infinity=True), torch.nn.CTCLoss(blank=blank, zero_infinity=True)
    check_against_torch(lambda x: ours(x, cg.tensor(flat), cg.tensor(il), cg.tensor(tl)),
                        lambda x: ref(x, torch.tensor(flat), torch.tensor(il), torch.tensor(tl)), [lp],
                        dtype=dtype, name="CTCLoss")


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_ctc_unbatched_matches_torch(reduction):
    lp, targets, il, tl, blank = _problem(7)
    lp1, t1 = lp[:, 0], targets[0, :tl[0]]
    kw = dict(blank=blank, reduction=reduction)
    check_against_torch(lambda x: F.ctc_loss(x, cg.tensor(t1), int(il[0]), int(tl[0]), **kw),
                        lambda x: TF.ctc_loss(x, torch.tensor(t1), torch.tensor(int(il[0])),
                                              torch.tensor(int(tl[0])), **kw),
                        [lp1], dtype=np.float64, name="ctc_loss")


def _collapse(path, blank):
    out, prev = [], None
    for k in path:
        if k != prev and k != blank:
            out.append(k)
        prev = k
    return out


@pytest.mark.parametrize("target,blank", [([1, 2], 0), ([2, 2], 0), ([], 1), ([0, 1, 0], 2), ([1], 0)])
def test_ctc_equals_the_sum_over_every_alignment(target, blank):
    """-log of the total probability of the paths that collapse to the target, by enumeration."""
    t_max, c = 5, 3
    lp = np.log(np.random.default_rng(len(target)).dirichlet(np.ones(c), t_max))
    total = sum(math.exp(sum(lp[t, k] for t, k in enumerate(path)))
                for path in itertools.product(range(c), repeat=t_max) if _collapse(path, blank) == target)
    ours = F.ctc_loss(cg.tensor(lp[:, None, :]), cg.tensor(np.array([target or [0]])), [t_max], [len(target)],
                      blank=blank, reduction="sum")
    assert math.isclose(ours.item(), -math.log(total), rel_tol=1e-12)


def test_ctc_gradient_by_finite_differences_through_log_softmax():
    """PyTorch's CTC gradient is the gradient with respect to the logits of a log_softmax: through
    one, finite differences of the true loss agree with it."""
    lp, targets, il, tl, blank = _problem(3)
    targets_t = cg.tensor(targets)
    logits_shape = lp.shape
    assert check_gradient(lambda x: F.ctc_loss(F.log_softmax(x, 2), targets_t, il, tl, blank=blank,
                                               reduction="sum"), [logits_shape])


@pytest.mark.parametrize("call,error,words", [
    (lambda: F.ctc_loss(cg.randn(5, 2, 3), cg.tensor([[1, 2], [1, 1]]), [5, 6], [2, 2]), ArgumentError,
     ["input_lengths", "T=5", "6"]),
    (lambda: F.ctc_loss(cg.randn(5, 2, 3), cg.tensor([[1, 2], [1, 1]]), [5, 5], [2, 3]), ArgumentError,
     ["target_lengths", "S=2"]),
    (lambda: F.ctc_loss(cg.randn(5, 2, 3), cg.tensor([[1, 2], [1, 1]]), [5, 5], [2, 2], blank=3), ArgumentError,
     ["blank", "[0, 3)"]),
    (lambda: F.ctc_loss(cg.randn(5, 2, 3), cg.tensor([[1, 7], [1, 1]]), [5, 5], [2, 2]), ArgumentError,
     ["classes", "7"]),
    (lambda: F.ctc_loss(cg.randn(5, 2, 3), cg.tensor([1, 2, 1]), [5, 5], [2, 2]), ShapeError, ["sum(target_lengths)=4"]),
    (lambda: F.ctc_loss(cg.randn(5, 2, 3), cg.tensor([[1, 2]]), [5, 5], [2, 2]), ShapeError, ["(2, S)", "(1, 2)"]),
    (lambda: F.ctc_loss(cg.randn(5, 2, 3), cg.tensor([[1, 2], [1, 1]]), [5], [2, 2]), ShapeError, ["2 input_lengths"]),
])
def test_ctc_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"
