"""optim.Adadelta: trajectories equal torch.optim.Adadelta step for step (float32/float64, every
option), a real training step through a model, the state dict round trip and bad arguments."""
import itertools

import numpy as np
import pytest
import torch

import convgrad as cg
import oracle
from convgrad import optim
from convgrad.errors import ArgumentError

STEPS = 20
CONFIGS = [dict(zip(("lr", "rho", "eps", "weight_decay", "maximize"), v)) for v in
           itertools.product([1.0, 0.3], [0.9, 0.5], [1e-6, 1e-3], [0, 0.1], [False, True])] + [{}]


def _record_parity(dtype, worst, config):
    record = oracle.PARITY.setdefault("optim.Adadelta (20-step trajectory)", {"configs": 0, "options": {}})
    record["configs"] += 1
    record[np.dtype(dtype).name] = max(record.get(np.dtype(dtype).name, 0.0), worst)
    for key, value in config.items():
        values = record["options"].setdefault(key, [])
        if repr(value) not in values:
            values.append(repr(value))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "defaults")
def test_adadelta_trajectory_matches_torch(config, dtype):
    rng = np.random.default_rng(0)
    start = [rng.standard_normal(s).astype(dtype) for s in [(3, 4), (5,), ()]]
    cg_params = [cg.nn.Parameter(w.copy()) for w in start]
    t_params = [torch.nn.Parameter(torch.tensor(w.copy())) for w in start]
    cg_opt, t_opt = optim.Adadelta(cg_params, **config), torch.optim.Adadelta(t_params, **config)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    worst = 0.0
    for step in range(STEPS):
        for i, (c, t) in enumerate(zip(cg_params, t_params)):
            if step % 5 == 4 and i == 1:  # a parameter without a gradient keeps its state
                c.grad, t.grad = None, None
                continue
            g = rng.standard_normal(c.shape).astype(dtype)
            c.grad, t.grad = cg.tensor(g.copy()), torch.tensor(g.copy())
        cg_opt.step()
        t_opt.step()
        for c, t in zip(cg_params, t_params):
            expected = t.detach().numpy()
            assert c.numpy().dtype == dtype
            np.testing.assert_allclose(c.numpy(), expected, rtol=tol, atol=tol, err_msg=f"step {step}")
            worst = max(worst, float(np.abs(c.numpy() - expected).max()) / max(1.0, float(np.abs(expected).max())))
    for key in ("square_avg", "acc_delta"):
        np.testing.assert_allclose(cg_opt.state[cg_params[0]][key], t_opt.state[t_params[0]][key].numpy(),
                                   rtol=tol, atol=tol)
    assert cg_opt.state[cg_params[0]]["step"] == float(t_opt.state[t_params[0]]["step"])
    assert np.abs(cg_params[0].numpy() - start[0]).max() > 0
    _record_parity(dtype, worst, config)


def test_adadelta_trains_a_model_like_torch():
    """Five steps of a small network on real gradients: same weights as torch afterwards."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((16, 6)), rng.integers(0, 3, 16)
    c_model = cg.nn.Sequential(cg.nn.Linear(6, 8), cg.nn.Tanh(), cg.nn.Linear(8, 3)).to(np.float64)
    t_model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    c_model.load_state_dict({k: v.detach().numpy() for k, v in t_model.state_dict().items()})
    c_opt, t_opt = optim.Adadelta(c_model.parameters(), lr=0.5), torch.optim.Adadelta(t_model.parameters(), lr=0.5)
    losses = []
    for _ in range(5):
        c_loss = cg.nn.functional.cross_entropy(c_model(cg.tensor(x)), cg.tensor(y))
        t_loss = torch.nn.functional.cross_entropy(t_model(torch.tensor(x)), torch.tensor(y))
        c_opt.zero_grad(), t_opt.zero_grad()
        c_loss.backward(), t_loss.backward()
        c_opt.step(), t_opt.step()
        losses.append(c_loss.item())
        assert abs(c_loss.item() - t_loss.item()) < 1e-10
    for k, v in t_model.state_dict().items():
        np.testing.assert_allclose(c_model.state_dict()[k], v.numpy(), rtol=1e-10, atol=1e-12)
    assert losses[-1] < losses[0]


def test_adadelta_state_dict_round_trip():
    p = cg.nn.Parameter(np.ones(3))
    opt = optim.Adadelta([p], lr=0.5, rho=0.8)
    p.grad = cg.tensor(np.array([1.0, -2.0, 0.5]))
    opt.step()
    again = optim.Adadelta([cg.nn.Parameter(p.numpy().copy())], lr=0.5, rho=0.8)
    again.load_state_dict(opt.state_dict())
    state = again.state_dict()["state"][0]
    np.testing.assert_array_equal(state["acc_delta"], opt.state[p]["acc_delta"])
    assert again.param_groups[0]["rho"] == 0.8


@pytest.mark.parametrize("kwargs,word", [(dict(lr=-1), "learning rate"), (dict(rho=1.5), "rho"),
                                         (dict(eps=-1e-3), "epsilon"), (dict(weight_decay=-0.1), "weight_decay")])
def test_adadelta_bad_arguments(kwargs, word):
    with pytest.raises(ArgumentError, match=word):
        optim.Adadelta([cg.nn.Parameter(np.ones(2))], **kwargs)
