"""What every zoo model shares: named stages and ``return_layers``.

The convention (one for the whole zoo, LeNet-5 included)::

    model = convgrad.models.resnet18()
    out = model(x)                                   # the usual output
    acts = model(x, return_layers=["conv1", "layer2", "layer3.0.conv1"])
    acts["conv1"], acts["layer2"], acts["layer3.0.conv1"], acts["output"]

With ``return_layers`` the call returns a dict ``{name: activation}`` in the order the names were
asked for, followed by the key ``"output"`` holding what ``model(x)`` would have returned.
Names are dotted submodule paths, as in ``state_dict`` keys without the parameter suffix
(``"features.0"``, ``"layer1.0.bn2"``, ``"inception4a.branch2"``). The activation of a module is
its output, captured by a forward hook, so the graph is untouched and gradients flow through the
returned tensors. If a module runs more than once in one forward pass (ResNet blocks call their
``relu`` twice) the activation of its last call is returned. A named module that did not run
(GoogLeNet's ``aux1`` in eval mode) is an error, not a silent omission.

``model.stage_names()`` lists the top-level stages, the names a user is most likely to want.

Registered builders (``@register_model``) are what ``convgrad.models.get_model`` finds by name;
the models they build carry ``model.model_config = {"name": ..., "kwargs": {...}}`` (the builder's
name and the arguments it was called with), which checkpoints store to rebuild the model.
"""
import functools
import inspect

from ..errors import ArgumentError
from ..nn import Module

OUTPUT_KEY = "output"

MODEL_REGISTRY = {}  # name -> builder


def register_model(builder):
    """Register ``builder`` under its function name and make the models it builds record
    ``model_config`` (name and the arguments passed, positional ones by their parameter names)."""
    name = builder.__name__
    signature = inspect.signature(builder)

    @functools.wraps(builder)
    def build(*args, **kwargs):
        arguments = dict(signature.bind(*args, **kwargs).arguments)
        model = builder(*args, **kwargs)
        if getattr(model, "model_config", None) is None:
            arguments.update(arguments.pop("kwargs", {}))  # a builder's own **kwargs, flattened
            model.model_config = {"name": name, "kwargs": arguments}
        return model

    MODEL_REGISTRY[name] = build
    return build


class ZooModel(Module):
    """Base class of the zoo models: a Module whose call accepts ``return_layers``."""

    #: the side of the square images the architecture was designed for (None: no single one)
    natural_side = None

    def natural_input_size(self):
        """``(C, H, W)`` of the input the architecture was designed for (224x224 for the ImageNet
        models, 28x28 for LeNet-5 on MNIST ...), or None; ``summary`` uses it by default."""
        side = self.natural_side
        if side is None:
            return None
        first = next((m for m in self.modules() if hasattr(m, "in_channels") and hasattr(m, "kernel_size")), None)
        return (first.in_channels if first is not None else 3, side, side)

    def stage_names(self):
        """The top-level submodule names, in registration (= execution) order."""
        return [name for name, _ in self.named_children()]

    def __call__(self, *args, return_layers=None, **kwargs):
        if return_layers is None:
            return super().__call__(*args, **kwargs)
        names = self._check_layer_names(return_layers)
        captured = {}
        handles = [self.get_submodule(name).register_forward_hook(_capture(captured, name)) for name in names]
        try:
            output = super().__call__(*args, **kwargs)
        finally:
            for handle in handles:
                handle.remove()
        not_run = [name for name in names if name not in captured]
        if not_run:
            raise ArgumentError(f"{type(self).__name__}: return_layers {not_run} did not run in this forward "
                                f"pass (mode: {'train' if self.training else 'eval'})")
        result = {name: captured[name] for name in names}
        result[OUTPUT_KEY] = output
        return result

    def _check_layer_names(self, return_layers):
        if isinstance(return_layers, str):
            return_layers = [return_layers]
        names = list(dict.fromkeys(return_layers))  # drop repeats, keep order
        known = {name for name, _ in self.named_modules() if name}
        for name in names:
            if not isinstance(name, str):
                raise ArgumentError(f"{type(self).__name__}: return_layers must be names (str), got {name!r}")
            if name == OUTPUT_KEY:
                raise ArgumentError(f"{type(self).__name__}: '{OUTPUT_KEY}' is always returned; it is not a "
                                    "layer name")
            if name not in known:
                raise ArgumentError(f"{type(self).__name__}: unknown layer '{name}' in return_layers; stages "
                                    f"are {self.stage_names()} (dotted names such as 'stage.0' reach "
                                    "inside them)")
        return names


def _capture(store, name):
    def hook(module, inputs, output):
        store[name] = output
    return hook
