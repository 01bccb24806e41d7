"""The lectures' worked examples, recomputed: the 5x5 pooling grid, Sobel edges, parameter counts."""
import gzip
import itertools
import os

import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.nn as nn
import convgrad.nn.functional as F
from convgrad import filters, image

# The 5x5 feature map of the pooling slides, pooled with a 3x3 window at stride 1.
GRID = np.array([[3, 3, 2, 1, 0],
                 [0, 0, 1, 3, 1],
                 [3, 1, 2, 2, 3],
                 [2, 0, 0, 2, 2],
                 [2, 0, 0, 0, 1]], dtype=np.float64)
LECTURE_MAX = np.array([[3, 3, 3], [3, 3, 3], [3, 2, 3]], dtype=np.float64)
LECTURE_AVG = np.array([[1.67, 1.67, 1.67], [1.0, 1.22, 1.78], [1.11, 0.78, 1.33]])  # shown to 2 decimals
LECTURE_MIN = np.zeros((3, 3))

needs_pooling = pytest.mark.skipif(not all(hasattr(F, n) for n in ("max_pool2d", "avg_pool2d", "min_pool2d")),
                                   reason="convgrad.functional pooling (max/avg/min_pool2d) not exported yet")


def sliding_window(grid, reduce, k=3):
    """Pooling from the definition: reduce each k x k window, stride 1, no padding."""
    n = grid.shape[0] - k + 1
    return np.array([[reduce(grid[i:i + k, j:j + k]) for j in range(n)] for i in range(n)])


def as_batch(grid):
    return cg.tensor(grid[None, None])


def test_pooling_grid_by_definition_gives_the_lecture_numbers():
    np.testing.assert_array_equal(sliding_window(GRID, np.max), LECTURE_MAX)
    np.testing.assert_allclose(sliding_window(GRID, np.mean), LECTURE_AVG, atol=0.005)
    np.testing.assert_array_equal(sliding_window(GRID, np.min), LECTURE_MIN)


def test_pooling_grid_in_torch_gives_the_lecture_numbers():
    t = torch.tensor(GRID)[None, None]
    np.testing.assert_array_equal(torch.nn.functional.max_pool2d(t, 3, stride=1)[0, 0].numpy(), LECTURE_MAX)
    np.testing.assert_allclose(torch.nn.functional.avg_pool2d(t, 3, stride=1)[0, 0].numpy(), LECTURE_AVG, atol=0.005)


@needs_pooling
def test_max_pooling_the_lecture_grid():
    out = F.max_pool2d(as_batch(GRID), 3, stride=1)
    np.testing.assert_array_equal(out.numpy()[0, 0], LECTURE_MAX)


@needs_pooling
def test_average_pooling_the_lecture_grid():
    out = F.avg_pool2d(as_batch(GRID), 3, stride=1)
    np.testing.assert_allclose(out.numpy()[0, 0], LECTURE_AVG, atol=0.005)
    np.testing.assert_allclose(out.numpy()[0, 0] * 9, sliding_window(GRID, np.sum), rtol=1e-12)  # exact ninths


@needs_pooling
def test_min_pooling_the_lecture_grid():
    out = F.min_pool2d(as_batch(GRID), 3, stride=1)
    np.testing.assert_array_equal(out.numpy()[0, 0], LECTURE_MIN)
    if hasattr(nn, "MinPool2d"):
        np.testing.assert_array_equal(nn.MinPool2d(3, stride=1)(as_batch(GRID)).numpy()[0, 0], LECTURE_MIN)


@needs_pooling
def test_max_pooling_backward_routes_the_error_along_the_maximum_only():
    """Slide 'Max Pooling - Backward Pass': only one value per window receives the error."""
    x = cg.tensor(GRID[None, None] + np.arange(25).reshape(5, 5) * 1e-3, requires_grad=True)  # unique maxima
    F.max_pool2d(x, 3, stride=3 - 1).sum().backward()
    grad = x.grad.numpy()[0, 0]
    assert np.count_nonzero(grad) <= 4 and grad.sum() == 4  # 2 x 2 windows, one winner each


def test_block_downsampling_keeps_dark_or_bright_parts():
    """The lecture's raw-image downsampling: min keeps dark regions, max the bright ones."""
    digits = load_mnist_test(100)[0].astype(np.float64)
    for img in digits[:20]:
        small_min, small_max, small_avg = (image.downsample(img, 2, m) for m in ("min", "max", "avg"))
        assert small_min.shape == small_max.shape == (14, 14)
        assert (small_min <= small_avg).all() and (small_avg <= small_max).all()
        assert (small_max > 128).sum() >= (img > 128).sum() / 4  # bright strokes survive max
        assert (small_min > 128).sum() <= (img > 128).sum() / 4  # ... and thin out under min


def load_mnist_test(count):
    root = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")
    root = os.environ.get("CONVGRAD_MNIST_DIR", root)
    path = os.path.join(root, "t10k-images-idx3-ubyte.gz")
    if not os.path.exists(path):
        pytest.skip(f"MNIST test images not found at {path}")
    with gzip.open(path) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(os.path.join(root, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images[:count], labels[:count]


def test_sobel_kernels_pick_out_horizontal_and_vertical_edges_in_digits():
    """Ones are vertical strokes: the vertical-edge kernel responds more. Turned on their side,
    the horizontal-edge kernel does."""
    images, labels = load_mnist_test(2000)
    ones = (images[labels == 1] / 255.0).astype(np.float32)[:, None]
    layer = filters.as_conv2d(list(filters.sobel()), padding=1)
    upright = layer(cg.tensor(ones)).numpy()
    sideways = layer(cg.tensor(np.ascontiguousarray(ones.transpose(0, 1, 3, 2)))).numpy()
    energy_up = (upright ** 2).mean(axis=(2, 3))  # (n, [horizontal, vertical])
    energy_side = (sideways ** 2).mean(axis=(2, 3))
    assert (energy_up[:, 1] > energy_up[:, 0]).mean() > 0.9
    assert (energy_side[:, 0] > energy_side[:, 1]).mean() > 0.9
    assert energy_up[:, 1].sum() > 3 * energy_up[:, 0].sum()
    # transposing the image swaps the roles of the two kernels exactly (up to the kernels' sign)
    np.testing.assert_allclose(energy_side[:, ::-1], energy_up, rtol=1e-4)


def test_sobel_on_a_bright_square():
    img = np.zeros((10, 10))
    img[3:7, 3:7] = 1.0
    horizontal, vertical = filters.sobel()
    h = F.conv2d(cg.tensor(img[None, None]), cg.tensor(horizontal[None, None]), padding=1).numpy()[0, 0]
    v = F.conv2d(cg.tensor(img[None, None]), cg.tensor(vertical[None, None]), padding=1).numpy()[0, 0]
    rows_h = sorted(set(np.nonzero(np.abs(h) >= 3)[0]))
    cols_v = sorted(set(np.nonzero(np.abs(v) >= 3)[1]))
    assert rows_h == [2, 3, 6, 7]  # the top and bottom sides of the square
    assert cols_v == [2, 3, 6, 7]  # its left and right sides
    assert (np.abs(h)[4:6, :] == 0).all() and (np.abs(v)[:, 4:6] == 0).all()


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_a_64_filter_7x7_conv_on_one_channel_has_3200_parameters():
    conv = nn.Conv2d(1, 64, 7)
    assert count(conv) == (7 * 7 + 1) * 64 == 3200
    assert conv(cg.zeros(1, 1, 512, 16)).shape == (1, 64, 506, 10)  # the same 3,200 for any image size


@pytest.mark.skipif(not hasattr(nn, "Linear"), reason="nn.Linear not exported yet")
def test_the_dense_layer_it_replaces_has_16_8_million():
    dense = nn.Linear(512 * 512, 64)
    assert count(dense) == (512 ** 2 + 1) * 64 == 16_777_280
    assert round(count(dense) / 1e6, 1) == 16.8
    assert count(dense) / count(nn.Conv2d(1, 64, 7)) > 5000


def test_convolution_is_cross_correlation_with_a_flipped_kernel():
    """The lectures: "cross-correlation is convolution with a flipped kernel - and vice versa"."""
    rng = np.random.default_rng(0)
    x = cg.tensor(rng.standard_normal((1, 1, 6, 6)))
    g = rng.standard_normal((1, 1, 3, 3))
    np.testing.assert_allclose(F.convolve2d(x, cg.tensor(g)).numpy(),
                               F.conv2d(x, cg.tensor(g[..., ::-1, ::-1].copy())).numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.conv2d(x, cg.tensor(g)).numpy(),
                               F.convolve2d(x, cg.tensor(g[..., ::-1, ::-1].copy())).numpy(), rtol=1e-12)


def test_padding_keeps_a_5x5_map_and_valid_gives_9_positions():
    """'We can only create 9 different features of size 3 x 3 in this 5 x 5 image' - padding fixes it."""
    x = as_batch(GRID)
    w = cg.ones(1, 1, 3, 3, dtype=np.float64)
    assert F.conv2d(x, w).shape == (1, 1, 3, 3)  # 9 positions
    assert F.conv2d(x, w, padding=1).shape == (1, 1, 5, 5)
    np.testing.assert_allclose(F.conv2d(x, w).numpy()[0, 0], sliding_window(GRID, np.sum), rtol=1e-12)


def test_toeplitz_view_of_the_lecture_grid():
    """Convolution as a matrix product, and the backward pass as the transposed matrix."""
    w = np.arange(9.0).reshape(1, 1, 3, 3)
    W = cg.inspect.conv_matrix(w, (1, 5, 5))
    assert W.shape == (9, 25)
    out = F.conv2d(as_batch(GRID), cg.tensor(w)).numpy().ravel()
    np.testing.assert_allclose(W @ GRID.ravel(), out, rtol=1e-12)
    for (i, j), row in zip(itertools.product(range(3), range(3)), W):
        np.testing.assert_array_equal(row.reshape(5, 5)[i:i + 3, j:j + 3], w[0, 0])
        assert np.count_nonzero(row) == 8  # the kernel's 9 taps, one of them 0
