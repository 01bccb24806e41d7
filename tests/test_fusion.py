"""Inference fusion: ``F.conv_batch_norm`` and ``nn.fusion`` (conv -> BatchNorm -> ReLU as one op).

The fused op is checked against PyTorch's separate conv, eval-mode batch norm and ReLU over a
seeded grid of options (forward only: it has no backward), and against convgrad's own separate
layers bit for bit. The rules for when the layers fuse are checked by counting calls.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
import convgrad.models
from convgrad import nn
from convgrad.functional import ArgumentError, ShapeError
from convgrad.nn import fusion
from oracle import check_against_torch
from test_conv import conv_configs

TORCH_CONV = {1: TF.conv1d, 2: TF.conv2d, 3: TF.conv3d}


def _bn_arrays(channels, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(channels) * 0.5, rng.uniform(0.3, 2.0, channels),
            rng.uniform(0.5, 1.5, channels), rng.standard_normal(channels) * 0.5)


# every path of the convolution: channels-last (whole and in pieces), batch-last (narrow layer,
# batch >= 16), the FFT (9x9 kernel), and the random grid of test_conv
SPECIAL = [((2, 8, 30, 30), (16, 8, 3, 3), None, dict(padding=1)),
           ((20, 3, 12, 12), (4, 3, 5, 5), (4,), dict(padding=2)),
           ((2, 2, 20, 20), (3, 2, 9, 9), (3,), dict(padding=4)),
           ((3, 16, 40, 40), (32, 16, 3, 3), None, dict(padding=1, stride=2))]
CONFIGS = [(2, c) for c in conv_configs(2, 12, seed=31)] + [(1, c) for c in conv_configs(1, 6, seed=32)] \
    + [(3, c) for c in conv_configs(3, 4, seed=33)] + [(2, c) for c in SPECIAL]


@pytest.mark.parametrize("dims, config", CONFIGS)
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_batch_norm_matches_torch(dims, config, relu, dtype):
    x_shape, w_shape, b_shape, kwargs = config
    mean, var, gamma, beta = (a.astype(dtype) for a in _bn_arrays(w_shape[0], seed=len(CONFIGS)))
    eps = 1e-3

    def cg_fn(x, w, *b):
        return F.conv_batch_norm(x, w, b[0] if b else None, mean, var, gamma, beta, eps, relu=relu, **kwargs)

    def torch_fn(x, w, *b):
        y = TORCH_CONV[dims](x, w, b[0] if b else None, **kwargs)
        y = TF.batch_norm(y, torch.tensor(mean), torch.tensor(var), torch.tensor(gamma), torch.tensor(beta),
                          training=False, eps=eps)
        return TF.relu(y) if relu else y

    shapes = [x_shape, w_shape] + ([b_shape] if b_shape else [])
    check_against_torch(cg_fn, torch_fn, shapes, dtype=dtype, grad=False, name="conv_batch_norm")


def _conv_bn_relu(dims=2, cin=8, cout=16, seed=0, **conv_kwargs):
    conv_cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
    bn_cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims]
    model = nn.Sequential(conv_cls(cin, cout, 3, padding=1, **conv_kwargs), bn_cls(cout), nn.ReLU(),
                          conv_cls(cout, cout, 3, stride=2, bias=False), bn_cls(cout), nn.Identity())
    mean, var, gamma, beta = _bn_arrays(cout, seed)
    for bn in (model[1], model[4]):
        bn.running_mean[...] = mean
        bn.running_var[...] = var
        bn.weight.data[...] = gamma
        bn.bias.data[...] = beta
    return model.eval()


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_fused_sequential_is_bit_identical_to_the_separate_layers(dims):
    model = _conv_bn_relu(dims)
    x = cg.tensor(np.random.default_rng(1).standard_normal((3, 8) + (12,) * dims).astype(np.float32))
    with cg.no_grad():
        fused = model(x).numpy()
        with fusion.no_fusion():
            separate = model(x).numpy()
    assert np.array_equal(fused, separate)


def test_resnet18_inference_is_bit_identical_with_and_without_fusion():
    model = convgrad.models.resnet18(num_classes=10)
    rng = np.random.default_rng(2)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean[...], m.running_var[...], m.weight.data[...], m.bias.data[...] = _bn_arrays(
                m.num_features, int(rng.integers(1000)))
    model.eval()
    x = cg.tensor(rng.standard_normal((2, 3, 64, 64)).astype(np.float32))
    with cg.no_grad():
        fused = model(x).numpy()
        with fusion.no_fusion():
            separate = model(x).numpy()
    assert np.array_equal(fused, separate)


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts the calls of the fused op."""
    calls = []
    original = F.conv_batch_norm

    def spy(*args, **kwargs):
        calls.append(kwargs.get("relu"))
        return original(*args, **kwargs)
    monkeypatch.setattr(F, "conv_batch_norm", spy)
    return calls


def _x():
    return cg.tensor(np.random.default_rng(3).standard_normal((2, 8, 10, 10)).astype(np.float32))


def test_sequential_fuses_conv_bn_relu_and_conv_bn_in_inference(fused_calls):
    with cg.no_grad():
        _conv_bn_relu()(_x())
    assert fused_calls == [True, False]


def test_parameters_that_do_not_require_grad_fuse_without_no_grad(fused_calls):
    model = _conv_bn_relu()
    for p in model.parameters():
        p.requires_grad = False
    model(_x())
    assert len(fused_calls) == 2


def test_inputs_the_batch_norm_would_refuse_still_raise():
    model = _conv_bn_relu()
    with cg.no_grad(), pytest.raises(ShapeError):
        model(cg.tensor(np.zeros((8, 10, 10), np.float32)))  # unbatched: the conv takes it, BatchNorm2d not
    model = nn.Sequential(nn.Conv1d(2, 3, 3), nn.BatchNorm2d(3)).eval()
    with cg.no_grad(), pytest.raises(ShapeError):
        model(cg.tensor(np.zeros((1, 2, 9), np.float32)))


@pytest.mark.parametrize("case", ["training", "grad", "input grad", "hook", "forward replaced", "anomaly",
                                  "no_fusion", "no running stats", "padding mode", "subclass"])
def test_layers_run_separately_when_fusion_would_show(case, fused_calls):
    model = _conv_bn_relu()
    x = _x()
    run = cg.no_grad
    if case == "training":
        model.train()
    elif case == "grad":
        run = cg.enable_grad
    elif case == "input grad":
        for p in model.parameters():
            p.requires_grad = False
        x.requires_grad = True
        run = cg.enable_grad
    elif case == "hook":
        seen = []
        model[1].register_forward_hook(lambda m, i, o: seen.append(o.shape))
        model[4].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    elif case == "forward replaced":
        model[0].forward = model[0].forward
        model[3].forward = model[3].forward
    elif case == "anomaly":
        run = cg.detect_anomaly
    elif case == "no_fusion":
        run = fusion.no_fusion
    elif case == "no running stats":
        model[1].running_mean = model[1].running_var = None
        model[4].running_mean = model[4].running_var = None
    elif case == "padding mode":
        model[0].padding_mode = model[3].padding_mode = "reflect"
    elif case == "subclass":
        class MyBN(nn.BatchNorm2d):
            def forward(self, input):
                return super().forward(input) * 2
        model = nn.Sequential(nn.Conv2d(8, 4, 3), MyBN(4)).eval()
    with run():
        model(x)
    assert fused_calls == []
    if case == "hook":
        assert len(seen) == 2


def test_fused_op_refuses_gradients_and_wrong_statistics():
    x = cg.tensor(np.zeros((1, 2, 5, 5), np.float32), requires_grad=True)
    w = cg.tensor(np.zeros((3, 2, 3, 3), np.float32))
    stats = np.zeros(3, np.float32), np.ones(3, np.float32)
    with pytest.raises(ArgumentError, match="inference only"):
        F.conv_batch_norm(x, w, None, *stats)
    with cg.no_grad():
        assert F.conv_batch_norm(x, w, None, *stats).shape == (1, 3, 3, 3)
        with pytest.raises(ShapeError, match=r"running_var of shape \(3,\)"):
            F.conv_batch_norm(x, w, None, stats[0], np.ones(4, np.float32))


def test_summary_still_sees_every_layer_of_a_fusing_model():
    s = cg.summary(_conv_bn_relu(), (8, 12, 12))
    assert [r.name for r in s.layers] == ["0", "1", "2", "3", "4", "5"]


# ----------------------------------------------------------------------------------------------
# ReLU then max pooling runs as max pooling then ReLU (Sequential), in training too
# ----------------------------------------------------------------------------------------------
def _relu_pool_net(dims=2, **pool_kwargs):
    conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims]
    pool = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}[dims]
    return nn.Sequential(conv(2, 3, 3, padding=1, dtype=np.float64), nn.ReLU(), pool(2, **pool_kwargs))


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("pool_kwargs", [{}, dict(padding=1), dict(stride=1, ceil_mode=True)])
def test_pooling_before_relu_gives_the_same_values_and_gradients(dims, pool_kwargs):
    model = _relu_pool_net(dims, **pool_kwargs)
    rng = np.random.default_rng(4)
    # integer inputs and weights make ties inside the windows, and whole windows of negatives
    x = rng.integers(-3, 3, (3, 2) + (6,) * dims).astype(np.float64)
    model[0].weight.data[...] = rng.integers(-1, 2, model[0].weight.shape)
    model[0].bias.data[...] = rng.integers(-1, 2, model[0].bias.shape)

    def run(fused, weights=None):
        for p in model.parameters():
            p.grad = None
        xt = cg.tensor(x, requires_grad=True)
        if fused:
            out = model(xt)
        else:
            with fusion.no_fusion():
                out = model(xt)
        if weights is not None:
            (out * cg.tensor(weights)).sum().backward()
        return out.numpy(), xt.grad, [p.grad for p in model.parameters()]
    weights = np.random.default_rng(5).standard_normal(run(False)[0].shape)
    fused, plain = run(True, weights), run(False, weights)
    assert (fused[0] == 0).any() and (fused[0] > 0).any()
    assert np.array_equal(fused[0], plain[0])
    assert np.array_equal(fused[1].numpy(), plain[1].numpy())
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(fused[2], plain[2]))


def test_relu_runs_on_the_pooled_map(monkeypatch):
    shapes = []
    relu = nn.ReLU._fn

    def spy(x):
        shapes.append(tuple(x.shape))
        return relu(x)
    monkeypatch.setattr(nn.ReLU, "_fn", staticmethod(spy))
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    model(cg.tensor(np.ones((1, 1, 8, 8), np.float32)))
    assert shapes == [(1, 2, 4, 4)]
    shapes.clear()
    with fusion.no_fusion():
        model(cg.tensor(np.ones((1, 1, 8, 8), np.float32)))
    assert shapes == [(1, 2, 8, 8)]


def test_which_relu_pool_pairs_swap():
    relu, pool = nn.ReLU(), nn.MaxPool2d(2)
    assert fusion.swappable(relu, pool)
    assert not fusion.swappable(relu, nn.MaxPool2d(2, return_indices=True))
    assert not fusion.swappable(relu, nn.AvgPool2d(2))
    assert not fusion.swappable(relu, nn.MinPool2d(2))
    assert not fusion.swappable(nn.LeakyReLU(), pool)
    with cg.detect_anomaly():
        assert not fusion.swappable(relu, pool)
    with fusion.no_fusion():
        assert not fusion.swappable(relu, pool)
    handle = pool.register_forward_hook(lambda m, i, o: None)
    assert not fusion.swappable(relu, pool)
    handle.remove()
    assert fusion.swappable(relu, pool)


def test_a_hooked_batch_norm_keeps_the_output_it_gave_its_hook():
    """The residual sum is done in place only where no one else can hold the batch norm's output."""
    model = convgrad.models.resnet18(num_classes=10).eval()
    block = model.layer1[0]
    seen = []
    block.bn2.register_forward_hook(lambda m, i, o: seen.append((o, o.numpy().copy())))
    x = cg.tensor(np.random.default_rng(6).standard_normal((1, 3, 64, 64)).astype(np.float32))
    with cg.no_grad():
        model(x)
    held, copy = seen[0]
    assert np.array_equal(held.numpy(), copy)
