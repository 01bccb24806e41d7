"""convgrad.inspect.saliency: the input gradient of one class score, against PyTorch and finite differences."""
import numpy as np
import pytest
import torch

import convgrad as cg
from convgrad import nn
from convgrad.errors import ArgumentError, ShapeError
from convgrad.inspect import numerical_grad
from convgrad.inspect.saliency import input_gradient, saliency_map


def small_net(dtype):
    cg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 5))
    return net.to(dtype) if dtype == np.float64 else net


def torch_twin(net):
    t = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                            torch.nn.Flatten(), torch.nn.Linear(4 * 3 * 3, 5)).double()
    t.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float64)) for k, v in net.state_dict().items()})
    return t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("target", [None, 0, 3])
def test_input_gradient_matches_torch(dtype, target):
    net = small_net(dtype)
    x = np.random.default_rng(1).standard_normal((2, 6, 6)).astype(dtype)
    grad, k = input_gradient(net, x, target)
    xt = torch.from_numpy(x.astype(np.float64))[None].requires_grad_()
    scores = torch_twin(net)(xt)
    expected_k = int(scores.argmax()) if target is None else target
    scores[0, expected_k].backward()
    assert k == expected_k and grad.shape == x.shape and grad.dtype == dtype
    tol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(grad, xt.grad[0].numpy(), atol=tol * max(1, np.abs(grad).max()))


def test_input_gradient_finite_differences():
    net = small_net(np.float64)
    x = np.random.default_rng(2).standard_normal((1, 2, 6, 6))
    grad, k = input_gradient(net, x, 2)
    direction = np.zeros((1, 5))
    direction[0, 2] = 1
    numeric = numerical_grad(lambda t: net(t), [cg.Tensor(x.copy())], 0, direction)
    np.testing.assert_allclose(grad, numeric[0], atol=1e-6)


def test_saliency_map_scale_and_mode():
    net = small_net(np.float32)
    net.train()
    x = np.random.default_rng(3).standard_normal((2, 6, 6)).astype(np.float32)
    sal, k = saliency_map(net, x)
    grad, _ = input_gradient(net, x, k)
    assert sal.shape == (6, 6) and sal.max() == pytest.approx(1.0)
    np.testing.assert_allclose(sal, np.abs(grad).max(axis=0) / np.abs(grad).max(), rtol=1e-6)
    assert net.training  # the model's mode is given back


def test_saliency_errors():
    net = small_net(np.float32)
    with pytest.raises(ShapeError, match="one input"):
        input_gradient(net, np.zeros((2, 2, 6, 6), np.float32))
    with pytest.raises(ArgumentError, match="target must be a class index"):
        input_gradient(net, np.zeros((2, 6, 6), np.float32), target=5)
