"""# 8. Your own data, and time series

[`convgrad.data.open_data`](../api/convgrad.data.md) opens a directory or a file, works out what
it holds and returns a `DataBundle`: the training and test (or validation) datasets, already
normalised, the input shape, the class names and one line describing what it found. It knows:

| kind | what to give it |
|---|---|
| `idx` | a directory of MNIST-format files (`train-images-idx3-ubyte[.gz]`, ...) |
| `image_folder` | a directory with one subfolder of PNG/JPEG pictures per class (`train/` and `test/` optional) |
| `csv` | one row per sample, the label in a column named label/class/target/y, else the last |
| `npz` | arrays `x` and `y` (optionally `x_test`, `y_test`) |
| `ts` | a folder of `NAME_TRAIN.ts` / `NAME_TEST.ts` time series (the UCR/UEA archive's format) |

Without a test split it holds out a stratified, seeded 20% for validation. The tutorial uses the
real datasets of the shared data directory (`--data`, default `../shared/data` beside the repository):

1. **A CSV of images**: the 1,797 8x8 UCI handwritten digits (64 pixel columns and the label).
   `open_data` sees that 64 = 8x8 and gives images of shape `(1, 8, 8)`; a small CNN reaches about
   **97%** on the held-out 359 (`digits_8x8.png` shows some, with their predictions);
2. **An image folder**: the tutorial writes 30 of those digits per class for three classes as PNG
   files into `out/folder/<class>/` -- the layout to use for your own pictures -- and opens it;
3. **Time series**: GunPoint from the UCR archive (a hand drawing a gun or pointing, 150 time
   steps of the hand's x position, 50 training and 150 test series). Convolutions work in 1-D
   exactly as in 2-D (`Conv1d`, kernel along time); the fully convolutional network
   [`fcn1d`](../api/convgrad.models.md) (three Conv1d + batch norm + ReLU blocks, global average
   pooling) reaches about **90%** on the 150 test series. `gunpoint.png` shows the two classes.

Run: `python tutorials/08_your_own_data.py [--quick] [--data DIR] [--out DIR]`.
"""
import os

import numpy as np

import convgrad as cg
import convgrad.nn as nn
from convgrad.data import DataLoader, open_data
from convgrad.training import evaluate, fit

from _common import pyplot, save, setup

args = setup(8, __doc__, data=True)
cg.manual_seed(0)


def train(model, bundle, epochs, lr):
    loader = DataLoader(bundle.train, batch_size=32, shuffle=True, seed=0)
    fit(model, loader, cg.optim.Adam(model.parameters(), lr=lr), epochs=epochs, progress=False)
    return evaluate(model, DataLoader(bundle.test, batch_size=256))


# --- 1. a CSV of 8x8 images -----------------------------------------------------------------------
digits = open_data(os.path.join(args.data, "uci_digits_sklearn", "digits.csv.gz"))
print(digits.description)
assert digits.kind == "csv" and digits.input_shape == (1, 8, 8) and digits.num_classes == 10
assert digits.test_name == "validation" and (len(digits.train), len(digits.test)) == (1438, 359)

cnn = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                    nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 10))
acc_digits = train(cnn, digits, epochs=3 if args.quick else 15, lr=2e-3)
print(f"small CNN on the 8x8 digits: validation accuracy {acc_digits:.3f}")
assert acc_digits > (0.8 if args.quick else 0.93)

# --- 2. an image folder ---------------------------------------------------------------------------
from PIL import Image  # noqa: E402  (Pillow: a dependency of convgrad's image reading)

folder = os.path.join(args.out, "folder")
raw = np.loadtxt(os.path.join(args.data, "uci_digits_sklearn", "digits.csv.gz"), delimiter=",")
for label in (0, 1, 7):
    os.makedirs(os.path.join(folder, f"digit_{label}"), exist_ok=True)
    for i, row in enumerate(raw[raw[:, -1] == label][:30]):
        pixels = (row[:64].reshape(8, 8) * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels).resize((32, 32), Image.NEAREST).save(os.path.join(folder, f"digit_{label}", f"{i}.png"))
pictures = open_data(folder)
print(pictures.description)
assert pictures.kind == "image_folder" and pictures.class_names == ["digit_0", "digit_1", "digit_7"]
assert len(pictures.train) + len(pictures.test) == 90 and pictures.input_shape[0] == 1

# --- 3. time series ------------------------------------------------------------------------------
gunpoint = open_data(os.path.join(args.data, "ucr_sktime", "GunPoint"))
print(gunpoint.description)
assert gunpoint.kind == "ts" and gunpoint.input_shape == (1, 150)
assert (len(gunpoint.train), len(gunpoint.test)) == (50, 150) and gunpoint.test_name == "test"
fcn = cg.models.fcn1d(num_classes=2, in_channels=1, widths=(32, 64, 32) if args.quick else (128, 256, 128))
acc_gun = train(fcn, gunpoint, epochs=10 if args.quick else 40, lr=3e-3)
print(f"fcn1d on GunPoint: test accuracy {acc_gun:.3f} on {len(gunpoint.test)} series")
assert acc_gun > (0.6 if args.quick else 0.85)

plt = pyplot()
if plt is not None:
    x, y = digits.test.get_batch(np.arange(16), np.random.default_rng(0))
    cnn.eval()
    with cg.no_grad():
        pred = cnn(cg.tensor(x)).numpy().argmax(axis=1)
    fig, axes = plt.subplots(2, 8, figsize=(9, 2.8))
    for ax, img, t, p in zip(axes.ravel(), x[:, 0], y, pred):
        ax.imshow(img, cmap="gray")
        ax.set_title(f"{t} -> {p}", fontsize=9, color="k" if t == p else "r")
        ax.axis("off")
    fig.suptitle("UCI 8x8 digits from a CSV: label -> prediction")
    save(plt, fig, args, "digits_8x8.png")

    xs, ys = gunpoint.test.get_batch(np.arange(len(gunpoint.test)), np.random.default_rng(0))
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for c, colour in zip(range(2), ["tab:blue", "tab:orange"]):
        for series in xs[ys == c][:8, 0]:
            ax.plot(series, color=colour, alpha=0.6, lw=1)
        ax.plot([], [], color=colour, label=f"class {gunpoint.class_names[c]} ({['gun', 'point'][c]})")
    ax.set_xlabel("time step")
    ax.set_ylabel("hand x position (z-normalised)")
    ax.set_title(f"GunPoint test series; fcn1d accuracy {acc_gun:.1%}")
    ax.legend()
    save(plt, fig, args, "gunpoint.png")
