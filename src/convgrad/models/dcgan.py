"""DCGAN (Radford, Metz & Chintala, 2016): a transposed-convolution generator and a convolutional
discriminator, with batch normalisation, sized for small images (28x28 MNIST by default).

For ``image_size=28`` and ``width=32`` (the side is halved until it is between 4 and 7: 28 -> 14 -> 7)::

    generator      z (N, latent_dim) viewed as (N, latent_dim, 1, 1)
                   convT 7x7/1 -> 64 x 7 x 7    BN ReLU      (the first side s0 = 7)
                   convT 4x4/2 -> 32 x 14 x 14  BN ReLU
                   convT 4x4/2 -> C x 28 x 28   Tanh         images in [-1, 1]
    discriminator  conv 4x4/2 -> 32 x 14 x 14   LeakyReLU(0.2)     (no BN on the input layer)
                   conv 4x4/2 -> 64 x 7 x 7     BN LeakyReLU(0.2)
                   conv 7x7/1 -> 1 x 1 x 1      flatten: one logit per image

The paper's rules: strided (transposed) convolutions instead of pooling, batch norm in both nets
except the generator's output and the discriminator's input, ReLU in the generator, LeakyReLU in
the discriminator, tanh output, weights from N(0, 0.02) (batch-norm scales from N(1, 0.02)).
``image_size=64`` gives the paper's 4 -> 8 -> 16 -> 32 -> 64 generator.

    gan = convgrad.models.dcgan(latent_dim=64)
    images = gan.generate(z)          # = gan.generator(z), (N, C, H, W) in [-1, 1]
    logits = gan.discriminator(x)     # (N, 1)
    gan(z)                            # the generator (what export and summary see)

Train with :class:`convgrad.training.objectives.GAN` (two optimizers, alternating steps).
"""
from .. import nn
from ..errors import ArgumentError, ShapeError
from .base import ZooModel, register_model


def _stages(image_size):
    """``(s0, n)``: the first side (4..7) and the number of stride-2 stages to reach ``image_size``."""
    side, n = int(image_size), 0
    while side > 7 and side % 2 == 0:
        side //= 2
        n += 1
    if not 4 <= side <= 7 or n < 1:
        raise ArgumentError(f"dcgan: image_size must be a side from 4..7 doubled at least once (e.g. 28, 32, 56, "
                            f"64), got {image_size}")
    return side, n


class Generator(nn.Module):
    """Latent vectors (N, latent_dim) -> images (N, channels, image_size, image_size) in [-1, 1]."""

    def __init__(self, latent_dim, channels, image_size, width):
        super().__init__()
        s0, n = _stages(image_size)
        self.latent_dim = latent_dim
        maps = [width * 2 ** (n - 1 - i) for i in range(n)]  # e.g. [64, 32] for n = 2
        layers = [nn.ConvTranspose2d(latent_dim, maps[0], kernel_size=s0, stride=1, padding=0, bias=False),
                  nn.BatchNorm2d(maps[0]), nn.ReLU()]
        for a, b in zip(maps, maps[1:]):
            layers += [nn.ConvTranspose2d(a, b, kernel_size=4, stride=2, padding=1, bias=False), nn.BatchNorm2d(b),
                       nn.ReLU()]
        layers += [nn.ConvTranspose2d(maps[-1], channels, kernel_size=4, stride=2, padding=1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z):
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ShapeError(f"dcgan generator: expected latent vectors of shape (N, {self.latent_dim}), got "
                             f"{tuple(z.shape)}")
        return self.main(z.reshape(z.shape[0], self.latent_dim, 1, 1))


class Discriminator(nn.Module):
    """Images (N, channels, image_size, image_size) -> one logit each, (N, 1)."""

    def __init__(self, channels, image_size, width):
        super().__init__()
        s0, n = _stages(image_size)
        self.input_shape = (channels, image_size, image_size)
        maps = [width * 2 ** i for i in range(n)]  # e.g. [32, 64]
        layers = [nn.Conv2d(channels, maps[0], kernel_size=4, stride=2, padding=1, bias=False), nn.LeakyReLU(0.2)]
        for a, b in zip(maps, maps[1:]):
            layers += [nn.Conv2d(a, b, kernel_size=4, stride=2, padding=1, bias=False), nn.BatchNorm2d(b),
                       nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(maps[-1], 1, kernel_size=s0, stride=1, padding=0, bias=False), nn.Flatten()]
        self.main = nn.Sequential(*layers)

    def forward(self, x):
        if x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape:
            raise ShapeError(f"dcgan discriminator: expected images of shape (N, {', '.join(map(str, self.input_shape))}), "
                             f"got {tuple(x.shape)}")
        return self.main(x)


class DCGAN(ZooModel):
    """The generator and discriminator of a DCGAN as one model; stages ``generator``, ``discriminator``.

    Args:
        latent_dim: size of the latent vector z.
        in_channels: channels of the images (1 grey, 3 colour).
        image_size: side of the square images (28, 32, 56, 64 ...).
        width: maps of the discriminator's first convolution (= the generator's last hidden layer);
            they double at each stage.

    ``model(z)`` runs the generator; ``model.discriminator(x)`` the discriminator.
    """

    def __init__(self, latent_dim=64, in_channels=1, image_size=28, width=32):
        super().__init__()
        for name, value in (("latent_dim", latent_dim), ("in_channels", in_channels), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ArgumentError(f"dcgan: {name} must be a positive integer, got {value!r}")
        self.latent_dim, self.in_channels, self.image_size = latent_dim, in_channels, int(image_size)
        self.generator = Generator(latent_dim, in_channels, image_size, width)
        self.discriminator = Discriminator(in_channels, image_size, width)
        self.reset_parameters()

    def reset_parameters(self):
        """DCGAN's initialisation: convolutions N(0, 0.02), batch-norm weights N(1, 0.02), biases 0."""
        from .. import backend

        rng = backend.get_rng()
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                m.weight.data[...] = rng.normal(0.0, 0.02, m.weight.shape)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data[...] = rng.normal(1.0, 0.02, m.weight.shape)
                m.bias.data[...] = 0.0

    def generate(self, z):
        """Latent vectors (N, latent_dim) -> images (N, C, H, W) in [-1, 1]."""
        return self.generator(z)

    def sample(self, n, dtype=None):
        """``n`` images from z ~ N(0, I) (drawn from convgrad's global generator)."""
        from ..creation import randn

        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ArgumentError(f"dcgan.sample: n must be a positive integer, got {n!r}")
        return self.generator(randn(n, self.latent_dim, dtype=dtype))

    def forward(self, z):
        return self.generator(z)


@register_model
def dcgan(latent_dim=64, in_channels=1, image_size=28, width=32):
    """A DCGAN for small images (28x28 grey by default); see :class:`DCGAN`.

    Example::

        >>> gan = convgrad.models.dcgan(latent_dim=64)
        >>> gan.generate(convgrad.randn(4, 64)).shape
        convgrad.Size([4, 1, 28, 28])
    """
    return DCGAN(latent_dim=latent_dim, in_channels=in_channels, image_size=image_size, width=width)
