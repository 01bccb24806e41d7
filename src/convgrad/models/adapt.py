"""Build a zoo model for a dataset: its channels, input size and number of classes.

    model, kwargs = build_for_data("resnet18", (3, 32, 32), 10)   # kwargs: num_classes=10, in_channels=3,
                                                                  # small_input=True
    build_for_data("alexnet", (1, 8, 8), 10)   # ArgumentError: alexnet needs input of at least 63x63 ...

Where the architecture allows, the builder's ``num_classes`` and ``in_channels`` are set from the
data (and ``small_input`` for ImageNet ResNets on images smaller than 64 px, ``padding`` for
LeNet-5 on 28x28 or 32x32, ``input_size`` for the autoencoder). Where it cannot, the error says
which input the model needs. Known minimum sizes (:data:`MIN_INPUT_SIZE`, each the smallest
square input the model's own layers accept, checked in the tests) are checked before anything is
built, so an AlexNet of 57 M parameters is not allocated for 8x8 images; every model is then run
once on a zero batch of one sample (eval mode, no graph) so any other mismatch is found before
the first training step.
"""
import numpy as np

from ..errors import ArgumentError, ConvgradError
from ..tensor import Tensor, no_grad
from .base import MODEL_REGISTRY

# smallest square input (side in pixels) each architecture's layers accept
MIN_INPUT_SIZE = {"alexnet": 63, "zfnet": 47, "nin": 39, "googlenet": 15,
                  **{f"vgg{d}{bn}": 32 for d in (11, 13, 16, 19) for bn in ("", "_bn")}}
SEQUENCE_MODELS = ("fcn1d", "resnet1d")
NO_CLASSES = ("conv_autoencoder",)
IMAGENET_RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
SMALL_INPUT_BELOW = 64  # ImageNet ResNets get the 3x3/1 stem below this side


def _adapted_kwargs(name, input_shape, num_classes, kwargs):
    out = {} if name in NO_CLASSES else {"num_classes": int(num_classes)}
    out["in_channels"] = int(input_shape[0])
    if name == "conv_autoencoder":
        out["input_size"] = tuple(int(s) for s in input_shape[1:])
    elif name in IMAGENET_RESNETS:
        out["small_input"] = min(input_shape[1:]) < SMALL_INPUT_BELOW
    elif name == "lenet5":
        side = tuple(input_shape[1:])
        if side not in ((28, 28), (32, 32)):
            raise ArgumentError(f"lenet5 needs 28x28 or 32x32 input (its fc1 expects 16x5x5 maps), got "
                                f"{side[0]}x{side[1]}: pass image_size=28 (--image-size 28)")
        out["padding"] = 2 if side == (28, 28) else 0
    out.update(kwargs)  # the caller's choices win
    return out


def _check_kind(name, input_shape):
    if len(input_shape) not in (2, 3) or any(int(s) < 1 for s in input_shape):
        raise ArgumentError(f"build_for_data: input_shape must be (C, L) or (C, H, W) of positive sizes, got "
                            f"{tuple(input_shape)}")
    sequence = len(input_shape) == 2
    if name in SEQUENCE_MODELS and not sequence:
        raise ArgumentError(f"{name} is a 1-D model for sequences (C, L); this data is images "
                            f"{tuple(input_shape)}: choose an image model such as resnet18 or lenet5")
    if name not in SEQUENCE_MODELS and sequence:
        raise ArgumentError(f"{name} takes images (C, H, W); this data is sequences {tuple(input_shape)}: "
                            f"use fcn1d or resnet1d")


def _check_min_size(name, input_shape):
    need = MIN_INPUT_SIZE.get(name)
    if need is not None and min(input_shape[1:]) < need:
        h, w = input_shape[1:]
        raise ArgumentError(f"{name} needs input of at least {need}x{need} pixels, the data is {h}x{w}: "
                            f"resize it (image_size={need} / --image-size {need}) or choose a model for small "
                            f"images (lenet5, resnet20, resnet18 with small_input)")


def dry_run(model, input_shape, name=None):
    """Run ``model`` once in eval mode, without a graph, on zeros ``(1, *input_shape)``; a layer
    that rejects the shape becomes an ArgumentError naming the model and the input size."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(Tensor(np.zeros((1,) + tuple(input_shape), dtype=np.float32)))
    except ConvgradError as exc:
        shown = "x".join(str(s) for s in input_shape)
        raise ArgumentError(f"{name or type(model).__name__} cannot take input {shown} "
                            f"({str(exc).splitlines()[0]})") from None
    finally:
        model.train(was_training)


def build_for_data(name, input_shape, num_classes, **kwargs):
    """Build zoo model ``name`` for samples of ``input_shape`` and ``num_classes`` classes.

    Args:
        name: a registered model name (``convgrad.models.list_models()``).
        input_shape: one sample's shape, ``(C, H, W)`` for images or ``(C, L)`` for sequences.
        num_classes: the number of classes (ignored by models without a classifier).
        **kwargs: further builder options; they override the adapted ones.

    Returns:
        ``(model, model_kwargs)``: the model and the keyword arguments it was built with (what
        a checkpoint records to rebuild it).

    Raises:
        ArgumentError: unknown model, image model on sequences (or the reverse), or an input the
            architecture cannot take (the message says the size it needs).

    Example::

        >>> model, kw = build_for_data("fcn1d", (6, 100), 4)
        >>> kw
        {'num_classes': 4, 'in_channels': 6}
    """
    if name not in MODEL_REGISTRY:
        raise ArgumentError(f"build_for_data: unknown model {name!r}; available models: "
                            f"{', '.join(sorted(MODEL_REGISTRY))}")
    input_shape = tuple(int(s) for s in input_shape)
    _check_kind(name, input_shape)
    if name != "conv_autoencoder":
        _check_min_size(name, input_shape)
    model_kwargs = _adapted_kwargs(name, input_shape, num_classes, kwargs)
    model = MODEL_REGISTRY[name](**model_kwargs)
    dry_run(model, input_shape, name)
    return model, model_kwargs
