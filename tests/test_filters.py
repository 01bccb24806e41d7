"""Classical filters: their definitions, what they respond to, and turning them into Conv2d layers."""
import itertools
import math

import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.nn.functional as F
from convgrad import filters


def step_image(direction, size=12):
    """Bright (1) on one side of a straight edge, dark (0) on the other."""
    img = np.zeros((size, size))
    if direction == "horizontal":  # edge along x: bright top half
        img[: size // 2] = 1.0
    else:  # vertical edge: bright right half
        img[:, size // 2:] = 1.0
    return img


def respond(kernel, img):
    return F.conv2d(cg.tensor(img[None, None]), cg.tensor(kernel[None, None])).numpy()[0, 0]


@pytest.mark.parametrize("pair", [filters.sobel, filters.prewitt])
def test_edge_pair_picks_out_horizontal_and_vertical_edges(pair):
    horizontal, vertical = pair()
    h_edges, v_edges = step_image("horizontal"), step_image("vertical")
    assert np.abs(respond(horizontal, h_edges)).max() > 2.9
    assert np.abs(respond(vertical, h_edges)).max() == 0
    assert np.abs(respond(vertical, v_edges)).max() > 2.9
    assert np.abs(respond(horizontal, v_edges)).max() == 0
    # the response sits on the edge rows/columns only, and its sign tells the direction
    rows = np.nonzero(np.abs(respond(horizontal, h_edges)).max(axis=1))[0]
    np.testing.assert_array_equal(rows, [4, 5])  # output rows whose window straddles rows 5|6
    assert respond(horizontal, h_edges).max() > 0  # bright above dark: positive
    assert respond(vertical, v_edges).max() > 0  # dark left of bright: positive


def test_sobel_is_the_lecture_pair():
    horizontal, vertical = filters.sobel()
    np.testing.assert_array_equal(horizontal, [[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    np.testing.assert_array_equal(vertical, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def test_laplacian_sums_to_zero_and_ignores_linear_ramps():
    ramp = np.add.outer(np.arange(8.0) * 2, np.arange(8.0) * 3)
    for diagonal in (False, True):
        k = filters.laplacian(diagonal)
        assert k.sum() == 0
        assert np.abs(respond(k, ramp)).max() < 1e-12
        assert respond(k, np.pad(np.ones((1, 1)), 3))[2, 2] == k[1, 1]  # a dot returns the centre weight


@pytest.mark.parametrize("size,sigma", [(5, 1.0), (7, 2.5), ((5, 9), (1.0, 2.0)), (4, 0.8), (9, None)])
def test_gaussian_sums_to_one_and_is_the_formula(size, sigma):
    k = filters.gaussian(size, sigma)
    h, w = (size, size) if isinstance(size, int) else size
    assert k.shape == (h, w)
    assert abs(k.sum() - 1) < 1e-12
    if sigma is None:
        sy = sx = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    else:
        sy, sx = (sigma, sigma) if np.ndim(sigma) == 0 else sigma
    raw = np.array([[math.exp(-((i - (h - 1) / 2) ** 2) / (2 * sy * sy) - ((j - (w - 1) / 2) ** 2) / (2 * sx * sx))
                     for j in range(w)] for i in range(h)])
    np.testing.assert_allclose(k, raw / raw.sum(), rtol=1e-12)
    np.testing.assert_allclose(k, k[::-1, ::-1], rtol=1e-12)  # symmetric


def opencv_gabor_reference(ksize, sigma, theta, lambd, gamma, psi):
    """cv::getGaborKernel, loop for loop (square ksize)."""
    xmax = ymax = ksize // 2
    kernel = np.zeros((2 * ymax + 1, 2 * xmax + 1))
    ex = -0.5 / (sigma * sigma)
    ey = -0.5 / ((sigma / gamma) ** 2)
    cscale = math.pi * 2 / lambd
    for y in range(-ymax, ymax + 1):
        for x in range(-xmax, xmax + 1):
            xr = x * math.cos(theta) + y * math.sin(theta)
            yr = -x * math.sin(theta) + y * math.cos(theta)
            kernel[ymax - y, xmax - x] = math.exp(ex * xr * xr + ey * yr * yr) * math.cos(cscale * xr + psi)
    return kernel


@pytest.mark.parametrize("ksize,sigma,theta,lambd,gamma,psi",
                         [(7, 2.0, 0.0, 4.0, 0.5, math.pi / 2), (9, 3.0, math.pi / 3, 6.0, 1.0, 0.0),
                          (6, 1.5, 2.0, 3.0, 0.7, 0.4), (11, 4.0, math.pi / 2, 8.0, 0.3, math.pi)])
def test_gabor_is_opencvs_formula(ksize, sigma, theta, lambd, gamma, psi):
    np.testing.assert_allclose(filters.gabor(ksize, sigma, theta, lambd, gamma, psi),
                               opencv_gabor_reference(ksize, sigma, theta, lambd, gamma, psi), rtol=1e-12, atol=1e-15)


def grating(angle, wavelength=6.0, size=31):
    """Stripes whose intensity varies along the direction ``angle`` (0: along x)."""
    y, x = np.mgrid[:size, :size].astype(np.float64)
    return np.cos(2 * math.pi * (x * math.cos(angle) + y * math.sin(angle)) / wavelength)


def test_gabor_responds_most_to_its_own_orientation():
    bank = filters.gabor_bank(15, sigma=3.0, lambd=6.0, n_orientations=8, psi=0.0)
    thetas = [k * math.pi / 8 for k in range(8)]
    for k, theta in enumerate(thetas):
        # energy of each filter's response to a grating at angle theta
        energy = [np.square(respond(bank[j], grating(theta))).mean() for j in range(8)]
        assert int(np.argmax(energy)) == k
        assert energy[k] > 20 * energy[(k + 4) % 8]  # the orthogonal filter barely responds


def test_gabor_bank_layout():
    bank = filters.gabor_bank(7, sigma=[2.0, 3.0], lambd=[4.0, 6.0], n_orientations=4)
    assert bank.shape == (8, 7, 7)
    np.testing.assert_allclose(bank[5], filters.gabor(7, 3.0, math.pi / 4, 6.0))
    with pytest.raises(cg.errors.ArgumentError, match="gabor_bank: got 2 sigmas for 3 wavelengths"):
        filters.gabor_bank(7, sigma=[2.0, 3.0], lambd=[4.0, 5.0, 6.0])


def test_as_conv2d_gives_a_fixed_layer_equal_to_torch():
    horizontal, vertical = filters.sobel()
    layer = filters.as_conv2d([horizontal, vertical], in_channels=3, padding=1)
    assert isinstance(layer, cg.nn.Conv2d) and layer.bias is None
    assert not layer.weight.requires_grad
    assert layer.weight.shape == (2, 3, 3, 3) and layer.weight.dtype == np.float32
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    w = np.stack([np.stack([horizontal] * 3), np.stack([vertical] * 3)]).astype(np.float32)
    expected = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    np.testing.assert_allclose(layer(cg.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-5)
    assert [p for p in layer.parameters() if p.requires_grad] == []


def test_as_conv2d_depthwise_applies_every_kernel_to_every_channel():
    bank = filters.gabor_bank(5, sigma=1.5, lambd=4.0, n_orientations=3)
    layer = filters.as_conv2d(bank, in_channels=2, depthwise=True, trainable=True, dtype=np.float64)
    assert layer.groups == 2 and layer.weight.shape == (6, 1, 5, 5) and layer.weight.requires_grad
    x = np.random.default_rng(1).standard_normal((1, 2, 9, 9))
    out = layer(cg.tensor(x)).numpy()
    for c, j in itertools.product(range(2), range(3)):
        np.testing.assert_allclose(out[0, c * 3 + j], respond(bank[j], x[0, c]), rtol=1e-12, atol=1e-12)


def test_init_conv2d_sets_the_first_filters_and_keeps_the_rest():
    cg.manual_seed(0)
    conv = cg.nn.Conv2d(3, 8, 5)
    before = conv.weight.numpy().copy()
    filters.init_conv2d_(conv, filters.sobel(), scale=0.5)
    w = conv.weight.numpy()
    np.testing.assert_array_equal(w[2:], before[2:])
    np.testing.assert_allclose(w[0, 1, 1:4, 1:4], 0.5 * filters.sobel()[0])
    assert w[0, :, 0].sum() == 0 and w[1, :, :, 4].sum() == 0  # centred, zeros around
    assert conv.weight.requires_grad  # an initialisation: still trained
    with pytest.raises(cg.errors.ShapeError, match="do not fit"):
        filters.init_conv2d_(conv, filters.gaussian(7, 1.0))
