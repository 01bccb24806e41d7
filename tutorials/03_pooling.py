"""# 3. Pooling, forward and backward

Pooling summarises each window of a feature map by one number: its **maximum**, its **average** or
its **minimum**. It has no weights to learn. The lecture's 5x5 feature map, pooled with 3x3 windows
at stride 1 (so 3x3 outputs, the size formula of tutorial 2):

    3 3 2 1 0        max          average            min
    0 0 1 3 1      3 3 3     1.67 1.67 1.67        0 0 0
    3 1 2 2 3      3 3 3     1.00 1.22 1.78        0 0 0
    2 0 0 2 2      3 2 3     1.11 0.78 1.33        0 0 0
    2 0 0 0 1

**Backward.** A pooling layer passes the gradient of each output back to the inputs that made it:

- **max** (and min) pooling routes the whole gradient of a window to the *one* input that was
  the maximum (minimum) -- every other input of the window gets 0. An input that wins several
  overlapping windows collects the gradient of each; on a tie (the top-left window below holds
  two 3s) the first in reading order wins, as in PyTorch;
- **average** pooling spreads it evenly: each of a k x k window's inputs gets 1/k² of it
  (1/4 for the 2x2 windows below).

The tutorial computes the three poolings with [`F.max_pool2d`, `F.avg_pool2d` and
`F.min_pool2d`](../api/convgrad.functional.md), asserts the lecture's numbers, then backpropagates
gradients through 2x2 windows at stride 2 (one distinct gradient 1, 2, 3, 4 per window, so you can
follow each) and asserts where they land. Look at `pooling.png` (top: forward, bottom: backward).

Run: `python tutorials/03_pooling.py [--out DIR]`.
"""
import numpy as np

import convgrad as cg
import convgrad.nn.functional as F

from _common import pyplot, save, setup

args = setup(3, __doc__)

grid = np.array([[3, 3, 2, 1, 0],
                 [0, 0, 1, 3, 1],
                 [3, 1, 2, 2, 3],
                 [2, 0, 0, 2, 2],
                 [2, 0, 0, 0, 1]], dtype=np.float64)
x = cg.tensor(grid[None, None])  # (batch 1, channel 1, 5, 5)

# --- forward --------------------------------------------------------------------------------------
pooled = {"max": F.max_pool2d(x, 3, stride=1).numpy()[0, 0],
          "average": F.avg_pool2d(x, 3, stride=1).numpy()[0, 0],
          "min": F.min_pool2d(x, 3, stride=1).numpy()[0, 0]}
for name, out in pooled.items():
    print(f"{name} pooling, 3x3 windows, stride 1:\n{np.round(out, 2)}")
np.testing.assert_array_equal(pooled["max"], [[3, 3, 3], [3, 3, 3], [3, 2, 3]])
np.testing.assert_allclose(pooled["average"], [[1.67, 1.67, 1.67], [1.0, 1.22, 1.78], [1.11, 0.78, 1.33]], atol=0.005)
np.testing.assert_array_equal(pooled["min"], np.zeros((3, 3)))

# --- backward: 2x2 windows at stride 2 over the top-left 4x4, upstream gradients 1, 2, 3, 4 -------
upstream = np.array([[1.0, 2.0], [3.0, 4.0]])
grads = {}
for name, pool in [("max", F.max_pool2d), ("average", F.avg_pool2d), ("min", F.min_pool2d)]:
    inp = cg.tensor(grid[None, None, :4, :4].copy(), requires_grad=True)
    out = pool(inp, 2, stride=2)
    (out * cg.tensor(upstream[None, None])).sum().backward()   # d(loss)/d(out) = upstream
    grads[name] = inp.grad.numpy()[0, 0]
    print(f"{name} pooling backward (gradient on the 4x4 input):\n{grads[name]}")

for (i, j), g in np.ndenumerate(upstream):
    window = grid[2 * i:2 * i + 2, 2 * j:2 * j + 2]
    for name, pick in [("max", window.max()), ("min", window.min())]:
        back = grads[name][2 * i:2 * i + 2, 2 * j:2 * j + 2]
        assert np.count_nonzero(back) == 1 and back.sum() == g  # the whole gradient, to one input...
        assert window[back != 0][0] == pick                    # ...the one that was the max (min)
    np.testing.assert_allclose(grads["average"][2 * i:2 * i + 2, 2 * j:2 * j + 2], g / 4)  # spread evenly
print("max/min pooling route each window's gradient to its max/min only; average pooling spreads it")

plt = pyplot()
if plt is not None:
    def show(ax, a, title, fmt="{:g}"):
        ax.imshow(a, cmap="Blues", vmin=0, vmax=max(a.max(), 1e-9) * 1.3)
        for (r, c), v in np.ndenumerate(a):
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])

    fig, axes = plt.subplots(2, 4, figsize=(11, 6))
    show(axes[0, 0], grid, "feature map 5x5")
    for ax, (name, out) in zip(axes[0, 1:], pooled.items()):
        show(ax, out, f"{name} pool 3x3, stride 1", "{:.2f}" if name == "average" else "{:g}")
    show(axes[1, 0], upstream, "upstream gradient\n(2x2 windows, stride 2)")
    for ax, (name, g) in zip(axes[1, 1:], grads.items()):
        show(ax, g, f"{name} pool backward:\ngradient on the 4x4 input", "{:g}")
        for k in (1.5,):
            ax.axhline(k, color="k", lw=1)
            ax.axvline(k, color="k", lw=1)
    save(plt, fig, args, "pooling.png")
