"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
from collections import OrderedDict

from .fusion import run_sequence
from .module import Module
from .parameter import Parameter


class Sequential(Module):
    """Run modules one after another. Children are named "0", "1", ... or by an OrderedDict."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        # conv -> BatchNorm (-> ReLU) runs are fused at inference where that is invisible (fusion.py)
        return run_sequence(list(self._modules.values()), x)

    def __getitem__(self, index):
        mods = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return mods[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        """Add ``module`` at the end; returns ``self``."""
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters the parent registers (``model.blocks[i]``, ``len``, iteration).

    Args:
        modules: an iterable of modules.

    Example:
        >>> import convgrad.nn as nn
        >>> layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
        >>> len(layers), len(list(layers.parameters()))
        (3, 6)
    """
    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        """Add ``module`` at the end; returns ``self``."""
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules):
        """Add every module of ``modules`` at the end; returns ``self``."""
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, index):
        mods = list(self._modules.values())
        return ModuleList(mods[index]) if isinstance(index, slice) else mods[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules (string keys, insertion order) whose parameters the parent registers.

    Args:
        modules: a mapping or an iterable of ``(name, module)`` pairs.

    Example:
        >>> import convgrad.nn as nn
        >>> heads = nn.ModuleDict({"digit": nn.Linear(8, 10), "parity": nn.Linear(8, 2)})
        >>> list(heads.keys())
        ['digit', 'parity']
    """
    def __init__(self, modules=None):
        super().__init__()
        for name, m in (modules or {}).items():
            self.add_module(name, m)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        """The names, in insertion order."""
        return self._modules.keys()

    def values(self):
        """The modules, in insertion order."""
        return self._modules.values()

    def items(self):
        """``(name, module)`` pairs, in insertion order."""
        return self._modules.items()


def _as_parameter(value):
    """Tensors and arrays become Parameters (as PyTorch's ParameterList does); Parameters stay."""
    return value if isinstance(value, Parameter) else Parameter(value)


class ParameterList(Module):
    """A list of Parameters registered under the names "0", "1", ... (so ``parameters()`` and
    ``state_dict()`` find them). Tensors and arrays appended are wrapped in Parameters.

    Example:
        >>> ws = convgrad.nn.ParameterList([convgrad.nn.Parameter(convgrad.randn(3, 3)) for _ in range(2)])
        >>> len(list(ws.parameters()))
        2
    """

    def __init__(self, values=None):
        super().__init__()
        for v in values or ():
            self.append(v)

    def append(self, value):
        """Add ``value`` (a Parameter, or a tensor/array made into one) at the end; returns self."""
        setattr(self, str(len(self._parameters)), _as_parameter(value))
        return self

    def extend(self, values):
        """Append every element of ``values``; returns self."""
        for v in values:
            self.append(v)
        return self

    def __getitem__(self, index):
        params = list(self._parameters.values())
        return ParameterList(params[index]) if isinstance(index, slice) else params[index]

    def __setitem__(self, index, value):
        index = range(len(self))[index]
        setattr(self, str(index), _as_parameter(value))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def extra_repr(self):
        """One line per parameter: its index, dtype and shape (PyTorch's listing)."""
        return "\n".join(f"({i}): Parameter containing: [{p.dtype} of size {tuple(p.shape)}]"
                         for i, p in enumerate(self))


class ParameterDict(Module):
    """A dict of Parameters registered under their keys. Tensors and arrays are wrapped in
    Parameters.

    Example:
        >>> pd = convgrad.nn.ParameterDict({"scale": convgrad.ones(3)})
        >>> [name for name, _ in pd.named_parameters()]
        ['scale']
    """

    def __init__(self, parameters=None):
        super().__init__()
        for key, value in (parameters or {}).items():
            self[key] = value

    def __getitem__(self, key):
        return self._parameters[key]

    def __setitem__(self, key, value):
        setattr(self, key, _as_parameter(value))

    def __delitem__(self, key):
        delattr(self, key)

    def __contains__(self, key):
        return key in self._parameters

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def keys(self):
        """The names, in insertion order."""
        return self._parameters.keys()

    def values(self):
        """The Parameters, in insertion order."""
        return self._parameters.values()

    def items(self):
        """(name, Parameter) pairs, in insertion order."""
        return self._parameters.items()

    def update(self, parameters):
        """Set every (name, value) of a dict or of a ParameterDict."""
        for key, value in dict(parameters).items():
            self[key] = value
