"""Normalisation: batch/layer/group/instance norm and LRN against PyTorch (forward, every gradient,
running statistics), against plain-loop references and against finite differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.nn.functional as F
from convgrad.errors import ArgumentError, ShapeError
from convgrad.kernels import batch_norm as bn_kernels
from oracle import assert_close, check_against_torch, check_gradient

SHAPES = {1: (6, 3), 2: (4, 3, 5), 3: (2, 3, 4, 5), 4: (2, 3, 2, 3, 4)}


def _stats(channels, dtype, seed=7):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(channels).astype(dtype), (rng.random(channels) + 0.5).astype(dtype)


# ----------------------------------------------------------------------------------------------
# batch_norm
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("rank", [1, 2, 3, 4])
def test_batch_norm_matches_torch(rank, training, affine, dtype):
    shape = SHAPES[rank]
    c = shape[1]
    rm, rv = _stats(c, dtype)
    stats = {"cg": (cg.tensor(rm.copy()), cg.tensor(rv.copy())), "torch": (torch.tensor(rm.copy()), torch.tensor(rv.copy()))}

    def run(lib, x, w=None, b=None):
        fn = F.batch_norm if lib == "cg" else TF.batch_norm
        return fn(x * 2 + 1, *stats[lib], w, b, training, 0.2, 1e-5)

    inputs = [shape, (c,), (c,)] if affine else [shape]
    check_against_torch(lambda *a: run("cg", *a), lambda *a: run("torch", *a), inputs, dtype=dtype, seed=rank,
                        name="batch_norm")
    rtol = 1e-10 if dtype == np.float64 else 1e-5
    for ours, theirs in zip(stats["cg"], stats["torch"]):   # running statistics updated alike
        assert_close(ours.numpy(), theirs.numpy(), rtol, "running statistics")


def _channels_last(a):
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_on_channels_last_memory_keeps_the_layout(training):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5, 6)).astype(np.float32)
    xcl = _channels_last(x)
    assert not xcl.flags.c_contiguous
    rm, rv = _stats(4, np.float32)
    w, b = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    cx = cg.tensor(xcl, requires_grad=True)
    cw, cb = cg.tensor(w, requires_grad=True), cg.tensor(b, requires_grad=True)
    out = F.batch_norm(cx, cg.tensor(rm.copy()), cg.tensor(rv.copy()), cw, cb, training)
    assert np.moveaxis(out.numpy(), 1, -1).flags.c_contiguous          # output stays channels-last
    g = rng.standard_normal(x.shape).astype(np.float32)
    out.backward(_channels_last(g))
    tx = torch.tensor(x, requires_grad=True)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    ref = TF.batch_norm(tx, torch.tensor(rm), torch.tensor(rv), tw, tb, training)
    ref.backward(torch.tensor(g))
    for ours, theirs in [(out, ref), (cx.grad, tx.grad), (cw.grad, tw.grad), (cb.grad, tb.grad)]:
        assert_close(ours.numpy(), theirs.detach().numpy(), 1e-4)


def test_batch_norm_naive_reference():
    """From the definition, one channel at a time: (x - mean) / sqrt(var + eps) * w + b."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3, 4, 2))
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    running_mean, running_var = cg.zeros(3, dtype=np.float64), cg.ones(3, dtype=np.float64)
    out = F.batch_norm(cg.tensor(x), running_mean, running_var, cg.tensor(w), cg.tensor(b), True, 0.1, 1e-5).numpy()
    rm, rv = running_mean.numpy(), running_var.numpy()
    expected = np.empty_like(x)
    for c in range(3):
        values = x[:, c].ravel()
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / len(values)
        expected[:, c] = (x[:, c] - mean) / np.sqrt(var + 1e-5) * w[c] + b[c]
        unbiased = var * len(values) / (len(values) - 1)
        assert rm[c] == pytest.approx(0.1 * mean, rel=1e-12)
        assert rv[c] == pytest.approx(0.9 + 0.1 * unbiased, rel=1e-12)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_finite_differences(training):
    rm, rv = _stats(3, np.float64)
    check_gradient(lambda x, w, b: F.batch_norm(x, cg.tensor(rm.copy()), cg.tensor(rv.copy()), w, b, training),
                   [(4, 3, 2, 2), (3,), (3,)])
    check_gradient(lambda x: F.batch_norm(x, None, None, training=True), [(5, 2)])


# The (M, C) kernels against float64 formulas, on shapes with wide rows, 64-row rows and single
# rows, on data centred near 0 (the folded x * s + t paths) and with a large mean (centred paths).
KERNEL_SHAPES = [(3 * 1024 + 2 * 64 + 5, 16), (333, 5), (70 * 64 + 3, 48), (130, 512), (7, 3)]


@pytest.mark.parametrize("offset", [0.0, 3.0, 1e3])
@pytest.mark.parametrize("shape", KERNEL_SHAPES)
def test_batch_norm_kernels_match_float64_formulas(shape, offset):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 2, shape[1]) + offset).astype(np.float32)
    g = (rng.standard_normal(shape) + 0.3).astype(np.float32)
    w, b = rng.standard_normal(shape[1]).astype(np.float32), rng.standard_normal(shape[1]).astype(np.float32)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    mean, var = bn_kernels.mean_and_variance(x)
    assert mean.dtype == var.dtype == np.float64
    ref_var = x64.var(axis=0)
    np.testing.assert_allclose(mean, x64.mean(axis=0), rtol=0, atol=1e-6 * (abs(offset) + 1))
    np.testing.assert_allclose(var, ref_var, rtol=1e-5)
    mean, invstd = mean.astype(np.float32), (1 / np.sqrt(var + 1e-5)).astype(np.float32)
    x_hat = (x64 - mean) * invstd
    assert_close(bn_kernels.normalize(x, mean, invstd, w, b), x_hat * w + b, 1e-6, "normalize")
    assert_close(bn_kernels.normalize(x, mean, invstd, None, None), x_hat, 1e-6, "normalize, no affine")
    sum_g, sum_gx = bn_kernels.gradient_sums(g, x, mean, invstd)
    assert_close(sum_g, g64.sum(axis=0), 1e-6, "sum(g)")
    assert_close(sum_gx, (g64 * x_hat).sum(axis=0), 1e-6 * np.sqrt(shape[0]), "sum(g * x_hat)")
    m, scale = shape[0], invstd * w
    mean_g, mean_gx = (sum_g / m).astype(np.float32), (sum_gx / m).astype(np.float32)
    expected = (g64 - mean_g - x_hat * mean_gx) * scale
    assert_close(bn_kernels.input_gradient(g, x, mean, invstd, mean_g, mean_gx, scale), expected, 1e-6, "dx")
    assert_close(bn_kernels.scale_shift(x, w, b), x64 * w + b, 1e-6, "scale_shift")
    assert_close(bn_kernels.scale_shift(x, w, None), x64 * w, 1e-6, "scale_shift, no shift")


def test_batch_norm_statistics_when_the_sampled_shift_is_far_from_the_mean(monkeypatch):
    """The statistics are centred on the mean of a sample of rows; when that sample is not like
    the rest (here every sampled row of channel 0 is an outlier), the variance is summed again
    around the mean."""
    m = 256 * 64
    x = np.random.default_rng(12).standard_normal((m, 3)).astype(np.float32)
    x[bn_kernels._sample_rows(m, 3), 0] = 1e4
    passes = []
    shifted_sums = bn_kernels._shifted_sums
    monkeypatch.setattr(bn_kernels, "_shifted_sums", lambda *a: passes.append(a) or shifted_sums(*a))
    mean, var = bn_kernels.mean_and_variance(x)
    assert len(passes) == 2
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=0), rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(var, x64.var(axis=0), rtol=1e-5)


@pytest.mark.parametrize("layout", ["rows", "channels_last"])
def test_batch_norm_training_on_data_with_a_large_mean(layout):
    """Mean 1e3, std 1, float32: a variance from E[x^2] - E[x]^2 would lose every digit; the
    output and the gradients must still agree with float64 PyTorch on the same numbers."""
    rng = np.random.default_rng(13)
    shape = (512, 6) if layout == "rows" else (16, 6, 9, 7)
    x = (rng.standard_normal(shape) + 1e3).astype(np.float32)
    if layout == "channels_last":
        x = _channels_last(x)
    w, b = rng.standard_normal(6).astype(np.float32), rng.standard_normal(6).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    cx, cw, cb = (cg.tensor(a, requires_grad=True) for a in (x, w, b))
    rm, rv = cg.zeros(6), cg.ones(6)
    out = F.batch_norm(cx, rm, rv, cw, cb, True, 0.1, 1e-5)
    out.backward(g)
    tx, tw, tb = (torch.tensor(np.ascontiguousarray(a), dtype=torch.float64, requires_grad=True) for a in (x, w, b))
    trm, trv = torch.zeros(6, dtype=torch.float64), torch.ones(6, dtype=torch.float64)
    ref = TF.batch_norm(tx, trm, trv, tw, tb, True, 0.1, 1e-5)
    ref.backward(torch.tensor(g, dtype=torch.float64))
    for what, ours, theirs in [("output", out, ref), ("input gradient", cx.grad, tx.grad),
                               ("weight gradient", cw.grad, tw.grad), ("bias gradient", cb.grad, tb.grad),
                               ("running mean", rm, trm), ("running var", rv, trv)]:
        assert_close(ours.numpy(), theirs.detach().numpy(), 1e-4, what)


# ----------------------------------------------------------------------------------------------
# BatchNorm layers: several training steps, then evaluation, exactly like torch.nn
# ----------------------------------------------------------------------------------------------
BN_LAYERS = [("BatchNorm1d", (8, 4)), ("BatchNorm1d", (4, 4, 6)), ("BatchNorm2d", (3, 4, 5, 5)),
             ("BatchNorm3d", (2, 4, 3, 3, 2))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [dict(), dict(momentum=None), dict(momentum=0.3, eps=1e-3),
                                     dict(affine=False), dict(track_running_stats=False), dict(bias=False)])
@pytest.mark.parametrize("layer,shape", BN_LAYERS)
def test_batchnorm_layer_training_steps_and_eval_match_torch(layer, shape, options, dtype):
    ours = getattr(cg.nn, layer)(4, **options).to(dtype)
    theirs = getattr(torch.nn, layer)(4, **options).to(torch.float64 if dtype == np.float64 else torch.float32)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(2)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    for name, p in theirs.named_parameters():   # non-trivial affine parameters, the same in both
        value = rng.standard_normal(4)
        ours.load_state_dict({**ours.state_dict(), name: value})
        p.data = torch.tensor(value, dtype=p.dtype)
    for step in range(4):
        for mode in ("train", "eval") if step == 3 else ("train",):
            ours.train(mode == "train")
            theirs.train(mode == "train")
            x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
            g = rng.standard_normal(shape).astype(dtype)
            cx, tx = cg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            out, ref = ours(cx), theirs(tx)
            out.backward(g)
            ref.backward(torch.tensor(g))
            assert_close(out.numpy(), ref.detach().numpy(), rtol, f"{mode} output step {step}")
            assert_close(cx.grad.numpy(), tx.grad.numpy(), rtol, f"{mode} input gradient step {step}")
            for name, p in theirs.named_parameters():
                assert_close(getattr(ours, name).grad.numpy(), p.grad.numpy(), rtol, f"{name} gradient")
                getattr(ours, name).grad, p.grad = None, None
            for key, value in theirs.state_dict().items():
                assert_close(ours.state_dict()[key], value.numpy(), rtol, key)
    if options.get("track_running_stats", True):
        assert ours.num_batches_tracked.dtype == np.int64 and ours.num_batches_tracked.item() == 4


def test_batchnorm_loads_a_torch_state_dict_and_repr():
    theirs = torch.nn.BatchNorm2d(6, momentum=0.2)
    theirs.train()
    theirs(torch.randn(4, 6, 3, 3) * 3 + 1)
    ours = cg.nn.BatchNorm2d(6, momentum=0.2)
    ours.load_state_dict(theirs.state_dict())
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(0).standard_normal((2, 6, 3, 3)).astype(np.float32)
    assert_close(ours(cg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), 1e-5)
    assert repr(ours) == repr(theirs)
    assert repr(cg.nn.BatchNorm1d(3, affine=False)) == repr(torch.nn.BatchNorm1d(3, affine=False))


def test_batchnorm_errors_name_the_layer():
    with pytest.raises(ShapeError, match=r"BatchNorm2d\(64\): expected input with 64 channels \(N, 64, H, W\), "
                                         r"got \(8, 32, 14, 14\)"):
        cg.nn.BatchNorm2d(64)(cg.zeros(8, 32, 14, 14))
    with pytest.raises(ShapeError, match=r"BatchNorm2d\(4\): expected 4-D input \(N, 4, H, W\), got \(8, 4\)"):
        cg.nn.BatchNorm2d(4)(cg.zeros(8, 4))
    with pytest.raises(ShapeError, match=r"BatchNorm1d\(64\): expected more than 1 value per channel when training"):
        cg.nn.BatchNorm1d(64)(cg.zeros(1, 64))
    with pytest.raises(ValueError, match="more than 1 value per channel"):   # torch raises too
        torch.nn.BatchNorm1d(64)(torch.zeros(1, 64))
    bn = cg.nn.BatchNorm1d(64).eval()
    assert bn(cg.zeros(1, 64)).shape == (1, 64)                # evaluation mode accepts one sample
    assert cg.nn.BatchNorm1d(64)(cg.zeros(1, 64, 3)).shape == (1, 64, 3)
    with pytest.raises(ShapeError, match="batch_norm: expected weight of shape"):
        F.batch_norm(cg.zeros(2, 3), None, None, cg.ones(4), training=True)
    with pytest.raises(ArgumentError, match="running_mean and running_var"):
        F.batch_norm(cg.zeros(2, 3), None, None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["nchw", "channels_last", "batch_last"])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm_inference_without_gradients_matches_torch(dtype, layout, affine):
    """Evaluation under no_grad folds the statistics into one scale and shift per channel."""
    rng = np.random.default_rng(3)
    theirs = torch.nn.BatchNorm2d(5, affine=affine).to(torch.float32 if dtype == np.float32 else torch.float64)
    with torch.no_grad():
        theirs.running_mean.copy_(torch.tensor(rng.standard_normal(5) * 3))
        theirs.running_var.copy_(torch.tensor(rng.random(5) * 4 + 0.01))
        if affine:
            theirs.weight.copy_(torch.tensor(rng.standard_normal(5)))
            theirs.bias.copy_(torch.tensor(rng.standard_normal(5)))
    ours = cg.nn.BatchNorm2d(5, affine=affine)
    if dtype == np.float64:
        ours.double()
    ours.load_state_dict(theirs.state_dict())
    ours.eval()
    theirs.eval()
    x = (rng.standard_normal((17, 5, 4, 6)) * 2 + 1).astype(dtype)
    memory = {"nchw": x, "channels_last": np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
              "batch_last": np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)}[layout]
    with cg.no_grad():
        out = ours(cg.tensor(memory))
    with torch.no_grad():
        ref = theirs(torch.tensor(x))
    assert out.dtype == dtype
    assert_close(out.numpy(), ref.numpy(), 1e-5 if dtype == np.float32 else 1e-12)


def test_batchnorm_eval_has_no_graph_cost_under_no_grad():
    bn = cg.nn.BatchNorm2d(3).eval()
    with cg.no_grad():
        out = bn(cg.randn(2, 3, 4, 4))
    assert out.grad_fn is None and not out.requires_grad


# ----------------------------------------------------------------------------------------------
# layer_norm, group_norm, instance_norm
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape,normalized_shape", [((4, 6), (6,)), ((2, 3, 5), (5,)), ((2, 3, 4, 5), (3, 4, 5)),
                                                    ((3, 2, 4, 4), (4, 4))])
def test_layer_norm_matches_torch(shape, normalized_shape, affine, dtype):
    inputs = [shape, normalized_shape, normalized_shape] if affine else [shape]
    check_against_torch(lambda x, *wb: F.layer_norm(x * 3 - 1, normalized_shape, *wb, eps=1e-5),
                        lambda x, *wb: TF.layer_norm(x * 3 - 1, normalized_shape, *wb, eps=1e-5),
                        inputs, dtype=dtype, name="layer_norm")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape,groups", [((2, 6), 3), ((2, 6, 5), 2), ((2, 6, 4, 3), 1), ((3, 6, 3, 3), 6),
                                          ((2, 4, 2, 3, 2), 2)])
def test_group_norm_matches_torch(shape, groups, affine, dtype):
    c = shape[1]
    inputs = [shape, (c,), (c,)] if affine else [shape]
    check_against_torch(lambda x, *wb: F.group_norm(x + 0.5, groups, *wb, eps=1e-4),
                        lambda x, *wb: TF.group_norm(x + 0.5, groups, *wb, eps=1e-4),
                        inputs, dtype=dtype, name="group_norm")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("running", [False, True])
def test_instance_norm_matches_torch(running, dtype):
    rm, rv = _stats(3, dtype)
    stats = {"cg": (cg.tensor(rm.copy()), cg.tensor(rv.copy())), "torch": (torch.tensor(rm.copy()), torch.tensor(rv.copy()))}

    def run(lib, x, w, b):
        fn = F.instance_norm if lib == "cg" else TF.instance_norm
        rmean, rvar = stats[lib] if running else (None, None)
        return fn(x, rmean, rvar, w, b, True, 0.3, 1e-5)

    check_against_torch(lambda *a: run("cg", *a), lambda *a: run("torch", *a), [(2, 3, 4, 5), (3,), (3,)],
                        dtype=dtype, name="instance_norm")
    for ours, theirs in zip(stats["cg"], stats["torch"]):
        assert_close(ours.numpy(), theirs.numpy(), 1e-10 if dtype == np.float64 else 1e-5, "running statistics")


def test_instance_norm_layer_matches_torch():
    rng = np.random.default_rng(4)
    ours, theirs = cg.nn.InstanceNorm2d(3, affine=True, track_running_stats=True), \
        torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for mode in ("train", "train", "eval"):
        ours.train(mode == "train")
        theirs.train(mode == "train")
        x = rng.standard_normal((2, 3, 4, 4)).astype(np.float32) * 2 + 1
        assert_close(ours(cg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), 1e-4, mode)
    assert_close(ours.running_var.numpy(), theirs.running_var.numpy(), 1e-5)


def test_layer_and_group_norm_naive_reference():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 3))
    ln = F.layer_norm(cg.tensor(x), (4, 3)).numpy()
    gn = F.group_norm(cg.tensor(x), 2).numpy()
    for n in range(2):
        sample = x[n]
        np.testing.assert_allclose(ln[n], (sample - sample.mean()) / np.sqrt(sample.var() + 1e-5), rtol=1e-12)
        for g in range(2):
            group = x[n, 2 * g:2 * g + 2]
            np.testing.assert_allclose(gn[n, 2 * g:2 * g + 2], (group - group.mean()) / np.sqrt(group.var() + 1e-5),
                                       rtol=1e-12)


def test_layer_group_instance_norm_finite_differences():
    check_gradient(lambda x, w, b: F.layer_norm(x, (3, 2), w, b), [(2, 4, 3, 2), (3, 2), (3, 2)])
    check_gradient(lambda x, w, b: F.group_norm(x, 2, w, b), [(2, 4, 3), (4,), (4,)])
    check_gradient(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), [(2, 3, 4), (3,), (3,)])


def test_layer_and_group_norm_layers_match_torch():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 6, 3, 3)).astype(np.float32)
    for ours, theirs in [(cg.nn.LayerNorm((6, 3, 3)), torch.nn.LayerNorm((6, 3, 3))),
                         (cg.nn.LayerNorm(3, elementwise_affine=False), torch.nn.LayerNorm(3, elementwise_affine=False)),
                         (cg.nn.LayerNorm(3, bias=False), torch.nn.LayerNorm(3, bias=False)),
                         (cg.nn.GroupNorm(3, 6), torch.nn.GroupNorm(3, 6)),
                         (cg.nn.GroupNorm(2, 6, affine=False), torch.nn.GroupNorm(2, 6, affine=False)),
                         (cg.nn.GroupNorm(2, 6, bias=False), torch.nn.GroupNorm(2, 6, bias=False))]:
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)
        state = {k: rng.standard_normal(tuple(v.shape)).astype(np.float32) for k, v in theirs.state_dict().items()}
        ours.load_state_dict(state)
        theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        assert_close(ours(cg.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), 1e-5)


def test_layer_and_group_norm_errors():
    with pytest.raises(ShapeError, match=r"LayerNorm\(\(5,\)\): expected input of shape \(\*, 5\), got \(2, 4\)"):
        cg.nn.LayerNorm(5)(cg.zeros(2, 4))
    with pytest.raises(ShapeError, match="layer_norm: expected input of shape"):
        F.layer_norm(cg.zeros(2, 4), (3, 4))
    with pytest.raises(ArgumentError, match=r"GroupNorm\(4, 6\): num_channels must be divisible"):
        cg.nn.GroupNorm(4, 6)
    with pytest.raises(ShapeError, match=r"GroupNorm\(2, 6\): expected input with 6 channels"):
        cg.nn.GroupNorm(2, 6)(cg.zeros(2, 4, 3))
    with pytest.raises(ArgumentError, match="divisible by num_groups=4"):
        F.group_norm(cg.zeros(2, 6, 3), 4)


# ----------------------------------------------------------------------------------------------
# local_response_norm
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size,alpha,beta,k", [(5, 1e-4, 0.75, 1.0), (2, 0.5, 0.75, 2.0), (3, 1.0, 0.5, 1.0),
                                                (1, 0.3, 1.2, 0.5), (4, 2.0, 0.75, 1.0), (9, 0.1, 0.9, 1.5)])
@pytest.mark.parametrize("shape", [(2, 7, 5), (2, 6, 3, 4), (1, 5, 2, 2, 3)])
def test_local_response_norm_matches_torch(shape, size, alpha, beta, k, dtype):
    check_against_torch(lambda x: F.local_response_norm(x * 2, size, alpha, beta, k),
                        lambda x: TF.local_response_norm(x * 2, size, alpha, beta, k), [shape], dtype=dtype,
                        name="local_response_norm")


def test_local_response_norm_naive_reference_and_layer():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 7, 3, 2))
    size, alpha, beta, k = 4, 0.6, 0.75, 2.0
    expected = np.empty_like(x)
    for c in range(7):
        lo, hi = max(0, c - size // 2), min(6, c + (size - 1) // 2)
        square_sum = sum(x[:, j] ** 2 for j in range(lo, hi + 1))
        expected[:, c] = x[:, c] / (k + alpha / size * square_sum) ** beta
    layer = cg.nn.LocalResponseNorm(size, alpha, beta, k)
    np.testing.assert_allclose(layer(cg.tensor(x)).numpy(), expected, rtol=1e-12)
    assert repr(layer) == repr(torch.nn.LocalResponseNorm(size, alpha, beta, k))
    check_gradient(lambda t: F.local_response_norm(t, 3, 0.5, 0.75, 1.0), [(2, 5, 2, 2)])
    with pytest.raises(ShapeError, match=r"LocalResponseNorm\(4\): expected input of shape \(N, C, \*\)"):
        layer(cg.zeros(3, 7))
