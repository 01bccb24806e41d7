"""The batch-last convolution path (kernels/conv_batch_last.py) for narrow layers.

Ungrouped convolutions with few input channels and a batch of 16 or more run on ``(C, *S, N)``
memory in cache-sized blocks of output positions. Checked against PyTorch over a random grid of
options (forward and every gradient, float32 and float64), with the block budget forced small
so that the splitting into rows and into pieces of a row is exercised too.
"""
import numpy as np
import pytest
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from convgrad.kernels import conv_batch_last
from oracle import check_against_torch


def batch_last_configs(dims, count, seed):
    """Valid ungrouped configurations with a batch of 16-20 and 1-8 input channels."""
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        cin = int(rng.integers(1, conv_batch_last.MAX_CHANNELS + 1))
        cout = int(rng.integers(1, 9))
        kernel = tuple(int(k) for k in rng.integers(1, 6, dims))
        stride = tuple(int(s) for s in rng.integers(1, 3, dims))
        dilation = tuple(int(d) for d in rng.integers(1, 3, dims))
        size = tuple(int(s) for s in rng.integers(5, 12 if dims < 3 else 7, dims))
        padding = tuple(int(p) for p in rng.integers(0, 3, dims))
        if any(d * (k - 1) + 1 > s + 2 * p for d, k, s, p in zip(dilation, kernel, size, padding)):
            continue
        batch = int(rng.integers(conv_batch_last.MIN_BATCH, conv_batch_last.MIN_BATCH + 5))
        bias = (cout,) if rng.random() < 0.7 else None
        configs.append(((batch, cin) + size, (cout, cin) + kernel, bias,
                        dict(stride=stride, padding=padding, dilation=dilation)))
    return configs


GRID = [(2, c) for c in batch_last_configs(2, 16, 11)] + [(1, c) for c in batch_last_configs(1, 6, 12)] \
    + [(3, c) for c in batch_last_configs(3, 4, 13)]
FNS = {1: (F.conv1d, TF.conv1d), 2: (F.conv2d, TF.conv2d), 3: (F.conv3d, TF.conv3d)}


def _check(dims, config, dtype):
    """The input comes in batch-last memory, so that the layer takes this path whatever its
    number of output channels."""
    x_shape, w_shape, b_shape, kwargs = config
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape))
    x = np.ascontiguousarray(np.moveaxis(rng.standard_normal(x_shape), 0, -1))
    x = np.moveaxis(x, -1, 0).astype(dtype)
    assert conv_batch_last.eligible(x, w_shape[0], 1)
    cg_fn, torch_fn = FNS[dims]
    shapes = [x, w_shape] + ([b_shape] if b_shape else [])
    check_against_torch(lambda *a: cg_fn(*a, **kwargs), lambda *a: torch_fn(*a, **kwargs), shapes,
                        dtype=dtype, name=f"conv{dims}d")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dims,config", GRID)
def test_batch_last_conv_matches_torch(dims, config, dtype):
    _check(dims, config, dtype)


@pytest.mark.parametrize("budget", [1, 3000])
@pytest.mark.parametrize("dims,config", GRID[:6] + GRID[16:18] + GRID[22:24])
def test_small_blocks_match_torch(dims, config, budget, monkeypatch):
    """A budget of 1 byte gives one output position per block (pieces of a row); 3000 bytes a
    few positions or rows per block."""
    monkeypatch.setattr(conv_batch_last, "BUDGET", {key: budget for key in conv_batch_last.BUDGET})
    _check(dims, config, np.float64)


def test_blocks_cover_every_output_position_once():
    for out_spatial, position, budget in [((7, 5), 10, 1), ((7, 5), 10, 25), ((7, 5), 10, 120), ((6,), 4, 9),
                                          ((3, 4, 2), 1, 3), ((3, 4, 2), 1, 100)]:
        seen = np.zeros(out_spatial, int)
        for block in conv_batch_last._blocks(out_spatial, position, budget):
            seen[block] += 1
        assert (seen == 1).all(), (out_spatial, budget)


def test_output_is_a_batch_last_view_and_layers_keep_it():
    x = cg.tensor(np.random.default_rng(0).standard_normal((32, 1, 12, 12)).astype(np.float32))
    conv = cg.nn.Conv2d(1, 4, 3, padding=1)
    out = conv(x)
    assert out.shape == (32, 4, 12, 12)
    assert out.numpy().strides[0] == out.numpy().itemsize  # the batch axis is the fastest in memory
    pooled = F.max_pool2d(F.relu(out), 2)
    assert pooled.numpy().strides[0] == pooled.numpy().itemsize


def test_which_layers_take_the_batch_last_path():
    def memory(shape, batch_last):
        a = np.zeros(shape, np.float32)
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 0, -1)), -1, 0) if batch_last else a
    n, wide = conv_batch_last.MIN_BATCH, conv_batch_last.MAX_CHANNELS + 1
    assert conv_batch_last.eligible(memory((n, 1, 8, 8), False), 6, 1)        # narrow to narrow starts it
    assert conv_batch_last.eligible(memory((n, 6, 8, 8), True), 16, 1)        # and narrow inputs follow it
    assert not conv_batch_last.eligible(memory((n, 1, 8, 8), False), wide, 1)  # a widening stem does not
    assert not conv_batch_last.eligible(memory((n - 1, 1, 8, 8), False), 6, 1)
    assert not conv_batch_last.eligible(memory((n, wide, 8, 8), True), 6, 1)
    assert not conv_batch_last.eligible(memory((n, 4, 8, 8), True), 4, 2)
