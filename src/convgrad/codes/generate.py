"""Drawing new images: samples from a VAE's or a GAN's latent space, and walks between two images.

A generative checkpoint is a model with ``generator(z)`` (a GAN: ``dcgan``) or ``decode(z)`` (a
VAE: ``vae``; a plain autoencoder's decoder works too, though its codes were never made to look
like N(0, I)). ``sample`` draws ``z ~ N(0, I)`` with a seeded generator and decodes it;
``interpolate`` encodes two images (the VAE's mean code), walks the straight line between the two
codes in ``steps`` equal steps and decodes every point, so the first and last images are the
reconstructions of A and B.
"""
import numpy as np

from .. import nn
from ..errors import ArgumentError, ConvgradError, ShapeError
from ..tensor import Tensor, no_grad


class GenerationError(ConvgradError, ValueError):
    """The model cannot generate (a classifier), or cannot encode (a GAN asked to interpolate)."""


def _name(model):
    return (getattr(model, "model_config", None) or {}).get("name") or type(model).__name__


def _decoder(model):
    if hasattr(model, "generator"):
        return model.generator
    if hasattr(model, "decode"):
        return model.decode
    raise GenerationError(f"{_name(model)} is not a generative model (no decode() or generator()): generate "
                          "needs a VAE or GAN checkpoint (vae, dcgan)")


def latent_dim(model):
    """Length of the model's latent vector: ``model.latent_dim``, else its builder's ``latent_dim`` /
    ``code_dim`` argument, else the input width of the decoder's first Linear layer."""
    for value in (getattr(model, "latent_dim", None), getattr(model, "code_dim", None)):
        if isinstance(value, int):
            return value
    kwargs = (getattr(model, "model_config", None) or {}).get("kwargs", {})
    for key in ("latent_dim", "code_dim", "nz"):
        if isinstance(kwargs.get(key), int):
            return kwargs[key]
    decoder = getattr(model, "generator", None) or getattr(model, "decoder_fc", None)
    if decoder is not None:
        for m in decoder.modules():
            if isinstance(m, nn.Linear):
                return m.in_features
            if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d)):
                return m.in_channels
    raise GenerationError(f"cannot tell the latent size of {_name(model)}")


def decode(model, z):
    """Images (N, C, H, W) float32 from latent vectors ``z`` (N, latent_dim), under ``no_grad``.

    A generator that wants ``(N, latent, 1, 1)`` (DCGAN's transposed-convolution stack) gets that.
    """
    run = _decoder(model)
    z = np.asarray(z, dtype=np.float32)
    model.eval()
    with no_grad():
        try:
            out = run(Tensor(z))
        except ShapeError:
            out = run(Tensor(z.reshape(z.shape + (1, 1))))
    return np.asarray(out.numpy(), dtype=np.float32)


def sample(model, n=64, seed=0):
    """``n`` images decoded from ``z ~ N(0, I)`` drawn with ``numpy.random.default_rng(seed)``.

    Raises:
        GenerationError: the model has no decoder or generator (e.g. a classifier).

    Example:
        >>> images = sample(convgrad.load("vae.npz"), n=16, seed=0)   # (16, 1, 28, 28)  # doctest: +SKIP
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ArgumentError(f"sample: n must be a positive integer, got {n!r}")
    _decoder(model)
    z = np.random.default_rng(seed).standard_normal((int(n), latent_dim(model))).astype(np.float32)
    return decode(model, z)


def encode(model, images):
    """Latent codes (N, latent) of preprocessed images (a VAE's mean)."""
    if not hasattr(model, "encode"):
        raise GenerationError(f"{_name(model)} has no encoder: interpolating between images needs a VAE "
                              "(or an autoencoder)")
    model.eval()
    with no_grad():
        out = model.encode(Tensor(np.asarray(images, dtype=np.float32)))
    out = out[0] if isinstance(out, (tuple, list)) else out
    return np.asarray(out.numpy(), dtype=np.float32)


def interpolate(model, a, b, steps=10):
    """``steps`` images along the straight line between the codes of images ``a`` and ``b``.

    Args:
        model: a VAE (or autoencoder) with ``encode`` and ``decode``.
        a, b: preprocessed images (C, H, W) or (1, C, H, W).
        steps: number of images, at least 2 (the ends included).

    Returns:
        (steps, C, H, W) float32.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ArgumentError(f"interpolate: steps must be an integer >= 2, got {steps!r}")
    pair = np.concatenate([np.asarray(a, np.float32).reshape((1,) + np.shape(a)[-3:]),
                           np.asarray(b, np.float32).reshape((1,) + np.shape(b)[-3:])])
    z_a, z_b = encode(model, pair)
    t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[:, None]
    return decode(model, (1 - t) * z_a + t * z_b)
