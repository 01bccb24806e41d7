"""The residual network for time series of Wang, Yan & Oates (2017), as in the reference code of
Fawaz et al. (2019, "Deep learning for time series classification: a review").

    input   C x L
    block1  [conv 64 k8 -> BN -> ReLU -> conv 64 k5 -> BN -> ReLU -> conv 64 k3 -> BN] + shortcut -> ReLU
    block2  the same with 128 maps
    block3  the same with 128 maps
    gap     global average pooling over time -> 128
    fc      linear 128 -> num_classes

Every convolution has stride 1 and 'same' padding, so the length never changes. The shortcut is
a 1x1 convolution followed by batch norm where the block changes the number of channels (blocks 1
and 2), and batch norm alone where it does not (block 3), as in Fawaz et al.'s code whose results
are the published reference. 504,258 parameters for one channel and 2 classes.
"""
from .. import nn
from .base import ZooModel, register_model
from .fcn1d import check_sizes


class ResidualBlock1d(ZooModel):
    """Three 'same' convolutions (kernels 8, 5, 3) with batch norm, plus a shortcut; stages
    ``conv1 bn1 relu1 conv2 bn2 relu2 conv3 bn3 shortcut relu``."""

    def __init__(self, in_channels, out_channels, kernel_sizes=(8, 5, 3)):
        super().__init__()
        k1, k2, k3 = kernel_sizes
        self.conv1 = nn.Conv1d(in_channels, out_channels, k1, padding="same")
        self.bn1 = nn.BatchNorm1d(out_channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv1d(out_channels, out_channels, k2, padding="same")
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv1d(out_channels, out_channels, k3, padding="same")
        self.bn3 = nn.BatchNorm1d(out_channels)
        if in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv1d(in_channels, out_channels, 1), nn.BatchNorm1d(out_channels))
        else:
            self.shortcut = nn.Sequential(nn.BatchNorm1d(out_channels))
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.relu1(self.bn1(self.conv1(x)))
        y = self.relu2(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + self.shortcut(x))


class ResNet1d(ZooModel):
    """ResNet for series classification, stages ``block1 block2 block3 gap flatten fc``.

    Args:
        num_classes: outputs of ``fc``.
        in_channels: channels of the series.
        widths: the three blocks' channels (the paper's 64, 128, 128).

    Shape: input ``(N, in_channels, L)``, any ``L >= 1``; output ``(N, num_classes)`` logits.

    Example::

        >>> net = convgrad.models.resnet1d(num_classes=6)
        >>> net(convgrad.randn(2, 1, 427)).shape
        convgrad.Size([2, 6])
    """

    def __init__(self, num_classes=2, in_channels=1, widths=(64, 128, 128)):
        super().__init__()
        check_sizes("ResNet1d", num_classes=num_classes, in_channels=in_channels)
        c1, c2, c3 = widths
        self.block1 = ResidualBlock1d(in_channels, c1)
        self.block2 = ResidualBlock1d(c1, c2)
        self.block3 = ResidualBlock1d(c2, c3)
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c3, num_classes)

    def natural_input_size(self):
        """``(in_channels, 128)``: any length works (global average pooling); 128 is a typical
        UCR series length, used by ``summary`` when no input size is given."""
        return (self.block1.conv1.in_channels, 128)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(x)))
        return self.fc(self.flatten(self.gap(x)))


@register_model
def resnet1d(num_classes=2, in_channels=1, widths=(64, 128, 128)):
    """Wang et al.'s 1-D ResNet for time series (504,258 parameters for 1 channel, 2 classes); see
    :class:`ResNet1d`."""
    return ResNet1d(num_classes=num_classes, in_channels=in_channels, widths=tuple(widths))
