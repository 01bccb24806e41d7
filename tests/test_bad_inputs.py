"""Bad input gets a clear error: one table of wrong calls across ops, layers, optimizers, data
readers, images and checkpoints. Each must raise one of convgrad's own exception types (all
subclasses of ConvgradError, and of ValueError or TypeError) with a message naming the op or
layer, what it expected and what it got. The CLI's table of bad invocations is in test_cli.py."""
import gzip
import math

import numpy as np
import pytest

import convgrad as cg
import convgrad.nn.functional as F
from convgrad import nn
from convgrad.errors import ConvgradError


def z(*shape):
    return cg.zeros(*shape)


def params():
    return nn.Linear(2, 2).parameters()


OPS = [
    (lambda: F.conv2d(z(1, 28, 28, 1, 1), z(6, 1, 5, 5)), ValueError, "conv2d: expected a 3-D (unbatched) or 4-D"),
    (lambda: F.conv2d(z(1, 3, 8, 8), z(6, 1, 3, 3)), ValueError, "conv2d"),
    (lambda: F.conv2d(z(1, 1, 3, 3), z(6, 1, 5, 5)), ValueError, "larger than the padded input"),
    (lambda: F.conv2d(z(1, 4, 8, 8), z(6, 2, 3, 3), groups=3), ValueError, "with 6 channels, got (1, 4, 8, 8)"),
    (lambda: F.conv2d(z(1, 1, 8, 8), z(6, 1, 3, 3), stride=0), ValueError, "stride"),
    (lambda: F.conv1d(z(1, 2, 1), z(4, 2, 3)), ValueError, "conv1d"),
    (lambda: F.conv3d(z(1, 2, 8, 8), z(4, 2, 3, 3, 3)), ValueError, "conv3d"),
    (lambda: F.conv_transpose2d(z(1, 3, 8, 8), z(4, 2, 3, 3)), ValueError, "conv_transpose2d"),
    (lambda: F.pad(z(4), (1, 1, 1, 1)), ValueError, "pad"),
    (lambda: F.max_pool2d(z(1, 1, 2, 2), 3), ValueError, "max_pool2d: the window"),
    (lambda: F.max_pool2d(z(1, 1, 8, 8), 2, padding=2), ValueError, "padding must be at most half"),
    (lambda: F.avg_pool2d(z(8, 8), 2), ValueError, "avg_pool2d: expected a non-empty 3-D"),
    (lambda: F.max_pool2d(z(1, 1, 8, 8), 2, stride=0), ValueError, "max_pool2d"),
    (lambda: F.adaptive_avg_pool2d(z(1, 1, 8, 8), (-1, 2)), ValueError, "adaptive_avg_pool2d"),
    (lambda: F.linear(z(4, 3), z(5, 2)), ValueError, "linear"),
    (lambda: F.cross_entropy(z(4, 10), cg.tensor([0, 1, 2, 12])), ValueError, "class indices in [0, 10), got 12"),
    (lambda: F.cross_entropy(z(4, 10), cg.tensor([0, 1, 2])), ValueError, "expected target of shape (4,)"),
    (lambda: F.cross_entropy(z(4, 10), z(4)), TypeError, "cross_entropy"),
    (lambda: F.mse_loss(z(3), z(4)), ValueError, "mse_loss"),
    (lambda: F.cross_entropy(z(4, 10), cg.tensor([0, 1, 2, 3]), reduction="avg"), ValueError, "reduction"),
    (lambda: F.dropout(z(3), p=1.5), ValueError, "dropout probability has to be between 0 and 1, but got 1.5"),
    (lambda: F.dropout(z(3), p=math.nan), ValueError, "dropout"),
    (lambda: F.batch_norm(z(4, 3), z(2), z(2), training=True), ValueError, "batch_norm"),
    (lambda: F.softmax(z(2, 3), dim=4), ValueError, "softmax"),
    (lambda: z(3, 4).reshape(5, 3), ValueError, "reshape: cannot view shape (3, 4)"),
    (lambda: cg.cat([z(2, 3), z(3, 4)]), ValueError, "cat: tensors must match except in dimension 0"),
    (lambda: z(2, 3) @ z(4, 5), ValueError, "matmul: inner dimensions differ"),
    (lambda: z(2, 3).permute(0, 0), ValueError, "permute"),
    (lambda: cg.tensor([1, 2]).requires_grad_(), TypeError, "only floating point tensors can require gradients"),
]

LAYERS = [
    (lambda: nn.Conv2d(3, 64, 7)(z(8, 1, 28, 28)), ValueError,
     "Conv2d(3, 64, kernel_size=(7, 7)): expected input of shape (N, 3, H, W)"),
    (lambda: nn.Conv2d(6, 4, 3, groups=4), ValueError, "groups=4 must divide in_channels=6"),
    (lambda: nn.Conv2d(0, 4, 3), ValueError, "Conv2d"),
    (lambda: nn.Conv2d(1, 4, 3, padding_mode="mirror"), ValueError, "padding_mode"),
    (lambda: nn.MaxPool2d(2)(z(8, 8)), ValueError, "MaxPool2d"),
    (lambda: nn.Linear(400, 120)(z(64, 256)), ValueError,
     "Linear(in_features=400, out_features=120): expected input with last dimension 400, got (64, 256)"),
    (lambda: nn.BatchNorm2d(64)(z(8, 32, 14, 14)), ValueError,
     "BatchNorm2d(64): expected input with 64 channels (N, 64, H, W), got (8, 32, 14, 14)"),
    (lambda: nn.BatchNorm1d(4)(z(1, 4)), ValueError, "BatchNorm1d"),
    (lambda: nn.GroupNorm(3, 4), ValueError, "GroupNorm"),
    (lambda: nn.Dropout(p=-0.1), ValueError, "Dropout"),
    (lambda: nn.Linear(2, 2).load_state_dict({"weight": np.zeros((3, 3)), "bias": np.zeros(2)}), KeyError,
     "'weight' has shape (3, 3) in the file, the model expects (2, 2)"),
    (lambda: nn.Linear(2, 2).load_state_dict({"weight": np.zeros((2, 2))}), KeyError, "missing keys ['bias']"),
    (lambda: cg.models.get_model("resnet9000"), ValueError, "unknown model 'resnet9000'; available models"),
    (lambda: cg.models.lenet5()(z(2, 1, 12, 12)), ValueError, "Linear(in_features=400, out_features=120)"),
    (lambda: cg.models.resnet18()(z(2, 3, 224)), ValueError, "Conv2d(3, 64, kernel_size=(7, 7)"),
    (lambda: cg.models.lenet5()(z(1, 1, 28, 28), return_layers=["conv9"]), ValueError, "conv9"),
]

OPTIMIZERS = [
    (lambda: cg.optim.SGD(params(), lr=-1), ValueError, "learning rate"),
    (lambda: cg.optim.SGD(params(), lr=0.1, nesterov=True), ValueError, "Nesterov momentum requires a momentum"),
    (lambda: cg.optim.Adam(params(), betas=(0.9, 1.5)), ValueError, "beta parameter at index 1: 1.5"),
    (lambda: cg.optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
    (lambda: cg.optim.SGD([np.zeros(3)], lr=0.1), TypeError, "can only optimize Tensors"),
    (lambda: cg.optim.lr_scheduler.StepLR("not an optimizer", 3), TypeError, "is not an Optimizer"),
]


def _file(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def readers(tmp_path):
    header = bytes([0, 0, 8, 3]) + np.array([10 ** 6, 28, 28], ">u4").tobytes()
    return [
        (lambda: cg.data.mnist.read_idx(tmp_path / "missing-idx3-ubyte"), FileNotFoundError, "does not exist"),
        (lambda: cg.data.mnist.read_idx(_file(tmp_path, "bad-magic", b"\x01\x02\x03\x04" + b"\x00" * 16)),
         ValueError, "bad-magic"),
        (lambda: cg.data.mnist.read_idx(_file(tmp_path, "lying", header + b"\x00" * 100)), ValueError, "lying"),
        (lambda: cg.data.mnist.read_idx(_file(tmp_path, "trunc.gz", gzip.compress(header[:6]))), ValueError,
         "truncated"),
        (lambda: cg.data.MNIST(root=tmp_path / "nowhere"), FileNotFoundError, "nowhere"),
        (lambda: cg.data.images.load_digit(_file(tmp_path, "fake.png", b"not an image")), ValueError,
         "cannot read"),
        (lambda: cg.load(tmp_path / "absent.npz"), ValueError, "does not exist"),
        (lambda: cg.load(_file(tmp_path, "random.npz", bytes(range(256)) * 3)), ValueError, "random.npz"),
        (lambda: cg.load(_file(tmp_path, "random.safetensors", b"\xff" * 64)), ValueError, "random.safetensors"),
        (lambda: cg.io.safetensors_io.load_safetensors(_file(tmp_path, "short.safetensors", b"\x08\x00")), ValueError,
         "short.safetensors"),
    ]


CASES = OPS + LAYERS + OPTIMIZERS


@pytest.mark.parametrize("call, kind, fragment", CASES, ids=[f"{i}" for i in range(len(CASES))])
def test_bad_input_raises_a_clear_convgrad_error(call, kind, fragment):
    with pytest.raises(ConvgradError) as info:
        call()
    assert isinstance(info.value, kind), f"{type(info.value).__mro__} is not a {kind.__name__}"
    assert fragment in str(info.value), str(info.value)


def test_bad_files_raise_a_clear_convgrad_error(tmp_path):
    checked = 0
    for call, kind, fragment in readers(tmp_path):
        with pytest.raises(ConvgradError) as info:
            call()
        assert isinstance(info.value, kind), f"{type(info.value).__mro__} is not a {kind.__name__}"
        assert fragment in str(info.value), str(info.value)
        checked += 1
    assert checked == 10


def test_the_table_is_large_enough():
    assert len(CASES) + 10 >= 40
