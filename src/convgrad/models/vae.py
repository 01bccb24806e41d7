"""A convolutional variational autoencoder (Kingma & Welling, 2014) for small images.

    encoder   conv 3x3/2 (widths[0]) ReLU  conv 3x3/2 (widths[1]) ReLU  flatten
    fc_mu, fc_logvar   Linear -> latent_dim each: the mean and log-variance of q(z | x)
    decoder   Linear latent_dim -> widths[1] x h x w  ReLU  convT 3x3/2 (widths[0]) ReLU
              convT 3x3/2 (in_channels)  Sigmoid

The same geometry as :class:`~convgrad.models.autoencoder.ConvAutoencoder` (28 -> 14 -> 7 for
MNIST, ``output_padding`` chosen so any input size comes back at its size). The decoder ends in
a sigmoid: pixel probabilities in [0, 1], trained with the binary cross-entropy of the ELBO
(:class:`convgrad.training.objectives.VAE`).

    mu, logvar = vae.encode_stats(x)      # q(z | x)
    codes = vae.encode(x)                 # the mean: what embedding and retrieval use
    images = vae.decode(z)                # (N, C, H, W) in [0, 1]
    samples = vae.sample(64)              # decode(z) with z ~ N(0, I) from convgrad's generator
    vae(x)                                # decode(encode(x)), the deterministic reconstruction
"""
from .. import nn
from ..errors import ArgumentError, ShapeError
from .autoencoder import conv_decoder_layers, conv_encoder_layers, conv_geometry
from .base import ZooModel, register_model


class VAE(ZooModel):
    """Convolutional VAE; stages ``encoder``, ``fc_mu``, ``fc_logvar``, ``decoder_fc``, ``decoder``.

    Args:
        in_channels: channels of the images.
        latent_dim: size of the latent vector z.
        input_size: image side (int) or (height, width); at least 4.
        widths: maps of the two encoder convolutions (the decoder mirrors them).

    Shape: input (N, in_channels, H, W) of ``input_size``; codes (N, latent_dim); output like the input.
    """

    def __init__(self, in_channels=1, latent_dim=16, input_size=28, widths=(32, 64)):
        super().__init__()
        height, width = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        if min(height, width) < 4 or latent_dim < 1 or len(widths) != 2 or in_channels < 1:
            raise ArgumentError(f"VAE: need input_size >= 4, latent_dim >= 1, in_channels >= 1 and two widths, got "
                                f"input_size={input_size}, latent_dim={latent_dim}, in_channels={in_channels}, "
                                f"widths={widths}")
        self.input_size, self.latent_dim, self.in_channels = (height, width), int(latent_dim), int(in_channels)
        sides, self.code_shape, flat = conv_geometry(height, width, widths)
        self.encoder = nn.Sequential(*conv_encoder_layers(in_channels, widths))
        self.fc_mu = nn.Linear(flat, latent_dim)
        self.fc_logvar = nn.Linear(flat, latent_dim)
        self.decoder_fc = nn.Sequential(nn.Linear(latent_dim, flat), nn.ReLU())
        self.decoder = nn.Sequential(*conv_decoder_layers(widths, in_channels, sides), nn.Sigmoid())

    def encode_stats(self, x):
        """Images (N, C, H, W) -> ``(mu, logvar)``, each (N, latent_dim): the Gaussian q(z | x)."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.in_channels,) + self.input_size:
            raise ShapeError(f"VAE: expected images of shape (N, {self.in_channels}, {self.input_size[0]}, "
                             f"{self.input_size[1]}), got {tuple(x.shape)}")
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def encode(self, x):
        """Images -> codes (N, latent_dim): the mean of q(z | x)."""
        return self.encode_stats(x)[0]

    def decode(self, z):
        """Latent vectors (N, latent_dim) -> images (N, C, H, W) in [0, 1]."""
        h = self.decoder_fc(z)
        return self.decoder(h.reshape(h.shape[0], *self.code_shape))

    def sample(self, n, dtype=None):
        """``n`` images decoded from z ~ N(0, I) (drawn from convgrad's global generator)."""
        from ..creation import randn

        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ArgumentError(f"VAE.sample: n must be a positive integer, got {n!r}")
        return self.decode(randn(n, self.latent_dim, dtype=dtype or self.fc_mu.weight.dtype))

    def forward(self, x):
        return self.decode(self.encode(x))


@register_model
def vae(in_channels=1, latent_dim=16, input_size=28, widths=(32, 64)):
    """A convolutional variational autoencoder (MNIST-sized by default); see :class:`VAE`.

    Example::

        >>> model = convgrad.models.vae(latent_dim=16)
        >>> model.sample(8).shape
        convgrad.Size([8, 1, 28, 28])
    """
    return VAE(in_channels=in_channels, latent_dim=latent_dim, input_size=input_size, widths=tuple(widths))
