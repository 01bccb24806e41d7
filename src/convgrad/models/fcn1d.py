"""The fully convolutional network for time series (FCN) of Wang, Yan & Oates (2017), "Time
series classification from scratch with deep neural networks: a strong baseline".

    input  C x L   (C channels: 1 for a univariate series, 6 for BasicMotions)
    block1 conv1d 128 maps, kernel 8, 'same' -> BN -> ReLU     -> 128 x L
    block2 conv1d 256 maps, kernel 5, 'same' -> BN -> ReLU     -> 256 x L
    block3 conv1d 128 maps, kernel 3, 'same' -> BN -> ReLU     -> 128 x L
    gap    global average pooling over time                    -> 128
    fc     linear 128 -> num_classes (softmax in the loss)

No pooling and no striding, so any length L >= 1 works and the same weights classify series of
other lengths. 'same' padding of the even kernel 8 puts 3 zeros before and 4 after the series (as
PyTorch and Keras do). 264,962 parameters for one channel and 2 classes.
"""
from .. import nn
from ..errors import ArgumentError
from .base import ZooModel, register_model


def conv_bn_relu_1d(in_channels, out_channels, kernel_size):
    """``Conv1d('same') -> BatchNorm1d -> ReLU``, the FCN's block (a Sequential: 0 conv, 1 bn, 2 relu)."""
    return nn.Sequential(nn.Conv1d(in_channels, out_channels, kernel_size, padding="same"),
                         nn.BatchNorm1d(out_channels), nn.ReLU())


def check_sizes(name, **sizes):
    for key, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ArgumentError(f"{name}: {key} must be a positive integer, got {value!r}")


class FCN1d(ZooModel):
    """FCN for series classification, stages ``block1 block2 block3 gap flatten fc``.

    Args:
        num_classes: outputs of ``fc``.
        in_channels: channels of the series (1 univariate; D for a D-dimensional series).
        widths: the three blocks' channels (the paper's 128, 256, 128).
        kernel_sizes: the three blocks' kernel sizes (the paper's 8, 5, 3).

    Shape: input ``(N, in_channels, L)``, any ``L >= 1``; output ``(N, num_classes)`` logits.

    Example::

        >>> net = convgrad.models.fcn1d(num_classes=4, in_channels=6)
        >>> net(convgrad.randn(2, 6, 100)).shape
        convgrad.Size([2, 4])
    """

    def __init__(self, num_classes=2, in_channels=1, widths=(128, 256, 128), kernel_sizes=(8, 5, 3)):
        super().__init__()
        check_sizes("FCN1d", num_classes=num_classes, in_channels=in_channels)
        if len(widths) != 3 or len(kernel_sizes) != 3:
            raise ArgumentError(f"FCN1d: widths and kernel_sizes need 3 entries each, got {widths} and "
                                f"{kernel_sizes}")
        c1, c2, c3 = widths
        k1, k2, k3 = kernel_sizes
        self.block1 = conv_bn_relu_1d(in_channels, c1, k1)
        self.block2 = conv_bn_relu_1d(c1, c2, k2)
        self.block3 = conv_bn_relu_1d(c2, c3, k3)
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c3, num_classes)

    def natural_input_size(self):
        """``(in_channels, 128)``: any length works (global average pooling); 128 is a typical
        UCR series length, used by ``summary`` when no input size is given."""
        return (self.block1[0].in_channels, 128)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(x)))
        return self.fc(self.flatten(self.gap(x)))


@register_model
def fcn1d(num_classes=2, in_channels=1, widths=(128, 256, 128), kernel_sizes=(8, 5, 3)):
    """Wang et al.'s FCN for time series (264,962 parameters for 1 channel, 2 classes); see :class:`FCN1d`."""
    return FCN1d(num_classes=num_classes, in_channels=in_channels, widths=tuple(widths),
                 kernel_sizes=tuple(kernel_sizes))
