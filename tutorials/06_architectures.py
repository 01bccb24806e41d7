"""# 6. Architectures: AlexNet to ResNet

Every ImageNet winner of 2012-2015 is in the zoo ([`convgrad.models`](../api/convgrad.models.md)),
and [`convgrad.summary`](../api/convgrad.inspect.md) tabulates any of them: parameters,
**mult-adds** (multiply-accumulate operations for one 224x224 image, the usual measure of compute)
and layers. The tutorial prints them side by side; the full run adds ZF Net, VGG-16 and NiN.

| model | year | parameters | mult-adds | layers with weights |
|---|---|---|---|---|
| AlexNet | 2012 | 61.1 M | 0.71 G | 8 |
| ZF Net | 2013 | 62.4 M | 1.17 G | 8 |
| VGG-16 | 2014 | 138.4 M | 15.5 G | 16 |
| NiN | 2014 | 7.6 M | 1.10 G | 12 |
| GoogLeNet | 2014 | 13.0 M (6.6 M without the two training-only auxiliary heads) | **1.50 G** | 58 |
| ResNet-18 | 2015 | 11.7 M | 1.81 G | 21 |
| ResNet-50 | 2015 | 25.6 M | 4.09 G | 54 |

(Layers with weights counts every convolution and linear layer that runs, including GoogLeNet's
parallel branches and ResNet's projection shortcuts, so it is not the papers' "depth".)

**GoogLeNet's budget.** Its authors designed it to cost about **1.5 G mult-adds** per image, so that
it could run outside the lab -- a tenth of VGG-16 for better accuracy. The trick is the
**1x1 convolution**: a per-pixel linear map across channels that cuts 192 channels down to 16
before the expensive 5x5 convolution. For Inception 3a's 5x5 branch on a 28x28 map:

    direct:        28·28 · 32 · (5·5·192)               = 120.4 M mult-adds
    1x1 then 5x5:  28·28 · 16 · 192 + 28·28 · 32 · (5·5·16) = 2.4 M + 10.0 M = 12.4 M

about **10 times** less, with the same output shape.

**Residual connections.** Stack 30 convolution + ReLU layers and the gradient reaching the first
layer is less than a millionth of the gradient at the last one (here about 1e-12): it shrinks a little in every layer and
vanishes. Add each block's input to its output (`h = h + relu(conv(h))`, ResNet's identity
shortcut) and the gradient has a path around every layer: the first layer gets a gradient of the
same order as the last (here a fifth of it). Look at `architectures.png` (left: cost against parameters; right: the
gradient norm per layer, plain and residual, on a log scale).

Run: `python tutorials/06_architectures.py [--quick] [--out DIR]`.
"""
import numpy as np

import convgrad as cg
import convgrad.nn as nn
import convgrad.nn.functional as F
from convgrad import summary

from _common import pyplot, save, setup

args = setup(6, __doc__)

# --- the zoo side by side ---------------------------------------------------------------------------
names = ["alexnet", "googlenet", "resnet18"] if args.quick else [
    "alexnet", "zfnet", "vgg16", "nin", "googlenet", "resnet18", "resnet50"]
rows = {}
print(f"{'model':<10} {'parameters':>12} {'mult-adds':>10} {'weighted layers':>16}")
for name in names:
    s = summary(cg.models.get_model(name), (3, 224, 224))
    weighted = sum(1 for layer in s.layers if layer.type in ("Conv2d", "Linear"))
    rows[name] = (s.total_params, s.total_macs, weighted)
    print(f"{name:<10} {s.total_params / 1e6:>10.1f} M {s.total_macs / 1e9:>8.2f} G {weighted:>16}")
assert round(rows["alexnet"][0] / 1e6, 1) == 61.1 and round(rows["alexnet"][1] / 1e9, 2) == 0.71
assert round(rows["googlenet"][1] / 1e9, 2) == 1.50    # GoogLeNet's 1.5 G mult-adds budget
assert round(rows["googlenet"][0] / 1e6, 1) == 13.0
assert round(rows["resnet18"][0] / 1e6, 1) == 11.7 and rows["resnet18"][2] == 21
if not args.quick:
    assert round(rows["vgg16"][1] / 1e9, 1) == 15.5 and rows["vgg16"][0] == 138_357_544
    assert rows["resnet50"][0] == 25_557_032 and round(rows["resnet50"][1] / 1e9, 2) == 4.09
    assert rows["vgg16"][1] > 10 * rows["googlenet"][1]

# --- why 1x1 convolutions: Inception 3a's 5x5 branch ---------------------------------------------
direct = nn.Conv2d(192, 32, 5, padding=2)
reduced = nn.Sequential(nn.Conv2d(192, 16, 1), nn.ReLU(), nn.Conv2d(16, 32, 5, padding=2))
cost_direct = summary(direct, (192, 28, 28)).total_macs
cost_reduced = summary(reduced, (192, 28, 28)).total_macs
print(f"5x5 branch of Inception 3a: direct {cost_direct / 1e6:.1f} M mult-adds, "
      f"with a 1x1 reduction first {cost_reduced / 1e6:.1f} M ({cost_direct / cost_reduced:.1f}x less)")
assert cost_direct == 28 * 28 * 32 * 5 * 5 * 192 and cost_reduced == 28 * 28 * (16 * 192 + 32 * 5 * 5 * 16)
assert cost_direct / cost_reduced > 9

# --- why residual connections: the gradient through 30 layers --------------------------------------
cg.manual_seed(0)
depth = 30
convs = [nn.Conv2d(8, 8, 3, padding=1) for _ in range(depth)]
x = cg.tensor(np.random.default_rng(0).standard_normal((4, 8, 8, 8)).astype(np.float32))
norms = {}
for kind in ("plain", "residual"):
    h = x
    for conv in convs:
        h = F.relu(conv(h)) if kind == "plain" else h + F.relu(conv(h))
    for conv in convs:
        conv.weight.grad = None
    (h * h).mean().backward()
    norms[kind] = np.array([np.linalg.norm(conv.weight.grad.numpy()) for conv in convs])
    print(f"{kind:>8}: gradient norm of layer 1 / layer {depth}: {norms[kind][0] / norms[kind][-1]:.1e}")
assert norms["plain"][0] / norms["plain"][-1] < 1e-6        # vanishes
assert norms["residual"][0] / norms["residual"][-1] > 0.1   # the same order

plt = pyplot()
if plt is not None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for name, (params, macs, _) in rows.items():
        a.scatter(params / 1e6, macs / 1e9, s=40)
        a.annotate(name, (params / 1e6, macs / 1e9), textcoords="offset points", xytext=(5, 4), fontsize=9)
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xticks([5, 10, 20, 50, 100, 200], ["5", "10", "20", "50", "100", "200"])
    a.set_xlim(5, 250)
    a.set_yticks([0.5, 1, 2, 5, 10, 20], ["0.5", "1", "2", "5", "10", "20"])
    a.minorticks_off()
    a.set_xlabel("parameters (millions)")
    a.set_ylabel("mult-adds per 224x224 image (G)")
    a.set_title("cost and size of the zoo")
    for kind, n in norms.items():
        b.semilogy(np.arange(1, depth + 1), n / n[-1], "o-", ms=3, label=kind)
    b.set_xlabel("layer")
    b.set_ylabel("weight gradient norm / last layer's")
    b.set_title(f"{depth} conv + ReLU layers: plain vs residual")
    b.legend()
    save(plt, fig, args, "architectures.png")
