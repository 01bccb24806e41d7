"""``convgrad.backends``: PyTorch's ``torch.backends`` flags, answered for a CPU-only NumPy engine.

``import convgrad.backends.cudnn as cudnn; cudnn.benchmark = True`` and
``convgrad.backends.mps.is_available()`` work as in PyTorch programs; the flags change nothing.
"""
from . import cudnn, mps  # noqa: F401
