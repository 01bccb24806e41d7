"""The array module under convgrad: NumPy, the default dtype and the global random generator.

Everything numeric in convgrad is a NumPy array underneath a :class:`convgrad.Tensor`. This module
holds the few process-wide settings that the rest of the package reads: the default floating
point dtype (float32, as in PyTorch) and the seeded random generator behind initialisation,
dropout and data shuffling.
"""
import ctypes
import os

import numpy as np
from .errors import DTypeError

xp = np

float32 = np.float32
float64 = np.float64
int64 = np.int64
bool_ = np.bool_

_default_dtype = np.dtype(np.float32)
_rng = np.random.default_rng()


def get_default_dtype():
    """The dtype that Python floats and new parameters get (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype):
    """Set the floating point dtype for new tensors made from Python numbers and for parameters."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise DTypeError(f"set_default_dtype: expected a floating point dtype, got {dtype}")
    _default_dtype = dtype


def manual_seed(seed):
    """Seed convgrad's random generator (initialisation, dropout, shuffling). Returns the generator."""
    global _rng
    _rng = np.random.default_rng(int(seed))
    return _rng


def get_rng():
    """The process-wide random generator; :func:`manual_seed` replaces it."""
    return _rng


def get_rng_state():
    """The generator's state as a JSON-friendly dict, for checkpoints."""
    return _rng.bit_generator.state


def set_rng_state(state):
    """Restore a state returned by :func:`get_rng_state`."""
    _rng.bit_generator.state = state


def to_array(data, dtype=None):
    """Convert ``data`` to a NumPy array with PyTorch's dtype rules.

    NumPy arrays keep their dtype; Python floats become the default dtype (float32), Python ints
    int64 and bools bool, as ``torch.tensor`` does. ``dtype`` overrides all of that.
    """
    if dtype is not None:
        return np.asarray(data, dtype=np.dtype(dtype))
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    arr = np.asarray(data)
    if arr.dtype.kind == "f":
        return arr.astype(_default_dtype, copy=False)
    if arr.dtype.kind in "iu" and arr.dtype != np.uint8:
        return arr.astype(np.int64, copy=False)
    return arr


# ----------------------------------------------------------------------------------------------
# The C allocator: keep freed buffers in the process instead of returning them to the OS
# ----------------------------------------------------------------------------------------------
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters
_MIB = 1 << 20


def tune_allocator(mmap_threshold=256 * _MIB, trim_threshold=512 * _MIB, top_pad=64 * _MIB):
    """Ask glibc's malloc to serve arrays up to ``mmap_threshold`` from its heap and to keep freed
    memory (up to ``trim_threshold``) for reuse.

    By default glibc maps every large array afresh and returns it to the system when freed, so each
    training step page-faults its multi-megabyte column buffers and activations in again (PyTorch
    avoids this with its caching allocator). Measured on a LeNet-5 training step, batch 64: 20.5 ms
    with glibc's defaults, 15 ms with these settings. Returns True if the settings took effect
    (glibc only); set ``CONVGRAD_MALLOC=system`` in the environment to leave malloc alone.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(param, int(value)) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, mmap_threshold), (_M_TRIM_THRESHOLD, trim_threshold), (_M_TOP_PAD, top_pad)))


allocator_tuned = os.environ.get("CONVGRAD_MALLOC", "") != "system" and tune_allocator()


class Generator:
    """A random generator of its own, as ``torch.Generator``: ``Generator().manual_seed(42)``.

    Accepted by ``generator=`` of the random factories, ``random_split``, samplers and the
    ``convgrad.utils.data.DataLoader``. ``device`` must be the CPU.
    """

    def __init__(self, device="cpu"):
        from .devices import check_device
        check_device(device)
        self._seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self.rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed):
        """Seed the generator (an int); returns the generator, as PyTorch's does."""
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def seed(self):
        """Seed the generator from the operating system's entropy; return the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63)))._seed

    def initial_seed(self):
        """The seed the generator was last seeded with."""
        return self._seed

    def get_state(self):
        """The state of the underlying NumPy bit generator (a dict), for :meth:`set_state`."""
        return self.rng.bit_generator.state

    def set_state(self, state):
        """Restore a state returned by :meth:`get_state`; returns the generator."""
        self.rng.bit_generator.state = state
        return self


def rng_of(generator=None):
    """The NumPy generator behind ``generator`` (a :class:`Generator`), else the global one."""
    return get_rng() if generator is None else generator.rng
