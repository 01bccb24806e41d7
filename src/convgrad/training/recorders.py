"""Training callbacks that record what a network does while it learns.

``FilterRecorder`` keeps a history of one convolution layer's kernels (``filters.npz`` in the run
directory, what ``convgrad visualize evolution`` animates); ``HealthMonitor`` measures, per conv and
linear layer, the fraction of the following ReLU's outputs that are zero and the gradient norm of
the layer's parameters, writes them as metrics rows and warns when a layer's ReLUs stayed at zero
for a whole epoch (a "dead layer").

Both follow ``fit``'s callback protocol (every hook optional): ``on_train_begin(model, state)``,
``on_step_end(step, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_end(result)``. The model
comes from ``on_train_begin``, from ``logs["model"]`` or from the constructor, whichever the loop
provides::

    recorder = FilterRecorder("runs/a", every=20, model=model)      # records model.conv1
    health = HealthMonitor(every=50, write=metrics_rows.append, model=model)
    fit(model, loader, opt, epochs=5, callbacks=[recorder, health])

``filters.npz`` holds the arrays ``steps`` (K,) int64, ``weights`` (K, out, in, kh, kw) float32 and
``layer`` (a 0-d string array); step 0 is the initialisation. It is rewritten atomically at each
record, so it grows with the run and an interrupted run keeps every row up to its last record; a
resumed run first drops the rows past the step it resumes from, so the file ends up equal to an
uninterrupted run's.
"""
import io
import math
import os
import sys

import numpy as np

from ..errors import ArgumentError, ConvgradError
from ..nn.activation import ReLU
from ..nn.conv import _Conv
from ..nn.linear import Linear
from ..tensor import Tensor

FILTERS_FILE = "filters.npz"


def _check_every(every, who):
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ArgumentError(f"{who}: every must be a positive integer, got {every!r}")


def first_conv_name(model):
    """Name of the first 2-D convolution of ``model`` (in registration order), or None."""
    for name, module in model.named_modules():
        if isinstance(module, _Conv) and module.weight.ndim == 4:
            return name
    return None


class FilterRecorder:
    """Store a conv layer's kernels every ``every`` optimizer steps in ``run_dir/filters.npz``.

    Args:
        run_dir: the run directory (created if missing).
        every: record after every ``every``-th optimizer step, and the initial kernels (step 0).
        layer: dotted name of a 2-D conv layer; default the model's first one.
        model: the model, if the training loop does not pass it (``on_train_begin`` / ``logs``).

    Raises:
        ArgumentError: ``every`` is not a positive integer; the layer does not exist or is not a
            2-D convolution (raised when the model is first seen).
    """

    def __init__(self, run_dir, every, layer=None, model=None):
        _check_every(every, "FilterRecorder")
        self.path = os.path.join(os.fspath(run_dir), FILTERS_FILE)
        self.every, self.layer, self.model = every, layer, None
        self.steps, self.weights = [], []
        self._started, self._initial = False, None
        if os.path.isfile(self.path):
            self._load_existing()
        if model is not None:
            self._attach(model)
            self._initial = self._kernels().copy()

    # --- the callback protocol -------------------------------------------------------------
    def on_train_begin(self, model, state=None):
        self._attach(model)
        start = int((state or {}).get("step", 0))
        self._start(start, self._kernels() if start == 0 else None)

    def on_step_end(self, step, logs=None):
        if self.model is None and logs and logs.get("model") is not None:
            self._attach(logs["model"])
        if self.model is None:
            raise ArgumentError("FilterRecorder: no model (pass model= or use a loop that passes it)")
        if not self._started:  # the loop gave no on_train_begin: this step is the first of the run
            self._start(step - 1, self._initial if step == 1 else None)
        if step % self.every == 0:
            self._append(step, self._kernels())
            self.save()

    def on_train_end(self, result=None):
        if self.steps:  # also writes the file when a resumed run dropped rows and recorded none since
            self.save()

    # --- the file ----------------------------------------------------------------------------
    def save(self):
        """Write ``filters.npz`` atomically with every row recorded so far."""
        from ..io.checkpoint import atomic_write

        buffer = io.BytesIO()
        np.savez(buffer, steps=np.asarray(self.steps, dtype=np.int64),
                 weights=np.stack(self.weights).astype(np.float32), layer=np.array(self.layer))
        atomic_write(self.path, lambda f: f.write(buffer.getvalue()))

    def _load_existing(self):
        history = load_filter_history(os.path.dirname(self.path))
        if self.layer is not None and self.layer != history["layer"]:
            raise ArgumentError(f"FilterRecorder: '{self.path}' records layer '{history['layer']}', "
                                f"not '{self.layer}'")
        self.layer = history["layer"]
        self.steps = [int(s) for s in history["steps"]]
        self.weights = list(history["weights"])

    def _attach(self, model):
        self.model = model
        if self.layer is None:
            self.layer = first_conv_name(model)
            if self.layer is None:
                raise ArgumentError(f"FilterRecorder: {type(model).__name__} has no 2-D convolution to record")
        names = [name for name, _ in model.named_modules() if name]
        if self.layer not in names:
            raise ArgumentError(f"FilterRecorder: unknown layer '{self.layer}'; layers are {', '.join(names)}")
        module = model.get_submodule(self.layer)
        if not (isinstance(module, _Conv) and module.weight.ndim == 4):
            raise ArgumentError(f"FilterRecorder: layer '{self.layer}' is a {type(module).__name__}, not a 2-D "
                                "convolution")

    def _kernels(self):
        return np.array(self.model.get_submodule(self.layer).weight.numpy(), dtype=np.float32)

    def _start(self, start_step, initial):
        """Drop rows past ``start_step`` (a resumed run redoes them) and record the initial kernels."""
        keep = [i for i, s in enumerate(self.steps) if s <= start_step]
        self.steps = [self.steps[i] for i in keep]
        self.weights = [self.weights[i] for i in keep]
        if initial is not None and start_step == 0 and not self.steps:
            self._append(0, initial)
            self.save()
        self._started = True

    def _append(self, step, kernels):
        if self.weights and self.weights[0].shape != kernels.shape:
            raise ConvgradError(f"FilterRecorder: layer '{self.layer}' has kernels {kernels.shape}, the file "
                                f"'{self.path}' holds {self.weights[0].shape}")
        self.steps.append(int(step))
        self.weights.append(kernels)


def load_filter_history(run_dir):
    """``{"steps", "weights", "layer"}`` from ``run_dir/filters.npz`` (or a path to the file itself).

    Raises:
        FileNotFoundError: no such run directory, or the run has no recorded filters.
        FileFormatError: the file is not a filter history.
    """
    from ..errors import FileFormatError

    path = os.fspath(run_dir)
    if not os.path.exists(path):
        raise FilterHistoryNotFound(f"run directory '{path}' does not exist")
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, FILTERS_FILE)):
            raise FilterHistoryNotFound(f"'{path}' has no recorded filters ({FILTERS_FILE}); train with "
                                        "--record-filters N")
        path = os.path.join(path, FILTERS_FILE)
    try:
        with np.load(path, allow_pickle=False) as data:
            steps, weights, layer = data["steps"], data["weights"], str(data["layer"])
    except (OSError, ValueError, KeyError) as exc:
        raise FileFormatError(f"'{path}' is not a filter history (steps, weights, layer): {exc}") from None
    if weights.ndim != 5 or steps.shape != (len(weights),) or len(steps) == 0:
        raise FileFormatError(f"'{path}': expected steps (K,) and weights (K, out, in, kh, kw), got "
                              f"{steps.shape} and {weights.shape}")
    return {"steps": steps.astype(np.int64), "weights": weights, "layer": layer}


class FilterHistoryNotFound(ConvgradError, FileNotFoundError):
    """A run directory is missing or holds no ``filters.npz``."""


# ----------------------------------------------------------------------------------------------
# Training health
# ----------------------------------------------------------------------------------------------
def _layer_of_each_relu(model):
    """Hook plan: the conv/linear layers to measure, and the ReLU modules whose outputs we count."""
    layers = [(name, m) for name, m in model.named_modules() if name and isinstance(m, (_Conv, Linear))]
    relus = [(name, m) for name, m in model.named_modules() if name and type(m) is ReLU]
    return layers, relus


class HealthMonitor:
    """Per conv/linear layer: fraction of zero ReLU outputs and gradient norm, every ``every`` steps.

    A ReLU's output is credited to the conv or linear layer that ran last before it in the forward
    pass (so a ResNet block's shared ``relu`` counts for ``conv1`` on its first call and ``conv2``
    on its second). Only training-mode forwards are counted, so an evaluation pass between epochs
    does not mix in. Every ``every`` optimizer steps ``write`` gets one row per layer::

        {"kind": "health", "step": 120, "epoch": 2, "layer": "conv1",
         "zero_fraction": 0.41, "grad_norm": 0.0123}

    (``epoch`` 1-based as in the epoch rows; ``zero_fraction`` is None for a layer no ReLU
    follows, e.g. the classifier; ``grad_norm`` is the 2-norm of the gradients of the layer's own
    parameters after backward). At each epoch end, a layer whose ReLU outputs were all zero over
    the whole epoch is reported once: ``warn("warning: dead layer conv2: ...")`` (default: a line on
    stderr) and its name is added to ``dead_layers``.

    Args:
        every: steps between rows.
        write: callable taking one dict (a metrics.jsonl row).
        model: the model, if the loop does not pass it; hooks go on at construction then.
        warn: callable taking the warning line (default: print to stderr).
    """

    def __init__(self, every, write, model=None, warn=None):
        _check_every(every, "HealthMonitor")
        if not callable(write):
            raise ArgumentError(f"HealthMonitor: write must be callable, got {type(write).__name__}")
        self.every, self.write = every, write
        self.warn = warn or (lambda line: print(line, file=sys.stderr))
        self.model, self.dead_layers, self._handles = None, [], []
        self._layers, self._step_zeros, self._epoch_counts = [], {}, {}
        if model is not None:
            self._attach(model)

    # --- the callback protocol -------------------------------------------------------------
    def on_train_begin(self, model, state=None):
        if model is not self.model:
            self._attach(model)

    def on_step_end(self, step, logs=None):
        logs = logs or {}
        if self.model is None and logs.get("model") is not None:
            self._attach(logs["model"])  # the first step's forward was not seen; later ones are
        if self.model is None or step % self.every:
            self._step_zeros.clear()
            return
        epoch = int(logs.get("epoch", 0)) + 1
        for name, module in self._layers:
            zeros = self._step_zeros.get(name)
            self.write({"kind": "health", "step": int(step), "epoch": epoch, "layer": name,
                        "zero_fraction": None if zeros is None else zeros[0] / max(zeros[1], 1),
                        "grad_norm": _grad_norm(module)})
        self._step_zeros.clear()

    def on_epoch_end(self, epoch, logs=None):
        for name, (positive, seen) in self._epoch_counts.items():
            if seen and not positive and name not in self.dead_layers:
                self.dead_layers.append(name)
                self.warn(f"warning: dead layer {name}: all {seen:,} of its ReLU outputs were zero in epoch "
                          f"{epoch + 1} (its units no longer learn; try a lower learning rate or another "
                          "initialisation)")
        self._epoch_counts = {}

    def on_train_end(self, result=None):
        self.remove()

    def remove(self):
        """Take the hooks off the model (``on_train_end`` does it)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    # --- hooks ---------------------------------------------------------------------------------
    def _attach(self, model):
        self.remove()
        self.model = model
        self._layers, relus = _layer_of_each_relu(model)
        self._last_layer = [None]
        self._step_zeros, self._epoch_counts = {}, {}
        for name, module in self._layers:
            self._handles.append(module.register_forward_hook(self._layer_ran(name)))
        for _, module in relus:
            self._handles.append(module.register_forward_hook(self._relu_ran))

    def _layer_ran(self, name):
        def hook(module, inputs, output):
            if module.training:
                self._last_layer[0] = name
        return hook

    def _relu_ran(self, module, inputs, output):
        layer = self._last_layer[0]
        if not module.training or layer is None:
            return
        values = output.numpy() if isinstance(output, Tensor) else np.asarray(output)
        positive = int(np.count_nonzero(values > 0))
        zeros, seen = self._step_zeros.get(layer, (0, 0))
        self._step_zeros[layer] = (zeros + values.size - positive, seen + values.size)
        positive_epoch, seen_epoch = self._epoch_counts.get(layer, (0, 0))
        self._epoch_counts[layer] = (positive_epoch + positive, seen_epoch + values.size)


def _grad_norm(module):
    total = 0.0
    for p in module.parameters(recurse=False):
        if p.grad is not None:
            g = np.asarray(p.grad.numpy() if isinstance(p.grad, Tensor) else p.grad, dtype=np.float64)
            total += float(np.sum(g * g))
    return math.sqrt(total)
