"""Upsampling layers (``torch.nn`` names): ``Upsample``, ``UpsamplingNearest2d`` and
``UpsamplingBilinear2d``, over :func:`convgrad.functional.interpolate`."""
from .. import functional as F
from .module import Module


class Upsample(Module):
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs to ``size`` or by ``scale_factor``.

    Args:
        size: output spatial size (int or tuple). Give size or scale_factor.
        scale_factor: multiplier of each spatial size (number or tuple).
        mode: 'nearest' (default), 'nearest-exact', 'linear', 'bilinear', 'trilinear' or 'area'.
        align_corners: linear modes only; see :func:`convgrad.functional.interpolate`.
        recompute_scale_factor: compute coordinates from the sizes rather than the factor.

    Shape: ``H_out = floor(H * scale_factor)`` (or ``size``), likewise for the other axes.

    Example:
        >>> up = convgrad.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        >>> up(convgrad.randn(1, 3, 5, 5)).shape
        convgrad.Size([1, 3, 10, 10])
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor is not None else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        """``scale_factor=2.0, mode='nearest'`` (or ``size=...``), as PyTorch prints it."""
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` for (N, C, H, W) inputs."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` for (N, C, H, W) inputs."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
