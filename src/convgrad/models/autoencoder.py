"""A convolutional autoencoder with a low-dimensional code, for embedding and finding similar images.

    encoder   conv 3x3/2 (widths[0]) ReLU  conv 3x3/2 (widths[1]) ReLU  flatten  Linear -> code_dim
    decoder   Linear -> widths[1] x h x w  ReLU  convT 3x3/2 (widths[0]) ReLU  convT 3x3/2 (in_channels)
              [Sigmoid]

Each stride-2 convolution (padding 1) maps a side n to ceil(n / 2): 28 -> 14 -> 7 for MNIST.
The transposed convolutions undo it exactly, H_out = (H - 1) * 2 - 2 * 1 + 3 + output_padding,
with ``output_padding`` (0 or 1) chosen per stage so any ``input_size`` comes back at its size.
The last activation is a sigmoid by default (targets in [0, 1], e.g. pixels / 255); pass
``output_activation=None`` for standardised inputs.

``encode(x)`` gives the (N, code_dim) codes: images whose codes are close (Euclidean or cosine)
look alike, which is what ``convgrad similar`` searches. ``decode(z)`` draws an image from a code,
and ``model(x)`` is ``decode(encode(x))``, trained with ``mse_loss(model(x), x)``.
"""
from .. import nn
from ..errors import ArgumentError, ShapeError
from .base import ZooModel, register_model


def _downsampled(side):
    return (side + 1) // 2  # floor((n + 2 - 3) / 2) + 1 = ceil(n / 2)


def conv_geometry(height, width, widths):
    """The sides after each stride-2 stage ``[(H, W), (H/2, W/2), (H/4, W/4)]`` (rounded up),
    the code map's shape ``(widths[1], H/4, W/4)`` and its size flattened."""
    sides = [(height, width)]
    for _ in range(2):
        sides.append(tuple(_downsampled(s) for s in sides[-1]))
    code_shape = (widths[1],) + sides[-1]
    return sides, code_shape, code_shape[0] * code_shape[1] * code_shape[2]


def conv_encoder_layers(in_channels, widths):
    """conv 3x3/2 (widths[0]) ReLU  conv 3x3/2 (widths[1]) ReLU  flatten."""
    return [nn.Conv2d(in_channels, widths[0], kernel_size=3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(widths[0], widths[1], kernel_size=3, stride=2, padding=1), nn.ReLU(), nn.Flatten()]


def conv_decoder_layers(widths, in_channels, sides):
    """convT 3x3/2 (widths[0]) ReLU  convT 3x3/2 (in_channels), undoing :func:`conv_encoder_layers`
    exactly: output_padding = target side - (2 * side - 1), per dimension, 0 or 1."""
    pad_mid = tuple(t - (2 * s - 1) for t, s in zip(sides[1], sides[2]))
    pad_out = tuple(t - (2 * s - 1) for t, s in zip(sides[0], sides[1]))
    return [nn.ConvTranspose2d(widths[1], widths[0], kernel_size=3, stride=2, padding=1, output_padding=pad_mid),
            nn.ReLU(),
            nn.ConvTranspose2d(widths[0], in_channels, kernel_size=3, stride=2, padding=1, output_padding=pad_out)]


class ConvAutoencoder(ZooModel):
    """Convolutional autoencoder; stages ``encoder``, ``decoder_fc``, ``decoder``.

    Args:
        in_channels: channels of the images.
        code_dim: length of the code vector.
        input_size: image side (int) or (height, width); at least 4.
        widths: maps of the two encoder convolutions (the decoder mirrors them).
        output_activation: "sigmoid" or None.

    Shape: input (N, in_channels, H, W) of ``input_size``; code (N, code_dim); output like the input.
    """

    def __init__(self, in_channels=1, code_dim=16, input_size=28, widths=(32, 64), output_activation="sigmoid"):
        super().__init__()
        height, width = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        if min(height, width) < 4 or code_dim < 1 or len(widths) != 2:
            raise ArgumentError(f"ConvAutoencoder: need input_size >= 4, code_dim >= 1 and two widths, got "
                                f"input_size={input_size}, code_dim={code_dim}, widths={widths}")
        if output_activation not in ("sigmoid", None):
            raise ArgumentError(f"ConvAutoencoder: output_activation must be 'sigmoid' or None, got "
                                f"{output_activation!r}")
        self.input_size = (height, width)
        sides, self.code_shape, flat = conv_geometry(height, width, widths)
        self.encoder = nn.Sequential(*conv_encoder_layers(in_channels, widths), nn.Linear(flat, code_dim))
        self.decoder_fc = nn.Sequential(nn.Linear(code_dim, flat), nn.ReLU())
        layers = conv_decoder_layers(widths, in_channels, sides)
        if output_activation == "sigmoid":
            layers.append(nn.Sigmoid())
        self.decoder = nn.Sequential(*layers)

    def encode(self, x):
        """Images (N, C, H, W) -> codes (N, code_dim)."""
        if tuple(x.shape[2:]) != self.input_size:
            raise ShapeError(f"ConvAutoencoder: expected images of size {self.input_size}, got shape {tuple(x.shape)}")
        return self.encoder(x)

    def decode(self, z):
        """Codes (N, code_dim) -> images (N, C, H, W)."""
        h = self.decoder_fc(z)
        return self.decoder(h.reshape(h.shape[0], *self.code_shape))

    def natural_input_size(self):
        """``(C, H, W)`` of the images this autoencoder was built for."""
        return (self.encoder[0].in_channels,) + tuple(self.input_size)

    def forward(self, x):
        return self.decode(self.encode(x))


@register_model
def conv_autoencoder(in_channels=1, code_dim=16, input_size=28, widths=(32, 64), output_activation="sigmoid",
                     latent_dim=None):
    """A convolutional autoencoder (MNIST-sized by default); see :class:`ConvAutoencoder`.

    ``latent_dim`` is another name for ``code_dim`` (the name :func:`~convgrad.models.vae` and
    :func:`~convgrad.models.dcgan` use); give one of them.
    """
    if latent_dim is not None:
        if code_dim not in (16, latent_dim):
            raise ArgumentError(f"conv_autoencoder: latent_dim={latent_dim} and code_dim={code_dim} disagree; give one")
        code_dim = latent_dim
    return ConvAutoencoder(in_channels=in_channels, code_dim=code_dim, input_size=input_size, widths=tuple(widths),
                           output_activation=output_activation)
