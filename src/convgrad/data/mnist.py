"""MNIST's IDX file format, and the MNIST dataset over a directory of IDX files.

An IDX file is a big-endian header and then the raw array, row-major::

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    then d 4-byte big-endian sizes, then prod(sizes) elements

MNIST's images are magic 2051 (0x00000803: uint8, 3 dims) and its labels 2049 (uint8, 1 dim).
The reader never trusts the header: it checks the declared size against the bytes that are really
there before it allocates anything, so a lying header gives an error, not a giant allocation.
"""
import gzip
import os
import struct
import zlib

import numpy as np

from ..errors import ConvgradError, FileFormatError

IDX_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
MAX_IDX_BYTES = 1 << 32  # 4 GiB: far above any IDX file in use, far below a header's 2^32^d lies
_CHUNK = 1 << 20

MNIST_MEAN = 0.1307  # mean and std of the 60,000 MNIST training images scaled to [0, 1]
MNIST_STD = 0.3081


class DatasetNotFoundError(ConvgradError, FileNotFoundError):
    """A dataset directory or one of its files does not exist."""


def _open(path):
    """Open raw or gzip-compressed (told by the gzip magic bytes, not by the file name)."""
    f = open(path, "rb")
    head = f.read(2)
    f.seek(0)
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb"), None
    return f, os.fstat(f.fileno()).st_size


def _read_exactly(stream, n, path):
    """Read exactly n bytes in bounded chunks (memory grows only with bytes really present)."""
    parts, got = [], 0
    while got < n:
        part = stream.read(min(_CHUNK, n - got))
        if not part:
            raise FileFormatError(f"IDX file '{path}' is truncated: the header declares {n} bytes of data, "
                                  f"the file holds {got}")
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def read_idx(path):
    """Read an IDX file (raw or .gz) into a NumPy array of the declared element type and shape.

    Raises:
        DatasetNotFoundError: the file does not exist.
        FileFormatError: bad magic number, unknown element type, sizes that do not match the file
            (truncated data, trailing bytes, a header declaring more than the file holds), or a
            corrupt gzip stream.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DatasetNotFoundError(f"IDX file '{path}' does not exist")
    stream, raw_size = _open(path)
    try:
        with stream:
            magic = stream.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
                raise FileFormatError(f"'{path}' is not an IDX file: expected magic bytes 00 00 <type> <ndim>, "
                                      f"got {magic.hex(' ') or 'an empty file'}")
            type_code, ndim = magic[2], magic[3]
            if type_code not in IDX_DTYPES:
                raise FileFormatError(f"IDX file '{path}': unknown element type 0x{type_code:02X} "
                                      f"(expected one of {', '.join(f'0x{c:02X}' for c in IDX_DTYPES)})")
            if ndim == 0:
                raise FileFormatError(f"IDX file '{path}': header declares 0 dimensions")
            dims_raw = stream.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise FileFormatError(f"IDX file '{path}' is truncated inside its header ({ndim} dimensions declared)")
            shape = struct.unpack(f">{ndim}I", dims_raw)
            dtype = IDX_DTYPES[type_code]
            nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            header = 4 + 4 * ndim
            if raw_size is not None and nbytes != raw_size - header:
                raise FileFormatError(f"IDX file '{path}': header declares shape {shape} ({nbytes} bytes of data), "
                                      f"the file holds {raw_size - header}")
            if int(np.prod([d for d in shape if d], dtype=object)) * dtype.itemsize > MAX_IDX_BYTES:
                raise FileFormatError(f"IDX file '{path}': header declares shape {shape}, beyond the "
                                      f"limit of {MAX_IDX_BYTES} bytes")
            data = _read_exactly(stream, nbytes, path)
            if stream.read(1):
                raise FileFormatError(f"IDX file '{path}': trailing bytes after the {nbytes} bytes of data "
                                      f"its header declares for shape {shape}")
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise FileFormatError(f"IDX file '{path}' could not be read: {exc}") from None
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def _find(root, stem):
    """The path of an MNIST file in ``root`` under its usual names (``stem`` or ``stem.gz``)."""
    dotted = stem.replace("-idx", ".idx", 1)  # some mirrors name it t10k-images.idx3-ubyte
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        path = os.path.join(root, name)
        if os.path.isfile(path):
            return path
    raise DatasetNotFoundError(f"MNIST directory '{root}' has no {stem} (or {stem}.gz)")


def load_mnist_arrays(root, train=True):
    """``(images, labels)`` from an MNIST directory: uint8 ``(N, 28, 28)`` and int64 ``(N,)``."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise DatasetNotFoundError(f"data directory '{root}' does not exist or is not a directory")
    prefix = "train" if train else "t10k"
    img_path = _find(root, f"{prefix}-images-idx3-ubyte")
    lab_path = _find(root, f"{prefix}-labels-idx1-ubyte")
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise FileFormatError(f"'{img_path}': expected uint8 images of shape (N, H, W), got {images.dtype} "
                              f"{images.shape}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise FileFormatError(f"'{lab_path}': expected uint8 labels of shape (N,), got {labels.dtype} {labels.shape}")
    if len(images) != len(labels):
        raise FileFormatError(f"MNIST directory '{root}': {len(images)} images but {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise FileFormatError(f"'{lab_path}': labels must be 0..9, found {int(labels.max())}")
    return images, labels.astype(np.int64)
