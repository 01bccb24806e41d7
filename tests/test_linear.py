"""Dense layers: linear and bilinear against PyTorch, finite differences and a naive loop;
Linear/Bilinear/Flatten/Unflatten/Identity layers; error messages."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.nn as nn
import convgrad.nn.functional as F
from convgrad.errors import ConvgradError
from oracle import assert_close, check_against_torch, check_gradient

LINEAR_CASES = [((5, 4), 3), ((2, 3, 4), 6), ((4,), 2), ((2, 3, 2, 4), 1), ((1, 7), 5), ((0, 4), 3)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,out", LINEAR_CASES)
def test_linear_matches_torch(x_shape, out, bias, dtype):
    shapes = [x_shape, (out, x_shape[-1])] + ([(out,)] if bias else [])
    check_against_torch(F.linear, TF.linear, shapes, dtype=dtype, name="linear", seed=len(x_shape) + out)


def test_linear_on_non_contiguous_input_matches_torch():
    x = np.random.default_rng(0).standard_normal((4, 6, 3)).transpose(0, 2, 1)  # (4, 3, 6), strided
    w = np.random.default_rng(1).standard_normal((5, 6))
    b = np.random.default_rng(2).standard_normal(5)
    check_against_torch(F.linear, TF.linear, [x, w, b], dtype=np.float64, name="linear")
    x2 = np.random.default_rng(3).standard_normal((6, 8)).T  # (8, 6) Fortran-ordered
    check_against_torch(F.linear, TF.linear, [x2, w], dtype=np.float32, name="linear")


def test_linear_finite_differences():
    assert check_gradient(F.linear, [(3, 4), (2, 4), (2,)])
    assert check_gradient(F.linear, [(2, 2, 3), (4, 3)])


def test_linear_against_naive_loop():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)
    expected = np.zeros((3, 2))
    for n in range(3):
        for o in range(2):
            expected[n, o] = b[o] + sum(x[n, i] * w[o, i] for i in range(4))
    assert_close(F.linear(cg.tensor(x), cg.tensor(w), cg.tensor(b)).numpy(), expected, 1e-12, "linear")


def test_linear_is_one_graph_node_with_gemm_gradients():
    x = cg.randn(8, 5, requires_grad=True)
    w = cg.randn(3, 5, requires_grad=True)
    b = cg.randn(3, requires_grad=True)
    y = F.linear(x, w, b)
    assert y.grad_fn == "Linear"
    assert all(inp is not None and inp._node is None for inp in y._node.inputs)  # fed by leaves directly
    g = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    y.backward(g)
    np.testing.assert_allclose(x.grad.numpy(), g @ w.numpy(), rtol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), g.T @ x.numpy(), rtol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), g.sum(0), rtol=1e-5)
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape", [(5,), (2, 3)])
def test_bilinear_matches_torch(x_shape, bias, dtype):
    shapes = [x_shape + (4,), x_shape + (3,), (2, 4, 3)] + ([(2,)] if bias else [])
    check_against_torch(F.bilinear, TF.bilinear, shapes, dtype=dtype, name="bilinear")


def test_bilinear_finite_differences_and_definition():
    assert check_gradient(F.bilinear, [(3, 2), (3, 4), (2, 2, 4), (2,)])
    rng = np.random.default_rng(1)
    x1, x2, a = rng.standard_normal((2, 3)), rng.standard_normal((2, 2)), rng.standard_normal((4, 3, 2))
    expected = np.array([[x1[n] @ a[k] @ x2[n] for k in range(4)] for n in range(2)])
    assert_close(F.bilinear(cg.tensor(x1), cg.tensor(x2), cg.tensor(a)).numpy(), expected, 1e-12, "bilinear")


# ----------------------------------------------------------------------------------------------
# Layers
# ----------------------------------------------------------------------------------------------
def test_linear_layer_matches_torch_after_loading_its_weights():
    ref = torch.nn.Linear(400, 120)
    layer = nn.Linear(400, 120)
    assert list(layer.state_dict()) == list(ref.state_dict()) == ["weight", "bias"]
    layer.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((64, 400)).astype(np.float32)
    check_against_torch(layer, ref, [x])
    assert repr(layer) == repr(ref) == "Linear(in_features=400, out_features=120, bias=True)"
    assert repr(nn.Linear(3, 4, bias=False)) == repr(torch.nn.Linear(3, 4, bias=False))


def test_linear_default_init_is_pytorchs_uniform_bound():
    cg.manual_seed(0)
    layer = nn.Linear(256, 64)
    bound = 1 / math.sqrt(256)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert w.dtype == np.float32 and w.shape == (64, 256) and b.shape == (64,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.95 * bound  # fills the whole range
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound  # U(-a, a) has std a / sqrt(3)
    assert nn.Linear(3, 2, dtype=np.float64).weight.dtype == np.float64


def test_linear_without_bias_and_parameter_count():
    layer = nn.Linear(512 * 512, 64)
    assert sum(p.numel() for p in layer.parameters()) == (512 * 512 + 1) * 64  # the lecture's 16.8 M
    no_bias = nn.Linear(5, 3, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == ["weight"]
    x = cg.randn(2, 5)
    np.testing.assert_allclose(no_bias(x).numpy(), x.numpy() @ no_bias.weight.numpy().T, rtol=1e-6)


def test_bilinear_layer_matches_torch():
    ref = torch.nn.Bilinear(4, 3, 2)
    layer = nn.Bilinear(4, 3, 2)
    assert repr(layer) == repr(ref)
    layer.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x1 = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    x2 = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    check_against_torch(layer, ref, [x1, x2])
    assert np.abs(nn.Bilinear(9, 3, 2).weight.numpy()).max() <= 1 / 3


@pytest.mark.parametrize("start,end", [(1, -1), (0, -1), (2, 3), (1, 2), (-2, -1)])
def test_flatten_layer_matches_torch(start, end):
    layer, ref = nn.Flatten(start, end), torch.nn.Flatten(start, end)
    assert repr(layer) == repr(ref)
    check_against_torch(layer, ref, [(2, 3, 4, 5)], dtype=np.float64, name="flatten")


def test_unflatten_and_identity_layers():
    layer, ref = nn.Unflatten(1, (16, 5, 5)), torch.nn.Unflatten(1, (16, 5, 5))
    assert repr(layer) == repr(ref)
    check_against_torch(layer, ref, [(3, 400)], dtype=np.float64)
    check_against_torch(nn.Unflatten(-1, (2, -1)), torch.nn.Unflatten(-1, (2, -1)), [(3, 8)], dtype=np.float64)
    x = cg.randn(2, 3)
    assert nn.Identity(54, unused="x")(x) is x
    assert repr(nn.Identity()) == "Identity()"


def test_lenet_head_shapes_flow():
    head = nn.Sequential(nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))
    out = head(cg.randn(8, 16, 5, 5))
    assert out.shape == (8, 10)
    assert sum(p.numel() for p in head.parameters()) == 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10


@pytest.mark.parametrize("call,fragment", [
    (lambda: nn.Linear(400, 120)(cg.randn(64, 256)),
     "Linear(in_features=400, out_features=120): expected input with last dimension 400, got (64, 256)"),
    (lambda: nn.Linear(4, 2)(cg.randn(3, 4, dtype=np.float64)),
     "Linear(in_features=4, out_features=2): input has dtype float64 but the layer's weight is float32"),
    (lambda: F.linear(cg.randn(3, 5), cg.randn(2, 4)),
     "linear: expected input with last dimension 4 (weight is (2, 4)), got (3, 5)"),
    (lambda: F.linear(cg.randn(3, 4), cg.randn(2, 4), cg.randn(3)), "linear: expected bias of shape (2,), got (3,)"),
    (lambda: F.linear(cg.randn(3, 4), cg.randn(2, 2, 4)), "linear: expected a 2-D weight"),
    (lambda: F.linear(cg.tensor([[1, 2]]), cg.randn(2, 2)), "linear: expected a floating point input, got dtype int64"),
    (lambda: F.linear(np.zeros((2, 2)), cg.randn(2, 2)), "linear: expected input to be a convgrad Tensor"),
    (lambda: F.bilinear(cg.randn(3, 4), cg.randn(2, 3), cg.randn(2, 4, 3)),
     "bilinear: expected inputs of shapes (*, 4) and (*, 3) with equal leading dimensions, got (3, 4) and (2, 3)"),
    (lambda: nn.Bilinear(4, 3, 2)(cg.randn(5, 4), cg.randn(5, 2)), "expected input2 with last dimension 3, got (5, 2)"),
    (lambda: nn.Linear(-1, 3), "Linear: in_features must be a non-negative integer, got -1"),
    (lambda: nn.Linear(2.5, 3), "Linear: in_features must be a non-negative integer, got 2.5"),
    (lambda: nn.Flatten(2, 5)(cg.randn(2, 3, 4)), "Flatten(start_dim=2, end_dim=5): dimensions out of range"),
    (lambda: nn.Unflatten(1, (16, 5, 5))(cg.randn(3, 256)),
     "Unflatten(dim=1, unflattened_size=(16, 5, 5)): dimension 1 of the input has size 256"),
])
def test_bad_inputs_raise_clear_errors(call, fragment):
    with pytest.raises(ConvgradError) as info:
        call()
    assert fragment in str(info.value)
