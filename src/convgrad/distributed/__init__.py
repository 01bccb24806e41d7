"""Data-parallel training over MPI (mpi4py): ranks, collectives, DDP, sampler, SyncBatchNorm.

    mpiexec -n 2 convgrad train ...            # the CLI detects the world and does the rest

or, from Python (run the script with ``mpiexec -n N python script.py``)::

    from convgrad import distributed as dist
    dist.init()
    model = dist.DistributedDataParallel(dist.convert_sync_batchnorm(build_model()))
    loader = dist.DistributedLoader(DataLoader(train_set, batch_size=64, shuffle=True, seed=0))
    fit(model, loader, optimizer, epochs)      # gradients averaged during backward

Files: ``comm.py`` (the world and collectives), ``ddp.py`` (gradient averaging in buckets),
``sampler.py`` (each rank's shard of every global batch), ``sync_batchnorm.py`` (batch statistics
over all ranks). mpi4py is imported only when a job really has several ranks (or on
``init(force=True)``); without it everything here works as one process.
"""
from .comm import (DistributedError, INSTALL_HINT, abort, all_reduce, barrier, broadcast, get_comm, init,
                   is_distributed, is_initialized, is_main, launched_world_size, rank, world_size)
from .ddp import DistributedDataParallel, broadcast_parameters
from .sampler import DistributedLoader, DistributedSampler, shard_bounds
from .sync_batchnorm import SyncBatchNorm, convert_sync_batchnorm

__all__ = ["DistributedDataParallel", "DistributedError", "DistributedLoader", "DistributedSampler", "INSTALL_HINT",
           "SyncBatchNorm", "abort", "all_reduce", "barrier", "broadcast", "broadcast_parameters", "get_comm",
           "convert_sync_batchnorm", "init", "is_distributed", "is_initialized", "is_main", "launched_world_size",
           "rank", "shard_bounds", "world_size"]
