"""What a training run asks of the MPI world: the object ``fit`` and the runner consult.

``convgrad train`` under ``mpiexec -n N`` (or with ``--distributed``) builds one
:class:`DataParallelRun`; the runner and the fit loop call it at a handful of places and are
otherwise unchanged:

- ``is_main``: rank 0 alone prints, draws the progress bar, writes ``metrics.jsonl``, the
  checkpoints and the final model, and holds the run's lock;
- ``wrap_model`` / ``unwrap``: the model in :class:`DistributedDataParallel` (after
  ``convert_sync_batchnorm`` with ``--sync-bn``), and the bare model for checkpoints;
- ``wrap_loader``: each rank's shard of every global batch (:class:`DistributedLoader`);
- ``agree_finite(loss)``: every rank skips a batch, or none does (a NaN on one rank must not
  leave the others alone in the gradient all-reduce);
- ``reduce_step(numbers, n, stopping)``: one all-reduce per step of the step's numbers weighted
  by shard size, the sample count and the stop flag, so the running statistics (and what rank
  0 logs and checkpoints) are those of the global batch, and a stop request on any rank (Ctrl-C
  reaches only some) stops all of them after the same step;
- ``same_on_all(value)``: rank 0's value of a run directory name or similar.
"""
import numpy as np

from . import comm
from .ddp import DistributedDataParallel
from .sampler import DistributedLoader
from .sync_batchnorm import convert_sync_batchnorm


def data_parallel_run(explicit=False, sync_bn=False):
    """The :class:`DataParallelRun` of this process, or None for a plain single-process run.

    Args:
        explicit: ``--distributed``: initialise MPI even with one rank, and fail clearly when
            mpi4py is missing.
        sync_bn: ``--sync-bn``: convert batch norms to :class:`SyncBatchNorm`.

    Raises:
        DistributedError: mpi4py missing although the job was started with several ranks or
            ``explicit`` is set (the message says ``pip install convgrad[mpi]``).
    """
    launched = comm.launched_world_size()
    if not explicit and launched <= 1:
        return None
    if explicit and launched <= 1:
        import shutil
        import sys

        if shutil.which("mpiexec") is None:
            raise comm.DistributedError(f"--distributed: no mpiexec on PATH; {comm.INSTALL_HINT} brings one "
                                        f"(mpich), then run: mpiexec -n N convgrad train ...")
        comm.init(force=True)  # fails clearly without mpi4py
        print("warning: --distributed without mpiexec runs one rank; start N with: mpiexec -n N convgrad train ...",
              file=sys.stderr)
    comm.init(force=explicit)
    return DataParallelRun(sync_bn=sync_bn)


class DataParallelRun:
    """The distributed side of one training run (see the module docstring).

    Args:
        sync_bn: convert batch norms to SyncBatchNorm in :meth:`wrap_model`.
        bucket_cap_mb: DDP's bucket size.
    """

    def __init__(self, sync_bn=False, bucket_cap_mb=2.0):
        self.rank, self.world_size = comm.rank(), comm.world_size()
        self.is_main = self.rank == 0
        self.sync_bn, self.bucket_cap_mb = bool(sync_bn), bucket_cap_mb
        world = comm.get_comm()
        self._comm = world.Dup() if world is not None else None
        self.ddp = None

    def describe(self):
        """The line the CLI prints: how many ranks, and what they do."""
        return (f"data-parallel on {self.world_size} ranks (MPI): each takes 1/{self.world_size} of every global batch"
                + (", batch-norm statistics over all ranks (--sync-bn)" if self.sync_bn else ""))

    def wrap_model(self, model):
        if self.sync_bn:
            model = convert_sync_batchnorm(model)
        self.ddp = DistributedDataParallel(model, bucket_cap_mb=self.bucket_cap_mb)
        return self.ddp

    @staticmethod
    def unwrap(model):
        return model.module if isinstance(model, DistributedDataParallel) else model

    def wrap_loader(self, loader):
        return DistributedLoader(loader, self.world_size, self.rank)

    def same_on_all(self, value):
        return comm.broadcast(value, root=0, comm=self._comm)

    def _all_reduce(self, values):
        if self._comm is not None and self.world_size > 1:
            MPI = comm.mpi_module()
            self._comm.Allreduce(MPI.IN_PLACE, values, op=MPI.SUM)
        return values

    def agree_finite(self, value):
        """True when the loss is finite on every rank."""
        bad = np.array([0.0 if np.isfinite(value) else 1.0])
        return self._all_reduce(bad)[0] == 0

    def reduce_step(self, numbers, n, stopping):
        """``(numbers, n, stopping)`` of the global batch: each number is the shard-size-weighted
        mean over ranks (``correct`` the sum), ``n`` the global batch size, ``stopping`` True if
        any rank asked to stop."""
        keys = sorted(numbers)
        values = np.zeros(len(keys) + 2, dtype=np.float64)
        for i, key in enumerate(keys):
            values[i] = float(numbers[key]) * (1 if key == "correct" else n)
        values[-2], values[-1] = n, 1.0 if stopping else 0.0
        self._all_reduce(values)
        total = values[-2]
        out = {key: (int(round(values[i])) if key == "correct" else float(values[i] / total))
               for i, key in enumerate(keys)}
        return out, int(total), bool(values[-1] > 0)
