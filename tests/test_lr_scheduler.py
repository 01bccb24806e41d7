"""Learning-rate schedules: the lr sequence (and momentum, for OneCycleLR) equals torch's, step for step."""
import json
import math

import numpy as np
import pytest
import torch

import convgrad as cg
from convgrad.optim import lr_scheduler as cg_sched

STEPS = 40


def _pair(opt_name="SGD", groups=1, **opt_kwargs):
    """A convgrad and a torch optimizer over the same (unused) parameters, with group-specific lrs."""
    cg_groups, t_groups = [], []
    for i in range(groups):
        cg_groups.append({"params": [cg.nn.Parameter(np.zeros(3))], "lr": 0.1 * (i + 1)})
        t_groups.append({"params": [torch.nn.Parameter(torch.zeros(3))], "lr": 0.1 * (i + 1)})
    kwargs = dict(opt_kwargs)
    if opt_name == "SGD":
        kwargs.setdefault("momentum", 0.9)
    return getattr(cg.optim, opt_name)(cg_groups, **kwargs), getattr(torch.optim, opt_name)(t_groups, **kwargs)


def _assert_same_sequence(make, steps=STEPS, groups=2, opt_name="SGD", metrics=None, check_momentum=False):
    cg_opt, t_opt = _pair(opt_name, groups)
    cg_s, t_s = make(cg_sched, cg_opt), make(torch.optim.lr_scheduler, t_opt)
    seq_cg, seq_t = [cg_s.get_last_lr()], [t_s.get_last_lr()]
    for step in range(steps):
        cg_opt.step()
        t_opt.step()
        if metrics is None:
            cg_s.step()
            t_s.step()
        else:
            cg_s.step(metrics[step])
            t_s.step(metrics[step])
        seq_cg.append(list(cg_s.get_last_lr()))
        seq_t.append([float(v) for v in t_s.get_last_lr()])
        assert [g["lr"] for g in cg_opt.param_groups] == pytest.approx([g["lr"] for g in t_opt.param_groups],
                                                                      rel=1e-12, abs=1e-15)
        if check_momentum:
            key = "betas" if opt_name in ("Adam", "AdamW") else "momentum"
            for gc, gt in zip(cg_opt.param_groups, t_opt.param_groups):
                assert np.allclose(np.ravel(gc[key]), np.ravel(gt[key]), rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.array(seq_cg), np.array(seq_t), rtol=1e-12, atol=1e-15)
    return seq_cg


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "StepLR_default_gamma": lambda m, o: m.StepLR(o, 3),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.93),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=15),
    "CosineAnnealingLR_eta_min": lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=8),
    "LinearLR_decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=25),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 1.0 / (1 + e)),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS),
    "OneCycleLR_linear": lambda m, o: m.OneCycleLR(o, max_lr=[0.5, 2.0], epochs=4, steps_per_epoch=10,
                                                   anneal_strategy="linear", pct_start=0.25),
    "OneCycleLR_three_phase": lambda m, o: m.OneCycleLR(o, max_lr=0.8, total_steps=STEPS + 5, three_phase=True,
                                                        div_factor=10.0, final_div_factor=100.0),
    "SequentialLR_warmup_cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.25, total_iters=5), m.CosineAnnealingLR(o, T_max=30)], milestones=[5]),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_matches_torch(name):
    seq = _assert_same_sequence(SCHEDULES[name])
    assert len(seq) == STEPS + 1
    assert len({round(v[0], 12) for v in seq}) > 1  # the schedule really moves


def test_two_schedulers_on_one_optimizer_chain_like_torch():
    cg_opt, t_opt = _pair(groups=2)
    cg_s = [cg_sched.StepLR(cg_opt, 4, 0.5), cg_sched.ExponentialLR(cg_opt, 0.97)]
    t_s = [torch.optim.lr_scheduler.StepLR(t_opt, 4, 0.5), torch.optim.lr_scheduler.ExponentialLR(t_opt, 0.97)]
    for _ in range(STEPS):
        cg_opt.step()
        t_opt.step()
        for a, b in zip(cg_s, t_s):
            a.step()
            b.step()
        assert cg_s[1].get_last_lr() == pytest.approx(t_s[1].get_last_lr(), rel=1e-12)


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_one_cycle_cycles_momentum_or_beta1_like_torch(opt_name):
    _assert_same_sequence(lambda m, o: m.OneCycleLR(o, max_lr=0.3, total_steps=STEPS), opt_name=opt_name,
                          check_momentum=True)


def test_one_cycle_raises_past_total_steps():
    opt, _ = _pair()
    sched = cg_sched.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


@pytest.mark.parametrize("kwargs", [
    dict(), dict(mode="max"), dict(patience=2, factor=0.5), dict(patience=1, cooldown=3, threshold_mode="abs",
                                                                 threshold=0.05),
    dict(patience=0, min_lr=[0.02, 0.05], factor=0.3), dict(mode="max", threshold_mode="abs", patience=3),
])
def test_reduce_on_plateau_matches_torch(kwargs):
    rng = np.random.default_rng(3)
    # a metric that improves, stalls, and wanders, so reductions and cooldowns happen
    metrics = np.concatenate([np.linspace(1.0, 0.5, 8), 0.5 + 0.01 * rng.standard_normal(30), np.full(12, 0.49)])
    seq = _assert_same_sequence(lambda m, o: m.ReduceLROnPlateau(o, **kwargs), steps=len(metrics),
                                metrics=list(metrics))
    if kwargs.get("mode") != "max":
        assert seq[-1][0] < seq[0][0]


def test_closed_form_step_with_epoch_matches_torch():
    for make in (lambda m, o: m.StepLR(o, 3, 0.5), lambda m, o: m.CosineAnnealingLR(o, 12),
                 lambda m, o: m.MultiStepLR(o, [2, 6]), lambda m, o: m.ExponentialLR(o, 0.9)):
        cg_opt, t_opt = _pair()
        cg_s, t_s = make(cg_sched, cg_opt), make(torch.optim.lr_scheduler, t_opt)
        for epoch in (4, 9, 2, 7):
            cg_s.step(epoch)
            with pytest.warns(UserWarning):
                t_s.step(epoch)
            assert cg_s.get_last_lr() == pytest.approx(t_s.get_last_lr(), rel=1e-12)


@pytest.mark.parametrize("name", ["CosineAnnealingLR", "MultiStepLR", "OneCycleLR", "SequentialLR_warmup_cosine"])
def test_state_dict_round_trip_resumes_the_same_sequence(name):
    make = SCHEDULES[name]
    opt, _ = _pair(groups=2)
    sched = make(cg_sched, opt)
    for _ in range(11):
        opt.step()
        sched.step()
    saved_sched = json.loads(json.dumps(sched.state_dict()))   # JSON-friendly
    saved_opt = cg.optim.unflatten_state_dict(cg.optim.flatten_state_dict(opt.state_dict()))
    expected = []
    for _ in range(15):
        opt.step()
        sched.step()
        expected.append(sched.get_last_lr())
    opt2, _ = _pair(groups=2)
    sched2 = make(cg_sched, opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    resumed = []
    for _ in range(15):
        opt2.step()
        sched2.step()
        resumed.append(sched2.get_last_lr())
    np.testing.assert_allclose(resumed, expected, rtol=1e-12)


def test_cosine_closed_form_values():
    opt, _ = _pair(groups=1)
    sched = cg_sched.CosineAnnealingLR(opt, T_max=10, eta_min=0.0)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(10):
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    expected = [0.05 * (1 + math.cos(math.pi * t / 10)) for t in range(11)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-10, atol=1e-15)


def test_scheduler_argument_errors():
    opt, _ = _pair()
    with pytest.raises(TypeError, match="not an Optimizer"):
        cg_sched.StepLR(object(), 3)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        cg_sched.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="either total_steps OR"):
        cg_sched.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        cg_sched.LinearLR(opt, start_factor=0)
    with pytest.raises(KeyError, match="initial_lr"):
        cg_sched.StepLR(_pair()[0], 3, last_epoch=5)
