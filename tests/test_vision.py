"""convgrad.vision: torchvision's dataset layout, per-sample transforms, make_grid/save_image, models.

torchvision is not installed here, so transforms are checked against their definitions (Pillow
calls torchvision makes for PIL images, plain NumPy formulas for tensors)."""
import gzip
import os
import shutil

import numpy as np
import pytest
from PIL import Image

import convgrad as cg
from convgrad.data import DatasetNotFoundError
from convgrad.data.datasets import BUNDLED_DIR
from convgrad.errors import ArgumentError, ShapeError
from convgrad.vision import datasets, models, transforms as T, utils


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """The bundled MNIST files placed as torchvision's download leaves them: root/MNIST/raw."""
    root = tmp_path_factory.mktemp("data")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in os.listdir(BUNDLED_DIR):
        if name.endswith(".gz"):
            shutil.copy(os.path.join(BUNDLED_DIR, name), raw / name)
    # FashionMNIST with uncompressed files (torchvision keeps both forms)
    fraw = root / "FashionMNIST" / "raw"
    fraw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        with gzip.open(os.path.join(BUNDLED_DIR, name)) as f:
            (fraw / name[:-3]).write_bytes(f.read())
    return root


def test_mnist_reads_torchvisions_layout_per_sample(mnist_root):
    train = datasets.MNIST(str(mnist_root), train=True, download=True)
    test = datasets.MNIST(mnist_root, train=False, transform=T.ToTensor(), target_transform=lambda y: y + 100)
    assert len(train) == 5000 and len(test) == 10000
    image, label = train[0]
    assert isinstance(image, Image.Image) and image.mode == "L" and image.size == (28, 28)
    assert label == int(train.targets[0]) and isinstance(label, int)
    x, y = test[0]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and y == 107  # test image 0 is a 7
    np.testing.assert_array_equal(x.numpy()[0], test.data.numpy()[0] / np.float32(255))
    assert train.classes[7] == "7 - seven" and train.class_to_idx["7 - seven"] == 7
    fashion = datasets.FashionMNIST(mnist_root, train=False)
    assert len(fashion) == 10000 and fashion.classes[9] == "Ankle boot"


def test_missing_files_say_where_to_put_them_and_never_download(mnist_root, tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"KMNIST.raw.*never uses the network.*t10k-images-idx3-ubyte.gz"):
        datasets.KMNIST(mnist_root, train=False, download=True)
    with pytest.raises(DatasetNotFoundError, match="put train-images-idx3-ubyte.gz"):
        datasets.FashionMNIST(mnist_root, train=True)


def test_dataloader_over_a_vision_dataset(mnist_root):
    t = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ds = datasets.MNIST(mnist_root, train=True, transform=t)
    x, y = next(iter(cg.utils.data.DataLoader(ds, batch_size=16, shuffle=False)))
    assert x.shape == (16, 1, 28, 28) and y.shape == (16,) and y.dtype == np.int64
    expected = (ds.data.numpy()[:16, None] / np.float32(255) - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_allclose(x.numpy(), expected, rtol=1e-6, atol=1e-6)
    # the forward-forward example's per-sample flatten: one image -> (784,), batches stay batches
    flat = T.Compose([T.ToTensor(), T.Lambda(lambda v: cg.flatten(v))])
    ds2 = datasets.MNIST(mnist_root, train=True, transform=flat)
    x2, _ = next(iter(cg.utils.data.DataLoader(ds2, batch_size=8)))
    assert x2.shape == (8, 784)


def _photo(h=21, w=34, mode="RGB", seed=0):
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3) if mode == "RGB" else (h, w), dtype=np.uint8)
    return Image.fromarray(arr, mode=mode)


def test_to_tensor_and_normalize_follow_their_definitions():
    img = _photo()
    x = T.ToTensor()(img)
    assert x.shape == (3, 21, 34) and x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy(), np.asarray(img).transpose(2, 0, 1) / np.float32(255))
    np.testing.assert_array_equal(T.ToTensor()(np.asarray(img)).numpy(), x.numpy())
    n = T.Normalize((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))(x)
    ref = (x.numpy() - np.array([0.5, 0.4, 0.3], np.float32)[:, None, None]) / np.array([0.2, 0.25, 0.3],
                                                                                         np.float32)[:, None, None]
    np.testing.assert_allclose(n.numpy(), ref, rtol=1e-6)
    with pytest.raises(ShapeError, match="3 channels"):
        T.Normalize((0.5, 0.5), (1, 1))(x)


def test_a_batch_given_to_a_per_sample_transform_fails_where_it_happens():
    batch = np.zeros((64, 28, 28), np.uint8)
    with pytest.raises(ShapeError, match="looks like a batch"):
        T.ToTensor()(batch)
    with pytest.raises(ShapeError, match="batch"):
        T.RandomHorizontalFlip()(cg.zeros(8, 1, 28, 28))
    with pytest.raises(ShapeError, match="batch"):
        T.Resize(14)(cg.zeros(8, 1, 28, 28))
    with pytest.raises(TypeError, match="ToTensor"):
        T.Normalize((0.5,), (0.5,))(_photo(mode="L"))


@pytest.mark.parametrize("size", [16, (10, 12), [40]])
def test_resize_uses_pillow_like_torchvision(size):
    img = _photo()
    out = T.Resize(size)(img)
    h, w = 21, 34
    if isinstance(size, int) or len(size) == 1:
        s = size if isinstance(size, int) else size[0]
        expected = (int(s * w / h), s)  # the smaller edge becomes s
    else:
        expected = (size[1], size[0])
    assert out.size == expected
    np.testing.assert_array_equal(np.asarray(out), np.asarray(img.resize(expected, Image.BILINEAR)))
    t = T.Resize(size)(T.ToTensor()(_photo(mode="L")))
    assert t.shape == (1, expected[1], expected[0])


def test_crops_pad_flips_rotation_and_grayscale():
    img = _photo()
    arr = np.asarray(img)
    c = T.CenterCrop(10)(img)
    top, left = int(round((21 - 10) / 2)), int(round((34 - 10) / 2))
    np.testing.assert_array_equal(np.asarray(c), arr[top:top + 10, left:left + 10])
    x = T.ToTensor()(img)
    np.testing.assert_array_equal(T.CenterCrop((10, 10))(x).numpy(), x.numpy()[:, top:top + 10, left:left + 10])
    assert T.CenterCrop(40)(x).shape == (3, 40, 40)  # padded with zeros where the image is smaller
    p = T.Pad((1, 2, 3, 4), fill=7)(x)
    np.testing.assert_array_equal(p.numpy(), np.pad(x.numpy(), ((0, 0), (2, 4), (1, 3)), constant_values=7))
    assert np.asarray(T.Pad(2)(img)).shape == (25, 38, 3)
    np.testing.assert_array_equal(np.asarray(T.Pad(3, padding_mode="reflect")(img)),
                                  np.pad(arr, ((3, 3), (3, 3), (0, 0)), mode="reflect"))
    cg.manual_seed(0)
    crops = [T.RandomCrop(28, padding=4)(x) for _ in range(10)]
    padded = np.pad(x.numpy(), ((0, 0), (4, 4), (4, 4)))
    for crop in crops:
        assert crop.shape == (3, 28, 28)
        windows = [(i, j) for i in range(29 - 28 + 1) for j in range(42 - 28 + 1)]  # padded 29 x 42
        assert any(np.array_equal(crop.numpy(), padded[:, i:i + 28, j:j + 28]) for i, j in windows)
    assert len({c.numpy().tobytes() for c in crops}) > 1
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(p=1)(img)), arr[:, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1)(x).numpy(), x.numpy()[:, ::-1])
    assert T.RandomHorizontalFlip(p=0)(img) is img
    sq = _photo(20, 20)
    np.testing.assert_array_equal(np.asarray(T.RandomRotation((90, 90))(sq)), np.rot90(np.asarray(sq)))
    xs = T.ToTensor()(sq)
    np.testing.assert_allclose(T.RandomRotation((90, 90))(xs).numpy(), np.rot90(xs.numpy(), axes=(1, 2)))
    g = T.Grayscale()(img)
    assert g.mode == "L"
    np.testing.assert_array_equal(np.asarray(g), np.asarray(img.convert("L")))
    gt = T.Grayscale(3)(x)
    ref = 0.299 * x.numpy()[0] + 0.587 * x.numpy()[1] + 0.114 * x.numpy()[2]
    assert gt.shape == (3, 21, 34)
    np.testing.assert_allclose(gt.numpy()[2], ref, rtol=1e-6)


def test_image_folder(tmp_path):
    for cls, n in (("cat", 2), ("dog", 3)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            _photo(8, 9, seed=i).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    ds = datasets.ImageFolder(tmp_path, transform=T.ToTensor())
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert len(ds) == 5 and ds.targets == [0, 0, 1, 1, 1]
    x, y = ds[2]
    assert x.shape == (3, 8, 9) and y == 1
    batch = next(iter(cg.utils.data.DataLoader(ds, batch_size=5)))
    assert batch[0].shape == (5, 3, 8, 9)
    with pytest.raises(DatasetNotFoundError, match="no class folders"):
        datasets.ImageFolder(tmp_path / "cat")


def test_make_grid_and_save_image(tmp_path):
    images = cg.tensor(np.linspace(0, 1, 10 * 28 * 28, dtype=np.float32).reshape(10, 1, 28, 28))
    grid = utils.make_grid(images, nrow=8, padding=2)
    assert grid.shape == (3, 2 * 30 + 2, 8 * 30 + 2)  # torchvision's arithmetic
    np.testing.assert_array_equal(grid.numpy()[0, 2:30, 2:30], images.numpy()[0, 0])
    np.testing.assert_array_equal(grid.numpy()[:, 32:, 62:], 0)  # the empty cells after image 10
    path = tmp_path / "grid.png"
    utils.save_image(images, path, nrow=5)
    saved = np.asarray(Image.open(path))
    assert saved.shape == (2 * 30 + 2, 5 * 30 + 2, 3)
    np.testing.assert_array_equal(saved[2:30, 2:30, 0], np.clip(images.numpy()[0, 0] * 255 + 0.5, 0, 255).astype(np.uint8))
    norm = utils.make_grid(images * 4 - 2, normalize=True)
    assert float(norm.numpy().min()) == 0.0 and float(norm.numpy().max()) == 1.0
    with pytest.raises(ArgumentError, match="directory"):
        utils.save_image(images, tmp_path)


def test_models_have_torchvision_names():
    model = models.resnet18(num_classes=10)
    assert model(cg.randn(1, 3, 64, 64)).shape == (1, 10)
    assert "layer1.0.conv1.weight" in model.state_dict()
    with pytest.raises(ArgumentError, match="does not download"):
        models.resnet18(weights="IMAGENET1K_V1")
    assert "vgg16_bn" in models.list_models()
