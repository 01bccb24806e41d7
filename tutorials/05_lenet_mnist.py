"""# 5. LeNet-5 on MNIST

LeNet-5 read the digits on bank cheques in the 1990s. Its modern form
([`convgrad.models.lenet5`](../api/convgrad.models.md)): two 5x5 convolutions (6 and 16 filters),
each followed by ReLU and 2x2 max pooling, then three fully connected layers (120, 84, 10) --
**61,706 parameters**.

The tutorial

1. trains it with [`convgrad.training.fit`](../api/convgrad.training.md) and Adam on the 5,000
   MNIST training images bundled with convgrad ([`convgrad.data.MNIST`](../api/convgrad.data.md)),
   and measures its accuracy on the official 10,000 test images with
   [`evaluate`](../api/convgrad.training.md): about **97%** after 5 epochs (with `--quick`: 2,000
   images, 2 epochs, about 90% on 1,000 test images);
2. predicts a "photo" of a handwritten digit: pass your own with `--photo digit.jpg` (dark ink on
   light paper is fine); without one the tutorial makes one from a test digit -- dark on white,
   five times larger and off centre -- and [`load_digit`](../api/convgrad.data.md) finds the digit,
   scales it into 20x20 and centres it in 28x28 as MNIST was made;
3. shows the 6 filters of the first layer before and after training (`filters.png`) and what
   they make of one digit (`feature_maps.png`). Training moves them far from their random start
   (by about 90% of their initial size in the full run), and they become more like the filters
   people designed: [`convgrad.visualize.describe_filters`](../api/convgrad.visualize.md) compares
   each with Sobel, Prewitt, Laplacian and Gabor kernels, and the mean |correlation| with the
   nearest one rises from about 0.36 at the start to about 0.55; several come out as Sobel y
   (horizontal-edge) detectors -- bands, positive on one side and negative on the other. In
   `feature_maps.png` each map lights up on the strokes of one side or orientation of the digit.

Run: `python tutorials/05_lenet_mnist.py [--quick] [--photo FILE] [--out DIR]`
(the full run takes about 20 seconds on two cores).
"""
import os

import numpy as np

import convgrad as cg
import convgrad.nn.functional as F
from convgrad.data import MNIST, DataLoader, load_digit, mnist_transforms
from convgrad.training import evaluate, fit
from convgrad.visualize import describe_filters, format_filter_table

from _common import pyplot, save, setup

args = setup(5, __doc__, extra=lambda p: p.add_argument("--photo", help="a picture of one handwritten digit"))
n_train, epochs, n_test = (2000, 2, 1000) if args.quick else (5000, 5, 10000)
photo = args.photo

cg.manual_seed(0)
model = cg.models.lenet5()
n_params = sum(p.numel() for p in model.parameters())
print(f"LeNet-5: {n_params:,} parameters")
assert n_params == 61706
before = model.conv1.weight.numpy().copy()

# --- 1. train and evaluate ------------------------------------------------------------------------
train_set = MNIST(train=True, transform=mnist_transforms())
test_set = MNIST(train=False, transform=mnist_transforms())
pick = np.random.default_rng(0).permutation(len(train_set))[:n_train]   # the bundled set is sorted by class
train_set.data, train_set.targets = train_set.data[pick], train_set.targets[pick]
test_set.data, test_set.targets = test_set.data[:n_test], test_set.targets[:n_test]
train = DataLoader(train_set, batch_size=32, shuffle=True, seed=0)
test = DataLoader(test_set, batch_size=500)
history = fit(model, train, cg.optim.Adam(model.parameters(), lr=2e-3), epochs=epochs, progress=False, log=print)
accuracy = evaluate(model, test)
print(f"test accuracy on {n_test:,} official MNIST test images: {accuracy:.4f}")
assert accuracy > (0.7 if args.quick else 0.95)

# --- 2. a photo of a handwritten digit ----------------------------------------------------------
if photo is None:
    from PIL import Image

    digit = MNIST(train=False).data[-1]  # the last test image, never trained on
    paper = np.full((180, 150), 235, np.uint8)  # light paper, dark ink, the digit off centre
    ink = np.array(Image.fromarray(255 - digit).resize((140, 140), Image.BILINEAR))
    paper[30:170, 5:145] = np.minimum(paper[30:170, 5:145], ink)
    photo = os.path.join(args.out, "photo.png")
    Image.fromarray(paper).save(photo)
    truth = int(MNIST(train=False).targets[-1])
    print(f"made {photo} from test image 9999 (a {truth})")
else:
    truth = None
mnist_like = load_digit(photo)  # uint8 28x28, white on black, centred by its centre of mass
model.eval()
with cg.no_grad():
    probs = F.softmax(model(cg.tensor(mnist_transforms()(mnist_like[None]))), dim=1).numpy()[0]
print(f"{photo}: {probs.argmax()} (probability {probs.max():.4f})")
if truth is not None and not args.quick:
    assert probs.argmax() == truth

# --- 3. the filters it learned ------------------------------------------------------------------
after = model.conv1.weight.numpy()
change = np.linalg.norm(after - before) / np.linalg.norm(before)
print(f"first-layer filters moved by {change:.0%} of their initial norm")
assert change > (0.2 if args.quick else 0.5)
rows_before, rows_after = describe_filters(before), describe_filters(after)
print(format_filter_table(rows_after, header="the learned filters, each against its nearest classical filter:"))
like_before = np.mean([abs(r["correlation"]) for r in rows_before])
like_after = np.mean([abs(r["correlation"]) for r in rows_after])
print(f"mean |correlation| with the nearest classical filter: {like_before:.2f} at the start, {like_after:.2f} trained")
if not args.quick:
    assert like_after > like_before + 0.1  # training makes them more like the designed edge filters

plt = pyplot()
if plt is not None:
    fig, axes = plt.subplots(2, 6, figsize=(9, 3.4))
    for row, (title, w) in enumerate([("initial", before), ("learned", after)]):
        for k in range(6):
            lim = np.abs(w[k, 0]).max()
            axes[row, k].imshow(w[k, 0], cmap="RdBu_r", vmin=-lim, vmax=lim)
            axes[row, k].set_xticks([])
            axes[row, k].set_yticks([])
        axes[row, 0].set_ylabel(title)
    fig.suptitle("LeNet-5 conv1: the six 5x5 filters (red positive, blue negative)")
    save(plt, fig, args, "filters.png")

    x = cg.tensor(mnist_transforms()(mnist_like[None]))
    with cg.no_grad():
        maps = F.relu(model.conv1(x)).numpy()[0]
    fig, axes = plt.subplots(1, 8, figsize=(12, 1.9))
    from PIL import Image

    axes[0].imshow(np.array(Image.open(photo).convert("L")), cmap="gray")
    axes[0].set_title("photo", fontsize=9)
    axes[1].imshow(mnist_like, cmap="gray")
    axes[1].set_title(f"28x28: '{probs.argmax()}'", fontsize=9)
    for k in range(6):
        axes[k + 2].imshow(maps[k], cmap="magma")
        axes[k + 2].set_title(f"conv1 map {k}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    save(plt, fig, args, "feature_maps.png")
