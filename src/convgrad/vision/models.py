"""torchvision's model names, built from convgrad's zoo (``convgrad.models``).

``resnet18(num_classes=10)``, ``vgg16_bn()``, ``alexnet()``, ``googlenet()`` ... have torchvision's
architectures and ``state_dict`` keys, so torchvision weights load with
``convgrad.io.load_torch_checkpoint``. ``weights=`` / ``pretrained=`` asking for downloaded weights
raise one clear error: convgrad never uses the network.
"""
from .. import models as _zoo
from ..errors import ArgumentError

_NAMES = ("alexnet", "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "vgg11", "vgg11_bn",
          "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn")


def _builder(name):
    zoo_fn = getattr(_zoo, name)

    def build(*, weights=None, progress=True, pretrained=False, **kwargs):
        if weights is not None or pretrained:
            raise ArgumentError(f"{name}(weights=...): convgrad does not download weights; build {name}() and load a "
                                f"torchvision state_dict file: "
                                f"model.load_state_dict(convgrad.io.load_torch_checkpoint(path))")
        return zoo_fn(**kwargs)

    build.__name__ = name
    build.__doc__ = f"torchvision's ``{name}``: ``convgrad.models.{name}`` (``weights`` must be None)."
    return build


for _name in _NAMES:
    globals()[_name] = _builder(_name)

list_models = lambda: sorted(_NAMES)  # noqa: E731
__all__ = list(_NAMES) + ["list_models"]
