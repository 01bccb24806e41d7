"""``convgrad.vision``: the counterpart of torchvision (datasets, per-sample transforms, utils, models).

    from convgrad.vision import datasets, transforms
    train = datasets.MNIST("data", train=True, download=True, transform=transforms.ToTensor())

Datasets read torchvision's on-disk layout and never the network; transforms work on one sample
at a time, as torchvision's do (``convgrad.data.transforms`` keeps the faster batched ones).
"""
from . import datasets, models, transforms, utils  # noqa: F401
