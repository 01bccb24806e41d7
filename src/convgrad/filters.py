"""Classical hand-designed filters, and turning them into convolution layers.

Before filters were learned they were designed: Sobel and Prewitt for edges, the Laplacian for
blobs and edges in every direction, the Gaussian for smoothing, Gabor filter banks for oriented
texture. Each function here returns the kernel(s) as float64 NumPy arrays, oriented for
``conv2d`` (cross-correlation, what every layer computes).

    >>> horizontal, vertical = filters.sobel()
    >>> edge_layer = filters.as_conv2d([horizontal, vertical])   # fixed Conv2d(1, 2, 3)
    >>> edges = edge_layer(images)  # (N, 2, H-2, W-2)  # doctest: +SKIP
    >>> filters.init_conv2d_(model.conv1, filters.gabor_bank(7, sigma=2.0, lambd=4.0))  # doctest: +SKIP

Conventions: rows are y (growing downwards, as in images), columns x. A kernel that highlights
*horizontal* edges responds to a change of intensity along y.
"""
import math

import numpy as np

from .errors import ArgumentError, ShapeError
from .nn.conv import Conv2d
from .tensor import Tensor, no_grad


def sobel():
    """The Sobel pair: (horizontal-edge kernel, vertical-edge kernel).

    ``[[1, 2, 1], [0, 0, 0], [-1, -2, -1]]`` responds to horizontal edges (bright above dark
    gives a positive response), its transpose-and-negation ``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]``
    to vertical edges (dark left of bright is positive). Smoothing 1-2-1 across, difference along.
    """
    horizontal = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]])
    vertical = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    return horizontal, vertical


def prewitt():
    """The Prewitt pair, ordered like :func:`sobel`: uniform 1-1-1 smoothing instead of 1-2-1."""
    horizontal = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -1.0, -1.0]])
    vertical = np.array([[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]])
    return horizontal, vertical


def laplacian(diagonal=False):
    """Discrete Laplacian (second derivative in all directions, sums to 0).

    ``diagonal=False``: the 4-neighbour ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``;
    ``diagonal=True``: the 8-neighbour ``[[1, 1, 1], [1, -8, 1], [1, 1, 1]]``.
    """
    if diagonal:
        kernel = np.ones((3, 3))
        kernel[1, 1] = -8.0
        return kernel
    return np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def _size_pair(size, op):
    pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(pair) != 2 or any(not isinstance(s, (int, np.integer)) or s < 1 for s in pair):
        raise ArgumentError(f"{op}: size must be a positive int or a (height, width) pair, got {size!r}")
    return int(pair[0]), int(pair[1])


def gaussian(size, sigma=None):
    """Normalised 2-D Gaussian ``exp(-(x^2 + y^2) / (2 sigma^2))`` centred in a ``size`` window.

    Args:
        size: int or (height, width); odd sizes put the peak on a pixel.
        sigma: standard deviation in pixels (a float, or a (sigma_y, sigma_x) pair). ``None``
            uses OpenCV's rule ``0.3 * ((size - 1) * 0.5 - 1) + 0.8`` per axis.

    Returns:
        (height, width) float64 array summing to 1.
    """
    h, w = _size_pair(size, "gaussian")
    if sigma is None:
        sy, sx = (0.3 * ((n - 1) * 0.5 - 1) + 0.8 for n in (h, w))
    else:
        sy, sx = (float(sigma), float(sigma)) if np.ndim(sigma) == 0 else (float(sigma[0]), float(sigma[1]))
    if sy <= 0 or sx <= 0:
        raise ArgumentError(f"gaussian: sigma must be positive, got {sigma!r}")
    y = np.arange(h) - (h - 1) / 2
    x = np.arange(w) - (w - 1) / 2
    kernel = np.exp(-(y[:, None] ** 2) / (2 * sy ** 2) - (x[None, :] ** 2) / (2 * sx ** 2))
    return kernel / kernel.sum()


def gabor(size, sigma, theta, lambd, gamma=0.5, psi=math.pi / 2):
    """A Gabor kernel, with OpenCV's ``getGaborKernel`` formula and layout.

    ``g(x, y) = exp(-(x'^2 + gamma^2 y'^2) / (2 sigma^2)) * cos(2 pi x' / lambd + psi)`` with
    ``x' = x cos(theta) + y sin(theta)``, ``y' = -x sin(theta) + y cos(theta)``, sampled at
    integer (x, y) in ``[-size//2, size//2]`` and stored, as OpenCV does, at
    ``kernel[ymax - y, xmax - x]``. The cosine's stripes run across the direction ``theta``:
    theta = 0 gives vertical stripes, which respond to vertical edges and bars.

    Args:
        size: int or (height, width); like OpenCV, the kernel is ``2 * (size // 2) + 1`` wide.
        sigma: standard deviation of the Gaussian envelope (pixels).
        theta: orientation of the normal to the stripes (radians).
        lambd: wavelength of the cosine (pixels).
        gamma: spatial aspect ratio (1 = circular envelope); OpenCV's sigma_y = sigma / gamma.
        psi: phase offset (radians); pi/2 (OpenCV's default) is odd (edge-like), 0 even (bar-like).

    Returns:
        float64 array of shape (2 * (h // 2) + 1, 2 * (w // 2) + 1).
    """
    h, w = _size_pair(size, "gabor")
    if sigma <= 0 or lambd <= 0 or gamma <= 0:
        raise ArgumentError(f"gabor: sigma, lambd and gamma must be positive, got sigma={sigma}, "
                            f"lambd={lambd}, gamma={gamma}")
    ymax, xmax = h // 2, w // 2
    sigma_x, sigma_y = sigma, sigma / gamma
    c, s = math.cos(theta), math.sin(theta)
    # rows hold y = ymax .. -ymax, columns x = xmax .. -xmax (kernel[ymax - y, xmax - x])
    y = np.arange(ymax, -ymax - 1, -1, dtype=np.float64)[:, None]
    x = np.arange(xmax, -xmax - 1, -1, dtype=np.float64)[None, :]
    xr = x * c + y * s
    yr = -x * s + y * c
    envelope = np.exp(-0.5 * xr ** 2 / sigma_x ** 2 - 0.5 * yr ** 2 / sigma_y ** 2)
    return envelope * np.cos(2 * math.pi / lambd * xr + psi)


def gabor_bank(size, sigma, lambd, n_orientations=8, gamma=0.5, psi=math.pi / 2):
    """Gabor kernels at ``n_orientations`` evenly spaced angles in [0, pi), for each wavelength.

    Args:
        size, sigma, gamma, psi: as :func:`gabor`; sigma may also be a list matching ``lambd``.
        lambd: a wavelength or a list of them.
        n_orientations: angles ``k * pi / n_orientations``.

    Returns:
        (len(lambd) * n_orientations, h, w) float64 array, wavelength-major; the angles are
        ``thetas = [k * pi / n_orientations for k in range(n_orientations)]`` within each block.
    """
    lambdas = [float(lambd)] if np.ndim(lambd) == 0 else [float(v) for v in lambd]
    sigmas = [float(sigma)] * len(lambdas) if np.ndim(sigma) == 0 else [float(v) for v in sigma]
    if len(sigmas) != len(lambdas):
        raise ArgumentError(f"gabor_bank: got {len(sigmas)} sigmas for {len(lambdas)} wavelengths")
    if n_orientations < 1:
        raise ArgumentError(f"gabor_bank: n_orientations must be positive, got {n_orientations}")
    thetas = [k * math.pi / n_orientations for k in range(n_orientations)]
    return np.stack([gabor(size, sg, th, lm, gamma, psi) for lm, sg in zip(lambdas, sigmas) for th in thetas])


def _as_kernel_stack(kernels, op):
    """A kernel, a list of kernels or an array -> float64 (n, h, w) or (out, in, h, w) array."""
    if isinstance(kernels, Tensor):
        kernels = kernels._data
    if isinstance(kernels, (list, tuple)):
        kernels = np.stack([np.asarray(k._data if isinstance(k, Tensor) else k, dtype=np.float64) for k in kernels])
    kernels = np.asarray(kernels, dtype=np.float64)
    if kernels.ndim == 2:
        kernels = kernels[None]
    if kernels.ndim not in (3, 4):
        raise ShapeError(f"{op}: expected a (kH, kW) kernel, a stack (n, kH, kW) or a weight "
                         f"(out, in/groups, kH, kW), got shape {kernels.shape}")
    return kernels


def as_conv2d(kernels, in_channels=1, depthwise=False, stride=1, padding=0, dilation=1, padding_mode="zeros",
              trainable=False, dtype=None):
    """A ``Conv2d`` (without bias) whose filters are the given kernels.

    Args:
        kernels: one (kH, kW) kernel, a list/stack (n, kH, kW), or a full weight
            (out, in/groups, kH, kW) used as it is (groups = in_channels / weight.shape[1]).
        in_channels: channels of the images the layer will see.
        depthwise: for 2-D/3-D ``kernels`` only. False: output j applies kernel j to every input
            channel and sums (n outputs). True: every kernel is applied to every channel
            separately (groups = in_channels, in_channels * n outputs, channel-major).
        stride, padding, dilation, padding_mode: passed to Conv2d.
        trainable: leave ``requires_grad`` on, so the kernels are only an initialisation.
        dtype: parameter dtype (default: the default dtype, float32).

    Returns:
        ``nn.Conv2d`` with ``weight`` set, ``bias=None``, and ``weight.requires_grad == trainable``.
    """
    stack = _as_kernel_stack(kernels, "as_conv2d")
    kh, kw = stack.shape[-2:]
    if stack.ndim == 4:
        if in_channels % stack.shape[1]:
            raise ShapeError(f"as_conv2d: weight with {stack.shape[1]} input channels per group does not divide "
                             f"in_channels={in_channels}")
        weight, groups = stack, in_channels // stack.shape[1]
    elif depthwise:
        weight, groups = np.tile(stack[:, None], (in_channels, 1, 1, 1)), in_channels
        weight = weight.reshape(in_channels * stack.shape[0], 1, kh, kw)
    else:
        weight, groups = np.repeat(stack[:, None], in_channels, axis=1), 1
    conv = Conv2d(in_channels, weight.shape[0], (kh, kw), stride=stride, padding=padding, dilation=dilation,
                  groups=groups, bias=False, padding_mode=padding_mode, dtype=dtype)
    with no_grad():
        conv.weight.copy_(weight)
    conv.weight.requires_grad_(trainable)
    return conv


def init_conv2d_(conv_or_weight, kernels, scale=1.0):
    """Initialise the first filters of an existing Conv2d (or a 4-D weight) with given kernels.

    Filter ``j < len(kernels)`` gets ``scale * kernels[j]`` on every input channel of its group;
    the remaining filters keep their values. 2-D kernels smaller than the layer's are centred
    (zeros around); larger ones are an error. Returns the weight tensor.
    """
    weight = conv_or_weight.weight if hasattr(conv_or_weight, "weight") else conv_or_weight
    if not isinstance(weight, Tensor) or weight.ndim != 4:
        raise ShapeError(f"init_conv2d_: expected a Conv2d or a 4-D weight, got "
                         f"{type(conv_or_weight).__name__} {getattr(weight, 'shape', '')}")
    stack = _as_kernel_stack(kernels, "init_conv2d_")
    out_c, in_c, kh, kw = weight.shape
    n, h, w = stack.shape[0], stack.shape[-2], stack.shape[-1]
    if n > out_c or h > kh or w > kw or (stack.ndim == 4 and stack.shape[1] != in_c):
        raise ShapeError(f"init_conv2d_: kernels of shape {stack.shape} do not fit a weight of shape {weight.shape}")
    top, left = (kh - h) // 2, (kw - w) // 2
    block = np.zeros((n, in_c, kh, kw), dtype=weight.dtype)
    block[:, :, top:top + h, left:left + w] = stack[:, None] if stack.ndim == 3 else stack
    with no_grad():
        weight._data[:n] = scale * block
    return weight


__all__ = ["sobel", "prewitt", "laplacian", "gaussian", "gabor", "gabor_bank", "as_conv2d", "init_conv2d_"]
