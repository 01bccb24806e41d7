"""# 9. From PyTorch

convgrad takes PyTorch's names and semantics, so a PyTorch program runs on it with its imports
changed:

```python
import torch                                  import convgrad as torch
import torch.nn as nn                         import convgrad.nn as nn
import torch.nn.functional as F               import convgrad.nn.functional as F
import torch.optim as optim                   import convgrad.optim as optim
```

The tutorial writes one training program -- a small CNN, cross-entropy, SGD with momentum, 60
steps of 32 bundled MNIST training images ([`convgrad.data.MNIST`](../api/convgrad.data.md); 15
steps with `--quick`) -- as a function of
those four modules, and runs it twice: on PyTorch and on convgrad. Both start from the same weights
(PyTorch's initial `state_dict`, loaded into convgrad with
[`load_state_dict`](../api/convgrad.nn.md)) and see the same batches, so their losses must agree
step by step: they do, to about 1e-6 (float32 rounding), over every step. Look at
`pytorch_vs_convgrad.png`: the two loss curves lie on top of each other.

**What differs** (the whole list is in the guide [PYTORCH.md](../PYTORCH.md)):

- the CPU only: `torch.cuda.is_available()` is False and asking for `"cuda"` raises `DeviceError`;
- float32 and float64 only (no float16/bfloat16);
- `state_dict()` values are NumPy arrays, not tensors (the one line of the program below that
  reads them handles both);
- no pickle: `torch.save` writes `.npz` (or `.safetensors`) and `torch.load` never runs code;
- it is NumPy underneath: fine for these sizes, slower than PyTorch on big models.

Without PyTorch installed the tutorial runs the convgrad side only and says so.

Run: `python tutorials/09_from_pytorch.py [--quick] [--out DIR]`.
"""
import time

import numpy as np

import convgrad
import convgrad.nn
import convgrad.nn.functional
import convgrad.optim
from convgrad.data import MNIST

from _common import pyplot, save, setup

args = setup(9, __doc__)
steps = 15 if args.quick else 60
batch = 32


def program(torch, nn, F, optim, images, labels, initial_state=None):
    """The same PyTorch program for both libraries: build, (load weights), train; return the losses."""
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
            self.fc = nn.Linear(16 * 7 * 7, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc(torch.flatten(x, 1))

    model = Net()
    if initial_state is not None:
        model.load_state_dict({k: torch.tensor(v) for k, v in initial_state.items()})
    start = {k: np.array(v.detach().numpy() if hasattr(v, "detach") else v)  # convgrad: already arrays
             for k, v in model.state_dict().items()}
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x_all, y_all = torch.tensor(images), torch.tensor(labels)
    losses = []
    for step in range(steps):
        x, y = x_all[step * batch:(step + 1) * batch], y_all[step * batch:(step + 1) * batch]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, start


mnist = MNIST(train=True)
order = np.random.default_rng(0).permutation(len(mnist))[:steps * batch]  # the sample is sorted by class
images = ((mnist.data[order] / 255.0 - 0.1307) / 0.3081).astype(np.float32)[:, None]
labels = mnist.targets[order].astype(np.int64)

try:
    import torch
except ImportError:
    torch = None
    print("note: PyTorch is not installed; running the convgrad side only")

if torch is not None:
    t0 = time.perf_counter()
    torch_losses, init = program(torch, torch.nn, torch.nn.functional, torch.optim, images, labels)
    torch_seconds = time.perf_counter() - t0
else:
    torch_losses, init = None, None
t0 = time.perf_counter()
cg_losses, cg_start = program(convgrad, convgrad.nn, convgrad.nn.functional, convgrad.optim, images, labels,
                              initial_state=init)
cg_seconds = time.perf_counter() - t0
print(f"convgrad: loss {cg_losses[0]:.4f} -> {cg_losses[-1]:.4f} in {steps} steps ({cg_seconds:.2f} s)")
assert cg_losses[-1] < cg_losses[0]

if torch_losses is not None:
    assert all(np.array_equal(init[k], cg_start[k]) for k in init)  # the very same starting weights
    diff = np.abs(np.array(torch_losses) - np.array(cg_losses))
    print(f"PyTorch:  loss {torch_losses[0]:.4f} -> {torch_losses[-1]:.4f} ({torch_seconds:.2f} s)")
    print(f"largest difference between the two loss curves: {diff.max():.1e}")
    assert diff.max() < 1e-3

# --- what differs ---------------------------------------------------------------------------------
assert not convgrad.cuda.is_available()
try:
    convgrad.zeros(2, device="cuda")
except ValueError as e:   # convgrad's DeviceError is a ValueError
    print(f"asking for the GPU: {type(e).__name__}: {e}")
else:
    raise AssertionError("convgrad accepted device='cuda'")

plt = pyplot()
if plt is not None:
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if torch_losses is not None:
        ax.plot(range(1, steps + 1), torch_losses, lw=4, alpha=0.4, label="PyTorch")
    ax.plot(range(1, steps + 1), cg_losses, "k.-", lw=1, label="convgrad (import convgrad as torch)")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("the same program, the same initial weights, the same batches")
    ax.legend()
    save(plt, fig, args, "pytorch_vs_convgrad.png")
