"""Losses: PyTorch parity over randomized option grids (float32/float64, forward and every
gradient), finite differences, naive references for cross-entropy, extreme logits, loss layers,
weight penalties and error messages."""
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.nn as nn
import convgrad.nn.functional as F
from convgrad.errors import ConvgradError
from oracle import assert_close, check_against_torch, check_gradient

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]


def _grid(options, count, seed):
    """A seeded random sample of ``count`` configurations from the product of ``options``."""
    keys = list(options)
    product = list(itertools.product(*options.values()))
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(product), size=min(count, len(product)), replace=False)
    return [dict(zip(keys, product[i])) for i in sorted(picks)]


def _targets(rng, shape, classes, ignore_index):
    t = rng.integers(0, classes, size=shape)
    if ignore_index >= 0 and t.size > 1:
        t.reshape(-1)[:: max(t.size // 3, 1)] = ignore_index  # some ignored entries, never all
        t.reshape(-1)[1] = (ignore_index + 1) % classes
    elif t.size == 1 and t.item() == ignore_index:
        t = np.asarray((ignore_index + 1) % classes)  # a lone target: keep it (all-ignored is NaN)
    return t


# ----------------------------------------------------------------------------------------------
# cross_entropy and nll_loss with class indices
# ----------------------------------------------------------------------------------------------
CE_OPTIONS = {
    "shape": [(6, 4), (4,), (3, 4, 5), (2, 3, 4, 2)],
    "reduction": REDUCTIONS,
    "weighted": [False, True],
    "ignore_index": [-100, 1],
    "label_smoothing": [0.0, 0.1, 0.35],
}
CE_GRID = _grid(CE_OPTIONS, 40, seed=1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", CE_GRID, ids=[str(i) for i in range(len(CE_GRID))])
def test_cross_entropy_class_indices_match_torch(cfg, dtype):
    shape = cfg["shape"]
    classes = shape[1] if len(shape) > 1 else shape[0]
    rng = np.random.default_rng(len(shape) * 7 + classes)
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    target_shape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    t = _targets(rng, target_shape, classes, cfg["ignore_index"])
    w = rng.uniform(0.2, 2.0, classes).astype(dtype) if cfg["weighted"] else None
    kw = dict(ignore_index=cfg["ignore_index"], reduction=cfg["reduction"], label_smoothing=cfg["label_smoothing"])
    check_against_torch(
        lambda a: F.cross_entropy(a, cg.tensor(t), weight=None if w is None else cg.tensor(w), **kw),
        lambda a: TF.cross_entropy(a, torch.tensor(t), weight=None if w is None else torch.tensor(w), **kw),
        [x], dtype=dtype, name="cross_entropy")


NLL_GRID = _grid({k: v for k, v in CE_OPTIONS.items() if k != "label_smoothing"}, 20, seed=2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", NLL_GRID, ids=[str(i) for i in range(len(NLL_GRID))])
def test_nll_loss_matches_torch(cfg, dtype):
    shape = cfg["shape"]
    classes = shape[1] if len(shape) > 1 else shape[0]
    rng = np.random.default_rng(len(shape) + 3 * classes)
    x = rng.standard_normal(shape).astype(dtype)
    target_shape = (shape[0],) + shape[2:] if len(shape) > 1 else ()
    t = _targets(rng, target_shape, classes, cfg["ignore_index"])
    w = rng.uniform(0.2, 2.0, classes).astype(dtype) if cfg["weighted"] else None
    kw = dict(ignore_index=cfg["ignore_index"], reduction=cfg["reduction"])
    check_against_torch(
        lambda a: F.nll_loss(F.log_softmax(a, 1 if a.ndim > 1 else 0), cg.tensor(t),
                             weight=None if w is None else cg.tensor(w), **kw),
        lambda a: TF.nll_loss(TF.log_softmax(a, 1 if a.ndim > 1 else 0), torch.tensor(t),
                              weight=None if w is None else torch.tensor(w), **kw),
        [x], dtype=dtype, name="nll_loss")
    check_against_torch(  # raw inputs too: nll_loss is linear in them
        lambda a: F.nll_loss(a, cg.tensor(t), weight=None if w is None else cg.tensor(w), **kw),
        lambda a: TF.nll_loss(a, torch.tensor(t), weight=None if w is None else torch.tensor(w), **kw),
        [x], dtype=dtype, name="nll_loss")


PROB_GRID = _grid({"shape": [(5, 3), (3,), (2, 3, 4)], "reduction": REDUCTIONS, "weighted": [False, True],
                   "label_smoothing": [0.0, 0.2]}, 16, seed=3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", PROB_GRID, ids=[str(i) for i in range(len(PROB_GRID))])
def test_cross_entropy_class_probabilities_match_torch(cfg, dtype):
    shape = cfg["shape"]
    classes = shape[1] if len(shape) > 1 else shape[0]
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape).astype(dtype)
    e = np.exp(rng.standard_normal(shape))
    probs = (e / e.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)).astype(dtype)
    w = rng.uniform(0.2, 2.0, classes).astype(dtype) if cfg["weighted"] else None
    kw = dict(reduction=cfg["reduction"], label_smoothing=cfg["label_smoothing"])
    check_against_torch(  # gradients for both the logits and the target probabilities
        lambda a, p: F.cross_entropy(a, p, weight=None if w is None else cg.tensor(w), **kw),
        lambda a, p: TF.cross_entropy(a, p, weight=None if w is None else torch.tensor(w), **kw),
        [x, probs], dtype=dtype, name="cross_entropy (probabilities)")


def test_cross_entropy_finite_differences():
    t = cg.tensor([0, 2, 1, 2])
    w = cg.tensor([0.5, 1.0, 2.0], dtype=np.float64)
    for kw in [{}, {"reduction": "sum"}, {"weight": w, "label_smoothing": 0.2, "ignore_index": 1},
               {"reduction": "none", "label_smoothing": 0.1}]:
        assert check_gradient(lambda x: F.cross_entropy(x, t, **kw), [(4, 3)])
    t3 = cg.tensor(np.array([[0, 1], [2, 2]]))
    assert check_gradient(lambda x: F.cross_entropy(x, t3, label_smoothing=0.3), [(2, 3, 2)])
    p = np.random.default_rng(0).dirichlet(np.ones(3), size=4)
    assert check_gradient(lambda x, q: F.cross_entropy(x, q, weight=w, label_smoothing=0.1), [(4, 3), p])
    assert check_gradient(lambda x: F.nll_loss(x, t, weight=w, ignore_index=0), [(4, 3)])


def _naive_cross_entropy(x, t, weight, ignore_index, reduction, eps):
    """From the definition: per sample (1-eps) w[y](-log p_y) + eps/C sum_c w[c](-log p_c)."""
    n, c = x.shape
    w = np.ones(c) if weight is None else weight
    losses, denom = [], 0.0
    for i in range(n):
        if t[i] == ignore_index:
            losses.append(0.0)
            continue
        z = sum(math.exp(v) for v in x[i])
        logp = [v - math.log(z) for v in x[i]]
        nll = -w[t[i]] * logp[t[i]]
        smooth = -sum(w[k] * logp[k] for k in range(c)) / c
        losses.append((1 - eps) * nll + eps * smooth)
        denom += w[t[i]]
    if reduction == "none":
        return np.array(losses)
    return sum(losses) if reduction == "sum" else sum(losses) / denom


@pytest.mark.parametrize("weighted,ignore_index,eps,reduction", [
    (False, -100, 0.0, "mean"), (True, -100, 0.0, "mean"), (False, 2, 0.0, "mean"), (True, 2, 0.25, "mean"),
    (False, -100, 0.1, "sum"), (True, 0, 0.4, "none"), (True, -100, 1.0, "mean"),
])
def test_cross_entropy_against_naive_definition(weighted, ignore_index, eps, reduction):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((7, 4)) * 3
    t = np.array([0, 2, 3, 1, 2, 0, 3])
    w = rng.uniform(0.1, 3.0, 4) if weighted else None
    out = F.cross_entropy(cg.tensor(x), cg.tensor(t), weight=None if w is None else cg.tensor(w),
                          ignore_index=ignore_index, reduction=reduction, label_smoothing=eps)
    assert_close(out.numpy(), _naive_cross_entropy(x, t, w, ignore_index, reduction, eps), 1e-12, "cross_entropy")


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    x = cg.randn(5, 10, requires_grad=True)
    t = np.array([3, 0, 9, 9, 1])
    loss = F.cross_entropy(x, cg.tensor(t))
    assert loss.grad_fn == "CrossEntropy" and loss._node.inputs[0] is x  # one fused node
    loss.backward()
    p = F.softmax(x.detach(), 1).numpy()
    expected = (p - np.eye(10)[t]) / 5
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5, atol=1e-7)
    assert x.grad.dtype == np.float32 and loss.dtype == np.float32


def test_cross_entropy_mean_with_every_target_ignored_is_nan_like_torch():
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    ours = F.cross_entropy(cg.tensor(x), cg.tensor([1, 1]), ignore_index=1).item()
    ref = TF.cross_entropy(torch.tensor(x), torch.tensor([1, 1]), ignore_index=1).item()
    assert math.isnan(ours) and math.isnan(ref)


# ----------------------------------------------------------------------------------------------
# Binary cross-entropy
# ----------------------------------------------------------------------------------------------
BCE_GRID = _grid({"shape": [(6,), (4, 3), (2, 3, 4)], "reduction": REDUCTIONS, "weight": [None, "full", "row"],
                  "pos_weight": [None, "per_class"]}, 24, seed=4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", BCE_GRID, ids=[str(i) for i in range(len(BCE_GRID))])
def test_binary_cross_entropy_with_logits_matches_torch(cfg, dtype):
    shape = cfg["shape"]
    rng = np.random.default_rng(len(shape))
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    t = rng.uniform(0, 1, shape).astype(dtype)
    w = None if cfg["weight"] is None else rng.uniform(0.5, 2, shape if cfg["weight"] == "full" else shape[-1:])
    pw = None if cfg["pos_weight"] is None else rng.uniform(0.3, 4, shape[-1:])
    cw = None if w is None else cg.tensor(w.astype(dtype))
    tw = None if w is None else torch.tensor(w.astype(dtype))
    cpw = None if pw is None else cg.tensor(pw.astype(dtype))
    tpw = None if pw is None else torch.tensor(pw.astype(dtype))
    check_against_torch(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=cw, reduction=cfg["reduction"], pos_weight=cpw),
        lambda a, b: TF.binary_cross_entropy_with_logits(a, b, weight=tw, reduction=cfg["reduction"], pos_weight=tpw),
        [x, t], dtype=dtype, name="binary_cross_entropy_with_logits")
    if cfg["pos_weight"] is None:  # BCE on probabilities, same options
        p = (1 / (1 + np.exp(-x.astype(np.float64)))).clip(1e-3, 1 - 1e-3).astype(dtype)
        check_against_torch(
            lambda a, b: F.binary_cross_entropy(a, b, weight=cw, reduction=cfg["reduction"]),
            lambda a, b: TF.binary_cross_entropy(a, b, weight=tw, reduction=cfg["reduction"]),
            [p, t], dtype=dtype, name="binary_cross_entropy")


def test_binary_cross_entropy_finite_differences_and_definition():
    rng = np.random.default_rng(2)
    p, t = rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4))
    assert check_gradient(F.binary_cross_entropy, [p, t])
    assert check_gradient(lambda x, y: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=cg.tensor([1.0, 2.0, 0.5, 3.0], dtype=np.float64)), [(3, 4), t])
    expected = np.mean([-(b * math.log(a) + (1 - b) * math.log(1 - a)) for a, b in zip(p.flat, t.flat)])
    assert_close(F.binary_cross_entropy(cg.tensor(p), cg.tensor(t)).numpy(), expected, 1e-12, "bce")
    z = rng.standard_normal((3, 4))
    expected = np.mean([-(b * math.log(1 / (1 + math.exp(-a))) + (1 - b) * math.log(1 - 1 / (1 + math.exp(-a))))
                        for a, b in zip(z.flat, t.flat)])
    assert_close(F.binary_cross_entropy_with_logits(cg.tensor(z), cg.tensor(t)).numpy(), expected, 1e-12, "bce logits")


def test_binary_cross_entropy_clamps_log_at_minus_100_like_torch():
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype=np.float32)
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0], dtype=np.float32)
    ours = F.binary_cross_entropy(cg.tensor(p), cg.tensor(t), reduction="none").numpy()
    ref = TF.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none").numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    assert ours[0] == ours[1] == 100.0


# ----------------------------------------------------------------------------------------------
# Regression losses and KL divergence
# ----------------------------------------------------------------------------------------------
REGRESSION = [
    ("mse_loss", lambda **k: (lambda a, b: F.mse_loss(a, b, **k)), lambda **k: (lambda a, b: TF.mse_loss(a, b, **k)), {}),
    ("l1_loss", lambda **k: (lambda a, b: F.l1_loss(a, b, **k)), lambda **k: (lambda a, b: TF.l1_loss(a, b, **k)), {}),
    ("smooth_l1_loss", lambda **k: (lambda a, b: F.smooth_l1_loss(a, b, **k)),
     lambda **k: (lambda a, b: TF.smooth_l1_loss(a, b, **k)), {"beta": [0.0, 0.5, 1.0, 2.0]}),
    ("huber_loss", lambda **k: (lambda a, b: F.huber_loss(a, b, **k)),
     lambda **k: (lambda a, b: TF.huber_loss(a, b, **k)), {"delta": [0.5, 1.0, 2.0]}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,cg_make,t_make,extra", REGRESSION, ids=[r[0] for r in REGRESSION])
def test_regression_losses_match_torch(name, cg_make, t_make, extra, dtype):
    options = {"reduction": REDUCTIONS, "shape": [(7,), (3, 4), (2, 3, 2, 2)], **extra}
    for i, cfg in enumerate(_grid(options, 12, seed=len(name))):
        shape = cfg.pop("shape")
        x, t = (2 * np.random.default_rng(i).standard_normal((2,) + shape)).astype(dtype)
        check_against_torch(cg_make(**cfg), t_make(**cfg), [x, t], dtype=dtype, name=name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_weighted_regression_losses_match_torch(name, dtype):
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((2, 4, 3)).astype(dtype)
    w = rng.uniform(0.1, 2.0, (4, 3)).astype(dtype)
    for reduction in REDUCTIONS:
        check_against_torch(lambda a, b: getattr(F, name)(a, b, reduction=reduction, weight=cg.tensor(w)),
                            lambda a, b: getattr(TF, name)(a, b, reduction=reduction, weight=torch.tensor(w)),
                            [x, t], dtype=dtype, name=name)


def test_mse_loss_broadcasts_with_a_warning_like_torch():
    with pytest.warns(UserWarning, match="target size"):
        check_against_torch(F.mse_loss, TF.mse_loss, [(4, 3), (3,)], dtype=np.float64, name="mse_loss")


def test_regression_finite_differences_and_definitions():
    rng = np.random.default_rng(4)
    x, t = rng.standard_normal((2, 3, 4)) * 2
    for fn in (F.mse_loss, F.l1_loss, lambda a, b: F.smooth_l1_loss(a, b, beta=0.7),
               lambda a, b: F.huber_loss(a, b, delta=1.3, reduction="sum")):
        assert check_gradient(fn, [x, t])
    d = (x - t).reshape(-1)
    checks = {
        "mse": (F.mse_loss, np.mean([v * v for v in d])),
        "l1": (F.l1_loss, np.mean([abs(v) for v in d])),
        "smooth_l1": (lambda a, b: F.smooth_l1_loss(a, b, beta=0.7),
                      np.mean([0.5 * v * v / 0.7 if abs(v) < 0.7 else abs(v) - 0.35 for v in d])),
        "huber": (lambda a, b: F.huber_loss(a, b, delta=1.3),
                  np.mean([0.5 * v * v if abs(v) <= 1.3 else 1.3 * (abs(v) - 0.65) for v in d])),
    }
    for name, (fn, expected) in checks.items():
        assert_close(fn(cg.tensor(x), cg.tensor(t)).numpy(), expected, 1e-12, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target, dtype):
    rng = np.random.default_rng(5)
    logq = np.log(rng.dirichlet(np.ones(5), size=4)).astype(dtype)
    p = rng.dirichlet(np.ones(5), size=4)
    target = (np.log(p) if log_target else p).astype(dtype)
    with pytest.warns(UserWarning) if reduction == "mean" else _no_warning():
        check_against_torch(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                            lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
                            [logq, target], dtype=dtype, name="kl_div")


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_kl_div_definition_zero_target_and_finite_differences():
    p = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    logq = np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]]))
    expected = sum(a * (math.log(a) - b) for a, b in zip(p.flat, logq.flat) if a > 0) / 2
    out = F.kl_div(cg.tensor(logq), cg.tensor(p), reduction="batchmean")
    assert_close(out.numpy(), expected, 1e-12, "kl_div batchmean")
    assert check_gradient(lambda a: F.kl_div(a, cg.tensor(p), reduction="batchmean"), [logq])
    q = np.random.default_rng(1).dirichlet(np.ones(3), size=2)
    assert check_gradient(lambda a, b: F.kl_div(a, b, reduction="sum"), [logq, q])
    assert check_gradient(lambda a, b: F.kl_div(a, b, log_target=True, reduction="sum"), [logq, np.log(q)])


# ----------------------------------------------------------------------------------------------
# Extreme inputs: finite values and gradients, equal to PyTorch's
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    x = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0], [-1e4, -1e4, -1e4], [5e3, 5e3, -1e4]], dtype=dtype)
    t = np.array([0, 0, 2, 1])
    for kw in [{}, {"label_smoothing": 0.1}, {"reduction": "none"}]:
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            xt = cg.tensor(x, requires_grad=True)
            loss = F.cross_entropy(xt, cg.tensor(t), **kw)
            loss.backward(np.ones(loss.shape, dtype))
        tx = torch.tensor(x, requires_grad=True)
        ref = TF.cross_entropy(tx, torch.tensor(t), **kw)
        ref.backward(torch.ones_like(ref))
        assert np.isfinite(loss.numpy()).all() and np.isfinite(xt.grad.numpy()).all()
        assert_close(loss.numpy(), ref.detach().numpy(), 1e-6, "loss")
        assert_close(xt.grad.numpy(), tx.grad.numpy(), 1e-6, "gradient")


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_is_stable_for_huge_logits(dtype):
    x = np.array([-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4], dtype=dtype)
    t = np.array([1.0, 0.0, 1.0, 0.5, 0.0, 1.0, 0.0], dtype=dtype)
    for pw in (None, np.full(7, 3.0, dtype)):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            xt = cg.tensor(x, requires_grad=True)
            loss = F.binary_cross_entropy_with_logits(xt, cg.tensor(t), reduction="none",
                                                      pos_weight=None if pw is None else cg.tensor(pw))
            loss.sum().backward()
        tx = torch.tensor(x, requires_grad=True)
        ref = TF.binary_cross_entropy_with_logits(tx, torch.tensor(t), reduction="none",
                                                  pos_weight=None if pw is None else torch.tensor(pw))
        ref.sum().backward()
        assert np.isfinite(loss.numpy()).all() and np.isfinite(xt.grad.numpy()).all()
        assert_close(loss.numpy(), ref.detach().numpy(), 1e-6, "loss")
        assert_close(xt.grad.numpy(), tx.grad.numpy(), 1e-6, "gradient")
    assert F.binary_cross_entropy_with_logits(cg.tensor([1e4]), cg.tensor([0.0])).item() == 1e4


# ----------------------------------------------------------------------------------------------
# Loss layers
# ----------------------------------------------------------------------------------------------
def test_loss_layers_match_functional_and_torch():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 3)).astype(np.float32)
    t_idx = np.array([0, 2, 1, 1, 2])
    t_float = rng.uniform(0, 1, (5, 3)).astype(np.float32)
    w = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    p = 1 / (1 + np.exp(-x))
    cases = [
        (nn.CrossEntropyLoss(weight=cg.tensor(w), label_smoothing=0.1, ignore_index=2),
         torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1, ignore_index=2), x, t_idx),
        (nn.CrossEntropyLoss(reduction="sum"), torch.nn.CrossEntropyLoss(reduction="sum"), x, t_idx),
        (nn.NLLLoss(weight=w), torch.nn.NLLLoss(weight=torch.tensor(w)), x, t_idx),
        (nn.BCELoss(), torch.nn.BCELoss(), p, t_float),
        (nn.BCEWithLogitsLoss(pos_weight=w), torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(w)), x, t_float),
        (nn.MSELoss(), torch.nn.MSELoss(), x, t_float),
        (nn.L1Loss(reduction="none"), torch.nn.L1Loss(reduction="none"), x, t_float),
        (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5), x, t_float),
        (nn.HuberLoss(delta=0.3), torch.nn.HuberLoss(delta=0.3), x, t_float),
        (nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"), np.log(p), t_float),
        (nn.MSELoss(size_average=False), torch.nn.MSELoss(size_average=False), x, t_float),
    ]
    for layer, ref, a, b in cases:
        assert repr(layer) == repr(ref)
        assert list(layer.state_dict()) == list(ref.state_dict())
        assert layer.reduction == ref.reduction
        tb = torch.tensor(b)
        check_against_torch(lambda u: layer(u, cg.tensor(b)), lambda u: ref(u, tb), [a], name=None)


# ----------------------------------------------------------------------------------------------
# Weight penalties
# ----------------------------------------------------------------------------------------------
def test_l1_and_l2_penalties_values_and_gradients():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    params = list(model.parameters())
    l1 = F.l1_penalty(model)
    l2 = F.l2_penalty(params)
    assert l1.grad_fn == "L1Penalty" and l1.shape == () and l1.dtype == np.float32
    np.testing.assert_allclose(l1.item(), sum(np.abs(p.numpy()).sum() for p in params), rtol=1e-6)
    np.testing.assert_allclose(l2.item(), 0.5 * sum((p.numpy() ** 2).sum() for p in params), rtol=1e-6)
    (l1 + 3 * l2).backward()
    for p in params:  # d/dw [sum |w| + 3/2 sum w^2] = sign(w) + 3 w: what SGD weight_decay=3 adds
        np.testing.assert_allclose(p.grad.numpy(), np.sign(p.numpy()) + 3 * p.numpy(), rtol=1e-6)
    assert check_gradient(lambda a, b: F.l2_penalty([a, b]) + F.l1_penalty([b]), [(2, 3), (4,)])
    assert F.l2_penalty([]).item() == 0.0
    weights = [p for n, p in model.named_parameters() if n.endswith("weight")]
    np.testing.assert_allclose(F.l2_penalty(weights).item(),
                               0.5 * sum((p.numpy() ** 2).sum() for p in weights), rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,fragment", [
    (lambda: F.cross_entropy(cg.randn(4, 10), cg.tensor([1, 12, 3, 4])), "cross_entropy: expected class indices in [0, 10), got 12"),
    (lambda: F.cross_entropy(cg.randn(4, 10), cg.tensor([1, -1, 3, 4])), "cross_entropy: expected class indices in [0, 10), got -1"),
    (lambda: F.cross_entropy(cg.randn(64, 10), cg.tensor(np.zeros(32, np.int64))),
     "cross_entropy: expected target of shape (64,) for input of shape (64, 10), got (32,)"),
    (lambda: F.cross_entropy(cg.randn(4, 10), cg.randn(4)),
     "cross_entropy: expected class indices as an integer target of shape (4,) (or class probabilities"),
    (lambda: F.cross_entropy(cg.randn(4, 3), cg.tensor([0, 1, 2, 0]), weight=cg.ones(4)),
     "cross_entropy: expected weight of shape (3,), one per class, got (4,)"),
    (lambda: F.cross_entropy(cg.randn(4, 3), cg.tensor([0, 1, 2, 0]), label_smoothing=1.5),
     "cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5"),
    (lambda: F.cross_entropy(cg.randn(4, 3), cg.tensor([0, 1, 2, 0]), reduction="avg"),
     "cross_entropy: reduction must be one of 'none', 'mean', 'sum', got 'avg'"),
    (lambda: F.cross_entropy(cg.randn(4, 3), F.softmax(cg.randn(4, 3), 1), ignore_index=1),
     "cross_entropy: ignore_index is not supported for class-probability targets"),
    (lambda: F.cross_entropy(cg.tensor([[1, 2]]), cg.tensor([0])), "cross_entropy: expected a floating point input"),
    (lambda: F.cross_entropy(cg.tensor(1.0), cg.tensor(0)), "cross_entropy: expected an input with at least 1 dimension"),
    (lambda: F.nll_loss(cg.randn(2, 3, 4), cg.tensor(np.zeros((2, 3), np.int64))),
     "nll_loss: expected target of shape (2, 4) for input of shape (2, 3, 4), got (2, 3)"),
    (lambda: F.binary_cross_entropy(cg.tensor([0.5, 1.5]), cg.tensor([0.0, 1.0])),
     "binary_cross_entropy: all elements of input should be between 0 and 1 (probabilities), got 1.5"),
    (lambda: F.binary_cross_entropy(cg.tensor([0.5, 0.2]), cg.tensor([1.0])),
     "binary_cross_entropy: expected target of the input's shape (2,), got (1,)"),
    (lambda: F.binary_cross_entropy_with_logits(cg.randn(4, 3), cg.rand(4, 3), pos_weight=cg.ones(4)),
     "binary_cross_entropy_with_logits: pos_weight of shape (4,) does not broadcast"),
    (lambda: F.mse_loss(cg.randn(4, 3), cg.randn(5, 3)), "mse_loss: target of shape (5, 3) does not broadcast with input of shape (4, 3)"),
    (lambda: F.mse_loss(cg.randn(4, 3), cg.randn(4, 3), weight=cg.ones(3)), "mse_loss: expected weight of the input's shape (4, 3), got (3,)"),
    (lambda: F.smooth_l1_loss(cg.randn(3), cg.randn(3), beta=-1.0), "smooth_l1_loss: beta must be non-negative, got -1.0"),
    (lambda: F.huber_loss(cg.randn(3), cg.randn(3), delta=0.0), "huber_loss: delta must be positive, got 0.0"),
    (lambda: F.kl_div(cg.randn(3), cg.rand(3), reduction="batch"), "kl_div: reduction must be one of 'none', 'mean', 'sum', 'batchmean'"),
    (lambda: F.l2_penalty([cg.randn(2), "w"]), "l2_penalty: expected floating point tensors (parameters), got str at position 1"),
    (lambda: nn.CrossEntropyLoss(reduction="batchmean"), "CrossEntropyLoss: reduction must be one of 'none', 'mean', 'sum'"),
])
def test_bad_inputs_raise_clear_errors(call, fragment):
    with pytest.raises(ConvgradError) as info:
        call()
    assert fragment in str(info.value)
