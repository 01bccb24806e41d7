"""The UCR/UEA .ts reader against the archive's published sizes and an independent parse, its
errors on malformed files, and open_data on .ts directories."""
import glob
import os

import numpy as np
import pytest
from oracle import SHARED_DATA

from convgrad.data import DataLoader, open_data, read_ts, znormalize
from convgrad.errors import ConvgradError, FileFormatError

UCR = os.path.join(SHARED_DATA, "ucr_sktime")
# the archive's published sizes: train, test, length, channels, classes
PUBLISHED = {"GunPoint": (50, 150, 150, 1, 2), "ItalyPowerDemand": (67, 1029, 24, 1, 2),
             "OSULeaf": (200, 242, 427, 1, 6), "BasicMotions": (40, 40, 100, 6, 4)}
TS_FILES = sorted(glob.glob(os.path.join(UCR, "*", "*.ts")))


def simple_parse(path):
    """An independent reading of the format: skip '#' and '@' lines; each data line is channels
    separated by ':' with the label last, values separated by ','."""
    xs, ys = [], []
    with open(path) as f:
        lines = f.read().splitlines()
    start = [i for i, line in enumerate(lines) if line.strip().lower() == "@data"][0]
    for line in lines[start + 1:]:
        if not line.strip():
            continue
        *channels, label = line.strip().split(":")
        xs.append(np.array([[float(v) for v in c.split(",")] for c in channels]))
        ys.append(label)
    return xs, ys


def test_every_shared_file_is_read():
    assert len(TS_FILES) == 8  # the four sets, TRAIN and TEST each


@pytest.mark.parametrize("path", TS_FILES, ids=[os.path.basename(p) for p in TS_FILES])
def test_reader_agrees_with_an_independent_parse(path):
    data = read_ts(path)
    xs, ys = simple_parse(path)
    assert data.labels == ys
    assert len(data.series) == len(xs)
    for got, want in zip(data.series, xs):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_open_data_matches_published_sizes(name):
    n_train, n_test, length, channels, classes = PUBLISHED[name]
    bundle = open_data(os.path.join(UCR, name))
    assert bundle.kind == "ts" and bundle.test_name == "test"
    assert (len(bundle.train), len(bundle.test)) == (n_train, n_test)
    assert bundle.input_shape == (channels, length) and bundle.num_classes == classes
    x, y = bundle.train.get_batch(np.arange(len(bundle.train)))
    assert x.shape == (n_train, channels, length) and x.dtype == np.float32 and y.dtype == np.int64
    # z-normalised per series and channel
    np.testing.assert_allclose(x.mean(axis=2), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(axis=2), 1, atol=1e-4)
    assert f"{n_train} train / {n_test:,} test series, length {length}" in bundle.description
    assert bundle.preprocessing["input_size"] == [channels, length]
    assert bundle.preprocessing["classes"] == bundle.class_names


def test_labels_follow_the_declared_order_and_match_the_file():
    bundle = open_data(os.path.join(UCR, "BasicMotions"))
    assert bundle.class_names == ["Standing", "Running", "Walking", "Badminton"]
    _, labels = simple_parse(os.path.join(UCR, "BasicMotions", "BasicMotions_TRAIN.ts"))
    got = [bundle.class_names[bundle.train[i][1]] for i in range(len(bundle.train))]
    assert got == labels
    first_series = simple_parse(os.path.join(UCR, "BasicMotions", "BasicMotions_TRAIN.ts"))[0][0]
    np.testing.assert_allclose(bundle.train[0][0], znormalize(first_series), atol=1e-5)


def test_znormalize_definition():
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, (2, 50))
    z = znormalize(x)
    np.testing.assert_allclose(z, (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True), atol=1e-12)
    assert np.all(znormalize(np.full((1, 5), 4.0)) == 0)  # a constant channel -> zeros


def _write(path, body, header="@problemName T\n@univariate true\n@classLabel true a b\n@data\n"):
    path.write_text(header + body)
    return path


def test_unequal_lengths_padded_to_the_longest(tmp_path):
    header = "@problemName U\n@univariate true\n@equalLength false\n@classLabel true a b\n@data\n"
    _write(tmp_path / "U_TRAIN.ts", "1,2,3:a\n4,5,6,7,8:b\n1,3:a\n", header)
    _write(tmp_path / "U_TEST.ts", "1,2,3,4,5,6:b\n2,1:a\n", header)
    bundle = open_data(tmp_path)
    assert bundle.input_shape == (1, 6)
    assert any("padded at the end with zeros to 6" in w for w in bundle.warnings)
    x, y = bundle.train.get_batch([0, 1, 2])
    np.testing.assert_allclose(x[0, 0, :3], znormalize(np.array([[1.0, 2, 3]]))[0], atol=1e-6)
    assert np.all(x[0, 0, 3:] == 0) and np.all(x[2, 0, 2:] == 0)
    assert y.tolist() == [0, 1, 0]


def test_missing_values_become_zero_after_normalisation(tmp_path):
    _write(tmp_path / "M_TRAIN.ts", "1,?,3,5:a\n1,2,3,4:b\n")
    data = read_ts(tmp_path / "M_TRAIN.ts")
    assert np.isnan(data.series[0][0, 1])
    z = znormalize(data.series[0])
    assert z[0, 1] == 0 and abs(z[0, [0, 2, 3]].mean()) < 1e-12


@pytest.mark.parametrize("body,fragment", [
    ("1,2,3:a\n1,2,x:b\n", "line 6, channel 1: value 3 is 'x', not a number"),
    ("1,2,3:a\n1,2,3\n", "line 6: expected 'values:label'"),
    ("1,2,3:a\n1,2,3:c\n", "line 6: class label 'c' is not among the declared labels"),
    ("1,2,3:a\n1,2:3,4:b\n", "line 6: 2 channel(s), expected 1"),
    ("1,2,3:a\n1,2,3:\n", "line 6: the class label (after the last ':') is empty"),
    ("", "no series after @data"),
])
def test_malformed_line_names_file_and_line(tmp_path, body, fragment):
    path = _write(tmp_path / "bad.ts", body)
    with pytest.raises(FileFormatError) as info:
        read_ts(path)
    assert fragment in str(info.value) and "bad.ts" in str(info.value) and "\n" not in str(info.value)


def test_header_errors(tmp_path):
    with pytest.raises(FileFormatError, match="line 2: expected a header line"):
        read_ts(_write(tmp_path / "a.ts", "", header="@problemName X\n1,2,3:a\n"))
    with pytest.raises(FileFormatError, match="@timeStamps true"):
        read_ts(_write(tmp_path / "b.ts", "", header="@timeStamps true\n@data\n"))
    with pytest.raises(FileFormatError, match="@seriesLength 4"):
        read_ts(_write(tmp_path / "c.ts", "1,2,3:a\n",
                       header="@equalLength true\n@seriesLength 4\n@classLabel true a\n@data\n"))
    with pytest.raises(FileFormatError, match="no class labels"):
        read_ts(_write(tmp_path / "d.ts", "1,2,3\n", header="@classLabel false\n@data\n"))


def test_test_labels_unseen_in_training_are_an_error(tmp_path):
    header = "@univariate true\n@data\n"
    _write(tmp_path / "V_TRAIN.ts", "1,2,3:a\n3,2,1:b\n1,1,2:a\n", header)
    _write(tmp_path / "V_TEST.ts", "1,2,3:c\n", header)
    with pytest.raises(FileFormatError, match=r"test split has labels \['c'\]"):
        open_data(tmp_path)


def test_one_class_is_an_error(tmp_path):
    _write(tmp_path / "W_TRAIN.ts", "1,2,3:a\n3,2,1:a\n", "@classLabel true a\n@data\n")
    with pytest.raises(ConvgradError, match="1 class .*at least 2"):
        open_data(tmp_path)


def test_train_file_alone_gets_a_stratified_validation_split(tmp_path):
    alone = tmp_path / "leaf.ts"
    alone.write_bytes(open(os.path.join(UCR, "OSULeaf", "OSULeaf_TRAIN.ts"), "rb").read())
    bundle = open_data(alone, val_split=0.25, seed=3)
    assert bundle.test_name == "validation" and len(bundle.train) + len(bundle.test) == 200
    split = bundle.split
    assert split["seed"] == 3 and split["fraction"] == 0.25 and len(split["validation_indices"]) == len(bundle.test)
    counts = np.bincount(bundle.test.targets, minlength=6)
    full = np.bincount(bundle.train.targets, minlength=6) + counts
    np.testing.assert_allclose(counts / full, 0.25, atol=0.1)  # stratified
    again = open_data(alone, val_split=0.25, seed=3)
    assert again.split == split


def test_train_file_path_finds_its_test_file():
    bundle = open_data(os.path.join(UCR, "GunPoint", "GunPoint_TRAIN.ts"))
    assert (len(bundle.train), len(bundle.test), bundle.test_name) == (50, 150, "test")


def test_loader_batches_series():
    bundle = open_data(os.path.join(UCR, "ItalyPowerDemand"))
    images, labels = next(iter(DataLoader(bundle.train, batch_size=16, shuffle=True, seed=0)))
    assert images.shape == (16, 1, 24) and labels.shape == (16,)
