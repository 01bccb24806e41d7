"""Module: the base class of layers and models.

A Module owns Parameters, buffers (non-learned state such as BatchNorm's running mean) and child
Modules, found by attribute assignment as in PyTorch. ``state_dict()`` names every tensor by its
dotted attribute path (``layer1.0.conv1.weight``), the same names PyTorch uses, so weights move
between the two frameworks with ``np.asarray``.
"""
from collections import OrderedDict

import numpy as np

from .. import devices as device_mod
from ..errors import ArgumentTypeError, ConvgradError, DTypeError
from ..tensor import Tensor, is_anomaly_enabled, module_stack, no_grad
from .parameter import Parameter


class StateDictError(ConvgradError, KeyError):
    """``load_state_dict`` found missing, unexpected or mis-shaped entries."""

    def __str__(self):
        return str(self.args[0])


class Module:
    """Base class for all layers and models. Subclasses define ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    # --- registration --------------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()) and (value is None or isinstance(value, Tensor)):
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            store.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None) as ``name``: ``parameters()`` and ``state_dict()`` include it."""
        if param is None:
            self._parameters[name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Register non-learned state that ``state_dict()`` saves (unless ``persistent=False``)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(tensor)
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        if not persistent:
            self._non_persistent.add(name)
        self._buffers[name] = tensor
        object.__setattr__(self, name, tensor)

    def add_module(self, name, module):
        """Register ``module`` (or None) as a child named ``name``, as assigning ``self.name = module`` does."""
        setattr(self, name, module)

    register_module = add_module

    # --- calling -------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        if args and type(args[0]) in (list, np.ndarray) and _is_numeric_data(args[0]):
            raise ArgumentTypeError(f"{type(self).__name__}(): expected a convgrad Tensor as input, got "
                                    f"{type(args[0]).__name__}; convert it first with convgrad.tensor(...)")
        if is_anomaly_enabled():
            _calling.append(self)
            module_stack.append(_qualified_name(self))
            try:
                out = self.forward(*args, **kwargs)
            finally:
                module_stack.pop()
                _calling.pop()
        else:
            out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def register_forward_hook(self, hook):
        """``hook(module, inputs, output)`` runs after every forward; returns a handle with ``remove()``."""
        key = object()
        self._forward_hooks[key] = hook
        return _HookHandle(self._forward_hooks, key)

    # --- traversal -----------------------------------------------------------------------------
    def named_modules(self, prefix="", memo=None):
        """Yield ``(qualified name, module)`` for this module and every descendant, each once (``''`` for the root)."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in memo:
                continue
            memo.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        """Yield this module and every descendant, each once."""
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        """Yield ``(name, module)`` for the direct children."""
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        """Yield the direct children."""
        for _, m in self.named_children():
            yield m

    def _named_tensors(self, attr, prefix="", recurse=True):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, t in getattr(module, attr).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))  # a shared parameter is listed once
                yield (f"{mod_name}.{name}" if mod_name else name), t

    def named_parameters(self, prefix="", recurse=True):
        """Yield ``(qualified name, parameter)``, e.g. ``('conv1.weight', ...)``, each parameter once."""
        return self._named_tensors("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        """Yield the parameters (of the descendants too unless ``recurse=False``), each once: what an optimizer takes.

        Example:
            >>> import convgrad.nn as nn
            >>> sum(p.numel() for p in nn.Linear(3, 10).parameters())
            40
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        """Yield ``(qualified name, buffer)`` for the buffers (e.g. batch norm's running statistics)."""
        return self._named_tensors("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        """Yield the buffers (non-learned state such as ``running_mean``)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target):
        """The descendant at the dotted path ``target`` (e.g. ``'layer1.0.conv1'``); raises AttributeError if absent."""
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no submodule '{part}' (in '{target}')")
            module = module._modules[part]
        return module

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant, then on this module; returns ``self`` (e.g. to initialise)."""
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    # --- modes and gradients -------------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (``mode=True``) or evaluation mode on this module and its descendants; returns ``self``."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode (dropout off, batch norm uses running statistics): ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on every parameter (False freezes the module); returns ``self``."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient (set to None, or to zeros with ``set_to_none=False``)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad._data.fill(0)

    def to(self, *args, **kwargs):
        """Convert floating point parameters and buffers to a dtype: ``to(dtype)``, ``to(device)``,
        ``to(device, dtype)``, ``to(tensor)`` or keywords, as in PyTorch. The device must be the
        CPU (``"cpu"`` is accepted and changes nothing).

        Raises:
            DeviceError: for a CUDA, MPS or other accelerator device (convgrad runs on the CPU).
        """
        dtype, _ = device_mod.parse_to_args(f"{type(self).__name__}.to", args, kwargs, Tensor)
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise DTypeError(f"{type(self).__name__}.to: modules convert to floating point dtypes only, got {dtype}")
        for t in list(self.parameters()) + list(self.buffers()):
            if t._data.dtype.kind == "f":
                t._data = t._data.astype(dtype)
                if t.grad is not None:
                    t.grad = Tensor._wrap(t.grad._data.astype(dtype))
        return self

    def float(self):
        """Convert the parameters and buffers to float32 in place; returns ``self``."""
        return self.to(np.float32)

    def double(self):
        """Convert the parameters and buffers to float64 in place; returns ``self``."""
        return self.to(np.float64)

    def cpu(self):
        """Returns ``self`` (convgrad runs on the CPU only)."""
        return self

    def cuda(self, device=None):
        """Raises DeviceError: convgrad runs on the CPU only."""
        device_mod.check_device("cuda" if device is None else device, f"{type(self).__name__}.cuda")  # raises
        return self  # pragma: no cover

    # --- state ---------------------------------------------------------------------------------
    def state_dict(self):
        """An ordered dict from PyTorch-style dotted names to NumPy arrays (shared, not copied)."""
        out = OrderedDict()
        for mod_name, module in self.named_modules():
            prefix = f"{mod_name}." if mod_name else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[prefix + name] = p._data
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[prefix + name] = b._data
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into this module's parameters and buffers.

        Accepts NumPy arrays, convgrad tensors, or anything ``np.asarray`` converts (PyTorch CPU
        tensors included). With ``strict`` every key must match; shapes must always match.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        if isinstance(state_dict, tuple) and len(state_dict) == 2 and isinstance(state_dict[0], dict):
            raise ArgumentTypeError(f"{type(self).__name__}.load_state_dict: got a (state, metadata) tuple, as "
                                    f"convgrad.io.load_safetensors returns; pass its first element: "
                                    f"state, metadata = load_safetensors(path); model.load_state_dict(state)")
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise ArgumentTypeError(f"{type(self).__name__}.load_state_dict: expected a dict of name -> tensor or "
                                    f"array, got {type(state_dict).__name__}")
        own = self.state_dict()
        targets = {}
        for mod_name, module in self.named_modules():
            prefix = f"{mod_name}." if mod_name else ""
            for store in (module._parameters, module._buffers):
                for name, t in store.items():
                    if t is not None and prefix + name in own:
                        targets[prefix + name] = t
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise StateDictError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                                 f"unexpected keys {unexpected}")
        with no_grad():
            for key, t in targets.items():
                if key not in state_dict:
                    continue
                value = state_dict[key]
                arr = np.asarray(value._data if isinstance(value, Tensor) else value)
                if arr.shape != t._data.shape:
                    raise StateDictError(f"{type(self).__name__}.load_state_dict: '{key}' has shape "
                                         f"{arr.shape} in the file, the model expects {t._data.shape}")
                if t._data.flags.writeable and (t._data.dtype.kind == arr.dtype.kind or t._data.dtype.kind == "f"):
                    np.copyto(t._data, arr, casting="unsafe")  # in place: keeps the array's memory layout
                else:
                    t._data = np.array(arr, copy=True)
        return missing, unexpected

    # --- printing ------------------------------------------------------------------------------
    def extra_repr(self):
        """Extra text inside the module's ``repr`` (its options); subclasses override it."""
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


_calling = []  # the modules being called, outermost first (kept only under detect_anomaly)


def _is_numeric_data(value):
    """True for an ndarray or a (nested) list starting with a number: data that should be a Tensor."""
    while isinstance(value, list) and value:
        value = value[0]
    return isinstance(value, (np.ndarray, int, float, np.number)) and not isinstance(value, bool)


def _qualified_name(module):
    """``layer1.0.conv1`` for a child called from its parent's forward; the class name at the top."""
    if _calling[:-1]:
        parent, parent_name = _calling[-2], module_stack[-1]
        for name, child in parent._modules.items():
            if child is module:
                return name if len(_calling) == 2 else f"{parent_name}.{name}"
    return type(module).__name__


class _HookHandle:
    def __init__(self, hooks, key):
        self.hooks, self.key = hooks, key

    def remove(self):
        self.hooks.pop(self.key, None)
