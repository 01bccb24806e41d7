"""VGG (Simonyan & Zisserman, 2014): the paper's six configurations and torchvision's aliases.

Every convolution is 3x3/1 with padding 1 (or 1x1/1 in configuration C), followed by ReLU (and
BatchNorm2d before the ReLU with ``batch_norm=True``); "M" is a 2x2/2 max-pool. Columns of the
paper's Table 1, with conv1-N written ``(N, 1)``:

    A      11 weight layers   vgg11
    A-LRN  A with LocalResponseNorm after the first conv (size 5, alpha 1e-4, beta 0.75, k 2)
    B      13 weight layers   vgg13
    C      16 weight layers   B plus a conv1 as the third conv of blocks 3, 4 and 5
    D      16 weight layers   vgg16 (138,357,544 parameters)
    E      19 weight layers   vgg19

The layout is torchvision's: ``features`` (a Sequential; each conv is followed by [BatchNorm2d,]
ReLU), ``avgpool`` (AdaptiveAvgPool2d((7, 7)), a no-op at 224x224 that lets smaller or larger
inputs reach the classifier) and ``classifier`` (Linear(25088, 4096), ReLU, Dropout,
Linear(4096, 4096), ReLU, Dropout, Linear(4096, num_classes)). Initialisation as torchvision's:
Kaiming normal (fan_out) convs with zero bias, N(0, 0.01) linears with zero bias, BatchNorm 1/0.
"""
from .. import nn
from ..errors import ArgumentError
from .base import ZooModel, register_model

F = nn.functional

CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M",
          512, 512, (512, 1), "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


class VGG(ZooModel):
    """A VGG network built from ``features`` (see :func:`make_layers`).

    Shape: input (N, C, H, W) with H, W >= 32 (five 2x2 pools); output (N, num_classes).
    """

    natural_side = 224

    def __init__(self, features, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = F.flatten(x, 1)
        return self.classifier(x)


def make_layers(config, batch_norm=False, in_channels=3):
    """The ``features`` Sequential of one configuration: a list of widths, ``(width, kernel)``,
    ``"M"`` (max-pool) and ``"LRN"`` (local response normalisation)."""
    layers = []
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif item == "LRN":
            layers.append(nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0))
        else:
            width, kernel = item if isinstance(item, tuple) else (item, 3)
            layers.append(nn.Conv2d(in_channels, width, kernel_size=kernel, padding=kernel // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU())
            in_channels = width
    return nn.Sequential(*layers)


def vgg(config="D", batch_norm=False, num_classes=1000, in_channels=3, dropout=0.5):
    """VGG of the paper's configuration ``"A"``, ``"A-LRN"``, ``"B"``, ``"C"``, ``"D"`` or ``"E"``."""
    if config not in CONFIGS:
        raise ArgumentError(f"vgg: unknown configuration {config!r}; choose one of {sorted(CONFIGS)}")
    return VGG(make_layers(CONFIGS[config], batch_norm, in_channels), num_classes=num_classes, dropout=dropout)


@register_model
def vgg11(**kwargs):
    """VGG-11, configuration A (132,863,336 parameters)."""
    return vgg("A", batch_norm=False, **kwargs)


@register_model
def vgg11_bn(**kwargs):
    """VGG-11 with BatchNorm (132,868,840 parameters)."""
    return vgg("A", batch_norm=True, **kwargs)


@register_model
def vgg13(**kwargs):
    """VGG-13, configuration B (133,047,848 parameters)."""
    return vgg("B", batch_norm=False, **kwargs)


@register_model
def vgg13_bn(**kwargs):
    """VGG-13 with BatchNorm (133,053,736 parameters)."""
    return vgg("B", batch_norm=True, **kwargs)


@register_model
def vgg16(**kwargs):
    """VGG-16, configuration D (138,357,544 parameters)."""
    return vgg("D", batch_norm=False, **kwargs)


@register_model
def vgg16_bn(**kwargs):
    """VGG-16 with BatchNorm (138,365,992 parameters)."""
    return vgg("D", batch_norm=True, **kwargs)


@register_model
def vgg19(**kwargs):
    """VGG-19, configuration E (143,667,240 parameters)."""
    return vgg("E", batch_norm=False, **kwargs)


@register_model
def vgg19_bn(**kwargs):
    """VGG-19 with BatchNorm (143,678,248 parameters)."""
    return vgg("E", batch_norm=True, **kwargs)
