"""Padding layers (``torch.nn`` names): ``ZeroPad1d/2d/3d``, ``ConstantPad1d/2d/3d``,
``ReflectionPad1d/2d/3d``, ``ReplicationPad1d/2d/3d`` and ``CircularPad1d/2d/3d``.

Each layer stores its padding as PyTorch's flat tuple, last dimension first
(``(left, right)``, ``(left, right, top, bottom)``, ``(left, right, top, bottom, front, back)``),
and calls :func:`convgrad.functional.pad`. An int pads every side by that amount.

Shape: the padded axes grow by ``left + right`` each, e.g. ``H_out = H + top + bottom``. Inputs may
have a batch axis or not: ``(N, C, W)`` or ``(C, W)`` for the 1-d layers, ``(N, C, H, W)`` or
``(C, H, W)`` for 2-d, ``(N, C, D, H, W)`` or ``(C, D, H, W)`` for 3-d.

Example:
    >>> layer = convgrad.nn.ReflectionPad2d((1, 1, 2, 0))
    >>> layer(convgrad.randn(8, 3, 28, 28)).shape
    convgrad.Size([8, 3, 30, 30])
"""
import numpy as np

from .. import functional as F
from ..errors import ArgumentError
from .module import Module


def _padding_tuple(layer, padding, nd):
    """``2 -> (2, 2, 2, 2)`` for 2-d; a tuple of ``2 * nd`` ints passes through."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        return (int(padding),) * (2 * nd)
    padding = tuple(int(p) for p in padding)
    if len(padding) != 2 * nd:
        raise ArgumentError(f"{layer}: padding must be an int or a tuple of {2 * nd} ints "
                            f"(left, right{', top, bottom' if nd > 1 else ''}{', front, back' if nd > 2 else ''}), "
                            f"got {padding}")
    return padding


class _PadNd(Module):
    _nd = 1
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _padding_tuple(type(self).__name__, padding, self._nd)

    def forward(self, input):
        return F.pad(input, self.padding, mode=self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, mode="constant", value=self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last axis with ``value``: ``ConstantPad1d(padding, value)``; negative padding crops.

    Args:
        padding: int or ``(left, right)``.
        value: the fill value.
    """
    _nd = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two axes with ``value``; ``padding`` is an int or ``(left, right, top, bottom)``."""
    _nd = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three axes with ``value``; ``padding`` is an int or a 6-tuple."""
    _nd = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pad the last axis with zeros; ``padding`` is an int or ``(left, right)``."""
    _nd = 1


class ZeroPad2d(_ZeroPadNd):
    """Pad the last two axes with zeros; ``padding`` is an int or ``(left, right, top, bottom)``."""
    _nd = 2


class ZeroPad3d(_ZeroPadNd):
    """Pad the last three axes with zeros; ``padding`` is an int or a 6-tuple."""
    _nd = 3


class ReflectionPad1d(_PadNd):
    """Mirror the last axis without repeating its edge (``[1 2 3] -> [3 2 | 1 2 3 | 2 1]``);
    each padding must be smaller than the axis."""
    _nd, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Mirror the last two axes without repeating the edge; ``(left, right, top, bottom)``."""
    _nd, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Mirror the last three axes without repeating the edge."""
    _nd, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Repeat the edge value of the last axis (``[1 2 3] -> [1 1 | 1 2 3 | 3 3]``)."""
    _nd, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Repeat the edge values of the last two axes."""
    _nd, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Repeat the edge values of the last three axes."""
    _nd, _mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """Wrap the last axis around (``[1 2 3] -> [2 3 | 1 2 3 | 1 2]``); padding at most the axis size."""
    _nd, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Wrap the last two axes around (periodic boundary)."""
    _nd, _mode = 2, "circular"


class CircularPad3d(_PadNd):
    """Wrap the last three axes around (periodic boundary)."""
    _nd, _mode = 3, "circular"
