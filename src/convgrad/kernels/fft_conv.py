"""Convolution through the Fourier transform (the convolution theorem), on raw NumPy arrays.

A convolutional layer computes a cross-correlation: ``y[n, o, p] = sum_{c, i} x[n, c, p + i] w[o, c, i]``
(``p`` and ``i`` run over the spatial axes). Transforming both operands to length ``L`` turns that
sum over ``i`` into a product per frequency ``f``::

    Y[n, o, f] = sum_c X[n, c, f] * conj(W[o, c, f])        (cross-correlation)

and the sum over channels becomes one small matrix product per frequency. With ``L`` at least the
padded input length nothing wraps around, so the first ``S - K + 1`` entries of the inverse
transform are exactly the sliding-window result. The cost is ``O(S log S)`` per channel pair
whatever the kernel size, against ``O(S K)`` for im2col, so it pays for large kernels.

The backward rules are transforms too:
    grad_x = full convolution of grad_y with w   -> G[n, o, f] * W[o, c, f]   (no conjugate)
    grad_w = correlation of x with grad_y        -> sum_n conj(G[n, o, f]) * X[n, c, f]

Strides are done by computing the stride-1 result and keeping every ``stride``-th entry (and, in
backward, by spreading the gradient back onto the stride-1 grid with zeros in between);
dilation by spreading the kernel taps apart with zeros. Any number of spatial axes.
"""
import numpy as np


def next_fast_len(n):
    """The smallest 5-smooth integer (2^a 3^b 5^c) >= n: the lengths NumPy's FFT is fastest at."""
    best = 1 << max(0, int(n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def dilate(weight, dilation):
    """Spread the kernel taps ``dilation`` apart with zeros: size k -> dilation * (k - 1) + 1."""
    if all(d == 1 for d in dilation):
        return weight
    nd = len(dilation)
    spatial = weight.shape[-nd:]
    shape = weight.shape[:-nd] + tuple(d * (k - 1) + 1 for d, k in zip(dilation, spatial))
    out = np.zeros(shape, weight.dtype)
    out[(Ellipsis,) + tuple(slice(None, None, d) for d in dilation)] = weight
    return out


def _channel_product(a, b, groups, conj_b):
    """One small matrix product per frequency and group, summing over the shared channels.

    a: (N, G * Ca, *F), b: (G * Ob, Ca, *F) -> (N, G * Ob, *F) with
    out[n, g*Ob + o, f] = sum_c a[n, g*Ca + c, f] * b[g*Ob + o, c, f]  (b conjugated if conj_b).
    """
    n = a.shape[0]
    freq = a.shape[2:]
    ca = a.shape[1] // groups
    ob = b.shape[0] // groups
    nf = int(np.prod(freq))
    a_t = a.reshape(n, groups, ca, nf).transpose(1, 3, 0, 2)            # (G, F, N, Ca)
    b_g = np.conj(b) if conj_b else b
    b_t = b_g.reshape(groups, ob, ca, nf).transpose(0, 3, 2, 1)         # (G, F, Ca, Ob)
    out = np.matmul(a_t, b_t)                                           # (G, F, N, Ob)
    return out.transpose(2, 0, 3, 1).reshape((n, groups * ob) + freq)


def rfftn_padded(a, lengths):
    """``np.fft.rfftn(a, s=lengths)`` over the trailing axes, done axis by axis so that each
    transform runs only over the rows that are not yet known to be zero padding (a 3x3 kernel
    padded to 72x72 costs 3 row transforms, not 72, in the first pass)."""
    nd = len(lengths)
    out = np.fft.rfft(a, n=lengths[-1], axis=-1)
    for i in reversed(range(nd - 1)):
        out = np.fft.fft(out, n=lengths[i], axis=i - nd)
    return out


def irfftn_cropped(a, lengths, keep):
    """``np.fft.irfftn(a, s=lengths)[..., keep[0], keep[1], ...]`` for one slice per axis,
    slicing after each axis so the later inverse transforms skip what would be thrown away."""
    nd = len(lengths)
    out = a
    for i in range(nd - 1):
        out = np.fft.ifft(out, n=lengths[i], axis=i - nd)
        out = out[(Ellipsis, keep[i]) + (slice(None),) * (nd - 1 - i)]
    out = np.fft.irfft(out, n=lengths[-1], axis=-1)
    return out[..., keep[-1]]


def fft_conv_forward(x_padded, weight, stride, dilation, groups):
    """Cross-correlate an already padded input with a weight through the FFT.

    Args:
        x_padded: (N, C, *S) input with its padding applied.
        weight: (O, C / groups, *K).
        stride, dilation: one int per spatial axis.

    Returns:
        (out, cache): out (N, O, *S_out) with S_out = (S - dilation*(K-1) - 1) // stride + 1, and
        what :func:`fft_conv_backward` needs.
    """
    w_eff = dilate(weight, dilation)
    spatial = x_padded.shape[2:]
    k_eff = w_eff.shape[2:]
    valid = tuple(s - k + 1 for s, k in zip(spatial, k_eff))
    lengths = tuple(next_fast_len(s) for s in spatial)
    xf = rfftn_padded(x_padded, lengths)
    wf = rfftn_padded(w_eff, lengths)
    yf = _channel_product(xf, wf, groups, conj_b=True)
    out = irfftn_cropped(yf, lengths, [slice(0, v, s) for v, s in zip(valid, stride)])
    cache = (xf, wf, lengths, spatial, valid, k_eff, weight.shape, stride, dilation, groups)
    return np.ascontiguousarray(out, dtype=x_padded.dtype), cache


def fft_conv_backward(cache, grad, need_input=True, need_weight=True):
    """Gradients of :func:`fft_conv_forward` w.r.t. the padded input and the weight."""
    xf, wf, lengths, spatial, valid, k_eff, w_shape, stride, dilation, groups = cache
    n, o = grad.shape[:2]
    if any(s > 1 for s in stride):  # back onto the stride-1 grid, zeros where no output was kept
        spread = np.zeros((n, o) + valid, grad.dtype)
        spread[(Ellipsis,) + tuple(slice(0, v, s) for v, s in zip(valid, stride))] = grad
        grad = spread
    gf = rfftn_padded(grad, lengths)
    gx = gw = None
    if need_input:
        # grad_x[n, c] = sum_o G[n, o] W[o, c]: the product with the channel roles swapped
        wf_t = _swap_group_channels(wf, groups)
        gxf = _channel_product(gf, wf_t, groups, conj_b=False)
        gx = np.ascontiguousarray(irfftn_cropped(gxf, lengths, [slice(0, s) for s in spatial]), dtype=grad.dtype)
    if need_weight:
        gw = _weight_correlation(xf, gf, groups)
        gw = irfftn_cropped(gw, lengths, [slice(0, k, d) for k, d in zip(k_eff, dilation)])
        gw = np.ascontiguousarray(gw, dtype=grad.dtype).reshape(w_shape)
    return gx, gw


def _swap_group_channels(wf, groups):
    """(G*Og, Cg, F...) -> (G*Cg, Og, F...): per group, the transposed channel matrix."""
    o, cg = wf.shape[:2]
    og = o // groups
    freq = wf.shape[2:]
    return wf.reshape((groups, og, cg) + freq).swapaxes(1, 2).reshape((groups * cg, og) + freq)


def _weight_correlation(xf, gf, groups):
    """sum_n conj(G[n, o, f]) X[n, c, f] for each group: (G*Og, Cg, F...)."""
    n, c = xf.shape[:2]
    o = gf.shape[1]
    freq = xf.shape[2:]
    nf = int(np.prod(freq))
    cg, og = c // groups, o // groups
    g_t = np.conj(gf).reshape(n, groups, og, nf).transpose(1, 3, 2, 0)  # (G, F, Og, N)
    x_t = xf.reshape(n, groups, cg, nf).transpose(1, 3, 0, 2)           # (G, F, N, Cg)
    out = np.matmul(g_t, x_t)                                           # (G, F, Og, Cg)
    return out.transpose(0, 2, 3, 1).reshape((o, cg) + freq)
