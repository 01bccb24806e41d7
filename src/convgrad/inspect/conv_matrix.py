"""The Toeplitz view of a convolution: the matrix W with ``conv(x).flatten() == W @ x.flatten()``.

A convolution is linear in its input, so for a fixed weight and input size it *is* a matrix: row
``(o, p)`` (output channel o, output position p) holds the kernel ``w[o]`` laid out at the input
positions the window at p covers, zeros elsewhere. Along one axis that is a banded Toeplitz
matrix; in 2-D it is doubly block Toeplitz. Seeing the layer as ``y = W x + b`` gives the
fully connected layer's rules for free:

    dL/dx = W.T @ dL/dy        (the input gradient: multiplying by W.T is a transposed
                                convolution, "the backward pass is also a convolution")
    dL/dW = dL/dy @ x.T        restricted to the shared, banded entries of W

and it shows what weight sharing buys: W has ``C_out * H_out * W_out`` rows and
``C_in * H * W`` columns but only ``C_out * C_in/groups * kH * kW`` distinct values.

Small matrices come back as dense NumPy arrays; large ones as :class:`SparseMatrix`, a minimal
CSR matrix with ``@``, ``.T`` and ``.toarray()`` (no SciPy needed).
"""
import numpy as np

from ..errors import ArgumentError, ShapeError
from ..tensor import Tensor

DENSE_LIMIT = 1 << 22  # entries; above this (32 MB of float64) the matrix is returned sparse


class SparseMatrix:
    """A compressed sparse row matrix: ``indptr`` (m+1,), ``indices`` and ``data`` (nnz,).

    Supports ``A @ x`` for a vector (n,) or a matrix (n, k), ``x @ A``, ``A.T``, ``A.toarray()``,
    ``A.nnz``, ``A.shape``, ``A.dtype``.
    """

    __array_priority__ = 1001

    def __init__(self, indptr, indices, data, shape):
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.data = np.asarray(data)
        self.shape = (int(shape[0]), int(shape[1]))
        self._transpose = None

    @classmethod
    def from_coo(cls, rows, cols, values, shape):
        """Build from coordinates; repeated (row, col) pairs are summed."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        values = np.asarray(values)
        key = rows * shape[1] + cols
        order = np.argsort(key, kind="stable")
        key = key[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else np.zeros(0, np.int64)
        data = np.add.reduceat(values[order], starts) if key.size else values[:0]
        unique = key[starts]
        counts = np.bincount(unique // shape[1], minlength=shape[0])
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return cls(indptr, unique % shape[1], data, shape)

    @property
    def nnz(self):
        """Number of stored (structurally non-zero) entries."""
        return int(self.data.size)

    @property
    def dtype(self):
        """The dtype of the entries."""
        return self.data.dtype

    @property
    def T(self):
        """The transpose, itself CSR (computed once)."""
        if self._transpose is None:
            rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
            self._transpose = SparseMatrix.from_coo(self.indices, rows, self.data, self.shape[::-1])
            self._transpose._transpose = self
        return self._transpose

    def toarray(self):
        """The matrix as a dense NumPy array."""
        out = np.zeros(self.shape, dtype=self.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = self.data
        return out

    def __matmul__(self, other):
        x = np.asarray(other._data if isinstance(other, Tensor) else other)
        if x.ndim not in (1, 2) or x.shape[0] != self.shape[1]:
            raise ShapeError(f"SparseMatrix @: expected an operand with {self.shape[1]} rows, got shape {x.shape}")
        products = self.data.reshape((-1,) + (1,) * (x.ndim - 1)) * x[self.indices]
        out = np.zeros((self.shape[0],) + x.shape[1:], dtype=products.dtype)
        nonempty = np.flatnonzero(np.diff(self.indptr))
        if nonempty.size:  # reduceat over the start of each non-empty row
            out[nonempty] = np.add.reduceat(products, self.indptr[nonempty], axis=0)
        return out

    def __rmatmul__(self, other):
        x = np.asarray(other._data if isinstance(other, Tensor) else other)
        return (self.T @ x.T).T

    def __repr__(self):
        density = self.nnz / max(1, self.shape[0] * self.shape[1])
        return f"SparseMatrix(shape={self.shape}, nnz={self.nnz}, density={density:.2g}, dtype={self.dtype})"


def _layer_geometry(layer):
    weight = layer.weight._data
    transposed = type(layer).__name__.startswith("ConvTranspose")
    return dict(weight=weight, stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
                groups=layer.groups, padding_mode=getattr(layer, "padding_mode", "zeros"),
                output_padding=getattr(layer, "output_padding", None), transposed=transposed,
                bias=None if layer.bias is None else layer.bias._data)


def _tuple(value, d, name):
    if isinstance(value, (int, np.integer)):
        return (int(value),) * d
    value = tuple(int(v) for v in value)
    if len(value) != d:
        raise ArgumentError(f"conv_matrix: {name} must be an int or {d} ints, got {value}")
    return value


def _source_index(q, size, mode):
    """The input coordinate a padded coordinate q reads under each padding mode, and whether it
    reads one at all (zero padding reads nothing outside the input)."""
    if mode == "zeros":
        return q, (q >= 0) & (q < size)
    if mode == "reflect":  # ... 2 1 | 0 1 2 ... n-1 | n-2 ...
        q = np.abs(q)
        return np.where(q >= size, 2 * (size - 1) - q, q), np.ones(q.shape, bool)
    if mode == "replicate":
        return np.clip(q, 0, size - 1), np.ones(q.shape, bool)
    if mode == "circular":
        return np.mod(q, size), np.ones(q.shape, bool)
    raise ArgumentError(f"conv_matrix: unknown padding_mode {mode!r}")


def _conv_coo(weight, in_shape, stride, pad_lo, pad_hi, dilation, groups, mode):
    """Coordinates and values of the convolution matrix (duplicates to be summed)."""
    c, spatial = in_shape[0], tuple(in_shape[1:])
    o, cg = weight.shape[:2]
    kernel = weight.shape[2:]
    d = len(kernel)
    out_sp = tuple((s + lo + hi - dl * (k - 1) - 1) // st + 1
                   for s, k, st, lo, hi, dl in zip(spatial, kernel, stride, pad_lo, pad_hi, dilation))
    if any(v < 1 for v in out_sp):
        raise ShapeError(f"conv_matrix: input {in_shape} is too small for kernel {kernel} "
                         f"(output size {out_sp})")
    # index grids over (o, ci, *k, *p): one entry per weight tap and output position
    grid = np.indices((o, cg) + kernel + out_sp, sparse=True)
    oo, ci = grid[0], grid[1]
    kk, pp = grid[2:2 + d], grid[2 + d:]
    valid = np.ones((), bool)
    flat_in = (oo // (o // groups)) * cg + ci  # input channel
    flat_out = oo
    for axis in range(d):
        q = pp[axis] * stride[axis] - pad_lo[axis] + kk[axis] * dilation[axis]
        src, ok = _source_index(q, spatial[axis], mode)
        valid = valid & ok
        flat_in = flat_in * spatial[axis] + src
        flat_out = flat_out * out_sp[axis] + pp[axis]
    shape = (o, cg) + kernel + out_sp
    values = np.broadcast_to(weight.reshape(weight.shape + (1,) * d), shape)
    valid = np.broadcast_to(valid, shape)
    rows = np.broadcast_to(flat_out, shape)[valid]
    cols = np.broadcast_to(flat_in, shape)[valid]
    return rows, cols, values[valid], (o * int(np.prod(out_sp)), c * int(np.prod(spatial))), out_sp


def _padding_pairs(padding, kernel, dilation, d):
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * d, (0,) * d
        if padding == "same":
            total = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
            return tuple(t // 2 for t in total), tuple(t - t // 2 for t in total)
        raise ArgumentError(f"conv_matrix: padding must be ints, 'same' or 'valid', got {padding!r}")
    pad = _tuple(padding, d, "padding")
    return pad, pad


def conv_matrix(conv, input_shape, stride=None, padding=None, dilation=None, groups=None, padding_mode=None,
                output_padding=None, sparse=None, with_bias=False):
    """The matrix W of a convolution (or transposed convolution) on inputs of ``input_shape``.

    Args:
        conv: a Conv1d/2d/3d or ConvTranspose1d/2d/3d layer (geometry read from it), or a weight
            (Tensor or array, ``(C_out, C_in/groups, *k)``, read as a convolution's).
        input_shape: ``(C, *spatial)`` or ``(N, C, *spatial)``; the matrix acts on one sample
            (N is ignored): ``conv(x)[n].flatten() == W @ x[n].flatten() (+ bias)``.
        stride, padding, dilation, groups, padding_mode, output_padding: override the layer's
            (defaults for a bare weight: 1, 0, 1, 1, 'zeros', 0). All four padding modes work:
            reflect/replicate/circular only change which input entry a padded tap reads.
        sparse: True for :class:`SparseMatrix`, False for a dense array, None to pick dense
            when it has at most ``DENSE_LIMIT`` entries.
        with_bias: also return the bias as a vector over the output (``np.repeat(b, H_out*W_out)``,
            zeros without bias).

    Returns:
        W of shape ``(C_out * prod(out_spatial), C * prod(spatial))`` in the weight's dtype
        (or ``(W, b)``). For a transposed convolution W is the transpose of the matrix of the
        convolution it reverses.

    Raises:
        ShapeError: input channels or rank not matching the weight; ArgumentError: bad options.
    """
    if hasattr(conv, "weight"):
        geo = _layer_geometry(conv)
    else:
        w = conv._data if isinstance(conv, Tensor) else np.asarray(conv)
        geo = dict(weight=w, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros",
                   output_padding=0, transposed=False, bias=None)
    for key, value in (("stride", stride), ("padding", padding), ("dilation", dilation), ("groups", groups),
                       ("padding_mode", padding_mode), ("output_padding", output_padding)):
        if value is not None:
            geo[key] = value
    weight = np.asarray(geo["weight"])
    d = weight.ndim - 2
    in_shape = tuple(int(s) for s in input_shape)
    if len(in_shape) == d + 2:
        in_shape = in_shape[1:]
    if d < 1 or len(in_shape) != d + 1:
        raise ShapeError(f"conv_matrix: a weight of shape {weight.shape} needs input_shape (C, {d} spatial sizes) "
                         f"or (N, C, ...), got {tuple(input_shape)}")
    groups = int(geo["groups"])
    stride = _tuple(geo["stride"], d, "stride")
    dilation = _tuple(geo["dilation"], d, "dilation")
    kernel = weight.shape[2:]
    if geo["transposed"]:
        matrix, out_channels, out_sp = _transposed_matrix(weight, in_shape, stride, geo, dilation, groups)
    else:
        expected = weight.shape[1] * groups
        if in_shape[0] != expected:
            raise ShapeError(f"conv_matrix: weight {weight.shape} with groups={groups} expects {expected} input "
                             f"channels, input_shape has {in_shape[0]}")
        pad_lo, pad_hi = _padding_pairs(geo["padding"], kernel, dilation, d)
        rows, cols, vals, shape, out_sp = _conv_coo(weight, in_shape, stride, pad_lo, pad_hi, dilation, groups,
                                                    geo["padding_mode"])
        matrix = SparseMatrix.from_coo(rows, cols, vals, shape)
        out_channels = weight.shape[0]
    dense = matrix.shape[0] * matrix.shape[1] <= DENSE_LIMIT if sparse is None else not sparse
    result = matrix.toarray() if dense else matrix
    if not with_bias:
        return result
    bias = geo["bias"]
    positions = int(np.prod(out_sp))
    b = np.zeros(out_channels * positions, weight.dtype) if bias is None else np.repeat(np.asarray(bias), positions)
    return result, b


def _transposed_matrix(weight, in_shape, stride, geo, dilation, groups):
    """conv_transpose(x) = (matrix of the conv from its output size back to in_shape).T"""
    d = weight.ndim - 2
    if in_shape[0] != weight.shape[0]:
        raise ShapeError(f"conv_matrix: transposed weight {weight.shape} expects {weight.shape[0]} input channels, "
                         f"input_shape has {in_shape[0]}")
    if geo["padding_mode"] != "zeros":
        raise ArgumentError("conv_matrix: transposed convolutions support padding_mode='zeros' only")
    padding = _tuple(geo["padding"], d, "padding")
    output_padding = _tuple(geo["output_padding"] or 0, d, "output_padding")
    kernel = weight.shape[2:]
    # out = (in - 1) s - 2p + d(k - 1) + output_padding + 1
    out_sp = tuple((n - 1) * s - 2 * p + dl * (k - 1) + op + 1
                   for n, s, p, dl, k, op in zip(in_shape[1:], stride, padding, dilation, kernel, output_padding))
    out_channels = weight.shape[1] * groups
    rows, cols, vals, shape, back = _conv_coo(weight, (out_channels,) + out_sp, stride, padding, padding, dilation,
                                              groups, "zeros")
    if back != tuple(in_shape[1:]):
        raise ShapeError(f"conv_matrix: output_padding {output_padding} is not reachable for input {in_shape}")
    return SparseMatrix.from_coo(cols, rows, vals, shape[::-1]), out_channels, out_sp
