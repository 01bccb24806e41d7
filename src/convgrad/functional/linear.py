"""Fully connected (dense) layers as single fused operations.

``linear``: y = x W^T + b for x of shape (*, in) and W of shape (out, in). One Function, so a
dense layer adds one node to the graph. With x flattened to X of shape (M, in) and G = dL/dy
flattened to (M, out), the gradients are three GEMMs and a sum:

    dL/dX = G W        dL/dW = G^T X        dL/db = sum of G over rows

``bilinear``: y_k = x1^T A_k x2 + b_k with A of shape (out, in1, in2).
"""
import numpy as np

from ..kernels.blas import matmul
from ..tensor import Function, Tensor
from ._util import DTypeError, ShapeError, shape_str


def _rows(x):
    """View (*, n) as (M, n) without copying where possible."""
    return x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x


class Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias=None):
        x2 = _rows(x)
        out = matmul(x2, weight.T)
        if bias is not None:
            out += bias
        ctx.save_for_backward(x2, weight)
        ctx.x_shape = x.shape
        return out.reshape(x.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, grad):
        x2, weight = ctx.saved
        g2 = _rows(grad)
        nx, nw, nb = ctx.needs_input_grad
        gx = matmul(g2, weight).reshape(ctx.x_shape) if nx else None
        gw = matmul(g2.T, x2) if nw else None
        gb = g2.sum(axis=0) if nb else None
        return gx, gw, gb

    @staticmethod
    def output_shape(x_shape, w_shape, b_shape=None):
        return tuple(x_shape[:-1]) + (w_shape[0],)


class Bilinear(Function):
    @staticmethod
    def forward(ctx, x1, x2, weight, bias=None):
        a = _rows(x1)
        b = _rows(x2)
        # t[m, k, j] = sum_i a[m, i] A[k, i, j]; y[m, k] = sum_j t[m, k, j] b[m, j]
        t = np.tensordot(a, weight, axes=([1], [1]))
        out = np.einsum("mkj,mj->mk", t, b)
        if bias is not None:
            out += bias
        ctx.save_for_backward(a, b, weight, t)
        ctx.shapes = (x1.shape, x2.shape)
        return out.reshape(x1.shape[:-1] + (weight.shape[0],))

    @staticmethod
    def backward(ctx, grad):
        a, b, weight, t = ctx.saved
        g = grad.reshape(-1, weight.shape[0])
        n1, n2, nw, nb = ctx.needs_input_grad
        g1 = g2 = gw = gb = None
        if n1:  # dy_k/da_i = sum_j A[k, i, j] b_j
            g1 = np.einsum("mk,kij,mj->mi", g, weight, b, optimize=True).reshape(ctx.shapes[0])
        if n2:  # dy_k/db_j = t[m, k, j]
            g2 = np.einsum("mk,mkj->mj", g, t).reshape(ctx.shapes[1])
        if nw:
            gw = np.einsum("mk,mi,mj->kij", g, a, b, optimize=True)
        if nb:
            gb = g.sum(axis=0)
        return g1, g2, gw, gb

    @staticmethod
    def output_shape(x1_shape, x2_shape, w_shape, b_shape=None):
        return tuple(x1_shape[:-1]) + (w_shape[0],)


def _check_float_tensor(op, name, t):
    if not isinstance(t, Tensor):
        raise DTypeError(f"{op}: expected {name} to be a convgrad Tensor, got {type(t).__name__}")
    if t.dtype.kind != "f":
        raise DTypeError(f"{op}: expected a floating point {name}, got dtype {t.dtype}")


def _check_dtypes(op, input, weight):
    if input.dtype != weight.dtype:
        raise DTypeError(f"{op}: input has dtype {input.dtype} but weight has dtype {weight.dtype}; "
                        f"convert one of them (e.g. model.to(np.{input.dtype}) or x.to(np.{weight.dtype}))")


def _check_bias(op, bias, out_features):
    if bias is None:
        return
    _check_float_tensor(op, "bias", bias)
    if bias.shape != (out_features,):
        raise ShapeError(f"{op}: expected bias of shape ({out_features},), got {shape_str(bias.shape)}")


def linear(input, weight, bias=None):
    """y = x W^T + b.

    Shape:
        input (*, in_features), weight (out_features, in_features), bias (out_features,)
        -> output (*, out_features).
    """
    _check_float_tensor("linear", "input", input)
    _check_float_tensor("linear", "weight", weight)
    if weight.ndim != 2:
        raise ShapeError(f"linear: expected a 2-D weight (out_features, in_features), got "
                         f"{shape_str(weight.shape)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ShapeError(f"linear: expected input with last dimension {weight.shape[1]} "
                         f"(weight is {shape_str(weight.shape)}), got {shape_str(input.shape)}")
    _check_dtypes("linear", input, weight)
    _check_bias("linear", bias, weight.shape[0])
    return Linear.apply(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T A_k x2 + b_k.

    Shape:
        input1 (*, in1), input2 (*, in2) with the same leading dimensions, weight (out, in1, in2),
        bias (out,) -> output (*, out).
    """
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        _check_float_tensor("bilinear", name, t)
    if weight.ndim != 3:
        raise ShapeError(f"bilinear: expected a 3-D weight (out, in1, in2), got {shape_str(weight.shape)}")
    _, in1, in2 = weight.shape
    if input1.ndim == 0 or input2.ndim == 0 or input1.shape[:-1] != input2.shape[:-1] \
            or input1.shape[-1] != in1 or input2.shape[-1] != in2:
        raise ShapeError(f"bilinear: expected inputs of shapes (*, {in1}) and (*, {in2}) with equal leading "
                         f"dimensions, got {shape_str(input1.shape)} and {shape_str(input2.shape)}")
    _check_dtypes("bilinear", input1, weight)
    _check_dtypes("bilinear", input2, weight)
    _check_bias("bilinear", bias, weight.shape[0])
    return Bilinear.apply(input1, input2, weight, bias)
