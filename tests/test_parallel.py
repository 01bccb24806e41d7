"""Work split across threads (kernels/parallel.py): the pieces must add up to the whole."""
import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.functional as F
from convgrad.kernels import batch_norm, parallel
from convgrad.kernels.blas import blas_threads
from oracle import assert_close, check_against_torch


@pytest.fixture(params=[1 << 16, 7])
def always_split(monkeypatch, request):
    """Split every element-wise op and batch norm, however small, over two workers (in two
    pieces, or in pieces of 7 elements; batch norm in pieces of 64 rows, or of 128)."""
    monkeypatch.setattr(parallel, "ELEMENTWISE_MIN_SIZE", 0)
    monkeypatch.setattr(parallel, "PIECE_ELEMENTS", request.param)
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    monkeypatch.setattr(batch_norm, "PIECE_ELEMENTS", 7 if request.param == 7 else 200)
    monkeypatch.setattr(batch_norm, "workers", lambda: 2)
    monkeypatch.setattr(batch_norm, "PARALLEL_MIN_SIZE", 0)


LAYOUTS = {
    "c": lambda a: a,
    "channels_last": lambda a: np.ascontiguousarray(np.moveaxis(a, 1, -1)).transpose(0, 3, 1, 2),
    "batch_last": lambda a: np.ascontiguousarray(np.moveaxis(a, 0, -1)).transpose(3, 0, 1, 2),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("other_shape", [(), (5, 1, 1), (1, 5, 1, 1), (3, 5, 4, 7), (7,), (1, 1, 4, 1)])
def test_elementwise_pieces_equal_one_call(layout, other_shape, always_split):
    rng = np.random.default_rng(0)
    x = LAYOUTS[layout](rng.standard_normal((3, 5, 4, 7)))
    other = rng.standard_normal(other_shape)
    out = parallel.elementwise(np.multiply, np.empty_like(x), x, other)
    np.testing.assert_array_equal(out, x * other)


def test_elementwise_runs_in_the_caller_with_one_thread(monkeypatch):
    monkeypatch.setattr(parallel, "ELEMENTWISE_MIN_SIZE", 0)
    x = np.arange(12.0).reshape(3, 4)
    with blas_threads(1):
        assert parallel.workers() == 1 or parallel.get_blas_threads() is None
        np.testing.assert_array_equal(parallel.elementwise(np.add, np.empty_like(x), x, 1.0), x + 1)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_relu_in_pieces_matches_torch(layout, always_split):
    check_against_torch(F.relu, torch.relu, [LAYOUTS[layout](np.random.default_rng(1).standard_normal((4, 3, 5, 6)))],
                        dtype=np.float64)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_batchnorm_inference_in_pieces_matches_torch(layout, always_split):
    rng = np.random.default_rng(2)
    theirs = torch.nn.BatchNorm2d(3).double().eval()
    with torch.no_grad():
        theirs.running_mean.copy_(torch.tensor(rng.standard_normal(3)))
        theirs.running_var.copy_(torch.tensor(rng.random(3) + 0.5))
        theirs.weight.copy_(torch.tensor(rng.standard_normal(3)))
    ours = cg.nn.BatchNorm2d(3).double()
    ours.load_state_dict(theirs.state_dict())
    ours.eval()
    x = rng.standard_normal((4, 3, 5, 6))
    with cg.no_grad():
        out = ours(cg.tensor(LAYOUTS[layout](x)))
    with torch.no_grad():
        ref = theirs(torch.tensor(x))
    assert_close(out.numpy(), ref.numpy(), 1e-12)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_batchnorm_training_in_pieces_matches_torch(layout, always_split):
    shape = (10, 3, 7, 5)  # 350 rows: several pieces, each a wide block and a tail
    x = LAYOUTS[layout](np.random.default_rng(4).standard_normal(shape))
    check_against_torch(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                        lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True),
                        [x, (3,), (3,)], dtype=np.float64)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("options", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_max_pool_inference_in_pieces_matches_torch(layout, options, always_split):
    x = np.random.default_rng(5).standard_normal((5, 3, 9, 8))
    with cg.no_grad():
        out = F.max_pool2d(cg.tensor(LAYOUTS[layout](x)), **options)
    assert_close(out.numpy(), torch.nn.functional.max_pool2d(torch.tensor(x), **options).numpy(), 1e-12)


def test_pieces_inside_a_piece_run_in_order(monkeypatch):
    monkeypatch.setattr(parallel, "workers", lambda: 2)
    nested = parallel.run_pieces(lambda i: parallel.run_pieces(lambda j: (i, j), range(3)), range(4))
    assert nested == [[(i, j) for j in range(3)] for i in range(4)]


def test_run_pieces_keeps_order_and_raises():
    assert parallel.run_pieces(lambda i: i * i, range(7)) == [i * i for i in range(7)]

    def boom(i):
        if i == 3:
            raise ValueError("piece 3")
        return i
    with pytest.raises(ValueError, match="piece 3"):
        parallel.run_pieces(boom, range(5))
