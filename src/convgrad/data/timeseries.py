"""Time series in the UCR/UEA archive's ``.ts`` text format (sktime's format).

A ``.ts`` file is a header and then one sample per line::

    # comment lines start with '#'
    @problemName GunPoint
    @univariate true            (or false, with @dimensions 6)
    @equalLength true
    @seriesLength 150
    @classLabel true 1 2        (the class labels, in this order)
    @data
    -0.64,-0.64,-0.63,...,-0.64:1            one channel, then ':' and the label
    0.07,0.07,...:0.30,0.21,...:Standing     channels separated by ':', the label last

Values are real numbers; ``?`` is a missing value. :func:`read_ts` parses a file strictly: a line
with the wrong number of channels, a value that is not a number, a label not declared in
``@classLabel``, or a length that contradicts ``@seriesLength`` is an error naming the file and
the line number.

Policies (as the archive's baselines do, Fawaz et al. 2019):

- **z-normalisation**: each series is z-normalised per channel (mean 0, standard deviation 1 over
  its observed values); a constant channel becomes all zeros.
- **unequal lengths**: series are padded at the end to the longest series (of the training and
  test files together) with zeros, after z-normalisation, so a pad is the series' own mean level.
  Missing values (``?``) become 0 after z-normalisation in the same way.
- **class order**: the order of ``@classLabel`` (so "Standing Running Walking Badminton" are
  classes 0..3); without that header line, the labels sorted (numerically when all are numbers).
"""
import glob
import math
import os

import numpy as np

from ..errors import FileFormatError
from .mnist import DatasetNotFoundError

MISSING = "?"


class TimeSeriesData:
    """The contents of one ``.ts`` file.

    Attributes:
        series: list of float64 arrays, one ``(channels, length_i)`` array per sample (NaN = missing).
        labels: list of str, the class label of each sample.
        class_labels: the labels declared by ``@classLabel`` (list of str), or None.
        problem_name: ``@problemName`` or the file name.
        path: the file read.
    """

    def __init__(self, series, labels, class_labels, problem_name, path):
        self.series, self.labels, self.class_labels = series, labels, class_labels
        self.problem_name, self.path = problem_name, path

    @property
    def channels(self):
        """Number of channels (variables) per time step."""
        return self.series[0].shape[0] if self.series else 0

    @property
    def lengths(self):
        """The length of each series before padding, ``(N,)`` ints."""
        return [s.shape[1] for s in self.series]

    def __len__(self):
        return len(self.series)

    def __repr__(self):
        lengths = self.lengths
        span = f"{min(lengths)}" if min(lengths) == max(lengths) else f"{min(lengths)}..{max(lengths)}"
        return (f"TimeSeriesData({self.problem_name!r}, {len(self)} series, {self.channels} channel(s), "
                f"length {span})")


def _header_bool(value, where):
    low = value.lower()
    if low not in ("true", "false"):
        raise FileFormatError(f"{where}: expected true or false, got {value!r}")
    return low == "true"


def _parse_values(text, where):
    values = np.empty(len(text.split(",")), dtype=np.float64)
    for i, token in enumerate(text.split(",")):
        token = token.strip()
        if token == MISSING:
            values[i] = np.nan
            continue
        try:
            values[i] = float(token)
        except ValueError:
            raise FileFormatError(f"{where}: value {i + 1} is {token!r}, not a number") from None
        if not math.isfinite(values[i]):
            raise FileFormatError(f"{where}: value {i + 1} is {token!r}, not a finite number")
    return values


def read_ts(path, labelled=True):
    """Read a UCR/UEA ``.ts`` file (univariate or multivariate, equal or unequal length).

    Args:
        path: the ``.ts`` file.
        labelled: every data line ends with a class label (for prediction, ``False`` reads files
            without labels too: a label is then expected only if ``@classLabel true``).

    Returns:
        :class:`TimeSeriesData` (the series as read: not normalised, not padded).

    Raises:
        DatasetNotFoundError: the file does not exist.
        FileFormatError: a malformed header or data line (the message names file and line number),
            time-stamped data (``@timeStamps true``, not supported), no class labels, or no data.

    Example::

        >>> d = read_ts("GunPoint/GunPoint_TRAIN.ts")  # doctest: +SKIP
        >>> len(d), d.channels, d.lengths[0], d.class_labels  # doctest: +SKIP
        (50, 1, 150, ['1', '2'])
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DatasetNotFoundError(f"time-series file '{path}' does not exist")
    header = {"dimensions": None, "serieslength": None, "equallength": None, "classlabel": None,
              "problemname": os.path.splitext(os.path.basename(path))[0]}
    series, labels, in_data = [], [], False
    try:
        with open(path, encoding="utf-8") as f:
            for number, raw in enumerate(f, start=1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                where = f"'{path}' line {number}"
                if not in_data and (labelled or line.startswith("@")):
                    in_data = _header_line(line, header, where, labelled)
                    continue
                in_data = True
                values, label = _data_line(line, header, where, labelled)
                series.append(values)
                labels.append(label)
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"'{path}' is not a text .ts file: {exc.reason} at byte {exc.start}") from None
    if not in_data and labelled:
        raise FileFormatError(f"'{path}': no @data line (is this a UCR/UEA .ts file?)")
    if not series:
        raise FileFormatError(f"'{path}': no series after @data")
    return TimeSeriesData(series, labels, header["classlabel"], header["problemname"], path)


def _header_line(line, header, where, labelled=True):
    """Parse one ``@key value`` line into ``header``; True when it is ``@data``."""
    if not line.startswith("@"):
        raise FileFormatError(f"{where}: expected a header line starting with '@' before @data, got {line[:40]!r}")
    key, _, value = line[1:].partition(" ")
    key, value = key.lower(), value.strip()
    if key == "data":
        if labelled and header["classlabel"] is None and header.get("classlabel_declared") is False:
            raise FileFormatError(f"{where}: the file has no class labels (@classLabel false); convgrad reads "
                                  f"labelled classification data only")
        return True
    if key == "timestamps" and _header_bool(value, where):
        raise FileFormatError(f"{where}: time-stamped series (@timeStamps true) are not supported")
    if key == "dimensions":
        header["dimensions"] = _positive_int(value, where, "@dimensions")
    elif key == "serieslength":
        header["serieslength"] = _positive_int(value, where, "@seriesLength")
    elif key == "equallength":
        header["equallength"] = _header_bool(value, where)
    elif key == "univariate" and _header_bool(value, where) and header["dimensions"] is None:
        header["dimensions"] = 1
    elif key == "problemname" and value:
        header["problemname"] = value
    elif key == "classlabel":
        flag, _, names = value.partition(" ")
        if _header_bool(flag, where):
            declared = names.split()
            if not declared:
                raise FileFormatError(f"{where}: @classLabel true but no labels listed")
            if len(set(declared)) != len(declared):
                raise FileFormatError(f"{where}: @classLabel lists a label twice: {declared}")
            header["classlabel"] = declared
        else:
            header["classlabel_declared"] = False
    return False


def _positive_int(value, where, name):
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise FileFormatError(f"{where}: {name} must be a positive integer, got {value!r}")
    return n


def _data_line(line, header, where, labelled=True):
    """``(values (channels, length), label)`` of one data line, checked against the header."""
    parts = line.split(":")
    if not labelled and header["classlabel"] is None:
        parts = parts + ["?"]  # no labels in this file: every part is a channel
    elif len(parts) < 2:
        raise FileFormatError(f"{where}: expected 'values:label' (channels separated by ':', the class label "
                              f"last), got no ':'")
    label, channels = parts[-1].strip(), parts[:-1]
    if not label:
        raise FileFormatError(f"{where}: the class label (after the last ':') is empty")
    declared = header["classlabel"]
    if declared is not None and label not in declared and labelled:
        raise FileFormatError(f"{where}: class label {label!r} is not among the declared labels {declared}")
    expected = header["dimensions"] or header.setdefault("seen_dimensions", len(channels))
    if len(channels) != expected:
        raise FileFormatError(f"{where}: {len(channels)} channel(s), expected {expected}")
    rows = [_parse_values(text, f"{where}, channel {c + 1}") for c, text in enumerate(channels)]
    lengths = {len(r) for r in rows}
    if len(lengths) != 1:
        raise FileFormatError(f"{where}: channels of one sample have different lengths {sorted(lengths)}")
    length = lengths.pop()
    if header["equallength"] and header["serieslength"] is not None and length != header["serieslength"]:
        raise FileFormatError(f"{where}: series of length {length}, the header declares @seriesLength "
                              f"{header['serieslength']}")
    return np.stack(rows), label


def read_ts_unlabelled(path):
    """The series of a ``.ts`` file whose lines may lack class labels (for prediction): a list of
    float64 ``(channels, length)`` arrays."""
    return read_ts(path, labelled=False).series


def find_ts_files(directory):
    """``(train_path, test_path)``: the ``*_TRAIN.ts`` and ``*_TEST.ts`` pair in ``directory``
    (``test_path`` is None when there is no test file).

    Raises:
        DatasetNotFoundError: no ``*_TRAIN.ts`` file, or several.
    """
    directory = os.fspath(directory)
    trains = sorted(glob.glob(os.path.join(glob.escape(directory), "*_TRAIN.ts")))
    if len(trains) != 1:
        found = ", ".join(os.path.basename(t) for t in trains) or "none"
        raise DatasetNotFoundError(f"'{directory}': expected one *_TRAIN.ts file, found {found}")
    test = trains[0][:-len("_TRAIN.ts")] + "_TEST.ts"
    return trains[0], test if os.path.isfile(test) else None


def znormalize(series):
    """z-normalise one ``(channels, length)`` series per channel; NaN (missing) becomes 0.

    A channel with standard deviation 0 (constant) becomes all zeros.
    """
    x = np.asarray(series, dtype=np.float64)
    observed = ~np.isnan(x)
    count = np.maximum(observed.sum(axis=1, keepdims=True), 1)
    filled = np.where(observed, x, 0.0)
    mean = filled.sum(axis=1, keepdims=True) / count
    var = (np.where(observed, x - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / count
    std = np.sqrt(var)
    out = np.where(std > 1e-8 * np.maximum(1.0, np.abs(mean)), (filled - mean) / np.where(std > 0, std, 1), 0.0)
    return np.where(observed, out, 0.0)


def stack_series(series, length, normalize=True):
    """A float32 ``(N, channels, length)`` array of ``series``, each z-normalised (if ``normalize``)
    and zero-padded at the end to ``length``."""
    channels = series[0].shape[0]
    out = np.zeros((len(series), channels, length), dtype=np.float32)
    for i, s in enumerate(series):
        s = znormalize(s) if normalize else np.nan_to_num(s)
        out[i, :, :s.shape[1]] = s
    return out


def class_order(labels, declared=None):
    """The class names in index order: ``declared`` (``@classLabel``) if given, else the distinct
    labels sorted (numerically when all parse as numbers)."""
    if declared:
        return list(declared)
    distinct = sorted(set(labels))
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return distinct
