"""The margin, embedding and likelihood losses (CosineEmbeddingLoss, MarginRankingLoss,
MultiMarginLoss, MultiLabelMarginLoss, MultiLabelSoftMarginLoss, SoftMarginLoss,
HingeEmbeddingLoss, GaussianNLLLoss, PoissonNLLLoss): PyTorch parity of the functional and module
forms over randomized shapes, options and reductions (forward and every gradient, float32/float64),
float64 finite differences, hand-worked values, domain rules and errors."""
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
REDUCTIONS = ["none", "mean", "sum"]


def _grid(options, count, seed):
    keys = list(options)
    product = list(itertools.product(*options.values()))
    picks = np.random.default_rng(seed).choice(len(product), size=min(count, len(product)), replace=False)
    return [dict(zip(keys, product[i])) for i in sorted(picks)]


def _signs(shape, seed):
    return np.random.default_rng(seed).choice([-1.0, 1.0], shape)


def _ids(grid):
    return ["-".join(f"{k}={v}" for k, v in c.items()) for c in grid]


# ----------------------------------------------------------------------------------------------
# Losses of +1 / -1 labels
# ----------------------------------------------------------------------------------------------
PAIR_GRID = _grid({"shape": [(7,), (3, 4), (2, 3, 2), ()], "margin": [0.0, 0.3, -0.2], "reduction": REDUCTIONS},
                  18, seed=1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", PAIR_GRID, ids=_ids(PAIR_GRID))
def test_margin_ranking_loss_matches_torch(cfg, dtype):
    y = _signs(cfg["shape"], 2)
    kw = dict(margin=cfg["margin"], reduction=cfg["reduction"])
    check_against_torch(lambda a, b, t: F.margin_ranking_loss(a, b, t, **kw),
                        lambda a, b, t: TF.margin_ranking_loss(a, b, t, **kw),
                        [cfg["shape"], cfg["shape"], y], dtype=dtype, name="margin_ranking_loss")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", PAIR_GRID, ids=_ids(PAIR_GRID))
def test_hinge_embedding_loss_matches_torch(cfg, dtype):
    y = _signs(cfg["shape"], 3)
    kw = dict(margin=cfg["margin"] + 1.0, reduction=cfg["reduction"])
    check_against_torch(lambda a: F.hinge_embedding_loss(a, cg.tensor(y), **kw),
                        lambda a: TF.hinge_embedding_loss(a, torch.tensor(y, dtype=a.dtype), **kw),
                        [cfg["shape"]], dtype=dtype, name="hinge_embedding_loss")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", PAIR_GRID, ids=_ids(PAIR_GRID))
def test_soft_margin_loss_matches_torch(cfg, dtype):
    y = _signs(cfg["shape"], 4)
    check_against_torch(lambda a: F.soft_margin_loss(a, cg.tensor(y), reduction=cfg["reduction"]),
                        lambda a: TF.soft_margin_loss(a, torch.tensor(y, dtype=a.dtype), reduction=cfg["reduction"]),
                        [cfg["shape"]], dtype=dtype, name="soft_margin_loss")


COS_GRID = _grid({"shape": [(5, 3), (1, 6), (4,), (6, 2)], "margin": [0.0, 0.4, -0.3], "reduction": REDUCTIONS},
                 18, seed=5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", COS_GRID, ids=_ids(COS_GRID))
def test_cosine_embedding_loss_matches_torch(cfg, dtype):
    y = _signs(cfg["shape"][:-1], 6)
    kw = dict(margin=cfg["margin"], reduction=cfg["reduction"])
    check_against_torch(lambda a, b: F.cosine_embedding_loss(a, b, cg.tensor(y), **kw),
                        lambda a, b: TF.cosine_embedding_loss(a, b, torch.tensor(y, dtype=a.dtype), **kw),
                        [cfg["shape"], cfg["shape"]], dtype=dtype, name="cosine_embedding_loss")


# ----------------------------------------------------------------------------------------------
# Multi-class and multi-label losses
# ----------------------------------------------------------------------------------------------
MM_GRID = _grid({"shape": [(6, 4), (3, 7), (5,), (1, 2)], "p": [1, 2], "margin": [1.0, 0.5, 2.0],
                 "weighted": [False, True], "reduction": REDUCTIONS}, 30, seed=7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", MM_GRID, ids=_ids(MM_GRID))
def test_multi_margin_loss_matches_torch(cfg, dtype):
    shape = cfg["shape"]
    c = shape[-1]
    rng = np.random.default_rng(8)
    t = rng.integers(0, c, shape[:-1])
    w = rng.uniform(0.2, 2.0, c) if cfg["weighted"] else None
    kw = dict(p=cfg["p"], margin=cfg["margin"], reduction=cfg["reduction"])
    check_against_torch(lambda a: F.multi_margin_loss(a, cg.tensor(t), weight=None if w is None else cg.tensor(w), **kw),
                        lambda a: TF.multi_margin_loss(a, torch.tensor(t), weight=None if w is None else
                                                       torch.tensor(w, dtype=a.dtype), **kw),
                        [shape], dtype=dtype, name="multi_margin_loss")


def _multilabel_targets(shape, rng):
    """Each row lists some classes (maybe repeated, maybe none), then -1, then junk after it."""
    c = shape[-1]
    t = rng.integers(-1, c, shape)
    rows = t.reshape(-1, c)
    for row in rows:
        k = int(rng.integers(0, c + 1))
        row[:k] = rng.integers(0, c, k)
        if k < c:
            row[k] = -1
    return rows.reshape(shape)


ML_GRID = _grid({"shape": [(4, 5), (2, 3), (6,), (3, 1)], "reduction": REDUCTIONS, "seed": [0, 1, 2]}, 18, seed=9)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", ML_GRID, ids=_ids(ML_GRID))
def test_multilabel_margin_loss_matches_torch(cfg, dtype):
    t = _multilabel_targets(cfg["shape"], np.random.default_rng(cfg["seed"]))
    check_against_torch(lambda a: F.multilabel_margin_loss(a, cg.tensor(t), reduction=cfg["reduction"]),
                        lambda a: TF.multilabel_margin_loss(a, torch.tensor(t), reduction=cfg["reduction"]),
                        [cfg["shape"]], dtype=dtype, name="multilabel_margin_loss", seed=cfg["seed"])


MLS_GRID = _grid({"shape": [(4, 5), (2, 3), (6,)], "weighted": [False, True], "reduction": REDUCTIONS,
                  "soft": [False, True]}, 20, seed=10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", MLS_GRID, ids=_ids(MLS_GRID))
def test_multilabel_soft_margin_loss_matches_torch(cfg, dtype):
    shape = cfg["shape"]
    rng = np.random.default_rng(11)
    t = rng.uniform(0, 1, shape) if cfg["soft"] else rng.integers(0, 2, shape).astype(float)
    w = rng.uniform(0.2, 2, shape[-1]) if cfg["weighted"] else None
    check_against_torch(
        lambda a, b: F.multilabel_soft_margin_loss(a, b, weight=None if w is None else cg.tensor(w),
                                                   reduction=cfg["reduction"]),
        lambda a, b: TF.multilabel_soft_margin_loss(a, b, weight=None if w is None else torch.tensor(w, dtype=a.dtype),
                                                    reduction=cfg["reduction"]),
        [shape, t], dtype=dtype, name="multilabel_soft_margin_loss")


# ----------------------------------------------------------------------------------------------
# Likelihood losses
# ----------------------------------------------------------------------------------------------
GAUSS_GRID = _grid({"var_shape": ["same", "one_axis", "no_last", "float"], "full": [False, True],
                    "eps": [1e-6, 0.5], "reduction": REDUCTIONS}, 24, seed=12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", GAUSS_GRID, ids=_ids(GAUSS_GRID))
def test_gaussian_nll_loss_matches_torch(cfg, dtype):
    shape = (4, 3, 2)
    vshape = {"same": shape, "one_axis": (4, 1, 2), "no_last": (4, 3), "float": None}[cfg["var_shape"]]
    kw = dict(full=cfg["full"], eps=cfg["eps"], reduction=cfg["reduction"])
    rng = np.random.default_rng(13)
    if vshape is None:
        check_against_torch(lambda a, b: F.gaussian_nll_loss(a, b, 0.7, **kw),
                            lambda a, b: TF.gaussian_nll_loss(a, b, 0.7, **kw), [shape, shape], dtype=dtype,
                            name="gaussian_nll_loss")
        return
    var = rng.uniform(0.0, 2.0, vshape)  # some below eps=0.5: clamped values, gradient straight through
    check_against_torch(lambda a, b, v: F.gaussian_nll_loss(a, b, v, **kw),
                        lambda a, b, v: TF.gaussian_nll_loss(a, b, v, **kw), [shape, shape, var], dtype=dtype,
                        name="gaussian_nll_loss")


POISSON_GRID = _grid({"log_input": [True, False], "full": [False, True], "eps": [1e-8, 0.1],
                      "reduction": REDUCTIONS, "shape": [(5, 3), (7,)]}, 24, seed=14)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", POISSON_GRID, ids=_ids(POISSON_GRID))
def test_poisson_nll_loss_matches_torch(cfg, dtype):
    rng = np.random.default_rng(15)
    shape = cfg["shape"]
    x = rng.standard_normal(shape) if cfg["log_input"] else rng.uniform(0.1, 3, shape)
    counts = rng.poisson(2.0, shape).astype(float)  # 0, 1 and > 1: the Stirling term's three cases
    kw = dict(log_input=cfg["log_input"], full=cfg["full"], eps=cfg["eps"], reduction=cfg["reduction"])
    check_against_torch(lambda a, t: F.poisson_nll_loss(a, t, **kw), lambda a, t: TF.poisson_nll_loss(a, t, **kw),
                        [x, counts], dtype=dtype, name="poisson_nll_loss")


# ----------------------------------------------------------------------------------------------
# Modules, finite differences, hand-worked values, domain rules, errors
# ----------------------------------------------------------------------------------------------
MODULES = [
    ("MarginRankingLoss", dict(margin=0.2), lambda r: [r.standard_normal(5), r.standard_normal(5), _signs(5, 1)]),
    ("HingeEmbeddingLoss", dict(margin=0.5, reduction="sum"), lambda r: [r.standard_normal((3, 2)), _signs((3, 2), 2)]),
    ("SoftMarginLoss", dict(reduction="none"), lambda r: [r.standard_normal(4), _signs(4, 3)]),
    ("CosineEmbeddingLoss", dict(margin=0.1), lambda r: [r.standard_normal((4, 3)), r.standard_normal((4, 3)),
                                                        _signs(4, 4)]),
    ("MultiMarginLoss", dict(p=2, margin=0.7, weight=np.array([1.0, 2.0, 0.5])),
     lambda r: [r.standard_normal((4, 3)), r.integers(0, 3, 4)]),
    ("MultiLabelMarginLoss", {}, lambda r: [r.standard_normal((2, 4)), np.array([[3, 0, -1, 1], [1, -1, 2, 2]])]),
    ("MultiLabelSoftMarginLoss", dict(weight=np.array([1.0, 0.5, 2.0])),
     lambda r: [r.standard_normal((4, 3)), r.integers(0, 2, (4, 3)).astype(float)]),
    ("GaussianNLLLoss", dict(full=True), lambda r: [r.standard_normal((4, 2)), r.standard_normal((4, 2)),
                                                   r.uniform(0.1, 1, (4, 1))]),
    ("PoissonNLLLoss", dict(log_input=False, full=True), lambda r: [r.uniform(0.1, 2, 6), r.poisson(3, 6) * 1.0]),
]


@pytest.mark.parametrize("name,kwargs,make", MODULES, ids=[m[0] for m in MODULES])
def test_loss_module_matches_torch(name, kwargs, make):
    arrays = make(np.random.default_rng(16))
    t_kwargs = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    ours, ref = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**t_kwargs)
    assert list(ours.state_dict()) == list(ref.state_dict())  # class weights are buffers, as in PyTorch
    n = {"MarginRankingLoss": 2, "CosineEmbeddingLoss": 2, "GaussianNLLLoss": 3}.get(name, 1)
    inputs, fixed = arrays[:n], arrays[n:]  # the labels/targets are constants
    check_against_torch(lambda *a: ours(*a, *[cg.tensor(f) for f in fixed]),
                        lambda *a: ref(*a, *[torch.tensor(f) for f in fixed]), inputs, dtype=np.float64, name=name)


@pytest.mark.parametrize("fn,inputs", [
    (lambda a, b: F.margin_ranking_loss(a, b, cg.tensor(_signs(5, 1)), margin=0.1), [(5,), (5,)]),
    (lambda a: F.hinge_embedding_loss(a, cg.tensor(_signs((3, 2), 2))), [(3, 2)]),
    (lambda a: F.soft_margin_loss(a, cg.tensor(_signs(4, 3))), [(4,)]),
    (lambda a, b: F.cosine_embedding_loss(a, b, cg.tensor(_signs(3, 4)), margin=-0.5), [(3, 4), (3, 4)]),
    (lambda a: F.multi_margin_loss(a, cg.tensor([0, 2, 1]), p=2, weight=cg.tensor([1.0, 3.0, 0.5])), [(3, 3)]),
    (lambda a: F.multilabel_margin_loss(a, cg.tensor([[3, 0, -1, 1], [2, -1, 0, 0]])), [(2, 4)]),
    (lambda a, t: F.multilabel_soft_margin_loss(a, t), [(3, 4), (3, 4)]),
    (lambda a, b, v: F.gaussian_nll_loss(a, b, v * v + 0.1, full=True), [(4, 2), (4, 2), (4, 1)]),
    (lambda a: F.poisson_nll_loss(a, cg.tensor(np.array([0.0, 1.0, 4.0, 2.0])), full=True), [(4,)]),
])
def test_losses_gradient_by_finite_differences(fn, inputs):
    assert check_gradient(fn, inputs)


def test_losses_by_hand():
    x = cg.tensor(np.array([[0.1, 0.2, 0.4, 0.8]]))
    # PyTorch's documented example: classes 3 and 0 against 1 and 2 -> 0.85
    assert math.isclose(F.multilabel_margin_loss(x, cg.tensor([[3, 0, -1, 1]])).item(), 0.85, rel_tol=1e-12)
    # multi-margin: x[y] = 0.8, others 0.1 0.2 0.4 -> (0.3 + 0.4 + 0.6) / 4
    assert math.isclose(F.multi_margin_loss(x, cg.tensor([3])).item(), 1.3 / 4, rel_tol=1e-12)
    a, b = cg.tensor(np.array([[1.0, 0.0]])), cg.tensor(np.array([[0.0, 2.0]]))
    assert math.isclose(F.cosine_embedding_loss(a, b, cg.tensor([1.0])).item(), 1.0, rel_tol=1e-9)  # cos = 0
    assert math.isclose(F.soft_margin_loss(cg.tensor([0.0]), cg.tensor([1.0])).item(), math.log(2), rel_tol=1e-7)


def test_domain_rules_like_torch():
    x = np.array([0.5, 1.0])
    with pytest.raises(ArgumentError, match="negative"):
        F.gaussian_nll_loss(cg.tensor(x), cg.tensor(x), cg.tensor(np.array([1.0, -0.1])))
    with pytest.raises(ValueError):
        TF.gaussian_nll_loss(torch.tensor(x), torch.tensor(x), torch.tensor([1.0, -0.1]))
    # a rate input of 0 with log_input=False: log(eps) stays finite, as in PyTorch
    ours = F.poisson_nll_loss(cg.tensor(np.zeros(2)), cg.tensor(np.array([1.0, 2.0])), log_input=False)
    ref = TF.poisson_nll_loss(torch.zeros(2, dtype=torch.float64), torch.tensor([1.0, 2.0], dtype=torch.float64),
                              log_input=False)
    assert math.isclose(ours.item(), ref.item(), rel_tol=1e-12)


@pytest.mark.parametrize("call,error,words", [
    (lambda: F.margin_ranking_loss(cg.randn(3), cg.randn(3), cg.randn(3, 1)), ShapeError, ["same number", "(3, 1)"]),
    (lambda: F.cosine_embedding_loss(cg.randn(3, 2), cg.randn(3, 2), cg.ones(3, 1)), ShapeError, ["0-D or 1-D"]),
    (lambda: F.cosine_embedding_loss(cg.randn(3), cg.randn(3), cg.ones(3)), ShapeError, ["1-D target", "2-D"]),
    (lambda: F.multi_margin_loss(cg.randn(2, 3), cg.tensor([0, 3])), ArgumentError, ["[0, 3)", "3"]),
    (lambda: F.multi_margin_loss(cg.randn(2, 3), cg.tensor([0, 1]), p=3), ArgumentError, ["p == 1", "3"]),
    (lambda: nn.MultiMarginLoss(p=3), ArgumentError, ["p == 1"]),
    (lambda: F.multilabel_margin_loss(cg.randn(2, 3), cg.tensor([0, 1])), ShapeError, ["(2, 3)", "(2,)"]),
    (lambda: F.gaussian_nll_loss(cg.randn(4, 3), cg.randn(4, 3), cg.ones(2, 3)), ShapeError, ["var", "(2, 3)"]),
    (lambda: F.soft_margin_loss(cg.randn(3), cg.ones(3), reduction="avg"), ArgumentError, ["reduction", "'avg'"]),
])
def test_loss_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"


def test_existing_losses_follow_torchs_domain_rules():
    """Negative targets, NaN inputs and out-of-range targets for the older losses: NaN exactly
    where PyTorch has NaN, and an error where PyTorch raises (BCE targets outside [0, 1])."""
    rng = np.random.default_rng(17)
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))  # some negative targets
    x_nan = x.copy()
    x_nan[0, 0] = np.nan
    for name in ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy_with_logits", "kl_div",
                 "poisson_nll_loss", "soft_margin_loss", "hinge_embedding_loss"]:
        for a in (x, x_nan):
            ours = getattr(F, name)(cg.tensor(a), cg.tensor(t), reduction="none").numpy()
            ref = getattr(TF, name)(torch.tensor(a), torch.tensor(t), reduction="none").numpy()
            np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg=name)
            np.testing.assert_allclose(np.nan_to_num(ours), np.nan_to_num(ref), rtol=1e-10, err_msg=name)
    assert np.isnan(F.kl_div(cg.tensor(x), cg.tensor(t), reduction="sum").item())  # negative targets: NaN
    with pytest.raises(ArgumentError, match="target should be between 0 and 1"):
        F.binary_cross_entropy(cg.tensor(rng.uniform(0, 1, 3)), cg.tensor(np.array([0.0, 1.5, 0.2])))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        TF.binary_cross_entropy(torch.rand(3, dtype=torch.float64), torch.tensor([0.0, 1.5, 0.2], dtype=torch.float64))


@pytest.mark.parametrize("name,kwargs", [("cross_entropy", {}), ("cross_entropy", dict(label_smoothing=0.2)),
                                         ("nll_loss", {})])
def test_every_target_ignored_gives_nan_loss_and_zero_gradient_like_torch(name, kwargs):
    x = np.random.default_rng(18).standard_normal((3, 4))
    t = np.array([1, 1, 1])
    cx, tx = cg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = getattr(F, name)(cx, cg.tensor(t), ignore_index=1, **kwargs)
    ref = getattr(TF, name)(tx, torch.tensor(t), ignore_index=1, **kwargs)
    assert math.isnan(ours.item()) and math.isnan(ref.item())
    ours.backward()
    ref.backward()
    np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy())
    assert not np.isnan(cx.grad.numpy()).any()
