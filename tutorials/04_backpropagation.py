"""# 4. Backpropagation by hand

A network with 3 inputs, 10 hidden sigmoid units and 2 outputs (a "3-10-2" network):

    z = W1 x + b1      (W1: 10x3, b1: 10)      h = sigmoid(z)
    y = W2 h + b2      (W2: 2x10, b2: 2)       L = mean over the batch of ½ ||y - t||²

It has 3·10 + 10 + 10·2 + 2 = **62 parameters** (the lecture seed says 72; count the weights and
biases of each layer and you get 40 + 22 = 62).

**The chain rule, backwards.** Starting from the loss, each layer turns the gradient of its output
into the gradient of its input and of its weights (`N` is the batch size, rows are samples):

    dL/dy  = (y - t) / N
    dL/dW2 = (dL/dy)ᵀ h            dL/db2 = sum over the batch of dL/dy
    dL/dh  = (dL/dy) W2
    dL/dz  = dL/dh · h (1 - h)     (the sigmoid's derivative, element by element)
    dL/dW1 = (dL/dz)ᵀ x            dL/db1 = sum over the batch of dL/dz

The tutorial computes these in plain NumPy, then lets convgrad's autodiff compute them
(`loss.backward()` on an [`nn.Sequential`](../api/convgrad.nn.md) of `Linear`, `Sigmoid`, `Linear`),
and checks both against **finite differences** `(L(p + ε) - L(p - ε)) / 2ε` for every one of the
62 parameters ([`convgrad.inspect.gradcheck`](../api/convgrad.inspect.md) does the same for any
function). In float64, by hand and autodiff agree to rounding (about 1e-16), finite
differences to about 1e-10 (their own truncation error). Look at `gradients.png`: the 62 gradients,
by hand, by autodiff and by finite differences, on top of each other.

Run: `python tutorials/04_backpropagation.py [--out DIR]`.
"""
import numpy as np

import convgrad as cg
import convgrad.nn as nn
from convgrad.inspect import gradcheck

from _common import pyplot, save, setup

args = setup(4, __doc__)

rng = np.random.default_rng(0)
N = 8                                            # a batch of 8 samples
x = rng.standard_normal((N, 3))
t = rng.standard_normal((N, 2))                  # regression targets
W1, b1 = rng.standard_normal((10, 3)) * 0.5, rng.standard_normal(10) * 0.1
W2, b2 = rng.standard_normal((2, 10)) * 0.5, rng.standard_normal(2) * 0.1

n_params = W1.size + b1.size + W2.size + b2.size
print(f"parameters: {W1.size} + {b1.size} + {W2.size} + {b2.size} = {n_params}")
assert n_params == 62

# --- by hand: forward, then the chain rule backwards --------------------------------------------
z = x @ W1.T + b1
h = 1 / (1 + np.exp(-z))
y = h @ W2.T + b2
loss = 0.5 * ((y - t) ** 2).sum(axis=1).mean()
dy = (y - t) / N
dW2, db2 = dy.T @ h, dy.sum(axis=0)
dh = dy @ W2
dz = dh * h * (1 - h)
dW1, db1 = dz.T @ x, dz.sum(axis=0)
print(f"loss {loss:.6f}; by hand: |dW1| {np.abs(dW1).sum():.6f}, |dW2| {np.abs(dW2).sum():.6f}")

# --- autodiff: the same network in convgrad -----------------------------------------------------
net = nn.Sequential(nn.Linear(3, 10), nn.Sigmoid(), nn.Linear(10, 2)).double()
with cg.no_grad():
    for p, value in zip(net.parameters(), [W1, b1, W2, b2]):
        p.copy_(cg.tensor(value))
assert sum(p.numel() for p in net.parameters()) == 62
out = net(cg.tensor(x))
auto_loss = 0.5 * ((out - cg.tensor(t)) ** 2).sum(dim=1).mean()
auto_loss.backward()
auto = [p.grad.numpy() for p in net.parameters()]
assert abs(auto_loss.item() - loss) < 1e-12
for name, mine, theirs in zip(["W1", "b1", "W2", "b2"], [dW1, db1, dW2, db2], auto):
    err = np.abs(mine - theirs).max()
    print(f"{name}: by hand vs autodiff, max difference {err:.1e}")
    assert err < 1e-12


# --- finite differences, one parameter at a time ------------------------------------------------
def loss_of(params):
    W1_, b1_, W2_, b2_ = params
    h_ = 1 / (1 + np.exp(-(x @ W1_.T + b1_)))
    return 0.5 * ((h_ @ W2_.T + b2_ - t) ** 2).sum(axis=1).mean()


params, eps = [W1.copy(), b1.copy(), W2.copy(), b2.copy()], 1e-6
numeric = []
for p in params:
    g = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        old = p[i]
        p[i] = old + eps
        plus = loss_of(params)
        p[i] = old - eps
        minus = loss_of(params)
        p[i] = old
        g[i] = (plus - minus) / (2 * eps)
    numeric.append(g)
worst = max(np.abs(a - n).max() for a, n in zip(auto, numeric))
print(f"autodiff vs finite differences over all 62 parameters: max difference {worst:.1e}")
assert worst < 1e-8

# gradcheck does this for any function of tensors (here: the loss as a function of the input x)
xt = cg.tensor(x, requires_grad=True)
assert gradcheck(lambda v: 0.5 * ((net(v) - cg.tensor(t)) ** 2).sum(dim=1).mean(), [xt])
print("gradcheck on the gradient with respect to the input: passed")

plt = pyplot()
if plt is not None:
    flat = lambda gs: np.concatenate([g.ravel() for g in gs])  # noqa: E731
    fig, ax = plt.subplots(figsize=(9, 3.4))
    idx = np.arange(62)
    ax.plot(idx, flat([dW1, db1, dW2, db2]), "o", ms=8, mfc="none", label="by hand (NumPy chain rule)")
    ax.plot(idx, flat(auto), "x", ms=6, label="autodiff (loss.backward())")
    ax.plot(idx, flat(numeric), ".", ms=4, color="k", label="finite differences")
    for edge, label in [(0, "W1"), (30, "b1"), (40, "W2"), (60, "b2")]:
        ax.axvline(edge - 0.5, color="grey", lw=0.5)
        ax.text(edge, ax.get_ylim()[1] * 0.9, label, fontsize=9)
    ax.set_xlabel("parameter (62 in all)")
    ax.set_ylabel("dL/dparameter")
    ax.legend(fontsize=8, loc="lower left")
    save(plt, fig, args, "gradients.png")
