"""Tensor, the computation graph and reverse-mode automatic differentiation.

A :class:`Tensor` wraps a NumPy array. When an operation runs on tensors that require gradients,
its result remembers a :class:`Node`: which :class:`Function` made it, the function's saved
context and the input tensors. ``loss.backward()`` walks these nodes from the loss back to the
leaves in reverse topological order (found iteratively, so graphs of any depth work) and calls
each function's backward rule with the gradient of its output, accumulating gradients where a
tensor feeds several operations (the multivariate chain rule).

This module knows no operation by name. Operations are subclasses of :class:`Function` that live
in ``convgrad.functional``; that package also attaches the arithmetic and shape methods
(``+``, ``@``, ``.sum()``, ``.reshape()`` ...) to :class:`Tensor`.
"""
import threading

import numpy as np

from . import backend
from . import devices as device_mod
from .errors import ArgumentError, ArgumentTypeError, DTypeError

# ----------------------------------------------------------------------------------------------
# Gradient mode
# ----------------------------------------------------------------------------------------------
_state = threading.local()


def is_grad_enabled():
    """True unless inside :class:`no_grad` (or ``set_grad_enabled(False)``)."""
    return getattr(_state, "grad_enabled", True)


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self.prev = is_grad_enabled()
        _state.grad_enabled = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev
        return False

    def __call__(self, fn):
        mode = self.mode
        _state.grad_enabled = self.prev  # decorating must not change the current mode

        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


class no_grad(set_grad_enabled):
    """Run code without recording the graph: faster, and no memory kept for backward."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record the graph again inside a :class:`no_grad` block."""

    def __init__(self):
        super().__init__(True)


# ----------------------------------------------------------------------------------------------
# Anomaly detection: the first op that makes NaN or Inf raises, naming the op and the layer
# ----------------------------------------------------------------------------------------------
class AnomalyError(FloatingPointError):
    """A forward or backward computation produced NaN or Inf under :class:`detect_anomaly`."""


_anomaly = {"on": False}
module_stack = []  # names of the nn layers being called, pushed by nn.Module when anomaly is on


def is_anomaly_enabled():
    return _anomaly["on"]


class detect_anomaly:
    """Context manager: raise :class:`AnomalyError` at the first op whose output is not finite."""

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = _anomaly["on"]
        _anomaly["on"] = self.mode
        return self

    def __exit__(self, *exc):
        _anomaly["on"] = self.prev
        return False


def _check_finite(array, what, fn_name):
    if array is None or not isinstance(array, np.ndarray) or array.dtype.kind not in "fc":
        return
    if not np.all(np.isfinite(array)):
        where = f" in layer '{module_stack[-1]}'" if module_stack else ""
        kind = "NaN" if np.isnan(array).any() else "Inf"
        raise AnomalyError(f"{what} of {fn_name}{where} produced {kind}")


# ----------------------------------------------------------------------------------------------
# Functions and graph nodes
# ----------------------------------------------------------------------------------------------
class Context:
    """Scratch space one application of a Function keeps for its backward rule."""

    def save_for_backward(self, *arrays):
        self.saved = arrays


class Node:
    """One recorded operation: the function, its saved context and its positional inputs.

    A node is also what ``tensor.grad_fn`` returns, as in PyTorch: ``name()`` (``"MulBackward0"``),
    ``next_functions`` (the nodes of its inputs, ``AccumulateGrad`` for leaves) and a repr
    ``<MulBackward0>``. ``versions`` holds ``(counter, value)`` for every tensor whose array the
    function kept for its backward rule: an in-place change to one of them makes backward raise
    instead of using the changed values.
    """

    __slots__ = ("fn", "ctx", "inputs", "layer", "versions", "__weakref__")

    def __init__(self, fn, ctx, inputs, versions=()):
        self.fn = fn
        self.ctx = ctx
        self.inputs = inputs  # one entry per positional argument: a Tensor or None
        self.layer = module_stack[-1] if module_stack else None
        self.versions = versions

    def name(self):
        """PyTorch's spelling of the backward function: ``AddBackward0``, ``ReluBackward0``."""
        return _torch_spelling(self.fn.__name__) + "Backward0"

    @property
    def next_functions(self):
        """``((node, 0), ...)`` per input: the input's own node, ``AccumulateGrad`` for a leaf that
        requires grad, ``None`` for inputs that need no gradient."""
        out = []
        for t in self.inputs:
            if t is None:
                out.append((None, 0))
            elif t._node is not None:
                out.append((t._node, 0))
            else:
                out.append((AccumulateGrad(t), 0))
        return tuple(out)

    def check_versions(self):
        for counter, value, shape in self.versions:
            if counter[0] != value:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [tensor of shape {list(shape)}], which is input or output of "
                    f"{self.name()}, is at version {counter[0]}; expected version {value} instead")

    def __eq__(self, other):
        if isinstance(other, str):  # older convgrad code compares grad_fn with the function's name
            return other in (self.fn.__name__, self.name())
        return self is other

    __hash__ = object.__hash__

    def __repr__(self):
        return f"<{self.name()}>"


def _torch_spelling(name):
    """Acronyms as PyTorch writes them in node names: ``ReLU`` -> ``Relu``, ``NLLLoss`` -> ``NllLoss``."""
    name = name.replace("ReLU", "Relu")  # one word in PyTorch's names ("relu")
    out, i = [], 0
    while i < len(name):
        j = i
        while j < len(name) and name[j].isupper():
            j += 1
        if j - i > 1:  # a run of capitals: the last one starts the next word unless the run ends the name
            end = j if j == len(name) or not name[j].islower() else j - 1
            out.append(name[i] + name[i + 1:end].lower())
            i = end
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


class AccumulateGrad:
    """The ``next_functions`` entry of a leaf tensor: gradients arriving here go into ``.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "AccumulateGrad"

    next_functions = ()

    def __repr__(self):
        return "<AccumulateGrad>"


def _kept_arrays(ctx):
    """ids of the arrays a forward stored on ``ctx`` (attributes, one level into tuples/lists)."""
    ids = set()
    for value in ctx.__dict__.values():
        if isinstance(value, np.ndarray):
            ids.add(id(value))
        elif isinstance(value, (tuple, list)):
            for v in value:
                if isinstance(v, np.ndarray):
                    ids.add(id(v))
    return ids


class Function:
    """A differentiable operation: ``forward`` and ``backward`` on NumPy arrays, side by side.

    Subclasses implement::

        @staticmethod
        def forward(ctx, *args, **kwargs) -> np.ndarray        # Tensors arrive as arrays
        @staticmethod
        def backward(ctx, grad) -> gradient or tuple of them  # one per positional argument

    and optionally ``output_shape(*shapes, **kwargs)``, the shape rule that lets
    ``summary()`` and input validation work without data. ``backward`` returns ``None`` for
    arguments that are not tensors or need no gradient (``ctx.needs_input_grad`` tells which),
    and must not modify ``grad`` in place. ``forward`` may return a tuple: the first element is
    the differentiable result, the others come back as tensors without gradients (indices).
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run the function's ``forward`` on tensors and record a node in the graph for ``backward`` (as
        ``torch.autograd.Function.apply``)."""
        grad_on = is_grad_enabled()
        raw = []
        needs = []
        any_needs = False
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a._data)
                need = grad_on and a.requires_grad
                needs.append(need)
                any_needs = any_needs or need
            else:
                raw.append(a)
                needs.append(False)
        ctx = Context()
        ctx.needs_input_grad = tuple(needs)
        out = cls.forward(ctx, *raw, **kwargs)
        extra = ()
        if isinstance(out, tuple):
            out, extra = out[0], out[1:]
        if _anomaly["on"]:
            _check_finite(out, "forward", cls.__name__)
        result = Tensor._wrap(out, any_needs)
        if any_needs:
            inputs = tuple(a if isinstance(a, Tensor) and need else None for a, need in zip(args, needs))
            # versions of the tensors whose values the backward rule kept or whose history the
            # gradient will flow into: an in-place change to one of them before backward is an error
            kept = _kept_arrays(ctx)
            versions = tuple((a._version, a._version[0], a._data.shape) for a, need in zip(args, needs)
                             if isinstance(a, Tensor) and (need or id(a._data) in kept))
            if id(out) in kept:
                versions += ((result._version, 0, out.shape),)
            result._node = Node(cls, ctx, inputs, versions)
        if extra:
            return (result,) + tuple(Tensor._wrap(e, False) for e in extra)
        return result


# ----------------------------------------------------------------------------------------------
# Tensor
# ----------------------------------------------------------------------------------------------
class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Args:
        data: anything ``np.asarray`` accepts. NumPy arrays keep their dtype; Python floats
            become float32 (the default dtype), Python ints int64.
        dtype: optional NumPy dtype (or name) to convert to.
        requires_grad: record operations on this tensor so ``backward()`` fills ``.grad``.

    As in PyTorch, ``.data`` is a tensor sharing this one's storage but cut from the graph (and
    from its version counter, so changes through it are not checked); ``.numpy()`` is the NumPy
    array itself. ``.grad`` is a tensor without gradient of the same shape, or ``None`` before the
    first backward pass. ``._data`` is the array (convgrad's own code uses it directly) and
    ``._version`` a one-element list counting in-place changes, shared with ``detach()``.
    """

    __slots__ = ("_data", "grad", "_requires_grad", "_node", "_retain", "_hooks", "_version", "__weakref__",
                 "__dict__")
    __array_priority__ = 1000  # np.ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data, dtype=None, requires_grad=False):
        if isinstance(data, Tensor):
            data = data._data
        self._data = backend.to_array(data, dtype)
        self._version = [0]
        self.grad = None
        self._node = None
        self._retain = False
        self._hooks = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """Make a Tensor around an array without conversion (the fast path for op results)."""
        t = Tensor.__new__(Tensor)
        t._data = array if isinstance(array, np.ndarray) else np.asarray(array)
        t._version = [0]
        t.grad = None
        t._node = None
        t._retain = False
        t._hooks = None
        t._requires_grad = requires_grad
        return t

    # --- gradient bookkeeping ------------------------------------------------------------------
    @property
    def requires_grad(self):
        """Whether operations on this tensor are recorded for autodiff (settable on leaves)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if value and self._data.dtype.kind not in "fc":
            raise DTypeError(f"only floating point tensors can require gradients, got dtype {self._data.dtype}")
        if not value and self._node is not None:
            raise RuntimeError("requires_grad can only be turned off on leaf tensors; use detach()")
        self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place; returns ``self``."""
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        """True for tensors made by the user (not by a recorded operation): the ones ``backward`` fills ``.grad`` of."""
        return self._node is None

    @property
    def grad_fn(self):
        """The node of the function that made this tensor (``<MulBackward0>``), None for a leaf.

        It has ``name()`` and ``next_functions`` as in PyTorch, and still equals the function's
        name as a string (``y.grad_fn == "Mul"``), which older convgrad code compares with."""
        return self._node

    @property
    def data(self):
        """A tensor sharing this tensor's storage, outside the graph (PyTorch's ``.data``)."""
        return Tensor._wrap(self._data, False)

    @data.setter
    def data(self, value):
        array = value._data if isinstance(value, Tensor) else backend.to_array(value)
        self._data = array
        self._version[0] += 1


    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        self._retain = True
        return self

    def register_hook(self, hook):
        """Call ``hook(grad_tensor)`` when this tensor's gradient is computed; a non-None return
        value replaces the gradient."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return hook

    _post_hooks = None  # per-instance list set by register_post_accumulate_grad_hook (rarely used)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` on this leaf as soon as its ``.grad`` holds the gradient of the
        running backward pass (all contributions accumulated), while the rest of the backward
        still runs: the moment data-parallel training starts averaging it (PyTorch's name).

        Raises:
            RuntimeError: the tensor is not a leaf that requires grad.
        """
        if not self.requires_grad or self._node is not None:
            raise RuntimeError("post-accumulate-grad hooks can be registered on leaf tensors that require grad only")
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(hook)
        return hook

    def detach(self):
        """A tensor sharing this one's data (and version counter), cut from the graph."""
        t = Tensor._wrap(self._data, False)
        t._version = self._version
        return t

    def detach_(self):
        """Cut this tensor from the graph in place."""
        self._node = None
        self._requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=False):
        """Compute the gradient of this tensor with respect to every leaf that requires grad.

        Args:
            gradient: d(something)/d(self); may be omitted for a single-element tensor (then 1).
            retain_graph: keep the saved state so backward can run through the graph again.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no graph")
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(f"backward(): gradient can be implied only for a single-element "
                                   f"tensor, this one has shape {tuple(self.shape)}")
            gradient = np.ones_like(self._data)
        else:
            gradient = np.asarray(gradient._data if isinstance(gradient, Tensor) else gradient,
                                  dtype=self._data.dtype)
            if gradient.shape != self._data.shape:
                raise RuntimeError(f"backward(): gradient has shape {gradient.shape}, tensor has {self._data.shape}")
        run_backward(self, gradient, retain_graph)

    # --- shape and conversion ------------------------------------------------------------------
    @property
    def shape(self):
        """The shape, a tuple-like :class:`Size` of ints."""
        return Size(self._data.shape)

    @property
    def dtype(self):
        """The dtype, a NumPy dtype (``convgrad.float32 == np.float32``)."""
        return self._data.dtype

    @property
    def ndim(self):
        """Number of dimensions."""
        return self._data.ndim

    def dim(self):
        """Number of dimensions (``ndim``)."""
        return self._data.ndim

    def size(self, dim=None):
        """The shape as a :class:`Size` (a tuple), or the length of dimension ``dim``."""
        return Size(self._data.shape) if dim is None else self._data.shape[dim]

    def view_as(self, other):
        """``self`` viewed with the shape of ``other``."""
        return self.view(other.shape)

    def reshape_as(self, other):
        """``self`` reshaped to the shape of ``other``."""
        return self.reshape(other.shape)

    def expand_as(self, other):
        """``self`` broadcast to the shape of ``other``."""
        return self.expand(other.shape)

    def element_size(self):
        """Bytes per entry."""
        return self._data.itemsize

    def nelement(self):
        """Number of entries (``numel``)."""
        return self._data.size

    @property
    def itemsize(self):
        """Bytes per entry."""
        return self._data.itemsize

    @property
    def nbytes(self):
        """Total bytes of the entries."""
        return self._data.nbytes

    # --- device: convgrad runs on the CPU ------------------------------------------------------
    @property
    def device(self):
        """The device: always the CPU."""
        return device_mod.CPU

    @property
    def is_cuda(self):
        """False: convgrad runs on the CPU only."""
        return False

    @property
    def is_cpu(self):
        """True: convgrad runs on the CPU."""
        return True

    def get_device(self):
        """-1, PyTorch's number for the CPU."""
        return -1

    def numel(self):
        """Number of entries."""
        return self._data.size

    def __len__(self):
        if self._data.ndim == 0:
            raise ArgumentTypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def numpy(self):
        """The underlying NumPy array (shared, not copied)."""
        return self._data

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def item(self):
        """The value of a one-entry tensor as a Python number."""
        if self._data.size != 1:
            raise ArgumentError(f"item(): only one-element tensors convert to Python scalars, got shape {self.shape}")
        return self._data.reshape(()).item()

    def tolist(self):
        """The values as (nested) Python lists of numbers."""
        return self._data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        return bool(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise ArgumentTypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self):
        body = np.array2string(self._data, separator=", ", precision=4, threshold=200, prefix="tensor(")
        extras = []
        if self._data.dtype != backend.get_default_dtype() and self._data.dtype != np.int64:
            extras.append(f"dtype={self._data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn={self._node!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # --- in-place updates of leaves (initialisation, optimizers, loading weights) ---------------
    def _check_inplace(self, what):
        if is_grad_enabled() and self.requires_grad and self._node is None:
            raise RuntimeError(f"{what}: a leaf tensor that requires grad cannot be changed in place "
                               f"while recording; wrap the update in convgrad.no_grad()")

    def copy_(self, src, non_blocking=False):
        self._check_inplace("copy_")
        src = src._data if isinstance(src, Tensor) else np.asarray(src)
        np.copyto(self._data, np.broadcast_to(src, self._data.shape), casting="unsafe")
        self._version[0] += 1
        return self

    def __setitem__(self, index, value):
        self._check_inplace("__setitem__")
        if isinstance(index, tuple):
            index = tuple(i._data if isinstance(i, Tensor) else np.arange(i.start, i.stop, i.step)
                          if isinstance(i, range) else i for i in index)
        elif isinstance(index, Tensor):
            index = index._data
        self._data[index] = value._data if isinstance(value, Tensor) else value
        self._version[0] += 1

    def _rebase(self, result):
        """Make this tensor hold ``result``'s values and history (the end of an in-place op).

        ``result`` was computed out of place from a stand-in for this tensor's previous value; its
        node becomes this tensor's, the values are copied into this tensor's own storage and the
        version counter goes up, so earlier nodes that kept the old values refuse to backward."""
        try:
            np.copyto(self._data, result._data, casting="same_kind")
        except TypeError:
            raise DTypeError(f"in-place result of dtype {result._data.dtype} cannot be stored in a tensor "
                             f"of dtype {self._data.dtype}") from None
        self._version[0] += 1
        node = result._node
        if node is not None:
            node.versions = tuple((self._version, self._version[0], shape) if counter is result._version
                                  else (counter, value, shape) for counter, value, shape in node.versions)
            self._node = node
            self._requires_grad = True
        return self

    # --- dtype and device conversions (no gradient across integer casts) -------------------------
    def to(self, *args, **kwargs):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other_tensor)`` or keywords
        ``dtype=``, ``device=``, ``non_blocking=``, ``copy=``. The device must be the CPU.

        Raises:
            DeviceError: for a CUDA, MPS or other accelerator device.
        """
        dtype, copy = device_mod.parse_to_args("Tensor.to", args, kwargs, Tensor)
        out = self if dtype is None or np.dtype(dtype) == self._data.dtype else self.type(dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self, memory_format=None):
        """Returns ``self`` (the tensor is already on the CPU)."""
        return self

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        """Raises DeviceError: convgrad runs on the CPU only."""
        device_mod.check_device("cuda" if device is None else device, "Tensor.cuda")  # raises: CPU only
        return self  # pragma: no cover

    def pin_memory(self, device=None):
        """Returns ``self`` (no GPU to pin memory for)."""
        return self

    def is_pinned(self, device=None):
        """False (no pinned memory on a CPU-only library)."""
        return False


class Size(tuple):
    """A tensor's shape: a tuple of ints (``torch.Size``), with ``numel()``."""

    __slots__ = ()

    def numel(self):
        """The number of elements of a tensor of this shape (the product of the sizes)."""
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __repr__(self):
        return f"convgrad.Size({list(self)})"


def _accumulate(grads, key, g):
    prev = grads.get(key)
    grads[key] = g if prev is None else prev + g


_backward_callbacks = []  # run once when the outermost backward pass ends (queue_callback)
_backward_depth = [0]


def queue_callback(fn):
    """Call ``fn()`` once when the running backward pass has finished (PyTorch's
    ``Variable._execution_engine.queue_callback``): data-parallel training waits there for the
    gradient averages it started from post-accumulate-grad hooks. Outside a backward pass the
    callback runs at the end of the next one."""
    _backward_callbacks.append(fn)


def run_backward(root, gradient, retain_graph=False):
    """Reverse-mode sweep from ``root``; then the queued callbacks (:func:`queue_callback`)."""
    _backward_depth[0] += 1
    try:
        _sweep(root, gradient, retain_graph)
        if _backward_depth[0] == 1:
            while _backward_callbacks:
                _backward_callbacks.pop(0)()
    finally:
        _backward_depth[0] -= 1
        if _backward_depth[0] == 0:
            _backward_callbacks.clear()


def _run_hooks(t, g):
    """``g`` after ``t``'s gradient hooks (a hook's non-None return value replaces it)."""
    for hook in t._hooks:
        out = hook(Tensor._wrap(g))
        if out is not None:
            g = np.asarray(out._data if isinstance(out, Tensor) else out, dtype=t._data.dtype)
    return g


def _store_grad(t, g):
    if t.grad is None:
        t.grad = Tensor._wrap(np.array(g, dtype=t._data.dtype, copy=True))
    else:
        t.grad = Tensor._wrap(t.grad._data + g)


def _finish_leaf(t, g):
    """Hooks, ``t.grad`` and then the post-accumulate-grad hooks of a leaf with its whole gradient."""
    if t._hooks:
        g = _run_hooks(t, g)
    _store_grad(t, g)
    for hook in t._post_hooks:
        hook(t)


def _sweep(root, gradient, retain_graph):
    """Iterative depth-first topological sort, then the backward rules in reverse order.

    Leaves with post-accumulate-grad hooks are finished as soon as the last operation using them
    has passed its gradient back (``pending`` counts the graph edges into each), not when the
    sweep reaches them, which in depth-first order is near the very end."""
    order = []
    visited = set()
    pending = {}
    stack = [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        node = t._node
        if node is not None:
            for p in node.inputs:
                if p is not None:
                    if p._post_hooks and p._node is None:
                        pending[id(p)] = pending.get(id(p), 0) + 1
                    if id(p) not in visited:
                        stack.append((p, False))

    grads = {id(root): gradient}
    for t in reversed(order):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        node = t._node
        if node is None and t._post_hooks:
            _finish_leaf(t, g)
            continue
        if t._hooks:
            g = _run_hooks(t, g)
        if node is None or t._retain:
            _store_grad(t, g)
        if node is None:
            continue
        if node.versions:
            node.check_versions()
        if node.ctx is None:
            raise RuntimeError(f"backward through {node.fn.__name__} a second time: its saved state "
                               f"was freed; call backward(retain_graph=True) the first time")
        in_grads = node.fn.backward(node.ctx, g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if _anomaly["on"]:
            for gi in in_grads:
                _check_finite(gi, "backward", node.fn.__name__ + (f" in layer '{node.layer}'" if node.layer else ""))
        for inp, gi in zip(node.inputs, in_grads):
            if inp is None:
                continue
            if gi is not None:
                if gi.shape != inp._data.shape:
                    raise RuntimeError(f"{node.fn.__name__}.backward returned a gradient of shape {gi.shape} "
                                       f"for an input of shape {inp._data.shape}")
                if gi.dtype != inp._data.dtype:
                    gi = gi.astype(inp._data.dtype)
                _accumulate(grads, id(inp), gi)
            if pending and id(inp) in pending:
                pending[id(inp)] -= 1
                if pending[id(inp)] == 0 and id(inp) in grads:
                    _finish_leaf(inp, grads.pop(id(inp)))
        if not retain_graph:
            node.ctx = None
