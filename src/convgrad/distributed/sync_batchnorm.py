"""SyncBatchNorm: batch normalisation whose statistics span the shards of all ranks.

Plain batch norm on N ranks normalises each rank's shard with that shard's own mean and
variance: with a global batch of 64 on 2 ranks, statistics of 32 samples, and a trajectory that
differs from one process's. ``SyncBatchNorm`` all-reduces, per channel, the count, the sum and
the sum of squares of the shard (one float64 message of ``2 C + 1`` numbers), so every rank
normalises with the statistics of the whole global batch, and updates the running statistics
with them (the unbiased variance uses the global count).

Backward needs the global means of ``g`` and ``g * x_hat`` (the two sums in batch norm's input
gradient ``invstd * (g - mean(g) - x_hat * mean(g * x_hat))``): a second all-reduce of ``2 C``
numbers. The gradients of ``weight`` and ``bias`` stay local sums; averaging them is
:class:`~convgrad.distributed.DistributedDataParallel`'s job like every other parameter's.

``convert_sync_batchnorm(model)`` swaps every ``BatchNorm1d/2d/3d`` for a SyncBatchNorm with the
same parameters and buffers (PyTorch's ``nn.SyncBatchNorm.convert_sync_batchnorm``). In one
process it computes exactly what batch norm computes.
"""
import numpy as np

from ..errors import ShapeError
from ..functional._util import shape_str
from ..nn import Module
from ..nn.normalization import _BatchNorm
from ..tensor import Function
from . import comm as _comm


def _all_reduce_sum(values, comm):
    if comm is not None and comm.Get_size() > 1:
        MPI = _comm.mpi_module()
        comm.Allreduce(MPI.IN_PLACE, values, op=MPI.SUM)
    return values


class SyncBatchNormFunction(Function):
    """Batch norm in training mode with statistics all-reduced over ``comm`` (None: this process)."""

    @staticmethod
    def output_shape(x_shape, *args, **kwargs):
        return tuple(x_shape)

    @staticmethod
    def forward(ctx, x, weight, bias, eps=1e-5, momentum=0.1, running_mean=None, running_var=None, comm=None):
        n, c = x.shape[0], x.shape[1]
        xv = x.reshape(n, c, -1)
        local = np.empty(2 * c + 1, dtype=np.float64)
        local[:c] = xv.sum(axis=(0, 2), dtype=np.float64)
        local[c:2 * c] = np.einsum("ncl,ncl->c", xv, xv, dtype=np.float64)
        local[-1] = n * xv.shape[2]
        total = _all_reduce_sum(local, comm)
        count = total[-1]
        if count <= 1:
            raise ShapeError(f"SyncBatchNorm: expected more than 1 value per channel over all ranks, got "
                             f"{int(count)} (input {shape_str(x.shape)})")
        mean64 = total[:c] / count
        var64 = np.maximum(total[c:2 * c] / count - mean64 * mean64, 0.0)
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += (momentum * mean64).astype(running_mean.dtype)
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += (momentum * var64 * (count / (count - 1))).astype(running_var.dtype)
        dtype = x.dtype
        mean = mean64.astype(dtype)
        invstd = (1 / np.sqrt(var64 + eps)).astype(dtype)
        x_hat = (xv - mean[None, :, None]) * invstd[None, :, None]
        out = x_hat if weight is None else x_hat * weight.astype(dtype)[None, :, None]
        if bias is not None:
            out = out + bias.astype(dtype)[None, :, None]
        ctx.x_hat, ctx.invstd, ctx.count, ctx.comm, ctx.shape = x_hat, invstd, count, comm, x.shape
        ctx.weight = weight
        return np.ascontiguousarray(out).reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        need_x, need_w, need_b = ctx.needs_input_grad
        x_hat, invstd = ctx.x_hat, ctx.invstd
        n, c = ctx.shape[0], ctx.shape[1]
        gv = grad.reshape(n, c, -1)
        sums = np.empty(2 * c, dtype=np.float64)
        sums[:c] = gv.sum(axis=(0, 2), dtype=np.float64)
        sums[c:] = np.einsum("ncl,ncl->c", gv, x_hat, dtype=np.float64)
        dtype = grad.dtype
        gw = sums[c:].astype(dtype) if need_w else None  # local sums: DDP averages them
        gb = sums[:c].astype(dtype) if need_b else None
        gx = None
        if need_x:
            total = _all_reduce_sum(sums.copy(), ctx.comm)
            mean_g = (total[:c] / ctx.count).astype(dtype)
            mean_gx = (total[c:] / ctx.count).astype(dtype)
            scale = invstd if ctx.weight is None else invstd * ctx.weight.astype(dtype)
            dx = gv - mean_g[None, :, None]
            dx -= x_hat * mean_gx[None, :, None]
            dx *= scale[None, :, None]
            gx = dx.reshape(ctx.shape)
        return gx, gw, gb


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation over the global batch of all ranks (PyTorch's ``nn.SyncBatchNorm``).

    Args:
        num_features: C, the channels of (N, C, ...) input (any rank >= 2).
        eps, momentum, affine, track_running_stats: as in ``BatchNorm2d``.
        comm: an mpi4py communicator (default: the MPI world at the first forward; none in a
            plain process).

    In evaluation mode, or outside training, it is plain batch norm with the running statistics.

    Raises:
        ShapeError: input with fewer than 2 dimensions or another channel count.

    Example:
        >>> import numpy as np, convgrad as cg
        >>> bn = SyncBatchNorm(3)
        >>> tuple(bn(cg.from_numpy(np.random.rand(4, 3, 5, 5).astype(np.float32))).shape)
        (4, 3, 5, 5)
    """

    _ranks = (2, 3, 4, 5)
    _shape_hint = "(N, {c}, *)"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, comm=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats)
        self.process_group = comm

    def forward(self, input):
        self._check_input(input)
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        if not use_batch_stats:
            return super().forward(input)
        factor = self._momentum_factor()
        comm = self.process_group if self.process_group is not None else _comm.get_comm()
        keep = self.training and self.track_running_stats
        return SyncBatchNormFunction.apply(
            input, self.weight, self.bias, eps=float(self.eps), momentum=float(factor),
            running_mean=self.running_mean.numpy() if keep and self.running_mean is not None else None,
            running_var=self.running_var.numpy() if keep and self.running_var is not None else None, comm=comm)

    @classmethod
    def convert_sync_batchnorm(cls, module, comm=None):
        """``module`` with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm holding the same
        parameters and buffers (the module itself is changed and returned)."""
        return convert_sync_batchnorm(module, comm)


def convert_sync_batchnorm(module, comm=None):
    """Replace every batch-norm layer of ``module`` by a :class:`SyncBatchNorm` (in place).

    The new layers share the old ones' ``weight``, ``bias`` and running statistics, so a model
    converted after loading weights keeps them.

    Args:
        module: a Module (if it is itself a batch norm, the converted layer is returned).
        comm: passed to each SyncBatchNorm.

    Returns:
        The converted module.

    Example:
        >>> from convgrad import nn
        >>> net = convert_sync_batchnorm(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)))
        >>> type(net[1]).__name__
        'SyncBatchNorm'
    """
    if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
        sync = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                             module.track_running_stats, comm=comm)
        if module.affine:
            sync.weight = module.weight
            if module.bias is not None:
                sync.bias = module.bias
            else:
                sync.register_parameter("bias", None)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            value = getattr(module, name)
            sync.register_buffer(name, value)
        sync.train(module.training)
        return sync
    if not isinstance(module, Module):
        return module
    for name, child in list(module._modules.items()):
        converted = convert_sync_batchnorm(child, comm)
        if converted is not child:  # in place in the registry: Sequential keeps its order
            module._modules[name] = converted
            object.__setattr__(module, name, converted)
    return module
