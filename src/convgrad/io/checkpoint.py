"""Checkpoints: weights plus everything needed to rebuild, use and resume a model, without pickle.

A checkpoint is one file, either ``.npz`` (NumPy, read with ``allow_pickle=False``) or
``.safetensors``. It holds named arrays and one JSON document:

    arrays    "model/<state_dict key>"      the weights, PyTorch key names
              "state/<n>"                   arrays inside the training state (optimizer moments ...)
    metadata  {"format": "convgrad-checkpoint", "version": 1,
               "model": {"name": "lenet5", "kwargs": {...}},         # rebuilt via convgrad.models
               "preprocessing": {"mean": [...], "std": [...], "input_size": [1, 28, 28]},
               "training": {...},   # optimizer/scheduler state, epoch, step, data order, RNG state
               "extra": {...}}      # anything else the caller passed (e.g. the test accuracy)

In the JSON, an array of the training state appears as ``{"__array__": "state/<n>"}`` (or
``__tensor__`` for a convgrad Tensor, ``__scalar__`` for a NumPy scalar, so types come back as they
went in); dicts whose keys are not all strings as ``{"__dict__": [[key, value], ...]}``; tuples as
``{"__tuple__": [...]}``.

Writes are atomic: the bytes go to a temporary file in the same directory, which is flushed,
fsync'ed and renamed over the target, so a crash mid-save leaves the previous file intact.
Reads never execute code and check every size against the bytes really present.
"""
import json
import os
import struct
import tempfile
import zipfile

import numpy as np

from ..errors import ConvgradError, FileFormatError
from ..tensor import Tensor

FORMAT = "convgrad-checkpoint"
VERSION = 1
MAX_HEADER_BYTES = 100 << 20  # a safetensors JSON header above 100 MB is a lie, not a checkpoint


class CheckpointError(FileFormatError):
    """A checkpoint is missing, malformed, unsafe (pickle), or does not fit the model."""


# ----------------------------------------------------------------------------------------------
# Atomic writes
# ----------------------------------------------------------------------------------------------
def atomic_write(path, write):
    """Call ``write(fileobj)`` on a temporary file next to ``path``, then fsync and rename it over
    ``path``. If anything fails, ``path`` keeps its previous content and the temporary file goes.
    The file gets the permissions an ordinary new file gets (0666 less the umask), not the 0600
    of a temporary file.

    Raises:
        IsADirectoryError: ``path`` is a directory.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(21, "is a directory, not a file name", path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _umask():
    """The process's umask: from /proc where Linux shows it, else by setting it and putting it back."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ----------------------------------------------------------------------------------------------
# Nested state <-> JSON + arrays
# ----------------------------------------------------------------------------------------------
def _encode(obj, arrays):
    """JSON-able tree for ``obj``; arrays are moved into ``arrays`` under "state/<n>"."""
    if isinstance(obj, Tensor):
        return {"__tensor__": _stash(obj._data, arrays)}
    if isinstance(obj, np.ndarray):
        return {"__array__": _stash(obj, arrays)}
    if isinstance(obj, np.generic):
        return {"__scalar__": _stash(np.asarray(obj), arrays)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, arrays) for v in obj]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, arrays) for k, v in obj.items()}
        for k in obj:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise CheckpointError(f"checkpoint: cannot store a dict key of type {type(k).__name__}")
        return {"__dict__": [[k, _encode(v, arrays)] for k, v in obj.items()]}
    raise CheckpointError(f"checkpoint: cannot store an object of type {type(obj).__name__} "
                          "(only arrays, tensors, numbers, strings, lists and dicts)")


def _contiguous(array):
    """C-contiguous, keeping 0-d arrays 0-d (np.ascontiguousarray would make them 1-d)."""
    array = np.asarray(array)
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def _stash(array, arrays):
    if array.dtype.hasobject:
        raise CheckpointError("checkpoint: object arrays cannot be stored (they would need pickle)")
    key = f"state/{len(arrays)}"
    arrays[key] = _contiguous(array)
    return key


def _decode(obj, arrays):
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        (tag, value), = obj.items()
        if tag in ("__tensor__", "__array__", "__scalar__"):
            if not isinstance(value, str) or value not in arrays:
                raise CheckpointError(f"checkpoint: metadata refers to a missing array {value!r}")
            arr = arrays[value]
            if tag == "__tensor__":
                return Tensor(arr.copy())
            return arr[()] if tag == "__scalar__" else arr.copy()
        if tag == "__tuple__":
            return tuple(_decode(v, arrays) for v in value)
        if tag == "__dict__":
            return {k: _decode(v, arrays) for k, v in value}
    return {k: _decode(v, arrays) for k, v in obj.items()}


# ----------------------------------------------------------------------------------------------
# File formats
# ----------------------------------------------------------------------------------------------
def _format_of(path):
    return "safetensors" if os.fspath(path).endswith(".safetensors") else "npz"


def _write_npz(f, arrays, meta_json):
    payload = dict(arrays)
    payload["__metadata__"] = np.frombuffer(meta_json.encode("utf-8"), dtype=np.uint8)
    np.savez(f, **payload)


def _write_safetensors(f, arrays, meta_json):
    from safetensors.numpy import save

    f.write(save({k: _contiguous(v) for k, v in arrays.items()}, metadata={"convgrad": meta_json}))


def _check_npz_member(zf, info, path):
    """Refuse members whose declared sizes do not fit the bytes present, and object arrays."""
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise CheckpointError(f"checkpoint '{path}': member {info.filename} declares {info.file_size} bytes, "
                              f"stores {info.compress_size}")
    if info.file_size > 1100 * info.compress_size + 1024:  # deflate cannot compress beyond ~1032:1
        raise CheckpointError(f"checkpoint '{path}': member {info.filename} claims an impossible size")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=10000)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=10000)
        header_len = f.tell()
    if dtype.hasobject:
        raise CheckpointError(f"checkpoint '{path}' contains pickled objects ({info.filename}); "
                              "convgrad never unpickles, refused")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if header_len + nbytes != info.file_size:
        raise CheckpointError(f"checkpoint '{path}': array {info.filename} declares shape {shape} "
                              f"({nbytes} bytes), the file holds {info.file_size - header_len}")


def _read_npz(path):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"\x80") or head[:1] in (b"(", b"]", b"}"):
        raise CheckpointError(f"checkpoint '{path}' contains pickled data (a torch.save / pickle file?); "
                              "convgrad never unpickles, refused")
    if not head.startswith(b"PK"):
        raise CheckpointError(f"checkpoint '{path}' is not a .npz file (no zip signature)")
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if sum(i.compress_size for i in infos) > size:
            raise CheckpointError(f"checkpoint '{path}': its zip directory declares more bytes than the file holds")
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise CheckpointError(f"checkpoint '{path}': unexpected member {info.filename!r}")
            _check_npz_member(zf, info, path)
    arrays = {}
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            arrays[key] = npz[key]
    meta = arrays.pop("__metadata__", None)
    if meta is None:
        raise CheckpointError(f"'{path}' is a .npz file but not a convgrad checkpoint (no metadata)")
    return arrays, bytes(meta.astype(np.uint8, copy=False).tobytes()).decode("utf-8")


def _read_safetensors(path):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != size or size < 8:
        raise CheckpointError(f"checkpoint '{path}' is truncated ({size} bytes)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > min(size - 8, MAX_HEADER_BYTES):
        raise CheckpointError(f"checkpoint '{path}': safetensors header declares {header_len} bytes, "
                              f"the file holds {size - 8}")
    header = json.loads(data[8:8 + header_len].decode("utf-8"))
    if not isinstance(header, dict):
        raise CheckpointError(f"checkpoint '{path}': safetensors header is not a JSON object")
    meta = (header.get("__metadata__") or {}).get("convgrad")
    if not isinstance(meta, str):
        raise CheckpointError(f"'{path}' is a safetensors file but not a convgrad checkpoint "
                              "(no 'convgrad' metadata); load its weights with safetensors directly")
    from safetensors.numpy import load

    return load(data), meta


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------
class Checkpoint:
    """What :func:`load_checkpoint` read: model name and arguments, weights, preprocessing,
    training state and extra metadata. ``build_model()`` rebuilds the model with its weights."""

    def __init__(self, path, model_name, model_kwargs, model_state, preprocessing, training, extra):
        self.path = path
        self.model_name = model_name
        self.model_kwargs = model_kwargs
        self.model_state = model_state
        self.preprocessing = preprocessing
        self.training = training
        self.extra = extra

    def build_model(self):
        """The model, built through ``convgrad.models.get_model`` and loaded with the weights.

        Raises:
            CheckpointError: for a model class of the user's own (its import path is recorded, but
                convgrad never imports code a file names): build it and call :meth:`load_into`.
        """
        if not self.model_name:
            cls = getattr(self, "model_class", None) or "a model class of your own"
            raise CheckpointError(f"checkpoint '{self.path}' holds a {cls} (not a convgrad.models model); convgrad "
                                  f"never imports code named in a file: build the model yourself and call "
                                  f"convgrad.io.load_checkpoint(path).load_into(model)")
        self._check_arguments_fit_weights()
        try:
            model = build_model(self.model_name, **self.model_kwargs)
        except (ConvgradError, TypeError, KeyError, MemoryError) as exc:
            raise CheckpointError(f"checkpoint '{self.path}': cannot build model '{self.model_name}' "
                                  f"with {self.model_kwargs}: {exc}") from None
        self.load_into(model)
        return model

    def _check_arguments_fit_weights(self):
        """Refuse before allocating: every whole-number constructor argument (classes, channels,
        widths, depth) sizes some weights, so none can exceed the number of weights stored. A file
        that claims ``num_classes=10**10`` beside 60k weights is lying and must not make us build it."""
        stored = sum(int(np.asarray(a).size) for a in self.model_state.values())
        for key, value in self.model_kwargs.items():
            numbers = value if isinstance(value, (list, tuple)) else [value]
            for v in numbers:
                if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and abs(int(v)) > max(stored, 1):
                    raise CheckpointError(f"checkpoint '{self.path}': argument {key}={value} of model "
                                          f"'{self.model_name}' does not fit the {stored:,} weights stored")

    def load_into(self, model):
        """Copy the weights into an existing model; a mismatch is a CheckpointError."""
        try:
            model.load_state_dict(self.model_state, strict=True)
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"checkpoint '{self.path}' does not fit {type(model).__name__}: "
                                  f"{str(exc).strip(chr(39))}") from None
        return model

    def __repr__(self):
        return f"Checkpoint('{self.path}', model={self.model_name}, kwargs={self.model_kwargs})"


def build_model(name, **kwargs):
    """``convgrad.models.get_model(name, **kwargs)``, recording ``model.model_config`` (name and
    arguments) so that a checkpoint of the model can rebuild it."""
    from .. import models

    model = models.get_model(name, **kwargs)
    if not getattr(model, "model_config", None):  # builders that record themselves know their defaults
        model.model_config = {"name": name, "kwargs": dict(kwargs)}
    return model


def model_spec(model):
    """``(name, kwargs)`` recorded on a model by its builder (``model.model_config``), or (None, {})."""
    config = getattr(model, "model_config", None) or {}
    return config.get("name"), dict(config.get("kwargs", {}))


def save_checkpoint(path, model, *, optimizer=None, scheduler=None, training=None, preprocessing=None,
                    extra=None, model_name=None, model_kwargs=None):
    """Write ``model``'s weights and metadata to ``path`` (``.npz`` or ``.safetensors``), atomically.

    Args:
        model: a Module; its name and constructor arguments come from ``model.model_config``
            (set by the ``convgrad.models`` builders) unless ``model_name``/``model_kwargs`` are given.
        optimizer, scheduler: their ``state_dict()`` goes into the training state.
        training: a dict of further training state (epoch, step, data loader and RNG state ...).
        preprocessing: input preprocessing, e.g. ``{"mean": [0.1307], "std": [0.3081],
            "input_size": [1, 28, 28]}``; ``evaluate`` and ``predict`` apply it.
        extra: any other JSON-able metadata.
    Returns the path written.
    """
    path = os.fspath(path)
    name, kwargs = model_spec(model)
    name = model_name or name
    kwargs = dict(model_kwargs) if model_kwargs is not None else kwargs
    check_target(path, "save_checkpoint")
    model_entry = {"name": name, "kwargs": kwargs} if name else {"name": None, "class": class_path(model),
                                                                 "kwargs": {}}
    training = dict(training or {})
    if optimizer is not None:
        training["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        training["scheduler"] = scheduler.state_dict()
    arrays = {f"model/{k}": _contiguous(v) for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "version": VERSION, "model": model_entry,
            "preprocessing": preprocessing or {}, "training": None, "extra": None}
    meta["training"] = _encode(training, arrays)
    meta["extra"] = _encode(extra or {}, arrays)
    meta_json = json.dumps(meta)
    writer = _write_safetensors if _format_of(path) == "safetensors" else _write_npz
    atomic_write(path, lambda f: writer(f, arrays, meta_json))
    return path


def load_checkpoint(path):
    """Read a checkpoint written by :func:`save_checkpoint` (never unpickles, checks all sizes).

    Raises:
        CheckpointError: missing file, not a convgrad checkpoint, pickled content, corrupt or
            truncated data.
    """
    path = os.fspath(path)
    meta, arrays = _read_any(path)
    if isinstance(meta, dict) and meta.get("format") == OBJECT_FORMAT:
        raise CheckpointError(f"'{path}' holds saved objects (convgrad.save of a dict, list or tensor), not a "
                              f"model checkpoint; read it with convgrad.load(path)")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"'{path}' is not a convgrad checkpoint (metadata format "
                              f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    model = meta.get("model") or {}
    if not isinstance(model.get("name") or model.get("class"), str) or not isinstance(model.get("kwargs", {}), dict):
        raise CheckpointError(f"checkpoint '{path}' does not name its model")
    model_state = {k[len("model/"):]: v for k, v in arrays.items() if k.startswith("model/")}
    try:
        training = _decode(meta.get("training") or {}, arrays)
        extra = _decode(meta.get("extra") or {}, arrays)
    except (TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"checkpoint '{path}': malformed training state: {exc}") from None
    ckpt = Checkpoint(path, model.get("name"), model.get("kwargs", {}), model_state,
                      meta.get("preprocessing") or {}, training, extra)
    ckpt.model_class = model.get("class")
    return ckpt


def class_path(obj):
    """``package.module.ClassName`` of ``obj``'s class: recorded as metadata, never imported back."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def check_target(path, what="save"):
    """Refuse, before any work, a path that cannot become a file: a directory, or a file inside a
    path whose parent is a file."""
    if hasattr(path, "write"):
        return
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"{what}: '{path}' is a directory; give a file path such as "
                              f"'{os.path.join(path, 'model.npz')}'")
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise CheckpointError(f"{what}: cannot write '{path}': '{parent}' is a file, not a directory")
    if parent and not os.access(parent, os.W_OK):
        raise CheckpointError(f"{what}: cannot write '{path}': the directory '{parent}' is not writable")


def check_saveable(path, model, optimizer=None, scheduler=None):
    """What ``fit(checkpoint_path=...)`` checks before its first step: the path can be written and
    the model's and optimizer's state can be stored (so the first checkpoint does not fail late)."""
    check_target(path, "fit")
    arrays = {}
    for key, value in model.state_dict().items():
        if np.asarray(value).dtype.hasobject:
            raise CheckpointError(f"fit: the model's state '{key}' is an object array; it cannot be checkpointed")
    for part in (optimizer, scheduler):
        if part is not None:
            _encode(part.state_dict(), arrays)


# ----------------------------------------------------------------------------------------------
# convgrad.save / convgrad.load: models, or any nested structure of tensors, arrays and numbers
# ----------------------------------------------------------------------------------------------
OBJECT_FORMAT = "convgrad-object"


def _sniff(path):
    """"npz", "safetensors" or None from the first bytes of the file."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(b"PK"):
        return "npz"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    return None


def _read_any(path):
    """``(metadata dict, arrays)`` of a convgrad file (checkpoint or saved objects)."""
    if os.path.isdir(path):
        raise CheckpointError(f"'{path}' is a directory, expected a checkpoint file (e.g. '{path}/model.npz')")
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    kind = _sniff(path) or _format_of(path)
    reader = _read_safetensors if kind == "safetensors" else _read_npz
    try:
        arrays, meta_json = reader(path)
        meta = json.loads(meta_json)
    except CheckpointError:
        raise
    except Exception as exc:  # zipfile, NumPy, JSON and safetensors each raise their own types
        raise CheckpointError(f"checkpoint '{path}' is corrupt or not a checkpoint: "
                              f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return meta, arrays


def save(obj, path, **kwargs):
    """Save a model checkpoint, or any nested structure of tensors, arrays and numbers, without pickle.

    ``convgrad.save(model, "model.npz")`` writes a model checkpoint (see :func:`save_checkpoint` for
    ``preprocessing=``, ``optimizer=`` ...; a model class of your own is recorded by its import
    path). ``convgrad.save({"epoch": 3, "model_state_dict": model.state_dict(),
    "optimizer_state_dict": opt.state_dict()}, "ckpt.pt")`` writes the structure: dicts, lists,
    tuples, tensors, NumPy arrays, numbers, strings and None, restored as they went in by
    :func:`load`. The file is ``.npz`` (safetensors for a ``.safetensors`` name) whatever its
    extension; ``path`` may also be a binary file object.

    Raises:
        CheckpointError: for a directory as ``path``, or an object that cannot be stored without
            pickle (a class instance, a lambda ...).
    """
    from ..nn.module import Module

    if isinstance(obj, Module):
        return save_checkpoint(path, obj, **kwargs)
    if kwargs:
        raise CheckpointError(f"save: options {sorted(kwargs)} apply to model checkpoints only")
    check_target(path, "save")
    arrays = {}
    meta = {"format": OBJECT_FORMAT, "version": VERSION, "object": _encode(obj, arrays)}
    meta_json = json.dumps(meta)
    if hasattr(path, "write"):
        _write_npz(path, arrays, meta_json)
        return path
    writer = _write_safetensors if _format_of(path) == "safetensors" else _write_npz
    atomic_write(path, lambda f: writer(f, arrays, meta_json))
    return path


def load(path, map_location=None, weights_only=True, mmap=None, **kwargs):
    """Read what :func:`save` wrote: the saved structure, or for a model checkpoint the model
    rebuilt by name with its weights (train mode).

    Args:
        path: a file path or a binary file object.
        map_location: accepted for PyTorch compatibility; everything loads to the CPU ("cpu", a
            device, a dict or a function are all fine).
        weights_only: accepted; convgrad files hold only arrays and JSON, so loading never runs
            code whatever its value (convgrad never unpickles).

    Raises:
        CheckpointError: missing file, a directory, a PyTorch/pickle file, a plain safetensors or
            npz file (names the function that reads it), a corrupt file, or a checkpoint of a
            model class of your own (build it and use ``load_checkpoint(path).load_into(model)``).
    """
    if isinstance(map_location, str):
        from ..devices import check_device
        check_device(map_location)
    if hasattr(path, "read"):
        import tempfile as _tf
        with _tf.NamedTemporaryFile(suffix=".npz") as tmp:
            tmp.write(path.read())
            tmp.flush()
            return load(tmp.name)
    path = os.fspath(path)
    if os.path.isfile(path) and _sniff(path) == "safetensors":
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = f.read(min(n, MAX_HEADER_BYTES))
        if b'"convgrad"' not in header:
            raise CheckpointError(f"'{path}' is a plain safetensors file (weights without convgrad metadata); read "
                                  f"it with convgrad.io.load_safetensors(path), which returns (state_dict, "
                                  f"metadata), then model.load_state_dict(state_dict)")
    elif os.path.isfile(path) and _sniff(path) == "npz":
        with zipfile.ZipFile(path) as zf:
            if "__metadata__.npy" not in zf.namelist():
                raise CheckpointError(f"'{path}' is a plain .npz file (arrays without convgrad metadata); read it "
                                      f"with numpy.load(path, allow_pickle=False)")
    meta, arrays = _read_any(path)
    if isinstance(meta, dict) and meta.get("format") == OBJECT_FORMAT:
        try:
            return _decode(meta.get("object"), arrays)
        except (TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"'{path}': malformed saved objects: {exc}") from None
    return load_checkpoint(path).build_model()
