"""``Embedding``: a table of ``num_embeddings`` learned vectors looked up by integer index
(``torch.nn.Embedding``'s arguments, parameter name ``weight`` and initialisation N(0, 1) with the
``padding_idx`` row zeroed)."""
import numpy as np

from .. import functional as F
from ..backend import get_default_dtype
from ..errors import ArgumentError, ShapeError
from ..functional._util import shape_str
from ..tensor import Tensor, no_grad
from . import init
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """A lookup table: ``Embedding(num_embeddings, embedding_dim)(indices)`` is ``weight[indices]``.

    Args:
        num_embeddings: the table's size (indices in ``[0, num_embeddings)``).
        embedding_dim: the length of each vector.
        padding_idx: this row starts at zero and gets no gradient (negative counts from the end).
        max_norm: renormalise looked-up rows to at most this norm (changes ``weight`` in place).
        norm_type: the p of the p-norm for ``max_norm``. Default 2.
        scale_grad_by_freq: divide row gradients by their index frequency in the batch.
        sparse: accepted for compatibility (gradients are dense).
        _weight: an initial ``(num_embeddings, embedding_dim)`` table instead of N(0, 1).
        _freeze: with ``_weight``, the table needs no gradient.

    Shape: input (*) integers -> output (*, embedding_dim).

    Example:
        >>> emb = convgrad.nn.Embedding(10, 3, padding_idx=0)
        >>> emb(convgrad.tensor([[0, 2, 4]])).shape
        convgrad.Size([1, 3, 3])
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ArgumentError(f"Embedding({num_embeddings}, {embedding_dim}): padding_idx must be within "
                                    f"num_embeddings, got {padding_idx}")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        dtype = get_default_dtype() if dtype is None else np.dtype(dtype)
        if _weight is None:
            self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype))
            self.reset_parameters()
        else:
            w = np.array(_weight._data if isinstance(_weight, Tensor) else _weight, copy=True)
            if w.shape != (self.num_embeddings, self.embedding_dim):
                raise ShapeError(f"Embedding({num_embeddings}, {embedding_dim}): _weight must have shape "
                                 f"({num_embeddings}, {embedding_dim}), got {shape_str(w.shape)}")
            self.weight = Parameter(w, requires_grad=not _freeze)

    def reset_parameters(self):
        """Draw the table from N(0, 1) and zero the padding_idx row (PyTorch's initialisation)."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight._data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding holding a copy of ``embeddings`` (2-D); ``freeze`` (default) keeps it fixed."""
        shape = tuple(np.shape(embeddings._data if isinstance(embeddings, Tensor) else embeddings))
        if len(shape) != 2:
            raise ShapeError(f"Embedding.from_pretrained: expected a 2-D table, got {shape_str(shape)}")
        return cls(shape[0], shape[1], padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings, _freeze=freeze)

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        """The sizes and the options that differ from the defaults, as PyTorch prints them."""
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s
