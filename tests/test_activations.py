"""Activations: PyTorch parity (forward and gradients, float32/float64), finite differences,
references written from the definitions, extreme inputs, layers and error messages."""
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

# (parity-table name, convgrad function, torch function) for one input tensor
UNARY = [
    ("relu", F.relu, TF.relu),
    ("relu6", F.relu6, TF.relu6),
    ("leaky_relu", F.leaky_relu, TF.leaky_relu),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    ("leaky_relu", lambda x: F.leaky_relu(x, negative_slope=-1.5), lambda x: TF.leaky_relu(x, negative_slope=-1.5)),
    ("elu", F.elu, TF.elu),
    ("elu", lambda x: F.elu(x, alpha=0.3), lambda x: TF.elu(x, alpha=0.3)),
    ("selu", F.selu, TF.selu),
    ("celu", F.celu, TF.celu),
    ("celu", lambda x: F.celu(x, alpha=2.5), lambda x: TF.celu(x, alpha=2.5)),
    ("gelu", F.gelu, TF.gelu),
    ("gelu", lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    ("silu", F.silu, TF.silu),
    ("mish", F.mish, TF.mish),
    ("softplus", F.softplus, TF.softplus),
    ("softplus", lambda x: F.softplus(x, beta=2.0, threshold=3.0), lambda x: TF.softplus(x, beta=2.0, threshold=3.0)),
    ("softplus", lambda x: F.softplus(x, beta=0.5), lambda x: TF.softplus(x, beta=0.5)),
    ("hardtanh", F.hardtanh, TF.hardtanh),
    ("hardtanh", lambda x: F.hardtanh(x, -2.0, 0.5), lambda x: TF.hardtanh(x, -2.0, 0.5)),
    ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid),
    ("hardswish", F.hardswish, TF.hardswish),
    ("softsign", F.softsign, TF.softsign),
    ("sigmoid", F.sigmoid, torch.sigmoid),
    ("tanh", F.tanh, torch.tanh),
    ("logsigmoid", F.logsigmoid, TF.logsigmoid),
    ("threshold", lambda x: F.threshold(x, 0.5, -2.0), lambda x: TF.threshold(x, 0.5, -2.0)),
    ("hardshrink", F.hardshrink, TF.hardshrink),
    ("hardshrink", lambda x: F.hardshrink(x, 1.5), lambda x: TF.hardshrink(x, 1.5)),
    ("softshrink", F.softshrink, TF.softshrink),
    ("softshrink", lambda x: F.softshrink(x, 2.0), lambda x: TF.softshrink(x, 2.0)),
    ("tanhshrink", F.tanhshrink, TF.tanhshrink),
]

SOFTMAX = [
    ("softmax", F.softmax, TF.softmax),
    ("log_softmax", F.log_softmax, TF.log_softmax),
    ("softmin", F.softmin, TF.softmin),
]

SHAPES = [(7,), (3, 5), (2, 3, 4, 5)]


def _spread(shape, dtype, seed):
    """Normal samples scaled by 3, so both sides of every kink (+-3 for hardswish) are hit."""
    return (3 * np.random.default_rng(seed).standard_normal(shape)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,fn,tfn", UNARY, ids=[f"{u[0]}-{i}" for i, u in enumerate(UNARY)])
def test_activation_matches_torch(name, fn, tfn, dtype):
    # PyTorch's hardsigmoid backward multiplies by the float32 constant 1.0f/6.0f even in float64
    # (relative error 3e-9); convgrad uses the exact 1/6, which the finite-difference test checks.
    rtol = 1e-7 if name == "hardsigmoid" and dtype == np.float64 else None
    for i, shape in enumerate(SHAPES):
        check_against_torch(fn, tfn, [_spread(shape, dtype, seed=i)], dtype=dtype, name=name, rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,fn,tfn", SOFTMAX)
def test_softmax_family_matches_torch(name, fn, tfn, dtype):
    for shape, dim in [((7,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), -1), ((2, 3, 4), 1), ((2, 3, 4, 2), 2)]:
        x = _spread(shape, dtype, seed=len(shape) + dim)
        check_against_torch(lambda t: fn(t, dim), lambda t: tfn(t, dim), [x], dtype=dtype, name=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_glu_matches_torch(dtype):
    for shape, dim in [((4, 6), -1), ((4, 6), 0), ((2, 4, 3), 1), ((8,), 0)]:
        x = _spread(shape, dtype, seed=dim + 5)
        check_against_torch(lambda t: F.glu(t, dim), lambda t: TF.glu(t, dim), [x], dtype=dtype, name="glu")
    assert check_gradient(lambda t: F.glu(t, 1), [(2, 4, 3)])


def test_prelu_matches_torch_with_per_channel_and_shared_weights():
    for dtype in (np.float32, np.float64):
        for shape, n in [((4, 3, 5, 5), 3), ((4, 3, 5, 5), 1), ((6, 4), 4), ((5,), 1), ((2, 3, 4), 3)]:
            x = _spread(shape, dtype, seed=n)
            w = np.random.default_rng(7).uniform(-0.5, 0.5, n).astype(dtype)
            check_against_torch(F.prelu, TF.prelu, [x, w], dtype=dtype, name="prelu")


@pytest.mark.parametrize("name,fn,tfn", UNARY + [("prelu", lambda x: F.prelu(x, cg.tensor([0.3, -0.2, 0.1], dtype=np.float64)), None)],
                         ids=[f"{u[0]}-{i}" for i, u in enumerate(UNARY)] + ["prelu"])
def test_activation_finite_differences(name, fn, tfn):
    x = _spread((2, 3, 2), np.float64, seed=3)
    for kink in (0.0, 0.5, 1.5, 2.0, 3.0):  # keep away from the kinks, where finite differences mean nothing
        x[np.abs(np.abs(x) - kink) < 1e-3] += 0.01
    assert check_gradient(fn, [x])


def test_softmax_family_finite_differences():
    for fn in (F.softmax, F.log_softmax, F.softmin):
        assert check_gradient(lambda t: fn(t, 1), [(3, 4, 2)])
    assert check_gradient(F.prelu, [(3, 2, 4), np.array([0.2, -0.4])])


# ----------------------------------------------------------------------------------------------
# References written from the definitions, element by element
# ----------------------------------------------------------------------------------------------
def test_elementwise_definitions():
    x = np.linspace(-6, 6, 49)
    t = cg.tensor(x)
    defs = {
        "relu": (F.relu, lambda v: max(v, 0.0)),
        "gelu": (F.gelu, lambda v: v * 0.5 * (1 + math.erf(v / math.sqrt(2)))),
        "sigmoid": (F.sigmoid, lambda v: 1 / (1 + math.exp(-v))),
        "softplus": (F.softplus, lambda v: math.log(1 + math.exp(v))),
        "elu": (F.elu, lambda v: v if v > 0 else math.exp(v) - 1),
        "selu": (F.selu, lambda v: 1.0507009873554805 * (v if v > 0 else 1.6732632423543772 * (math.exp(v) - 1))),
        "silu": (F.silu, lambda v: v / (1 + math.exp(-v))),
        "mish": (F.mish, lambda v: v * math.tanh(math.log(1 + math.exp(v)))),
        "hardswish": (F.hardswish, lambda v: v * min(max(v + 3, 0), 6) / 6),
        "hardsigmoid": (F.hardsigmoid, lambda v: min(max(v / 6 + 0.5, 0), 1)),
        "softsign": (F.softsign, lambda v: v / (1 + abs(v))),
        "logsigmoid": (F.logsigmoid, lambda v: math.log(1 / (1 + math.exp(-v)))),
    }
    for name, (fn, ref) in defs.items():
        expected = np.array([ref(v) for v in x])
        assert_close(fn(t).numpy(), expected, 1e-12, name)


def test_softmax_definition_and_rows_sum_to_one():
    x = np.random.default_rng(0).standard_normal((4, 6))
    out = F.softmax(cg.tensor(x), dim=1).numpy()
    for i in range(4):
        e = [math.exp(v) for v in x[i]]
        assert_close(out[i], np.array(e) / sum(e), 1e-12, "softmax row")
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(cg.tensor(x), dim=1).numpy(), np.log(out), rtol=1e-12)
    np.testing.assert_allclose(F.softmin(cg.tensor(x), dim=1).numpy(),
                               F.softmax(cg.tensor(-x), dim=1).numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# Numerical stability: +-1e4 gives finite values and gradients where PyTorch does
# ----------------------------------------------------------------------------------------------
EXTREME = np.array([-1e4, -1000.0, -88.0, -30.0, -1.0, 0.5, 30.0, 88.0, 1000.0, 1e4])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,fn,tfn", [u for u in UNARY if u[0] not in ("relu",)] + [
    ("softmax", lambda x: F.softmax(x, 0), lambda x: TF.softmax(x, 0)),
    ("log_softmax", lambda x: F.log_softmax(x, 0), lambda x: TF.log_softmax(x, 0)),
    ("softmin", lambda x: F.softmin(x, 0), lambda x: TF.softmin(x, 0)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_extreme_inputs_are_finite_and_match_torch(name, fn, tfn, dtype):
    x = EXTREME.astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow or 0/0 inside the op
        t = cg.tensor(x, requires_grad=True)
        out = fn(t)
        out.backward(np.ones(out.shape, dtype))
    tt = torch.tensor(x, requires_grad=True)
    ref = tfn(tt)
    ref.backward(torch.ones_like(ref))
    assert np.isfinite(out.numpy()).all() and np.isfinite(t.grad.numpy()).all(), name
    # relative to the largest magnitude (oracle convention): PyTorch's float32 softsign gradient
    # at 1e4 loses digits to cancellation, and its hardsigmoid gradient uses a float32 1/6
    rtol = 1e-5 if dtype == np.float32 else (1e-7 if name == "hardsigmoid" else 1e-12)
    assert_close(out.numpy(), ref.detach().numpy(), rtol, name)
    assert_close(t.grad.numpy(), tt.grad.numpy(), rtol, name + " gradient")


def test_log_softmax_of_huge_logits_rows():
    x = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4], [5e3, 5e3, -5e3]], dtype=np.float32)
    out = F.log_softmax(cg.tensor(x), dim=1).numpy()
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, TF.log_softmax(torch.tensor(x), 1).numpy(), rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# dtypes, layers, errors
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,fn,tfn", UNARY, ids=[f"{u[0]}-{i}" for i, u in enumerate(UNARY)])
def test_float32_stays_float32(name, fn, tfn):
    t = cg.tensor(_spread((3, 4), np.float32, 0), requires_grad=True)
    out = fn(t)
    assert out.dtype == np.float32, name
    out.sum().backward()
    assert t.grad.dtype == np.float32


def _layers():
    return [
        (nn.ReLU(), torch.nn.ReLU()), (nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
        (nn.ReLU6(), torch.nn.ReLU6()), (nn.LeakyReLU(), torch.nn.LeakyReLU()),
        (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)), (nn.PReLU(), torch.nn.PReLU()),
        (nn.PReLU(3, 0.1), torch.nn.PReLU(3, 0.1)), (nn.ELU(), torch.nn.ELU()), (nn.ELU(0.5), torch.nn.ELU(0.5)),
        (nn.SELU(), torch.nn.SELU()), (nn.CELU(2.0), torch.nn.CELU(2.0)), (nn.GELU(), torch.nn.GELU()),
        (nn.GELU("tanh"), torch.nn.GELU("tanh")), (nn.SiLU(), torch.nn.SiLU()), (nn.Mish(), torch.nn.Mish()),
        (nn.Softplus(), torch.nn.Softplus()), (nn.Softplus(2, 10), torch.nn.Softplus(2, 10)),
        (nn.Hardtanh(), torch.nn.Hardtanh()), (nn.Hardtanh(-2, 3), torch.nn.Hardtanh(-2, 3)),
        (nn.Hardsigmoid(), torch.nn.Hardsigmoid()), (nn.Hardswish(), torch.nn.Hardswish()),
        (nn.Softsign(), torch.nn.Softsign()), (nn.Sigmoid(), torch.nn.Sigmoid()), (nn.Tanh(), torch.nn.Tanh()),
        (nn.LogSigmoid(), torch.nn.LogSigmoid()), (nn.Softmax(1), torch.nn.Softmax(1)),
        (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)), (nn.Softmin(1), torch.nn.Softmin(1)),
        (nn.Threshold(0.1, 20), torch.nn.Threshold(0.1, 20)), (nn.Hardshrink(), torch.nn.Hardshrink()),
        (nn.Softshrink(0.3), torch.nn.Softshrink(0.3)), (nn.Tanhshrink(), torch.nn.Tanhshrink()),
        (nn.GLU(), torch.nn.GLU()),
    ]


def test_layers_repr_and_outputs_match_torch():
    x = _spread((2, 3, 4), np.float64, 5)
    for layer, ref in _layers():
        assert repr(layer) == repr(ref)
        ref = ref.double()
        layer.double()
        out = layer(cg.tensor(x)).numpy()
        expected = ref(torch.tensor(x)).detach().numpy()
        assert_close(out, expected, 1e-12, repr(layer))


def test_prelu_layer_learns_a_per_channel_slope_like_torch():
    layer, ref = nn.PReLU(3), torch.nn.PReLU(3)
    assert [n for n, _ in layer.named_parameters()] == [n for n, _ in ref.named_parameters()] == ["weight"]
    assert layer.weight.dtype == np.float32 and np.all(layer.weight.numpy() == 0.25)
    x = _spread((4, 3, 5), np.float32, 2)
    layer(cg.tensor(x)).sum().backward()
    ref(torch.tensor(x)).sum().backward()
    assert_close(layer.weight.grad.numpy(), ref.weight.grad.numpy(), 1e-4, "PReLU weight grad")


@pytest.mark.parametrize("call,fragment", [
    (lambda: F.softmax(cg.randn(3, 4), dim=2), "softmax: dim 2 is out of range for a 2-D input"),
    (lambda: F.log_softmax(cg.randn(3, 4), dim=-3), "log_softmax: dim -3 is out of range"),
    (lambda: F.hardtanh(cg.randn(3), 1.0, -1.0), "hardtanh: min_val cannot be greater than max_val"),
    (lambda: F.gelu(cg.randn(3), approximate="fast"), "gelu: approximate must be 'none' or 'tanh', got 'fast'"),
    (lambda: F.prelu(cg.randn(2, 3, 4), cg.ones(4)), "prelu: weight has 4 elements, expected 1 or one per channel (3)"),
    (lambda: F.sigmoid(cg.tensor([1, 2, 3])), "sigmoid: expected a floating point tensor, got dtype int64"),
    (lambda: F.tanh(np.zeros(3)), "tanh: expected a convgrad Tensor, got ndarray"),
    (lambda: F.celu(cg.randn(3), alpha=0.0), "celu: alpha must not be 0"),
    (lambda: F.elu(cg.randn(3), alpha=float("nan")), "elu: alpha must be a finite number, got nan"),
    (lambda: nn.Hardtanh(2, 1), "Hardtanh: min_val cannot be greater than max_val"),
    (lambda: nn.GELU("exact"), "GELU: approximate must be 'none' or 'tanh'"),
    (lambda: nn.PReLU(0), "PReLU: num_parameters must be a positive integer, got 0"),
    (lambda: F.softshrink(cg.randn(3), -0.5), "softshrink: lambd must be greater than or equal to 0, got -0.5"),
    (lambda: F.glu(cg.randn(2, 3), 1), "glu: halving dimension must be even, but dimension 1 is size 3"),
])
def test_bad_arguments_raise_clear_errors(call, fragment):
    with pytest.raises(ConvgradError) as info:
        call()
    assert fragment in str(info.value)


def test_softmax_without_dim_warns_and_uses_pytorch_rule():
    x = cg.randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = F.softmax(x)
    np.testing.assert_allclose(out.numpy().sum(1), 1.0, rtol=1e-6)


def test_activations_are_recorded_for_anomaly_detection_by_name():
    x = cg.tensor([1.0, -1.0], requires_grad=True)
    with cg.detect_anomaly():
        y = F.elu(x)
    assert y.grad_fn == "ELU"


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0, -0.5, 1.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_large_tensors_in_pieces_match_torch(slope, dtype):
    """Large enough for the element-wise pieces (kernels/parallel.elementwise), with zeros,
    NaN and infinities, in channels-last memory as a conv output would be."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 64, 48, 48)).astype(dtype)
    x.reshape(-1)[:6] = [0.0, -0.0, np.nan, np.inf, -np.inf, 1e-30]
    x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    g = rng.standard_normal(x.shape).astype(dtype)
    cx = cg.tensor(x, requires_grad=True)
    y = F.leaky_relu(cx, slope)
    y.backward(cg.tensor(g))
    tx = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
    ty = TF.leaky_relu(tx, slope)
    ty.backward(torch.tensor(g))
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy())
