"""Network in Network (Lin, Chen & Yan, 2013).

An mlpconv block is a spatial convolution followed by two 1x1 convolutions, each with ReLU: a small
multilayer perceptron slid over every position (a 1x1 convolution is a fully connected layer
applied per pixel). The head has no fully connected layer: the last 1x1 convolution has one map
per class and global average pooling turns each map into that class's score, so any input size
large enough for the pools works. Dropout follows every block except the last, as in the paper.

``nin()`` (``variant="imagenet"``, the default) is the ImageNet model of the authors' Caffe release:

    block1  conv 11x11/4 96   -> 1x1 96  -> 1x1 96     pool1 3x3/2   dropout
    block2  conv 5x5/1 256 p2 -> 1x1 256 -> 1x1 256    pool2 3x3/2   dropout
    block3  conv 3x3/1 384 p1 -> 1x1 384 -> 1x1 384    pool3 3x3/2   dropout
    block4  conv 3x3/1 1024 p1 -> 1x1 1024 -> 1x1 num_classes        global average pool

(224x224 input: 54 -> 27 -> 13 -> 6, the pools round up as Caffe's do). ``variant="cifar"`` is the
paper's CIFAR-10 model for 32x32 inputs (192 maps, 5x5/5x5/3x3 convs, 3x3/2 max then average pool):

    block1  conv 5x5 192 p2 -> 1x1 160 -> 1x1 96       max-pool 3x3/2  dropout
    block2  conv 5x5 192 p2 -> 1x1 192 -> 1x1 192      avg-pool 3x3/2  dropout
    block3  conv 3x3 192 p1 -> 1x1 192 -> 1x1 num_classes              global average pool

Stages: ``block1``, ``pool1``, ``dropout1``, ..., the last ``blockN``, ``avgpool``.
"""
from collections import OrderedDict

from .. import nn
from ..errors import ArgumentError
from .base import ZooModel, register_model

F = nn.functional

# (kernel, padding, stride, widths of the three convs) per block, and the pool after each block
VARIANTS = {
    "imagenet": {
        "blocks": [(11, 0, 4, (96, 96, 96)), (5, 2, 1, (256, 256, 256)), (3, 1, 1, (384, 384, 384)),
                   (3, 1, 1, (1024, 1024, None))],
        "pools": ["max", "max", "max"],
    },
    "cifar": {
        "blocks": [(5, 2, 1, (192, 160, 96)), (5, 2, 1, (192, 192, 192)), (3, 1, 1, (192, 192, None))],
        "pools": ["max", "avg"],
    },
}


def mlpconv(in_channels, widths, kernel_size, stride=1, padding=0):
    """A spatial convolution then two 1x1 convolutions, each followed by ReLU."""
    layers, channels = [], in_channels
    for i, width in enumerate(widths):
        k, s, p = (kernel_size, stride, padding) if i == 0 else (1, 1, 0)
        layers += [nn.Conv2d(channels, width, kernel_size=k, stride=s, padding=p), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers)


class NiN(ZooModel):
    """Network in Network; see the module docstring for the two variants."""

    def __init__(self, num_classes=1000, in_channels=3, variant="imagenet", dropout=0.5):
        super().__init__()
        if variant not in VARIANTS:
            raise ArgumentError(f"nin: unknown variant {variant!r}; choose one of {sorted(VARIANTS)}")
        self.natural_side = 224 if variant == "imagenet" else 32
        spec = VARIANTS[variant]
        stages, channels = OrderedDict(), in_channels
        for i, (kernel, padding, stride, widths) in enumerate(spec["blocks"], start=1):
            widths = tuple(num_classes if w is None else w for w in widths)
            stages[f"block{i}"] = mlpconv(channels, widths, kernel, stride, padding)
            channels = widths[-1]
            if i <= len(spec["pools"]):
                pool = nn.MaxPool2d if spec["pools"][i - 1] == "max" else nn.AvgPool2d
                stages[f"pool{i}"] = pool(kernel_size=3, stride=2, ceil_mode=True)
                stages[f"dropout{i}"] = nn.Dropout(p=dropout)
        for name, module in stages.items():
            setattr(self, name, module)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return F.flatten(x, 1)


@register_model
def nin(num_classes=1000, in_channels=3, variant="imagenet", dropout=0.5):
    """Network in Network, ImageNet variant by default (``variant="cifar"`` for 32x32 inputs)."""
    return NiN(num_classes=num_classes, in_channels=in_channels, variant=variant, dropout=dropout)
