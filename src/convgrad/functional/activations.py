"""Activation functions and softmax. Each backward uses the saved output or input:
relu' = [x > 0], tanh' = 1 - y^2, sigmoid' = y (1 - y), softmax: y * (g - sum(g * y))."""
import numpy as np

from ..tensor import Function


class ReLU(Function):
    @staticmethod
    def forward(ctx, x):
        out = np.maximum(x, 0)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * (ctx.out > 0)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * (1 - ctx.out * ctx.out)


def _stable_sigmoid(x):
    # exp of a negative number only: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) for x < 0
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        out = _stable_sigmoid(x)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.out * (1 - ctx.out)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        e = np.exp(x - np.amax(x, axis=dim, keepdims=True))
        out = e / e.sum(axis=dim, keepdims=True)
        ctx.out, ctx.dim = out, dim
        return out

    @staticmethod
    def backward(ctx, grad):
        y = ctx.out
        return y * (grad - (grad * y).sum(axis=ctx.dim, keepdims=True))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, dim):
        shifted = x - np.amax(x, axis=dim, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        ctx.out, ctx.dim = out, dim
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad - np.exp(ctx.out) * grad.sum(axis=ctx.dim, keepdims=True)


def _softmax_dim(ndim):
    # PyTorch's legacy rule when dim is omitted
    return 0 if ndim in (0, 1, 3) else 1


def relu(input, inplace=False):
    return ReLU.apply(input)


def tanh(input):
    return Tanh.apply(input)


def sigmoid(input):
    return Sigmoid.apply(input)


def softmax(input, dim=None, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    dim = _softmax_dim(input.ndim) if dim is None else dim
    return Softmax.apply(input, dim % max(input.ndim, 1))


def log_softmax(input, dim=None, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    dim = _softmax_dim(input.ndim) if dim is None else dim
    return LogSoftmax.apply(input, dim % max(input.ndim, 1))
