"""Optimizer: the base class of SGD, Adam, AdamW, RMSprop and Adagrad (``torch.optim`` semantics).

An optimizer holds ``param_groups``, a list of dicts each with its ``params`` (a list of tensors)
and its own hyper-parameters (``lr``, ``momentum`` ...), and ``state``, a dict from parameter to
that parameter's buffers (momentum, moment estimates, step count). ``step()`` updates every
parameter that has a gradient *in place* on its NumPy array, so float32 weights stay float32 and
no new arrays are made for the weights themselves.

``state_dict()`` is plain data: NumPy arrays, numbers, strings, lists, tuples and dicts, with
parameters named by their index in the order the groups list them (PyTorch's layout), so a
checkpoint can store it without pickle. :func:`flatten_state_dict` turns it into a flat dict of
NumPy arrays for ``np.savez`` and :func:`unflatten_state_dict` reverses that.
"""
import json
import numbers

import numpy as np

from ..tensor import Tensor, enable_grad
from ..errors import ArgumentError, ArgumentTypeError, DTypeError


class _Required:
    """Marker for a hyper-parameter without a default (PyTorch's ``required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class: keeps parameter groups and per-parameter state; subclasses implement ``step``.

    Args:
        params: an iterable of tensors, or of dicts ``{"params": [...], "lr": ..., ...}`` to give
            groups of parameters their own options (missing options take the defaults).
        defaults: the default options of every group.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise ArgumentTypeError(f"{type(self).__name__}: params must be an iterable of tensors or of dicts, "
                            f"got a single Tensor")
        groups = list(params)
        if not groups:
            raise ArgumentError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with ``params`` and optional options) to optimize."""
        if not isinstance(param_group, dict):
            raise ArgumentTypeError(f"{type(self).__name__}.add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise DTypeError(f"{type(self).__name__}: can only optimize Tensors, got {type(p).__name__}")
            if p._data.dtype.kind != "f":
                raise DTypeError(f"{type(self).__name__}: can only optimize floating point tensors, "
                                f"got dtype {p._data.dtype}")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ArgumentError(f"{type(self).__name__}: parameter group didn't specify a value of "
                                 f"required optimization parameter {name}")
            group.setdefault(name, default)
        ids = [id(p) for p in group["params"]]
        if len(set(ids)) != len(ids):
            raise ArgumentError(f"{type(self).__name__}: a parameter group contains the same parameter twice")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & set(ids):
            raise ArgumentError(f"{type(self).__name__}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Clear the gradients: ``grad = None`` (the default, as in PyTorch) or filled with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad._data.fill(0)

    def step(self, closure=None):
        """Update every parameter that has a gradient. ``closure`` re-evaluates the model and
        returns the loss (it runs with gradients enabled); its value is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad._data, self.state.setdefault(p, {}), group)
        return loss

    def _update(self, p, grad, state, group):
        """Update ``p._data`` in place from ``grad``; ``state`` is the parameter's (mutable) state."""
        raise NotImplementedError

    # --- state ----------------------------------------------------------------------------------
    def state_dict(self):
        """``{"state": {index: {name: array or number}}, "param_groups": [options + "params": [index]]}``.

        Arrays are copies, so the dict is a snapshot. Indices count parameters across groups in order.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` returned (from this or an identically built optimizer).

        Floating point state arrays are cast to their parameter's dtype; group options (lr ...)
        are restored too. Raises ValueError if the groups or their sizes differ.
        """
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ArgumentError(f"{type(self).__name__}.load_state_dict: the state has {len(groups)} parameter "
                             f"groups, this optimizer has {len(self.param_groups)}")
        index_to_param = {}
        for saved, group in zip(groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ArgumentError(f"{type(self).__name__}.load_state_dict: a saved parameter group has "
                                 f"{len(saved['params'])} parameters, this optimizer's has {len(group['params'])}")
            for i, p in zip(saved["params"], group["params"]):
                index_to_param[int(i)] = p
        self.state = {}
        for key, entries in state_dict["state"].items():
            p = index_to_param.get(int(key))
            if p is None:
                continue
            restored = {}
            for name, value in entries.items():
                if isinstance(value, np.ndarray) and value.ndim > 0:
                    if value.shape != p._data.shape:
                        raise ArgumentError(f"{type(self).__name__}.load_state_dict: state '{name}' of parameter "
                                         f"{key} has shape {value.shape}, the parameter has {p._data.shape}")
                    dtype = p._data.dtype if value.dtype.kind == "f" else value.dtype
                    restored[name] = np.array(value, dtype=dtype, copy=True)
                elif isinstance(value, np.ndarray):
                    restored[name] = value.item()
                else:
                    restored[name] = value
            self.state[p] = restored
        for saved, group in zip(groups, self.param_groups):
            for name, value in saved.items():
                if name != "params":
                    group[name] = tuple(value) if isinstance(self.defaults.get(name), tuple) else value

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _check_nonnegative(name, value, what=None):
    if not isinstance(value, numbers.Real) or not value >= 0.0:
        raise ArgumentError(f"Invalid {what or name} value: {value}")


def flatten_state_dict(state_dict, prefix=""):
    """A flat ``{name: np.ndarray}`` for ``np.savez`` (no pickle): each state array under
    ``"{prefix}state.{index}.{name}"`` and everything else (numbers, group options) as one JSON
    string under ``"{prefix}meta"``. :func:`unflatten_state_dict` reverses it."""
    arrays = {}
    meta = {"param_groups": state_dict["param_groups"], "scalars": {}}
    for index, entries in state_dict["state"].items():
        for name, value in entries.items():
            if isinstance(value, np.ndarray):
                arrays[f"{prefix}state.{index}.{name}"] = value
            else:
                meta["scalars"].setdefault(str(index), {})[name] = value
    arrays[prefix + "meta"] = np.array(json.dumps(meta, default=_json_default))
    return arrays


def unflatten_state_dict(arrays, prefix=""):
    """Rebuild the nested state dict from :func:`flatten_state_dict`'s arrays (or an opened ``.npz``)."""
    meta = json.loads(str(np.asarray(arrays[prefix + "meta"])))
    state = {}
    for index, entries in meta["scalars"].items():
        state.setdefault(int(index), {}).update(entries)
    head = prefix + "state."
    for key in arrays.keys() if hasattr(arrays, "keys") else arrays:
        if key.startswith(head):
            index, name = key[len(head):].split(".", 1)
            state.setdefault(int(index), {})[name] = np.asarray(arrays[key])
    return {"state": state, "param_groups": meta["param_groups"]}


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise ArgumentTypeError(f"optimizer state: cannot store {type(value).__name__} as JSON")
