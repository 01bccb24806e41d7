"""True convolution (flipped kernel) versus cross-correlation (what conv2d computes)."""
import itertools

import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.nn.functional as F
from oracle import check_against_torch, check_gradient


def naive_true_convolution_2d(f, g):
    """(f * g)(u, v) = sum_{t, r} f(t, r) g(u - t, v - r), full support, for 2-D arrays.

    The result has shape (H + kh - 1, W + kw - 1): every (u, v) where the sum is non-zero."""
    h, w = f.shape
    kh, kw = g.shape
    out = np.zeros((h + kh - 1, w + kw - 1))
    for u, v in itertools.product(range(h + kh - 1), range(w + kw - 1)):
        total = 0.0
        for t, r in itertools.product(range(h), range(w)):
            if 0 <= u - t < kh and 0 <= v - r < kw:
                total += f[t, r] * g[u - t, v - r]
        out[u, v] = total
    return out


def naive_true_convolution_1d(f, g):
    n, k = len(f), len(g)
    return np.array([sum(f[t] * g[u - t] for t in range(n) if 0 <= u - t < k) for u in range(n + k - 1)])


def test_convolve2d_full_padding_is_the_definition():
    rng = np.random.default_rng(0)
    f = rng.standard_normal((5, 6))
    g = rng.standard_normal((3, 2))
    # padding k-1 on each side gives every position of the full convolution
    got = F.convolve2d(cg.tensor(f[None, None]), cg.tensor(g[None, None]), padding=(2, 1))
    np.testing.assert_allclose(got.numpy()[0, 0], naive_true_convolution_2d(f, g), rtol=1e-12, atol=1e-12)


def test_convolve2d_valid_part_of_the_definition():
    rng = np.random.default_rng(1)
    f = rng.standard_normal((7, 6))
    g = rng.standard_normal((3, 3))
    full = naive_true_convolution_2d(f, g)
    got = F.convolve2d(cg.tensor(f[None, None]), cg.tensor(g[None, None]))
    np.testing.assert_allclose(got.numpy()[0, 0], full[2:-2, 2:-2], rtol=1e-12, atol=1e-12)


def test_convolve1d_is_the_definition():
    rng = np.random.default_rng(2)
    f, g = rng.standard_normal(9), rng.standard_normal(4)
    got = F.convolve1d(cg.tensor(f[None, None]), cg.tensor(g[None, None]), padding=3)
    np.testing.assert_allclose(got.numpy()[0, 0], naive_true_convolution_1d(f, g), rtol=1e-12, atol=1e-12)


def test_convolution_is_commutative_but_cross_correlation_is_not():
    rng = np.random.default_rng(3)
    f = rng.standard_normal((4, 4))
    g = rng.standard_normal((4, 4))
    fg = F.convolve2d(cg.tensor(f[None, None]), cg.tensor(g[None, None]), padding=3).numpy()
    gf = F.convolve2d(cg.tensor(g[None, None]), cg.tensor(f[None, None]), padding=3).numpy()
    np.testing.assert_allclose(fg, gf, rtol=1e-12, atol=1e-12)
    cfg = F.conv2d(cg.tensor(f[None, None]), cg.tensor(g[None, None]), padding=3).numpy()
    cgf = F.conv2d(cg.tensor(g[None, None]), cg.tensor(f[None, None]), padding=3).numpy()
    assert np.abs(cfg - cgf).max() > 1e-3  # cross-correlation: swapping gives the mirror image
    np.testing.assert_allclose(cfg, cgf[..., ::-1, ::-1], rtol=1e-12, atol=1e-12)


def test_a_symmetric_kernel_makes_them_equal_and_an_asymmetric_one_does_not():
    x = cg.tensor(np.random.default_rng(4).standard_normal((1, 1, 6, 6)))
    box = cg.tensor(np.ones((1, 1, 3, 3)))
    np.testing.assert_allclose(F.convolve2d(x, box).numpy(), F.conv2d(x, box).numpy(), rtol=1e-12)
    sobel = cg.tensor(np.array([[[[1.0, 2, 1], [0, 0, 0], [-1, -2, -1]]]]))
    np.testing.assert_allclose(F.convolve2d(x, sobel).numpy(), -F.conv2d(x, sobel).numpy(), rtol=1e-12)


GRID = [
    # shape, weight shape, stride, padding, dilation, groups
    ((2, 3, 7, 8), (4, 3, 3, 2), 1, 0, 1, 1),
    ((1, 4, 9, 9), (4, 2, 3, 3), 2, 1, 1, 2),
    ((2, 2, 8, 7), (3, 2, 2, 3), (1, 2), (2, 1), (2, 1), 1),
    ((1, 3, 6, 6), (3, 1, 3, 3), 1, "same", 1, 3),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups", GRID)
def test_convolve2d_equals_torch_conv2d_with_flipped_kernel(x_shape, w_shape, stride, padding, dilation, groups,
                                                            dtype):
    def cg_fn(x, w, b):
        return F.convolve2d(x, w, b, stride, padding, dilation, groups)

    def torch_fn(x, w, b):
        return torch.nn.functional.conv2d(x, w.flip((2, 3)), b, stride, padding, dilation, groups)

    check_against_torch(cg_fn, torch_fn, [x_shape, w_shape, (w_shape[0],)], dtype=dtype, name="convolve2d")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_convolve1d_and_3d_equal_torch_with_flipped_kernel(dtype):
    check_against_torch(lambda x, w: F.convolve1d(x, w, padding=1, stride=2),
                        lambda x, w: torch.nn.functional.conv1d(x, w.flip(2), padding=1, stride=2),
                        [(2, 3, 11), (4, 3, 3)], dtype=dtype, name="convolve1d")
    check_against_torch(lambda x, w: F.convolve3d(x, w, padding=(1, 0, 1)),
                        lambda x, w: torch.nn.functional.conv3d(x, w.flip((2, 3, 4)), padding=(1, 0, 1)),
                        [(1, 2, 4, 5, 4), (3, 2, 2, 3, 2)], dtype=dtype, name="convolve3d")


def test_convolve2d_finite_differences():
    assert check_gradient(lambda x, w, b: F.convolve2d(x, w, b, padding=1, stride=2), [(1, 2, 5, 5), (3, 2, 3, 2), (3,)])


def test_convolve_errors_name_the_op():
    with pytest.raises(cg.functional.ShapeError, match="convolve2d: expected a 4-D weight"):
        F.convolve2d(cg.randn(1, 1, 5, 5), cg.randn(3, 3))
    with pytest.raises(TypeError, match="convolve2d: expected weight to be a Tensor"):
        F.convolve2d(cg.randn(1, 1, 5, 5), [[1.0]])
