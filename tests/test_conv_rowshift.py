"""The row-shift convolution (kernels/conv_rowshift.py) and the BLAS call it sums with
(kernels/blas.gemm_into).

The path is normally taken only by convolutions large enough to pay for it, so these tests lower
its size threshold and force the pieces on small shapes, check that the path really ran, and
compare forward and both gradients with PyTorch.
"""
import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.functional as F
from convgrad.kernels import blas, conv_algo, conv_rowshift
from oracle import check_against_torch
from test_conv import CONV_FNS, CONV_GRID, _run_grid

DEFAULT_MIN_ROW_FLOP = conv_rowshift.MIN_ROW_FLOP

def row_configs(dims, count, seed):
    """``count`` random ungrouped conv{dims}d configurations with stride 1 along the first axis
    and at least two kernel rows (the ones the row-shift path takes)."""
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        cin, cout = int(rng.integers(2, 5)), int(rng.integers(1, 5))  # one channel never goes in pieces
        kernel = (int(rng.integers(2, 4)),) + tuple(int(k) for k in rng.integers(1, 4, dims - 1))
        stride = (1,) + tuple(int(v) for v in rng.integers(1, 3, dims - 1))
        dilation = tuple(int(v) for v in rng.integers(1, 3, dims))
        padding = tuple(int(v) for v in rng.integers(0, 3, dims))
        size = tuple(int(v) for v in rng.integers(4, 9 if dims == 2 else 6, dims))
        if any(d * (k - 1) + 1 > n + 2 * p for d, k, n, p in zip(dilation, kernel, size, padding)):
            continue
        bias = (cout,) if rng.random() < 0.5 else None
        configs.append(((3, cin) + size, (cout, cin) + kernel, bias,
                        dict(stride=stride, padding=padding, dilation=dilation, groups=1)))
    return configs


ROW_GRID = [(2, c) for c in row_configs(2, 12, 7)] + [(3, c) for c in row_configs(3, 4, 8)] \
    + [(dims, config) for dims, config in CONV_GRID if dims >= 2 and config[3]["groups"] == 1 and config[0][1] > 1
       and config[1][2] > 1 and (config[3]["padding"] == "same" or config[3]["stride"][0] == 1)]


@pytest.fixture
def calls(monkeypatch):
    """Lower the row-shift threshold to zero and count the calls of its two kernels."""
    monkeypatch.setattr(conv_rowshift, "MIN_ROW_FLOP", 0)
    seen = {"forward": 0, "weight": 0}
    forward, weight = conv_rowshift.forward_rows, conv_rowshift.weight_grad_rows

    def count_forward(*args, **kwargs):
        seen["forward"] += 1
        return forward(*args, **kwargs)

    def count_weight(*args, **kwargs):
        seen["weight"] += 1
        return weight(*args, **kwargs)
    monkeypatch.setattr(conv_rowshift, "forward_rows", count_forward)
    monkeypatch.setattr(conv_rowshift, "weight_grad_rows", count_weight)
    return seen


@pytest.mark.parametrize("piece_bytes", [1, 1 << 20])
@pytest.mark.parametrize("dims,config", ROW_GRID + [
    (2, ((3, 4, 7, 6), (5, 4, 3, 3), (5,), dict(stride=(1, 2), padding=1, dilation=(2, 1), groups=1))),
    (3, ((2, 2, 5, 4, 4), (3, 2, 2, 3, 2), None, dict(stride=(1, 1, 2), padding=(1, 0, 1), dilation=1, groups=1))),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_shift_pieces_match_torch(dims, config, piece_bytes, dtype, monkeypatch, calls):
    monkeypatch.setattr(conv_algo, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(conv_algo, "SPLIT_MIN_POSITIONS", 0)
    monkeypatch.setattr(conv_algo, "PIECE_BYTES", piece_bytes)
    _run_grid(CONV_FNS, dims, config, dtype, f"conv{dims}d")
    assert calls["forward"] > 0 and calls["weight"] > 0


@pytest.mark.parametrize("dims,config", ROW_GRID[:8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_shift_of_a_single_sample_matches_torch(dims, config, dtype, calls):
    x_shape, w_shape, b_shape, kwargs = config
    cg_fn, torch_fn = CONV_FNS[dims]
    shapes = [(1,) + x_shape[1:], w_shape] + ([b_shape] if b_shape else [])
    check_against_torch(lambda x, w, *b: cg_fn(x, w, *b, **kwargs), lambda x, w, *b: torch_fn(x, w, *b, **kwargs),
                        shapes, dtype=dtype, grad=False, name=f"conv{dims}d")
    assert calls["forward"] == 1


def test_which_convolutions_go_by_kernel_rows():
    assert conv_rowshift.eligible((3, 3), (1, 1), 1)
    assert conv_rowshift.eligible((3, 3), (1, 2), 1)           # any stride along the other axes
    assert not conv_rowshift.eligible((3, 3), (2, 1), 1)       # the rows must follow each other
    assert not conv_rowshift.eligible((1, 3), (1, 1), 1)       # one kernel row: nothing to shift
    assert not conv_rowshift.eligible((3,), (1,), 1)           # 1-D
    assert not conv_rowshift.eligible((3, 3), (1, 1), 2)       # grouped
    assert conv_rowshift.eligible((3, 3), (1, 1), 1, (56, 56), 64, 64)       # 3136 * 3 * 64 * 64 * 2 flop
    assert not conv_rowshift.eligible((3, 3), (1, 1), 1, (28, 28), 16, 16)   # 1.8 Mflop: call overhead wins
    assert not conv_rowshift.eligible((3, 3), (1, 1), 1, (14, 14), 256, 256)  # rows of 768 columns: im2col wins


def test_large_convolutions_take_the_row_shift_path(calls, monkeypatch):
    monkeypatch.setattr(conv_rowshift, "MIN_ROW_FLOP", DEFAULT_MIN_ROW_FLOP)
    x = cg.tensor(np.random.default_rng(0).standard_normal((2, 32, 48, 48)).astype(np.float32))
    w = cg.tensor(np.random.default_rng(1).standard_normal((32, 32, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    y.sum().backward()
    assert calls["forward"] > 0 and calls["weight"] > 0
    expected = torch.nn.functional.conv2d(torch.tensor(x.numpy()), torch.tensor(w.numpy()), padding=1)
    np.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_gemm_into_matches_numpy(dtype, transpose_a, beta):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((7, 5) if transpose_a else (6, 7)).astype(dtype)
    a_op = a.T if transpose_a else a
    b = rng.standard_normal((7, 4)).astype(dtype)
    c = rng.standard_normal((a_op.shape[0], 4)).astype(dtype)
    expected = a_op @ b + beta * c
    blas.gemm_into(a, b, c, beta=beta, transpose_a=transpose_a)
    np.testing.assert_allclose(c, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_gemm_into_falls_back_to_numpy_for_operands_blas_cannot_read():
    rng = np.random.default_rng(1)
    big = rng.standard_normal((6, 14)).astype(np.float32)
    a = big[:, ::2]                                  # column stride 2
    b = rng.standard_normal((7, 3)).astype(np.float64)  # another dtype than c
    c = np.ones((6, 3), np.float32)
    expected = (a @ b + c).astype(np.float32)
    blas.gemm_into(a, b, c, beta=1.0)
    np.testing.assert_allclose(c, expected, rtol=1e-5)
    view = np.zeros((6, 6), np.float32)[:, :3]       # output rows with a gap: BLAS can write those
    blas.gemm_into(np.ascontiguousarray(a), b.astype(np.float32), view)
    np.testing.assert_allclose(view, a @ b, rtol=1e-5)
