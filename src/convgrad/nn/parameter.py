"""Parameter: a tensor that a Module registers as learnable."""
import numpy as np

from .. import backend
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor with ``requires_grad=True`` that modules collect in ``parameters()``.

    Float data keeps its dtype; anything else is converted to the default dtype (float32).
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), backend.get_default_dtype())
        arr = data._data if isinstance(data, Tensor) else np.asarray(data)
        if arr.dtype.kind != "f":
            arr = arr.astype(backend.get_default_dtype())
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """A tensor that is part of a module's state but not learned (running statistics)."""
