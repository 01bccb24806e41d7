"""ONNX export: every zoo model exports, passes onnx.checker, and onnxruntime computes the same
outputs as convgrad — on a different input and batch size than the one traced, so a value baked
into the graph as a constant would show."""
import numpy as np
import pytest

import convgrad as cg
import convgrad.onnx
from convgrad import models, nn
from convgrad.onnx import ExportError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def run_onnx(proto, x):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def assert_same(model, input_shape, rtol=1e-4, seed=0, **export_kwargs):
    """Export with a batch of 1, compare on a batch of 2 other inputs."""
    rng = np.random.default_rng(seed)
    cg.manual_seed(seed)
    model.train()  # export must switch to eval by itself, and switch back
    proto = convgrad.onnx.export(model, cg.tensor(rng.standard_normal((1,) + input_shape).astype(np.float32)),
                                 **export_kwargs)
    assert model.training
    model.eval()
    x = rng.standard_normal((2,) + input_shape).astype(np.float32)
    with cg.no_grad():
        expected = model(cg.tensor(x))
    expected = [t.numpy() for t in (expected if isinstance(expected, tuple) else (expected,))]
    got = run_onnx(proto, x)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        scale = max(1.0, float(np.abs(e).max()))
        assert float(np.abs(g - e).max()) / scale < rtol
    return proto


ZOO = [
    ("lenet5", lambda: models.lenet5(), (1, 28, 28)),
    ("lenet5 modern", lambda: models.lenet5(variant="modern"), (1, 28, 28)),
    ("alexnet", lambda: models.alexnet(num_classes=10), (3, 96, 96)),
    ("zfnet lrn", lambda: models.zfnet(num_classes=10, lrn=True), (3, 96, 96)),
    ("nin", lambda: models.nin(num_classes=10), (3, 64, 64)),
    ("googlenet", lambda: models.googlenet(num_classes=10), (3, 64, 64)),
    ("resnet18", lambda: models.resnet18(num_classes=10), (3, 64, 64)),
    ("resnet50", lambda: models.resnet50(num_classes=10), (3, 64, 64)),
    ("resnet18 small", lambda: models.resnet18(num_classes=10, in_channels=1, small_input=True), (1, 28, 28)),
    ("resnet20", lambda: models.resnet20(), (3, 32, 32)),
]


@pytest.mark.parametrize("name, make, shape", ZOO, ids=[z[0] for z in ZOO])
def test_zoo_model_round_trip(name, make, shape):
    assert_same(make(), shape)


def test_vgg_round_trip():
    """One VGG (each carries the 133M-parameter classifier, so not all of them): configuration
    A-LRN, with local response normalisation. The other configurations use the same layers."""
    assert_same(models.vgg("A-LRN", num_classes=10), (3, 32, 32))


def test_file_names_and_dynamic_batch(tmp_path):
    model = models.resnet20()
    path = tmp_path / "r20.onnx"
    convgrad.onnx.export(model, cg.zeros(3, 3, 32, 32), path, input_names=["images"], output_names=["logits"])
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ["images"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.opset_import[0].version == 17
    initializers = {i.name for i in proto.graph.initializer}
    assert {"conv1.weight", "layer1.0.bn1.running_mean", "fc.bias"} <= initializers  # state_dict names
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 5):
        out = session.run(None, {"images": np.zeros((batch, 3, 32, 32), np.float32)})[0]
        assert out.shape == (batch, 10)
    static = convgrad.onnx.export(model, cg.zeros(3, 3, 32, 32), dynamic_batch=False)
    assert static.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 3


def test_opset_18_and_newer():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    for opset in (18, 20):
        proto = assert_same(model, (3, 9, 9), opset_version=opset)
        assert proto.opset_import[0].version == opset
    with pytest.raises(ExportError, match="opset_version"):
        convgrad.onnx.export(model, cg.zeros(1, 3, 9, 9), opset_version=13)


class Functional(nn.Module):
    """Ops called between layers: indexing, arithmetic with numbers, reductions, softmax."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1, padding_mode="reflect")
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        x = x[:, 1:, ::2] * 2.0 - 1.0          # GetItem, Mul, Sub with Python numbers
        x = cg.cat([x, x[:, :1]], 1)           # 3 channels again
        y = self.conv(x).relu()
        y = y.permute(0, 2, 3, 1)              # NHWC
        y = self.fc(y)                         # Linear on a 4-D input
        y = y.mean(dim=(1, 2)) + y.amax(dim=(1, 2)) / 2
        return cg.nn.functional.log_softmax(y.clamp(-3.0, 3.0), dim=1)


def test_ops_between_layers():
    assert_same(Functional(), (3, 10, 8))


ACTIVATIONS = [nn.ReLU(), nn.LeakyReLU(0.2), nn.ELU(0.7), nn.SELU(), nn.CELU(1.3), nn.GELU(), nn.GELU("tanh"),
               nn.SiLU(), nn.Mish(), nn.Softplus(beta=2.0), nn.Softsign(), nn.Hardtanh(-0.5, 0.7), nn.ReLU6(),
               nn.Hardsigmoid(), nn.Hardswish(), nn.LogSigmoid(), nn.Tanh(), nn.Sigmoid(), nn.PReLU(4),
               nn.Softmax(dim=1), nn.Softmin(dim=1), nn.LogSoftmax(dim=1)]


@pytest.mark.parametrize("act", ACTIVATIONS, ids=[type(a).__name__ for a in ACTIVATIONS])
def test_activations(act):
    assert_same(nn.Sequential(nn.Conv2d(2, 4, 1), act), (2, 3, 5))


POOLS = [nn.MaxPool2d(3, 2, ceil_mode=True), nn.MaxPool2d(3, 2, padding=1, dilation=2),
         nn.AvgPool2d(3, 2, padding=1), nn.AvgPool2d(3, 2, padding=1, count_include_pad=False),
         nn.AvgPool2d(2, ceil_mode=True), nn.AdaptiveAvgPool2d((3, 4)), nn.AdaptiveMaxPool2d(2),
         nn.AdaptiveMaxPool2d((3, 4)), nn.AdaptiveAvgPool2d(1), nn.AdaptiveMaxPool2d(1), nn.AdaptiveAvgPool2d(5)]


@pytest.mark.parametrize("pool", POOLS, ids=[repr(p) for p in POOLS])
def test_pooling(pool):
    assert_same(nn.Sequential(nn.Conv2d(2, 3, 1), pool), (2, 10, 11))


def test_other_layers():
    model = nn.Sequential(nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1), nn.BatchNorm2d(4),
                          nn.Conv2d(4, 4, 3, groups=2, padding="same"), nn.LocalResponseNorm(3),
                          nn.Dropout(0.3), nn.Conv2d(4, 2, 3, padding=1, padding_mode="replicate"))
    model.train()
    with cg.no_grad():
        model(cg.randn(4, 3, 6, 6))  # running statistics away from 0 / 1
    assert_same(model, (3, 6, 6))
    assert_same(nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.BatchNorm1d(5), nn.LayerNorm(5)), (3, 4))


def test_unsupported_constructs_are_named():
    with pytest.raises(ExportError, match="not a multiple"):
        convgrad.onnx.export(nn.Sequential(nn.AdaptiveMaxPool3d(2)), cg.zeros(1, 2, 3, 3, 3))
    with pytest.raises(ExportError, match="LocalResponseNorm"):
        convgrad.onnx.export(nn.Sequential(nn.LocalResponseNorm(4)), cg.zeros(1, 6, 3, 3))

    class Sorts(nn.Module):
        def forward(self, x):
            return cg.Tensor(np.sort(x.numpy(), axis=1)) + cg.functional.flip(x, 1)

    with pytest.raises(ExportError, match="depends on the input"):
        convgrad.onnx.export(Sorts(), cg.zeros(1, 4))


def test_cli_export(tmp_path, capsys):
    from convgrad.cli import main
    from convgrad.io import build_model, save

    model = build_model("lenet5", variant="modern")
    ckpt = save(model, tmp_path / "lenet.npz", preprocessing={"input_size": [1, 28, 28]})
    out = tmp_path / "lenet.onnx"
    assert main(["export", str(ckpt), "--onnx", str(out)]) == 0
    assert "input (batch, 1, 28, 28)" in capsys.readouterr().out
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    model.eval()
    with cg.no_grad():
        expected = model(cg.tensor(x)).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)

    assert main(["export", str(tmp_path / "missing.npz"), "--onnx", str(out)]) == 1
    assert main(["export", "lenet5", "--onnx", str(out)]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "expected a convgrad checkpoint" in err and "Traceback" not in err


def test_convgrad_works_without_the_onnx_package():
    """onnx is optional: convgrad imports and summarises without it; export says what to install."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['onnx'] = None\n"
            "import convgrad as cg, convgrad.onnx\n"
            "m = cg.nn.Sequential(cg.nn.Linear(3, 2))\n"
            "assert cg.summary(m, (3,)).total_params == 8\n"
            "try:\n"
            "    convgrad.onnx.export(m, cg.zeros(1, 3))\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install onnx" in out.stdout
