"""open_data on real image folders (MNIST test digits, the UCI 8x8 digits), CSV, npz and IDX;
bad input; load_input preparing one sample like the training data."""
import os

import numpy as np
import pytest
from oracle import SHARED_DATA
from PIL import Image

from convgrad.data import (MNIST, MNIST_MEAN, MNIST_STD, DataLoader, EmptyClassError, ImageError, ImageFolder,
                           detect_kind, digit_from_array, load_input, load_inputs, open_data, read_csv)
from convgrad.errors import ArgumentError, ConvgradError, FileFormatError

OPTDIGITS = os.path.join(SHARED_DATA, "uci_optdigits")
NAMES = {3: "three", 7: "seven", 8: "eight"}


@pytest.fixture(scope="module")
def mnist_test():
    return MNIST(train=False)


def _mnist_folder(root, mnist, per_class=12, digits=(3, 7), mixed=False, corrupt=True):
    """One subfolder per digit: PNG grey 28x28, JPEG RGB (36x36 when ``mixed``), a corrupt file."""
    written = {}
    for d in digits:
        folder = root / NAMES[d]
        folder.mkdir(parents=True)
        idx = np.flatnonzero(mnist.targets == d)[:per_class]
        for j, i in enumerate(idx):
            img = Image.fromarray(mnist.data[i])
            if j % 4 == 1:
                path = folder / f"{j:03d}.webp"
                img.save(path, lossless=True)
            elif j % 3 == 2:
                img = img.convert("RGB")
                if mixed:
                    img = img.resize((36, 36), Image.Resampling.BILINEAR)
                path = folder / f"{j:03d}.jpg"
                img.save(path, quality=95)
            else:
                path = folder / f"{j:03d}.png"
                img.save(path)
            written[str(path)] = (d, mnist.data[i])
    if corrupt:
        (root / NAMES[digits[0]] / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    (root / NAMES[digits[0]] / "notes.txt").write_text("not an image")
    return written


def test_image_folder_from_mnist_digits(tmp_path, mnist_test):
    written = _mnist_folder(tmp_path, mnist_test)
    bundle = open_data(tmp_path, image_size=28, channels=1, val_split=0.25, seed=1)
    assert bundle.kind == "image_folder" and bundle.class_names == ["seven", "three"]
    assert (len(bundle.train), len(bundle.test), bundle.test_name) == (18, 6, "validation")
    assert bundle.input_shape == (1, 28, 28) and bundle.num_classes == 2
    assert "image folder: 2 classes (seven, three), 18 train / 6 validation images, 28x28 grey" in bundle.description
    assert any("broken.png" in w and "skipped 1 unreadable" in w for w in bundle.warnings)
    # every label is its file's folder, and the pixels are the digit, normalised
    mean, std = bundle.preprocessing["mean"][0], bundle.preprocessing["std"][0]
    for ds in (bundle.train, bundle.test):
        x, y = ds.get_batch(np.arange(len(ds)))
        assert x.shape == (len(ds), 1, 28, 28) and x.dtype == np.float32
        for (path, label), image, got in zip(ds.samples, x, y):
            digit, pixels = written[path]
            assert bundle.class_names[got] == NAMES[digit] == bundle.class_names[label]
            tolerance = 0.15 if path.endswith(".jpg") else 0.02  # JPEG is lossy
            assert np.abs(image[0] * std + mean - pixels / 255).mean() < tolerance
    # mean and std are the training split's own, per channel
    x, _ = bundle.train.get_batch(np.arange(len(bundle.train)))
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3
    assert bundle.split["fraction"] == 0.25 and len(bundle.split["files"]) == 6


def test_split_is_stratified_seeded_and_recorded(tmp_path, mnist_test):
    _mnist_folder(tmp_path, mnist_test, per_class=10, digits=(3, 7, 8), corrupt=False)
    a = open_data(tmp_path, val_split=0.2, seed=5)
    b = open_data(tmp_path, val_split=0.2, seed=5)
    c = open_data(tmp_path, val_split=0.2, seed=6)
    assert a.split == b.split and a.split != c.split
    assert np.bincount(a.test.targets).tolist() == [2, 2, 2]
    import json
    json.dumps(a.split), json.dumps(a.preprocessing)  # JSON-able


def test_mixed_sizes_and_colour_are_chosen_and_said(tmp_path, mnist_test):
    _mnist_folder(tmp_path, mnist_test, mixed=True, corrupt=False)
    bundle = open_data(tmp_path)
    assert bundle.input_shape == (3, 28, 28)  # a JPEG is RGB -> 3 channels; median shorter side 28
    note = [w for w in bundle.warnings if "mixed sizes" in w]
    assert note and "28x28 to 36x36" in note[0] and "resized to 28x28" in note[0]
    x, _ = bundle.train.get_batch([0, 1, 2])
    assert x.shape == (3, 3, 28, 28)
    assert len(bundle.preprocessing["mean"]) == 3


def test_train_and_test_subfolders_are_used(tmp_path, mnist_test):
    _mnist_folder(tmp_path / "train", mnist_test, per_class=8, corrupt=False)
    _mnist_folder(tmp_path / "test", mnist_test, per_class=3, corrupt=False)
    bundle = open_data(tmp_path)
    assert (len(bundle.train), len(bundle.test), bundle.test_name, bundle.split) == (16, 6, "test", None)


def test_uci_digits_as_an_image_folder(tmp_path):
    x, labels, _, _ = read_csv(os.path.join(OPTDIGITS, "optdigits.tes"))
    for i in range(200):
        folder = tmp_path / f"digit{labels[i]}"
        folder.mkdir(exist_ok=True)
        Image.fromarray((x[i].reshape(8, 8) * 255 / 16).astype(np.uint8)).save(folder / f"{i}.bmp")
    bundle = open_data(tmp_path, val_split=0.2)
    assert bundle.num_classes == 10 and bundle.input_shape == (1, 8, 8)
    assert len(bundle.train) + len(bundle.test) == 200
    assert bundle.class_names == [f"digit{d}" for d in range(10)]


def test_lazy_loading_with_a_bounded_cache(tmp_path, mnist_test):
    _mnist_folder(tmp_path, mnist_test, per_class=10, corrupt=False)
    folder = ImageFolder(tmp_path, image_size=28, channels=1, cache_bytes=5 * 28 * 28)
    first = folder.get_batch(np.arange(20))[0]
    assert len(folder._cache) <= 5 and folder._cached_bytes <= 5 * 28 * 28
    again = folder.get_batch(np.arange(20))[0]
    np.testing.assert_array_equal(first, again)
    batches = list(DataLoader(folder, batch_size=6, shuffle=True, seed=0))
    assert sum(len(labels) for _, labels in batches) == 20


def test_augmentation_only_on_training_images(tmp_path, mnist_test):
    _mnist_folder(tmp_path, mnist_test, corrupt=False)
    plain = open_data(tmp_path, seed=0)
    aug = open_data(tmp_path, seed=0, augment=True)
    rng = np.random.default_rng(0)
    a = aug.train.get_batch(np.arange(4), np.random.default_rng(1))[0]
    assert not np.allclose(a, plain.train.get_batch(np.arange(4), rng)[0])
    np.testing.assert_array_equal(aug.test.get_batch(np.arange(4))[0], plain.test.get_batch(np.arange(4))[0])


def test_strict_makes_an_unreadable_file_an_error(tmp_path, mnist_test):
    _mnist_folder(tmp_path, mnist_test)
    with pytest.raises(ImageError, match="broken.png"):
        open_data(tmp_path, strict=True)


def test_bad_folders(tmp_path, mnist_test):
    one = tmp_path / "one"
    _mnist_folder(one, mnist_test, digits=(3,), corrupt=False)
    with pytest.raises(ConvgradError, match="1 class .*at least 2"):
        open_data(one)
    empty = tmp_path / "empty"
    _mnist_folder(empty, mnist_test, corrupt=False)
    (empty / "nothing").mkdir()
    with pytest.raises(EmptyClassError, match="nothing' holds no images"):
        open_data(empty)
    unreadable = tmp_path / "unreadable"
    _mnist_folder(unreadable, mnist_test, corrupt=False)
    (unreadable / "junk").mkdir()
    (unreadable / "junk" / "a.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(EmptyClassError, match="junk' holds no readable image"):
        open_data(unreadable)
    split = tmp_path / "split"
    _mnist_folder(split / "train", mnist_test, digits=(3, 7), corrupt=False)
    _mnist_folder(split / "test", mnist_test, digits=(3, 8), corrupt=False)
    with pytest.raises(ConvgradError, match=r"classes \['eight'\] that the training data does not have"):
        open_data(split)


def test_load_input_prepares_an_image_like_the_training_data(tmp_path, mnist_test):
    written = _mnist_folder(tmp_path, mnist_test, corrupt=False)
    bundle = open_data(tmp_path, image_size=28)
    path, label = bundle.test.samples[0]
    x = load_input(path, bundle.preprocessing)
    np.testing.assert_allclose(x, bundle.test[0][0], atol=1e-5)
    big = tmp_path / "big.png"  # any size: plain resize + centre crop
    Image.fromarray(written[path][1]).resize((112, 112), Image.Resampling.NEAREST).save(big)
    assert load_input(big, bundle.preprocessing).shape == (bundle.input_shape)


def test_load_input_for_mnist_centres_the_digit(tmp_path, mnist_test):
    bundle = open_data()
    assert bundle.preprocessing["mean"] == [MNIST_MEAN] and bundle.preprocessing["std"] == [MNIST_STD]
    canvas = np.full((200, 150), 255, np.uint8)  # dark digit on white paper, off-centre
    canvas[20:132, 10:122] = 255 - np.asarray(Image.fromarray(mnist_test.data[0]).resize((112, 112)))
    Image.fromarray(canvas).save(tmp_path / "seven.png")
    x = load_input(tmp_path / "seven.png", bundle.preprocessing)
    expected = (digit_from_array(mnist_test.data[0]) / 255 - MNIST_MEAN) / MNIST_STD  # centred the same way
    assert x.shape == (1, 28, 28)
    assert np.corrcoef(x.ravel(), expected.ravel())[0, 1] > 0.9


def test_bundled_mnist_and_subsets():
    bundle = open_data(max_train=100000, max_test=500)
    assert (len(bundle.train), len(bundle.test)) == (5000, 500)
    assert any("max_train=100,000 is more than the 5,000 train samples" in w for w in bundle.warnings)
    assert bundle.preprocessing["dataset"] == "mnist" and bundle.preprocessing["input"] == "digit"
    assert bundle.description.startswith("MNIST sample (bundled): 10 classes")


def test_csv_optdigits_finds_its_test_file():
    bundle = open_data(os.path.join(OPTDIGITS, "optdigits.tra"))
    assert bundle.kind == "csv" and (len(bundle.train), len(bundle.test)) == (3823, 1797)
    assert bundle.input_shape == (1, 8, 8) and bundle.class_names == [str(d) for d in range(10)]
    assert np.bincount(bundle.train.targets).tolist() == [376, 389, 380, 389, 387, 376, 377, 387, 380, 382]
    assert np.bincount(bundle.test.targets).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    raw = np.loadtxt(os.path.join(OPTDIGITS, "optdigits.tra"), delimiter=",")
    pre = bundle.preprocessing
    x0 = bundle.train[0][0]
    np.testing.assert_allclose(x0.ravel() * pre["std"][0] + pre["mean"][0], raw[0, :64] * pre["scale"], atol=1e-5)
    assert bundle.train[0][1] == int(raw[0, 64])


def test_sklearn_digits_csv_gz_gets_a_validation_split():
    bundle = open_data(os.path.join(SHARED_DATA, "uci_digits_sklearn", "digits.csv.gz"))
    assert bundle.test_name == "validation" and len(bundle.train) + len(bundle.test) == 1797


def test_csv_with_header_named_and_string_labels(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["f1,f2,kind,f3"] + [f"{a:.3f},{b:.3f},{'cat' if i % 2 else 'dog'},{c:.3f}"
                                for i, (a, b, c) in enumerate(rng.normal(size=(20, 3)))]
    (tmp_path / "pets.csv").write_text("\n".join(rows) + "\n")
    bundle = open_data(tmp_path / "pets.csv", label_column="kind")
    assert bundle.class_names == ["cat", "dog"] and bundle.input_shape == (1, 3)
    assert bundle.preprocessing["feature_names"] == ["f1", "f2", "f3"]
    with pytest.raises(ArgumentError, match=r"no label column 'species'; its columns are \['f1', 'f2', 'kind', 'f3'\]"):
        open_data(tmp_path / "pets.csv", label_column="species")
    with pytest.raises(ArgumentError, match="no label column 'kind'; it has no header"):
        open_data(os.path.join(OPTDIGITS, "optdigits.tes"), label_column="kind")


def test_csv_non_integral_labels_and_bad_cells(tmp_path):
    (tmp_path / "a.csv").write_text("1,2,0.5\n3,4,1.5\n5,6,1\n")
    with pytest.raises(FileFormatError, match="class labels must be integers, got 0.5"):
        open_data(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("1,2,0\n3,x,1\n")
    with pytest.raises(FileFormatError, match="line 2: feature 'x' is not a number"):
        open_data(tmp_path / "b.csv")


def test_npz_images_channels_last_and_labels_remapped(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 12, 10, 3), dtype=np.uint8)
    y = np.repeat([5, 9, 2], 10)
    np.savez(tmp_path / "d.npz", x=x, y=y, x_test=x[:6], y_test=y[:6])
    bundle = open_data(tmp_path / "d.npz")
    assert bundle.input_shape == (3, 12, 10) and bundle.class_names == ["2", "5", "9"]
    assert bundle.test_name == "test" and len(bundle.test) == 6
    assert any("mapped to class indices" in w for w in bundle.warnings)
    assert bundle.train[0][1] == 1  # label 5 -> index 1, named "5"
    pre = bundle.preprocessing
    np.testing.assert_allclose(bundle.train[0][0][:, 0, 0] * pre["std"] + pre["mean"], x[0, 0, 0] / 255, atol=1e-5)


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((4, 5)), y=np.array([0.0, 1.0, 1.5, 0.0]))
    with pytest.raises(FileFormatError, match="must be integers"):
        open_data(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", images=np.zeros((4, 5)))
    with pytest.raises(FileFormatError, match="expected arrays 'x' and 'y'"):
        open_data(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", x=np.array([{"a": 1}] * 4, dtype=object), y=np.zeros(4))
    with pytest.raises(FileFormatError, match="not a readable .npz file of plain arrays"):
        open_data(tmp_path / "c.npz")


def test_npz_series_layout(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 3, 16)).astype(np.float32)
    np.savez(tmp_path / "s.npz", x=x, y=np.arange(20) % 2, layout=np.array("series"))
    bundle = open_data(tmp_path / "s.npz")
    assert bundle.input_shape == (3, 16) and "sequences of length 16, 3 channel(s)" in bundle.description


def test_detect_kind_and_errors(tmp_path):
    assert detect_kind(None) == "idx"
    assert detect_kind(os.path.join(SHARED_DATA, "ucr_sktime", "GunPoint")) == "ts"
    assert detect_kind(os.path.join(SHARED_DATA, "mnist")) == "idx"
    assert detect_kind(os.path.join(OPTDIGITS, "optdigits.tra")) == "csv"
    with pytest.raises(ConvgradError, match="does not exist"):
        open_data(tmp_path / "nope")
    with pytest.raises(ConvgradError, match="holds no data convgrad recognises"):
        open_data(tmp_path)
    with pytest.raises(ArgumentError, match="kind must be one of"):
        open_data(tmp_path, kind="audio")


def test_load_inputs_for_series(tmp_path):
    bundle = open_data(os.path.join(SHARED_DATA, "ucr_sktime", "ItalyPowerDemand"))
    test_file = os.path.join(SHARED_DATA, "ucr_sktime", "ItalyPowerDemand", "ItalyPowerDemand_TEST.ts")
    x = load_inputs(test_file, bundle.preprocessing)
    np.testing.assert_allclose(x, bundle.test.get_batch(np.arange(len(bundle.test)))[0], atol=1e-5)
    values = open(test_file).read().split("@data")[1].split()[0].split(":")[0]
    (tmp_path / "one.csv").write_text(values + "\n")
    np.testing.assert_allclose(load_input(tmp_path / "one.csv", bundle.preprocessing), bundle.test[0][0], atol=1e-5)
    (tmp_path / "short.csv").write_text("1,2,3\n")
    with pytest.raises(FileFormatError, match="3 values, the model needs 24"):
        load_input(tmp_path / "short.csv", bundle.preprocessing)
    with pytest.raises(FileFormatError, match="holds 1029 samples"):
        load_input(test_file, bundle.preprocessing)


def test_array_dataset_refuses_non_integral_labels():
    from convgrad.data import ArrayDataset
    with pytest.raises(ConvgradError, match="labels must be integers"):
        ArrayDataset(np.zeros((2, 3)), np.array([1.5, 2.7]))
    with pytest.raises(ConvgradError, match="labels must be integers"):
        ArrayDataset(np.zeros((2, 3)), np.array(["a", "b"]))
    assert ArrayDataset(np.zeros((2, 3)), np.array([1.0, 2.0])).targets.tolist() == [1, 2]


def test_idx_directory_with_only_the_test_images():
    bundle = open_data(os.path.join(SHARED_DATA, "mnist"), max_train=300, max_test=100)
    assert bundle.kind == "idx" and bundle.test_name == "validation"
    assert (len(bundle.train), len(bundle.test)) == (300, 100)
    assert bundle.preprocessing["dataset"] == "mnist"  # its statistics are MNIST's
    assert any("no train-images file" in w for w in bundle.warnings)


def test_npz_test_labels_unseen_in_training(tmp_path):
    x = np.zeros((6, 4, 4), np.uint8)
    np.savez(tmp_path / "u.npz", x=x, y=np.array([0, 1, 0, 1, 0, 1]), x_test=x[:2], y_test=np.array([1, 7]))
    with pytest.raises(FileFormatError, match=r"test split has labels \['7'\]"):
        open_data(tmp_path / "u.npz")


def test_an_image_folder_trains(tmp_path, mnist_test):
    import convgrad as cg
    from convgrad.models import build_for_data
    from convgrad.optim import Adam
    from convgrad.training import fit
    from convgrad.training.fit import evaluate

    _mnist_folder(tmp_path, mnist_test, per_class=60, corrupt=False)
    bundle = open_data(tmp_path, val_split=0.25, seed=0, augment=True)
    cg.manual_seed(0)
    model, _ = build_for_data("lenet5", bundle.input_shape, bundle.num_classes, variant="modern")
    fit(model, DataLoader(bundle.train, batch_size=16, shuffle=True, seed=0), Adam(model.parameters(), lr=3e-3),
        epochs=4, progress=False)
    assert evaluate(model, DataLoader(bundle.test, batch_size=64)) >= 0.9  # 30 validation digits, 3 vs 7


def test_csv_images_augmented_on_training_split_only():
    path = os.path.join(OPTDIGITS, "optdigits.tes")
    plain, aug = open_data(path, max_train=50), open_data(path, max_train=50, augment=True)
    a = aug.train.get_batch(np.arange(8), np.random.default_rng(0))[0]
    p = plain.train.get_batch(np.arange(8))[0]
    assert a.shape == p.shape and not np.allclose(a, p)
    assert np.allclose(a.min(axis=(2, 3)), p.min(axis=(2, 3)), atol=1e-5)  # background level kept
    np.testing.assert_array_equal(aug.test.get_batch(np.arange(8))[0], plain.test.get_batch(np.arange(8))[0])


def test_load_input_reads_older_mnist_checkpoints_preprocessing(tmp_path, mnist_test):
    Image.fromarray(255 - mnist_test.data[3]).save(tmp_path / "d.png")
    old = {"mean": [MNIST_MEAN], "std": [MNIST_STD], "input_size": [1, 28, 28], "dataset": "mnist"}
    np.testing.assert_array_equal(load_input(tmp_path / "d.png", old),
                                  load_input(tmp_path / "d.png", open_data().preprocessing))


def test_load_inputs_for_csv_image_rows_and_pictures(tmp_path):
    bundle = open_data(os.path.join(OPTDIGITS, "optdigits.tra"))
    rows = open(os.path.join(OPTDIGITS, "optdigits.tes")).read().splitlines()[:3]
    (tmp_path / "rows.csv").write_text("\n".join(rows) + "\n")  # with their label column: dropped
    x = load_inputs(tmp_path / "rows.csv", bundle.preprocessing)
    np.testing.assert_allclose(x, bundle.test.get_batch([0, 1, 2])[0], atol=1e-5)
    raw = np.array([float(v) for v in rows[0].split(",")[:64]]).reshape(8, 8)
    Image.fromarray((raw * 255 / 16).astype(np.uint8)).save(tmp_path / "digit.png")
    np.testing.assert_allclose(load_input(tmp_path / "digit.png", bundle.preprocessing), bundle.test[0][0], atol=0.05)
