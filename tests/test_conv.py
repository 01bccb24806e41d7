"""Convolution: conv1d/2d/3d, conv_transpose1d/2d/3d and the Conv/ConvTranspose layers.

Checked against PyTorch over a seeded random grid of options (forward and every gradient, float32
and float64), against a nested-loop conv2d written from the definition, and by finite differences.
"""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from convgrad.functional import ArgumentError, ShapeError
from convgrad.kernels import conv_algo
from convgrad.kernels.im2col import has_gemm_layout
from oracle import assert_close, check_against_torch, check_gradient


# ----------------------------------------------------------------------------------------------
# A randomized grid of convolution configurations
# ----------------------------------------------------------------------------------------------
def conv_configs(dims, count, seed):
    """``count`` valid (input shape, weight shape, bias shape, kwargs) for conv{dims}d."""
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        groups = int(rng.choice([1, 1, 2, 3]))
        depthwise = rng.random() < 0.2
        cin_g = 1 if depthwise else int(rng.integers(1, 4))
        cin = cin_g * groups
        cout = groups * int(rng.integers(1, 4))
        kernel = tuple(int(k) for k in rng.integers(1, 4, dims))
        stride = tuple(int(s) for s in rng.integers(1, 3, dims))
        dilation = tuple(int(d) for d in rng.integers(1, 3, dims))
        size = tuple(int(s) for s in rng.integers(4, 9 if dims < 3 else 6, dims))
        choice = rng.random()
        if choice < 0.15:
            padding, stride = "same", (1,) * dims
        elif choice < 0.25:
            padding = "valid"
        else:
            padding = tuple(int(p) for p in rng.integers(0, 3, dims))
        pad = (0,) * dims if isinstance(padding, str) else padding
        if any(d * (k - 1) + 1 > s + 2 * p for d, k, s, p in zip(dilation, kernel, size, pad)):
            continue
        kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        bias = (cout,) if rng.random() < 0.7 else None
        configs.append(((2, cin) + size, (cout, cin_g) + kernel, bias, kwargs))
    return configs


def transpose_configs(dims, count, seed):
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        groups = int(rng.choice([1, 1, 2]))
        cin = groups * int(rng.integers(1, 4))
        cout_g = int(rng.integers(1, 4))
        kernel = tuple(int(k) for k in rng.integers(1, 4, dims))
        stride = tuple(int(s) for s in rng.integers(1, 4, dims))
        dilation = tuple(int(d) for d in rng.integers(1, 3, dims))
        padding = tuple(int(p) for p in rng.integers(0, 3, dims))
        output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
        size = tuple(int(s) for s in rng.integers(2, 6, dims))
        out = [(i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, s, p, d, k, op
               in zip(size, stride, padding, dilation, kernel, output_padding)]
        if min(out) < 1:
            continue
        kwargs = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                      dilation=dilation)
        bias = (cout_g * groups,) if rng.random() < 0.7 else None
        configs.append(((2, cin) + size, (cin, cout_g) + kernel, bias, kwargs))
    return configs


CONV_FNS = {1: (F.conv1d, TF.conv1d), 2: (F.conv2d, TF.conv2d), 3: (F.conv3d, TF.conv3d)}
TRANSPOSE_FNS = {1: (F.conv_transpose1d, TF.conv_transpose1d), 2: (F.conv_transpose2d, TF.conv_transpose2d),
                 3: (F.conv_transpose3d, TF.conv_transpose3d)}
CONV_GRID = [(2, c) for c in conv_configs(2, 24, 1)] + [(1, c) for c in conv_configs(1, 10, 2)] \
    + [(3, c) for c in conv_configs(3, 6, 3)]
TRANSPOSE_GRID = [(2, c) for c in transpose_configs(2, 12, 4)] + [(1, c) for c in transpose_configs(1, 6, 5)] \
    + [(3, c) for c in transpose_configs(3, 4, 6)]


def _run_grid(fns, dims, config, dtype, name):
    x_shape, w_shape, b_shape, kwargs = config
    cg_fn, torch_fn = fns[dims]
    if b_shape is None:
        check_against_torch(lambda x, w: cg_fn(x, w, **kwargs), lambda x, w: torch_fn(x, w, **kwargs),
                            [x_shape, w_shape], dtype=dtype, name=name)
    else:
        check_against_torch(lambda x, w, b: cg_fn(x, w, b, **kwargs), lambda x, w, b: torch_fn(x, w, b, **kwargs),
                            [x_shape, w_shape, b_shape], dtype=dtype, name=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dims,config", CONV_GRID)
def test_conv_matches_torch(dims, config, dtype):
    _run_grid(CONV_FNS, dims, config, dtype, f"conv{dims}d")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dims,config", TRANSPOSE_GRID)
def test_conv_transpose_matches_torch(dims, config, dtype):
    _run_grid(TRANSPOSE_FNS, dims, config, dtype, f"conv_transpose{dims}d")


@pytest.mark.parametrize("shapes,kwargs", [
    (((2, 16, 12, 12), (16, 16, 3, 3), (16,)), dict(padding=1)),            # ResNet-style 3x3
    (((2, 8, 9, 9), (16, 8, 1, 1), (16,)), dict(stride=2)),                 # 1x1 downsample
    (((2, 8, 10, 10), (8, 1, 3, 3), None), dict(padding=1, groups=8)),      # depthwise
    (((1, 3, 20, 20), (8, 3, 7, 7), None), dict(stride=2, padding=3)),      # ResNet stem
    # >= 32 channels: the stride-1 input gradient runs as a flipped-kernel convolution
    (((2, 32, 6, 5), (32, 32, 3, 3), (32,)), dict(padding=1)),
    (((1, 64, 7, 6), (64, 32, 3, 2), None), dict(padding="same", dilation=2, groups=2)),
    (((1, 32, 6, 6), (40, 32, 3, 3), None), dict(padding=(0, 2))),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_larger_shapes_match_torch(shapes, kwargs, dtype):
    shapes = [s for s in shapes if s is not None]
    check_against_torch(lambda *a: F.conv2d(*a, **kwargs), lambda *a: TF.conv2d(*a, **kwargs), shapes,
                        dtype=dtype, name="conv2d")


# ----------------------------------------------------------------------------------------------
# Definition: a nested-loop conv2d, and finite differences
# ----------------------------------------------------------------------------------------------
def naive_conv2d(x, w, b, stride, padding, dilation, groups):
    """out[n, o, i, j] = b[o] + sum_{c, u, v} xpad[n, g*Cg + c, i*s + u*d, j*s + v*d] * w[o, c, u, v]."""
    n, cin, h, wd = x.shape
    cout, cg_, kh, kw = w.shape
    xpad = np.zeros((n, cin, h + 2 * padding, wd + 2 * padding))
    xpad[:, :, padding:padding + h, padding:padding + wd] = x
    ho = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    wo = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, cout, ho, wo))
    per_group = cout // groups
    for b_i in range(n):
        for o in range(cout):
            g = o // per_group
            for i in range(ho):
                for j in range(wo):
                    total = 0.0 if b is None else b[o]
                    for c in range(cg_):
                        for u in range(kh):
                            for v in range(kw):
                                total += xpad[b_i, g * cg_ + c, i * stride + u * dilation,
                                              j * stride + v * dilation] * w[o, c, u, v]
                    out[b_i, o, i, j] = total
    return out


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 2), (3, 1, 1, 4)])
def test_conv2d_matches_nested_loop_definition(stride, padding, dilation, groups):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((4, 4 // groups, 3, 2))
    b = rng.standard_normal(4)
    out = F.conv2d(cg.tensor(x), cg.tensor(w), cg.tensor(b), stride, padding, dilation, groups)
    assert_close(out.numpy(), naive_conv2d(x, w, b, stride, padding, dilation, groups), 1e-12, "conv2d vs loop")


@pytest.mark.parametrize("fn,shapes", [
    (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2)), [(1, 2, 5, 6), (3, 2, 2, 2), (3,)]),
    (lambda x, w: F.conv2d(x, w, padding="same", groups=2), [(2, 4, 4, 4), (2, 2, 3, 2)]),
    (lambda x, w: F.conv1d(x, w, stride=2, padding=1), [(1, 2, 7), (3, 2, 3)]),
    (lambda x, w: F.conv3d(x, w, padding=(1, 0, 1)), [(1, 1, 3, 4, 3), (2, 1, 2, 2, 2)]),
    (lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1), [(1, 2, 3, 3), (2, 3, 3, 3), (3,)]),
    (lambda x, w: F.conv_transpose1d(x, w, stride=3, dilation=2, groups=2), [(1, 4, 4), (4, 1, 2)]),
])
def test_conv_gradients_by_finite_differences(fn, shapes):
    assert check_gradient(fn, shapes)


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv(x), y> == <x, conv_transpose(y)>: the transposed convolution is the adjoint map."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 8))
    w = rng.standard_normal((4, 3, 3, 3))
    kwargs = dict(stride=2, padding=1, dilation=1)
    y = F.conv2d(cg.tensor(x), cg.tensor(w), **kwargs).numpy()
    r = rng.standard_normal(y.shape)
    back = F.conv_transpose2d(cg.tensor(r), cg.tensor(w), output_padding=(0, 1), **kwargs).numpy()
    assert back.shape == x.shape
    assert abs(np.sum(y * r) - np.sum(x * back)) < 1e-9 * np.abs(np.sum(y * r))


# ----------------------------------------------------------------------------------------------
# Memory layout, batch splitting, output shape rule
# ----------------------------------------------------------------------------------------------
def test_conv_output_is_channels_last_and_accepts_any_layout():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    expected = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    out = F.conv2d(cg.tensor(x), cg.tensor(w), padding=1).numpy()
    assert out.shape == (2, 4, 6, 5) and out.strides[1] == out.itemsize  # NCHW shape over NHWC memory
    channels_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    strided = np.zeros((2, 6, 12, 5), np.float32)[:, ::2, ::2]
    strided[...] = x
    for arr in (channels_last, strided, x[:, :, ::-1, :][:, :, ::-1, :]):
        assert_close(F.conv2d(cg.tensor(arr), cg.tensor(w), padding=1).numpy(), expected, 1e-5, "layout")
    second = F.conv2d(cg.tensor(out), cg.tensor(rng.standard_normal((2, 4, 1, 1)).astype(np.float32)))
    assert second.shape == (2, 2, 6, 5)


def test_batch_is_split_when_the_column_buffer_exceeds_the_workspace_limit():
    rng = np.random.default_rng(1)
    shapes = dict(x=(5, 3, 8, 8), w=(4, 3, 3, 3))
    x, w = rng.standard_normal(shapes["x"]), rng.standard_normal(shapes["w"])
    previous = conv_algo.set_workspace_limit(8 * 8 * 9 * 3 * 8)  # room for the columns of one sample
    try:
        assert conv_algo.batch_chunk(5, (8, 8), (3, 3), 3, 8) == 1
        check_against_torch(lambda x, w: F.conv2d(x, w, padding=1, stride=(1, 2)),
                            lambda x, w: TF.conv2d(x, w, padding=1, stride=(1, 2)), [x, w], dtype=np.float64)
        check_against_torch(lambda x, w: F.conv_transpose2d(x, w, stride=2),
                            lambda x, w: TF.conv_transpose2d(x, w, stride=2),
                            [x[:, :, :4, :4], w.transpose(1, 0, 2, 3).copy()], dtype=np.float64)
    finally:
        conv_algo.set_workspace_limit(previous)


def test_output_shape_rule_matches_forward():
    cases = [((2, 3, 11, 9), (5, 3, 3, 2), dict(stride=(2, 3), pad_lo=(1, 0), pad_hi=(1, 0), dilation=(2, 1))),
             ((1, 4, 7, 7), (4, 2, 5, 5), dict(stride=(1, 1), pad_lo=(2, 2), pad_hi=(2, 2), dilation=(1, 1),
                                               groups=2))]
    for x_shape, w_shape, kw in cases:
        rule = F.conv.ConvNd.output_shape(x_shape, w_shape, **kw)
        pad = tuple(kw["pad_lo"])
        out = F.conv2d(cg.zeros(*x_shape), cg.zeros(*w_shape), stride=kw["stride"], padding=pad,
                       dilation=kw["dilation"], groups=kw.get("groups", 1))
        assert out.shape == rule


@pytest.mark.parametrize("algorithm", ["col2im", "flip", "auto"])
@pytest.mark.parametrize("dims,config", CONV_GRID[:8] + CONV_GRID[24:27] + CONV_GRID[34:36])
def test_every_input_gradient_algorithm_matches_torch(algorithm, dims, config):
    previous = conv_algo.set_conv_algorithm(algorithm)
    try:
        _run_grid(CONV_FNS, dims, config, np.float64, f"conv{dims}d")
    finally:
        conv_algo.set_conv_algorithm(previous)


def test_auto_algorithm_is_a_fixed_rule_on_the_input_channels():
    """'auto' takes 'flip' from 16 input channels per group (stride 1), else 'col2im', and records it."""
    assert conv_algo.auto_input_grad_algorithm(6, 1) == "col2im"
    assert conv_algo.auto_input_grad_algorithm(16, 1) == "flip"
    assert conv_algo.auto_input_grad_algorithm(32, 4) == "col2im"
    for channels, expected in [(4, "col2im"), (16, "flip")]:
        x = cg.tensor(np.ones((1, channels, 6, 6)), requires_grad=True)
        w = cg.tensor(np.ones((4, channels, 3, 3)))
        F.conv2d(x, w, padding=1).sum().backward()
        choices = conv_algo.conv_algorithm_choices()
        assert any(key[0] == (1, 6, 6, 4) and key[2] == (1, 6, 6, channels) and value == expected
                   for key, value in choices.items())
    with pytest.raises(ValueError, match="set_conv_algorithm"):
        conv_algo.set_conv_algorithm("winograd-ish")


def test_pooled_buffers_do_not_leak_between_calls():
    """Column and padding buffers are recycled: repeated calls of one shape must not see old data."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    for _ in range(3):
        x = (rng.standard_normal((2, 2, 5, 5)) * rng.integers(1, 100)).astype(np.float32)
        with cg.no_grad():
            out = F.conv2d(cg.tensor(x), cg.tensor(w), padding=(2, 1)).numpy().copy()
        expected = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=(2, 1)).numpy()
        assert_close(out, expected, 1e-5, "recycled buffers")


def test_backward_twice_with_retain_graph_accumulates():
    rng = np.random.default_rng(4)
    x = cg.tensor(rng.standard_normal((2, 32, 5, 5)), requires_grad=True)
    w = cg.tensor(rng.standard_normal((32, 32, 3, 3)), requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    out.sum().backward(retain_graph=True)
    first_x, first_w = x.grad.numpy().copy(), w.grad.numpy().copy()
    out.sum().backward()
    assert_close(x.grad.numpy(), 2 * first_x, 1e-12, "input gradient")
    assert_close(w.grad.numpy(), 2 * first_w, 1e-12, "weight gradient")


def test_unbatched_input():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 6, 6)), rng.standard_normal((2, 3, 3, 3))
    out = F.conv2d(cg.tensor(x), cg.tensor(w), padding=1)
    assert_close(out.numpy(), TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy(), 1e-12)


def test_float64_stays_float64_and_float32_stays_float32():
    for dtype in (np.float32, np.float64):
        x = cg.tensor(np.ones((1, 2, 5, 5), dtype), requires_grad=True)
        w = cg.tensor(np.ones((3, 2, 3, 3), dtype), requires_grad=True)
        out = F.conv2d(x, w, cg.tensor(np.ones(3, dtype)), padding=1)
        out.sum().backward()
        assert out.dtype == dtype and x.grad.dtype == dtype and w.grad.dtype == dtype


# ----------------------------------------------------------------------------------------------
# Errors name the op, what it expected and what it got
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call,error,pieces", [
    (lambda: F.conv2d(cg.zeros(8, 1, 28, 28), cg.zeros(6, 3, 5, 5)), ShapeError,
     ["conv2d", "(N, 3, H, W)", "(8, 1, 28, 28)"]),
    (lambda: F.conv2d(cg.zeros(8, 28, 28), cg.zeros(6, 1, 5)), ShapeError, ["conv2d", "4-D weight", "(6, 1, 5)"]),
    (lambda: F.conv2d(cg.zeros(28, 28), cg.zeros(6, 1, 5, 5)), ShapeError, ["conv2d", "4-D", "(28, 28)"]),
    (lambda: F.conv2d(cg.zeros(1, 4, 8, 8), cg.zeros(6, 2, 3, 3), groups=4), ArgumentError,
     ["conv2d", "groups=4", "out_channels=6"]),
    (lambda: F.conv2d(cg.zeros(1, 1, 4, 4), cg.zeros(2, 1, 5, 5)), ShapeError, ["conv2d", "(5, 5)", "(4, 4)"]),
    (lambda: F.conv2d(cg.zeros(1, 1, 6, 6), cg.zeros(2, 1, 3, 3), dilation=3), ShapeError, ["conv2d", "(7, 7)"]),
    (lambda: F.conv2d(cg.zeros(1, 1, 6, 6), cg.zeros(2, 1, 3, 3), stride=0), ArgumentError, ["conv2d", "stride"]),
    (lambda: F.conv2d(cg.zeros(1, 1, 6, 6), cg.zeros(2, 1, 3, 3), stride=-1), ArgumentError, ["conv2d", "stride"]),
    (lambda: F.conv2d(cg.zeros(1, 1, 6, 6), cg.zeros(2, 1, 3, 3), padding=-1), ArgumentError, ["conv2d", "padding"]),
    (lambda: F.conv2d(cg.zeros(1, 1, 6, 6), cg.zeros(2, 1, 3, 3), padding="same", stride=2), ArgumentError,
     ["conv2d", "same", "stride"]),
    (lambda: F.conv2d(cg.zeros(1, 1, 6, 6), cg.zeros(2, 1, 3, 3), padding="full"), ArgumentError, ["conv2d", "full"]),
    (lambda: F.conv2d(cg.zeros(1, 1, 6, 6), cg.zeros(2, 1, 3, 3), cg.zeros(3)), ShapeError, ["conv2d", "bias", "(2,)"]),
    (lambda: F.conv2d(cg.zeros(1, 1, 6, 6), cg.zeros(2, 1, 3, 3, dtype=np.float64)), TypeError, ["conv2d", "float64"]),
    (lambda: F.conv1d(cg.zeros(1, 2, 6), cg.zeros(2, 1, 3)), ShapeError, ["conv1d", "(N, 1, L)", "(1, 2, 6)"]),
    (lambda: F.conv3d(cg.zeros(2, 6, 6), cg.zeros(2, 2, 3, 3, 3)), ShapeError, ["conv3d", "(N, C, D, H, W)", "(2, 6, 6)"]),
    (lambda: F.conv3d(cg.zeros(1, 6, 6, 6), cg.zeros(2, 2, 3, 3, 3)), ShapeError, ["conv3d", "(2, D, H, W)", "(1, 6, 6, 6)"]),
    (lambda: F.conv_transpose2d(cg.zeros(1, 3, 4, 4), cg.zeros(2, 4, 3, 3)), ShapeError,
     ["conv_transpose2d", "(N, 2, H, W)", "(1, 3, 4, 4)"]),
    (lambda: F.conv_transpose2d(cg.zeros(1, 2, 4, 4), cg.zeros(2, 4, 3, 3), stride=2, output_padding=2),
     ArgumentError, ["conv_transpose2d", "output_padding"]),
    (lambda: F.conv_transpose2d(cg.zeros(1, 2, 2, 2), cg.zeros(2, 4, 1, 1), padding=2), ShapeError,
     ["conv_transpose2d", "output"]),
])
def test_conv_errors_name_op_expected_and_got(call, error, pieces):
    with pytest.raises(error) as info:
        call()
    for piece in pieces:
        assert piece in str(info.value), (piece, str(info.value))


# ----------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------
def test_lecture_parameter_count_of_a_64_filter_7x7_conv_on_one_channel():
    layer = cg.nn.Conv2d(1, 64, 7)
    assert sum(p.numel() for p in layer.parameters()) == (7 * 7 + 1) * 64 == 3200


@pytest.mark.parametrize("layer,expected", [
    (lambda m: m.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False),
     "Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)"),
    (lambda m: m.Conv2d(16, 32, (3, 5), dilation=2, groups=4, padding="same", padding_mode="reflect"),
     "Conv2d(16, 32, kernel_size=(3, 5), stride=(1, 1), padding=same, dilation=(2, 2), groups=4, "
     "padding_mode=reflect)"),
    (lambda m: m.Conv1d(2, 4, 3), "Conv1d(2, 4, kernel_size=(3,), stride=(1,))"),
    (lambda m: m.ConvTranspose2d(8, 4, 4, stride=2, padding=1, output_padding=1),
     "ConvTranspose2d(8, 4, kernel_size=(4, 4), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))"),
    (lambda m: m.Conv3d(1, 2, 3, padding=1), "Conv3d(1, 2, kernel_size=(3, 3, 3), stride=(1, 1, 1), padding=(1, 1, 1))"),
])
def test_layer_repr_matches_torch(layer, expected):
    assert repr(layer(cg.nn)) == expected == repr(layer(torch.nn))


LAYER_CASES = [
    ("Conv1d", dict(in_channels=2, out_channels=4, kernel_size=3, padding=2, padding_mode="circular"), (2, 2, 9)),
    ("Conv2d", dict(in_channels=4, out_channels=6, kernel_size=3, padding="same", dilation=2, groups=2,
                    padding_mode="reflect"), (2, 4, 8, 7)),
    ("Conv2d", dict(in_channels=3, out_channels=4, kernel_size=(2, 3), stride=2, padding=(1, 2),
                    padding_mode="replicate"), (2, 3, 7, 8)),
    ("Conv2d", dict(in_channels=3, out_channels=3, kernel_size=3, groups=3, bias=False), (1, 3, 6, 6)),
    ("Conv3d", dict(in_channels=2, out_channels=2, kernel_size=2, stride=(1, 2, 1), padding=1), (1, 2, 4, 5, 4)),
    ("ConvTranspose1d", dict(in_channels=3, out_channels=2, kernel_size=4, stride=2, padding=1), (2, 3, 5)),
    ("ConvTranspose2d", dict(in_channels=4, out_channels=4, kernel_size=3, stride=2, padding=1, output_padding=1,
                             groups=2, dilation=1), (2, 4, 4, 3)),
    ("ConvTranspose3d", dict(in_channels=2, out_channels=3, kernel_size=(2, 3, 2), stride=2), (1, 2, 3, 2, 3)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kwargs,x_shape", LAYER_CASES)
def test_layers_match_torch_after_loading_the_same_weights(name, kwargs, x_shape, dtype):
    torch.manual_seed(0)
    ref = getattr(torch.nn, name)(**kwargs).to(oracle_torch_dtype(dtype))
    layer = getattr(cg.nn, name)(**kwargs).to(dtype)
    layer.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    assert list(layer.state_dict()) == list(ref.state_dict())
    params = [layer.weight] + ([layer.bias] if layer.bias is not None else [])
    ref_params = [ref.weight] + ([ref.bias] if ref.bias is not None else [])

    def cg_fn(x, *ps):
        return layer(x)

    def torch_fn(x, *ps):
        return ref(x)

    check_against_torch(cg_fn, torch_fn, [x_shape], dtype=dtype, name=name)
    assert has_gemm_layout(layer.weight.numpy())  # the forward restored the GEMM memory order
    assert_close(layer.state_dict()["weight"], ref.weight.detach().numpy(), 0, "weight values")
    x = np.random.default_rng(0).standard_normal(x_shape).astype(dtype)
    g = np.random.default_rng(1).standard_normal(ref(torch.tensor(x)).shape).astype(dtype)
    layer(cg.tensor(x)).backward(g)
    ref(torch.tensor(x)).backward(torch.tensor(g))
    for p, r in zip(params, ref_params):
        assert_close(p.grad.numpy(), r.grad.numpy(), 1e-4 if dtype == np.float32 else 1e-10, "parameter gradient")


def oracle_torch_dtype(dtype):
    return torch.float32 if dtype == np.float32 else torch.float64


def test_conv_transpose_output_size_argument():
    layer = cg.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    ref = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    layer.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    out = layer(cg.tensor(x), output_size=(8, 8))
    assert out.shape == (1, 3, 8, 8)
    assert_close(out.numpy(), ref(torch.tensor(x), output_size=(8, 8)).detach().numpy(), 1e-5)
    with pytest.raises(ShapeError, match="ConvTranspose2d"):
        layer(cg.tensor(x), output_size=(10, 10))


@pytest.mark.parametrize("name,args", [("Conv2d", (16, 32, 3)), ("ConvTranspose2d", (16, 32, 3)),
                                       ("Conv1d", (8, 32, 5, 1, 0, 1, 2))])
def test_default_init_bounds_like_torch(name, args):
    """kaiming_uniform_(a=sqrt(5)) gives U(+-1/sqrt(fan_in)); fan_in uses weight.shape[1] (as torch)."""
    cg.manual_seed(0)
    layer = getattr(cg.nn, name)(*args)
    ref = getattr(torch.nn, name)(*args)
    assert layer.weight.shape == tuple(ref.weight.shape) and layer.bias.shape == tuple(ref.bias.shape)
    fan_in = ref.weight.shape[1] * int(np.prod(ref.weight.shape[2:]))
    bound = 1 / np.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        values = p.numpy()
        assert values.dtype == np.float32
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.8 * bound


@pytest.mark.parametrize("call,error,pieces", [
    (lambda: cg.nn.Conv2d(3, 64, 7)(cg.zeros(8, 1, 28, 28)), ShapeError,
     ["Conv2d(3, 64, kernel_size=(7, 7))", "(N, 3, H, W)", "(8, 1, 28, 28)"]),
    (lambda: cg.nn.Conv1d(3, 6, 3)(cg.zeros(2, 3, 4, 4)), ShapeError, ["Conv1d(3, 6, kernel_size=(3,))", "(2, 3, 4, 4)"]),
    (lambda: cg.nn.Conv2d(3, 6, 3, groups=2), ArgumentError, ["Conv2d", "groups=2"]),
    (lambda: cg.nn.Conv2d(3, 6, 3, padding_mode="mirror"), ArgumentError, ["Conv2d", "mirror"]),
    (lambda: cg.nn.Conv2d(3, 6, 3, stride=2, padding="same"), ArgumentError, ["Conv2d", "same"]),
    (lambda: cg.nn.ConvTranspose2d(3, 6, 3, padding_mode="reflect"), ArgumentError, ["ConvTranspose2d", "zeros"]),
    (lambda: cg.nn.Conv2d(3, 6, 0), ArgumentError, ["Conv2d", "kernel_size"]),
    (lambda: cg.nn.Conv2d(0, 6, 3), ArgumentError, ["Conv2d", "in_channels", "0"]),
    (lambda: cg.nn.ConvTranspose1d(2, -1, 3), ArgumentError, ["ConvTranspose1d", "out_channels", "-1"]),
])
def test_layer_errors_name_the_layer(call, error, pieces):
    with pytest.raises(error) as info:
        call()
    for piece in pieces:
        assert piece in str(info.value), (piece, str(info.value))


def test_training_a_conv_layer_reduces_a_loss():
    """A few SGD steps on a fixed target with the layer's own gradients lower the squared error."""
    cg.manual_seed(0)
    layer = cg.nn.Conv2d(2, 3, 3, padding=1)
    rng = np.random.default_rng(0)
    x = cg.tensor(rng.standard_normal((4, 2, 6, 6)).astype(np.float32))
    target = cg.tensor(rng.standard_normal((4, 3, 6, 6)).astype(np.float32))
    losses = []
    for _ in range(20):
        loss = ((layer(x) - target) ** 2).mean()
        layer.zero_grad()
        loss.backward()
        with cg.no_grad():
            for p in layer.parameters():
                p.data -= 0.1 * p.grad.data
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]


def test_every_option_combination_of_a_tiny_conv_matches_torch():
    """Exhaustive over stride x padding x dilation for one tiny 2-D shape (float64)."""
    for stride, padding, dilation in itertools.product((1, 2), (0, 1, "same"), (1, 2)):
        if padding == "same" and stride != 1:
            continue
        kw = dict(stride=stride, padding=padding, dilation=dilation)
        check_against_torch(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw),
                            [(1, 2, 6, 5), (2, 2, 2, 3)], dtype=np.float64, name="conv2d")


# ----------------------------------------------------------------------------------------------
# Large convolutions run in pieces on both cores (conv_algo._forward_pieces / _weight_grad_pieces)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("piece_bytes", [1, 700, 1 << 20])
@pytest.mark.parametrize("dims,config", CONV_GRID[::2] + [
    (2, ((2, 3, 9, 7), (4, 3, 3, 2), (4,), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=1))),
    (2, ((3, 5, 6, 6), (2, 5, 3, 3), None, dict(stride=1, padding="same", dilation=1, groups=1))),
    (2, ((1, 3, 13, 11), (4, 3, 7, 7), (4,), dict(stride=2, padding=3, dilation=1, groups=1))),  # one sample
])
def test_convolutions_split_into_pieces_match_torch(dims, config, piece_bytes, monkeypatch):
    """Force the pieces path on small shapes: a 1-byte piece is one output row of one sample, a
    1 MiB piece several whole samples."""
    monkeypatch.setattr(conv_algo, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(conv_algo, "SPLIT_MIN_POSITIONS", 0)
    monkeypatch.setattr(conv_algo, "PIECE_BYTES", piece_bytes)
    _run_grid(CONV_FNS, dims, config, np.float64, f"conv{dims}d")


def test_a_single_sample_is_split_only_when_its_columns_are_narrow():
    xpad = np.zeros((1, 230, 230, 3), np.float32)  # ResNet's stem at batch 1: 7x7x3 = 147 columns
    assert conv_algo._split_worthwhile(xpad, (112, 112), (7, 7), 1, 64)
    assert len(conv_algo._pieces(1, (112,), 112 * 147 * 4)) >= 2 * conv_algo.workers()
    xpad = np.zeros((1, 58, 58, 64), np.float32)  # a 3x3 layer with 64 channels: 576 columns
    assert not conv_algo._split_worthwhile(xpad, (56, 56), (3, 3), 1, 64)
    assert conv_algo._split_worthwhile(np.zeros((2, 58, 58, 64), np.float32), (56, 56), (3, 3), 1, 64)


def test_pieces_cover_every_row_of_every_sample_once():
    for n, rows, row_bytes in [(1, 7, 10), (3, 5, 1 << 30), (4, 56, 1000), (1, 1, 5), (37, 7, 100)]:
        seen = np.zeros((n, rows), int)
        for piece in conv_algo._pieces(n, (rows,), row_bytes):
            seen[piece] += 1
        assert (seen == 1).all()
