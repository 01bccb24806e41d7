"""DistributedDataParallel: the same model on every rank, gradients averaged during backward.

Each rank runs the model on its shard of the global batch. The gradients are then averaged
across ranks so that every rank takes the same optimizer step, the step one process would take
on the whole batch. As in PyTorch's DDP, the averaging overlaps the backward pass:

1. At construction the parameters are grouped, in reverse registration order (roughly the
   order backward produces their gradients), into flat *buckets* of about ``bucket_cap_mb``.
2. A post-accumulate-grad hook on every parameter (``Tensor.register_post_accumulate_grad_hook``)
   copies its gradient into its bucket the moment the gradient is complete. When a bucket is full
   it is reduced with a non-blocking ``MPI_Iallreduce``, while backward goes on computing the
   gradients of earlier layers. Buckets are started strictly in index order, so that every rank
   issues the same collectives in the same order (an MPI requirement).
3. A callback queued on the backward pass (``tensor.queue_callback``) waits for all buckets when
   backward ends and writes the averages back into ``p.grad``: when ``loss.backward()`` returns,
   the gradients are already averaged and the optimizer needs no change.

MPI libraries move data mostly inside MPI calls, so each hook also tests the outstanding
requests (``MPI_Testall``), which lets earlier buckets progress during backward.

Averaging weighs each rank by the size of its shard (``average="batch"``, the default): for a
loss that is a mean over the batch this is exactly the gradient of the mean over the global
batch, also when the last batch does not split evenly. ``average="rank"`` is PyTorch's plain
mean over ranks (the same thing when all shards are equal).
"""
import time
from contextlib import contextmanager

import numpy as np

from ..errors import ArgumentError
from ..nn import Module
from ..tensor import is_grad_enabled, queue_callback
from . import comm as _comm

AVERAGES = ("batch", "rank")


def broadcast_parameters(module_or_params, root=0, comm=None, buffers=True):
    """Copy the parameters (and buffers) of rank ``root`` to every rank, in place.

    Args:
        module_or_params: a Module, or an iterable of tensors.
        root: the rank whose values win.
        comm: an mpi4py communicator (default: the world).
        buffers: with a Module, the buffers (batch-norm running statistics) too.

    Example:
        >>> from convgrad import nn
        >>> broadcast_parameters(nn.Linear(2, 2))     # one process: nothing to do
    """
    comm = comm or _comm.get_comm()
    if comm is None or comm.Get_size() == 1:
        return
    if isinstance(module_or_params, Module):
        tensors = list(module_or_params.parameters())
        if buffers:
            tensors += [b for b in module_or_params.buffers() if b is not None]
    else:
        tensors = list(module_or_params)
    for t in tensors:
        if not t.numpy().flags.c_contiguous:
            t.data = np.ascontiguousarray(t.numpy())
        comm.Bcast(t.numpy(), root=root)


class _Bucket:
    """A flat buffer holding the gradients of a few parameters, reduced as one message."""

    def __init__(self, index, params, dtype):
        self.index, self.params, self.dtype = index, params, dtype
        self.offsets = []
        n = 0
        for p in params:
            self.offsets.append(n)
            n += p.numpy().size
        self.size = n
        # after the gradients: this rank's weight (its shard size), then one flag per parameter
        # (1 if it had a gradient here), so a parameter no rank touched keeps grad None
        self.buffer = np.zeros(n + 1 + len(params), dtype=dtype)
        self.nbytes = self.buffer.nbytes
        self.reset()

    def reset(self):
        self.filled = [False] * len(self.params)
        self.missing = len(self.params)
        self.request = None
        self.done = False  # its all-reduce completed while backward was still running


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over MPI (PyTorch's ``DistributedDataParallel``).

    Args:
        module: the model; every rank must build the same architecture.
        bucket_cap_mb: the size of a gradient bucket in MiB (one Iallreduce each). Default 2.
        broadcast_buffers: copy rank 0's buffers (batch-norm running statistics) to all ranks at
            every forward in training mode, as PyTorch does.
        average: "batch" weighs each rank's gradient by its shard size (exact global-batch mean
            for mean losses); "rank" is the plain mean over ranks.
        comm: an mpi4py communicator (default: a duplicate of the world, so these collectives
            never interleave with the program's own).

    ``forward`` calls the module. ``ddp.module`` is the wrapped model (save its state_dict:
    keys without the ``module.`` prefix). ``ddp.stats`` accumulates timings: ``steps``,
    ``buckets``, ``bytes`` (sent per rank and step, ring algorithm: 2 (N-1)/N of the bucket
    sizes), ``exposed_seconds`` (the wait after backward: communication not hidden, and waiting for
    slower ranks), ``backward_seconds`` (from the first gradient to the end of the wait), and
    ``overlapped_bytes`` / ``reduced_bytes`` (the buckets whose all-reduce had completed before
    backward ended: the overlap).

    Raises:
        ArgumentError: a bad ``average`` or ``bucket_cap_mb``.

    Example:
        >>> from convgrad import nn
        >>> ddp = DistributedDataParallel(nn.Linear(4, 2))   # one process: averaging is a no-op
        >>> tuple(ddp.module.weight.shape)
        (2, 4)
    """

    def __init__(self, module, bucket_cap_mb=2.0, broadcast_buffers=True, average="batch", comm=None):
        super().__init__()
        if average not in AVERAGES:
            raise ArgumentError(f"DistributedDataParallel: average must be one of {AVERAGES}, got {average!r}")
        if not bucket_cap_mb or bucket_cap_mb <= 0:
            raise ArgumentError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        self.module = module
        world = _comm.get_comm()
        if comm is None and world is not None:
            comm = world.Dup()
        self._mpi_comm = comm
        self._size = 1 if comm is None else comm.Get_size()
        self.average, self.broadcast_buffers = average, bool(broadcast_buffers)
        self.bucket_cap_mb = float(bucket_cap_mb)
        if self._size > 1:
            broadcast_parameters(module, comm=comm)
        self._buckets = self._make_buckets()
        self._running = False
        self._sync = True
        self._weight = 1.0
        self._t0 = 0.0
        self.stats = {"steps": 0, "buckets": len(self._buckets), "bytes": 0, "exposed_seconds": 0.0,
                      "backward_seconds": 0.0, "overlapped_bytes": 0, "reduced_bytes": 0}
        if self._size > 1:
            for bucket in self._buckets:
                for i, p in enumerate(bucket.params):
                    p.register_post_accumulate_grad_hook(self._hook_for(bucket, i))

    # --- construction -------------------------------------------------------------------------
    def _make_buckets(self):
        cap = int(self.bucket_cap_mb * 2 ** 20)
        params = [p for p in self.module.parameters() if p.requires_grad]
        buckets, current, current_bytes = [], {}, {}
        for p in reversed(params):
            key = p.numpy().dtype
            group = current.setdefault(key, [])
            if group and current_bytes[key] + p.numpy().nbytes > cap:
                buckets.append(_Bucket(len(buckets), group, key))
                group = current[key] = []
                current_bytes[key] = 0
            group.append(p)
            current_bytes[key] = current_bytes.get(key, 0) + p.numpy().nbytes
        for key, group in current.items():
            if group:
                buckets.append(_Bucket(len(buckets), group, key))
        return buckets

    # --- forward ------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        if self._size > 1 and self.training and is_grad_enabled():
            if self.broadcast_buffers:
                self._broadcast_buffers()
            first = args[0] if args else None
            shape = getattr(first, "shape", None)
            self._weight = float(shape[0]) if self.average == "batch" and shape else 1.0
        return self.module(*args, **kwargs)

    def _broadcast_buffers(self):
        buffers = [b for b in self.module.buffers() if b is not None]
        if buffers:
            broadcast_parameters(buffers, comm=self._mpi_comm)

    @contextmanager
    def no_sync(self):
        """Inside this block backward accumulates local gradients without averaging them (for
        gradient accumulation); the next backward outside it averages the sum."""
        previous = self._sync
        self._sync = False
        try:
            yield
        finally:
            self._sync = previous

    # --- backward: hooks, buckets, the final wait ---------------------------------------------
    def _hook_for(self, bucket, i):
        def hook(p):
            if not self._sync:
                return
            if not self._running:
                self._begin()
            if not bucket.filled[i]:
                bucket.filled[i] = True
                bucket.missing -= 1
            if bucket.missing == 0:
                self._launch_ready()
            else:
                self._progress()

        return hook

    def _begin(self):
        self._running = True
        self._t0 = time.perf_counter()
        self._next = 0
        for bucket in self._buckets:
            bucket.reset()
        queue_callback(self.finish_gradient_sync)

    def _fill(self, bucket):
        weight = self._weight
        out = bucket.buffer
        for p, offset in zip(bucket.params, bucket.offsets):
            view = out[offset:offset + p.numpy().size]
            if p.grad is None:
                view[...] = 0
            elif weight == 1.0:
                view[...] = p.grad.numpy().reshape(-1)
            else:
                np.multiply(p.grad.numpy().reshape(-1), weight, out=view)
        out[bucket.size] = weight
        out[bucket.size + 1:] = [p.grad is not None for p in bucket.params]

    def _launch_ready(self):
        """Start the buckets that are complete, in index order, stopping at the first that is not."""
        MPI = _comm.mpi_module()
        while self._next < len(self._buckets) and self._buckets[self._next].missing == 0:
            bucket = self._buckets[self._next]
            self._fill(bucket)
            bucket.request = self._mpi_comm.Iallreduce(MPI.IN_PLACE, bucket.buffer, op=MPI.SUM)
            self._next = self._next + 1
        self._progress()

    def _progress(self):
        """Let MPI move the started buckets (most MPI libraries progress only inside MPI calls)."""
        for bucket in self._buckets[:self._next]:
            if not bucket.done and bucket.request.Test():
                bucket.done = True

    def finish_gradient_sync(self):
        """Wait for every bucket and write the averaged gradients into ``p.grad``.

        Runs by itself at the end of each backward pass; calling it again is harmless. Parameters
        that received no gradient in this backward are reduced as zeros (so every rank sends the
        same buckets) and get the average of the other ranks' gradients; one that no rank touched
        keeps ``grad = None``.
        """
        if not self._running:
            return
        t_wait = time.perf_counter()
        self._progress()
        self.stats["overlapped_bytes"] += sum(b.nbytes for b in self._buckets if b.done)
        self.stats["reduced_bytes"] += sum(b.nbytes for b in self._buckets)
        for bucket in self._buckets:  # parameters without a gradient this time count as complete
            bucket.missing = 0
        self._launch_ready()
        requests = [b.request for b in self._buckets]
        _comm.mpi_module().Request.Waitall(requests)
        t_end = time.perf_counter()
        sent = 0
        for bucket in self._buckets:
            total = float(bucket.buffer[bucket.size])
            averaged = bucket.buffer[:bucket.size]
            averaged /= np.asarray(total, dtype=bucket.dtype)
            flags = bucket.buffer[bucket.size + 1:]
            for p, offset, used in zip(bucket.params, bucket.offsets, flags):
                value = averaged[offset:offset + p.numpy().size].reshape(p.numpy().shape)
                if not used:
                    continue  # no rank computed a gradient for it: None, as in one process
                if p.grad is None:
                    from ..tensor import Tensor

                    p.grad = Tensor._wrap(value.copy())
                else:
                    np.copyto(p.grad.numpy(), value)
            bucket.request = None
            sent += bucket.nbytes
        n = self._size
        self.stats["steps"] += 1
        self.stats["bytes"] += int(2 * (n - 1) / n * sent)
        self.stats["exposed_seconds"] += t_end - t_wait
        self.stats["backward_seconds"] += t_end - self._t0
        self._running = False

    def measure_allreduce(self, repeats=5):
        """Median seconds of one blocking all-reduce of all buckets (what the averaging would cost
        if it did not overlap backward): the yardstick for ``stats["exposed_seconds"]``."""
        if self._size <= 1:
            return 0.0
        MPI = _comm.mpi_module()
        times = []
        for _ in range(repeats):
            scratch = [np.zeros_like(b.buffer) for b in self._buckets]
            self._mpi_comm.Barrier()
            t = time.perf_counter()
            for buf in scratch:
                self._mpi_comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - t)
        return float(np.median(times))

    # --- the wrapped module -------------------------------------------------------------------
    def __getattr__(self, name):
        """Other attributes come from the wrapped module (``ddp.encode(x)``, ``ddp.generator``):
        objectives that call a model's parts still train every part data-parallel, since the
        averaging hangs on the parameters, not on ``forward``."""
        module = self.__dict__.get("_modules", {}).get("module")
        if module is None:
            raise AttributeError(name)
        return getattr(module, name)

    def extra_repr(self):
        """The world size and bucket layout, shown in ``repr(ddp)``."""
        return (f"world_size={self._size}, buckets={len(self._buckets)}, bucket_cap_mb={self.bucket_cap_mb:g}, "
                f"average={self.average!r}")
