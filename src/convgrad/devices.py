"""Devices: convgrad computes on the CPU, and accepts PyTorch's device arguments that say so.

``convgrad.device("cpu")``, ``tensor.to("cpu")``, ``model.to(device)`` and ``device=`` on the
factory functions all work; asking for ``cuda``, ``mps`` or another accelerator raises one
:class:`~convgrad.errors.DeviceError` saying that convgrad runs on the CPU. ``convgrad.cuda`` and
``convgrad.accelerator`` answer PyTorch's availability questions (nothing is available), so the
usual ``device = "cuda" if torch.cuda.is_available() else "cpu"`` picks the CPU.
"""
import numpy as np

from .errors import ArgumentTypeError, DeviceError

_CPU_NAMES = ("cpu",)


class device:
    """A device, as in ``torch.device``. Only the CPU exists: ``device("cpu")``, ``device("cpu", 0)``.

    Args:
        type: ``"cpu"`` (optionally ``"cpu:0"``), or another device object.
        index: accepted for the CPU and ignored.

    Raises:
        DeviceError: for ``"cuda"``, ``"mps"``, ``"xpu"`` ... (convgrad runs on the CPU).

    Example:
        >>> convgrad.device("cpu")
        device(type='cpu')
    """

    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        if isinstance(type, int) and not isinstance(type, bool):
            raise DeviceError(f"device {type}: a device index means a CUDA device; convgrad runs on the CPU only, "
                              f"use 'cpu'")
        if not isinstance(type, str):
            raise ArgumentTypeError(f"device: expected a string such as 'cpu', got {type.__class__.__name__}")
        name, _, idx = type.partition(":")
        if name not in _CPU_NAMES:
            raise DeviceError(f"device '{type}' is not available: convgrad runs on the CPU only (NumPy); "
                              f"use 'cpu' or drop .to(device)")
        self.type = "cpu"
        self.index = int(idx) if idx else index

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (DeviceError, ArgumentTypeError):
                return False
        return isinstance(other, device) and other.type == self.type

    def __hash__(self):
        return hash(self.type)

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
    return device(value)


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
            if isinstance(a, str) and a not in ("cpu",) and not a.startswith(("cpu:", "cuda", "mps", "xpu", "meta",
                                                                            "hip", "xla", "npu", "vulkan")):
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


class _Mps:
    @staticmethod
    def is_available():
        return False

    @staticmethod
    def is_built():
        return False


class _Cudnn:
    enabled = False
    benchmark = False
    deterministic = True

    @staticmethod
    def is_available():
        return False


class _Backends:
    """``convgrad.backends``: ``backends.mps.is_available()`` and ``backends.cudnn`` flags (no effect)."""

    mps = _Mps()
    cudnn = _Cudnn()


cuda = _Cuda()
accelerator = _Accelerator()
backends = _Backends()
