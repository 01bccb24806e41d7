"""Padding layers (ZeroPad, ConstantPad, ReflectionPad, ReplicationPad, CircularPad; 1d/2d/3d):
PyTorch parity over randomized paddings and shapes, batched and unbatched, forward and backward in
float32/float64; finite differences; reprs and state; bad arguments."""
import numpy as np
import pytest
import torch

import convgrad.nn as nn
from convgrad.errors import ArgumentError, ShapeError
from oracle import check_against_torch, check_gradient

DTYPES = [np.float32, np.float64]
KINDS = ["ZeroPad", "ConstantPad", "ReflectionPad", "ReplicationPad", "CircularPad"]


def _cases(seed, per_layer=4):
    rng = np.random.default_rng(seed)
    cases = []
    for kind in KINDS:
        for nd in (1, 2, 3):
            for i in range(per_layer):
                spatial = tuple(int(s) for s in rng.integers(2, 6, nd))
                batched = i % 2 == 0
                shape = ((int(rng.integers(1, 3)),) if batched else ()) + (int(rng.integers(1, 4)),) + spatial
                # reflect needs padding < size, circular <= size; negative (cropping) for constant modes only
                pads = []
                for n in reversed(spatial):
                    hi = n - 1 if kind == "ReflectionPad" else n
                    lo = -1 if kind in ("ZeroPad", "ConstantPad") and n > 2 else 0
                    pads += [int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))]
                padding = int(rng.integers(0, min(spatial))) if i == 3 else tuple(pads)
                cases.append((f"{kind}{nd}d", shape, padding))
    return cases


CASES = _cases(0)


def _layers(name, padding):
    args = (padding, 1.25) if name.startswith("ConstantPad") else (padding,)
    return getattr(nn, name)(*args), getattr(torch.nn, name)(*args)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,shape,padding", CASES, ids=[f"{n}-{s}-{p}" for n, s, p in CASES])
def test_padding_layer_matches_torch(name, shape, padding, dtype):
    ours, ref = _layers(name, padding)
    check_against_torch(lambda x: ours(x), lambda x: ref(x), [shape], dtype=dtype, name=name)


@pytest.mark.parametrize("name", [f"{k}{d}d" for k in KINDS for d in (1, 2, 3)])
def test_padding_layer_gradient_by_finite_differences_and_repr(name):
    nd = int(name[-2])
    ours, ref = _layers(name, (1, 2, 2, 1, 1, 0)[:2 * nd])
    assert check_gradient(lambda x: ours(x), [(1, 2) + (3,) * nd])
    assert repr(ours) == repr(ref)
    assert ours.state_dict() == {} and list(ours.parameters()) == []


def test_reflection_pad_by_hand():
    import convgrad as cg
    x = cg.tensor(np.array([[[1.0, 2.0, 3.0]]]))
    assert nn.ReflectionPad1d(2)(x).numpy().tolist() == [[[3, 2, 1, 2, 3, 2, 1]]]
    assert nn.ReplicationPad1d((1, 2))(x).numpy().tolist() == [[[1, 1, 2, 3, 3, 3]]]
    assert nn.CircularPad1d(2)(x).numpy().tolist() == [[[2, 3, 1, 2, 3, 1, 2]]]
    assert nn.ZeroPad1d((0, 1))(x).numpy().tolist() == [[[1, 2, 3, 0]]]


@pytest.mark.parametrize("call,error,words", [
    (lambda: nn.ZeroPad2d((1, 2, 3)), ArgumentError, ["ZeroPad2d", "4 ints", "(1, 2, 3)"]),
    (lambda: nn.ReflectionPad3d((1, 1)), ArgumentError, ["ReflectionPad3d", "6 ints"]),
    (lambda: nn.ReflectionPad1d(3)(__import__("convgrad").randn(1, 2, 3)), ArgumentError, ["reflect", "smaller"]),
    (lambda: nn.ReplicationPad2d(1)(__import__("convgrad").randn(5, 5)), ShapeError, ["replicate", "(5, 5)"]),
])
def test_padding_layer_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"
