"""The convolution workspace cap: batches split under it give the same result, and a single
sample that would exceed it is refused with its size instead of exhausting memory."""
import numpy as np
import pytest

import convgrad as cg


@pytest.fixture
def limit():
    previous = cg.set_workspace_limit(1 << 30)
    yield cg.set_workspace_limit
    cg.set_workspace_limit(previous)


def test_a_sample_larger_than_the_cap_is_refused_with_its_size(limit):
    limit(10_000)
    with pytest.raises(cg.ResourceLimitError, match=r"0\.4 MiB .* workspace limit of 0\.0 MiB"):
        cg.nn.Conv2d(3, 8, 3)(cg.zeros(2, 3, 64, 64))


def test_batches_split_under_the_cap_give_the_same_result_and_gradients(limit):
    cg.manual_seed(0)
    conv = cg.nn.Conv2d(3, 4, 3, padding=1)
    x = cg.randn(6, 3, 16, 16, requires_grad=True)
    conv(x).sum().backward()
    full = conv(x).numpy().copy(), x.grad.numpy().copy(), conv.weight.grad.numpy().copy()
    x.grad = conv.weight.grad = None
    limit(2 * 16 * 16 * 27 * 4)  # room for two samples' columns: the batch of 6 runs in 3 pieces
    out = conv(x)
    out.sum().backward()
    np.testing.assert_allclose(out.numpy(), full[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), full[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(conv.weight.grad.numpy(), full[2], rtol=1e-4, atol=1e-4)  # sums of 1,536 float32 terms


def test_load_state_dict_keeps_the_conv_weight_layout():
    conv = cg.nn.Conv2d(3, 8, 3)
    strides = conv.weight.numpy().strides
    conv.load_state_dict({k: np.ascontiguousarray(v) + 1 for k, v in conv.state_dict().items()})
    assert conv.weight.numpy().strides == strides
