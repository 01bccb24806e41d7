"""Devices: convgrad computes on the CPU, and accepts PyTorch's device arguments that say so.

``convgrad.device("cpu")``, ``tensor.to("cpu")``, ``model.to(device)`` and ``device=`` on the
factory functions all work; asking for ``cuda``, ``mps`` or another accelerator raises one
:class:`~convgrad.errors.DeviceError` saying that convgrad runs on the CPU. ``convgrad.cuda`` and
``convgrad.accelerator`` (and ``convgrad.backends``) answer PyTorch's availability questions (nothing is available), so the
usual ``device = "cuda" if torch.cuda.is_available() else "cpu"`` picks the CPU.
"""
import numpy as np

from .errors import ArgumentTypeError, DeviceError

_CPU_NAMES = ("cpu",)
# device types PyTorch knows: a device object of these can be made (as torch.device("cuda") can
# without CUDA), but using one for a tensor or a module raises DeviceError
_OTHER_NAMES = ("cuda", "mps", "xpu", "meta", "hip", "xla", "mtia", "npu", "ipu", "hpu", "vulkan", "privateuseone")


class device:
    """A device, as in ``torch.device``. Only the CPU exists: ``device("cpu")``, ``device("cpu", 0)``.

    Args:
        type: ``"cpu"`` (optionally ``"cpu:0"``), or another device object.
        index: accepted for the CPU and ignored.

    ``device("cuda")`` can be made, as in PyTorch without CUDA, but tensors and modules refuse
    it: ``x.to("cuda")``, ``zeros(2, device="cuda")`` or ``model.to(cuda_device)`` raise one
    :class:`DeviceError` saying that convgrad runs on the CPU.

    Raises:
        DeviceError: for a device type PyTorch does not know either.

    Example:
        >>> convgrad.device("cpu")
        device(type='cpu')
    """

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        if isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type  # torch.device(0) is CUDA device 0
        if not isinstance(type, str):
            raise ArgumentTypeError(f"device: expected a string such as 'cpu', got {type.__class__.__name__}")
        name, _, idx = type.partition(":")
        if name not in _CPU_NAMES + _OTHER_NAMES:
            raise DeviceError(f"device '{type}': expected a device type such as 'cpu' (convgrad runs on the CPU)")
        self.type = name
        self.index = int(idx) if idx else index

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (DeviceError, ArgumentTypeError):
                return False
        return isinstance(other, device) and other.type == self.type and (
            self.type == "cpu" or other.index == self.index)

    def __hash__(self):
        return hash((self.type, self.index if self.type != "cpu" else None))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


CPU = device("cpu")


def check_device(value, where="device"):
    """Accept None, "cpu" or a cpu :class:`device`; raise :class:`DeviceError` for anything else."""
    if value is None:
        return None
    d = device(value)
    if d.type != "cpu":
        raise DeviceError(f"{where}: device '{d}' is not available: convgrad runs on the CPU only (NumPy); "
                          f"use 'cpu' or drop .to(device)")
    return d


def _is_dtype(value):
    if isinstance(value, (np.dtype, type)):
        try:
            return np.dtype(value).kind in "biufc"
        except TypeError:
            return False
    return False


def parse_to_args(where, args, kwargs, tensor_type):
    """Read the arguments of ``Tensor.to`` / ``Module.to``: returns ``(dtype or None, copy)``.

    Accepts ``(dtype)``, ``(device)``, ``(device, dtype)``, ``(tensor)`` and the keywords
    ``dtype``, ``device``, ``non_blocking``, ``copy``, ``memory_format``.
    """
    dtype = kwargs.pop("dtype", None)
    check_device(kwargs.pop("device", None), where)
    copy = bool(kwargs.pop("copy", False))
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise ArgumentTypeError(f"{where}: unexpected keyword argument {next(iter(kwargs))!r}")
    for a in args:
        if a is None or isinstance(a, bool):
            continue
        if isinstance(a, tensor_type):
            dtype = a.dtype
        elif isinstance(a, (str, device, int)):
            if isinstance(a, str) and a.partition(":")[0] not in _CPU_NAMES + _OTHER_NAMES:
                dtype = np.dtype(a)  # a dtype name such as "float64"
            else:
                check_device(a, where)
        elif _is_dtype(a):
            dtype = a
        else:
            raise ArgumentTypeError(f"{where}: expected a dtype, a device or a tensor, got {type(a).__name__}")
    return dtype, copy


class _Cuda:
    """``convgrad.cuda``: PyTorch's CUDA queries, answered for a machine without CUDA."""

    @staticmethod
    def is_available():
        return False

    @staticmethod
    def device_count():
        return 0

    @staticmethod
    def manual_seed(seed):
        """Accepted and ignored (there is no CUDA generator); seed with ``convgrad.manual_seed``."""

    manual_seed_all = manual_seed

    @staticmethod
    def is_bf16_supported():
        return False

    @staticmethod
    def synchronize(device=None):
        pass

    @staticmethod
    def empty_cache():
        pass

    @staticmethod
    def current_device():
        raise DeviceError("convgrad.cuda.current_device(): convgrad runs on the CPU only; there is no CUDA device")


class _Accelerator:
    """``convgrad.accelerator``: no accelerator; ``current_accelerator()`` is None."""

    @staticmethod
    def is_available():
        return False

    @staticmethod
    def current_accelerator(check_available=False):
        return None

    @staticmethod
    def device_count():
        return 0


cuda = _Cuda()
xpu = _Cuda()  # torch.xpu answers the same questions
accelerator = _Accelerator()
