"""Deformable convolution v1/v2 against three references: a naive bilinear-sampling loop written
from the definition, a PyTorch composition (grid_sample + einsum, whose autograd gives every
gradient), and torch's conv2d when the offsets are zero and the mask is one."""
import itertools

import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.nn.functional as F
from oracle import check_against_torch, check_gradient


def bilinear_zero_outside(img, y, x):
    """Value of a 2-D array at fractional (y, x); pixels outside the image are zero."""
    h, w = img.shape
    y0, x0 = int(np.floor(y)), int(np.floor(x))
    total = 0.0
    for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
        for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
            if 0 <= yy < h and 0 <= xx < w:
                total += wy * wx * img[yy, xx]
    return total


def naive_deform_conv2d(x, offset, weight, bias, stride, padding, dilation, mask):
    n, c, h, w = x.shape
    cout, cin_g, kh, kw = weight.shape
    groups = c // cin_g
    offset_groups = offset.shape[1] // (2 * kh * kw)
    ho, wo = offset.shape[2:]
    out = np.zeros((n, cout, ho, wo))
    for b, o, yo, xo in itertools.product(range(n), range(cout), range(ho), range(wo)):
        g = o // (cout // groups)
        acc = 0.0 if bias is None else bias[o]
        for ci, i, j in itertools.product(range(cin_g), range(kh), range(kw)):
            chan = g * cin_g + ci
            og = chan // (c // offset_groups)
            tap = og * kh * kw + i * kw + j
            py = yo * stride - padding + i * dilation + offset[b, 2 * tap, yo, xo]
            px = xo * stride - padding + j * dilation + offset[b, 2 * tap + 1, yo, xo]
            m = 1.0 if mask is None else mask[b, tap, yo, xo]
            acc += weight[o, ci, i, j] * m * bilinear_zero_outside(x[b, chan], py, px)
        out[b, o, yo, xo] = acc
    return out


def torch_deform_conv2d(x, offset, weight, bias=None, stride=1, padding=0, dilation=1, mask=None):
    """The same operation composed from differentiable torch ops (grid_sample samples with zeros
    outside and align_corners=True maps -1..1 onto pixel centres 0..size-1)."""
    (sh, sw), (ph, pw), (dh, dw) = (pair(v) for v in (stride, padding, dilation))
    n, c, h, w = x.shape
    cout, cin_g, kh, kw = weight.shape
    groups = c // cin_g
    og = offset.shape[1] // (2 * kh * kw)
    ho, wo = offset.shape[2:]
    off = offset.reshape(n, og, kh * kw, 2, ho, wo)
    iy = (torch.arange(ho) * sh - ph)[None, :, None] + (torch.arange(kh) * dh)[:, None, None]
    ix = (torch.arange(wo) * sw - pw)[None, None, :] + (torch.arange(kw) * dw)[:, None, None]
    base_y = iy[:, None, :, :].expand(kh, kw, ho, 1).reshape(kh * kw, ho, 1).to(x.dtype)
    base_x = ix[None, :, :, :].expand(kh, kw, 1, wo).reshape(kh * kw, 1, wo).to(x.dtype)
    py = base_y + off[:, :, :, 0]
    px = base_x + off[:, :, :, 1]
    grid = torch.stack([2 * px / (w - 1) - 1, 2 * py / (h - 1) - 1], dim=-1)  # (n, og, K, ho, wo, 2)
    grid = grid.reshape(n * og, kh * kw * ho, wo, 2)
    xs = x.reshape(n * og, c // og, h, w)
    sampled = torch.nn.functional.grid_sample(xs, grid, mode="bilinear", padding_mode="zeros",
                                              align_corners=True)
    sampled = sampled.reshape(n, og, c // og, kh * kw, ho, wo)
    if mask is not None:
        sampled = sampled * mask.reshape(n, og, 1, kh * kw, ho, wo)
    cols = sampled.reshape(n, groups, cin_g * kh * kw, ho * wo)
    out = torch.einsum("gok,ngkl->ngol", weight.reshape(groups, cout // groups, -1), cols)
    out = out.reshape(n, cout, ho, wo)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def make_inputs(rng, n, c, h, w, cout, k, stride, padding, dilation, groups, og, use_mask, dtype):
    (sh, sw), (ph, pw), (dh, dw) = (pair(v) for v in (stride, padding, dilation))
    ho, wo = out_size(h, k, sh, ph, dh), out_size(w, k, sw, pw, dw)
    x = rng.standard_normal((n, c, h, w))
    # offsets of a few pixels in both directions, so samples also fall outside the image
    offset = rng.uniform(-2.5, 2.5, (n, 2 * og * k * k, ho, wo))
    weight = rng.standard_normal((cout, c // groups, k, k))
    bias = rng.standard_normal(cout)
    mask = rng.uniform(0, 1, (n, og * k * k, ho, wo)) if use_mask else None
    arrays = [x, offset, weight, bias] + ([mask] if use_mask else [])
    return [a.astype(dtype) for a in arrays]


CONFIGS = [
    # n, c, h, w, cout, k, stride, padding, dilation, groups, offset_groups, mask
    (1, 1, 5, 6, 1, 3, 1, 0, 1, 1, 1, False),
    (2, 2, 6, 5, 3, 3, 1, 1, 1, 1, 1, True),
    (1, 4, 7, 7, 4, 3, 2, 1, 1, 2, 2, True),
    (2, 4, 6, 7, 2, 2, 1, 0, 2, 1, 4, False),
    (1, 6, 8, 6, 6, 3, 2, 2, 2, 3, 3, True),
    (1, 3, 5, 5, 6, 1, 1, 0, 1, 3, 1, True),
    (2, 2, 6, 6, 4, 3, (2, 1), (1, 0), (1, 2), 2, 1, False),
]


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if all(isinstance(v, int) for v in c[6:9])])
def test_matches_naive_bilinear_loop(cfg):
    rng = np.random.default_rng(1)
    n, c, h, w, cout, k, stride, padding, dilation, groups, og, use_mask = cfg
    arrays = make_inputs(rng, n, c, h, w, cout, k, stride, padding, dilation, groups, og, use_mask, np.float64)
    x, offset, weight, bias = arrays[:4]
    mask = arrays[4] if use_mask else None
    expected = naive_deform_conv2d(x, offset, weight, bias, stride, padding, dilation, mask)
    got = F.deform_conv2d(cg.tensor(x), cg.tensor(offset), cg.tensor(weight), cg.tensor(bias), stride=stride,
                          padding=padding, dilation=dilation, mask=None if mask is None else cg.tensor(mask))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_forward_and_all_gradients_match_torch_composition(cfg, dtype):
    rng = np.random.default_rng(2)
    n, c, h, w, cout, k, stride, padding, dilation, groups, og, use_mask = cfg
    arrays = make_inputs(rng, n, c, h, w, cout, k, stride, padding, dilation, groups, og, use_mask, dtype)

    def cg_fn(x, off, wt, b, m=None):
        return F.deform_conv2d(x, off, wt, b, stride=stride, padding=padding, dilation=dilation, mask=m)

    def torch_fn(x, off, wt, b, m=None):
        return torch_deform_conv2d(x, off, wt, b, stride, padding, dilation, m)

    check_against_torch(cg_fn, torch_fn, arrays, dtype=dtype, name="deform_conv2d")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 2), (1, 2, 2, 1), (1, 1, 1, 4)])
def test_zero_offsets_unit_mask_is_torch_conv2d(stride, padding, dilation, groups, dtype):
    k = 3
    ho = out_size(9, k, stride, padding, dilation)
    zeros_offset = np.zeros((2, 2 * k * k, ho, ho), dtype)
    ones_mask = np.ones((2, k * k, ho, ho), dtype)

    def cg_fn(x, wt, b, off, m):
        return F.deform_conv2d(x, off, wt, b, stride=stride, padding=padding, dilation=dilation, mask=m)

    def torch_fn(x, wt, b, off, m):
        return torch.nn.functional.conv2d(x, wt, b, stride=stride, padding=padding, dilation=dilation,
                                          groups=groups)

    inputs = [(2, 4, 9, 9), (8, 4 // groups, k, k), (8,)]
    # offsets and mask take no part in the comparison: pass them without gradient
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s).astype(dtype) for s in inputs]
    x, wt, b = (cg.tensor(a, requires_grad=True) for a in arrays)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in arrays)
    out = cg_fn(x, wt, b, cg.tensor(zeros_offset), cg.tensor(ones_mask))
    ref = torch_fn(tx, tw, tb, None, None)
    g = rng.standard_normal(ref.shape).astype(dtype)
    out.backward(g)
    ref.backward(torch.tensor(g))
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for mine, theirs in ((out.numpy(), ref.detach().numpy()), (x.grad.numpy(), tx.grad.numpy()),
                         (wt.grad.numpy(), tw.grad.numpy()), (b.grad.numpy(), tb.grad.numpy())):
        np.testing.assert_allclose(mine, theirs, rtol=tol, atol=tol * max(1, np.abs(theirs).max()))
    # and v1 (no mask) gives the same
    v1 = F.deform_conv2d(cg.tensor(arrays[0]), cg.tensor(zeros_offset), cg.tensor(arrays[1]), cg.tensor(arrays[2]),
                         stride=stride, padding=padding, dilation=dilation)
    np.testing.assert_allclose(v1.numpy(), ref.detach().numpy(), rtol=tol, atol=tol * np.abs(ref.detach().numpy()).max())


@pytest.mark.parametrize("use_mask", [False, True])
def test_finite_differences(use_mask):
    rng = np.random.default_rng(4)
    # offsets kept away from integers so the (piecewise bilinear) function is smooth near them
    offset = np.floor(rng.uniform(-2, 2, (1, 2 * 2 * 4, 4, 4))) + rng.uniform(0.2, 0.8, (1, 16, 4, 4))
    inputs = [(1, 4, 4, 5), offset, (2, 2, 2, 2), (2,)]
    if use_mask:
        inputs.append(rng.uniform(0, 1, (1, 2 * 4, 4, 4)))

    def fn(x, off, wt, b, m=None):
        return F.deform_conv2d(x, off, wt, b, stride=1, padding=(1, 0), dilation=(2, 1), mask=m)

    assert check_gradient(fn, inputs)


def test_errors_name_the_op_and_the_shapes():
    x = cg.randn(1, 4, 6, 6)
    w = cg.randn(2, 4, 3, 3)
    with pytest.raises(cg.functional.ShapeError, match=r"deform_conv2d: expected offset of shape"):
        F.deform_conv2d(x, cg.zeros(1, 18, 5, 5), w)
    with pytest.raises(cg.functional.ShapeError, match=r"offset_groups=3"):
        F.deform_conv2d(x, cg.zeros(1, 54, 4, 4), w)
    with pytest.raises(cg.functional.ShapeError, match=r"mask of shape \(1, 9, 4, 4\)"):
        F.deform_conv2d(x, cg.zeros(1, 18, 4, 4), w, mask=cg.ones(1, 18, 4, 4))
    with pytest.raises(cg.functional.ShapeError, match=r"weight \(2, 3, 3, 3\)"):
        F.deform_conv2d(x, cg.zeros(1, 18, 4, 4), cg.randn(2, 3, 3, 3))
    with pytest.raises(TypeError, match="deform_conv2d: offset"):
        F.deform_conv2d(x, np.zeros((1, 18, 4, 4)), w)


def test_channels_last_views_and_dtype_mismatch():
    rng = np.random.default_rng(5)
    arrays = make_inputs(rng, 2, 4, 6, 6, 4, 3, 1, 1, 1, 2, 2, True, np.float64)
    # the same values held in channels-last memory (what a conv hands on) give the same result
    views = [np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if a.ndim == 4 else a for a in arrays]
    assert not views[0].flags.c_contiguous and not views[1].flags.c_contiguous
    outs = []
    for group in (arrays, views):
        x, off, wt, b, m = (cg.tensor(a, requires_grad=True) for a in group)
        y = F.deform_conv2d(x, off, wt, b, padding=1, mask=m)
        y.backward(np.ones(y.shape))
        outs.append([y.numpy(), x.grad.numpy(), off.grad.numpy(), wt.grad.numpy(), m.grad.numpy()])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match="share one floating dtype"):
        F.deform_conv2d(cg.randn(1, 2, 5, 5), cg.randn(1, 18, 3, 3).double(), cg.randn(3, 2, 3, 3))


def test_float32_stays_float32():
    out = F.deform_conv2d(cg.randn(1, 2, 5, 5), cg.randn(1, 18, 3, 3), cg.randn(3, 2, 3, 3), cg.randn(3),
                          mask=cg.rand(1, 9, 3, 3))
    assert out.dtype == np.float32
