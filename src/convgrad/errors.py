"""convgrad's own exception types. Every expected failure raises one of these, so callers (and the
CLI) can tell a bad input from a bug; each is also a ValueError or TypeError as Python expects."""


class ConvgradError(Exception):
    """Base class of all errors convgrad raises on purpose."""


class ShapeError(ConvgradError, ValueError):
    """An operation or layer got an input whose shape, rank or size it cannot work with."""


class ArgumentError(ConvgradError, ValueError):
    """An operation or layer got a hyper-parameter outside its allowed range."""


class DTypeError(ConvgradError, TypeError):
    """An operation got a tensor of a dtype it does not accept."""


class FileFormatError(ConvgradError, ValueError):
    """A data, weight or checkpoint file is malformed, truncated, or not what it claims to be."""


class ResourceLimitError(ConvgradError, MemoryError):
    """An operation would need more memory than the configured cap allows."""


class ArgumentTypeError(ConvgradError, TypeError):
    """An argument is of the wrong Python type (a list where a Tensor was expected, ...)."""


class DeviceError(ConvgradError, ValueError):
    """A device other than the CPU was asked for (convgrad computes on the CPU with NumPy)."""
