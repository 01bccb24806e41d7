"""Plain safetensors weight files (a state_dict, e.g. from the Hugging Face hub or timm), checked
before anything is decoded.

A safetensors file is ``<8-byte little-endian header length N><N bytes of JSON><raw data>``; the
JSON maps each tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` relative to
the data section, plus an optional ``"__metadata__"`` of strings. :func:`load_safetensors`
validates all of that in Python first — header length against the file size, dtypes, shapes,
offsets inside the file, byte counts equal to ``prod(shape) * itemsize``, no overlaps — so a
lying header cannot make it allocate more than the file holds, and every problem is a
:class:`~convgrad.errors.FileFormatError` naming the file and the tensor. Only then does the
``safetensors`` package decode the arrays (no code runs: safetensors has no pickle).

For convgrad checkpoints (weights plus model name and arguments) use ``convgrad.save`` /
``convgrad.load``; these functions are for bare weights.
"""
import json
import math
import os
import struct

import numpy as np

from ..errors import FileFormatError
from ..tensor import Tensor

MAX_HEADER_BYTES = 100 << 20  # the safetensors format's own limit
DTYPES = {"BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16,
          "F16": np.float16, "U32": np.uint32, "I32": np.int32, "F32": np.float32, "U64": np.uint64,
          "I64": np.int64, "F64": np.float64}


class SafetensorsError(FileFormatError):
    """A safetensors file is truncated, malformed or lies about its contents."""


def _fail(source, message):
    raise SafetensorsError(f"safetensors '{source}': {message}")


def parse_header(data, source="<bytes>"):
    """Validate the header of a safetensors file held in ``data`` (bytes).

    Returns ``(entries, metadata, data_start)``: ``entries`` maps names to
    ``(dtype, shape, begin, end)`` with absolute byte positions.
    """
    if len(data) < 8:
        _fail(source, f"truncated: {len(data)} bytes, the 8-byte header length is missing")
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(len(data) - 8, MAX_HEADER_BYTES):
        _fail(source, f"header declares {n} bytes, the file holds {len(data) - 8} after the length field")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        _fail(source, f"header is not valid UTF-8 JSON ({exc})")
    if not isinstance(header, dict):
        _fail(source, f"header is a JSON {type(header).__name__}, not an object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        _fail(source, "__metadata__ must map strings to strings")
    start, size = 8 + n, len(data) - 8 - n
    entries, spans = {}, []
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) - {"dtype", "shape", "data_offsets"}:
            _fail(source, f"tensor '{name}': expected {{dtype, shape, data_offsets}}, got {str(info)[:100]}")
        dtype = DTYPES.get(info.get("dtype"))
        if dtype is None:
            _fail(source, f"tensor '{name}': unsupported dtype {info.get('dtype')!r}")
        shape, offsets = info.get("shape"), info.get("data_offsets")
        if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
            _fail(source, f"tensor '{name}': shape must be a list of non-negative ints, got {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(type(o) is int for o in offsets) or not 0 <= offsets[0] <= offsets[1] <= size):
            _fail(source, f"tensor '{name}': data_offsets {offsets!r} outside the {size}-byte data section")
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if offsets[1] - offsets[0] != nbytes:
            _fail(source, f"tensor '{name}': shape {tuple(shape)} of {info['dtype']} needs {nbytes} bytes, "
                          f"data_offsets {offsets} give {offsets[1] - offsets[0]}")
        entries[name] = (np.dtype(dtype).newbyteorder("<"), tuple(shape), start + offsets[0], start + offsets[1])
        spans.append((offsets[0], offsets[1], name))
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            _fail(source, f"tensors '{n0}' and '{n1}' overlap")
    return entries, metadata, start


def load_safetensors(path):
    """Read a safetensors file into ``(state_dict, metadata)``: NumPy arrays and a dict of strings.

    Raises:
        SafetensorsError: (a FileFormatError) malformed, truncated or inconsistent file.
        FileNotFoundError: no such file.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    return loads_safetensors(data, source=path)


def loads_safetensors(data, source="<bytes>"):
    """:func:`load_safetensors` for bytes already in memory."""
    entries, metadata, _ = parse_header(data, source)
    buf = memoryview(data)
    arrays = {}
    for name, (dtype, shape, begin, end) in entries.items():
        arr = np.frombuffer(buf[begin:end], dtype=dtype).reshape(shape)
        arrays[name] = arr.astype(dtype.newbyteorder("="), copy=True)
    return arrays, metadata


def save_safetensors(state, path, metadata=None):
    """Write a state_dict (or a Module's) as safetensors, atomically. ``metadata``: str -> str."""
    from safetensors.numpy import save

    from .checkpoint import atomic_write

    if hasattr(state, "state_dict"):
        state = state.state_dict()
    arrays = {}
    for k, v in state.items():
        arr = np.asarray(v._data if isinstance(v, Tensor) else v)
        if arr.dtype.type not in DTYPES.values():
            raise SafetensorsError(f"safetensors '{path}': tensor '{k}' has dtype {arr.dtype}, which "
                                   "safetensors cannot store")
        arrays[k] = np.asarray(arr, order="C")  # (np.ascontiguousarray would make 0-d arrays 1-d)
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError(f"safetensors '{path}': metadata must map strings to strings")
    blob = save(arrays, metadata=metadata)
    atomic_write(path, lambda f: f.write(blob))
    return os.fspath(path)
