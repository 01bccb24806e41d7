"""Record what a forward pass does: which layers and ops ran, on which tensors, in what order.

``summary()``, ``explain()`` and the ONNX exporter all need the same thing: run the model once
and see the data flow, including what happens *between* layers (the ``+`` of a residual block,
the ``cat`` of an Inception block, a ``flatten``). :func:`record` does that by wrapping
``Module.__call__`` and ``Function.apply`` for the duration of one forward pass:

- a module for which ``is_leaf(module)`` is true becomes one :class:`Event` (kind ``"module"``)
  and the ops inside it are not recorded;
- every op applied outside such modules becomes an :class:`Event` of kind ``"function"``.

Events keep references to their tensors, so ``id(tensor)`` identifies a value for the whole
trace. The wrappers are installed on the classes (process-wide) and removed on exit; tracing is
not meant to run concurrently with other threads using convgrad.
"""
from contextlib import contextmanager

import numpy as np

from ..nn.fusion import no_fusion
from ..nn.module import Module
from ..tensor import Function, Tensor


class Event:
    """One recorded call: a leaf module or an op, its positional and keyword arguments, its output.

    Attributes:
        kind: ``"module"`` or ``"function"``.
        target: the module instance, or the :class:`Function` subclass.
        name: the module's dotted name in the model (``"layer1.0.conv1"``); for a function, the
            name of the innermost module that called it (``""`` for the model itself).
        args, kwargs, output: as passed and returned.
    """

    __slots__ = ("kind", "target", "name", "args", "kwargs", "output")

    def __init__(self, kind, target, name, args, kwargs, output):
        self.kind, self.target, self.name = kind, target, name
        self.args, self.kwargs, self.output = args, kwargs, output

    @property
    def type_name(self):
        return type(self.target).__name__ if self.kind == "module" else self.target.__name__

    @property
    def inputs(self):
        """The tensors among the positional arguments, in order."""
        return flatten_tensors(self.args)

    @property
    def outputs(self):
        return flatten_tensors(self.output)

    def __repr__(self):
        return f"Event({self.kind}, {self.type_name}, {self.name!r})"


def flatten_tensors(value):
    """The tensors inside nested tuples / lists / dicts, in order."""
    stack, out = [value], []
    while stack:
        v = stack.pop()
        if isinstance(v, Tensor):
            out.append(v)
        elif isinstance(v, dict):
            stack.extend(reversed(list(v.values())))
        elif isinstance(v, (tuple, list)):
            stack.extend(reversed(v))
    return out


def has_no_children(module):
    return not module._modules


# ops whose result ``shape_only`` tracing takes from their shape rule instead of computing it:
# the convolutions, where nearly all the time of a forward pass goes
SHAPE_RULES = {"ConvNd", "ConvTransposeNd"}


def _shape_only_result(cls, args, kwargs):
    x, w = args[0], args[1]
    shape = cls.output_shape(tuple(x.shape), tuple(w.shape), **kwargs)
    return Tensor._wrap(np.zeros(shape, dtype=x.dtype))


@contextmanager
def record(model, is_leaf=has_no_children, shape_only=False):
    """Context manager yielding a list that fills with :class:`Event` objects while the body runs
    ``model`` (or anything else: modules outside ``model`` get their class name as name).

    With ``shape_only`` the ops in :data:`SHAPE_RULES` are not computed: their output is zeros of
    the shape their ``output_shape`` rule gives (fine for shapes and counts, not for values).
    """
    names = {id(m): name for name, m in model.named_modules()}
    events = []
    state = {"hidden": 0, "stack": []}
    module_call = Module.__call__
    apply = Function.__dict__["apply"]

    def traced_call(self, *args, **kwargs):
        if state["hidden"]:
            return module_call(self, *args, **kwargs)
        name = names.get(id(self), type(self).__name__)
        leaf = is_leaf(self)
        state["hidden"] += leaf
        state["stack"].append(name)
        try:
            out = module_call(self, *args, **kwargs)
        finally:
            state["hidden"] -= leaf
            state["stack"].pop()
        if leaf:
            events.append(Event("module", self, name, args, kwargs, out))
        return out

    def traced_apply(cls, *args, **kwargs):
        if shape_only and cls.__name__ in SHAPE_RULES:
            out = _shape_only_result(cls, args, kwargs)
        else:
            out = apply.__func__(cls, *args, **kwargs)
        if not state["hidden"]:
            caller = state["stack"][-1] if state["stack"] else ""
            events.append(Event("function", cls, caller, args, kwargs, out))
        return out

    Module.__call__ = traced_call
    Function.apply = classmethod(traced_apply)
    try:
        with no_fusion():  # every layer must run (and be seen) on its own
            yield events
    finally:
        Module.__call__ = module_call
        Function.apply = apply


class eval_mode:
    """Put a model in eval mode for a block and give every module its previous mode back."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        return self.model

    def __exit__(self, *exc):
        for m, mode in self.modes:
            object.__setattr__(m, "training", mode)
        return False
