"""RMSNorm / F.rms_norm, Softmax2d, ParameterList and ParameterDict: PyTorch parity (forward and
every gradient, float32/float64, randomized shapes and options), finite differences, state dicts."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.nn as nn
import convgrad.nn.functional as F
from convgrad.errors import ShapeError
from oracle import check_against_torch, check_gradient

DTYPES = [np.float32, np.float64]
RNG = np.random.default_rng(0)
RMS_CASES = []
for i in range(12):
    k = 1 + i % 3
    lead = tuple(int(s) for s in RNG.integers(1, 4, int(RNG.integers(0, 3))))
    norm = tuple(int(s) for s in RNG.integers(1, 6, k))
    RMS_CASES.append((lead + norm, norm, [None, 1e-5, 0.1][i % 3], i % 4 != 0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,normalized_shape,eps,affine", RMS_CASES)
def test_rms_norm_matches_torch(shape, normalized_shape, eps, affine, dtype):
    if affine:
        check_against_torch(lambda x, w: F.rms_norm(x, normalized_shape, w, eps),
                            lambda x, w: TF.rms_norm(x, normalized_shape, w, eps), [shape, normalized_shape],
                            dtype=dtype, name="rms_norm")
    else:
        check_against_torch(lambda x: F.rms_norm(x, normalized_shape, eps=eps),
                            lambda x: TF.rms_norm(x, normalized_shape, eps=eps), [shape], dtype=dtype, name="rms_norm")


def test_rms_norm_gradient_by_finite_differences():
    assert check_gradient(lambda x, w: F.rms_norm(x, (3, 4), w, 1e-3), [(2, 3, 4), (3, 4)])


@pytest.mark.parametrize("normalized_shape,eps,affine", [(6, None, True), ((4, 6), 1e-4, False)])
def test_rms_norm_layer_matches_torch(normalized_shape, eps, affine):
    ref = torch.nn.RMSNorm(normalized_shape, eps=eps, elementwise_affine=affine).double()
    ours = nn.RMSNorm(normalized_shape, eps=eps, elementwise_affine=affine).to(np.float64)
    assert repr(ours) == repr(ref) and list(ours.state_dict()) == list(ref.state_dict())
    if affine:
        with torch.no_grad():
            ref.weight.uniform_(0.5, 1.5)
        ours.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 4, 6))
    cx, tx = cg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, t_out = ours(cx), ref(tx)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
    out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    if affine:
        np.testing.assert_allclose(ours.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-10)


def test_rms_norm_errors():
    with pytest.raises(ShapeError, match=r"\(\*, 5\).*\(2, 4\)"):
        nn.RMSNorm(5)(cg.randn(2, 4))
    with pytest.raises(ShapeError, match="weight"):
        F.rms_norm(cg.randn(2, 4), (4,), cg.randn(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 5), (1, 1, 2, 2)])
def test_softmax2d_matches_torch(shape, dtype):
    check_against_torch(lambda x: nn.Softmax2d()(x), lambda x: torch.nn.Softmax2d()(x), [shape], dtype=dtype,
                        name="Softmax2d")


def test_softmax2d_refuses_2d():
    with pytest.raises(ShapeError, match=r"3-D.*4-D.*\(4, 5\)"):
        nn.Softmax2d()(cg.randn(4, 5))


def test_parameter_list_and_dict_register_like_torch():
    class Net(nn.Module):
        def __init__(self, lib):
            super().__init__()
            self.ws = lib.ParameterList([lib.Parameter(np.ones((2, 2)) * i) for i in range(3)])
            self.extra = lib.ParameterDict({"scale": lib.Parameter(np.ones(3)), "shift": lib.Parameter(np.zeros(3))})

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2, 2) * i) for i in range(3)])
            self.extra = torch.nn.ParameterDict({"scale": torch.nn.Parameter(torch.ones(3)),
                                                 "shift": torch.nn.Parameter(torch.zeros(3))})

    ours, ref = Net(nn), TorchNet()
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    ours.ws.append(cg.randn(4))  # a plain tensor becomes a Parameter
    assert len(ours.ws) == 4 and isinstance(ours.ws[3], nn.Parameter) and ours.ws[3].requires_grad
    ours.extra["bias"] = np.zeros(2)
    assert "bias" in ours.extra and list(ours.extra.keys()) == ["scale", "shift", "bias"]
    del ours.extra["bias"]
    assert len(ours.extra) == 2 and len(list(ours.parameters())) == 6
    loss = sum((w * w).sum() for w in ours.ws) + (ours.extra["scale"] * 2).sum()
    loss.backward()
    np.testing.assert_array_equal(ours.ws[2].grad.numpy(), 4 * np.ones((2, 2)))
    np.testing.assert_array_equal(ours.extra["scale"].grad.numpy(), 2 * np.ones(3))


def _sequence_model(lib):
    """Embedding -> Conv1d over time (reflect-padded) -> RMSNorm -> Upsample -> log_softmax: a
    small CTC recogniser built from this issue's layers, the same code for both frameworks."""
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = lib.nn.Embedding(12, 6, padding_idx=0)
            self.pad = lib.nn.ReflectionPad1d(1)
            self.conv = lib.nn.Conv1d(6, 8, 3)
            self.norm = lib.nn.RMSNorm(8)
            self.up = lib.nn.Upsample(scale_factor=2, mode="linear", align_corners=False)
            self.head = lib.nn.Linear(8, 5)

        def forward(self, tokens):
            h = self.conv(self.pad(self.emb(tokens).transpose(1, 2)))      # (N, 8, L)
            h = self.up(self.norm(h.transpose(1, 2)).transpose(1, 2))      # (N, 8, 2L)
            return self.head(h.transpose(1, 2)).log_softmax(2).transpose(0, 1)  # (2L, N, 5)
    return Net()


def test_a_model_of_the_new_layers_trains_like_torch():
    torch.manual_seed(0)
    ref = _sequence_model(torch).double()
    ours = _sequence_model(cg).to(np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(5)
    tokens = rng.integers(0, 12, (3, 7))
    targets, lengths = rng.integers(1, 5, (3, 4)), np.array([4, 3, 2])
    c_opt, t_opt = cg.optim.Adadelta(ours.parameters(), lr=1.0), torch.optim.Adadelta(ref.parameters(), lr=1.0)
    c_ctc, t_ctc = nn.CTCLoss(), torch.nn.CTCLoss()
    losses = []
    for _ in range(4):
        c_loss = c_ctc(ours(cg.tensor(tokens)), cg.tensor(targets), [14] * 3, lengths)
        t_loss = t_ctc(ref(torch.tensor(tokens)), torch.tensor(targets), torch.tensor([14] * 3), torch.tensor(lengths))
        assert abs(c_loss.item() - t_loss.item()) < 1e-9
        c_opt.zero_grad(), t_opt.zero_grad()
        c_loss.backward(), t_loss.backward()
        c_opt.step(), t_opt.step()
        losses.append(c_loss.item())
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k], v.numpy(), rtol=1e-8, atol=1e-10, err_msg=k)
    assert losses[-1] < losses[0]
