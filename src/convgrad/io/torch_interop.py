"""PyTorch interop: read torchvision-style ``.pth`` state_dicts, write convgrad weights for PyTorch.

convgrad layers use PyTorch's parameter names (``features.0.weight``, ``layer1.0.bn1.running_var``,
``num_batches_tracked`` ...), so weights move between the two with plain arrays::

    state = convgrad.io.load_torch_checkpoint("resnet18-f37072fd.pth")   # dict of NumPy arrays
    model = convgrad.models.resnet18()
    model.load_state_dict(state)

    torch_model.load_state_dict(convgrad.io.export_torch_state_dict(model))

``model.load_state_dict`` also accepts a PyTorch ``state_dict()`` directly (CPU tensors go through
``np.asarray``). PyTorch is imported only inside these functions; reading uses
``torch.load(..., weights_only=True)`` only, which refuses any pickled object other than
tensors and plain containers, so a ``.pth`` file cannot run code.
"""
import os
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from ..errors import FileFormatError
from ..tensor import Tensor


class TorchCheckpointError(FileFormatError):
    """A ``.pth`` file could not be read safely or holds no state_dict."""


def _import_torch(what):
    try:
        import torch
    except ImportError:
        raise ImportError(f"convgrad.io.{what} needs PyTorch (pip install torch); convgrad itself does not") from None
    return torch


def _to_numpy(torch, key, value, source):
    if not isinstance(value, torch.Tensor):
        raise TorchCheckpointError(f"'{source}': entry '{key}' is a {type(value).__name__}, not a tensor")
    value = value.detach().cpu()
    if value.dtype == torch.bfloat16:
        value = value.float()  # NumPy has no bfloat16
    try:
        return value.numpy().copy()
    except (TypeError, RuntimeError) as exc:
        raise TorchCheckpointError(f"'{source}': entry '{key}' of dtype {value.dtype} has no NumPy "
                                   f"equivalent ({exc})") from None


def _find_state_dict(torch, obj, source):
    """The state_dict in what torch.load returned: the dict itself, or the usual wrappers
    ``{"state_dict": ...}`` / ``{"model": ...}`` / ``{"model_state_dict": ...}``."""
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                return inner
    raise TorchCheckpointError(f"'{source}' holds a {type(obj).__name__}, not a state_dict of tensors "
                               "(nor one under 'state_dict', 'model_state_dict' or 'model')")


def load_torch_checkpoint(path, strip_prefix="module."):
    """Read a PyTorch ``.pth``/``.pt`` file holding a state_dict into a dict of NumPy arrays.

    Uses ``torch.load(path, map_location="cpu", weights_only=True)`` only: files that need
    arbitrary unpickling (whole pickled models, custom classes) are refused, never executed.

    Args:
        path: the file.
        strip_prefix: removed from every key when *all* keys start with it (``nn.DataParallel``
            saves ``module.conv1.weight``); ``None`` keeps the keys as they are.

    Returns:
        ``OrderedDict`` name -> ``np.ndarray`` (bfloat16 becomes float32), in the file's order.

    Raises:
        TorchCheckpointError: (a FileFormatError) unreadable, unsafe or not a state_dict.
        FileNotFoundError: no such file.
        ImportError: PyTorch is not installed.
    """
    torch = _import_torch("load_torch_checkpoint")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"PyTorch checkpoint '{path}' does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for unsafe content, RuntimeError/EOFError/... for corrupt files
        raise TorchCheckpointError(f"'{path}' could not be read with torch.load(weights_only=True): "
                                   f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}") from None
    state = _find_state_dict(torch, obj, path)
    keys = list(state)
    if strip_prefix and keys and all(isinstance(k, str) and k.startswith(strip_prefix) for k in keys):
        state = OrderedDict((k[len(strip_prefix):], v) for k, v in state.items())
    return OrderedDict((str(k), _to_numpy(torch, k, v, path)) for k, v in state.items())


def export_torch_state_dict(model_or_state):
    """A PyTorch state_dict (``OrderedDict`` of CPU ``torch.Tensor``, copies) of a convgrad model
    or of a dict of arrays, ready for ``torch_model.load_state_dict``."""
    torch = _import_torch("export_torch_state_dict")
    state = model_or_state.state_dict() if hasattr(model_or_state, "state_dict") else model_or_state
    out = OrderedDict()
    for key, value in state.items():
        arr = np.asarray(value._data if isinstance(value, Tensor) else value)
        out[key] = torch.from_numpy(np.array(arr, copy=True, order="C"))
    return out


def save_torch_checkpoint(model_or_state, path):
    """Write ``export_torch_state_dict(model_or_state)`` with ``torch.save``, atomically, so that
    ``torch.load(path, weights_only=True)`` reads it."""
    torch = _import_torch("save_torch_checkpoint")
    from .checkpoint import atomic_write

    state = export_torch_state_dict(model_or_state)
    atomic_write(path, lambda f: torch.save(state, f))
    return os.fspath(path)
