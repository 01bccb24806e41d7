"""Model summary (a table of layers, shapes, parameters, multiply-adds, memory) and explain (each
layer's arithmetic with the numbers filled in, plus receptive field and effective stride).

Both run the model once, in eval mode and without recording gradients, on a batch of zeros, and
read the layers and the data flow from :mod:`convgrad.inspect.trace`. The model's train/eval
flags are restored afterwards and no running statistics change.

Counting conventions (the same as torchinfo and fvcore, so the headline numbers compare):

- **Parameters**: every parameter of the model once, even if several layers share it (a layer
  that reuses an already counted parameter shows 0). ``total_params`` includes layers that did
  not run for this input (e.g. GoogLeNet's auxiliary heads in eval mode).
- **Multiply-adds** (MACs), per batch of ``batch_size``: convolution
  ``out_elements * (in_channels / groups) * prod(kernel_size)``; transposed convolution
  ``in_elements * (out_channels / groups) * prod(kernel_size)``; linear
  ``out_elements * in_features``. Bias additions, batch norm, pooling, activations, residual
  additions and concatenations are not counted: they are a few percent of the work of a CNN and
  the published figures (GoogLeNet ~1.5 G, ResNet-50 ~4.1 G at 224x224) leave them out too.
- **Activation memory**: the bytes of every leaf layer's output for one forward pass (what a
  training step would keep for backward, roughly); **parameter memory**: the parameters' bytes.
"""
import math
import os

import numpy as np

from .. import backend
from ..tensor import Tensor, no_grad
from ..errors import ArgumentError, ResourceLimitError
from .trace import eval_mode, flatten_tensors, record


# ----------------------------------------------------------------------------------------------
# What kind of layer is this? (read from PyTorch's attribute names, so any layer following them works)
# ----------------------------------------------------------------------------------------------
def _is_conv(m):
    return all(hasattr(m, a) for a in ("in_channels", "out_channels", "kernel_size"))


def _is_transposed(m):
    return bool(getattr(m, "transposed", False)) or "Transpose" in type(m).__name__


def _is_linear(m):
    return hasattr(m, "in_features") and hasattr(m, "out_features")


def _is_window(m):
    """A pooling layer with a kernel (max or average)."""
    return hasattr(m, "kernel_size") and not _is_conv(m)


def _is_adaptive(m):
    return hasattr(m, "output_size") and "Adaptive" in type(m).__name__


def _tup(value, n):
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    return value * n if len(value) == 1 else value


def _spatial(m, n):
    """kernel, stride, padding, dilation, ceil_mode of a conv or pooling layer, per spatial axis."""
    k = _tup(m.kernel_size, n)
    s = _tup(getattr(m, "stride", None) or k, n)
    p = getattr(m, "padding", 0)
    p = (0,) * n if isinstance(p, str) else _tup(p, n)
    d = _tup(getattr(m, "dilation", 1), n)
    return k, s, p, d, bool(getattr(m, "ceil_mode", False))


def _macs(m, in_shape, out_shape):
    if _is_conv(m):
        k = math.prod(_tup(m.kernel_size, max(len(out_shape) - 2, 1)))
        if _is_transposed(m):
            return math.prod(in_shape) * (m.out_channels // m.groups) * k
        return math.prod(out_shape) * (m.in_channels // m.groups) * k
    if _is_linear(m):
        return math.prod(out_shape) * m.in_features
    return 0


# ----------------------------------------------------------------------------------------------
# Summary
# ----------------------------------------------------------------------------------------------
class LayerRow:
    """One executed layer: ``name``, ``type``, ``input_shape``, ``output_shape``, ``params`` (not
    counted before), ``trainable``, ``macs``, ``activation_bytes``."""

    __slots__ = ("name", "type", "input_shape", "output_shape", "params", "trainable", "macs",
                 "activation_bytes", "module")

    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__slots__ if k != "module"}

    def __repr__(self):
        return f"LayerRow({self.name!r}, {self.type}, {self.output_shape}, params={self.params}, macs={self.macs})"


class Summary:
    """The result of :func:`summary`. ``str(summary)`` is the table; the numbers are attributes:
    ``layers`` (a list of :class:`LayerRow`), ``total_params``, ``trainable_params``,
    ``total_macs``, ``activation_bytes``, ``param_bytes``, ``input_shape``, ``output_shapes``."""

    def __init__(self, model_name, input_shape, layers, total_params, trainable_params, param_bytes,
                 output_shapes):
        self.model_name = model_name
        self.input_shape = input_shape
        self.layers = layers
        self.total_params = total_params
        self.trainable_params = trainable_params
        self.non_trainable_params = total_params - trainable_params
        self.total_macs = sum(r.macs for r in layers)
        self.activation_bytes = sum(r.activation_bytes for r in layers)
        self.param_bytes = param_bytes
        self.output_shapes = output_shapes

    def as_dict(self):
        """The summary as a JSON-able dict (the totals and one dict per layer)."""
        keys = ("model_name", "input_shape", "output_shapes", "total_params", "trainable_params",
                "non_trainable_params", "total_macs", "activation_bytes", "param_bytes")
        out = {k: getattr(self, k) for k in keys}
        out["layers"] = [r.as_dict() for r in self.layers]
        return out

    def __str__(self):
        head = ("Layer", "Type", "Output shape", "Params", "Mult-adds", "Act. mem")
        rows = [(r.name, r.type, _shape(r.output_shape), f"{r.params:,}", f"{r.macs:,}",
                 _bytes(r.activation_bytes)) for r in self.layers]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
        align = ["<", "<", "<", ">", ">", ">"]
        fmt = "  ".join(f"{{:{a}{w}}}" for a, w in zip(align, widths))
        line = "-" * len(fmt.format(*head))
        ran = sum(r.params for r in self.layers)
        lines = [f"{self.model_name}  input {_shape(self.input_shape)}", line, fmt.format(*head), line]
        lines += [fmt.format(*r) for r in rows]
        lines += [line,
                  f"Total params:          {self.total_params:,}",
                  f"Trainable params:      {self.trainable_params:,}",
                  f"Non-trainable params:  {self.non_trainable_params:,}"]
        if ran != self.total_params:
            lines.append(f"  (params in layers that did not run for this input: {self.total_params - ran:,})")
        lines += [f"Total mult-adds:       {self.total_macs:,} ({_si(self.total_macs)})",
                  f"Activation memory:     {_bytes(self.activation_bytes)}",
                  f"Parameter memory:      {_bytes(self.param_bytes)}",
                  "(mult-adds count convolutions and linear layers, per batch; 1 MB = 10^6 bytes)",
                  line]
        return "\n".join(lines)

    __repr__ = __str__


def _shape(shape):
    if shape and isinstance(shape[0], tuple):
        return ", ".join(_shape(s) for s in shape)
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _bytes(nbytes):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if nbytes >= scale:
            return f"{nbytes / scale:,.2f} {unit}"
    return f"{nbytes} B"


def _si(n):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return str(n)


def _input(input_size, batch_size, dtype):
    try:
        size = tuple(int(s) for s in input_size)
    except TypeError:
        raise ArgumentError(f"summary: input_size must be a tuple of ints such as (3, 224, 224), "
                            f"got {input_size!r}") from None
    if not size or any(s <= 0 for s in size) or int(batch_size) <= 0:
        raise ArgumentError(f"summary: input_size and batch_size must be positive, got "
                            f"input_size={size}, batch_size={batch_size}")
    shape = (int(batch_size),) + size
    _check_fits_in_memory(shape, np.dtype(dtype))
    return Tensor(np.zeros(shape, dtype=np.dtype(dtype)))


def _physical_memory():
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on every platform
        return None


def _check_fits_in_memory(shape, dtype):
    """Refuse, before allocating, an input that alone would take more than half the machine's memory."""
    need = math.prod(shape) * dtype.itemsize
    total = _physical_memory()
    if total is not None and need > total // 2:
        raise ResourceLimitError(f"summary: an input of shape {shape} ({dtype}) needs {_bytes(need)}, more than half "
                                 f"of this machine's {_bytes(total)} of memory; give a smaller --input-size or "
                                 "--batch-size")


def _trace(model, input_size, batch_size, dtype, fast):
    x = _input(input_size, batch_size, dtype)
    try:
        with no_grad(), eval_mode(model), record(model, shape_only=fast) as events:
            out = model(x)
    except MemoryError as exc:
        if isinstance(exc, ResourceLimitError):
            raise
        raise ResourceLimitError(f"summary: out of memory running {type(model).__name__} on an input of shape "
                                 f"{tuple(x.shape)}; give a smaller --input-size or --batch-size") from None
    return x, out, events


def _out_shape(output):
    shapes = [tuple(t.shape) for t in flatten_tensors(output)]
    return shapes[0] if len(shapes) == 1 else tuple(shapes)


def summary(model, input_size, batch_size=1, dtype=None, fast=True):
    """Run ``model`` once on zeros of shape ``(batch_size, *input_size)`` and tabulate its layers.

    Args:
        model: a :class:`convgrad.nn.Module`.
        input_size: the shape of one sample, e.g. ``(3, 224, 224)``.
        batch_size: the batch dimension used for shapes, multiply-adds and memory.
        dtype: dtype of the input (default: the dtype of the model's first parameter, or float32).
        fast: take the convolutions' output shapes from their shape rules instead of computing
            them (the table is the same, VGG-16 at 224x224 takes a second instead of many);
            ``False`` runs the convolutions too.

    Returns:
        :class:`Summary`; ``print(summary(model, (3, 224, 224)))`` shows the table.

    Raises:
        ArgumentError: a non-positive size. Layer errors (a wrong channel count) propagate.

    Example::

        >>> s = convgrad.summary(convgrad.models.resnet50(), (3, 224, 224))
        >>> s.total_params, round(s.total_macs / 1e9, 2)
        (25557032, 4.09)
    """
    params = list(model.parameters())
    if dtype is None:
        dtype = params[0].dtype if params else backend.get_default_dtype()
    x, out, events = _trace(model, input_size, batch_size, dtype, fast)
    seen, rows = set(), []
    for ev in events:
        if ev.kind != "module":
            continue
        m = ev.target
        own = [p for p in m._parameters.values() if p is not None and id(p) not in seen]
        seen.update(id(p) for p in own)
        in_shape = tuple(ev.inputs[0].shape) if ev.inputs else ()
        outs = ev.outputs
        first_out = tuple(outs[0].shape) if outs else ()
        rows.append(LayerRow(name=ev.name, type=type(m).__name__, input_shape=in_shape,
                             output_shape=_out_shape(ev.output), params=sum(p._data.size for p in own),
                             trainable=sum(p._data.size for p in own if p.requires_grad),
                             macs=_macs(m, in_shape, first_out) if outs else 0,
                             activation_bytes=sum(t._data.nbytes for t in outs), module=m))
    total = sum(p._data.size for p in params)
    trainable = sum(p._data.size for p in params if p.requires_grad)
    return Summary(type(model).__name__, tuple(x.shape), rows, total, trainable,
                   sum(p._data.nbytes for p in params), _out_shape(out))


# ----------------------------------------------------------------------------------------------
# Which model, which input size (for the command line)
# ----------------------------------------------------------------------------------------------
CHECKPOINT_SUFFIXES = (".npz", ".safetensors")


def load_model(spec, **kwargs):
    """A zoo model by name (``"resnet50"``, built with the keyword options ``kwargs``, e.g.
    ``variant="classic"``) or a convgrad checkpoint by path; returns ``(model, input_size)`` where
    ``input_size`` is the checkpoint's recorded preprocessing ``input_size`` or None.

    Raises:
        ArgumentError: an unknown model name (the message lists the known ones).
        CheckpointError: a checkpoint that is missing, malformed or does not fit its model.
    """

    from .. import models
    from ..io import load_checkpoint

    spec = str(spec)
    if os.path.isfile(spec) or spec.endswith(CHECKPOINT_SUFFIXES) or os.sep in spec:
        if kwargs:
            raise ArgumentError(f"summary: {', '.join(sorted(kwargs))} applies to zoo model names, not to the "
                                f"checkpoint '{spec}' (which records its own)")
        ckpt = load_checkpoint(spec)
        size = (ckpt.preprocessing or {}).get("input_size")
        return ckpt.build_model(), (tuple(int(v) for v in size) if size else None)
    try:
        return models.get_model(spec, **kwargs), None
    except TypeError as exc:  # an option this architecture does not take
        raise ArgumentError(f"summary: model {spec!r} does not take {', '.join(sorted(kwargs))} ({exc})") from None


def default_input_size(model):
    """A ``(C, H, W)`` the model accepts: the zoo model's own ``natural_input_size()`` (224x224
    for the ImageNet architectures, 28x28 for LeNet-5 ...) where it has one; else the channel
    count of its first convolution and the first of 224, 32, 28 (28, 32, 224 for a model whose
    first convolution has stride 1, a small-image network) that a shape-only pass runs through."""
    natural = getattr(model, "natural_input_size", None)
    if callable(natural) and natural() is not None:
        return tuple(natural())
    first = next((m for m in model.modules() if _is_conv(m)), None)
    channels = first.in_channels if first is not None else 3
    stride = _tup(getattr(first, "stride", 1), 1)[0] if first is not None else 1
    sides = (28, 32, 224) if stride == 1 and channels == 1 else (32, 28, 224) if stride == 1 else (224, 32, 28)
    error = None
    for side in sides:
        try:
            _trace(model, (channels, side, side), 1, np.float32 if first is None else first.weight.dtype, True)
            return (channels, side, side)
        except ValueError as exc:  # ShapeError / ArgumentError of a layer: try the next size
            error = exc
    raise ArgumentError(f"could not find an input size for {type(model).__name__} (tried {sides}); "
                        f"give one with --input-size: {error}")


# ----------------------------------------------------------------------------------------------
# Explain
# ----------------------------------------------------------------------------------------------
def _axis_size_formula(n_in, k, s, p, d, ceil_mode, transposed=False, output_padding=0):
    """The output-size formula of one axis with the numbers filled in, and its value."""
    if transposed:
        kd = f"{d}*({k} - 1)" if d != 1 else f"({k} - 1)"
        op = f" + {output_padding}" if output_padding else ""
        value = (n_in - 1) * s - 2 * p + d * (k - 1) + output_padding + 1
        return f"({n_in} - 1)*{s} - 2*{p} + {kd}{op} + 1 = {value}", value
    span = f"{d}*({k} - 1) - 1" if d != 1 else f"{k}"
    inner = f"{n_in} + 2*{p} - {span}"
    top = n_in + 2 * p - (d * (k - 1) + 1)
    if s == 1:
        return f"({inner}) + 1 = {top + 1}", top + 1
    rnd = "ceil" if ceil_mode else "floor"
    value = (-(-top // s) if ceil_mode else top // s) + 1
    return f"{rnd}(({inner}) / {s}) + 1 = {value}", value


def output_size_formula(size, kernel, stride=1, padding=0, dilation=1, ceil_mode=False):
    """The output size of one axis of a convolution or pooling window, with its formula filled in
    as :func:`explain` prints it.

    Args:
        size, kernel, stride, padding, dilation: the axis's input size and the layer's settings.
        ceil_mode: round up instead of down (pooling).

    Returns:
        ``(text, value)``, e.g. ``("floor((28 + 2*2 - 5) / 2) + 1 = 14", 14)``. The value is the
        formula's; PyTorch's pooling with ``ceil_mode`` drops a last window that would start in
        the right padding, which the formula does not (``explain`` notes the difference).

    Example::

        >>> output_size_formula(28, 5, padding=2)
        ('(28 + 2*2 - 5) + 1 = 28', 28)
    """
    return _axis_size_formula(size, kernel, stride, padding, dilation, bool(ceil_mode))


def _join(parts):
    return "*".join(str(v) for v in parts)


def _conv_lines(m, in_shape, out_shape):
    n = len(out_shape) - 2
    k, s, p, d, _ = _spatial(m, n)
    transposed = _is_transposed(m)
    opad = _tup(getattr(m, "output_padding", 0), n)
    lines = []
    for ax, label in zip(range(n), "HWD" if n > 1 else "L"):
        text, value = _axis_size_formula(in_shape[2 + ax], k[ax], s[ax], p[ax], d[ax], False, transposed, opad[ax])
        lines.append((label, text, value, out_shape[2 + ax]))
    cin_g = f"{m.in_channels}/{m.groups}" if m.groups != 1 else str(m.in_channels)
    per_out = m.in_channels // m.groups
    bias = getattr(m, "bias", None) is not None
    if transposed:
        weights = math.prod(k) * m.in_channels * (m.out_channels // m.groups)
        count = f"{_join(k)}*{m.in_channels}*{m.out_channels // m.groups}"
        params = f"params {count}{' + ' + str(m.out_channels) if bias else ''} = " \
                 f"{weights + (m.out_channels if bias else 0):,}"
    else:
        expr = f"({_join(k)}*{cin_g} + 1) * {m.out_channels}" if bias else f"{_join(k)}*{cin_g} * {m.out_channels}"
        params = f"params {expr} = {(math.prod(k) * per_out + bias) * m.out_channels:,}"
    macs = _macs(m, in_shape, out_shape)
    if transposed:
        mac = f"mult-adds ({_join(in_shape)}) * ({m.out_channels // m.groups}*{_join(k)}) = {macs:,}"
    else:
        mac = f"mult-adds ({_join(out_shape)}) * ({_join(k)}*{per_out}) = {macs:,}"
    return lines, [params, mac]


def _pool_lines(m, in_shape, out_shape):
    n = len(out_shape) - 2
    k, s, p, d, ceil_mode = _spatial(m, n)
    lines = []
    for ax, label in zip(range(n), "HWD" if n > 1 else "L"):
        text, value = _axis_size_formula(in_shape[2 + ax], k[ax], s[ax], p[ax], d[ax], ceil_mode)
        lines.append((label, text, value, out_shape[2 + ax]))
    return lines, []


def _size_text(name, lines):
    """One line when every axis has the same arithmetic, else one per axis."""
    out = []
    texts = {t for _, t, _, _ in lines}
    for label, text, value, actual in (lines[:1] if len(texts) == 1 else lines):
        prefix = f"{name}: " if len(texts) == 1 else f"{name} {label}: "
        note = "" if value == actual else f"  (PyTorch's rule gives {actual}: the last window may not start in the padding)"
        out.append(prefix + text + note)
    return out


class _Field:
    """Receptive field and jump (effective stride) of a tensor, per spatial axis."""

    __slots__ = ("r", "j")

    def __init__(self, r, j):
        self.r, self.j = tuple(r), tuple(j)

    @staticmethod
    def merge(fields):
        fields = [f for f in fields if f is not None]
        if not fields or len({len(f.r) for f in fields}) != 1:
            return None
        return _Field([max(v) for v in zip(*(f.r for f in fields))], [max(v) for v in zip(*(f.j for f in fields))])

    def through(self, k, s, d):
        """After a window of kernel k, stride s, dilation d: r' = r + (d(k-1)+1 - 1) * j, j' = j * s."""
        keff = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
        r = [ri + (ke - 1) * ji for ri, ke, ji in zip(self.r, keff, self.j)]
        j = [ji * si for ji, si in zip(self.j, s)]
        text = [f"{ri} + ({ke} - 1)*{ji} = {rn}" for ri, ke, ji, rn in zip(self.r, keff, self.j, r)]
        jtext = [f"{ji}*{si} = {jn}" for ji, si, jn in zip(self.j, s, j)]
        if len(set(text)) == 1 and len(set(jtext)) == 1:
            line = f"receptive field {text[0]}, jump {jtext[0]}"
        else:
            line = "receptive field " + ", ".join(text) + "; jump " + ", ".join(jtext)
        return _Field(r, j), line


def _window_of(m, in_shape, out_shape):
    """(kernel, stride, dilation) of a spatial layer, or None; adaptive pooling gets the kernel
    and stride it effectively uses (the whole input when the output is 1x1)."""
    n = len(in_shape) - 2
    if n < 1 or len(out_shape) != len(in_shape):
        return None
    if _is_conv(m) and _is_transposed(m):
        return None
    if _is_conv(m) or _is_window(m):
        k, s, _, d, _ = _spatial(m, n)
        return k, s, d
    if _is_adaptive(m):
        ins, outs = in_shape[2:], out_shape[2:]
        k = [-(-i // o) if o > 1 else i for i, o in zip(ins, outs)]
        s = [max(i // o, 1) for i, o in zip(ins, outs)]
        return k, s, (1,) * n
    return None


def explain(model, input_size, batch_size=1, dtype=None, fast=True):
    """Each layer's arithmetic with the numbers filled in, as text.

    For every layer that runs: its output size from the formula
    ``floor((H + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1`` (``ceil`` with
    ``ceil_mode``), its parameter count (``(k*k*in/groups + 1) * out`` for a convolution with
    bias), its multiply-adds, and the receptive field ``r`` and jump ``j`` (the distance in input
    pixels between neighbouring outputs, i.e. the effective stride) accumulated from the input:
    ``r' = r + (k_eff - 1) * j``, ``j' = j * stride`` with ``k_eff = dilation*(k - 1) + 1``.
    Where branches meet (a residual ``+``, an Inception ``cat``) the larger field is kept.
    Concatenations, additions and flattening between layers are shown too.

    Returns:
        str

    Example::

        >>> print(convgrad.explain(convgrad.models.zfnet(), (3, 224, 224)))  # doctest: +SKIP
        features.0 (Conv2d): (1, 3, 224, 224) -> (1, 96, 110, 110)
          features.0: floor((224 + 2*1 - 7) / 2) + 1 = 110
          params (7*7*3 + 1) * 96 = 14,208
          ...
    """
    params = list(model.parameters())
    if dtype is None:
        dtype = params[0].dtype if params else backend.get_default_dtype()
    x, out, events = _trace(model, input_size, batch_size, dtype, fast)
    fields = {id(x): _Field((1,) * (x.ndim - 2), (1,) * (x.ndim - 2))} if x.ndim > 2 else {}
    text = [f"{type(model).__name__}: input {_shape(tuple(x.shape))}"]
    seen = set()
    for ev in events:
        ins = ev.inputs
        field = _Field.merge([fields.get(id(t)) for t in ins])
        outs = ev.outputs
        if not outs:
            continue
        in_shape = tuple(ins[0].shape) if ins else ()
        out_shape = tuple(outs[0].shape)
        if ev.kind == "function":
            line = _function_line(ev, ins, out_shape)
            window = _function_window(ev)
            if field is not None and window is not None:
                fields[id(outs[0])], rf_line = field.through(*window)
                line = f"{ev.type_name}{' in ' + ev.name if ev.name else ''}: {_shape(in_shape)} -> " \
                       f"{_shape(out_shape)}, {rf_line}"
            elif field is not None and len(out_shape) == len(in_shape) and out_shape[2:] == in_shape[2:]:
                fields[id(outs[0])] = field
            if line:
                text.append(line)
            continue
        m = ev.target
        text.append(f"{ev.name} ({type(m).__name__}): {_shape(in_shape)} -> {_shape(out_shape)}")
        body = []
        if _is_conv(m) and len(out_shape) >= 3:
            sizes, extra = _conv_lines(m, in_shape, out_shape)
            body += _size_text(ev.name, sizes) + extra
        elif _is_window(m) and len(out_shape) >= 3:
            sizes, extra = _pool_lines(m, in_shape, out_shape)
            body += _size_text(ev.name, sizes) + extra
        elif _is_linear(m):
            bias = getattr(m, "bias", None) is not None
            expr = f"({m.in_features} + 1) * {m.out_features}" if bias else f"{m.in_features} * {m.out_features}"
            body.append(f"params {expr} = {(m.in_features + bias) * m.out_features:,}")
            rows = math.prod(out_shape[:-1])
            body.append(f"mult-adds {rows} * {m.in_features} * {m.out_features} = {_macs(m, in_shape, out_shape):,}")
        else:
            own = [p for p in m._parameters.values() if p is not None and id(p) not in seen]
            if own:
                body.append("params " + " + ".join(f"{p._data.size:,}" for p in own)
                            + f" = {sum(p._data.size for p in own):,}")
        seen.update(id(p) for p in m._parameters.values() if p is not None)
        window = _window_of(m, in_shape, out_shape) if field is not None else None
        if window is not None:
            new, line = field.through(*window)
            fields[id(outs[0])] = new
            body.append(line)
        elif field is not None and len(out_shape) == len(in_shape) and out_shape[2:] == in_shape[2:]:
            fields[id(outs[0])] = field  # shape-preserving layers (BN, ReLU, LRN, dropout)
        text += ["  " + b for b in body]
    return "\n".join(text)


def _function_window(ev):
    """(kernel, stride, dilation) of a convolution or pooling op called directly (not through a
    layer), read from its arguments; None for other ops."""
    name, a, kw = ev.type_name, ev.args, ev.kwargs
    if name == "ConvNd":
        return tuple(a[1].shape[2:]), tuple(kw["stride"]), tuple(kw.get("dilation", (1,) * len(kw["stride"])))
    if name == "ExtremePoolNd":
        return tuple(a[1]), tuple(a[2]), tuple(a[4])
    if name == "AvgPoolNd":
        return tuple(a[1]), tuple(a[2]), (1,) * len(a[1])
    return None


def _function_line(ev, ins, out_shape):
    """A line for the ops between layers that change how data flows: cat, add, flatten."""
    name = ev.type_name
    where = f" in {ev.name}" if ev.name else ""
    if name == "Cat" and len(ins) > 1:
        dim = ev.args[0]
        parts = " + ".join(str(t.shape[dim]) for t in ins)
        return f"cat{where} along dim {dim}: {parts} = {out_shape[dim]} -> {_shape(out_shape)}"
    if name == "Add" and len(ins) == 2 and ins[0].shape == ins[1].shape:
        return f"add{where}: {_shape(tuple(ins[0].shape))} + {_shape(tuple(ins[1].shape))}"
    if name == "Reshape" and ins and len(out_shape) < ins[0].ndim:
        merged = tuple(ins[0].shape[len(out_shape) - 1:])
        return f"flatten{where}: {_join(merged)} = {math.prod(merged):,} -> {_shape(out_shape)}"
    return ""
