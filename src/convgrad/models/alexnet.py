"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012).

``alexnet()`` is torchvision's layout (the "one weird trick" single-tower variant: 64-192-384-256-256
maps, no normalisation), so a torchvision ``state_dict`` loads as is::

    features   = Conv(11/4, 64) ReLU Pool(3/2)  Conv(5, 192) ReLU Pool(3/2)
                 Conv(3, 384) ReLU  Conv(3, 256) ReLU  Conv(3, 256) ReLU  Pool(3/2)
    avgpool    = AdaptiveAvgPool2d((6, 6))          # 224x224 input: already 6x6, a no-op
    classifier = Dropout Linear(9216, 4096) ReLU Dropout Linear(4096, 4096) ReLU Linear(4096, classes)

``alexnet(lrn=True)`` is the network of the paper: 96-256-384-384-256 maps and local response
normalisation (size 5, alpha 1e-4, beta 0.75, k 2) after the ReLUs of conv1 and conv2, before their
max-pools. With ``groups=2`` conv2, conv4 and conv5 are split in two halves as on the paper's two
GPUs (60,965,224 parameters, Caffe's ``bvlc_alexnet``). Layout difference: the two LRN layers sit in
``features``, so the indices after them shift: the convs are features.0, 4, 8, 10, 12 (torchvision:
0, 3, 6, 8, 10); ``avgpool`` and ``classifier`` are the same as torchvision's.
"""
from .. import nn
from ..errors import ArgumentError
from .base import ZooModel, register_model

F = nn.functional


def _lrn():
    return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)


class AlexNet(ZooModel):
    """AlexNet with torchvision's attribute names (``features``, ``avgpool``, ``classifier``).

    Args:
        num_classes: size of the last Linear layer.
        in_channels: channels of the input image.
        lrn: the paper's variant (96-256-384-384-256 maps and LocalResponseNorm) instead of torchvision's.
        groups: 2 reproduces the paper's two-GPU split of conv2, conv4, conv5 (only with ``lrn=True``).
        dropout: dropout probability in the classifier.

    Shape: input (N, in_channels, H, W), H and W >= 63; output (N, num_classes).
    """

    natural_side = 224

    def __init__(self, num_classes=1000, in_channels=3, lrn=False, groups=1, dropout=0.5):
        super().__init__()
        if groups != 1 and not lrn:
            raise ArgumentError(f"AlexNet: groups={groups} is the paper's two-GPU split and needs lrn=True "
                                "(torchvision's layout has no groups)")
        self.features = _paper_features(in_channels, groups) if lrn else _torchvision_features(in_channels)
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = classifier_head(num_classes, dropout)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = F.flatten(x, 1)
        return self.classifier(x)


def classifier_head(num_classes, dropout):
    """AlexNet's (and ZF Net's) three fully connected layers on 256 maps of 6x6: 9216-4096-4096-classes."""
    return nn.Sequential(
        nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
        nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(),
        nn.Linear(4096, num_classes),
    )


def _torchvision_features(in_channels):
    return nn.Sequential(
        nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


def _paper_features(in_channels, groups):
    return nn.Sequential(
        nn.Conv2d(in_channels, 96, kernel_size=11, stride=4, padding=2), nn.ReLU(), _lrn(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=groups), nn.ReLU(), _lrn(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=groups), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=groups), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


@register_model
def alexnet(num_classes=1000, in_channels=3, lrn=False, groups=1, dropout=0.5):
    """AlexNet; torchvision's layout by default, the paper's with ``lrn=True`` (see the module docstring)."""
    return AlexNet(num_classes=num_classes, in_channels=in_channels, lrn=lrn, groups=groups, dropout=dropout)
