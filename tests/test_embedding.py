"""nn.Embedding / F.embedding (padding_idx, max_norm, norm_type, scale_grad_by_freq,
from_pretrained) and F.one_hot: PyTorch parity over randomized tables and index shapes,
forward and weight gradient in float32/float64; finite differences; errors."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.nn as nn
import convgrad.nn.functional as F
from convgrad.errors import ArgumentError, DTypeError, ShapeError
from oracle import check_against_torch, check_gradient

DTYPES = [np.float32, np.float64]
OPTIONS = list(itertools.product([None, 0, -1, 3], [None, 0.8, 1.5], [2.0, 1.0], [False, True]))
RNG = np.random.default_rng(0)
CASES = [(pi, mn, nt, sg, [(), (5,), (3, 4), (2, 3, 2)][i % 4], int(RNG.integers(4, 9)), int(RNG.integers(1, 5)))
         for i, (pi, mn, nt, sg) in enumerate(OPTIONS)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx,max_norm,norm_type,scale_grad_by_freq,index_shape,rows,dim", CASES)
def test_embedding_matches_torch(padding_idx, max_norm, norm_type, scale_grad_by_freq, index_shape, rows, dim,
                                 dtype):
    idx = np.random.default_rng(rows * 10 + dim).integers(0, rows, index_shape)
    if idx.size > 2:
        idx.reshape(-1)[:2] = idx.reshape(-1)[0]  # a repeated index: gradients accumulate
    kw = dict(padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq)
    check_against_torch(lambda w: F.embedding(cg.tensor(idx), w, **kw),
                        lambda w: TF.embedding(torch.tensor(idx), w, **kw), [(rows, dim)], dtype=dtype,
                        name="embedding")


def test_max_norm_renormalises_the_table_in_place_like_torch():
    w = np.random.default_rng(1).standard_normal((6, 4)) * 3
    idx = np.array([[0, 2], [2, 5]])
    cw, tw = cg.tensor(w.copy()), torch.tensor(w.copy())
    F.embedding(cg.tensor(idx), cw, max_norm=1.0)
    TF.embedding(torch.tensor(idx), tw, max_norm=1.0)
    np.testing.assert_allclose(cw.numpy(), tw.numpy(), rtol=1e-12)
    assert np.allclose(np.linalg.norm(cw.numpy()[[0, 2, 5]], axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(cw.numpy()[[1, 3, 4]], w[[1, 3, 4]])  # rows not looked up stay


def test_embedding_gradient_by_finite_differences():
    """The plain lookup's true gradient (padding_idx and scale_grad_by_freq change it on purpose:
    they are compared with PyTorch above)."""
    idx = cg.tensor(np.array([[1, 3, 1], [0, 2, 3]]))
    assert check_gradient(lambda w: F.embedding(idx, w), [(5, 3)])


def test_embedding_layer_matches_torch_and_trains():
    torch.manual_seed(0)
    ref = torch.nn.Embedding(7, 3, padding_idx=-2).double()
    ours = nn.Embedding(7, 3, padding_idx=-2, dtype=np.float64)
    assert ours.padding_idx == ref.padding_idx == 5 and repr(ours) == repr(ref)
    assert np.all(ours.weight.numpy()[5] == 0) and ours.weight.numpy().std() > 0.3  # N(0, 1), padding row zero
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    idx = np.array([[5, 1, 1], [6, 0, 5]])
    check_against_torch(lambda w: F.embedding(cg.tensor(idx), w, padding_idx=5),
                        lambda w: TF.embedding(torch.tensor(idx), w, padding_idx=5), [ours.weight.numpy()],
                        dtype=np.float64, name="Embedding")
    out = ours(cg.tensor(idx))
    out.sum().backward()
    assert out.shape == (2, 3, 3) and np.all(ours.weight.grad.numpy()[5] == 0)
    np.testing.assert_array_equal(ours.weight.grad.numpy()[1], [2, 2, 2])


def test_from_pretrained():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(cg.tensor(table), padding_idx=1)
    ref = torch.nn.Embedding.from_pretrained(torch.tensor(table), padding_idx=1)
    assert not frozen.weight.requires_grad and repr(frozen) == repr(ref)
    np.testing.assert_array_equal(frozen(cg.tensor([1, 3])).numpy(), ref(torch.tensor([1, 3])).numpy())
    trainable = nn.Embedding.from_pretrained(table, freeze=False)
    assert trainable.weight.requires_grad
    table[0, 0] = 99  # a copy: the layer does not share the caller's array
    assert trainable.weight.numpy()[0, 0] == 0


@pytest.mark.parametrize("shape,num_classes", [((5,), -1), ((2, 3), 7), ((), 4), ((0,), 3), ((2, 2, 2), -1)])
def test_one_hot_matches_torch(shape, num_classes):
    idx = np.random.default_rng(2).integers(0, 4, shape)
    if num_classes == -1 and idx.size == 0:
        return
    ours = F.one_hot(cg.tensor(idx), num_classes)
    ref = TF.one_hot(torch.tensor(idx), num_classes)
    assert ours.dtype == np.int64 and not ours.requires_grad
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())


@pytest.mark.parametrize("call,error,words", [
    (lambda: F.embedding(cg.tensor([0, 9]), cg.randn(5, 2)), ArgumentError, ["index 9", "5 rows"]),
    (lambda: F.embedding(cg.tensor([0.5]), cg.randn(5, 2)), DTypeError, ["integer", "float"]),
    (lambda: F.embedding(cg.tensor([0]), cg.randn(5)), ShapeError, ["2-D", "(5,)"]),
    (lambda: nn.Embedding(5, 2, padding_idx=5), ArgumentError, ["padding_idx", "5"]),
    (lambda: F.one_hot(cg.tensor([0, 3]), 3), ArgumentError, ["num_classes=3", "3"]),
    (lambda: F.one_hot(cg.tensor([-1, 0])), ArgumentError, ["non-negative", "-1"]),
    (lambda: F.one_hot(cg.tensor([1.0])), DTypeError, ["integer"]),
])
def test_embedding_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} not in {str(info.value)!r}"
