"""DataLoader: batches of ``(images, labels)`` tensors, with seeded, reproducible shuffling.

The order of epoch ``e`` and the augmentation of its batch ``b`` depend only on ``(seed, e, b)``
(generators ``np.random.default_rng([seed, e])`` and ``default_rng([seed, e, b])``). So the
loader's whole state is three integers, a checkpoint can store it, and a resumed run sees exactly
the batches the interrupted one would have seen.

With ``per_sample_rng=True`` each sample's augmentation depends on ``(seed, epoch, sample index)``
only, not on the batch it lands in (:mod:`convgrad.data.sample_rng`): data-parallel ranks that
each transform a shard of a batch then produce exactly the images of one process.
"""
import numbers

import numpy as np

from .. import backend
from ..creation import from_numpy
from ..errors import ArgumentError


class DataLoader:
    """Iterate over a dataset in batches.

    Args:
        dataset: anything with ``len()`` and ``[i] -> (image, label)``; datasets with
            ``get_batch(indices, rng)`` (all convgrad datasets) are batched without a Python loop.
        batch_size: samples per batch (the last one may be smaller unless ``drop_last``).
        shuffle: a new random order every epoch.
        drop_last: drop the last incomplete batch.
        seed: seed of the order and augmentation; None draws one from convgrad's global generator
            (so ``convgrad.manual_seed`` makes it reproducible too).
        per_sample_rng: random transforms draw from per-sample streams keyed by (seed, epoch,
            sample index) instead of one generator per batch (see ``data/sample_rng.py``).

    Each ``iter(loader)`` is one epoch; ``len(loader)`` is the number of batches per epoch.
    Yields ``(images, labels)`` tensors (labels int64).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, per_sample_rng=False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ArgumentError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if len(dataset) == 0:
            raise ArgumentError("DataLoader: the dataset is empty")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = int(backend.get_rng().integers(2 ** 63)) if seed is None else int(seed)
        self.epoch = 0  # the epoch the next iter() runs
        self.per_sample_rng = bool(per_sample_rng)

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self, epoch):
        """The sample indices of ``epoch`` in the order they are served."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(n)

    def __iter__(self):
        epoch = self.epoch
        self.epoch += 1
        return self.iter_epoch(epoch)

    def iter_epoch(self, epoch, start_batch=0):
        """Batches ``start_batch, start_batch + 1, ...`` of ``epoch`` (for resuming mid-epoch)."""
        order = self.order(epoch)
        for b in range(int(start_batch), len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            if self.per_sample_rng:
                images, labels = self.fetch_per_sample(idx, epoch)
            else:
                images, labels = self._fetch(idx, np.random.default_rng([self.seed, int(epoch), b]))
            yield from_numpy(np.asarray(images)), from_numpy(np.asarray(labels, dtype=np.int64))

    def fetch_per_sample(self, idx, epoch):
        """``(images, labels)`` of samples ``idx`` with per-sample random streams: each sample is
        transformed as it would be in any other batch (a transform whose draws cannot be split by
        sample runs once per sample, with its own ``default_rng([seed, epoch, index])``)."""
        from .sample_rng import PerSampleDrawError, SampleStreams

        try:
            return self._fetch(idx, SampleStreams(self.seed, epoch, idx))
        except (PerSampleDrawError, AttributeError):
            parts = [self._fetch(idx[j:j + 1], np.random.default_rng([self.seed, int(epoch), int(i)]))
                     for j, i in enumerate(idx)]
            return np.concatenate([np.asarray(p[0]) for p in parts]), np.concatenate([np.asarray(p[1]) for p in parts])

    def _fetch(self, idx, rng):
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(idx, rng=rng)
        samples = [self.dataset[int(i)] for i in idx]
        images = np.stack([np.asarray(s[0]) for s in samples])
        return images, np.array([int(s[1]) for s in samples], dtype=np.int64)

    def state_dict(self):
        """The loader's position (seed, epoch, batch) as a dict, stored in checkpoints."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state):
        """Restore a position from :meth:`state_dict`: the next batches are the ones an uninterrupted run would see."""
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])

    def __repr__(self):
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, seed={self.seed}" +
                (", per_sample_rng=True)" if self.per_sample_rng else ")"))
