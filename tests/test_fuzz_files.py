"""Fuzzing the readers of files that come from outside: convgrad checkpoints (.npz and
.safetensors), bare safetensors weights and IDX data files.

Each reader gets random bytes, truncated and bit-flipped valid files, headers that lie (shapes,
offsets, lengths, dtypes) and absurd sizes. It may succeed (a flipped bit in the data section is
still a valid file) or raise one of convgrad's own errors (``ConvgradError``); anything else —
another exception type, a hang (a 10 s alarm), or a peak allocation far beyond the file's size
(tracemalloc) — fails the test and hypothesis prints the input.
"""
import gzip
import io
import json
import signal
import struct
import tempfile
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import convgrad as cg
from convgrad import nn
from convgrad.data.mnist import read_idx
from convgrad.errors import ConvgradError
from convgrad.io import load_checkpoint, save_checkpoint
from convgrad.io.safetensors_io import load_safetensors, loads_safetensors, save_safetensors

EXAMPLES = 120
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MEMORY_SLACK = 32 << 20  # bytes a reader may use beyond a few copies of the file
WORK = Path(tempfile.mkdtemp(prefix="convgrad-fuzz-"))
COUNTS = {}


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang("reader did not return within 10 s")


def read_safely(reader, data, suffix, label, bound_memory=True):
    """Write ``data`` to a file and read it; only success or a ConvgradError is acceptable, and
    (with ``bound_memory``) no allocation beyond a few times the file's size."""
    COUNTS[label] = COUNTS.get(label, 0) + 1
    path = WORK / f"fuzz{suffix}"
    path.write_bytes(data)
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(10)
    tracemalloc.start()
    try:
        reader(path)
    except ConvgradError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    if bound_memory:
        assert peak <= 8 * len(data) + MEMORY_SLACK, f"{label}: peak allocation {peak} bytes for a {len(data)}-byte file"


# ----------------------------------------------------------------------------------------------
# Valid seed files
# ----------------------------------------------------------------------------------------------
def _model():
    cg.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))


def _checkpoint_bytes(suffix):
    path = WORK / f"seed{suffix}"
    save_checkpoint(path, _model(), model_name="seed-model", training={"step": 3, "m": np.ones(3, np.float32)})
    return path.read_bytes()


SEEDS = {".npz": _checkpoint_bytes(".npz"), ".safetensors": _checkpoint_bytes(".safetensors")}
_st_path = WORK / "plain.safetensors"
save_safetensors({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, 2], np.int64)}, _st_path,
                 metadata={"k": "v"})
PLAIN_ST = _st_path.read_bytes()
IDX = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2, 3, 3) + bytes(range(18))


def test_seed_files_are_valid():
    """The mutations below start from files the readers accept."""
    for suffix, data in SEEDS.items():
        path = WORK / f"check{suffix}"
        path.write_bytes(data)
        ckpt = load_checkpoint(path)
        assert ckpt.model_name == "seed-model" and set(ckpt.model_state) == set(_model().state_dict())
    arrays, meta = loads_safetensors(PLAIN_ST)
    np.testing.assert_array_equal(arrays["a"], np.arange(6).reshape(2, 3))
    assert meta == {"k": "v"}
    path = WORK / "check.idx"
    path.write_bytes(IDX)
    np.testing.assert_array_equal(read_idx(path), np.arange(18, dtype=np.uint8).reshape(2, 3, 3))


# ----------------------------------------------------------------------------------------------
# Mutations shared by all formats
# ----------------------------------------------------------------------------------------------
def mutated(seed):
    """Truncations, bit flips, overwritten byte runs and inserted junk of a valid file."""
    n = len(seed)
    truncate = st.integers(0, n - 1).map(lambda k: seed[:k])
    flips = st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, 255)), min_size=1, max_size=8).map(
        lambda fl: _flip(seed, fl))
    overwrite = st.tuples(st.integers(0, n - 1), st.binary(min_size=1, max_size=16)).map(
        lambda t: seed[:t[0]] + t[1] + seed[t[0] + len(t[1]):])
    insert = st.tuples(st.integers(0, n), st.binary(min_size=1, max_size=16)).map(
        lambda t: seed[:t[0]] + t[1] + seed[t[0]:])
    return st.one_of(truncate, flips, overwrite, insert, st.binary(max_size=256))


def _flip(seed, flips):
    b = bytearray(seed)
    for pos, mask in flips:
        b[pos] ^= mask
    return bytes(b)


HUGE = st.sampled_from([2 ** 31, 2 ** 32 - 1, 2 ** 40, 2 ** 62, 2 ** 63 - 1, 10 ** 12])
SIZES = st.one_of(st.integers(0, 8), HUGE, st.integers(-3, -1))


# ----------------------------------------------------------------------------------------------
# Checkpoints (H5's reader: convgrad.io.load_checkpoint)
# ----------------------------------------------------------------------------------------------
@FUZZ
@given(mutated(SEEDS[".npz"]))
def test_checkpoint_npz_mutations(data):
    read_safely(load_checkpoint, data, ".npz", "checkpoint .npz mutations")


@FUZZ
@given(mutated(SEEDS[".safetensors"]))
def test_checkpoint_safetensors_mutations(data):
    read_safely(load_checkpoint, data, ".safetensors", "checkpoint .safetensors mutations")


def _npy(descr, shape, payload, fortran=False):
    header = repr({"descr": descr, "fortran_order": fortran, "shape": tuple(shape)}).encode("latin1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def _zip(members, lie_size=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    data = bytearray(buf.getvalue())
    if lie_size is not None:  # rewrite the uncompressed size in the local header of the first member
        data[22:26] = struct.pack("<I", lie_size & 0xFFFFFFFF)
    return bytes(data)


META = json.dumps({"format": "convgrad-checkpoint", "version": 1, "model": {"name": "m", "kwargs": {}},
                   "training": {}, "extra": {}}).encode()


@FUZZ
@given(descr=st.sampled_from(["<f4", "<f8", "|u1", "<i8", "|O", "<U10", "V8", "<c16", "|b1", "nonsense"]),
       shape=st.lists(SIZES, max_size=4), payload=st.binary(max_size=64), fortran=st.booleans(),
       lie=st.one_of(st.none(), st.integers(0, 2 ** 32 - 1)))
def test_checkpoint_npz_header_lies(descr, shape, payload, fortran, lie):
    members = {"model/w.npy": _npy(descr, shape, payload, fortran),
               "__metadata__.npy": _npy("|u1", (len(META),), META)}
    read_safely(load_checkpoint, _zip(members, lie), ".npz", "checkpoint .npz header lies")


def _safetensors(header, data, length=None):
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


ENTRY = st.fixed_dictionaries({
    "dtype": st.sampled_from(["F32", "F64", "I64", "U8", "BF16", "F8_E4M3", "X", 3]),
    "shape": st.one_of(st.lists(SIZES, max_size=4), st.just("3"), st.none()),
    "data_offsets": st.one_of(st.lists(SIZES, min_size=2, max_size=2), st.lists(st.integers(0, 64), max_size=3)),
})
HEADERS = st.dictionaries(st.sampled_from(["model/w", "model/b", "state/0", "__metadata__"]), ENTRY, max_size=3)
LENGTHS = st.one_of(st.none(), HUGE, st.integers(0, 300), st.just(2 ** 64 - 1))


@FUZZ
@given(header=HEADERS, data=st.binary(max_size=64), length=LENGTHS, meta=st.booleans())
def test_checkpoint_safetensors_header_lies(header, data, length, meta):
    header = dict(header)
    if meta:
        header["__metadata__"] = {"convgrad": META.decode()}
    read_safely(load_checkpoint, _safetensors(header, data, length), ".safetensors",
                "checkpoint .safetensors header lies")


def _lenet_checkpoint_with(name, kwargs):
    """A valid LeNet-5 checkpoint whose metadata names another model or other constructor arguments."""
    with np.load(WORK / "lenet-seed.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays["__metadata__"]).decode())
    meta["model"] = {"name": name, "kwargs": kwargs}
    arrays["__metadata__"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


cg.save(cg.io.build_model("lenet5"), WORK / "lenet-seed.npz")
KWARG_VALUES = st.one_of(st.integers(-3, 3000), st.sampled_from(["modern", "classic", "x", "", None, 1.5, True]),
                         st.lists(st.integers(0, 3), max_size=2))


@FUZZ
@given(name=st.sampled_from(["lenet5", "resnet20", "nin", "no-such-model", ""]),
       kwargs=st.dictionaries(st.sampled_from(["num_classes", "in_channels", "variant", "padding", "depth",
                                               "unknown"]), KWARG_VALUES, max_size=3))
def test_convgrad_load_metadata_lies(name, kwargs):
    """convgrad.load rebuilds the model the metadata names, with its arguments: a wrong name or
    argument must end in a CheckpointError (the weights do not fit), never another exception.
    Memory is not bounded by the file here: the named model is built before the weights can be
    compared with it (NiN's 7.6M parameters for a 250 KB LeNet-5 file)."""
    read_safely(cg.load, _lenet_checkpoint_with(name, kwargs), ".npz", "convgrad.load metadata lies",
                bound_memory=False)


LYING_ARGUMENTS = [  # (model, kwargs): arguments that would allocate far more than the file holds
    ("lenet5", {"num_classes": 10 ** 10}),
    ("lenet5", {"num_classes": 10 ** 7}),
    ("resnet20", {"in_channels": 10 ** 9}),
]


@pytest.mark.parametrize("name, kwargs", LYING_ARGUMENTS)
def test_convgrad_load_refuses_arguments_larger_than_the_weights(name, kwargs):
    path = WORK / "lying.npz"
    path.write_bytes(_lenet_checkpoint_with(name, kwargs))
    with pytest.raises(ConvgradError, match="does not fit"):
        cg.load(path)


# ----------------------------------------------------------------------------------------------
# Bare safetensors weights (convgrad.io.safetensors_io)
# ----------------------------------------------------------------------------------------------
@FUZZ
@given(mutated(PLAIN_ST))
def test_plain_safetensors_mutations(data):
    read_safely(load_safetensors, data, ".safetensors", "safetensors mutations")


@FUZZ
@given(header=HEADERS, data=st.binary(max_size=64), length=LENGTHS)
def test_plain_safetensors_header_lies(header, data, length):
    read_safely(load_safetensors, _safetensors(header, data, length), ".safetensors", "safetensors header lies")


def test_safetensors_reader_agrees_with_the_safetensors_package():
    from safetensors.numpy import load

    ours, _ = loads_safetensors(PLAIN_ST)
    theirs = load(PLAIN_ST)
    assert set(ours) == set(theirs)
    for k in ours:
        assert ours[k].dtype == theirs[k].dtype
        np.testing.assert_array_equal(ours[k], theirs[k])


@pytest.mark.parametrize("header, length, message", [
    ({"w": {"dtype": "F32", "shape": [2 ** 40, 2 ** 40], "data_offsets": [0, 16]}}, None, "needs"),
    ({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 2 ** 62]}}, None, "outside"),
    ({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, 2 ** 63, "header declares"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "v": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, None, "overlap"),
    ({"w": {"dtype": "Q9", "shape": [2], "data_offsets": [0, 8]}}, None, "unsupported dtype"),
    ({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, None, "non-negative"),
    ({"__metadata__": {"k": 3}}, None, "strings"),
])
def test_safetensors_lies_are_named(header, length, message):
    with pytest.raises(ConvgradError, match=message):
        loads_safetensors(_safetensors(header, bytes(16), length))


def test_safetensors_deeply_nested_header():
    raw = b"[" * 100000 + b"]" * 100000
    with pytest.raises(ConvgradError, match="JSON"):
        loads_safetensors(struct.pack("<Q", len(raw)) + raw)


def test_safetensors_round_trip_of_a_model(tmp_path):
    model = _model()
    path = save_safetensors(model, tmp_path / "m.safetensors", metadata={"model": "seed"})
    arrays, meta = load_safetensors(path)
    assert meta == {"model": "seed"}
    fresh = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    fresh.load_state_dict(arrays)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k], v)


# ----------------------------------------------------------------------------------------------
# IDX (H5's reader: convgrad.data.mnist.read_idx)
# ----------------------------------------------------------------------------------------------
@FUZZ
@given(mutated(IDX))
def test_idx_mutations(data):
    read_safely(read_idx, data, ".idx", "idx mutations")


@FUZZ
@given(type_code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]), ndim=st.integers(0, 255),
       dims=st.lists(st.one_of(st.integers(0, 5), st.sampled_from([2 ** 31, 2 ** 32 - 1, 60000])), max_size=6),
       payload=st.binary(max_size=64), compress=st.booleans())
def test_idx_header_lies(type_code, ndim, dims, payload, compress):
    data = bytes([0, 0, type_code, ndim]) + b"".join(struct.pack(">I", d) for d in dims) + payload
    if compress:
        data = gzip.compress(data)
    read_safely(read_idx, data, ".idx", "idx header lies")


def test_idx_gzip_bomb_is_refused_before_decompressing():
    """A small .gz whose header declares more than the reader's cap (MAX_IDX_BYTES) and really
    holds a lot of zeros: refused from the header, without inflating the data."""
    from convgrad.data.mnist import MAX_IDX_BYTES

    dims = (2 ** 16, MAX_IDX_BYTES // 2 ** 16 + 1)
    body = bytes([0, 0, 0x08, 2]) + struct.pack(">2I", *dims)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        gz.write(body)
        chunk = bytes(1 << 20)
        for _ in range(64):
            gz.write(chunk)
    path = WORK / "bomb.idx"
    path.write_bytes(buf.getvalue())
    tracemalloc.start()
    try:
        with pytest.raises(ConvgradError, match="limit"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_SLACK


def test_fuzz_counts(capsys):
    """Runs last in this file: prints how many inputs each reader got (for the closing note)."""
    with capsys.disabled():
        total = sum(COUNTS.values())
        print(f"\nfuzz examples: {total} ({', '.join(f'{k}: {v}' for k, v in sorted(COUNTS.items()))})")
