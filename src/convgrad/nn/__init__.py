"""Layers that hold parameters and call ``convgrad.functional`` (PyTorch's ``torch.nn`` names)."""
import sys

from .. import functional
from . import init, utils
from .containers import ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .module import Module, StateDictError
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d, InstanceNorm2d,
                            InstanceNorm3d, LayerNorm, LocalResponseNorm)
from .parameter import Buffer, Parameter

# ``import convgrad.nn.functional as F`` gives the same module as ``convgrad.functional``
sys.modules[__name__ + ".functional"] = functional
