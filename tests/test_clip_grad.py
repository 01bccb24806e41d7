"""Gradient clipping (convgrad.nn.utils) against torch.nn.utils."""
import math

import numpy as np
import pytest
import torch

import convgrad as cg
from convgrad.nn.utils import (clip_grad_norm_, clip_grad_value_, get_total_norm, parameters_to_vector,
                               vector_to_parameters)

SHAPES = [(3, 4), (5,), (2, 2, 3), ()]


def _pair(dtype, scale, seed=0, skip=None):
    """Parameters with gradients (one without, if ``skip``) in convgrad and torch."""
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        c = cg.nn.Parameter(rng.standard_normal(shape).astype(dtype))
        t = torch.nn.Parameter(torch.tensor(c.numpy().copy()))
        if i != skip:
            g = (rng.standard_normal(shape) * scale).astype(dtype)
            c.grad, t.grad = cg.tensor(g.copy()), torch.tensor(g.copy())
        ours.append(c)
        theirs.append(t)
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm,scale", [(1.0, 1.0), (100.0, 1.0), (0.5, 10.0), (2.0, 0.01)])
def test_clip_grad_norm_matches_torch(max_norm, scale, norm_type, dtype):
    ours, theirs = _pair(dtype, scale, skip=1 if scale == 10.0 else None)
    total = clip_grad_norm_(ours, max_norm, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert isinstance(total, cg.Tensor) and total.dtype == dtype
    np.testing.assert_allclose(total.item(), t_total.item(), rtol=rtol)
    for c, t in zip(ours, theirs):
        if t.grad is None:
            assert c.grad is None
        else:
            np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=1e-7)
    clipped = get_total_norm([c.grad for c in ours if c.grad is not None], norm_type).item()
    assert clipped <= max_norm * (1 + 1e-5) or total.item() <= max_norm


def test_clip_grad_norm_single_tensor_empty_and_nonfinite():
    p = cg.nn.Parameter(np.ones(4))
    p.grad = cg.tensor(np.full(4, 3.0))
    assert clip_grad_norm_(p, 1.0).item() == pytest.approx(6.0)
    np.testing.assert_allclose(p.grad.numpy(), 3.0 / (6.0 + 1e-6))
    assert clip_grad_norm_([cg.nn.Parameter(np.ones(2))], 1.0).item() == 0.0
    p.grad = cg.tensor(np.array([1.0, np.inf, 0.0, 0.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isinf(clip_grad_norm_([p], 1.0).item())


@pytest.mark.parametrize("clip_value", [0.1, 0.5, 5.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = _pair(np.float32, 1.0, skip=2)
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for c, t in zip(ours, theirs):
        if t.grad is not None:
            np.testing.assert_array_equal(c.grad.numpy(), t.grad.numpy())
            assert np.abs(c.grad.numpy()).max() <= clip_value


def test_parameters_to_vector_round_trip_matches_torch():
    ours, theirs = _pair(np.float64, 1.0)
    vec = parameters_to_vector(ours)
    np.testing.assert_array_equal(vec.numpy(), torch.nn.utils.parameters_to_vector(theirs).detach().numpy())
    vector_to_parameters(cg.tensor(vec.numpy() * 2), ours)
    np.testing.assert_array_equal(parameters_to_vector(ours).numpy(), vec.numpy() * 2)
    with pytest.raises(ValueError, match="expected a 1-D vector of 30 values"):
        vector_to_parameters(np.ones(5), ours)


def test_clip_is_reachable_as_convgrad_nn_utils():
    assert cg.nn.utils.clip_grad_norm_ is clip_grad_norm_
