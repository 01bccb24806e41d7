"""1-D models for series (fcn1d, resnet1d) against plain torch.nn references, their summary and
ONNX export; build_for_data adapting zoo models to a dataset's shape."""
import numpy as np
import pytest
import torch
from torch import nn as tnn

import convgrad as cg
import convgrad.onnx
from convgrad import models
from convgrad.errors import ArgumentError
from convgrad.models.adapt import MIN_INPUT_SIZE, dry_run


# ---------------------------------------------------------------------------------------------
# plain torch.nn references, written from the papers (same parameter names as convgrad's)
# ---------------------------------------------------------------------------------------------
def torch_block(cin, cout, k):
    return tnn.Sequential(tnn.Conv1d(cin, cout, k, padding="same"), tnn.BatchNorm1d(cout), tnn.ReLU())


class TorchFCN(tnn.Module):
    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.block1 = torch_block(in_channels, 128, 8)
        self.block2 = torch_block(128, 256, 5)
        self.block3 = torch_block(256, 128, 3)
        self.fc = tnn.Linear(128, num_classes)

    def forward(self, x):
        return self.fc(self.block3(self.block2(self.block1(x))).mean(dim=2))


class TorchResBlock(tnn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1, self.bn1 = tnn.Conv1d(cin, cout, 8, padding="same"), tnn.BatchNorm1d(cout)
        self.conv2, self.bn2 = tnn.Conv1d(cout, cout, 5, padding="same"), tnn.BatchNorm1d(cout)
        self.conv3, self.bn3 = tnn.Conv1d(cout, cout, 3, padding="same"), tnn.BatchNorm1d(cout)
        if cin != cout:
            self.shortcut = tnn.Sequential(tnn.Conv1d(cin, cout, 1), tnn.BatchNorm1d(cout))
        else:
            self.shortcut = tnn.Sequential(tnn.BatchNorm1d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        return torch.relu(self.bn3(self.conv3(y)) + self.shortcut(x))


class TorchResNet(tnn.Module):
    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.block1, self.block2, self.block3 = TorchResBlock(in_channels, 64), TorchResBlock(64, 128), \
            TorchResBlock(128, 128)
        self.fc = tnn.Linear(128, num_classes)

    def forward(self, x):
        return self.fc(self.block3(self.block2(self.block1(x))).mean(dim=2))


CASES = [("fcn1d", TorchFCN, 2, 1, 40), ("fcn1d", TorchFCN, 4, 6, 37), ("resnet1d", TorchResNet, 6, 1, 32),
         ("resnet1d", TorchResNet, 4, 6, 33)]


def _pair(name, ref, classes, channels, seed=0):
    cg.manual_seed(seed)
    model = models.get_model(name, num_classes=classes, in_channels=channels)
    torch_model = ref(classes, channels).double()
    state = {k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in model.state_dict().items()}
    torch_model.load_state_dict(state, strict=True)
    return model, torch_model


@pytest.mark.parametrize("name, ref, classes, channels, length", CASES)
def test_parameter_count_equals_reference(name, ref, classes, channels, length):
    model, torch_model = _pair(name, ref, classes, channels)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in torch_model.parameters())


@pytest.mark.parametrize("name, ref, classes, channels, length", CASES)
@pytest.mark.parametrize("train", [True, False])
def test_forward_and_backward_match_torch(name, ref, classes, channels, length, train):
    model, torch_model = _pair(name, ref, classes, channels)
    model.train(train)
    torch_model.train(train)
    x = np.random.default_rng(1).standard_normal((3, channels, length))
    labels = np.array([0, classes - 1, 1])
    cx = cg.tensor(x.astype(np.float32), requires_grad=True)
    out = model(cx)
    loss = cg.nn.functional.cross_entropy(out, cg.tensor(labels))
    loss.backward()
    tx = torch.tensor(x, requires_grad=True)
    tout = torch_model(tx)
    tloss = torch.nn.functional.cross_entropy(tout, torch.tensor(labels))
    tloss.backward()
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=2e-3, atol=2e-5)
    tgrads = dict(torch_model.named_parameters())
    for key, p in model.named_parameters():
        scale = max(1e-3, float(tgrads[key].grad.abs().max()))
        err = float(np.abs(p.grad.numpy() - tgrads[key].grad.numpy()).max()) / scale
        assert err < 2e-3, f"{key}: {err}"


@pytest.mark.parametrize("name, ref", [("fcn1d", TorchFCN), ("resnet1d", TorchResNet)])
def test_float64_matches_torch_tightly(name, ref):
    model, torch_model = _pair(name, ref, 3, 2)
    model.double()
    x = np.random.default_rng(2).standard_normal((2, 2, 20))
    out = model(cg.tensor(x))
    assert out.numpy().dtype == np.float64
    np.testing.assert_allclose(out.numpy(), torch_model(torch.tensor(x)).detach().numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", ["fcn1d", "resnet1d"])
@pytest.mark.parametrize("channels, length", [(1, 150), (6, 30)])
def test_summary_and_onnx_round_trip(name, channels, length):
    ort = pytest.importorskip("onnxruntime")
    model = models.get_model(name, num_classes=4, in_channels=channels)
    s = cg.summary(model, (channels, length))
    assert s.total_params == sum(p.numel() for p in model.parameters())
    rows = {r.name: r for r in s.layers}
    assert rows["fc"].output_shape == (1, 4)
    assert rows["block1.0" if name == "fcn1d" else "block1.conv1"].output_shape[1:] in ((128, length), (64, length))
    rng = np.random.default_rng(0)
    proto = convgrad.onnx.export(model, cg.tensor(rng.standard_normal((1, channels, length)).astype(np.float32)))
    x = rng.standard_normal((2, channels, length)).astype(np.float32)
    model.eval()
    with cg.no_grad():
        expected = model(cg.tensor(x)).numpy()
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["fcn1d", "resnet1d"])
def test_return_layers_and_any_length(name):
    model = models.get_model(name, num_classes=3, in_channels=2)
    acts = model(cg.randn(2, 2, 50), return_layers=["block1", "block3", "gap"])
    assert list(acts) == ["block1", "block3", "gap", "output"]
    assert acts["gap"].shape == (2, 128, 1) and acts["output"].shape == (2, 3)
    assert model(cg.randn(1, 2, 7)).shape == (1, 3)  # GAP: any length
    assert model.natural_input_size() == (2, 128)
    assert model.model_config == {"name": name, "kwargs": {"num_classes": 3, "in_channels": 2}}


def test_bad_sizes():
    with pytest.raises(ArgumentError, match="in_channels must be a positive integer"):
        models.fcn1d(in_channels=0)
    with pytest.raises(ArgumentError, match="num_classes"):
        models.resnet1d(num_classes=1.5)


# ---------------------------------------------------------------------------------------------
# build_for_data
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, shape, classes, expected", [
    ("fcn1d", (6, 100), 4, {"num_classes": 4, "in_channels": 6}),
    ("resnet1d", (1, 24), 2, {"num_classes": 2, "in_channels": 1}),
    pytest.param("resnet18", (3, 32, 32), 10, {"num_classes": 10, "in_channels": 3, "small_input": True},
                 marks=pytest.mark.slow),
    ("resnet20", (1, 8, 8), 10, {"num_classes": 10, "in_channels": 1}),
    ("lenet5", (1, 28, 28), 10, {"num_classes": 10, "in_channels": 1, "padding": 2}),
    ("lenet5", (3, 32, 32), 2, {"num_classes": 2, "in_channels": 3, "padding": 0}),
    ("conv_autoencoder", (1, 8, 8), 10, {"in_channels": 1, "input_size": (8, 8)}),
])
def test_build_for_data_adapts(name, shape, classes, expected):
    model, kwargs = models.build_for_data(name, shape, classes)
    assert kwargs == expected
    model.eval()
    out = model(cg.randn(2, *shape))
    assert out.shape == ((2, classes) if name != "conv_autoencoder" else (2,) + shape)


def test_build_for_data_user_kwargs_win():
    _, kwargs = models.build_for_data("lenet5", (1, 28, 28), 10, variant="modern")
    assert kwargs["variant"] == "modern"


@pytest.mark.parametrize("name, shape, fragment", [
    ("alexnet", (1, 8, 8), "alexnet needs input of at least 63x63 pixels, the data is 8x8"),
    ("vgg16", (3, 28, 28), "vgg16 needs input of at least 32x32"),
    ("lenet5", (1, 8, 8), "lenet5 needs 28x28 or 32x32 input"),
    ("fcn1d", (1, 28, 28), "fcn1d is a 1-D model for sequences"),
    ("resnet18", (6, 100), "resnet18 takes images (C, H, W)"),
    ("nosuchnet", (1, 8, 8), "unknown model 'nosuchnet'"),
])
def test_build_for_data_says_what_input_the_model_needs(name, shape, fragment, monkeypatch):
    built = []
    from convgrad.models import base
    monkeypatch.setitem(base.MODEL_REGISTRY, "alexnet", lambda **kw: built.append(kw))
    with pytest.raises(ArgumentError) as info:
        models.build_for_data(name, shape, 10)
    assert fragment in str(info.value)
    assert not built  # refused before building anything


@pytest.mark.slow
@pytest.mark.parametrize("name", ["alexnet", "zfnet", "nin", "googlenet"])
def test_min_input_size_table_is_the_models_own_limit(name):
    need = MIN_INPUT_SIZE[name]
    kwargs = {"aux_logits": False} if name == "googlenet" else {}
    model = models.get_model(name, num_classes=2, in_channels=1, **kwargs)
    dry_run(model, (1, need, need))
    with pytest.raises(ArgumentError, match="cannot take input"):
        dry_run(model, (1, need - 1, need - 1))
