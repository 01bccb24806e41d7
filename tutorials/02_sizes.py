"""# 2. Sizes: padding, stride, dilation

How big is the output of a convolution? Along each axis, for an input of size `n`, a kernel of
size `k`, padding `p` on both sides, stride `s` and dilation `d`:

    out = floor((n + 2p - d(k - 1) - 1) / s) + 1

- **padding** adds `p` zeros on each side; `p = (k - 1) / 2` with stride 1 keeps the size ("same");
- **stride** moves the window `s` pixels at a time and divides the size by about `s`;
- **dilation** spreads the kernel's taps `d` pixels apart: a 3x3 kernel with `d = 2` covers 5x5;
- pooling layers use the same formula; with `ceil_mode=True` the floor becomes a ceiling
  (a last, partial window is kept).

The tutorial checks the formula against [`F.conv2d`](../api/convgrad.functional.md) for every
combination of a few sizes, then walks through **ZF Net** ([`convgrad.models.zfnet`](../api/convgrad.models.md)),
where a 224x224 image becomes **110x110** after the first 7x7 convolution (stride 2, padding 1):
`floor((224 + 2 - 7) / 2) + 1 = 110`, and **55x55** after 3x3 max pooling with stride 2:
`ceil((110 - 3) / 2) + 1 = 55`. [`convgrad.inspect.explain`](../api/convgrad.inspect.md) prints this
arithmetic for every layer, together with the **receptive field** (how many input pixels one
output sees: `r += (k - 1) * jump`, `jump *= s`).

Look at `zfnet_sizes.png`: the feature maps shrink from 224 to 6 while the receptive field grows
from 1 pixel to 171.

Run: `python tutorials/02_sizes.py [--out DIR]`.
"""
import itertools
import math

import numpy as np

import convgrad as cg
import convgrad.nn.functional as F
from convgrad.inspect import explain

from _common import pyplot, save, setup

args = setup(2, __doc__)


def out_size(n, k, p=0, s=1, d=1, ceil_mode=False):
    """The output-size formula of convolution and pooling along one axis."""
    rounding = math.ceil if ceil_mode else math.floor
    return rounding((n + 2 * p - d * (k - 1) - 1) / s) + 1


# --- the formula against the real thing ---------------------------------------------------------
checked = 0
for n, k, p, s, d in itertools.product([7, 10, 28], [1, 3, 5], [0, 1, 2], [1, 2, 3], [1, 2]):
    if n + 2 * p < d * (k - 1) + 1:
        continue  # the kernel does not fit
    y = F.conv2d(cg.zeros(1, 1, n, n), cg.zeros(1, 1, k, k), stride=s, padding=p, dilation=d)
    assert y.shape[-1] == out_size(n, k, p, s, d), (n, k, p, s, d, y.shape)
    checked += 1
print(f"the formula matches F.conv2d in all {checked} combinations tried")

print("examples on a 28x28 MNIST digit:")
for k, p, s, d in [(3, 0, 1, 1), (3, 1, 1, 1), (5, 2, 1, 1), (3, 1, 2, 1), (3, 0, 1, 2)]:
    print(f"  kernel {k}, padding {p}, stride {s}, dilation {d}: 28 -> {out_size(28, k, p, s, d)}")
assert out_size(28, 3, 1) == 28        # "same" padding
assert out_size(28, 3, 1, s=2) == 14   # stride 2 halves
assert out_size(28, 3, 0, d=2) == 24   # a dilated 3x3 covers 5x5

# --- ZF Net: 224 -> 110 -> 55 -> ... ------------------------------------------------------------
zf = cg.models.zfnet()
text = explain(zf, (3, 224, 224))
print("\n".join(text.splitlines()[:12]), "\n  ...")
assert "floor((224 + 2*1 - 7) / 2) + 1 = 110" in text
assert "ceil((110 + 2*0 - 3) / 2) + 1 = 55" in text
assert out_size(224, 7, p=1, s=2) == 110 and out_size(110, 3, s=2, ceil_mode=True) == 55

# our own walk over the layers, with the receptive field
sizes, fields, names = [224], [1], ["input"]
size, field, jump = 224, 1, 1
for i, layer in enumerate(zf.features):
    if not hasattr(layer, "kernel_size"):
        continue
    k = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
    s = layer.stride if isinstance(layer.stride, int) else layer.stride[0]
    p = layer.padding if isinstance(layer.padding, int) else layer.padding[0]
    size = out_size(size, k, p, s, ceil_mode=getattr(layer, "ceil_mode", False))
    field, jump = field + (k - 1) * jump, jump * s
    sizes.append(size)
    fields.append(field)
    names.append(f"{type(layer).__name__[:4].lower()}{k}/{s}")
print("ZF Net spatial sizes:", " -> ".join(map(str, sizes)))
print("receptive fields:   ", " -> ".join(map(str, fields)))
assert sizes[:3] == [224, 110, 55] and sizes[-1] == 6 and fields[-1] == 171
actual = zf.features(cg.zeros(1, 3, 224, 224)).shape
assert actual == (1, 256, 6, 6), actual

plt = pyplot()
if plt is not None:
    fig, ax = plt.subplots(figsize=(8, 3.6))
    pos = np.arange(len(sizes))
    ax.bar(pos - 0.2, sizes, 0.4, label="feature map size (pixels)")
    ax.bar(pos + 0.2, fields, 0.4, label="receptive field (pixels)")
    for x_, s_ in zip(pos, sizes):
        ax.text(x_ - 0.2, s_ + 3, str(s_), ha="center", fontsize=8)
    ax.set_xticks(pos)
    ax.set_xticklabels(names, fontsize=8)
    ax.set_title("ZF Net: 224 -> 110 -> 55 -> 26 -> 13 -> 6 (conv k/stride, pool k/stride)")
    ax.legend()
    save(plt, fig, args, "zfnet_sizes.png")
