"""convgrad.summary and convgrad.explain: parameter counts against torchvision's published figures,
multiply-adds against the published budgets and against an independent count made here with
forward hooks, the shape-rule fast path against a real forward pass, receptive fields against the
support of a real gradient, and the arithmetic text of explain."""
import functools
import math
import re

import numpy as np
import pytest

import convgrad as cg
from convgrad import models, nn
from convgrad.errors import ArgumentError, ShapeError

# torchvision's parameter counts (torchvision.models.<name>().parameters())
TORCHVISION_PARAMS = {
    "resnet18": 11_689_512, "resnet50": 25_557_032, "vgg16": 138_357_544, "alexnet": 61_100_840,
    "googlenet": 6_624_904,  # aux_logits=False
}


@functools.lru_cache(maxsize=None)
def build(name):
    """One instance per model for the whole file (VGG-16 alone takes seconds to initialise);
    tests that change a model build their own."""
    cg.manual_seed(0)
    return models.googlenet(aux_logits=False) if name == "googlenet" else models.get_model(name)


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMS))
def test_parameter_counts_equal_torchvision(name):
    model = build(name)
    s = cg.summary(model, (3, 224, 224))
    assert s.total_params == TORCHVISION_PARAMS[name]
    assert s.trainable_params == s.total_params
    assert sum(r.params for r in s.layers) == s.total_params  # every parameter belongs to a layer that ran


@pytest.mark.parametrize("name, published, tolerance", [
    ("resnet50", 4.1e9, 0.01),    # He et al. 2015, Table 1: 3.8 G FLOPs for v1; torchvision's v1.5: 4.09 G
    ("googlenet", 1.5e9, 0.02),   # Szegedy et al. 2014: "1.5 billion multiply-adds"
    ("vgg16", 15.5e9, 0.01),      # the usual 15.5 G multiply-adds
])
def test_multiply_adds_match_the_published_budgets(name, published, tolerance):
    s = cg.summary(build(name), (3, 224, 224))
    assert abs(s.total_macs - published) / published < tolerance, f"{name}: {s.total_macs:,}"


def independent_macs(model, x):
    """MACs of conv and linear layers counted with plain forward hooks on a real forward pass."""
    total = []

    def hook(m, inputs, out):
        if isinstance(m, nn.Conv2d):
            total.append(out.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size))
        elif isinstance(m, nn.Linear):
            total.append(out.numel() * m.in_features)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with cg.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return sum(total)


@pytest.mark.parametrize("name, size", [("resnet18", 64), ("googlenet", 64), ("alexnet", 96), ("nin", 64),
                                        ("resnet20", 32), ("zfnet", 96)])
def test_fast_summary_equals_a_real_forward_pass(name, size):
    model = build(name)
    fast = cg.summary(model, (3, size, size), batch_size=2)
    real = cg.summary(model, (3, size, size), batch_size=2, fast=False)
    assert [(r.name, r.type, r.output_shape, r.params, r.macs) for r in fast.layers] == \
           [(r.name, r.type, r.output_shape, r.params, r.macs) for r in real.layers]
    assert fast.total_macs == independent_macs(model, cg.zeros(2, 3, size, size))
    assert fast.output_shapes == (2, 1000 if name != "resnet20" else 10)


def test_rows_of_a_residual_network():
    s = cg.summary(models.resnet18(num_classes=10), (3, 64, 64), batch_size=4)
    rows = {r.name: r for r in s.layers}
    conv1 = rows["conv1"]
    assert conv1.type == "Conv2d" and conv1.output_shape == (4, 64, 32, 32)
    assert conv1.params == 7 * 7 * 3 * 64 and conv1.macs == 4 * 64 * 32 * 32 * 7 * 7 * 3
    assert conv1.activation_bytes == 4 * 64 * 32 * 32 * 4
    assert rows["layer2.0.downsample.0"].output_shape == (4, 128, 8, 8)
    assert rows["fc"].macs == 4 * 512 * 10 and rows["fc"].params == 513 * 10
    assert rows["layer1.0.bn1"].params == 128 and rows["layer1.0.bn1"].macs == 0
    # a module called twice (the blocks' shared ReLU) appears once per call
    assert [r.name for r in s.layers].count("layer1.0.relu") == 2
    assert s.param_bytes == 4 * s.total_params
    assert s.activation_bytes == sum(r.activation_bytes for r in s.layers)


def test_inception_branches_are_listed():
    s = cg.summary(build("googlenet"), (3, 64, 64))
    names = [r.name for r in s.layers]
    for branch in ("branch1", "branch2.0", "branch2.1", "branch3.0", "branch3.1", "branch4.0", "branch4.1"):
        assert any(n.startswith(f"inception3a.{branch}") for n in names), branch


def test_shared_parameters_count_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(8, 8)
            self.b = nn.Linear(8, 8)
            self.b.weight = self.a.weight  # tied weights, separate biases

        def forward(self, x):
            return self.b(self.a(x))

    s = cg.summary(Tied(), (8,))
    assert s.total_params == 64 + 8 + 8
    assert [r.params for r in s.layers] == [72, 8]

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            return self.fc(self.fc(x))

    s = cg.summary(Twice(), (8,))
    assert s.total_params == 72 and [r.params for r in s.layers] == [72, 0]
    assert s.total_macs == 2 * 64


def test_trainable_and_unused_parameters():
    model = models.googlenet(aux_logits=True)
    for p in model.conv1.parameters():
        p.requires_grad_(False)
    s = cg.summary(model, (3, 64, 64))
    frozen = sum(p.numel() for p in model.conv1.parameters())
    assert s.trainable_params == s.total_params - frozen and s.non_trainable_params == frozen
    # in eval mode the auxiliary heads do not run, but their parameters are the model's
    aux = sum(p.numel() for p in model.aux1.parameters()) + sum(p.numel() for p in model.aux2.parameters())
    assert s.total_params == 6_624_904 + aux
    assert sum(r.params for r in s.layers) == 6_624_904
    assert "did not run" in str(s)


def test_summary_leaves_the_model_as_it_was():
    model = models.resnet18(num_classes=10)
    model.train()
    model.layer1.eval()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    cg.summary(model, (3, 32, 32), batch_size=2)
    assert model.training and not model.layer1.training and model.layer2.training
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_table_text():
    s = cg.summary(build("zfnet"), (3, 224, 224))
    text = str(s)
    for header in ("Layer", "Type", "Output shape", "Params", "Mult-adds", "Act. mem"):
        assert header in text
    assert f"Total params:          {s.total_params:,}" in text
    assert f"Total mult-adds:       {s.total_macs:,}" in text
    assert re.search(r"features\.0\s+Conv2d\s+\(1, 96, 110, 110\)\s+14,208", text)
    d = s.as_dict()
    assert d["total_params"] == s.total_params and d["layers"][0]["output_shape"] == (1, 96, 110, 110)


def test_bad_arguments():
    model = build("resnet18")
    with pytest.raises(ArgumentError, match="input_size"):
        cg.summary(model, (3, 0, 224))
    with pytest.raises(ArgumentError, match="input_size"):
        cg.summary(model, 224)
    with pytest.raises(ShapeError, match=r"Conv2d\(3, 64"):
        cg.summary(model, (1, 64, 64))


# ----------------------------------------------------------------------------------------------
# explain
# ----------------------------------------------------------------------------------------------
def test_explain_zfnet_arithmetic():
    text = cg.explain(build("zfnet"), (3, 224, 224))
    assert "features.0: floor((224 + 2*1 - 7) / 2) + 1 = 110" in text
    assert "params (7*7*3 + 1) * 96 = 14,208" in text
    assert "mult-adds (1*96*110*110) * (7*7*3) = 170,755,200" in text
    assert "receptive field 1 + (7 - 1)*1 = 7, jump 1*2 = 2" in text
    assert "features.2: ceil((110 + 2*0 - 3) / 2) + 1 = 55" in text     # the overlapping max-pool
    assert "receptive field 7 + (3 - 1)*2 = 11, jump 2*2 = 4" in text
    assert "features.3: floor((55 + 2*0 - 5) / 2) + 1 = 26" in text
    assert "flatten: 256*6*6 = 9,216 -> (1, 9216)" in text
    assert "params (9216 + 1) * 4096 = 37,752,832" in text


def test_explain_shows_branches_and_residuals():
    text = cg.explain(build("googlenet"), (3, 224, 224))
    assert "cat in inception3a along dim 1: 64 + 128 + 32 + 32 = 256 -> (1, 256, 28, 28)" in text
    text = cg.explain(build("resnet18"), (3, 224, 224))
    assert "add in layer1.0: (1, 64, 56, 56) + (1, 64, 56, 56)" in text
    # groups and dilation appear in the formulas
    conv = nn.Sequential(nn.Conv2d(8, 16, 3, padding=2, dilation=2, groups=4))
    text = cg.explain(conv, (8, 10, 10))
    assert "0: (10 + 2*2 - 2*(3 - 1) - 1) + 1 = 10" in text
    assert "params (3*3*8/4 + 1) * 16 = 304" in text


def gradient_support(model, size, channels):
    """The extent of input pixels that the centre output pixel depends on: the true receptive field."""
    x = cg.tensor(np.ones((1, channels, size, size)), dtype=np.float64, requires_grad=True)
    out = model(x)
    c = out.shape[2] // 2
    g = np.zeros(out.shape)
    g[0, 0, c, c] = 1.0
    out.backward(g)
    rows = np.nonzero(np.abs(x.grad.numpy()[0]).sum(axis=(0, 2)))[0]
    return rows.max() - rows.min() + 1


def test_receptive_field_equals_the_support_of_the_gradient():
    cg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.AvgPool2d(2), nn.Conv2d(2, 2, 3, stride=2, dilation=2),
                          nn.Conv2d(2, 1, 5, stride=2)).double()
    for p in model.parameters():
        p.data[...] = np.abs(p.data) + 0.1  # positive weights: no cancellation in the gradient
    text = cg.explain(model, (1, 97, 97), dtype=np.float64)
    last = re.findall(r"receptive field .* = (\d+), jump .* = (\d+)", text)[-1]
    assert int(last[1]) == 1 * 2 * 2 * 2
    assert int(last[0]) == gradient_support(model, 97, 1)


# ----------------------------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------------------------
def test_cli_summary(capsys):
    from convgrad.cli import main

    assert main(["summary", "resnet50", "--input-size", "3", "224", "224"]) == 0
    out = capsys.readouterr().out
    assert "Total params:          25,557,032" in out and "4,089,184,256" in out
    assert main(["summary", "lenet5"]) == 0  # default input size: one the model accepts (1x28x28)
    assert "(1, 1, 28, 28)" in capsys.readouterr().out
    assert main(["summary", "zfnet", "--explain"]) == 0
    assert "features.0: floor((224 + 2*1 - 7) / 2) + 1 = 110" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["summary", "resnet5o"], "unknown model 'resnet5o'"),
    (["summary", "resnet18", "--input-size", "1", "64", "64"], "expected input of shape (N, 3, H, W)"),
    (["summary", "missing.npz"], "does not exist"),
    (["summary", "resnet18", "--input-size", "0", "4"], "positive integer"),
])
def test_cli_summary_errors_are_one_line(capsys, argv, message):
    from convgrad.cli import main

    assert main(argv) != 0
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
