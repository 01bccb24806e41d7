"""Optimizers: trajectories equal torch.optim's step for step, state dicts, groups and errors."""
import itertools

import numpy as np
import pytest
import torch

import convgrad as cg
import oracle
from convgrad import optim

STEPS = 15


def _record_parity(name, dtype, worst):
    """Add a trajectory comparison to the generated parity table (docs/PARITY.md), like
    oracle.check_against_torch(name=...) does for ops."""
    record = oracle.PARITY.setdefault(name, {"configs": 0, "options": {}})
    record["configs"] += 1
    key = np.dtype(dtype).name
    record[key] = max(record.get(key, 0.0), worst)
    for option, value in oracle.CURRENT_PARAMS.get("config", (None, {}))[1].items():
        values = record["options"].setdefault(option, [])
        if repr(value) not in values:
            values.append(repr(value))


def _grid(**options):
    keys = list(options)
    return [dict(zip(keys, values)) for values in itertools.product(*options.values())]


CONFIGS = (
    [("SGD", c) for c in _grid(lr=[0.1], momentum=[0, 0.9], dampening=[0, 0.3], weight_decay=[0, 0.05],
                               maximize=[False, True])]
    + [("SGD", dict(lr=0.05, momentum=m, nesterov=True, weight_decay=wd)) for m in (0.5, 0.9) for wd in (0, 0.1)]
    + [("SGD", {})]
    + [("Adam", c) for c in _grid(lr=[0.01], betas=[(0.9, 0.999), (0.5, 0.9)], weight_decay=[0, 0.1],
                                  amsgrad=[False, True], maximize=[False, True])]
    + [("Adam", {})]
    + [("AdamW", c) for c in _grid(lr=[0.01], weight_decay=[0.01, 0.3], amsgrad=[False, True], maximize=[False, True])]
    + [("AdamW", {})]
    + [("RMSprop", c) for c in _grid(lr=[0.01], alpha=[0.99, 0.8], weight_decay=[0, 0.1], momentum=[0, 0.7],
                                     centered=[False, True], maximize=[False, True])]
    + [("RMSprop", {})]
    + [("Adagrad", c) for c in _grid(lr=[0.1], lr_decay=[0, 0.05], weight_decay=[0, 0.1],
                                     initial_accumulator_value=[0, 0.5], eps=[1e-10, 1e-3], maximize=[False, True])]
    + [("Adagrad", {})]
)


def _config_id(config):
    name, kwargs = config
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def _make_pair(name, kwargs, shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    cg_params = [cg.nn.Parameter(w.copy()) for w in start]
    t_params = [torch.nn.Parameter(torch.tensor(w.copy())) for w in start]
    return cg_params, t_params, getattr(optim, name)(cg_params, **kwargs), getattr(torch.optim, name)(t_params, **kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_trajectory_matches_torch_on_synthetic_gradients(config, dtype):
    name, kwargs = config
    shapes = [(3, 4), (5,), ()]
    cg_params, t_params, cg_opt, t_opt = _make_pair(name, kwargs, shapes, dtype)
    rng = np.random.default_rng(1)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    start = cg_params[0].numpy().copy()
    worst = 0.0
    for step in range(STEPS):
        for i, (c, t) in enumerate(zip(cg_params, t_params)):
            if step % 4 == 3 and i == 1:       # a parameter without a gradient is skipped
                c.grad, t.grad = None, None
                continue
            g = rng.standard_normal(c.shape).astype(dtype)
            c.grad = cg.tensor(g.copy())
            t.grad = torch.tensor(g.copy())
        cg_opt.step()
        t_opt.step()
        for c, t in zip(cg_params, t_params):
            expected = t.detach().numpy()
            assert c.numpy().dtype == dtype
            np.testing.assert_allclose(c.numpy(), expected, rtol=tol, atol=tol, err_msg=f"step {step}")
            worst = max(worst, float(np.abs(c.numpy() - expected).max()) / max(1.0, float(np.abs(expected).max())))
    _record_parity(f"optim.{name} (15-step trajectory)", dtype, worst)
    assert np.abs(cg_params[0].numpy() - start).max() > 0     # the optimizer really moved the weights


def _mlp_loss(lib, w1, b1, w2, x, y):
    if lib is torch:
        h = torch.tanh(x @ w1 + b1)
        return ((h @ w2 - y) ** 2).mean()
    h = (x @ w1 + b1).tanh()
    return ((h @ w2 - y) ** 2).mean()


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.2, momentum=0.9, nesterov=True)), ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05)), ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)), ("Adagrad", dict(lr=0.3)),
])
def test_trajectory_matches_torch_on_a_tiny_model(name, kwargs):
    """Real gradients from the autodiff engine, 20 steps, float64: weights agree at every step."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    cg_params, t_params, cg_opt, t_opt = _make_pair(name, kwargs, [(3, 8), (8,), (8, 2)], np.float64, seed=2)
    losses = []
    for step in range(20):
        cg_opt.zero_grad()
        t_opt.zero_grad()
        loss = _mlp_loss(cg, *cg_params, cg.tensor(x), cg.tensor(y))
        loss.backward()
        t_loss = _mlp_loss(torch, *t_params, torch.tensor(x), torch.tensor(y))
        t_loss.backward()
        cg_opt.step()
        t_opt.step()
        losses.append(loss.item())
        for c, t in zip(cg_params, t_params):
            np.testing.assert_allclose(c.numpy(), t.detach().numpy(), rtol=1e-6, atol=1e-6, err_msg=f"step {step}")
    assert losses[-1] < losses[0]


def test_closure_is_evaluated_and_its_loss_returned():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4)
    p = cg.nn.Parameter(np.zeros(4))
    opt = optim.SGD([p], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = ((p - cg.tensor(x)) ** 2).sum()
        loss.backward()
        return loss

    first = opt.step(closure).item()
    for _ in range(30):
        last = opt.step(closure).item()
    assert first == pytest.approx(float((x ** 2).sum()))
    assert last < 1e-8
    np.testing.assert_allclose(p.numpy(), x, atol=1e-4)


def test_updates_are_in_place_and_keep_float32():
    p = cg.nn.Parameter(np.ones((2, 3), np.float32))
    array = p.numpy()
    opt = optim.Adam([p], lr=0.1)
    p.grad = cg.tensor(np.full((2, 3), 0.5, np.float32))
    opt.step()
    assert p.numpy() is array and p.numpy().dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[p].values() if isinstance(v, np.ndarray))


def test_param_groups_have_their_own_options_like_torch():
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal((2, 2)) for _ in range(3)]
    cps = [cg.nn.Parameter(w.copy()) for w in ws]
    tps = [torch.nn.Parameter(torch.tensor(w.copy())) for w in ws]
    cg_opt = optim.SGD([{"params": cps[:2]}, {"params": [cps[2]], "lr": 0.5, "momentum": 0.0}], lr=0.1, momentum=0.9)
    t_opt = torch.optim.SGD([{"params": tps[:2]}, {"params": [tps[2]], "lr": 0.5, "momentum": 0.0}], lr=0.1,
                            momentum=0.9)
    assert [g["lr"] for g in cg_opt.param_groups] == [0.1, 0.5]
    assert cg_opt.param_groups[1]["momentum"] == 0.0 and cg_opt.param_groups[1]["dampening"] == 0
    extra_w = rng.standard_normal(3)
    cg_extra, t_extra = cg.nn.Parameter(extra_w.copy()), torch.nn.Parameter(torch.tensor(extra_w.copy()))
    cg_opt.add_param_group({"params": cg_extra, "lr": 0.01})
    t_opt.add_param_group({"params": t_extra, "lr": 0.01})
    for _ in range(5):
        for c, t in zip(cps + [cg_extra], tps + [t_extra]):
            g = rng.standard_normal(c.shape)
            c.grad, t.grad = cg.tensor(g.copy()), torch.tensor(g.copy())
        cg_opt.step()
        t_opt.step()
    for c, t in zip(cps + [cg_extra], tps + [t_extra]):
        np.testing.assert_allclose(c.numpy(), t.detach().numpy(), rtol=1e-12)


def test_zero_grad_sets_to_none_or_zero():
    p = cg.nn.Parameter(np.ones(3))
    opt = optim.SGD([p], lr=0.1)
    p.grad = cg.tensor(np.ones(3))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), 0)
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.3, centered=True)), ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
])
def test_state_dict_round_trip_through_npz_resumes_identically(name, kwargs, tmp_path):
    rng = np.random.default_rng(0)
    grads = [[rng.standard_normal(s) for s in ((3, 2), (4,))] for _ in range(12)]
    params, _, opt, t_opt = _make_pair(name, kwargs, [(3, 2), (4,)], np.float64)
    t_params = [p for g in t_opt.param_groups for p in g["params"]]

    def run(opt, params, steps):
        for g in steps:
            for p, gi in zip(params, g):
                p.grad = cg.tensor(gi.copy())
            opt.step()

    def run_torch(steps):
        for g in steps:
            for p, gi in zip(t_params, g):
                p.grad = torch.tensor(gi.copy())
            t_opt.step()

    run(opt, params, grads[:6])
    run_torch(grads[:6])
    # the same state names and values as torch.optim
    ours, theirs = opt.state_dict(), t_opt.state_dict()
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for idx, entries in theirs["state"].items():
        assert set(ours["state"][idx]) == set(entries)
        for key, value in entries.items():
            np.testing.assert_allclose(np.asarray(ours["state"][idx][key], dtype=np.float64),
                                       value.detach().numpy() if torch.is_tensor(value) else value, rtol=1e-12)
    np.savez(tmp_path / "opt.npz", **optim.flatten_state_dict(ours))
    snapshot = [p.numpy().copy() for p in params]
    run(opt, params, grads[6:])
    expected = [p.numpy().copy() for p in params]

    with np.load(tmp_path / "opt.npz", allow_pickle=False) as f:
        loaded = optim.unflatten_state_dict(f)
    params2 = [cg.nn.Parameter(w.copy()) for w in snapshot]
    opt2 = getattr(optim, name)(params2, lr=123.0)        # options come back from the state dict
    opt2.load_state_dict(loaded)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    run(opt2, params2, grads[6:])
    for a, b in zip(params2, expected):
        np.testing.assert_array_equal(a.numpy(), b)


def test_load_state_dict_casts_to_the_parameter_dtype_and_checks_sizes():
    p64 = cg.nn.Parameter(np.ones(3))
    opt = optim.Adam([p64], lr=0.1)
    p64.grad = cg.tensor(np.ones(3))
    opt.step()
    p32 = cg.nn.Parameter(np.ones(3, np.float32))
    opt32 = optim.Adam([p32], lr=0.1)
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[p32]["exp_avg"].dtype == np.float32
    with pytest.raises(ValueError, match="parameter groups"):
        optim.Adam([{"params": [p32]}, {"params": [cg.nn.Parameter(np.ones(2))]}]).load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="has 1 parameters"):
        optim.Adam([p32, cg.nn.Parameter(np.ones(2))]).load_state_dict(opt.state_dict())


def test_defaults_match_torch():
    p = [cg.nn.Parameter(np.ones(2))]
    tp = [torch.nn.Parameter(torch.ones(2))]
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad"):
        ours = getattr(optim, name)(p).defaults
        theirs = getattr(torch.optim, name)(tp).defaults
        for key, value in ours.items():
            assert theirs[key] == value, f"{name}.{key}: {value} != torch {theirs[key]}"


def test_optimizer_argument_errors():
    p = [cg.nn.Parameter(np.ones(2))]
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam(p, lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": p}, {"params": p}], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p[0], lr=0.1)


def test_sgd_docstring_explains_batch_sizes():
    doc = optim.SGD.__doc__.lower()
    assert "full-batch" in doc and "stochastic" in doc and "mini-batch" in doc and "batch_size" in doc


def test_mini_batch_sizes_are_the_same_optimizer():
    """Full-batch GD with lr equals the average of per-sample gradients; one optimizer does both."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal(8)
    w0 = rng.standard_normal(3)

    def grad(w, idx):
        r = x[idx] @ w - y[idx]
        return 2 * x[idx].T @ r / len(idx)

    full = cg.nn.Parameter(w0.copy())
    opt = optim.SGD([full], lr=0.05)
    full.grad = cg.tensor(grad(w0, np.arange(8)))
    opt.step()
    np.testing.assert_allclose(full.numpy(), w0 - 0.05 * grad(w0, np.arange(8)), rtol=1e-12)
    sgd = cg.nn.Parameter(w0.copy())
    opt = optim.SGD([sgd], lr=0.05)
    w = w0.copy()
    for i in range(8):                         # batch size 1: eight updates per epoch
        sgd.grad = cg.tensor(grad(sgd.numpy().copy(), np.array([i])))
        w = w - 0.05 * grad(w, np.array([i]))
        opt.step()
    np.testing.assert_allclose(sgd.numpy(), w, rtol=1e-12)


def test_small_cnn_with_batchnorm_and_schedule_trains_like_torch():
    """Conv -> BatchNorm2d -> ReLU -> Linear, SGD with Nesterov momentum under OneCycleLR: after
    8 steps on the same batches (float64) the weights and running statistics equal torch's."""
    def build(nn):
        return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                             nn.Linear(4 * 5 * 5, 3))

    ours, theirs = build(cg.nn).double(), build(torch.nn).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    opt = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    t_opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=8)
    t_sched = torch.optim.lr_scheduler.OneCycleLR(t_opt, max_lr=0.2, total_steps=8)
    start = ours.state_dict()["0.weight"].copy()
    rng = np.random.default_rng(0)
    for _ in range(8):
        x, y = rng.standard_normal((6, 2, 5, 5)), rng.integers(0, 3, 6)
        for model, o, s, lib in ((ours, opt, sched, cg), (theirs, t_opt, t_sched, torch)):
            o.zero_grad()
            logits = model(lib.tensor(x))
            loss = (logits.logsumexp(1) - logits[np.arange(6), y]).mean()
            loss.backward()
            o.step()
            s.step()
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-8, atol=1e-10, err_msg=key)
    assert np.abs(ours.state_dict()["0.weight"] - start).max() > 1e-3
    assert ours.state_dict()["1.num_batches_tracked"] == 8
