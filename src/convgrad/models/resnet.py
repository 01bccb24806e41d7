"""Residual networks (He et al., 2015): torchvision's ResNet-18..152 and small-image variants.

A residual block computes ``relu(F(x) + shortcut(x))``. ``BasicBlock`` (ResNet-18/34 and the
CIFAR nets): F = conv3x3 -> BN -> ReLU -> conv3x3 -> BN. ``Bottleneck`` (ResNet-50/101/152):
F = conv1x1 (reduce) -> BN -> ReLU -> conv3x3 (stride here, as torchvision's "v1.5") -> BN -> ReLU
-> conv1x1 (expand x4) -> BN. The shortcut is the identity, or, when the stride or the channel
count changes, ``downsample = Sequential(conv1x1(stride), BatchNorm2d)`` (the paper's option B).

Layout (torchvision's names, so its ``state_dict`` loads as is):
``conv1`` (7x7/2, 64) ``bn1`` ``relu`` ``maxpool`` (3x3/2) ``layer1`` .. ``layer4`` ``avgpool``
(global) ``fc``. Initialisation as torchvision's: Kaiming normal (fan_out, relu) convs, BatchNorm
weight 1 and bias 0 (``zero_init_residual=True`` zeroes each block's last BN weight).

Small images (28x28 MNIST, 32x32 CIFAR):
- ``resnet18(small_input=True, in_channels=1)`` replaces the 7x7/2 stem and the max-pool by a
  3x3/1 conv (``maxpool`` is then ``None``), so a 28x28 image reaches layer4 at 4x4 instead of 1x1.
- ``resnet20/32/44/56()``: the paper's CIFAR-10 networks (section 4.2): a 3x3/1 conv with 16 maps,
  three stages ``layer1..layer3`` of n = (depth - 2) / 6 basic blocks with 16, 32, 64 maps (the
  second and third start with stride 2), global average pooling, fc. The paper used parameter-free
  zero-padding shortcuts (option A, 0.27M parameters for ResNet-20); here the shortcut that changes
  shape is a 1x1 convolution with BatchNorm (option B, the same mechanism as the ImageNet nets,
  272,474 parameters for ResNet-20 with 10 classes).
"""
from .. import nn
from ..errors import ArgumentError
from ..nn.fusion import add_relu, conv_bn
from .base import ZooModel, register_model


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and a shortcut; ``planes`` output maps."""

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = conv_bn(self.conv1, self.bn1, x, self.relu)  # relu(bn1(conv1(x))), fused at inference
        out = conv_bn(self.conv2, self.bn2, out)
        return add_relu(out, identity, self.relu, self.bn2)  # relu(out + identity), in place at inference


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (with the stride), 1x1 expand to ``planes * 4`` maps, and a shortcut."""

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = conv_bn(self.conv1, self.bn1, x, self.relu)
        out = conv_bn(self.conv2, self.bn2, out, self.relu)
        out = conv_bn(self.conv3, self.bn3, out)
        return add_relu(out, identity, self.relu, self.bn3)  # relu(out + identity), in place at inference


class ResNet(ZooModel):
    """A ResNet of ``len(layers)`` stages of ``block``; see the module docstring.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: blocks per stage, e.g. ``[2, 2, 2, 2]`` for ResNet-18.
        num_classes, in_channels: output classes and input channels.
        widths: ``planes`` of each stage (64, 128, 256, 512 for ImageNet; 16, 32, 64 for CIFAR).
        small_input: a 3x3/1 stem without max-pool instead of the 7x7/2 conv and 3x3/2 max-pool.
        zero_init_residual: start every block as the identity (last BN weight 0).

    Shape: input (N, in_channels, H, W), any H, W the stem and strides leave >= 1; output (N, num_classes).
    """

    def __init__(self, block, layers, num_classes=1000, in_channels=3, widths=(64, 128, 256, 512),
                 small_input=False, zero_init_residual=False):
        super().__init__()
        if len(layers) != len(widths):
            raise ArgumentError(f"ResNet: {len(layers)} stage depths {list(layers)} for {len(widths)} "
                                f"widths {list(widths)}")
        self.inplanes = widths[0]
        self.natural_side = 32 if small_input else 224
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu = nn.ReLU()
        self.maxpool = None if small_input else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self._layer_names = []
        for i, (width, depth) in enumerate(zip(widths, layers)):
            name = f"layer{i + 1}"
            setattr(self, name, self._make_layer(block, width, depth, stride=1 if i == 0 else 2))
            self._layer_names.append(name)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1] * block.expansion, num_classes)
        self._init_weights(zero_init_residual)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def _init_weights(self, zero_init_residual):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def forward(self, x):
        x = conv_bn(self.conv1, self.bn1, x, self.relu)
        if self.maxpool is not None:
            x = self.maxpool(x)
        for name in self._layer_names:
            x = getattr(self, name)(x)
        x = nn.functional.flatten(self.avgpool(x), 1)
        return self.fc(x)


def _resnet(block, layers, num_classes=1000, in_channels=3, small_input=False, zero_init_residual=False):
    return ResNet(block, layers, num_classes=num_classes, in_channels=in_channels, small_input=small_input,
                  zero_init_residual=zero_init_residual)


@register_model
def resnet18(**kwargs):
    """ResNet-18 (11,689,512 parameters); ``small_input=True`` for 28x28 / 32x32 images."""
    return _resnet(BasicBlock, [2, 2, 2, 2], **kwargs)


@register_model
def resnet34(**kwargs):
    """ResNet-34 (21,797,672 parameters)."""
    return _resnet(BasicBlock, [3, 4, 6, 3], **kwargs)


@register_model
def resnet50(**kwargs):
    """ResNet-50 (25,557,032 parameters)."""
    return _resnet(Bottleneck, [3, 4, 6, 3], **kwargs)


@register_model
def resnet101(**kwargs):
    """ResNet-101 (44,549,160 parameters)."""
    return _resnet(Bottleneck, [3, 4, 23, 3], **kwargs)


@register_model
def resnet152(**kwargs):
    """ResNet-152 (60,192,808 parameters)."""
    return _resnet(Bottleneck, [3, 8, 36, 3], **kwargs)


def cifar_resnet(depth, num_classes=10, in_channels=3, zero_init_residual=False):
    """The paper's CIFAR ResNet of ``depth = 6n + 2`` layers (20, 32, 44, 56, 110, ...)."""
    if depth < 8 or (depth - 2) % 6:
        raise ArgumentError(f"cifar_resnet: depth must be 6n + 2 (20, 32, 44, 56, 110, ...), got {depth}")
    n = (depth - 2) // 6
    return ResNet(BasicBlock, [n, n, n], num_classes=num_classes, in_channels=in_channels, widths=(16, 32, 64),
                  small_input=True, zero_init_residual=zero_init_residual)


@register_model
def resnet20(**kwargs):
    """CIFAR-style ResNet-20 (3 stages of 3 basic blocks, 16/32/64 maps), for 28x28 or 32x32 images."""
    return cifar_resnet(20, **kwargs)


@register_model
def resnet32(**kwargs):
    """CIFAR-style ResNet-32 (3 stages of 5 basic blocks)."""
    return cifar_resnet(32, **kwargs)


@register_model
def resnet44(**kwargs):
    """CIFAR-style ResNet-44 (3 stages of 7 basic blocks)."""
    return cifar_resnet(44, **kwargs)


@register_model
def resnet56(**kwargs):
    """CIFAR-style ResNet-56 (3 stages of 9 basic blocks)."""
    return cifar_resnet(56, **kwargs)
