"""Each rank's share of every global batch: the distributed sampler and loader.

Data-parallel training here keeps the *global* batch fixed: ``--batch-size 64`` on 2 ranks means
two shards of 32 per step, not 64 per rank. Every rank computes the same seeded permutation of
the dataset (PyTorch's ``DistributedSampler`` semantics: same seed, same epoch, same order), cuts
it into the same global batches, and takes its own contiguous slice of each. With the gradients
averaged by :class:`~convgrad.distributed.DistributedDataParallel` (weighted by shard size), a
step on N ranks is the step one process would take on the whole batch, so N ranks follow the
single-process trajectory.

Augmentation must not depend on the rank that happens to draw a sample: the shards are
transformed with per-sample random streams keyed by ``(seed, epoch, sample index)``
(:mod:`convgrad.data.sample_rng`), the same streams a single-process ``DataLoader(...,
per_sample_rng=True)`` uses.
"""
import numpy as np

from ..creation import from_numpy
from ..errors import ArgumentError
from . import comm


def shard_bounds(batch_len, world_size, rank):
    """``(start, stop)`` of ``rank``'s contiguous slice of a batch of ``batch_len`` samples; the
    first ``batch_len % world_size`` ranks get one sample more (``np.array_split``'s rule)."""
    base, extra = divmod(int(batch_len), int(world_size))
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


class DistributedSampler:
    """The indices of one rank's shards of the global batches of an epoch.

    Args:
        num_samples: the dataset's length.
        batch_size: the global batch size (all ranks together).
        num_replicas: the number of ranks (default: the MPI world size).
        rank: this rank (default: the MPI rank).
        shuffle: a new seeded permutation every epoch (the same on every rank).
        seed: the permutation's seed; must be the same on every rank.
        drop_last: drop the last incomplete global batch.

    Raises:
        ArgumentError: a global batch smaller than the number of ranks, or a bad rank.

    Example:
        >>> s = DistributedSampler(10, batch_size=4, num_replicas=2, rank=1, shuffle=False)
        >>> [b.tolist() for b in s.batches(0)]
        [[2, 3], [6, 7], [9]]
    """

    def __init__(self, num_samples, batch_size, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        self.num_samples, self.batch_size = int(num_samples), int(batch_size)
        self.num_replicas = comm.world_size() if num_replicas is None else int(num_replicas)
        self.rank = comm.rank() if rank is None else int(rank)
        if not 0 <= self.rank < self.num_replicas:
            raise ArgumentError(f"DistributedSampler: rank must be in [0, {self.num_replicas}), got {self.rank}")
        if self.batch_size < self.num_replicas:
            raise ArgumentError(f"DistributedSampler: the global batch size ({self.batch_size}) must be at least the "
                                f"number of ranks ({self.num_replicas}), so that every rank gets a sample")
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch):
        """Use the permutation of ``epoch`` in the next ``iter()`` (PyTorch's name)."""
        self.epoch = int(epoch)

    def __len__(self):
        n = self.num_samples
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self, epoch):
        """The global order of ``epoch``, the same on every rank (the DataLoader's order)."""
        if not self.shuffle:
            return np.arange(self.num_samples)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(self.num_samples)

    def global_batch(self, epoch, b, order=None):
        """The indices of global batch ``b`` of ``epoch`` (all ranks' shards together)."""
        order = self.order(epoch) if order is None else order
        return order[b * self.batch_size:(b + 1) * self.batch_size]

    def local(self, batch):
        """This rank's contiguous slice of one global batch."""
        start, stop = shard_bounds(len(batch), self.num_replicas, self.rank)
        return batch[start:stop]

    def batches(self, epoch, start_batch=0):
        """This rank's index arrays for global batches ``start_batch, ...`` of ``epoch``."""
        order = self.order(epoch)
        for b in range(int(start_batch), len(self)):
            batch = self.global_batch(epoch, b, order)
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield self.local(batch)

    def __iter__(self):
        for shard in self.batches(self.epoch):
            yield from shard.tolist()


class DistributedLoader:
    """A :class:`~convgrad.data.DataLoader` seen by one rank: the same epochs, batches and state,
    but each batch is only this rank's shard, transformed with per-sample random streams.

    It offers what the fit loop uses (``len``, ``iter``, ``iter_epoch(epoch, start_batch)``,
    ``order``, ``state_dict`` / ``load_state_dict``, ``batch_size``, ``seed``, ``dataset``), so
    ``fit(ddp_model, DistributedLoader(loader), ...)`` trains data-parallel, and a checkpoint of
    rank 0's loader state resumes every rank.

    Args:
        loader: the single-process DataLoader (its ``batch_size`` is the global batch size).
        num_replicas, rank: default the MPI world size and rank.

    Raises:
        ArgumentError: the global batch is smaller than the number of ranks.

    Example:
        >>> from convgrad.data import ArrayDataset, DataLoader
        >>> import numpy as np
        >>> ds = ArrayDataset(np.zeros((10, 2, 2), np.float32)[:, None], np.arange(10))
        >>> shard = DistributedLoader(DataLoader(ds, 4), num_replicas=2, rank=0)
        >>> [labels.tolist() for _, labels in shard]
        [[0, 1], [4, 5], [8]]
    """

    def __init__(self, loader, num_replicas=None, rank=None):
        self.loader = loader
        self.sampler = DistributedSampler(len(loader.dataset), loader.batch_size, num_replicas, rank,
                                          shuffle=loader.shuffle, seed=loader.seed, drop_last=loader.drop_last)

    # what the fit loop and checkpoints read from a DataLoader
    @property
    def dataset(self):
        """The whole dataset (every rank holds it)."""
        return self.loader.dataset

    @property
    def batch_size(self):
        """The global batch size."""
        return self.loader.batch_size

    @property
    def shuffle(self):
        """A new seeded order every epoch."""
        return self.loader.shuffle

    @property
    def drop_last(self):
        """The last incomplete global batch is dropped."""
        return self.loader.drop_last

    @property
    def seed(self):
        """The seed of order and augmentation (the same on every rank)."""
        return self.loader.seed

    @property
    def epoch(self):
        """The epoch the next ``iter()`` runs."""
        return self.loader.epoch

    per_sample_rng = True  # shards are always transformed with per-sample streams

    def __len__(self):
        return len(self.loader)

    def order(self, epoch):
        """The global order of ``epoch`` (the wrapped loader's)."""
        return self.loader.order(epoch)

    def __iter__(self):
        epoch = self.loader.epoch
        self.loader.epoch += 1
        return self.iter_epoch(epoch)

    def iter_epoch(self, epoch, start_batch=0):
        """This rank's shards of batches ``start_batch, ...`` of ``epoch`` as tensors."""
        self.sampler.seed = self.loader.seed  # a restored checkpoint may have changed it
        for idx in self.sampler.batches(epoch, start_batch):
            images, labels = self.loader.fetch_per_sample(idx, epoch)
            yield from_numpy(np.asarray(images)), from_numpy(np.asarray(labels, dtype=np.int64))

    def state_dict(self):
        """The wrapped loader's state (seed, epoch): the same on every rank."""
        return self.loader.state_dict()

    def load_state_dict(self, state):
        """Restore the state saved by :meth:`state_dict` (from rank 0's checkpoint)."""
        self.loader.load_state_dict(state)
        self.sampler.seed = self.loader.seed

    def __repr__(self):
        return f"DistributedLoader({self.loader!r}, rank {self.sampler.rank} of {self.sampler.num_replicas})"
