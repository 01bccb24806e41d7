"""Every convolution backend (kernels/conv_backends.py) against the reference backend.

The reference is plain im2col + GEMM (checked against PyTorch here too). Each other backend runs
the same randomized convolutions (1-3 spatial axes, stride, padding, dilation, groups, bias,
inputs in channels-first, channels-last and batch-last memory), forward and both gradients, in
float32 and float64, and must agree with it. A few larger layers reach the channels-last
engine's pieces on both cores and its kernel-row (row-shift) products. ``set_conv_algorithm``
must force the backend that ``conv2d`` uses.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from convgrad.kernels import conv_algo, conv_backends
from convgrad.kernels.conv_backends import BACKENDS, ReferenceBackend, select_backend

TOL = {np.float32: 2e-4, np.float64: 1e-10}


def random_configs(count, seed):
    """``(x_shape, w_shape, has_bias, stride, pad_lo, pad_hi, dilation, groups, layout)``."""
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        dims = int(rng.choice([1, 2, 2, 2, 3]))
        groups = int(rng.choice([1, 1, 1, 2, 3]))
        cin = groups * int(rng.integers(1, 6))
        cout = groups * int(rng.integers(1, 6))
        kernel = tuple(int(k) for k in rng.integers(1, 5, dims))
        stride = tuple(int(s) for s in rng.integers(1, 3, dims))
        dilation = tuple(int(d) for d in rng.integers(1, 3, dims))
        pad_lo = tuple(int(p) for p in rng.integers(0, 3, dims))
        pad_hi = tuple(int(p) for p in rng.integers(0, 3, dims))
        size = tuple(int(s) for s in rng.integers(4, 11 if dims < 3 else 7, dims))
        if any(d * (k - 1) + 1 > s + lo + hi for d, k, s, lo, hi in zip(dilation, kernel, size, pad_lo, pad_hi)):
            continue
        batch = int(rng.choice([1, 2, 3, 17]))  # 17: batch-last memory is eligible
        layout = str(rng.choice(["first", "last", "batch_last"]))
        configs.append(((batch, cin) + size, (cout, cin // groups) + kernel, bool(rng.random() < 0.6),
                        stride, pad_lo, pad_hi, dilation, groups, layout))
    return configs


# larger layers: the channels-last engine's pieces on both cores (>= 4 MB of columns) and its
# kernel rows (stride 1, a single sample without weight gradient, or within the pieces)
LARGE = [((3, 32, 40, 40), (32, 32, 3, 3), True, (1, 1), (1, 1), (1, 1), (1, 1), 1, "last"),
         ((1, 32, 40, 40), (64, 32, 3, 3), False, (1, 1), (1, 1), (1, 1), (1, 1), 1, "last"),
         ((2, 24, 36, 36), (16, 24, 3, 5), True, (1, 2), (1, 2), (0, 1), (1, 1), 1, "first")]
# strided layers with at least 16 input channels per group: the channels-last engine's input
# gradient is one stride-1 correlation per phase of the stride (conv_algo._input_grad_phases),
# including phases no tap reaches (kernel smaller than the stride), asymmetric padding, groups;
# the dilated one keeps col2im
STRIDED = [((2, 16, 9, 10), (8, 16, 4, 4), False, (2, 2), (1, 1), (1, 1), (1, 1), 1, "last"),
           ((2, 18, 11, 7), (5, 18, 3, 1), True, (3, 2), (2, 0), (1, 1), (1, 1), 1, "first"),
           ((3, 16, 13), (4, 16, 5), True, (3,), (2,), (0,), (1,), 1, "first"),
           ((2, 32, 8, 8), (6, 16, 3, 3), False, (2, 2), (1, 1), (0, 1), (1, 1), 2, "last"),
           ((1, 16, 5, 6, 5), (3, 16, 2, 3, 1), False, (2, 2, 3), (0, 1, 0), (1, 0, 0), (1, 1, 1), 1, "first"),
           ((2, 16, 9, 9), (4, 16, 3, 3), False, (2, 2), (1, 1), (1, 1), (2, 2), 1, "last")]
CONFIGS = random_configs(28, 7) + LARGE + STRIDED


def in_layout(a, layout):
    """The same values in channels-first, channels-last or batch-last memory."""
    if layout == "last":
        return np.ascontiguousarray(np.moveaxis(a, 1, -1)).transpose((0, a.ndim - 1) + tuple(range(1, a.ndim - 1)))
    if layout == "batch_last":
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 0, -1)), -1, 0)
    return a


def run_backend(backend, x, w, b, g, need_x=True, need_w=True):
    out, saved = backend.forward(x, w, b, need_x, need_w)
    out = np.array(out)  # before the backward: a backend may reuse buffers
    gx, gw, gb = backend.backward(g, saved, need_x, need_w, b is not None)
    return out, gx, gw, gb


def operands(config, dtype, seed):
    x_shape, w_shape, has_bias, stride, pad_lo, pad_hi, dilation, groups, layout = config
    rng = np.random.default_rng(seed)
    x = in_layout(rng.standard_normal(x_shape).astype(dtype), layout)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if has_bias else None
    out_spatial = tuple(conv_algo.conv_out_size(s, k, st, lo + hi, d) for s, k, st, lo, hi, d
                        in zip(x_shape[2:], w_shape[2:], stride, pad_lo, pad_hi, dilation))
    g = in_layout(rng.standard_normal((x_shape[0], w_shape[0]) + out_spatial).astype(dtype), layout)
    return x, w, b, g, (stride, pad_lo, pad_hi, dilation, groups)


def assert_close(got, want, dtype, what):
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = max(1.0, float(np.abs(want).max()))
    err = float(np.abs(np.asarray(got, np.float64) - want).max()) / scale
    assert err <= TOL[dtype], f"{what}: relative error {err:.3g} above {TOL[dtype]}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index", range(6))
def test_reference_backend_matches_torch(index, dtype):
    x, w, b, g, (stride, pad_lo, pad_hi, dilation, groups) = operands(CONFIGS[index], dtype, index)
    x_shape = x.shape
    # torch pads symmetrically: pad by hand, then run unpadded
    pads = [p for lo, hi in zip(reversed(pad_lo), reversed(pad_hi)) for p in (lo, hi)]
    tx = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    conv = {1: TF.conv1d, 2: TF.conv2d, 3: TF.conv3d}[len(x_shape) - 2]
    ty = conv(TF.pad(tx, pads), tw, tb, stride=stride, dilation=dilation, groups=groups)
    ty.backward(torch.tensor(np.ascontiguousarray(g)))
    out, gx, gw, gb = run_backend(ReferenceBackend(stride, pad_lo, pad_hi, dilation, groups), x, w, b, g)
    assert_close(out, ty.detach().numpy(), dtype, "forward")
    assert_close(gx, tx.grad.numpy(), dtype, "input gradient")
    assert_close(gw, tw.grad.numpy(), dtype, "weight gradient")
    if b is not None:
        assert_close(gb, tb.grad.numpy(), dtype, "bias gradient")


CASES = [(name, i) for name in BACKENDS if name != "reference" for i in range(len(CONFIGS))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,index", CASES)
def test_every_backend_matches_the_reference(name, index, dtype):
    config = CONFIGS[index]
    cls = BACKENDS[name]
    x, w, b, g, options = operands(config, dtype, 100 + index)
    stride, _, _, dilation, groups = options
    if not cls.supports(x.shape, w.shape, stride, dilation, groups):
        pytest.skip(f"{name} does not run grouped convolutions")  # what select_backend honours too
    want = run_backend(ReferenceBackend(*options), x, w, b, g)
    for need_x, need_w in ((True, True), (True, False), (False, True), (False, False)):
        got = run_backend(cls(*options), x, w, b, g, need_x, need_w)
        assert_close(got[0], want[0], dtype, f"{name} forward")
        assert got[0].dtype == dtype
        for what, value, ref, needed in (("input gradient", got[1], want[1], need_x),
                                          ("weight gradient", got[2], want[2], need_w)):
            if needed:
                assert value.dtype == dtype
                assert_close(value, ref, dtype, f"{name} {what}")
            else:
                assert value is None
        if b is not None:
            assert_close(got[3], want[3], dtype, f"{name} bias gradient")


def test_automatic_choice_covers_every_path():
    """The rules: FFT for large stride-1 kernels, batch-last for narrow batches, else channels-last."""
    opts = dict(stride=(1, 1), pad_lo=(0, 0), pad_hi=(0, 0), dilation=(1, 1), groups=1)
    narrow = np.zeros((32, 1, 28, 28), np.float32)
    wide = np.zeros((8, 64, 20, 20), np.float32)
    assert select_backend(narrow, (6, 1, 5, 5), **opts).name == "batch_last"
    assert select_backend(wide, (64, 64, 3, 3), **opts).name == "channels_last"
    assert select_backend(wide, (8, 64, 11, 11), **opts).name == "fft"
    assert select_backend(narrow[:2], (6, 1, 5, 5), **opts).name == "channels_last"  # batch below 16


@pytest.mark.parametrize("name", list(BACKENDS))
def test_set_conv_algorithm_forces_the_backend_of_conv2d(name):
    rng = np.random.default_rng(3)
    x = cg.tensor(rng.standard_normal((17, 3, 9, 9)).astype(np.float64), requires_grad=True)
    w = cg.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float64), requires_grad=True)
    previous = cg.set_conv_algorithm(name)
    try:
        y = F.conv2d(x, w, padding=1)
        assert y._node.ctx.backend.name == name
        y.sum().backward()
    finally:
        assert cg.set_conv_algorithm(previous) == name
    tx = torch.tensor(x.numpy(), requires_grad=True)
    tw = torch.tensor(w.numpy(), requires_grad=True)
    TF.conv2d(tx, tw, padding=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_a_forced_backend_that_cannot_run_a_layer_leaves_it_to_the_rules():
    previous = cg.set_conv_algorithm("batch_last")
    try:
        backend = select_backend(np.zeros((32, 4, 8, 8)), (4, 2, 3, 3), (1, 1), (0, 0), (0, 0), (1, 1), 2)
    finally:
        cg.set_conv_algorithm(previous)
    assert backend.name == "channels_last"


def test_unknown_algorithm_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="reference"):
        cg.set_conv_algorithm("winograd")
    assert set(conv_backends.BACKENDS) < set(conv_algo.ALGORITHMS)
