"""Layers accept what PyTorch's accept: every convgrad.nn layer with a torch.nn counterpart, fed
its usual batched input, the same input without the batch dimension, a zero-size batch and (for
elementwise layers) a 0-d tensor. Where PyTorch accepts an input convgrad must too, with the same
output and input gradients (float64); where PyTorch refuses, nothing is asserted.

The table LAYERS lists constructor arguments and batched input shapes; a test checks that every
layer with a torch.nn counterpart is in it, so a new layer cannot skip the probe.
"""
import inspect

import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.nn as nn
from oracle import assert_close

RTOL = 1e-7  # float64; PyTorch's own Hardsigmoid and CELU gradients use float32 constants (~1e-8)


def _close(actual, expected, what):
    """assert_close, with NaN required exactly where PyTorch has NaN (losses of empty batches)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    assert np.array_equal(np.isnan(actual), np.isnan(expected)), f"{what}: NaN where PyTorch has none or back"
    assert_close(np.nan_to_num(actual), np.nan_to_num(expected), RTOL, what)


def _floats(*shape):
    return ("float", shape)


def _classes(classes, *shape):
    return ("classes", classes, shape)


def _probs(*shape):
    return ("probs", shape)


def _signs(*shape):
    return ("signs", shape)


# name -> (constructor args, constructor kwargs, inputs of a batched call: first axis is the batch)
X4 = [_floats(2, 3, 6, 6)]
LAYERS = {
    "AdaptiveAvgPool1d": ((3,), {}, [_floats(2, 3, 7)]),
    "AdaptiveAvgPool2d": (((3, 2),), {}, X4),
    "AdaptiveAvgPool3d": ((2,), {}, [_floats(2, 3, 4, 5, 4)]),
    "AdaptiveMaxPool1d": ((3,), {}, [_floats(2, 3, 7)]),
    "AdaptiveMaxPool2d": (((3, 2),), {"return_indices": True}, X4),
    "AdaptiveMaxPool3d": ((2,), {}, [_floats(2, 3, 4, 5, 4)]),
    "AlphaDropout": ((0.3,), {}, X4),
    "AvgPool1d": ((3,), {"stride": 2, "padding": 1}, [_floats(2, 3, 9)]),
    "AvgPool2d": ((3,), {"stride": 2, "padding": 1, "count_include_pad": False}, X4),
    "AvgPool3d": ((2,), {"ceil_mode": True}, [_floats(2, 3, 5, 4, 5)]),
    "BCELoss": ((), {}, [_probs(4, 3), _probs(4, 3)]),
    "BCEWithLogitsLoss": ((), {}, [_floats(4, 3), _probs(4, 3)]),
    "BatchNorm1d": ((3,), {}, [_floats(4, 3, 5)]),
    "BatchNorm2d": ((3,), {}, X4),
    "BatchNorm3d": ((3,), {}, [_floats(2, 3, 3, 4, 3)]),
    "Bilinear": ((3, 4, 5), {}, [_floats(6, 3), _floats(6, 4)]),
    "CELU": ((0.7,), {}, X4),
    "CircularPad1d": ((2,), {}, [_floats(2, 3, 5)]),
    "CircularPad2d": (((1, 2, 0, 1),), {}, X4),
    "CircularPad3d": ((1,), {}, [_floats(2, 3, 3, 4, 3)]),
    "ConstantPad1d": (((2, 1), 1.5), {}, [_floats(2, 3, 5)]),
    "ConstantPad2d": ((1, -0.5), {}, X4),
    "ConstantPad3d": (((1, 0, 2, 1, 0, 1), 2.0), {}, [_floats(2, 3, 3, 4, 3)]),
    "Conv1d": ((3, 4, 3), {"padding": 1}, [_floats(2, 3, 8)]),
    "Conv2d": ((3, 4, 3), {"stride": 2}, X4),
    "Conv3d": ((3, 2, 2), {}, [_floats(2, 3, 4, 4, 4)]),
    "ConvTranspose1d": ((3, 4, 3), {"stride": 2}, [_floats(2, 3, 5)]),
    "ConvTranspose2d": ((3, 4, 3), {"stride": 2, "padding": 1}, X4),
    "ConvTranspose3d": ((3, 2, 2), {}, [_floats(2, 3, 3, 3, 3)]),
    "CosineEmbeddingLoss": ((), {"margin": 0.2}, [_floats(5, 4), _floats(5, 4), _signs(5)]),
    "CrossEntropyLoss": ((), {"label_smoothing": 0.1}, [_floats(4, 5), _classes(5, 4)]),
    "Dropout": ((0.3,), {}, X4),
    "Dropout1d": ((0.3,), {}, [_floats(2, 3, 7)]),
    "Dropout2d": ((0.3,), {}, X4),
    "Dropout3d": ((0.3,), {}, [_floats(2, 3, 3, 4, 3)]),
    "ELU": ((0.5,), {}, X4),
    "Embedding": ((10, 4), {"padding_idx": 2}, [_classes(10, 3, 5)]),
    "FeatureAlphaDropout": ((0.3,), {}, [_floats(2, 3, 3, 4, 3)]),
    "Flatten": ((), {}, X4),
    "FractionalMaxPool2d": ((2,), {"output_size": 3}, X4),
    "FractionalMaxPool3d": ((2,), {"output_ratio": 0.5}, [_floats(2, 3, 6, 6, 6)]),
    "GELU": ((), {"approximate": "tanh"}, X4),
    "GLU": ((), {"dim": -1}, X4),
    "GaussianNLLLoss": ((), {}, [_floats(4, 3), _floats(4, 3), _probs(4, 3)]),
    "GroupNorm": ((1, 3), {}, X4),
    "Hardshrink": ((0.3,), {}, X4),
    "Hardsigmoid": ((), {}, X4),
    "Hardswish": ((), {}, X4),
    "Hardtanh": ((-0.5, 0.5), {}, X4),
    "HingeEmbeddingLoss": ((), {}, [_floats(5, 3), _signs(5, 3)]),
    "HuberLoss": ((), {"delta": 0.5}, [_floats(4, 3), _floats(4, 3)]),
    "Identity": ((), {}, X4),
    "InstanceNorm1d": ((3,), {"affine": True}, [_floats(2, 3, 7)]),
    "InstanceNorm2d": ((3,), {"track_running_stats": True}, X4),
    "InstanceNorm3d": ((3,), {}, [_floats(2, 3, 3, 4, 3)]),
    "KLDivLoss": ((), {"reduction": "batchmean"}, [_floats(4, 3), _probs(4, 3)]),
    "L1Loss": ((), {}, [_floats(4, 3), _floats(4, 3)]),
    "LPPool1d": ((2, 3), {"stride": 2}, [_floats(2, 3, 9)]),
    "LPPool2d": ((2, 2), {}, X4),
    "LPPool3d": ((2, 2), {}, [_floats(2, 3, 4, 4, 4)]),
    "LayerNorm": (((6, 6),), {}, X4),
    "LeakyReLU": ((0.2,), {}, X4),
    "Linear": ((6, 4), {}, X4),
    "LocalResponseNorm": ((2,), {}, X4),
    "LogSigmoid": ((), {}, X4),
    "LogSoftmax": ((1,), {}, X4),
    "MSELoss": ((), {}, [_floats(4, 3), _floats(4, 3)]),
    "MarginRankingLoss": ((), {"margin": 0.1}, [_floats(5), _floats(5), _signs(5)]),
    "MaxPool1d": ((3,), {"stride": 2, "return_indices": True}, [_floats(2, 3, 9)]),
    "MaxPool2d": ((3,), {"stride": 2, "padding": 1}, X4),
    "MaxPool3d": ((2,), {}, [_floats(2, 3, 4, 4, 4)]),
    "Mish": ((), {}, X4),
    "MultiLabelSoftMarginLoss": ((), {}, [_floats(4, 3), _probs(4, 3)]),
    "MultiMarginLoss": ((), {"margin": 0.5}, [_floats(4, 5), _classes(5, 4)]),
    "NLLLoss": ((), {}, [_floats(4, 5), _classes(5, 4)]),
    "PReLU": ((3,), {}, X4),
    "PoissonNLLLoss": ((), {}, [_floats(4, 3), _probs(4, 3)]),
    "RMSNorm": (((6,),), {}, X4),
    "ReLU": ((), {}, X4),
    "ReLU6": ((), {}, X4),
    "ReflectionPad1d": ((2,), {}, [_floats(2, 3, 5)]),
    "ReflectionPad2d": (((1, 2, 0, 2),), {}, X4),
    "ReflectionPad3d": ((1,), {}, [_floats(2, 3, 3, 4, 3)]),
    "ReplicationPad1d": (((3, 1),), {}, [_floats(2, 3, 5)]),
    "ReplicationPad2d": ((2,), {}, X4),
    "ReplicationPad3d": (((1, 0, 2, 1, 0, 2),), {}, [_floats(2, 3, 3, 4, 3)]),
    "SELU": ((), {}, X4),
    "SiLU": ((), {}, X4),
    "Sigmoid": ((), {}, X4),
    "SmoothL1Loss": ((), {"beta": 0.5}, [_floats(4, 3), _floats(4, 3)]),
    "SoftMarginLoss": ((), {}, [_floats(4, 3), _signs(4, 3)]),
    "Softmax": ((1,), {}, X4),
    "Softmax2d": ((), {}, X4),
    "Softmin": ((1,), {}, X4),
    "Softplus": ((2.0,), {}, X4),
    "Softshrink": ((0.3,), {}, X4),
    "Softsign": ((), {}, X4),
    "Tanh": ((), {}, X4),
    "Tanhshrink": ((), {}, X4),
    "Threshold": ((0.1, -1.0), {}, X4),
    "Unflatten": ((1, (3, 1)), {}, X4),
    "Upsample": ((), {"scale_factor": 2, "mode": "bilinear", "align_corners": True}, X4),
    "UpsamplingBilinear2d": ((), {"size": (4, 7)}, X4),
    "UpsamplingNearest2d": ((), {"scale_factor": 3}, X4),
    "ZeroPad1d": ((2,), {}, [_floats(2, 3, 5)]),
    "ZeroPad2d": (((1, 0, 2, 1),), {}, X4),
    "ZeroPad3d": ((1,), {}, [_floats(2, 3, 3, 4, 3)]),
}
# layers that take something other than one batch of samples, with their own tests
NOT_PROBED = {"Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
              "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "CTCLoss", "MultiLabelMarginLoss"}
# PyTorch 2.13 returns uninitialised memory for multi_margin_loss of an empty batch ('mean'/'sum');
# convgrad returns NaN / 0 like its other losses
PYTORCH_UNDEFINED = {("MultiMarginLoss", "zero_batch")}
RANDOM = {"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
          "FractionalMaxPool2d", "FractionalMaxPool3d"}
ELEMENTWISE = {"CELU", "ELU", "GELU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "Identity",
               "LeakyReLU", "LogSigmoid", "Mish", "ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid", "Softplus",
               "Softshrink", "Softsign", "Tanh", "Tanhshrink", "Threshold", "PReLU", "Dropout", "AlphaDropout"}


def _layer_names():
    return sorted(n for n in dir(nn) if inspect.isclass(getattr(nn, n)) and issubclass(getattr(nn, n), nn.Module)
                  and hasattr(torch.nn, n))


def test_every_layer_with_a_torch_counterpart_is_probed():
    missing = [n for n in _layer_names() if n not in LAYERS and n not in NOT_PROBED]
    assert not missing, f"add these layers to LAYERS: {missing}"


def _make(spec, shape, rng):
    kind = spec[0]
    if kind == "float":
        return rng.standard_normal(shape)
    if kind == "probs":
        return rng.uniform(0.05, 0.95, shape)
    if kind == "signs":
        return rng.choice([-1.0, 1.0], shape)
    return rng.integers(0, spec[1], shape)


def variants(name):
    """(label, list of input arrays) for the batched call, no batch dimension, empty batch, 0-d."""
    args, kwargs, specs = LAYERS[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    shapes = [spec[-1] for spec in specs]
    out = [("batched", [_make(s, sh, rng) for s, sh in zip(specs, shapes)])]
    out.append(("no_batch_dim", [_make(s, sh[1:], rng) for s, sh in zip(specs, shapes)]))
    out.append(("zero_batch", [_make(s, (0,) + sh[1:], rng) for s, sh in zip(specs, shapes)]))
    if name in ELEMENTWISE:
        out.append(("scalar", [_make(s, (), rng) for s in specs]))
    return out


CASES = [(name, label) for name in sorted(LAYERS) for label, _ in variants(name)]


def _build(name, args, kwargs, inputs):
    t_kwargs, c_kwargs = dict(kwargs), dict(kwargs)
    if name == "FractionalMaxPool2d" or name == "FractionalMaxPool3d":
        nd = 2 if name.endswith("2d") else 3
        x = inputs[0]
        batch = x.shape[0] if x.ndim == nd + 2 else 1
        samples = np.random.default_rng(0).random((max(batch, 1), x.shape[-nd - 1], nd))
        t_kwargs["_random_samples"] = torch.tensor(samples)
        c_kwargs["_random_samples"] = cg.tensor(samples)
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(*args, **t_kwargs).double()
    cm = getattr(nn, name)(*args, **c_kwargs).to(np.float64)
    cm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    return tm, cm


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name,label", CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_layer_accepts_what_torch_accepts(name, label, training):
    if (name, label) in PYTORCH_UNDEFINED:
        pytest.skip("PyTorch's result is undefined here")
    args, kwargs, specs = LAYERS[name]
    inputs = dict(variants(name))[label]
    tm, cm = _build(name, args, kwargs, inputs)
    tm.train(training)
    cm.train(training)
    t_in = [torch.tensor(a, requires_grad=a.dtype.kind == "f" and s[0] != "signs") for a, s in zip(inputs, specs)]
    try:
        t_out = _first(tm(*t_in))
    except (RuntimeError, ValueError, IndexError):
        pytest.skip("PyTorch refuses this input too")
    c_in = [cg.tensor(a.copy(), requires_grad=t.requires_grad) for a, t in zip(inputs, t_in)]
    c_out = _first(cm(*c_in))
    if name in RANDOM and training:
        assert tuple(c_out.shape) == tuple(t_out.shape)
        return
    _close(c_out.numpy(), t_out.detach().numpy(), f"{name} {label} forward")
    if not t_out.requires_grad:
        return
    g = np.random.default_rng(1).standard_normal(tuple(t_out.shape))
    t_out.backward(torch.tensor(g))
    c_out.backward(cg.tensor(g))
    for i, (c, t) in enumerate(zip(c_in, t_in)):
        if t.requires_grad:
            expected = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
            actual = np.zeros(c.shape) if c.grad is None else c.grad.numpy()
            _close(actual, expected, f"{name} {label} gradient of input {i}")
    params = dict(cm.named_parameters())
    for pname, p in tm.named_parameters():
        if p.grad is not None:
            cp = params[pname]
            _close(np.zeros(cp.shape) if cp.grad is None else cp.grad.numpy(), p.grad.numpy(),
                   f"{name} {label} gradient of {pname}")
