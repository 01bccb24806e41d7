"""LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998), as the lectures draw it.

    input  1x32x32  (or 1x28x28 MNIST, padded by 2 in conv1)
    conv1  6 maps 5x5         -> 6x28x28     156 parameters
    pool1  2x2 subsampling    -> 6x14x14
    conv2  16 maps 5x5        -> 16x10x10  2,416 parameters
    pool2  2x2 subsampling    -> 16x5x5
    fc1    400 -> 120                     48,120 parameters
    fc2    120 -> 84                      10,164 parameters
    fc3    84 -> 10                          850 parameters      total 61,706

``variant="modern"`` (the default, as in ``convgrad train``): ReLU and max pooling, which trains
faster and further. ``variant="classic"``: tanh and average pooling (the paper's subsampling,
without its trainable coefficient and bias per map, and with conv2 connected to all 6 maps rather
than the paper's sparse table).
"""
from .. import nn
from ..errors import ArgumentError
from .base import ZooModel

VARIANTS = ("classic", "modern")


class LeNet5(ZooModel):
    """LeNet-5 with named stages ``conv1 act1 pool1 conv2 act2 pool2 flatten fc1 act3 fc2 act4 fc3``.

    Args:
        num_classes: outputs of fc3.
        in_channels: channels of the input image.
        variant: "modern" (ReLU + max pooling, the default) or "classic" (tanh + average pooling).
        padding: padding of conv1: 2 for 28x28 input (MNIST), 0 for the paper's 32x32 input.

    Shape: input ``(N, in_channels, 28, 28)`` with ``padding=2`` or ``(N, in_channels, 32, 32)``
    with ``padding=0``; output ``(N, num_classes)`` logits.

    Named activations: ``model(x, return_layers=["conv1", "fc1"])`` returns the dict
    ``{"conv1": ..., "fc1": ..., "output": logits}`` (see :mod:`convgrad.models.base`).
    """

    def __init__(self, num_classes=10, in_channels=1, variant="modern", padding=2):
        super().__init__()
        if variant not in VARIANTS:
            raise ArgumentError(f"LeNet5: variant must be one of {VARIANTS}, got {variant!r}")
        for name, value, low in (("num_classes", num_classes, 1), ("in_channels", in_channels, 1),
                                 ("padding", padding, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ArgumentError(f"LeNet5: {name} must be an integer >= {low}, got {value!r}")
        self.variant = variant
        self.natural_side = 28 + 4 - 2 * padding  # 28 for MNIST with padding 2, 32 for the paper's input
        activation = nn.Tanh if variant == "classic" else nn.ReLU
        pool = nn.AvgPool2d if variant == "classic" else nn.MaxPool2d
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, padding=padding)
        self.act1 = activation()
        self.pool1 = pool(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.act2 = activation()
        self.pool2 = pool(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.act3 = activation()
        self.fc2 = nn.Linear(120, 84)
        self.act4 = activation()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.flatten(x)
        x = self.act3(self.fc1(x))
        x = self.act4(self.fc2(x))
        return self.fc3(x)


def lenet5(num_classes=10, in_channels=1, variant="modern", padding=2):
    """LeNet-5 (61,706 parameters for 10 classes); see :class:`LeNet5`."""
    model = LeNet5(num_classes=num_classes, in_channels=in_channels, variant=variant, padding=padding)
    model.model_config = {"name": "lenet5", "kwargs": {"num_classes": num_classes, "in_channels": in_channels,
                                                       "variant": variant, "padding": padding}}
    return model
