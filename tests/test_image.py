"""convgrad.image.downsample: block min/max/avg on raw images."""
import itertools

import numpy as np
import pytest
import torch

import convgrad as cg
from convgrad import image


def naive_downsample(img, fh, fw, reduce):
    h, w = img.shape[0] // fh, img.shape[1] // fw
    out = np.zeros((h, w) + img.shape[2:])
    for i, j in itertools.product(range(h), range(w)):
        out[i, j] = reduce(img[i * fh:(i + 1) * fh, j * fw:(j + 1) * fw].astype(np.float64), axis=(0, 1))
    return out


@pytest.mark.parametrize("mode,reduce", [("min", np.min), ("max", np.max), ("avg", np.mean)])
@pytest.mark.parametrize("shape,factor", [((8, 8), 2), ((9, 7), 3), ((10, 12, 3), (2, 4)), ((5, 5), 5)])
def test_matches_the_block_definition(mode, reduce, shape, factor):
    img = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    fh, fw = (factor, factor) if isinstance(factor, int) else factor
    got = image.downsample(img, factor, mode)
    np.testing.assert_allclose(got, naive_downsample(img, fh, fw, reduce), rtol=1e-12)
    assert got.dtype == (np.float64 if mode == "avg" else np.uint8)


@pytest.mark.parametrize("mode", ["min", "max", "avg"])
def test_equals_torch_pooling_with_stride_equal_kernel(mode):
    img = np.random.default_rng(1).standard_normal((13, 11)).astype(np.float32)
    t = torch.tensor(img)[None, None]
    pool = {"max": lambda a: torch.nn.functional.max_pool2d(a, 3),
            "min": lambda a: -torch.nn.functional.max_pool2d(-a, 3),
            "avg": lambda a: torch.nn.functional.avg_pool2d(a, 3)}[mode]
    got = image.downsample(img, 3, mode)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, pool(t)[0, 0].numpy(), rtol=1e-6, atol=1e-6)


def test_min_keeps_dark_strokes_max_keeps_bright_ones():
    img = np.full((8, 8), 200, np.uint8)
    img[:, 3] = 10  # a one-pixel dark line
    assert (image.downsample(img, 2, "min")[:, 1] == 10).all()
    assert (image.downsample(img, 2, "max") == 200).all()
    assert (image.downsample(img, 2, "avg")[:, 1] == 105).all()


def test_accepts_pil_images():
    from PIL import Image
    pic = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    np.testing.assert_array_equal(image.downsample(pic, 2, "max"), np.asarray(pic).reshape(2, 2, 2, 2, 3).max(axis=(1, 3)))


def test_errors():
    with pytest.raises(cg.errors.ShapeError, match="downsample: expected an \\(H, W\\) or \\(H, W, C\\) image"):
        image.downsample(np.zeros((1, 1, 4, 4)), 2)
    with pytest.raises(cg.errors.ArgumentError, match="mode must be"):
        image.downsample(np.zeros((4, 4)), 2, "median")
    with pytest.raises(cg.errors.ArgumentError, match="factor"):
        image.downsample(np.zeros((4, 4)), 0)
    with pytest.raises(cg.errors.ShapeError, match="smaller than one 5x5 block"):
        image.downsample(np.zeros((4, 4)), 5)
