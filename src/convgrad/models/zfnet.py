"""ZF Net (Zeiler & Fergus, 2013), as the lecture computes it for a 224x224x3 input.

    H_out = floor((H + 2p - k) / s) + 1          (convolution, and max-pool with ceil instead of floor)

    conv1  7x7/2, 96 maps, padding 1   floor((224 + 2 - 7) / 2) + 1 = 110      -> 96 x 110 x 110
    pool1  3x3/2 overlapping max-pool  ceil((110 - 3) / 2) + 1      = 55       -> 96 x 55 x 55
    conv2  5x5/2, 256 maps             floor((55 - 5) / 2) + 1      = 26       -> 256 x 26 x 26
    pool2  3x3/2                       ceil((26 - 3) / 2) + 1       = 13       -> 256 x 13 x 13
    conv3  3x3/1, 384 maps, padding 1                                  13       -> 384 x 13 x 13
    conv4  3x3/1, 384 maps, padding 1                                  13       -> 384 x 13 x 13
    conv5  3x3/1, 256 maps, padding 1                                  13       -> 256 x 13 x 13
    pool5  3x3/2                       ceil((13 - 3) / 2) + 1       = 6        -> 256 x 6 x 6
    fc6    256*6*6 = 9216 -> 4096,  fc7 4096 -> 4096,  fc8 4096 -> num_classes

The pools round up (``ceil_mode=True``, as Caffe did), which is what gives 55 and 13 from 110 and 26.
The layout follows torchvision's AlexNet: ``features`` (conv/ReLU/pool, indices 0..13), ``avgpool``
(AdaptiveAvgPool2d((6, 6)), a no-op at 224x224 that lets other input sizes reach the classifier) and
``classifier`` (Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear). With ``lrn=True`` the
paper's contrast normalisation across feature maps (LocalResponseNorm, size 5) follows pool1 and
pool2, shifting the later ``features`` indices.
"""
from .. import nn
from .alexnet import AlexNet, classifier_head
from .base import ZooModel, register_model


class ZFNet(ZooModel):
    """ZF Net. Input (N, in_channels, H, W) with H, W >= 63; output (N, num_classes)."""

    natural_side = 224

    def __init__(self, num_classes=1000, in_channels=3, lrn=False, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, kernel_size=7, stride=2, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True), *_contrast_norm(lrn),
            nn.Conv2d(96, 256, kernel_size=5, stride=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True), *_contrast_norm(lrn),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = classifier_head(num_classes, dropout)

    forward = AlexNet.forward  # the same features -> avgpool -> flatten -> classifier pass


def _contrast_norm(enabled):
    return [nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)] if enabled else []


@register_model
def zfnet(num_classes=1000, in_channels=3, lrn=False, dropout=0.5):
    """ZF Net as the lecture computes it (see the module docstring for every shape)."""
    return ZFNet(num_classes=num_classes, in_channels=in_channels, lrn=lrn, dropout=dropout)
