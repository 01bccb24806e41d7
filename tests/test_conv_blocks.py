"""Depthwise-separable, spatially separable and deformable convolution layers."""
import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.nn as nn
from convgrad import filters


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def run_both(layer, torch_fn, x_shape, dtype=np.float64, seed=0):
    """Forward and backward of a convgrad layer and a torch function built from its weights."""
    layer.to(dtype)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    params = {name: torch.tensor(p.numpy(), requires_grad=True) for name, p in layer.named_parameters()}
    xc, xt = cg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = layer(xc), torch_fn(xt, params)
    g = rng.standard_normal(ref.shape).astype(dtype)
    out.backward(g)
    ref.backward(torch.tensor(g))
    tol = 1e-10 if dtype == np.float64 else 1e-4
    pairs = [(out.numpy(), ref.detach().numpy()), (xc.grad.numpy(), xt.grad.numpy())]
    pairs += [(p.grad.numpy(), params[name].grad.numpy()) for name, p in layer.named_parameters()]
    for mine, theirs in pairs:
        np.testing.assert_allclose(mine, theirs, rtol=tol, atol=tol * max(1.0, np.abs(theirs).max()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cin,cout,k,stride,padding,dilation,bias,m", [
    (3, 8, 3, 1, 1, 1, True, 1), (4, 6, 5, 2, 2, 1, False, 2), (2, 5, 3, 1, "same", 2, True, 3),
])
def test_depthwise_separable_equals_torch_depthwise_then_pointwise(cin, cout, k, stride, padding, dilation, bias, m,
                                                                   dtype):
    layer = nn.DepthwiseSeparableConv2d(cin, cout, k, stride, padding, dilation, bias=bias, depth_multiplier=m)

    def torch_fn(x, p):
        mid = torch.nn.functional.conv2d(x, p["depthwise.weight"], p.get("depthwise.bias"), stride, padding, dilation,
                                         groups=cin)
        return torch.nn.functional.conv2d(mid, p["pointwise.weight"], p.get("pointwise.bias"))

    run_both(layer, torch_fn, (2, cin, 9, 10), dtype)
    assert n_params(layer) == cin * m * k * k + cin * m * cout + (cin * m + cout if bias else 0)


def test_depthwise_separable_saves_parameters_against_a_full_conv():
    sep = nn.DepthwiseSeparableConv2d(64, 128, 3)
    full = nn.Conv2d(64, 128, 3)
    assert n_params(sep) == 64 * 9 + 64 + 64 * 128 + 128 == 8960
    assert n_params(full) == 64 * 128 * 9 + 128 == 73856
    assert dict(sep.state_dict()).keys() == {"depthwise.weight", "depthwise.bias", "pointwise.weight",
                                             "pointwise.bias"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cin,cout,k,stride,padding,dilation,mid", [
    (3, 4, 3, 1, 1, 1, None), (2, 3, 5, 2, 2, 1, 6), (2, 2, (3, 5), (1, 2), (1, 0), (2, 1), None),
    (1, 2, 3, 1, "same", 1, 1),
])
def test_spatially_separable_equals_torch_kx1_then_1xk(cin, cout, k, stride, padding, dilation, mid, dtype):
    layer = nn.SpatiallySeparableConv2d(cin, cout, k, stride, padding, dilation, mid_channels=mid)
    kh, kw = (k, k) if isinstance(k, int) else k
    (sh, sw), (dh, dw) = [(v, v) if isinstance(v, int) else v for v in (stride, dilation)]
    if isinstance(padding, str):
        pv = ph = padding
    else:
        p = (padding, padding) if isinstance(padding, int) else padding
        pv, ph = (p[0], 0), (0, p[1])

    def torch_fn(x, prm):
        mid_out = torch.nn.functional.conv2d(x, prm["vertical.weight"], None, (sh, 1), pv, (dh, 1))
        return torch.nn.functional.conv2d(mid_out, prm["horizontal.weight"], prm["horizontal.bias"], (1, sw), ph,
                                          (1, dw))

    run_both(layer, torch_fn, (2, cin, 11, 12), dtype)
    m = cout if mid is None else mid
    assert n_params(layer) == cin * m * kh + m * cout * kw + cout
    # the same output shape as the k x k convolution it replaces
    full = nn.Conv2d(cin, cout, k, stride, padding, dilation, dtype=dtype)
    x = cg.zeros(1, cin, 11, 12, dtype=dtype)
    assert layer(x).shape == full(x).shape


def test_spatially_separable_reproduces_a_rank_one_kernel():
    """Sobel's kernel is the outer product [1, 2, 1]^T x ... : k x 1 then 1 x k gives it exactly."""
    layer = nn.SpatiallySeparableConv2d(1, 1, 3, padding=1, bias=False, dtype=np.float64)
    with cg.no_grad():
        layer.vertical.weight.copy_(np.array([1.0, 0.0, -1.0]).reshape(1, 1, 3, 1))
        layer.horizontal.weight.copy_(np.array([1.0, 2.0, 1.0]).reshape(1, 1, 1, 3))
    x = np.random.default_rng(0).standard_normal((2, 1, 7, 8))
    full = filters.as_conv2d(filters.sobel()[0], padding=1, dtype=np.float64)
    np.testing.assert_allclose(layer(cg.tensor(x)).numpy(), full(cg.tensor(x)).numpy(), rtol=1e-12, atol=1e-12)
    assert n_params(layer) == 6 and n_params(full) == 9


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_deform_conv_layer_with_zero_offsets_is_conv2d(dtype):
    layer = nn.DeformConv2d(4, 6, 3, stride=2, padding=1, groups=2).to(dtype)
    x = cg.tensor(np.random.default_rng(0).standard_normal((2, 4, 9, 9)).astype(dtype))
    offset = cg.zeros(2, 18, 5, 5, dtype=dtype)
    ref = torch.nn.functional.conv2d(torch.tensor(x.numpy()), torch.tensor(layer.weight.numpy()),
                                     torch.tensor(layer.bias.numpy()), 2, 1, groups=2)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(layer(x, offset).numpy(), ref.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(layer(x, offset, mask=cg.ones(2, 9, 5, 5, dtype=dtype)).numpy(), ref.numpy(),
                               rtol=tol, atol=tol)


def test_deform_conv_layer_parameters_repr_and_training_signal():
    cg.manual_seed(0)
    layer = nn.DeformConv2d(3, 8, (3, 3), padding=1, bias=False)
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    assert layer.weight.shape == (8, 3, 3, 3) and n_params(layer) == 216
    assert repr(layer) == "DeformConv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)"
    # offsets predicted by a conv on the same input receive gradients through the layer
    offset_net = nn.Conv2d(3, 18, 3, padding=1)
    x = cg.randn(1, 3, 6, 6)
    layer(x, offset_net(x)).sum().backward()
    assert offset_net.weight.grad is not None and np.abs(offset_net.weight.grad.numpy()).sum() > 0
    with pytest.raises(cg.errors.ShapeError, match=r"DeformConv2d\(3, 8, kernel_size=\(3, 3\)\): expected input"):
        layer(cg.randn(1, 4, 6, 6), cg.zeros(1, 18, 6, 6))


def test_blocks_repr_shows_non_defaults():
    assert "depth_multiplier=2" in repr(nn.DepthwiseSeparableConv2d(3, 4, 3, depth_multiplier=2))
    r = repr(nn.SpatiallySeparableConv2d(3, 4, 5, padding=2, mid_channels=7))
    assert "mid_channels=7" in r and "(vertical): Conv2d(3, 7, kernel_size=(5, 1)" in r
