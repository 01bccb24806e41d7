"""F.pad: constant / reflect / replicate / circular, PyTorch's pad-tuple order, and its backward."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from convgrad.functional import ArgumentError, ShapeError
from oracle import assert_close, check_against_torch, check_gradient

CASES = [
    ("constant", (2, 3, 5), (1, 2)),
    ("constant", (2, 3, 4, 5), (0, 1, 2, 0)),
    ("constant", (2, 3, 4, 5), (1, -2, -1, 2, 1, 1)),  # negative entries crop
    ("constant", (3, 4), (2, 2, 1, 3)),
    ("reflect", (2, 3, 6), (2, 5)),
    ("reflect", (2, 3, 5, 6), (1, 2, 4, 0)),
    ("reflect", (3, 5, 6), (5, 5, 1, 1)),
    ("reflect", (1, 2, 3, 4, 5), (1, 1, 2, 3, 2, 0)),
    ("replicate", (2, 3, 4), (3, 1)),
    ("replicate", (2, 2, 4, 5), (2, 3, 1, 4)),
    ("replicate", (1, 2, 3, 3, 2), (1, 0, 2, 2, 0, 1)),
    ("circular", (2, 3, 5), (2, 5)),
    ("circular", (2, 2, 4, 5), (1, 3, 4, 2)),
    ("circular", (1, 2, 3, 4, 3), (1, 2, 3, 0, 2, 1)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode,shape,pad", CASES)
def test_pad_matches_torch(mode, shape, pad, dtype):
    check_against_torch(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode), [shape],
                        dtype=dtype, name="pad")


def test_constant_value():
    check_against_torch(lambda x: F.pad(x, (1, 2, 0, 1), value=-3.5), lambda x: TF.pad(x, (1, 2, 0, 1), value=-3.5),
                        [(2, 3, 4)], dtype=np.float64, name="pad")


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_gradient_by_finite_differences(mode):
    assert check_gradient(lambda x: F.pad(x, (2, 1, 1, 2), mode=mode), [(1, 2, 3, 4)])


def test_pad_by_definition():
    """Each mode on a 1-D row, written out by hand from the definition."""
    x = cg.tensor(np.array([[[1.0, 2.0, 3.0, 4.0]]]))
    assert F.pad(x, (2, 1), mode="reflect").numpy().tolist() == [[[3, 2, 1, 2, 3, 4, 3]]]
    assert F.pad(x, (2, 1), mode="replicate").numpy().tolist() == [[[1, 1, 1, 2, 3, 4, 4]]]
    assert F.pad(x, (2, 1), mode="circular").numpy().tolist() == [[[3, 4, 1, 2, 3, 4, 1]]]
    assert F.pad(x, (2, 1), value=9).numpy().tolist() == [[[9, 9, 1, 2, 3, 4, 9]]]
    # reflect's backward folds the padding gradient onto the mirrored inputs
    x.requires_grad = True
    F.pad(x, (2, 1), mode="reflect").sum().backward()
    assert x.grad.numpy().tolist() == [[[1, 2, 3, 1]]]  # x1 read twice, x2 three times


def test_pad_of_channels_last_view_and_dtype():
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 3)).astype(np.float32).transpose(0, 3, 1, 2)
    for mode in ("constant", "reflect", "replicate", "circular"):
        out = F.pad(cg.tensor(x), (1, 2, 2, 1), mode=mode)
        assert out.dtype == np.float32
        assert_close(out.numpy(), TF.pad(torch.tensor(x), (1, 2, 2, 1), mode=mode).numpy(), 1e-6, mode)


@pytest.mark.parametrize("call,error,pieces", [
    (lambda: F.pad(cg.zeros(2, 3, 4), (1, 2, 3)), ArgumentError, ["pad", "even", "(1, 2, 3)"]),
    (lambda: F.pad(cg.zeros(2, 3, 4), (1, 1), mode="mirror"), ArgumentError, ["pad", "mirror"]),
    (lambda: F.pad(cg.zeros(2, 3, 4), (4, 0), mode="reflect"), ArgumentError, ["pad", "reflect", "(4, 0)", "size 4"]),
    (lambda: F.pad(cg.zeros(2, 3, 4), (5, 0), mode="circular"), ArgumentError, ["pad", "circular", "size 4"]),
    (lambda: F.pad(cg.zeros(4), (1, 1, 1, 1), value=0), ShapeError, ["pad", "2 dimensions", "shape (4,)"]),
    (lambda: F.pad(cg.zeros(2, 3, 4), (1, 1, 1, 1, 1, 1), mode="reflect"), ShapeError, ["pad", "reflect", "(2, 3, 4)"]),
    (lambda: F.pad(cg.zeros(2, 3, 4), (1, 1), mode="reflect", value=2), ArgumentError, ["pad", "value"]),
    (lambda: F.pad(cg.zeros(2, 3, 4), (-3, -2)), ShapeError, ["pad", "negative"]),
])
def test_pad_errors(call, error, pieces):
    with pytest.raises(error) as info:
        call()
    for piece in pieces:
        assert piece in str(info.value), (piece, str(info.value))
