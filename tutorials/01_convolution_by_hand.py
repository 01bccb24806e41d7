"""# 1. Convolution by hand

A convolution layer slides a small kernel over the image and, at every position, multiplies the
kernel with the patch under it and sums the products. For a 5x5 image `x` and a 3x3 kernel `w`
(no padding, stride 1) the output is 3x3:

    y[i, j] = sum over u = 0..2, v = 0..2 of  x[i + u, j + v] * w[u, v]

This tutorial

1. computes the top-left output of the classic example by hand -- the nine products and their sum,
   **4** -- then the whole map `[[4, 3, 4], [2, 4, 3], [2, 3, 4]]`, and checks that
   [`F.conv2d`](../api/convgrad.functional.md) gives the same numbers;
2. shows that what deep-learning libraries call "convolution" is **cross-correlation**: true
   convolution ([`F.convolve2d`](../api/convgrad.functional.md)) flips the kernel first.
   For the Sobel x kernel, flipping both ways negates it, so true convolution gives exactly minus
   the cross-correlation;
3. runs the Sobel pair ([`convgrad.filters.sobel`](../api/convgrad.filters.md)) over a real
   handwritten **1** from the bundled MNIST test set: the x kernel (a difference along x) responds
   to **vertical** edges, so on an upright 1 its response carries several times the energy of the
   y kernel's -- look at `sobel_on_a_one.png`;
4. writes the convolution as a matrix ([`convgrad.inspect.conv_matrix`](../api/convgrad.inspect.md)):
   a 9x25 (Toeplitz-like) matrix `W` with `W @ x.flatten() == conv2d(x, w).flatten()`. Each row
   holds the same nine kernel weights, shifted -- look at `conv_matrix.png`.

Run: `python tutorials/01_convolution_by_hand.py [--out DIR]`.
"""
import numpy as np

import convgrad as cg
import convgrad.nn.functional as F
from convgrad import filters
from convgrad.data import MNIST
from convgrad.inspect import conv_matrix

from _common import pyplot, save, setup

args = setup(1, __doc__)

# --- 1. the products and the sum ----------------------------------------------------------------
x = np.array([[1, 1, 1, 0, 0],
              [0, 1, 1, 1, 0],
              [0, 0, 1, 1, 1],
              [0, 0, 1, 1, 0],
              [0, 1, 1, 0, 0]], dtype=np.float64)
w = np.array([[1, 0, 1],
              [0, 1, 0],
              [1, 0, 1]], dtype=np.float64)

patch = x[0:3, 0:3]
products = patch * w
print("top-left patch * kernel, element by element:\n", products)
print("their sum:", products.sum())
assert products.sum() == 4

by_hand = np.array([[(x[i:i + 3, j:j + 3] * w).sum() for j in range(3)] for i in range(3)])
print("the whole map by hand:\n", by_hand)
assert by_hand.tolist() == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]

# conv2d wants (batch, channels, height, width) inputs and (out_channels, in_channels, kh, kw) weights
y = F.conv2d(cg.tensor(x[None, None]), cg.tensor(w[None, None])).numpy()[0, 0]
print("F.conv2d:\n", y)
np.testing.assert_array_equal(y, by_hand)

# --- 2. cross-correlation vs true convolution ---------------------------------------------------
horizontal, vertical = filters.sobel()  # vertical is the Sobel x kernel [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
print("Sobel x kernel:\n", vertical)
print("flipped both ways:\n", vertical[::-1, ::-1])
rng = np.random.default_rng(0)
img = cg.tensor(rng.random((1, 1, 6, 6)))
corr = F.conv2d(img, cg.tensor(vertical[None, None])).numpy()
true_conv = F.convolve2d(img, cg.tensor(vertical[None, None])).numpy()
np.testing.assert_allclose(true_conv, -corr, atol=1e-12)  # flipping the Sobel x kernel negates it
flipped = np.ascontiguousarray(w[::-1, ::-1])
np.testing.assert_allclose(F.convolve2d(img, cg.tensor(w[None, None])).numpy(),
                           F.conv2d(img, cg.tensor(flipped[None, None])).numpy(), atol=1e-12)
print("convolve2d(x, k) == conv2d(x, flip(k)); for the Sobel x kernel that is -conv2d(x, k)")

# --- 3. the Sobel pair on a real digit ----------------------------------------------------------
test = MNIST(train=False)                       # the official 10,000 test images, bundled
one = test.data[np.flatnonzero(test.targets == 1)[0]] / 255.0
edges = filters.as_conv2d([horizontal, vertical], padding=1)  # a fixed Conv2d(1, 2, 3)
response = edges(cg.tensor(one[None, None].astype(np.float32))).numpy()[0]
energy_y, energy_x = (response ** 2).mean(axis=(1, 2))
print(f"energy of the response on a '1': y kernel (horizontal edges) {energy_y:.3f}, "
      f"x kernel (vertical edges) {energy_x:.3f}, ratio {energy_x / energy_y:.1f}")
assert energy_x > 2 * energy_y  # a 1 is a vertical stroke: the x kernel responds to vertical edges

# --- 4. convolution as a matrix product ---------------------------------------------------------
W = conv_matrix(w[None, None], (1, 5, 5))       # dense (9, 25)
print("conv_matrix shape:", W.shape)
assert W.shape == (9, 25)
np.testing.assert_allclose(W @ x.ravel(), by_hand.ravel())
assert all(np.count_nonzero(row) == 5 for row in W)  # the kernel's five ones in every row

plt = pyplot()
if plt is not None:
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    for ax, (title, a) in zip(axes, [("digit '1'", one), ("y kernel: horizontal edges", response[0]),
                                     ("x kernel: vertical edges", response[1])]):
        im = ax.imshow(a, cmap="gray" if a is one else "RdBu_r",
                       vmin=None if a is one else -4, vmax=None if a is one else 4)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.colorbar(im, ax=axes[1:].tolist(), shrink=0.8)
    save(plt, fig, args, "sobel_on_a_one.png")

    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.imshow(W, cmap="Greys", vmin=0, vmax=1)
    ax.set_xlabel("input pixel (row-major index of the 5x5 image)")
    ax.set_ylabel("output position")
    ax.set_title("conv_matrix: a 3x3 kernel on a 5x5 image is a 9x25 matrix")
    ax.set_xticks(range(0, 25, 5))
    save(plt, fig, args, "conv_matrix.png")
