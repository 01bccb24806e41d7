"""The model zoo: the architectures of CNN history, one call each.

    import convgrad.models as models
    models.list_models()                       # ['alexnet', 'googlenet', 'nin', 'resnet18', ...]
    net = models.get_model("resnet18", num_classes=10, in_channels=1, small_input=True)
    acts = net(x, return_layers=["layer1", "layer4"])   # {"layer1": ..., "layer4": ..., "output": ...}

Parameter names equal torchvision's wherever torchvision has the model, so its ``state_dict``
loads as is. ``return_layers`` is described in :mod:`convgrad.models.base`.
"""
from ..errors import ArgumentError
from .adapt import MIN_INPUT_SIZE, build_for_data
from .alexnet import AlexNet, alexnet
from .autoencoder import ConvAutoencoder, conv_autoencoder
from .base import MODEL_REGISTRY, ZooModel, register_model
from .dcgan import DCGAN, dcgan
from .fcn1d import FCN1d, fcn1d
from .googlenet import GoogLeNet, GoogLeNetOutputs, googlenet, googlenet_loss
from .lenet import LeNet5, lenet5
from .nin import NiN, nin
from .resnet import (BasicBlock, Bottleneck, ResNet, cifar_resnet, resnet18, resnet20, resnet32, resnet34, resnet44,
                     resnet50, resnet56, resnet101, resnet152)
from .resnet1d import ResNet1d, resnet1d
from .vgg import VGG, vgg, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from .vae import VAE, vae
from .zfnet import ZFNet, zfnet

register_model(lenet5)  # lenet5 records its own model_config; the registry needs it by name


def list_models():
    """The names ``get_model`` accepts, sorted."""
    return sorted(MODEL_REGISTRY)


def get_model(name, **kwargs):
    """Build the model registered as ``name`` with keyword options (``num_classes``, ``in_channels``, ...).

    Raises ArgumentError (a ValueError) for an unknown name, listing the known ones.
    """
    if name not in MODEL_REGISTRY:
        raise ArgumentError(f"get_model: unknown model {name!r}; available models: {', '.join(list_models())}")
    return MODEL_REGISTRY[name](**kwargs)


__all__ = [
    "list_models", "get_model", "register_model", "ZooModel",
    "LeNet5", "lenet5", "AlexNet", "alexnet", "ZFNet", "zfnet", "NiN", "nin",
    "GoogLeNet", "GoogLeNetOutputs", "googlenet", "googlenet_loss",
    "VGG", "vgg", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "ConvAutoencoder", "conv_autoencoder", "VAE", "vae", "DCGAN", "dcgan",
    "FCN1d", "fcn1d", "ResNet1d", "resnet1d", "build_for_data", "MIN_INPUT_SIZE",
    "ResNet", "BasicBlock", "Bottleneck", "cifar_resnet", "resnet18", "resnet34", "resnet50", "resnet101",
    "resnet152", "resnet20", "resnet32", "resnet44", "resnet56",
]
