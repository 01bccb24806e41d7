"""Convolution through the FFT (the convolution theorem) against torch's conv and against im2col."""
import itertools

import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.nn.functional as F
from convgrad.kernels.fft_conv import dilate, next_fast_len
from oracle import check_against_torch, check_gradient


def test_next_fast_len_is_the_smallest_5_smooth_number_not_below_n():
    def smooth(m):
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        return m == 1

    for n in range(1, 400):
        expected = next(m for m in itertools.count(n) if smooth(m))
        assert next_fast_len(n) == expected, n


def test_dilate_spreads_taps_with_zeros():
    w = np.arange(1.0, 7.0).reshape(1, 1, 2, 3)
    d = dilate(w, (2, 3))
    assert d.shape == (1, 1, 3, 7)
    np.testing.assert_array_equal(d[0, 0], [[1, 0, 0, 2, 0, 0, 3], [0] * 7, [4, 0, 0, 5, 0, 0, 6]])


def test_convolution_theorem_on_a_single_channel_by_hand():
    """The product of the transforms is the transform of the (circular) correlation."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 7))
    k = rng.standard_normal((3, 2))
    direct = np.array([[np.sum(x[i:i + 3, j:j + 2] * k) for j in range(6)] for i in range(4)])
    got = F.fft_conv2d(cg.tensor(x[None, None]), cg.tensor(k[None, None])).numpy()[0, 0]
    np.testing.assert_allclose(got, direct, rtol=1e-12, atol=1e-12)


GRID_2D = [
    # x shape, w shape, stride, padding, dilation, groups
    ((2, 3, 10, 9), (4, 3, 3, 3), 1, 0, 1, 1),
    ((1, 2, 12, 12), (3, 2, 5, 5), 1, 2, 1, 1),
    ((2, 4, 11, 13), (6, 2, 3, 4), (2, 1), (1, 2), (1, 2), 2),
    ((1, 3, 9, 9), (3, 1, 4, 4), 1, "same", 1, 3),
    ((1, 2, 16, 15), (2, 2, 11, 11), 1, 5, 1, 1),
    ((2, 1, 8, 8), (2, 1, 3, 3), 3, 0, 2, 1),
    ((1, 2, 7, 7), (2, 2, 2, 2), 1, "valid", 1, 1),
    ((3, 1, 20, 20), (1, 1, 13, 13), 2, 6, 1, 1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups", GRID_2D)
def test_fft_conv2d_matches_torch_conv2d(x_shape, w_shape, stride, padding, dilation, groups, dtype):
    def cg_fn(x, w, b):
        return F.fft_conv2d(x, w, b, stride, padding, dilation, groups)

    def torch_fn(x, w, b):
        return torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups)

    check_against_torch(cg_fn, torch_fn, [x_shape, w_shape, (w_shape[0],)], dtype=dtype, name="fft_conv2d")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fft_conv1d_and_3d_match_torch(dtype):
    check_against_torch(lambda x, w: F.fft_conv1d(x, w, padding=3, dilation=2, stride=2),
                        lambda x, w: torch.nn.functional.conv1d(x, w, padding=3, dilation=2, stride=2),
                        [(2, 3, 20), (4, 3, 5)], dtype=dtype, name="fft_conv1d")
    check_against_torch(lambda x, w, b: F.fft_conv3d(x, w, b, padding=(1, 0, 2), groups=2),
                        lambda x, w, b: torch.nn.functional.conv3d(x, w, b, padding=(1, 0, 2), groups=2),
                        [(1, 4, 5, 6, 5), (2, 2, 3, 2, 3), (2,)], dtype=dtype, name="fft_conv3d")


def test_fft_conv2d_agrees_with_im2col_conv2d():
    rng = np.random.default_rng(1)
    x = cg.tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    for k in (3, 7, 15):
        w = cg.tensor(rng.standard_normal((4, 3, k, k)).astype(np.float32))
        a = F.fft_conv2d(x, w, padding=k // 2).numpy()
        b = F.conv2d(x, w, padding=k // 2).numpy()
        assert np.abs(a - b).max() <= 1e-4 * np.abs(b).max()


def test_unbatched_input_and_dtype_kept():
    x = cg.randn(2, 9, 9)
    out = F.fft_conv2d(x, cg.randn(3, 2, 3, 3), padding=1)
    assert out.shape == (3, 9, 9) and out.dtype == np.float32


def test_fft_conv2d_finite_differences():
    assert check_gradient(lambda x, w, b: F.fft_conv2d(x, w, b, stride=2, padding=(1, 2), dilation=(2, 1), groups=2),
                          [(1, 4, 7, 6), (2, 2, 2, 3), (2,)])


def test_fft_conv2d_errors_name_the_op():
    with pytest.raises(cg.functional.ShapeError, match=r"fft_conv2d: expected input of shape \(N, 3, H, W\)"):
        F.fft_conv2d(cg.randn(1, 2, 8, 8), cg.randn(4, 3, 3, 3))
    with pytest.raises(cg.functional.ShapeError, match="larger than the padded input"):
        F.fft_conv2d(cg.randn(1, 3, 4, 4), cg.randn(4, 3, 5, 5))
    with pytest.raises(cg.functional.ArgumentError, match="'same' is not supported for strided"):
        F.fft_conv2d(cg.randn(1, 3, 8, 8), cg.randn(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(TypeError, match="same floating dtype"):
        F.fft_conv2d(cg.randn(1, 3, 8, 8), cg.randn(4, 3, 3, 3).double())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel,padding", [(9, 4), (11, "same"), ((11, 9), 0)])
def test_conv2d_chooses_the_fft_for_large_kernels_and_still_matches_torch(kernel, padding, dtype):
    """F.conv2d itself takes the FFT path where it pays (stride 1, kernel >= 9): same results."""
    cg_fn = lambda x, w, b: F.conv2d(x, w, b, padding=padding)  # noqa: E731
    t_fn = lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=padding)  # noqa: E731
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    check_against_torch(cg_fn, t_fn, [(2, 3, 24, 23), (4, 3) + k, (4,)], dtype=dtype, name="conv2d (FFT path)")
    x, w = cg.randn(1, 3, 24, 23, requires_grad=True), cg.randn(4, 3, *k)
    assert F.conv2d(x, w, padding=padding).grad_fn == "FFTConvNd"
    assert F.conv2d(x, w[:, :, :3, :3]).grad_fn == "ConvNd"  # small kernels stay on im2col
    previous = cg.set_fft_min_kernel(None)
    try:
        assert F.conv2d(x, w, padding=padding).grad_fn == "ConvNd"
    finally:
        cg.set_fft_min_kernel(previous)
