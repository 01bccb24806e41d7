"""Sharded embedding: N ranks encode a collection together, rank 0 writes one file in order.

``mpiexec -n N convgrad embed ...`` (or :func:`embed_dataset_sharded` in a script run under
``mpiexec``) cuts the collection into the batches one process would use (``batch_size`` images,
in order) and deals them out round-robin: rank ``r`` encodes batches ``r, r + N, r + 2N, ...``.
Every batch is exactly the batch one process would encode, so every code is bit-for-bit the
code one process computes. The other ranks send each batch's codes and labels to rank 0
(point-to-point MPI messages), which writes them into the memory-mapped arrays of the output in
the collection's order: the file holds the arrays :func:`convgrad.codes.embed_dataset` writes,
in the same ``.npz`` layout (``embeddings`` (N, d) float32, ``labels`` (N,) int64), and memory
stays at a batch or two per rank whatever the collection's size.
"""
import os

import numpy as np

from ..errors import ArgumentError
from . import comm as _comm

_TAG = 7


def _batch(dataset, b, batch_size):
    n = len(dataset)
    idx = np.arange(b * batch_size, min((b + 1) * batch_size, n))
    if hasattr(dataset, "get_batch"):
        images, labels = dataset.get_batch(idx, None)
    else:
        pairs = [dataset[int(i)] for i in idx]
        images, labels = np.stack([np.asarray(p[0]) for p in pairs]), np.array([p[1] for p in pairs], np.int64)
    return np.asarray(images, dtype=np.float32), np.asarray(labels, dtype=np.int64)


def embed_dataset_sharded(model, dataset, out, batch_size=256, progress=True, comm=None):
    """Encode ``dataset`` on all ranks and write ``out`` (.npz) on rank 0, in the original order.

    Args:
        model: as for :func:`convgrad.codes.embed_dataset` (the same on every rank).
        dataset: the same collection on every rank (``len()``, ``get_batch(indices, rng)``).
        out: the ``.npz`` rank 0 writes (atomically).
        batch_size: images per forward pass (the batches of a single process).
        progress: a tqdm bar on rank 0.
        comm: an mpi4py communicator (default: the world); one rank: plain ``embed_dataset``.

    Returns:
        ``out`` on every rank (the file exists once rank 0 returned).

    Raises:
        ArgumentError: a bad batch size or an empty collection.
    """
    from ..codes.embed import embed_dataset, encode_batch

    comm = comm or _comm.get_comm()
    if comm is None or comm.Get_size() == 1:
        return embed_dataset(model, dataset, out, batch_size=batch_size, progress=progress)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ArgumentError(f"embed: batch_size must be a positive integer, got {batch_size!r}")
    n = len(dataset)
    if n == 0:
        raise ArgumentError("embed: the collection is empty")
    rank, world = comm.Get_rank(), comm.Get_size()
    batches = -(-n // batch_size)
    model.eval()
    if rank != 0:
        for b in range(rank, batches, world):
            images, labels = _batch(dataset, b, batch_size)
            codes = np.ascontiguousarray(encode_batch(model, images), dtype=np.float32)
            comm.Send(np.array(codes.shape, dtype=np.int64), dest=0, tag=_TAG)
            comm.Send(codes, dest=0, tag=_TAG)
            comm.Send(labels, dest=0, tag=_TAG)
        comm.Barrier()  # returns once rank 0 has written the file
        return os.fspath(out)
    try:
        return _gather_and_write(model, dataset, os.fspath(out), batch_size, batches, progress, comm, encode_batch)
    finally:
        comm.Barrier()


def _gather_and_write(model, dataset, out, batch_size, batches, progress, comm, encode_batch):
    from ..codes.embed import write_codes

    world = comm.Get_size()

    def gathered():  # every batch in order: rank 0's own, the others' as their ranks send them
        for b in range(batches):
            owner = b % world
            if owner == 0:
                images, labels = _batch(dataset, b, batch_size)
                yield encode_batch(model, images), labels
                continue
            shape = np.empty(2, dtype=np.int64)
            comm.Recv(shape, source=owner, tag=_TAG)
            codes = np.empty(tuple(int(s) for s in shape), dtype=np.float32)
            comm.Recv(codes, source=owner, tag=_TAG)
            labels = np.empty(len(codes), dtype=np.int64)
            comm.Recv(labels, source=owner, tag=_TAG)
            yield codes, labels

    return write_codes(out, len(dataset), gathered(), progress, desc=f"embed ({world} ranks)")
