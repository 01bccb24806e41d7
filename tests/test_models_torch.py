"""Zoo models against plain-torch.nn references written here with torchvision's parameter names.

torchvision is not installed with this torch wheel, so the reference architectures below are
written out by hand from torchvision's source layout (names, ordering, BatchNorm eps). Each test
builds the convgrad model, copies its state_dict (NumPy arrays) into the torch reference, and
compares eval-mode outputs; for models with BatchNorm also the training-mode output and the
running statistics after one forward pass. A state_dict that loads with ``strict=True`` in both
directions is itself the check that the parameter names are torchvision's.
"""
import numpy as np
import pytest
import torch
from torch import nn as tnn
from torch.nn import functional as TF

import convgrad as cg
import convgrad.models as models
from oracle import assert_close

RTOL = 1e-4  # float32, relative to the largest magnitude of the reference


# --- torch references (torchvision's layout) -----------------------------------------------------
class TorchAlexNet(tnn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = tnn.Sequential(
            tnn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
            tnn.Conv2d(64, 192, kernel_size=5, padding=2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
            tnn.Conv2d(192, 384, kernel_size=3, padding=1), tnn.ReLU(),
            tnn.Conv2d(384, 256, kernel_size=3, padding=1), tnn.ReLU(),
            tnn.Conv2d(256, 256, kernel_size=3, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, 2))
        self.avgpool = tnn.AdaptiveAvgPool2d((6, 6))
        self.classifier = tnn.Sequential(
            tnn.Dropout(0.5), tnn.Linear(9216, 4096), tnn.ReLU(), tnn.Dropout(0.5), tnn.Linear(4096, 4096),
            tnn.ReLU(), tnn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class TorchVGG(tnn.Module):
    def __init__(self, cfg, batch_norm=False, num_classes=1000):
        super().__init__()
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(tnn.MaxPool2d(2, 2))
            else:
                layers.append(tnn.Conv2d(c, v, 3, padding=1))
                layers += [tnn.BatchNorm2d(v), tnn.ReLU()] if batch_norm else [tnn.ReLU()]
                c = v
        self.features = tnn.Sequential(*layers)
        self.avgpool = tnn.AdaptiveAvgPool2d((7, 7))
        self.classifier = tnn.Sequential(
            tnn.Linear(25088, 4096), tnn.ReLU(), tnn.Dropout(), tnn.Linear(4096, 4096), tnn.ReLU(), tnn.Dropout(),
            tnn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class TorchBasicBlock(tnn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU()
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class TorchBottleneck(tnn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


class TorchResNet(tnn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU()
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2)
        self.layer3 = self._make_layer(block, 256, layers[2], 2)
        self.layer4 = self._make_layer(block, 512, layers[3], 2)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = tnn.Sequential(tnn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                        tnn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return tnn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TorchBasicConv2d(tnn.Module):
    def __init__(self, cin, cout, **kwargs):
        super().__init__()
        self.conv = tnn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = tnn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return TF.relu(self.bn(self.conv(x)))


class TorchInception(tnn.Module):
    def __init__(self, cin, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = TorchBasicConv2d(cin, ch1x1, kernel_size=1)
        self.branch2 = tnn.Sequential(TorchBasicConv2d(cin, ch3x3red, kernel_size=1),
                                      TorchBasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = tnn.Sequential(TorchBasicConv2d(cin, ch5x5red, kernel_size=1),
                                      TorchBasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = tnn.Sequential(tnn.MaxPool2d(3, 1, 1, ceil_mode=True), TorchBasicConv2d(cin, pool_proj,
                                                                                               kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class TorchInceptionAux(tnn.Module):
    def __init__(self, cin, num_classes, dropout=0.7):
        super().__init__()
        self.p = dropout
        self.conv = TorchBasicConv2d(cin, 128, kernel_size=1)
        self.fc1 = tnn.Linear(2048, 1024)
        self.fc2 = tnn.Linear(1024, num_classes)

    def forward(self, x):
        x = torch.flatten(self.conv(TF.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(TF.dropout(TF.relu(self.fc1(x)), self.p, self.training))


class TorchGoogLeNet(tnn.Module):
    SPECS = [("inception3a", (192, 64, 96, 128, 16, 32, 32)), ("inception3b", (256, 128, 128, 192, 32, 96, 64)),
             ("inception4a", (480, 192, 96, 208, 16, 48, 64)), ("inception4b", (512, 160, 112, 224, 24, 64, 64)),
             ("inception4c", (512, 128, 128, 256, 24, 64, 64)), ("inception4d", (512, 112, 144, 288, 32, 64, 64)),
             ("inception4e", (528, 256, 160, 320, 32, 128, 128)),
             ("inception5a", (832, 256, 160, 320, 32, 128, 128)),
             ("inception5b", (832, 384, 192, 384, 48, 128, 128))]

    def __init__(self, num_classes=1000, aux_logits=True, dropout=0.2, dropout_aux=0.7):
        super().__init__()
        self.conv1 = TorchBasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = tnn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = TorchBasicConv2d(64, 64, kernel_size=1)
        self.conv3 = TorchBasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = tnn.MaxPool2d(3, 2, ceil_mode=True)
        for name, spec in self.SPECS:
            setattr(self, name, TorchInception(*spec))
        self.maxpool3 = tnn.MaxPool2d(3, 2, ceil_mode=True)
        self.maxpool4 = tnn.MaxPool2d(2, 2, ceil_mode=True)
        self.aux1 = TorchInceptionAux(512, num_classes, dropout_aux) if aux_logits else None
        self.aux2 = TorchInceptionAux(528, num_classes, dropout_aux) if aux_logits else None
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.dropout = tnn.Dropout(dropout)
        self.fc = tnn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.inception4a(self.maxpool3(self.inception3b(self.inception3a(x))))
        aux1 = self.aux1(x) if self.training and self.aux1 is not None else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.training and self.aux2 is not None else None
        x = self.inception5b(self.inception5a(self.maxpool4(self.inception4e(x))))
        x = self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))
        return (x, aux2, aux1) if aux1 is not None else x


# --- helpers -------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def skip_random_init(monkeypatch):
    """The constructors' own random init is replaced by :func:`randomize` (float32 draws, several
    times faster for the 10^8 weights of VGG's classifier on a busy machine)."""
    def leave_empty(tensor, *args, **kwargs):
        return tensor
    for name in ("uniform_", "normal_", "trunc_normal_"):
        monkeypatch.setattr(cg.nn.init, name, leave_empty)


def randomize(model, seed=0):
    """Fill every parameter with U(-1, 1) / sqrt(fan_in) and give every BatchNorm non-trivial affine
    parameters and running statistics (eval mode uses them)."""
    rng = np.random.default_rng(seed)
    state = {}
    for name, param in model.named_parameters():
        shape = param.shape
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        scale = 1.0 / np.sqrt(fan_in) if len(shape) > 1 else 0.1
        state[name] = (rng.random(shape, dtype=np.float32) * 2 - 1) * np.float32(scale)
    for name, module in model.named_modules():
        if isinstance(module, cg.nn.BatchNorm2d):
            c = module.num_features
            state[f"{name}.weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
            state[f"{name}.running_mean"] = (0.1 * rng.standard_normal(c)).astype(np.float32)
            state[f"{name}.running_var"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
    model.load_state_dict(state, strict=False)


def copy_into_torch(cg_model, torch_model):
    """Load the convgrad state_dict into the torch model. ``strict=True``: the key sets are equal
    (so the names are torchvision's) and every shape agrees. A reference built on the meta device
    takes the arrays as its storage (``assign=True``), skipping torch's own init."""
    state = {k: torch.from_numpy(np.array(v)) for k, v in cg_model.state_dict().items()}
    torch_model.load_state_dict(state, strict=True, assign=True)
    return torch_model


def compare_eval(cg_model, torch_model, x):
    cg_model.eval()
    torch_model.eval()
    with cg.no_grad():
        out = cg_model(cg.tensor(x))
    with torch.no_grad():
        ref = torch_model(torch.from_numpy(x))
    return assert_close(out.numpy(), ref.numpy(), RTOL, "eval output")


def compare_batchnorm_stats(cg_model, torch_model):
    torch_state = torch_model.state_dict()
    checked = 0
    for key, value in cg_model.state_dict().items():
        if key.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked"):
            assert_close(value, torch_state[key].numpy(), RTOL, key)
            checked += 1
    return checked


def inputs(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# --- tests ---------------------------------------------------------------------------------------
def test_alexnet_matches_torch_reference():
    cg.manual_seed(0)
    model = models.alexnet(num_classes=10)
    with torch.device("meta"):
        ref = TorchAlexNet(num_classes=10)
    randomize(model)
    copy_into_torch(model, ref)
    compare_eval(model, ref, inputs((2, 3, 127, 127)))


def test_vgg11_matches_torch_reference():
    cg.manual_seed(0)
    model = models.vgg11(num_classes=10)
    with torch.device("meta"):
        ref = TorchVGG([64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"], num_classes=10)
    randomize(model)
    copy_into_torch(model, ref)
    # 64x64 reaches the 7x7 adaptive pool as 2x2: exercises the pool's overlapping windows too
    compare_eval(model, ref, inputs((2, 3, 64, 64)))


@pytest.mark.parametrize("name,block,layers,n_bn,size", [
    ("resnet18", TorchBasicBlock, [2, 2, 2, 2], 1 + 8 * 2 + 3, 48),
    ("resnet50", TorchBottleneck, [3, 4, 6, 3], 1 + 16 * 3 + 4, 48),  # 32x32: layer4's BN sees 1x1 maps
])
def test_resnet_matches_torch_reference(name, block, layers, n_bn, size):
    cg.manual_seed(0)
    model = models.get_model(name, num_classes=10)
    with torch.device("meta"):
        ref = TorchResNet(block, layers, num_classes=10)
    randomize(model)
    copy_into_torch(model, ref)
    compare_eval(model, ref, inputs((2, 3, size, size)))
    # training mode: batch statistics in the forward pass, running statistics updated with momentum
    model.train()
    ref.train()
    x = inputs((3, 3, size, size), seed=3)
    out = model(cg.tensor(x))
    expected = ref(torch.from_numpy(x))
    assert_close(out.numpy(), expected.detach().numpy(), RTOL, "train output")
    assert compare_batchnorm_stats(model, ref) == 3 * n_bn
    if name == "resnet18":  # and the gradients of every parameter through the whole network
        g = np.random.default_rng(4).standard_normal(out.shape).astype(np.float32)
        out.backward(cg.tensor(g))
        expected.backward(torch.from_numpy(g))
        torch_params = dict(ref.named_parameters())
        for key, p in model.named_parameters():
            assert_close(p.grad.numpy(), torch_params[key].grad.numpy(), 1e-3, f"grad of {key}")


def test_googlenet_matches_torch_reference():
    cg.manual_seed(0)
    model = models.googlenet(num_classes=10, dropout=0.0, dropout_aux=0.0)
    with torch.device("meta"):
        ref = TorchGoogLeNet(num_classes=10, dropout=0.0, dropout_aux=0.0)
    randomize(model)
    copy_into_torch(model, ref)
    compare_eval(model, ref, inputs((2, 3, 96, 96)))
    # training mode: the auxiliary heads run too, in torchvision's order (logits, aux2, aux1)
    model.train()
    ref.train()
    x = inputs((2, 3, 64, 64), seed=5)  # 32x32 would leave inception5's BatchNorm 2 values per channel
    out = model(cg.tensor(x))
    assert isinstance(out, models.GoogLeNetOutputs)
    expected = ref(torch.from_numpy(x))
    for field, mine, theirs in zip(out._fields, out, expected):
        assert_close(mine.numpy(), theirs.detach().numpy(), RTOL, f"train {field}")
    assert compare_batchnorm_stats(model, ref) == 3 * (3 + 9 * 6 + 2)


def test_conv_autoencoder_matches_torch_reference():
    model = models.conv_autoencoder(code_dim=16, input_size=(28, 26), widths=(16, 32))  # 28x26 -> 7x7
    ref = tnn.ModuleDict({
        "encoder": tnn.Sequential(tnn.Conv2d(1, 16, 3, 2, 1), tnn.ReLU(), tnn.Conv2d(16, 32, 3, 2, 1), tnn.ReLU(),
                                  tnn.Flatten(), tnn.Linear(32 * 7 * 7, 16)),
        "decoder_fc": tnn.Sequential(tnn.Linear(16, 32 * 7 * 7), tnn.ReLU()),
        "decoder": tnn.Sequential(tnn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=(1, 0)), tnn.ReLU(),
                                  tnn.ConvTranspose2d(16, 1, 3, 2, 1, output_padding=1), tnn.Sigmoid()),
    })
    randomize(model)
    copy_into_torch(model, ref)
    x = np.random.default_rng(0).random((3, 1, 28, 26), dtype=np.float32)
    out = model(cg.tensor(x))
    code = ref["encoder"](torch.from_numpy(x))
    expected = ref["decoder"](ref["decoder_fc"](code).reshape(3, 32, 7, 7))
    assert_close(out.numpy(), expected.detach().numpy(), RTOL, "reconstruction")
    cg.nn.functional.mse_loss(out, cg.tensor(x)).backward()
    TF.mse_loss(expected, torch.from_numpy(x)).backward()
    torch_params = dict(ref.named_parameters())
    for key, p in model.named_parameters():
        assert_close(p.grad.numpy(), torch_params[key].grad.numpy(), 1e-3, f"grad of {key}")
