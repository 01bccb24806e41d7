"""The autodiff core: arithmetic with broadcasting, reductions, shapes, indexing, the graph."""
import numpy as np
import pytest
import torch

import convgrad as cg
from oracle import check_against_torch, check_gradient

BINARY = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / (b * b + 1)),
    ("matmul", lambda a, b: a @ b.transpose(-1, -2)),
]
SHAPE_PAIRS = [((3, 4), (3, 4)), ((2, 3, 4), (3, 4)), ((2, 1, 4), (1, 3, 4)), ((4,), (3, 4))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", SHAPE_PAIRS)
@pytest.mark.parametrize("name,fn", BINARY)
def test_binary_ops_match_torch(name, fn, shapes, dtype):
    if name == "matmul" and shapes[0] == (4,):
        shapes = ((3, 4), (2, 4))
    check_against_torch(fn, fn, list(shapes), dtype=dtype, name=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", [
    lambda x: x.exp(), lambda x: (x * x + 1).log(), lambda x: (x * x + 1).sqrt(), lambda x: x.abs(),
    lambda x: x.clamp(-0.5, 0.7), lambda x: x ** 3, lambda x: 2 ** x, lambda x: x.sin() * x.cos(),
    lambda x: x.tanh(), lambda x: x.sigmoid(), lambda x: x.relu(), lambda x: x.softmax(1),
    lambda x: x.log_softmax(1), lambda x: 1 / (x * x + 1), lambda x: 3 - x, lambda x: -x,
])
def test_unary_ops_match_torch(fn, dtype):
    check_against_torch(fn, fn, [(3, 5)], dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", [
    lambda x: x.sum(), lambda x: x.sum(1), lambda x: x.sum((0, 2), keepdim=True), lambda x: x.mean(),
    lambda x: x.mean(-1, keepdim=True), lambda x: x.amax(1), lambda x: x.amin((0, 1)),
    lambda x: x.max(1)[0], lambda x: x.min(2, keepdim=True)[0], lambda x: x.max(),
    lambda x: x.var(1), lambda x: x.var(1, unbiased=False), lambda x: x.std(0), lambda x: x.logsumexp(2),
])
def test_reductions_match_torch(fn, dtype):
    check_against_torch(fn, fn, [(2, 3, 4)], dtype=dtype)


@pytest.mark.parametrize("fn", [
    lambda x: x.reshape(6, 4), lambda x: x.view(-1), lambda x: x.flatten(1), lambda x: x.permute(2, 0, 1),
    lambda x: x.transpose(0, 2), lambda x: x.unsqueeze(1).squeeze(1), lambda x: x[1], lambda x: x[:, 1:, ::2],
    lambda x: x[..., [0, 2, 2]], lambda x: x[[0, 1, 1]], lambda x: x.flip(1), lambda x: x.T,
    lambda x: x.unsqueeze(0).expand(3, 2, 3, 4), lambda x: x.split(1, 1)[1], lambda x: x.chunk(2, 2)[0],
])
def test_shape_ops_match_torch(fn):
    check_against_torch(fn, fn, [(2, 3, 4)], dtype=np.float64)


def test_cat_and_stack_match_torch():
    check_against_torch(lambda a, b: cg.cat([a, b], 1), lambda a, b: torch.cat([a, b], 1), [(2, 3), (2, 5)])
    check_against_torch(lambda a, b: cg.stack([a, b], 2), lambda a, b: torch.stack([a, b], 2), [(2, 3), (2, 3)])


def test_boolean_mask_indexing_gradient():
    x = np.arange(12.0).reshape(3, 4) - 5
    check_against_torch(lambda a: a[a > 0] * 2, lambda a: a[a > 0] * 2, [x], dtype=np.float64)


def test_finite_difference_on_composite_expression():
    check_gradient(lambda x, w: ((x @ w).tanh() * x.sum(1, keepdim=True)).logsumexp(1), [(3, 4), (4, 5)])


def test_gradient_accumulates_when_a_tensor_is_used_twice():
    x = cg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x + x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1, 2, 3]) + 1)
    (x * 2).sum().backward()  # a second backward adds to .grad, as in PyTorch
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1, 2, 3]) + 3)


def test_deep_graph_of_ten_thousand_nodes_backpropagates_iteratively():
    x = cg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(12000):
        y = y * 1.0001
    y.backward()
    assert abs(x.grad.item() - 1.0001 ** 12000) < 1e-2


def test_no_grad_records_nothing_and_detach_cuts_the_graph():
    x = cg.randn(3, requires_grad=True)
    with cg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    z = (x.detach() * 2).sum()
    assert not z.requires_grad


def test_default_dtypes_follow_torch():
    assert cg.tensor([1.0, 2.0]).dtype == np.float32
    assert cg.tensor([1, 2]).dtype == np.int64
    assert cg.tensor(np.zeros(2)).dtype == np.float64
    assert (cg.tensor([1.0]) * 2.5).dtype == np.float32
    assert (cg.tensor([1.0]) + cg.tensor(np.ones(1))).dtype == np.float64


def test_backward_twice_without_retain_graph_raises():
    x = cg.randn(3, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward_and_hooks_see_gradients():
    x = cg.randn(3, requires_grad=True)
    seen = []
    h = x * 3
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = h.sum()
    y.backward(retain_graph=True)
    y.backward()
    assert len(seen) == 2 and np.allclose(x.grad.numpy(), 6)


def test_manual_seed_makes_random_tensors_reproducible():
    cg.manual_seed(3)
    a = cg.randn(4).numpy().copy()
    cg.manual_seed(3)
    assert np.array_equal(a, cg.randn(4).numpy())
