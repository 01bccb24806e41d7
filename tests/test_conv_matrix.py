"""The Toeplitz view: conv(x).flatten() == W @ x.flatten() + b, and the input gradient is W.T @ g."""
import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.nn as nn
from convgrad.inspect import SparseMatrix, conv_matrix

LAYERS = [
    # layer factory, input shape (C, *spatial)
    (lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1), (2, 9)),
    (lambda: nn.Conv2d(1, 2, 3), (1, 5, 5)),
    (lambda: nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2)), (3, 6, 7)),
    (lambda: nn.Conv2d(4, 6, 3, padding="same", groups=2, bias=False), (4, 5, 6)),
    (lambda: nn.Conv2d(2, 2, 3, padding=2, padding_mode="reflect"), (2, 5, 6)),
    (lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="replicate"), (2, 4, 4)),
    (lambda: nn.Conv2d(1, 2, 3, padding=(2, 1), padding_mode="circular"), (1, 4, 5)),
    (lambda: nn.Conv3d(2, 2, 2, stride=(1, 2, 1), padding=1), (2, 3, 4, 3)),
]


@pytest.mark.parametrize("make,in_shape", LAYERS)
def test_matrix_times_input_is_the_layer_and_transpose_is_the_input_gradient(make, in_shape):
    cg.manual_seed(0)
    layer = make().double()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2,) + in_shape)
    W, b = conv_matrix(layer, x.shape, with_bias=True)
    assert isinstance(W, np.ndarray)
    xt = cg.tensor(x, requires_grad=True)
    y = layer(xt)
    for n in range(2):
        np.testing.assert_allclose(W @ x[n].ravel() + b, y.numpy()[n].ravel(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    for n in range(2):
        np.testing.assert_allclose(W.T @ g[n].ravel(), xt.grad.numpy()[n].ravel(), rtol=1e-12, atol=1e-12)
    # and the weight gradient is (g x^T) collected over the entries that share each weight
    assert W.shape == (int(np.prod(y.shape[1:])), int(np.prod(in_shape)))


def test_matrix_matches_torch_independently():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 2, 3, 3))
    x = rng.standard_normal((1, 2, 7, 6))
    W = conv_matrix(w, x.shape, stride=2, padding=1, dilation=1)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1)
    np.testing.assert_allclose(W @ x.ravel(), ref.numpy().ravel(), rtol=1e-12, atol=1e-12)


def test_one_dimensional_matrix_is_banded_toeplitz():
    w = np.array([[[1.0, 2.0, 3.0]]])
    W = conv_matrix(w, (1, 6))
    expected = np.array([[1, 2, 3, 0, 0, 0], [0, 1, 2, 3, 0, 0], [0, 0, 1, 2, 3, 0], [0, 0, 0, 1, 2, 3]], float)
    np.testing.assert_array_equal(W, expected)
    # constant along every diagonal: W[i, j] depends on j - i only
    for i in range(3):
        np.testing.assert_array_equal(np.diag(W, i), np.full(4, w[0, 0, i]))


def test_two_dimensional_matrix_is_doubly_block_toeplitz():
    w = np.random.default_rng(2).standard_normal((1, 1, 2, 2))
    W = conv_matrix(w, (1, 4, 4))  # 9 x 16: 3 x 4 blocks of shape 3 x 4
    blocks = W.reshape(3, 3, 4, 4).transpose(0, 2, 1, 3)  # (block row, block col, 3, 4)
    for i in range(3):
        for j in range(4):
            expected = conv_matrix(w[:, :, j - i], (1, 4)) if 0 <= j - i < 2 else np.zeros((3, 4))
            np.testing.assert_array_equal(blocks[i, j], expected)


def test_weight_sharing_count():
    layer = nn.Conv2d(1, 64, 7)
    W = conv_matrix(layer, (1, 32, 32), sparse=True)
    assert W.shape == (64 * 26 * 26, 32 * 32)
    assert W.nnz == 64 * 26 * 26 * 49  # every row holds one 7x7 kernel
    assert len(np.unique(W.data)) == 64 * 49  # ... drawn from only 3,136 distinct weights


@pytest.mark.parametrize("stride,padding,output_padding", [(1, 0, 0), (2, 1, 1), (3, 1, 2), (2, 0, 0)])
def test_backward_is_a_transposed_convolution(stride, padding, output_padding):
    """W.T @ g is exactly torch's conv_transpose2d of g with the same weight."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 3, 3, 3))
    h = (7 - 1) * stride - 2 * padding + 3 + output_padding  # the input size conv_transpose2d recreates
    W = conv_matrix(w, (3, h, h), stride=stride, padding=padding)
    ho = (h + 2 * padding - 3) // stride + 1
    assert ho == 7
    g = rng.standard_normal((1, 4, ho, ho))
    expected = torch.nn.functional.conv_transpose2d(torch.tensor(g), torch.tensor(w), stride=stride,
                                                    padding=padding, output_padding=output_padding)
    np.testing.assert_allclose(W.T @ g.ravel(), expected.numpy().ravel(), rtol=1e-12, atol=1e-12)


def test_transposed_convolution_layer_matrix():
    cg.manual_seed(1)
    layer = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1).double()
    x = np.random.default_rng(4).standard_normal((1, 3, 4, 5))
    M, b = conv_matrix(layer, x.shape, with_bias=True)
    y = layer(cg.tensor(x)).numpy()
    np.testing.assert_allclose(M @ x.ravel() + b, y.ravel(), rtol=1e-12, atol=1e-12)
    # ... and it is the transpose of the matrix of the convolution with the same weight
    forward = conv_matrix(layer.weight, (2,) + y.shape[2:], stride=2, padding=1)
    np.testing.assert_array_equal(M, forward.T)


def test_sparse_matches_dense_and_supports_the_operations():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((3, 2, 3, 3))
    dense = conv_matrix(w, (2, 6, 7), padding=1, stride=(1, 2), sparse=False)
    sp = conv_matrix(w, (2, 6, 7), padding=1, stride=(1, 2), sparse=True)
    assert isinstance(sp, SparseMatrix) and sp.shape == dense.shape
    np.testing.assert_array_equal(sp.toarray(), dense)
    np.testing.assert_array_equal(sp.T.toarray(), dense.T)
    v = rng.standard_normal(dense.shape[1])
    m = rng.standard_normal((dense.shape[1], 4))
    u = rng.standard_normal((5, dense.shape[0]))
    np.testing.assert_allclose(sp @ v, dense @ v, rtol=1e-12)
    np.testing.assert_allclose(sp @ m, dense @ m, rtol=1e-12)
    np.testing.assert_allclose(u @ sp, u @ dense, rtol=1e-12)
    np.testing.assert_allclose(sp.T @ u.T, dense.T @ u.T, rtol=1e-12)
    assert sp.nnz == np.count_nonzero(dense)
    assert "SparseMatrix(shape=" in repr(sp)


def test_large_layers_come_back_sparse_and_still_exact():
    cg.manual_seed(2)
    layer = nn.Conv2d(3, 16, 5, padding=2)
    x = np.random.default_rng(6).standard_normal((1, 3, 48, 48)).astype(np.float32)
    W = conv_matrix(layer, x.shape)
    assert isinstance(W, SparseMatrix) and W.shape == (16 * 48 * 48, 3 * 48 * 48)
    assert W.dtype == np.float32
    y = layer(cg.tensor(x)).numpy().ravel()
    np.testing.assert_allclose(W @ x.ravel() + np.repeat(layer.bias.numpy(), 48 * 48), y, rtol=1e-4, atol=1e-4)


def test_errors():
    with pytest.raises(cg.errors.ShapeError, match="expects 3 input channels, input_shape has 2"):
        conv_matrix(nn.Conv2d(3, 4, 3), (2, 8, 8))
    with pytest.raises(cg.errors.ShapeError, match="needs input_shape"):
        conv_matrix(nn.Conv2d(3, 4, 3), (3, 8))
    with pytest.raises(cg.errors.ShapeError, match="too small"):
        conv_matrix(nn.Conv2d(3, 4, 5), (3, 3, 3))
    with pytest.raises(cg.errors.ShapeError, match="SparseMatrix @"):
        conv_matrix(nn.Conv2d(1, 1, 3), (1, 5, 5), sparse=True) @ np.ones(7)
