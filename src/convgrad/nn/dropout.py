"""Dropout layers: active in ``train()`` mode, the identity in ``eval()`` mode.

``Dropout`` zeroes single elements; ``Dropout1d/2d/3d`` zero whole channels of (N, C, L),
(N, C, H, W) and (N, C, D, H, W) inputs; ``AlphaDropout`` / ``FeatureAlphaDropout`` keep SELU
networks self-normalising. Masks come from convgrad's seeded generator (``convgrad.manual_seed``).
"""
from .. import functional as F
from ..functional._util import ArgumentError
from .module import Module


class _DropoutNd(Module):
    _fn = None

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= float(p) <= 1.0:
            raise ArgumentError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, "
                                f"but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return type(self)._fn(input, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero each element with probability p while training, scaling the rest by 1 / (1 - p)."""
    _fn = staticmethod(F.dropout)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) inputs."""
    _fn = staticmethod(F.dropout1d)


class Dropout2d(_DropoutNd):
    """Zero whole feature maps of (N, C, H, W) inputs."""
    _fn = staticmethod(F.dropout2d)


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) inputs."""
    _fn = staticmethod(F.dropout3d)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps zero mean and unit variance for SELU activations."""
    _fn = staticmethod(F.alpha_dropout)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels."""
    _fn = staticmethod(F.feature_alpha_dropout)
