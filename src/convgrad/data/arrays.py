"""Samples stored as arrays: NumPy ``.npz`` files and CSV tables with a label column.

- ``.npz``: arrays ``x`` and ``y`` (and optionally ``x_test`` and ``y_test``); read with
  ``allow_pickle=False``. ``x`` is ``(N, H, W)`` or ``(N, C, H, W)`` / ``(N, H, W, C)`` images
  (channels-last when the last axis is 1, 3 or 4 and the second is not 1 or 3), or ``(N, L)``
  series or feature vectors. A 3-D ``x`` is read as grey images ``(N, H, W)`` unless the file
  holds a string array ``layout`` equal to ``"series"`` (then ``(N, C, L)`` multichannel series).
- CSV: one sample per row, a label column (by default the column named ``label``, ``class``,
  ``target`` or ``y`` when there is a header, else the last column) and numeric features. A
  header row is recognised by a non-numeric cell in the first row. ``.gz`` files are read
  transparently. When the number of features is a perfect square ``s * s`` (s >= 4), the rows are
  read as ``1 x s x s`` grey images (the UCI 8x8 digits, MNIST as CSV); otherwise as ``1 x F``
  sequences.

Labels are integers or strings. They become class indices in sorted order (numerically when all
are numbers) and the original labels are kept as class names; non-integral numeric labels (1.5)
are an error, not truncated.
"""
import gzip
import math
import os

import numpy as np

from ..errors import ArgumentError, FileFormatError
from .mnist import DatasetNotFoundError

LABEL_NAMES = ("label", "class", "target", "y")


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _open_text(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", encoding="utf-8") if gz else open(path, encoding="utf-8")


def _delimiter(line):
    for d in (",", ";", "\t"):
        if d in line:
            return d
    return None  # whitespace


def read_csv(path, label_column=None):
    """Read a CSV of numeric features and a label column.

    Args:
        path: the CSV file (optionally gzip-compressed).
        label_column: the label's column, as a name (with a header) or an index (negative counts
            from the end); None: a column named label/class/target/y, else the last.

    Returns:
        ``(features float64 (N, F), labels list of str, header list of str or None, label index)``.

    Raises:
        DatasetNotFoundError: no such file.
        FileFormatError: no rows, rows of different lengths, a non-numeric feature (line named).
        ArgumentError: ``label_column`` names a column that does not exist.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DatasetNotFoundError(f"CSV file '{path}' does not exist")
    try:
        with _open_text(path) as f:
            lines = [(n, line.strip()) for n, line in enumerate(f, start=1) if line.strip()]
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise FileFormatError(f"'{path}' is not a readable text CSV file: {exc}") from None
    if not lines:
        raise FileFormatError(f"CSV file '{path}' is empty")
    delim = _delimiter(lines[0][1])
    rows = [[cell.strip().strip('"') for cell in line.split(delim)] for _, line in lines]
    header = None
    if not all(_is_number(cell) for cell in rows[0]):
        header, rows, lines = rows[0], rows[1:], lines[1:]
        if not rows:
            raise FileFormatError(f"CSV file '{path}' has a header but no rows")
    width = len(header or rows[0])
    label = _label_index(path, label_column, header, width)
    features = np.empty((len(rows), width - 1), dtype=np.float64)
    labels = []
    for (number, _), row in zip(lines, rows):
        if len(row) != width:
            raise FileFormatError(f"'{path}' line {number}: {len(row)} columns, expected {width}")
        labels.append(row[label])
        cells = row[:label] + row[label + 1:]
        try:
            features[len(labels) - 1] = [float(c) for c in cells]
        except ValueError:
            bad = next(c for c in cells if not _is_number(c))
            raise FileFormatError(f"'{path}' line {number}: feature {bad!r} is not a number") from None
    if not np.all(np.isfinite(features)):
        raise FileFormatError(f"'{path}': features must be finite numbers (found NaN or Inf)")
    return features, labels, header, label


def _label_index(path, label_column, header, width):
    if width < 2:
        raise FileFormatError(f"CSV file '{path}' has {width} column; expected features and a label column")
    if label_column is None:
        if header is not None:
            for i, name in enumerate(header):
                if name.lower() in LABEL_NAMES:
                    return i
        return width - 1
    if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
        if header is None or label_column not in header:
            names = f"its columns are {header}" if header else "it has no header row (give a column number)"
            raise ArgumentError(f"CSV file '{path}': no label column {label_column!r}; {names}")
        return header.index(label_column)
    index = int(label_column)
    if not -width <= index < width:
        raise ArgumentError(f"CSV file '{path}': label column {index} is out of range for {width} columns")
    return index % width


def label_indices(labels, source):
    """``(indices int64 (N,), class_names list of str)`` of labels given as numbers or strings.

    Numbers: they must be integral; class names are ``str(int(label))`` sorted numerically.
    Strings: sorted as numbers when they all are, else alphabetically.

    Raises:
        FileFormatError: a non-integral numeric label (1.5), or no labels.
    """
    arr = np.asarray(labels)
    if arr.size == 0:
        raise FileFormatError(f"{source}: no labels")
    numeric = arr.dtype.kind in "fiub" or (arr.dtype.kind in "US" and all(_is_number(str(v)) for v in arr.ravel()))
    if numeric:
        values = arr.astype(np.float64)
        bad = values[(values != np.round(values)) | ~np.isfinite(values)]
        if bad.size:
            raise FileFormatError(f"{source}: class labels must be integers, got {float(bad[0]):g} "
                                  f"({bad.size} non-integral labels)")
        ints = values.astype(np.int64)
        classes = np.unique(ints)
        return np.searchsorted(classes, ints).astype(np.int64), [str(int(c)) for c in classes]
    names = sorted(set(str(v) for v in arr.ravel()))
    lookup = {name: i for i, name in enumerate(names)}
    return np.array([lookup[str(v)] for v in arr.ravel()], dtype=np.int64), names


def read_npz(path):
    """``(x, y, x_test or None, y_test or None, layout or None)`` from an ``.npz`` file (never unpickled).

    Raises:
        DatasetNotFoundError: no such file.
        FileFormatError: not an npz file, ``x``/``y`` missing, lengths differ, object arrays.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DatasetNotFoundError(f"npz file '{path}' does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError) as exc:
        raise FileFormatError(f"'{path}' is not a readable .npz file of plain arrays: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    for key in ("x", "y"):
        if key not in arrays:
            raise FileFormatError(f"npz file '{path}': expected arrays 'x' and 'y' (optionally 'x_test', "
                                  f"'y_test'), found {sorted(arrays)}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise FileFormatError(f"npz file '{path}': 'x_test' and 'y_test' go together, found {sorted(arrays)}")
    for xk, yk in (("x", "y"), ("x_test", "y_test")):
        if xk in arrays:
            x, y = arrays[xk], arrays[yk]
            if x.dtype.kind not in "fiub" or x.ndim < 2:
                raise FileFormatError(f"npz file '{path}': '{xk}' must be a numeric array (N, ...), got "
                                      f"{x.dtype} {x.shape}")
            if y.ndim != 1 or len(y) != len(x):
                raise FileFormatError(f"npz file '{path}': '{yk}' must be (N,) with N = len({xk}) = {len(x)}, "
                                      f"got {y.shape}")
    layout = str(arrays["layout"]) if "layout" in arrays else None
    if layout not in (None, "images", "series"):
        raise FileFormatError(f"npz file '{path}': 'layout' must be 'images' or 'series', got {layout!r}")
    return arrays["x"], arrays["y"], arrays.get("x_test"), arrays.get("y_test"), layout


def sample_layout(x, source, layout=None):
    """``(array (N, C, ...), "images" or "sequences")`` of ``x`` with the channel axis second.

    ``(N, H, W)`` -> ``(N, 1, H, W)`` (``(N, C, L)`` sequences as is with ``layout="series"``);
    ``(N, H, W, C)`` with C in 1, 3, 4 (and ``x.shape[1]`` not
    1 or 3) -> channels first; ``(N, L)`` -> ``(N, 1, L)``; ``(N, C, L)`` and ``(N, C, H, W)`` as is.
    """
    if x.ndim == 2:
        return x[:, None, :], "sequences"
    if x.ndim == 3:
        return (x, "sequences") if layout == "series" else (x[:, None], "images")
    if x.ndim == 4:
        if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3, 4):
            return np.moveaxis(x, -1, 1), "images"
        return x, "images"
    raise FileFormatError(f"{source}: expected samples of 1, 2 or 3 dimensions, got x of shape {x.shape}")


def square_side(features):
    """``s`` when ``features == s * s`` with ``s >= 4``, else None (CSV rows read as images)."""
    side = math.isqrt(features)
    return side if side >= 4 and side * side == features else None
