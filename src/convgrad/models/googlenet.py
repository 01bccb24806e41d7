"""GoogLeNet / Inception v1 (Szegedy et al., 2014) in torchvision's layout.

    conv1 7x7/2 64 -> maxpool1 -> conv2 1x1 64 -> conv3 3x3 192 -> maxpool2
    inception3a, 3b -> maxpool3 -> inception4a (aux1 here) 4b 4c 4d (aux2 here) 4e -> maxpool4
    inception5a, 5b -> avgpool (global) -> dropout 0.2 -> fc 1024 -> num_classes

Every convolution is a ``BasicConv2d``: Conv2d without bias, BatchNorm2d(eps=0.001), ReLU (the
batch-normalised variant torchvision ships; the paper had no BatchNorm). An Inception module runs
four branches on the same input and concatenates their maps: 1x1; 1x1 reduce then 3x3; 1x1
reduce then the "5x5" branch; 3x3/1 max-pool then a 1x1 projection. As in torchvision (and its
pretrained weights), the "5x5" branch uses a 3x3 kernel; ``paper_5x5=True`` builds the paper's 5x5
kernel instead (torchvision weights then no longer fit).

Auxiliary classifiers (``aux_logits=True``): ``aux1`` after inception4a, ``aux2`` after
inception4d, each 4x4 average pool -> 1x1 conv 128 -> fc 1024 -> dropout 0.7 -> fc classes. They run
only in training mode, where the model returns
``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``; in eval mode it returns the logits alone.
Train with :func:`googlenet_loss`, which adds the auxiliary losses weighted by 0.3 as in the paper.

Parameters: 6,624,904 without the auxiliary heads, 13,004,888 with (torchvision's figures).
Input (N, in_channels, H, W) with H, W >= 32 (224 in the paper); the global average pool (and
the auxiliary heads' adaptive 4x4 pool) make the output (N, num_classes) for every such size.
"""
from collections import namedtuple

from .. import nn
from .base import ZooModel, register_model

F = nn.functional

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
GoogLeNetOutputs.__doc__ = "Training-mode output of GoogLeNet with auxiliary heads (torchvision's order)."

AUX_LOSS_WEIGHT = 0.3


class BasicConv2d(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d(eps=0.001) -> ReLU."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches concatenated along channels: ch1x1 + ch3x3 + ch5x5 + pool_proj maps."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, kernel_5x5=3):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=kernel_5x5, padding=kernel_5x5 // 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return F.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: adaptive 4x4 average pool, 1x1 conv 128, fc 2048->1024, ReLU, dropout, fc."""

    def __init__(self, in_channels, num_classes, dropout=0.7):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.relu = nn.ReLU()
        self.dropout = nn.Dropout(p=dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = F.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(self.relu(self.fc1(x))))


# (in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj) of each Inception module (paper's Table 1)
INCEPTION_SPECS = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


class GoogLeNet(ZooModel):
    """Inception v1 with torchvision's attribute names; see the module docstring."""

    natural_side = 224

    def __init__(self, num_classes=1000, aux_logits=True, in_channels=3, dropout=0.2, dropout_aux=0.7,
                 paper_5x5=False, init_weights=True):
        super().__init__()
        self.aux_logits = aux_logits
        kernel_5x5 = 5 if paper_5x5 else 3
        self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name in ("inception3a", "inception3b"):
            setattr(self, name, Inception(*INCEPTION_SPECS[name], kernel_5x5=kernel_5x5))
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name in ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e"):
            setattr(self, name, Inception(*INCEPTION_SPECS[name], kernel_5x5=kernel_5x5))
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        for name in ("inception5a", "inception5b"):
            setattr(self, name, Inception(*INCEPTION_SPECS[name], kernel_5x5=kernel_5x5))
        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights:
            self._init_weights()

    def _init_weights(self):
        # torchvision: truncated normal (std 0.01, cut at +-2) for conv and linear weights
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        with_aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if with_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if with_aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(F.flatten(self.avgpool(x), 1)))
        if with_aux:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet_loss(outputs, target, aux_weight=AUX_LOSS_WEIGHT, **kwargs):
    """Cross-entropy of GoogLeNet's output, plus ``aux_weight`` (0.3) times each auxiliary head's.

    ``outputs`` is what the model returned: ``GoogLeNetOutputs`` in training mode with auxiliary
    heads (loss = CE(logits) + 0.3 * CE(aux_logits1) + 0.3 * CE(aux_logits2)), or plain logits
    (loss = CE(logits)). Extra keyword arguments go to ``cross_entropy`` (e.g. ``label_smoothing``).
    """
    if isinstance(outputs, GoogLeNetOutputs):
        loss = F.cross_entropy(outputs.logits, target, **kwargs)
        for aux in (outputs.aux_logits1, outputs.aux_logits2):
            if aux is not None:
                loss = loss + aux_weight * F.cross_entropy(aux, target, **kwargs)
        return loss
    return F.cross_entropy(outputs, target, **kwargs)


@register_model
def googlenet(num_classes=1000, aux_logits=True, in_channels=3, dropout=0.2, dropout_aux=0.7, paper_5x5=False):
    """GoogLeNet (Inception v1), torchvision's layout; see the module docstring."""
    return GoogLeNet(num_classes=num_classes, aux_logits=aux_logits, in_channels=in_channels, dropout=dropout,
                     dropout_aux=dropout_aux, paper_5x5=paper_5x5)
