"""Deformable convolution, v1 (learned offsets) and v2 (offsets and a modulation mask).

Each kernel tap (i, j) of output position (y, x) reads the input not at the regular grid point
but at a learned fractional position, with bilinear interpolation (zero outside the image)::

    p_y = y * stride_h - pad_h + i * dilation_h + offset[n, 2 * (g * kh * kw + i * kw + j), y, x]
    p_x = x * stride_w - pad_w + j * dilation_w + offset[n, 2 * (g * kh * kw + i * kw + j) + 1, y, x]
    out[n, o, y, x] = bias[o] + sum_{c, i, j} weight[o, c, i, j] * mask[n, g*kh*kw + i*kw + j, y, x]
                                                   * bilinear(input[n, c], p_y, p_x)

where ``g`` is the offset group of input channel ``c``. This is exactly
``torchvision.ops.deform_conv2d`` (Dai et al. 2017; Zhu et al. 2019 for the mask). With zero
offsets and a mask of ones it is ``conv2d``.

The forward pass gathers the sampled values into columns (a deformable im2col) and multiplies by
the weight as im2col does; backward scatters the column gradient back through the bilinear
weights (input), differentiates the bilinear weights by position (offset), and multiplies the
column gradient by the samples (mask).
"""
import numpy as np

from ..tensor import Function, Tensor
from ._util import ArgumentError, ShapeError, ntuple, shape_str
from ..errors import ArgumentTypeError, DTypeError


def _sampling_positions(offset, kernel, stride, padding, dilation, offset_groups):
    """The fractional sampling rows and columns, each of shape (N, G, kh*kw, Ho*Wo)."""
    n, _, ho, wo = offset.shape
    kh, kw = kernel
    off = offset.reshape(n, offset_groups, kh * kw, 2, ho * wo)
    base_y = (np.arange(ho) * stride[0] - padding[0])[None, :] + (np.arange(kh) * dilation[0])[:, None]
    base_x = (np.arange(wo) * stride[1] - padding[1])[None, :] + (np.arange(kw) * dilation[1])[:, None]
    # tap k = i * kw + j at output l = y * Wo + x: regular position (base_y[i, y], base_x[j, x])
    grid_y = np.broadcast_to(base_y[:, None, :, None], (kh, kw, ho, wo)).reshape(kh * kw, ho * wo)
    grid_x = np.broadcast_to(base_x[None, :, None, :], (kh, kw, ho, wo)).reshape(kh * kw, ho * wo)
    return grid_y.astype(offset.dtype) + off[:, :, :, 0], grid_x.astype(offset.dtype) + off[:, :, :, 1]


def _corners(py, px, height, width):
    """The four integer neighbours of each sampling point, their bilinear weights and validity.

    Returns (flat index, weight, d weight / d py, d weight / d px) per corner; corners outside
    the image get index 0 and weight 0 (bilinear interpolation with zeros outside).
    """
    y0 = np.floor(py)
    x0 = np.floor(px)
    ly = py - y0
    lx = px - x0
    hy = 1 - ly
    hx = 1 - lx
    y0 = y0.astype(np.int64)
    x0 = x0.astype(np.int64)
    corners = []
    for dy, dx, w, gy, gx in ((0, 0, hy * hx, -hx, -hy), (0, 1, hy * lx, -lx, hy),
                              (1, 0, ly * hx, hx, -ly), (1, 1, ly * lx, lx, ly)):
        yy = y0 + dy
        xx = x0 + dx
        valid = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        index = np.where(valid, yy * width + xx, 0)
        mask = valid.astype(py.dtype)
        corners.append((index, w * mask, gy * mask, gx * mask))
    return corners


def _gather(x_groups, index):
    """x_groups (N, G, Cg, H*W), index (N, G, K, L) -> values (N, G, Cg, K, L)."""
    n, g, cg, _ = x_groups.shape
    _, _, k, l = index.shape
    flat = np.broadcast_to(index.reshape(n, g, 1, k * l), (n, g, cg, k * l))
    return np.take_along_axis(x_groups, flat, axis=3).reshape(n, g, cg, k, l)


class DeformConv2dFunction(Function):
    """Deformable convolution on arrays; see the module docstring for the formula."""

    @staticmethod
    def forward(ctx, x, offset, weight, bias, mask, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
        n, c, h, w = x.shape
        cout, cin_g, kh, kw = weight.shape
        groups = c // cin_g
        offset_groups = offset.shape[1] // (2 * kh * kw)
        ho, wo = offset.shape[2:]
        py, px = _sampling_positions(offset, (kh, kw), stride, padding, dilation, offset_groups)
        x_groups = np.ascontiguousarray(x).reshape(n, offset_groups, c // offset_groups, h * w)
        samples = 0
        for index, wgt, _, _ in _corners(py, px, h, w):
            samples = samples + _gather(x_groups, index) * wgt[:, :, None]
        modulated = samples if mask is None else samples * mask.reshape(n, offset_groups, 1, kh * kw, ho * wo)
        cols = modulated.reshape(n, groups, cin_g * kh * kw, ho * wo)
        w_mat = weight.reshape(groups, cout // groups, cin_g * kh * kw)
        out = np.matmul(w_mat[None], cols).reshape(n, cout, ho, wo)
        if bias is not None:
            out = out + bias.reshape(1, cout, 1, 1)
        ctx.save_for_backward(x, offset, weight, mask, cols, samples)
        ctx.geometry = (stride, padding, dilation, groups, offset_groups)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, offset, weight, mask, cols, samples = ctx.saved
        stride, padding, dilation, groups, offset_groups = ctx.geometry
        need_x, need_off, need_w, need_b, need_m = ctx.needs_input_grad
        n, c, h, w = x.shape
        cout, cin_g, kh, kw = weight.shape
        ho, wo = grad.shape[2:]
        k, l, cg = kh * kw, ho * wo, c // offset_groups
        g_out = grad.reshape(n, groups, cout // groups, l)
        gx = goff = gw = gb = gm = None
        if need_b:
            gb = grad.sum(axis=(0, 2, 3))
        if need_w:
            gw = np.matmul(g_out, np.swapaxes(cols, -1, -2)).sum(axis=0).reshape(weight.shape)
        if need_x or need_off or need_m:
            w_mat = weight.reshape(groups, cout // groups, cin_g * k)
            g_cols = np.matmul(np.swapaxes(w_mat, -1, -2)[None], g_out).reshape(n, offset_groups, cg, k, l)
            if need_m:
                gm = (g_cols * samples).sum(axis=2).reshape(n, offset_groups * k, ho, wo)
            if mask is not None:
                g_cols = g_cols * mask.reshape(n, offset_groups, 1, k, l)
            py, px = _sampling_positions(offset, (kh, kw), stride, padding, dilation, offset_groups)
            corners = _corners(py, px, h, w)
            if need_x:
                gx = _scatter_input_grad(g_cols, corners, x.shape, offset_groups)
            if need_off:
                x_groups = np.ascontiguousarray(x).reshape(n, offset_groups, cg, h * w)
                g_py = g_px = 0
                for index, _, dwy, dwx in corners:
                    weighted = (_gather(x_groups, index) * g_cols).sum(axis=2)  # (N, G, K, L)
                    g_py = g_py + weighted * dwy
                    g_px = g_px + weighted * dwx
                goff = np.stack([g_py, g_px], axis=3).reshape(offset.shape)
        return gx, goff, gw, gb, gm

    @staticmethod
    def output_shape(x_shape, offset_shape, weight_shape, bias_shape=None, mask_shape=None,
                     stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
        n, _, h, w = x_shape
        kh, kw = weight_shape[2:]
        ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
        wo = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
        return (n, weight_shape[0], ho, wo)


def _scatter_input_grad(g_cols, corners, x_shape, offset_groups):
    """Transpose of the bilinear gather: add each column gradient to its four neighbours."""
    n, c, h, w = x_shape
    _, _, cg, k, l = g_cols.shape
    # one flat slot per (n, g, channel, pixel); bincount sums repeated slots
    plane = (np.arange(n * offset_groups * cg) * (h * w)).reshape(n, offset_groups, cg, 1)
    total = np.zeros(n * c * h * w, dtype=np.float64)
    for index, wgt, _, _ in corners:
        slots = plane + index.reshape(n, offset_groups, 1, k * l)
        values = g_cols.reshape(n, offset_groups, cg, k * l) * wgt.reshape(n, offset_groups, 1, k * l)
        total += np.bincount(slots.reshape(-1), weights=values.reshape(-1), minlength=total.size)
    return total.reshape(x_shape).astype(g_cols.dtype, copy=False)


def _as_tensor(value, name):
    if value is None or isinstance(value, Tensor):
        return value
    raise ArgumentTypeError(f"deform_conv2d: {name} must be a Tensor or None, got {type(value).__name__}")


def deform_conv2d(input, offset, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), mask=None):
    """Deformable 2-D convolution (torchvision.ops.deform_conv2d semantics).

    Args:
        input: (N, C_in, H, W).
        offset: (N, 2 * offset_groups * kh * kw, H_out, W_out), a (dy, dx) pair per kernel tap;
            offset_groups (which must divide C_in) is read from this shape.
        weight: (C_out, C_in / groups, kh, kw); the weight groups are ``C_in / weight.shape[1]``.
        bias: optional (C_out,).
        stride, padding, dilation: int or pair, as for conv2d (padding is zeros).
        mask: optional (N, offset_groups * kh * kw, H_out, W_out) modulation (v2); None is v1.

    Shape:
        H_out = floor((H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0]) + 1, same for W.

    Returns:
        (N, C_out, H_out, W_out).

    Raises:
        ShapeError: ranks or channel counts that do not fit, or offset/mask of the wrong size.
    """
    for name, value in (("input", input), ("offset", offset), ("weight", weight)):
        if not isinstance(value, Tensor):
            raise ArgumentTypeError(f"deform_conv2d: {name} must be a Tensor, got {type(value).__name__}")
    bias = _as_tensor(bias, "bias")
    mask = _as_tensor(mask, "mask")
    dtypes = {t.dtype for t in (input, offset, weight, bias, mask) if t is not None}
    if len(dtypes) != 1 or input.dtype.kind != "f":
        raise DTypeError(f"deform_conv2d: input, offset, weight, bias and mask must share one floating dtype, "
                        f"got {sorted(str(d) for d in dtypes)}")
    stride = ntuple(stride, 2, "stride", "deform_conv2d")
    padding = ntuple(padding, 2, "padding", "deform_conv2d")
    dilation = ntuple(dilation, 2, "dilation", "deform_conv2d")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ArgumentError(f"deform_conv2d: expected stride >= 1, dilation >= 1, padding >= 0, got "
                            f"stride={stride}, padding={padding}, dilation={dilation}")
    _check_shapes(input.shape, offset.shape, weight.shape, None if bias is None else bias.shape,
                  None if mask is None else mask.shape, stride, padding, dilation)
    return DeformConv2dFunction.apply(input, offset, weight, bias, mask,
                                      stride=stride, padding=padding, dilation=dilation)


def _check_shapes(x_shape, off_shape, w_shape, b_shape, m_shape, stride, padding, dilation):
    if len(x_shape) != 4 or len(w_shape) != 4 or len(off_shape) != 4:
        raise ShapeError(f"deform_conv2d: expected 4-D input, offset and weight, got input "
                         f"{shape_str(x_shape)}, offset {shape_str(off_shape)}, weight {shape_str(w_shape)}")
    n, c = x_shape[:2]
    cout, cin_g, kh, kw = w_shape
    if cin_g == 0 or c % cin_g or cout % (c // cin_g):
        raise ShapeError(f"deform_conv2d: weight {shape_str(w_shape)} does not fit input with {c} channels "
                         f"(C_in must be a multiple of weight.shape[1] and C_out of the groups)")
    expected = DeformConv2dFunction.output_shape(x_shape, off_shape, w_shape, stride=stride,
                                                 padding=padding, dilation=dilation)
    if expected[2] < 1 or expected[3] < 1:
        raise ShapeError(f"deform_conv2d: input {shape_str(x_shape)} is too small for a {kh}x{kw} kernel "
                         f"with padding {padding} and dilation {dilation}")
    taps = kh * kw
    if off_shape[0] != n or off_shape[1] % (2 * taps) or off_shape[1] == 0 or tuple(off_shape[2:]) != expected[2:]:
        raise ShapeError(f"deform_conv2d: expected offset of shape (N={n}, 2 * offset_groups * {taps}, "
                         f"{expected[2]}, {expected[3]}), got {shape_str(off_shape)}")
    offset_groups = off_shape[1] // (2 * taps)
    if c % offset_groups:
        raise ShapeError(f"deform_conv2d: offset_groups={offset_groups} (from offset {shape_str(off_shape)}) "
                         f"must divide the {c} input channels")
    if b_shape is not None and tuple(b_shape) != (cout,):
        raise ShapeError(f"deform_conv2d: expected bias of shape ({cout},), got {shape_str(b_shape)}")
    if m_shape is not None and tuple(m_shape) != (n, offset_groups * taps) + expected[2:]:
        raise ShapeError(f"deform_conv2d: expected mask of shape {shape_str((n, offset_groups * taps) + expected[2:])}, "
                         f"got {shape_str(m_shape)}")
