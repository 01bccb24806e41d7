"""Export a model to ONNX by tracing one forward pass at the level of ops.

``export(model, example_input, path)`` runs ``model`` once in eval mode on ``example_input`` while
:func:`convgrad.inspect.trace.record` notes every :class:`~convgrad.tensor.Function` applied and
which tensors flow into it. Each recorded op becomes one or a few ONNX nodes (``ConvNd`` ->
``Conv``, ``BatchNorm`` -> ``BatchNormalization``, ``Add`` -> ``Add``, ``Cat`` -> ``Concat`` ...),
so branches (Inception), residual additions and anything written in a model's ``forward`` export
without a per-model rule. Parameters become initializers named by their ``state_dict`` keys;
other constant tensors become initializers named ``const_<n>``.

The graph is built with the ``onnx`` package's helper API and checked with ``onnx.checker``. The
``onnx`` package is imported only when exporting, so convgrad works without it
(``pip install convgrad[onnx]``).
"""
import json
import math

import numpy as np

from ..errors import ConvgradError
from ..inspect.trace import eval_mode, flatten_tensors, record
from ..tensor import Tensor, no_grad


class ExportError(ConvgradError, ValueError):
    """The model uses something the ONNX exporter cannot express (the message names the op and
    the layer that called it)."""


def _import_onnx():
    try:
        import onnx
        from onnx import helper
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("convgrad.onnx.export needs the 'onnx' package: pip install onnx "
                          "(or pip install convgrad[onnx])") from None
    return onnx, helper


class _Graph:
    """Names for tensors, initializers and nodes while the ONNX graph is assembled."""

    def __init__(self, onnx_mod, helper, model, opset, dynamic_batch):
        self.onnx, self.helper = onnx_mod, helper
        self.opset = opset
        self.dynamic_batch = dynamic_batch
        self.names = {}          # id(Tensor) -> ONNX value name
        self.arrays = {}         # id(np.ndarray) of parameters/buffers -> state_dict name
        self.keep = []           # references that keep ids valid
        self.nodes, self.initializers = [], []
        self.init_names = set()
        self.counter = 0
        self.param_names = {id(p): n for n, p in model.named_parameters()}
        for n, b in model.named_buffers():
            self.param_names[id(b)] = n
            self.arrays[id(b._data)] = n
        for n, p in model.named_parameters():
            self.arrays[id(p._data)] = n
        self.batch = None
        self.event_index = None
        self.free = []           # (event index, tensor) of constants that are not parameters/buffers

    def fresh(self, base):
        self.counter += 1
        return f"{base}_{self.counter}"

    def initializer(self, array, name=None):
        array = np.ascontiguousarray(array)
        if name is None:
            name = self.fresh("const")
        if name not in self.init_names:
            self.init_names.add(name)
            self.initializers.append((name, array))
        return name

    def const(self, values, dtype=np.int64):
        return self.initializer(np.asarray(values, dtype=dtype))

    def value(self, x, like=None):
        """The ONNX name of a tensor, an array or a Python number (numbers take ``like``'s dtype)."""
        if isinstance(x, Tensor):
            if id(x) in self.names:
                return self.names[id(x)]
            name = self.param_names.get(id(x)) or self.arrays.get(id(x._data))
            if name is None:  # made outside convgrad's ops: checked against a second trace
                self.free.append((self.event_index, x))
            self.keep.append(x)
            self.names[id(x)] = self.initializer(x._data, name)
            return self.names[id(x)]
        if isinstance(x, np.ndarray):
            name = self.arrays.get(id(x))
            return self.initializer(x, name)
        dtype = like.dtype if like is not None else np.float32
        return self.initializer(np.asarray(x, dtype=dtype))

    def node(self, op_type, inputs, where, n_out=1, **attrs):
        outs = [self.fresh(f"{where or 'model'}.{op_type}") for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, name=outs[0], **attrs))
        return outs[0] if n_out == 1 else outs

    def bind(self, tensor, name):
        self.keep.append(tensor)
        self.names[id(tensor)] = name

    def target_shape(self, in_shape, out_shape):
        """A Reshape/Expand target that keeps the batch dimension symbolic when exporting with a
        dynamic batch: 0 copies the input's first dimension, -1 infers it."""
        out_shape = list(out_shape)
        if self.dynamic_batch and out_shape and in_shape:
            if out_shape[0] == in_shape[0]:
                out_shape[0] = 0
            elif out_shape[0] % self.batch == 0:
                out_shape[0] = -1
        return out_shape


# ----------------------------------------------------------------------------------------------
# One handler per Function: (graph, event) -> ONNX name of the output
# ----------------------------------------------------------------------------------------------
def _conv(g, ev):
    a, kw = ev.args, ev.kwargs
    weight, bias = a[1], a[2] if len(a) > 2 else kw.get("bias")
    n = len(kw["stride"])
    inputs = [g.value(a[0]), g.value(weight)] + ([g.value(bias)] if bias is not None else [])
    return g.node("Conv", inputs, ev.name, kernel_shape=list(weight.shape[2:]), strides=list(kw["stride"]),
                  pads=list(kw["pad_lo"]) + list(kw["pad_hi"]), dilations=list(kw.get("dilation", (1,) * n)),
                  group=int(kw.get("groups", 1)))


def _conv_transpose(g, ev):
    a, kw = ev.args, ev.kwargs
    weight, bias = a[1], a[2] if len(a) > 2 else kw.get("bias")
    inputs = [g.value(a[0]), g.value(weight)] + ([g.value(bias)] if bias is not None else [])
    return g.node("ConvTranspose", inputs, ev.name, kernel_shape=list(weight.shape[2:]),
                  strides=list(kw["stride"]), pads=list(kw["padding"]) * 2, dilations=list(kw["dilation"]),
                  output_padding=list(kw["output_padding"]), group=int(kw["groups"]))


def _linear(g, ev):
    inp, weight = ev.args[0], ev.args[1]
    bias = ev.args[2] if len(ev.args) > 2 else None
    if inp.ndim == 2:
        inputs = [g.value(inp), g.value(weight)] + ([g.value(bias)] if bias is not None else [])
        return g.node("Gemm", inputs, ev.name, transB=1)
    wt = g.node("Transpose", [g.value(weight)], ev.name, perm=[1, 0])
    out = g.node("MatMul", [g.value(inp), wt], ev.name)
    return g.node("Add", [out, g.value(bias)], ev.name) if bias is not None else out


def _batch_norm(g, ev):
    kw = ev.kwargs
    if kw.get("training") or kw.get("running_mean") is None:
        raise ExportError(f"BatchNorm in '{ev.name}' normalises with batch statistics (training mode or "
                          "track_running_stats=False); ONNX export needs running statistics")
    inp, weight, bias = ev.args[0], ev.args[1], ev.args[2]
    c = inp.shape[1]
    dtype = inp.dtype
    scale = g.value(weight) if weight is not None else g.value(np.ones(c, dtype))
    shift = g.value(bias) if bias is not None else g.value(np.zeros(c, dtype))
    mean, var = g.value(kw["running_mean"]), g.value(kw["running_var"])
    return g.node("BatchNormalization", [g.value(inp), scale, shift, mean, var], ev.name,
                  epsilon=float(kw.get("eps", 1e-5)))


def _layer_norm(g, ev):
    inp, weight, bias = ev.args[0], ev.args[1], ev.args[2]
    size, axis = ev.kwargs["normalized_size"], inp.ndim
    while axis > 0 and math.prod(inp.shape[axis:]) < size:
        axis -= 1
    norm_shape = inp.shape[axis:]
    dtype = inp.dtype
    scale = g.value(weight) if weight is not None else g.value(np.ones(norm_shape, dtype))
    inputs = [g.value(inp), scale] + ([g.value(bias)] if bias is not None else [])
    if weight is not None and weight.shape != norm_shape:
        inputs[1] = g.node("Reshape", [scale, g.const(list(norm_shape))], ev.name)
        if bias is not None:
            inputs[2] = g.node("Reshape", [inputs[2], g.const(list(norm_shape))], ev.name)
    return g.node("LayerNormalization", inputs, ev.name, axis=axis, epsilon=float(ev.kwargs.get("eps", 1e-5)))


def _lrn(g, ev):
    kw = ev.kwargs
    size = int(kw.get("size", 5))
    if size % 2 == 0:
        raise ExportError(f"LocalResponseNorm in '{ev.name}': ONNX centres an even window ({size}) on the "
                          "other side than PyTorch; only odd sizes export exactly")
    return g.node("LRN", [g.value(ev.args[0])], ev.name, size=size, alpha=float(kw.get("alpha", 1e-4)),
                  beta=float(kw.get("beta", 0.75)), bias=float(kw.get("k", 1.0)))


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad(g, ev):
    kw = ev.kwargs
    inp = ev.args[0]
    mode = kw.get("mode", "constant")
    if mode == "circular" and g.opset < 19:
        raise ExportError(f"pad in '{ev.name}': circular padding needs opset_version >= 19")
    lo, hi = [0] * inp.ndim, [0] * inp.ndim
    for axis, a, b in kw["pads"]:
        lo[axis], hi[axis] = a, b
    inputs = [g.value(inp), g.const(lo + hi)]
    if mode == "constant":
        inputs.append(g.value(float(kw.get("value", 0.0)), like=inp))
    return g.node("Pad", inputs, ev.name, mode=_PAD_MODES[mode])


def _pool_attrs(inp, out, kernel, stride, padding, dilation):
    """Pads for an ONNX pool: PyTorch's output size (incl. its ceil_mode rule that the last window
    must start inside the input) is reproduced with explicit end padding and ceil_mode=0."""
    n = len(kernel)
    pads_end = []
    for ax in range(n):
        keff = dilation[ax] * (kernel[ax] - 1) + 1
        need = (out.shape[2 + ax] - 1) * stride[ax] + keff - inp.shape[2 + ax] - padding[ax]
        pads_end.append(max(padding[ax], need))
    extra = any(e != p for e, p in zip(pads_end, padding))
    return dict(kernel_shape=list(kernel), strides=list(stride), pads=list(padding) + pads_end), extra


def _max_pool(g, ev):
    """ExtremePoolNd(x, kernel, stride, padding, dilation, ceil_mode=, take_max=, return_indices=)."""
    inp, out = ev.args[0], ev.outputs[0]
    kernel, stride, padding, dilation = (tuple(int(v) for v in a) for a in ev.args[1:5])
    if ev.kwargs.get("return_indices"):
        raise ExportError(f"max_pool in '{ev.name}': return_indices does not export (ONNX indices differ)")
    attrs, _ = _pool_attrs(inp, out, kernel, stride, padding, dilation)
    if ev.kwargs.get("take_max", True):
        return g.node("MaxPool", [g.value(inp)], ev.name, dilations=list(dilation), **attrs)
    neg = g.node("Neg", [g.value(inp)], ev.name)  # min pooling = -maxpool(-x)
    return g.node("Neg", [g.node("MaxPool", [neg], ev.name, dilations=list(dilation), **attrs)], ev.name)


def _avg_pool(g, ev):
    """AvgPoolNd(x, kernel, stride, padding, ceil_mode=, count_include_pad=, divisor_override=)."""
    kw = ev.kwargs
    inp, out = ev.args[0], ev.outputs[0]
    if kw.get("divisor_override"):
        raise ExportError(f"avg_pool in '{ev.name}': divisor_override has no ONNX equivalent")
    kernel, stride, padding = (tuple(int(v) for v in a) for a in ev.args[1:4])
    attrs, extra = _pool_attrs(inp, out, kernel, stride, padding, (1,) * len(kernel))
    include = bool(kw.get("count_include_pad", True)) and any(padding)
    if extra and include:
        # PyTorch counts the padding but not the overhang of a ceil_mode window; ONNX cannot
        raise ExportError(f"avg_pool in '{ev.name}': ceil_mode with count_include_pad and padding has no "
                          "exact ONNX equivalent")
    return g.node("AveragePool", [g.value(inp)], ev.name, count_include_pad=int(include), **attrs)


def _averaging_matrix(n_in, n_out, dtype):
    """(n_out, n_in): row i averages PyTorch's adaptive window [floor(i n/o), ceil((i+1) n/o))."""
    m = np.zeros((n_out, n_in), dtype)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def _adaptive_pool(g, ev, op):
    inp, out = ev.args[0], ev.outputs[0]
    ins, outs = inp.shape[2:], out.shape[2:]
    if all(o == 1 for o in outs):
        return g.node("Global" + op, [g.value(inp)], ev.name)
    if not any(i % o for i, o in zip(ins, outs)):
        k = [i // o for i, o in zip(ins, outs)]
        if all(v == 1 for v in k):
            return g.node("Identity", [g.value(inp)], ev.name)
        return g.node(op, [g.value(inp)], ev.name, kernel_shape=k, strides=k)
    if len(ins) != 2:
        raise ExportError(f"adaptive pooling in '{ev.name}': {len(ins)}-d input size {tuple(ins)} is not a "
                          f"multiple of the output size {tuple(outs)}; only 2-d exports that case")
    if op == "MaxPool":
        return _adaptive_max_windows(g, ev, inp, ins, outs)
    # adaptive average pooling is linear and separable: Y = A_h @ X @ A_w^T (MatMul broadcasts over N, C)
    a_h, a_w = (_averaging_matrix(i, o, inp.dtype) for i, o in zip(ins, outs))
    rows = g.node("MatMul", [g.value(inp), g.value(np.ascontiguousarray(a_w.T))], ev.name)
    return g.node("MatMul", [g.value(a_h), rows], ev.name)


def _adaptive_max_windows(g, ev, inp, ins, outs):
    """Adaptive max pooling with uneven windows: one Slice + ReduceMax per output cell, concatenated."""
    name = g.value(inp)
    rows = []
    for i in range(outs[0]):
        h0, h1 = (i * ins[0]) // outs[0], -(-((i + 1) * ins[0]) // outs[0])
        cells = []
        for j in range(outs[1]):
            w0, w1 = (j * ins[1]) // outs[1], -(-((j + 1) * ins[1]) // outs[1])
            window = g.node("Slice", [name, g.const([h0, w0]), g.const([h1, w1]), g.const([2, 3])], ev.name)
            if g.opset < 18:
                cells.append(g.node("ReduceMax", [window], ev.name, axes=[2, 3], keepdims=1))
            else:
                cells.append(g.node("ReduceMax", [window, g.const([2, 3])], ev.name, keepdims=1))
        rows.append(g.node("Concat", cells, ev.name, axis=3))
    return g.node("Concat", rows, ev.name, axis=2)


def _unary(op_type, **attrs):
    return lambda g, ev: g.node(op_type, [g.value(ev.args[0])], ev.name, **attrs)


def _binary(op_type):
    def handler(g, ev):
        a, b = ev.args[0], ev.args[1]
        like = a if isinstance(a, Tensor) else b
        return g.node(op_type, [g.value(a, like), g.value(b, like)], ev.name)
    return handler


def _softmax(op_type):
    return lambda g, ev: g.node(op_type, [g.value(ev.args[0])], ev.name,
                                   axis=int(ev.args[1] if len(ev.args) > 1 else ev.kwargs["dim"]))


def _reshape(g, ev):
    inp, out = ev.args[0], ev.outputs[0]
    shape = g.target_shape(inp.shape, out.shape)
    return g.node("Reshape", [g.value(inp), g.const(shape)], ev.name)


def _expand(g, ev):
    inp, out = ev.args[0], ev.outputs[0]
    shape = list(out.shape)
    if g.dynamic_batch and inp.ndim == out.ndim and inp.shape[0] == out.shape[0]:
        shape[0] = 1  # broadcasting keeps the input's (symbolic) batch
    return g.node("Expand", [g.value(inp), g.const(shape)], ev.name)


def _permute(g, ev):
    return g.node("Transpose", [g.value(ev.args[0])], ev.name, perm=[int(a) for a in ev.args[1]])


def _cat(g, ev):
    dim = int(ev.args[0])
    return g.node("Concat", [g.value(t) for t in ev.args[1:]], ev.name, axis=dim)


def _getitem(g, ev):
    inp, index = ev.args[0], ev.args[1]
    items = index if isinstance(index, tuple) else (index,)
    if not all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items):
        raise ExportError(f"indexing in '{ev.name}': only ints, slices, None and ... export, got {index!r}")
    if Ellipsis in items:
        k = items.index(Ellipsis)
        fill = inp.ndim - sum(1 for i in items if i is not None and i is not Ellipsis)
        items = items[:k] + (slice(None),) * fill + items[k + 1:]
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_axis = 0
    for item in items:
        if item is None:
            unsqueeze.append(out_axis)
            out_axis += 1
            continue
        if isinstance(item, slice):
            start, stop, step = item.indices(inp.shape[axis])
            if (start, stop, step) != (0, inp.shape[axis], 1):
                if step < 0 and stop < 0:
                    stop = -(2 ** 62)  # slice to before the first element
                starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
            out_axis += 1
        else:
            i = int(item) % inp.shape[axis]
            starts.append(i), ends.append(i + 1), axes.append(axis), steps.append(1)
            squeeze.append(axis)
        axis += 1
    name = g.value(inp)
    if axes:
        name = g.node("Slice", [name, g.const(starts), g.const(ends), g.const(axes), g.const(steps)], ev.name)
    if squeeze:
        name = g.node("Squeeze", [name, g.const(squeeze)], ev.name)
    if unsqueeze:
        name = g.node("Unsqueeze", [name, g.const(unsqueeze)], ev.name)
    return name if name != g.value(inp) else g.node("Identity", [name], ev.name)


def _reduce(op_type):
    def handler(g, ev):
        inp = ev.args[0]
        axes = ev.kwargs.get("axes")
        keep = int(bool(ev.kwargs.get("keepdim", False)))
        axes = list(range(inp.ndim)) if axes is None else [int(a) for a in axes]
        attr_axes = g.opset < 18 and op_type != "ReduceSum"
        if attr_axes:
            return g.node(op_type, [g.value(inp)], ev.name, axes=axes, keepdims=keep)
        return g.node(op_type, [g.value(inp), g.const(axes)], ev.name, keepdims=keep)
    return handler


def _amax(g, ev):
    return _reduce("ReduceMax" if ev.kwargs.get("take_max", True) else "ReduceMin")(g, ev)


def _maximum(g, ev):
    return _binary("Max" if ev.kwargs.get("take_max", True) else "Min")(g, ev)


def _clamp(g, ev):
    inp = ev.args[0]
    lo, hi = ev.kwargs.get("min"), ev.kwargs.get("max")
    inputs = [g.value(inp), g.value(lo, inp) if lo is not None else "", g.value(hi, inp) if hi is not None else ""]
    return g.node("Clip", inputs, ev.name)


def _cast(g, ev):
    to = g.helper.np_dtype_to_tensor_dtype(np.dtype(ev.args[1]))
    return g.node("Cast", [g.value(ev.args[0])], ev.name, to=int(to))


def _pow(g, ev):
    a, b = ev.args[0], ev.args[1]
    if isinstance(b, (int, float)) and b == 2:
        name = g.value(a)
        return g.node("Mul", [name, name], ev.name)
    return _binary("Pow")(g, ev)


def _flip(g, ev):
    inp = ev.args[0]
    axes = [int(a) for a in ev.args[1]]
    n = len(axes)
    return g.node("Slice", [g.value(inp), g.const([-1] * n), g.const([-(2 ** 62)] * n), g.const(axes),
                            g.const([-1] * n)], ev.name)


def _leaky_relu(g, ev):
    return g.node("LeakyRelu", [g.value(ev.args[0])], ev.name, alpha=float(ev.kwargs.get("negative_slope", 0.01)))


def _hardtanh(g, ev):
    inp = ev.args[0]
    lo, hi = ev.kwargs.get("min_val", -1.0), ev.kwargs.get("max_val", 1.0)
    return g.node("Clip", [g.value(inp), g.value(lo, inp), g.value(hi, inp)], ev.name)


def _elu(g, ev):
    alpha, scale, input_scale = (float(ev.kwargs.get(k, 1.0)) for k in ("alpha", "scale", "input_scale"))
    name = g.value(ev.args[0])
    if input_scale != 1.0:  # celu: alpha * (exp(x / alpha) - 1)
        if scale != 1.0 or not math.isclose(input_scale * alpha, 1.0):
            raise ExportError(f"ELU variant in '{ev.name}' has no ONNX equivalent")
        return g.node("Celu", [name], ev.name, alpha=alpha)
    if scale != 1.0:
        return g.node("Selu", [name], ev.name, alpha=alpha, gamma=scale)
    return g.node("Elu", [name], ev.name, alpha=alpha)


def _gelu(g, ev):
    inp = ev.args[0]
    approximate = ev.kwargs.get("approximate", "none")
    if g.opset >= 20:
        return g.node("Gelu", [g.value(inp)], ev.name, approximate=approximate)
    name = g.value(inp)
    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [g.node("Mul", [name, name], ev.name), name], ev.name)
        inner = g.node("Add", [name, g.node("Mul", [cube, g.value(0.044715, inp)], ev.name)], ev.name)
        t = g.node("Tanh", [g.node("Mul", [inner, g.value(math.sqrt(2 / math.pi), inp)], ev.name)], ev.name)
        one_plus = g.node("Add", [t, g.value(1.0, inp)], ev.name)
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        erf = g.node("Erf", [g.node("Mul", [name, g.value(1 / math.sqrt(2), inp)], ev.name)], ev.name)
        one_plus = g.node("Add", [erf, g.value(1.0, inp)], ev.name)
    return g.node("Mul", [g.node("Mul", [name, one_plus], ev.name), g.value(0.5, inp)], ev.name)


def _silu(g, ev):
    name = g.value(ev.args[0])
    return g.node("Mul", [name, g.node("Sigmoid", [name], ev.name)], ev.name)


def _softplus(g, ev):
    inp = ev.args[0]
    beta = float(ev.kwargs.get("beta", 1.0))
    name = g.value(inp)
    if beta == 1.0:
        return g.node("Softplus", [name], ev.name)
    scaled = g.node("Softplus", [g.node("Mul", [name, g.value(beta, inp)], ev.name)], ev.name)
    return g.node("Div", [scaled, g.value(beta, inp)], ev.name)


def _mish(g, ev):
    name = g.value(ev.args[0])
    if g.opset >= 18:
        return g.node("Mish", [name], ev.name)
    return g.node("Mul", [name, g.node("Tanh", [g.node("Softplus", [name], ev.name)], ev.name)], ev.name)


def _log_sigmoid(g, ev):  # log sigmoid(x) = -softplus(-x), stable for large |x|
    name = g.value(ev.args[0])
    return g.node("Neg", [g.node("Softplus", [g.node("Neg", [name], ev.name)], ev.name)], ev.name)


def _softmin(g, ev):
    neg = g.node("Neg", [g.value(ev.args[0])], ev.name)
    return g.node("Softmax", [neg], ev.name, axis=int(ev.args[1] if len(ev.args) > 1 else ev.kwargs["dim"]))


def _prelu(g, ev):
    inp, weight = ev.args[0], ev.args[1]
    slope = g.value(weight)
    if weight._data.size != 1 and inp.ndim > 2:
        slope = g.node("Reshape", [slope, g.const([-1] + [1] * (inp.ndim - 2))], ev.name)
    return g.node("PRelu", [g.value(inp), slope], ev.name)


def _masked_affine(g, ev):
    """Dropout's op: in eval mode dropout does not run, so meeting it means training mode."""
    raise ExportError(f"dropout in '{ev.name}' ran in training mode; ONNX export needs eval mode")


# Function class name -> handler; add an entry to export a Function of your own
HANDLERS = {
    "ConvNd": _conv, "FFTConvNd": _conv, "ConvTransposeNd": _conv_transpose, "Linear": _linear,
    "BatchNorm": _batch_norm, "LayerNorm": _layer_norm, "LocalResponseNorm": _lrn, "Pad": _pad,
    "ExtremePoolNd": _max_pool, "AvgPoolNd": _avg_pool,
    "AdaptiveAvgPoolNd": lambda g, ev: _adaptive_pool(g, ev, "AveragePool"),
    "AdaptiveMaxPoolNd": lambda g, ev: _adaptive_pool(g, ev, "MaxPool"),
    "MaskedAffine": _masked_affine,
    "LeakyReLU": _leaky_relu, "Hardtanh": _hardtanh, "ELU": _elu, "GELU": _gelu, "SiLU": _silu,
    "Softplus": _softplus, "Mish": _mish, "LogSigmoid": _log_sigmoid, "Softmin": _softmin, "PReLU": _prelu,
    "Hardsigmoid": _unary("HardSigmoid", alpha=1 / 6, beta=0.5), "Hardswish": _unary("HardSwish"),
    "Softsign": _unary("Softsign"),
    "ReLU": _unary("Relu"), "Tanh": _unary("Tanh"), "Sigmoid": _unary("Sigmoid"), "Exp": _unary("Exp"),
    "Log": _unary("Log"), "Sqrt": _unary("Sqrt"), "Abs": _unary("Abs"), "Neg": _unary("Neg"),
    "Sin": _unary("Sin"), "Cos": _unary("Cos"), "Clone": _unary("Identity"),
    "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
    "Add": _binary("Add"), "Sub": _binary("Sub"), "Mul": _binary("Mul"), "Div": _binary("Div"),
    "Pow": _pow, "MatMul": _binary("MatMul"), "Maximum": _maximum, "Clamp": _clamp, "Cast": _cast,
    "Reshape": _reshape, "Expand": _expand, "Permute": _permute, "Cat": _cat, "GetItem": _getitem,
    "Flip": _flip, "Sum": _reduce("ReduceSum"), "Mean": _reduce("ReduceMean"), "Amax": _amax,
}


DEFAULT_OPSET = 17
SUPPORTED_OPSETS = tuple(range(17, 24))  # each checked in onnxruntime by tests/test_onnx.py


def export(model, example_input, path=None, opset_version=DEFAULT_OPSET, input_names=None, output_names=None,
           dynamic_batch=True, check=True, metadata=None):
    """Write ``model`` as an ONNX file that computes what ``model(example_input)`` computes.

    Args:
        model: a :class:`convgrad.nn.Module`; it is traced in eval mode (its mode is restored).
        example_input: a Tensor or array with the input shape (the batch size does not matter
            when ``dynamic_batch`` is true).
        path: where to write the ``.onnx`` file (``None``: only return the model).
        opset_version: ONNX opset, one of :data:`SUPPORTED_OPSETS` (17 to 23).
        input_names, output_names: names of the graph's inputs and outputs (default ``input``,
            ``output`` / ``output_0, output_1 ...`` for several outputs).
        dynamic_batch: make the first dimension of inputs and outputs symbolic (``batch``).
        check: run ``onnx.checker.check_model`` on the result.
        metadata: a dict of strings (or JSON-able values, written as JSON) stored as the model's
            ``metadata_props``, e.g. the preprocessing a runtime must apply.

    Returns:
        the ``onnx.ModelProto``.

    Raises:
        ExportError: an op without an ONNX mapping (named, with the layer that called it), or a
            construct ONNX cannot express exactly.
        ImportError: the ``onnx`` package is not installed.

    Example::

        >>> convgrad.onnx.export(convgrad.models.resnet18(), convgrad.randn(1, 3, 224, 224), "r18.onnx")  # doctest: +SKIP
    """
    onnx_mod, helper = _import_onnx()
    if int(opset_version) not in SUPPORTED_OPSETS:
        raise ExportError(f"convgrad.onnx.export: opset_version must be one of {SUPPORTED_OPSETS[0]} to "
                          f"{SUPPORTED_OPSETS[-1]}, got {opset_version}")
    if int(opset_version) > onnx_mod.defs.onnx_opset_version():
        raise ExportError(f"convgrad.onnx.export: the installed onnx {onnx_mod.__version__} knows opsets up to "
                          f"{onnx_mod.defs.onnx_opset_version()}, not {opset_version}; upgrade onnx or choose a lower one")
    x = example_input if isinstance(example_input, Tensor) else Tensor(np.asarray(example_input))
    if x.dtype.kind != "f":
        raise ExportError(f"convgrad.onnx.export: example_input must be floating point, got {x.dtype}")
    g = _Graph(onnx_mod, helper, model, int(opset_version), dynamic_batch)
    g.batch = x.shape[0] if x.ndim else 1
    with no_grad(), eval_mode(model), record(model, is_leaf=lambda m: False) as events:
        output = model(x)
    in_name = (input_names or ["input"])[0]
    g.bind(x, in_name)
    for g.event_index, ev in enumerate(events):
        handler = HANDLERS.get(ev.type_name)
        if handler is None:
            raise ExportError(f"convgrad.onnx.export: no ONNX mapping for op '{ev.type_name}' "
                              f"(called in '{ev.name or type(model).__name__}')")
        outs = ev.outputs
        g.bind(outs[0], handler(g, ev))
    if g.free:
        _check_constants(model, x, events, g.free)
    outputs = flatten_tensors(output)
    if output_names is None:
        output_names = ["output"] if len(outputs) == 1 else [f"output_{i}" for i in range(len(outputs))]
    if len(output_names) != len(outputs):
        raise ExportError(f"convgrad.onnx.export: {len(output_names)} output_names for {len(outputs)} outputs")
    for t, name in zip(outputs, output_names):
        g.nodes.append(helper.make_node("Identity", [g.value(t)], [name], name=f"{name}.Identity"))
    graph = helper.make_graph(
        g.nodes, type(model).__name__,
        [_value_info(helper, in_name, x, dynamic_batch)],
        [_value_info(helper, n, t, dynamic_batch) for t, n in zip(outputs, output_names)])
    for name, array in g.initializers:  # filled in place: no intermediate TensorProto copies of big weights
        _fill_tensor(graph.initializer.add(), helper, name, array)
    proto = helper.make_model(graph, producer_name="convgrad",
                              opset_imports=[helper.make_opsetid("", int(opset_version))])
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = str(key), value if isinstance(value, str) else json.dumps(value)
    if check:
        try:
            onnx_mod.checker.check_model(proto)
        except onnx_mod.checker.ValidationError as exc:
            raise ExportError(f"convgrad.onnx.export: the ONNX checker rejects the graph: {exc}") from None
    if path is not None:
        onnx_mod.save(proto, str(path))
    return proto


def _check_constants(model, x, events, free):
    """Tensors that no recorded op produced become constants in the graph; that is only right if
    they do not depend on the input. Trace again on another input and compare them."""
    other = Tensor(x._data + np.random.default_rng(0).standard_normal(x.shape).astype(x.dtype))
    with no_grad(), eval_mode(model), record(model, is_leaf=lambda m: False) as again:
        model(other)
    for index, tensor in free:
        ev = events[index]
        pos = next(i for i, t in enumerate(ev.inputs) if t is tensor)
        if len(again) != len(events) or not np.array_equal(again[index].inputs[pos]._data, tensor._data):
            raise ExportError(f"convgrad.onnx.export: a tensor used by '{ev.type_name}' in "
                              f"'{ev.name or type(model).__name__}' was made outside convgrad's ops and "
                              "depends on the input (NumPy code in forward?); it cannot be exported")


def _fill_tensor(proto, helper, name, array):
    """What ``numpy_helper.from_array`` does, written into an existing TensorProto."""
    proto.name = name
    proto.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
    proto.dims.extend(array.shape)
    proto.raw_data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def _value_info(helper, name, tensor, dynamic_batch):
    shape = list(tensor.shape)
    if dynamic_batch and shape:
        shape[0] = "batch"
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(tensor.dtype), shape)


def export_checkpoint(path, out, input_size=None, opset_version=DEFAULT_OPSET):
    """Rebuild the model of a convgrad checkpoint and export it to ``out`` (the ``convgrad export``
    command). ``input_size`` (C, H, W) defaults to the checkpoint's recorded one, else to a size
    the model accepts. The checkpoint's preprocessing (mean, std, input size, class names) goes
    into the ONNX metadata: each key of it as ``convgrad.<key>`` (JSON), and the whole dict as
    ``convgrad.preprocessing``. Returns ``(proto, input_size)``."""
    from ..inspect.summary import default_input_size
    from ..io import load_checkpoint

    if not str(path).endswith((".npz", ".safetensors")):
        raise ExportError(f"export_checkpoint: expected a convgrad checkpoint (.npz or .safetensors), got '{path}'")
    ckpt = load_checkpoint(path)
    model = ckpt.build_model()
    preprocessing = dict(ckpt.preprocessing or {})
    recorded = preprocessing.get("input_size")
    size = tuple(int(s) for s in (input_size or recorded or default_input_size(model)))
    dtype = next(iter(model.parameters())).dtype
    metadata = {f"convgrad.{key}": value for key, value in preprocessing.items()}
    metadata["convgrad.preprocessing"] = preprocessing
    metadata["convgrad.model"] = {"name": ckpt.model_name, "kwargs": ckpt.model_kwargs}
    proto = export(model, Tensor(np.zeros((1,) + size, dtype)), out, opset_version=opset_version, metadata=metadata)
    return proto, size
