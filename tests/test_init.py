"""convgrad.nn.init against torch.nn.init: gains equal, fans equal, and the drawn values follow the
same distributions (bounds for uniform draws, standard deviations for normal ones)."""
import math

import numpy as np
import pytest
import torch

import convgrad as cg
from convgrad.nn import init

SHAPES = [(64, 32), (32, 16, 3, 3), (16, 8, 5), (8, 4, 3, 3, 3)]


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None), ("conv_transpose2d", None),
])
def test_calculate_gain_equals_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(torch.nn.init.calculate_gain(nonlinearity, param))


@pytest.mark.parametrize("shape", SHAPES)
def test_fans_equal_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(cg.zeros(*shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))
    assert ours == theirs


def _bound_and_std(fn_ours, fn_torch, shape, seed=0):
    cg.manual_seed(seed)
    torch.manual_seed(seed)
    a, b = cg.zeros(*shape), torch.zeros(shape)
    fn_ours(a)
    fn_torch(b)
    return a.numpy(), b.numpy()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,kwargs", [
    ("xavier_uniform_", {}), ("xavier_uniform_", {"gain": 2.0}), ("kaiming_uniform_", {}),
    ("kaiming_uniform_", {"a": math.sqrt(5)}), ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
])
def test_uniform_inits_have_torchs_bound(shape, name, kwargs):
    ours, theirs = _bound_and_std(lambda t: getattr(init, name)(t, **kwargs),
                                  lambda t: getattr(torch.nn.init, name)(t, **kwargs), shape)
    bound = np.abs(theirs).max()
    # both are U(-b, b): same support, and the empirical maxima agree within sampling error
    assert np.abs(ours).max() <= bound * 1.02 + 1e-7
    assert np.abs(ours).max() >= bound * 0.9
    assert abs(ours.mean()) < 0.1 * bound


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name,kwargs", [
    ("xavier_normal_", {}), ("kaiming_normal_", {}), ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("normal_", {"mean": 0.5, "std": 0.1}), ("trunc_normal_", {"std": 0.5}),
])
def test_normal_inits_have_torchs_spread(shape, name, kwargs):
    ours, theirs = _bound_and_std(lambda t: getattr(init, name)(t, **kwargs),
                                  lambda t: getattr(torch.nn.init, name)(t, **kwargs), shape)
    n = ours.size
    assert float(ours.std()) == pytest.approx(float(theirs.std()), rel=6 / math.sqrt(n))
    assert float(ours.mean()) == pytest.approx(float(theirs.mean()), abs=float(6 * theirs.std() / math.sqrt(n)))


def test_trunc_normal_stays_inside_its_bounds():
    t = init.trunc_normal_(cg.zeros(1000), std=1.0, a=-0.5, b=0.7)
    assert t.numpy().min() >= -0.5 and t.numpy().max() <= 0.7


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (8, 3, 2, 2)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    w = init.orthogonal_(cg.zeros(*shape, dtype=np.float64), gain=2.0).numpy().reshape(shape[0], -1)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-12)


def test_constant_zeros_ones_eye_dirac_equal_torch():
    for name, shape, args in [("constant_", (3, 4), (0.3,)), ("zeros_", (3, 4), ()), ("ones_", (3, 4), ()),
                              ("eye_", (3, 5), ()), ("dirac_", (4, 2, 3, 3), ()), ("dirac_", (4, 2, 3), (2,))]:
        a, b = cg.zeros(*shape), torch.zeros(shape)
        getattr(init, name)(a, *args)
        getattr(torch.nn.init, name)(b, *args)
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_default_layer_init_matches_torchs_bounds():
    """Conv2d and Linear start as in PyTorch: weight and bias in U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    cg.manual_seed(0)
    conv = cg.nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)
    for p in (conv.weight, conv.bias):
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.9 * bound
    lin = cg.nn.Linear(400, 120)
    assert np.abs(lin.weight.numpy()).max() <= 1 / math.sqrt(400)


def test_seeded_init_is_reproducible():
    cg.manual_seed(7)
    a = cg.nn.Conv2d(3, 8, 3).weight.numpy().copy()
    cg.manual_seed(7)
    assert np.array_equal(a, cg.nn.Conv2d(3, 8, 3).weight.numpy())


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(cg.zeros(5))
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_normal_(cg.zeros(3, 3), mode="fan_middle")
