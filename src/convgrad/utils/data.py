"""``convgrad.utils.data``: PyTorch's data-loading API with per-sample semantics.

    from convgrad.utils.data import DataLoader, TensorDataset, random_split
    ds = TensorDataset(convgrad.randn(100, 3), convgrad.randint(0, 2, (100,)))
    train, val = random_split(ds, [0.8, 0.2], generator=convgrad.Generator().manual_seed(0))
    for x, y in DataLoader(train, batch_size=16, shuffle=True):
        ...   # x: (16, 3) float32 tensor, y: (16,) int64 tensor

``dataset[i]`` is one sample; the loader draws indices from a sampler, groups them with a batch
sampler, fetches the samples and merges them with ``collate_fn`` (:func:`default_collate` stacks
tensors, arrays and numbers, and recurses into tuples, lists and dicts), as PyTorch does.

Differences from PyTorch:

- ``num_workers``, ``pin_memory``, ``persistent_workers``, ``prefetch_factor``, ``timeout``,
  ``worker_init_fn`` and ``multiprocessing_context`` are accepted and loading runs in the main
  process. Measured on a 2-core machine (bundled 5,000-image MNIST sample, per-sample
  ``ToTensor``/``Normalize``): 0.87 s in-process, 0.52 s with two forked workers, against
  minutes for one training epoch of a small CNN on the same cores; loading is a few percent of
  the epoch, and workers would take cores from the model's BLAS threads (docs/PYTORCH.md).
- Two fast paths give the same batches as fetching sample by sample: a :class:`TensorDataset`
  is indexed a whole batch at once, and convgrad's own datasets (with ``get_batch``) transform a
  batch at a time.
- Shuffling draws from convgrad's global generator (so ``convgrad.manual_seed`` fixes it), or
  from ``generator=`` (a :class:`convgrad.Generator`).
"""
import bisect
import collections.abc
import itertools
import math
import numbers

import numpy as np

from .. import backend
from ..errors import ArgumentError, ArgumentTypeError
from ..tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler", "DataLoader", "default_collate", "get_worker_info"]


# ----------------------------------------------------------------------------------------------
# Datasets
# ----------------------------------------------------------------------------------------------
class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(i) -> sample`` and ``__len__``.

    ``a + b`` is their :class:`ConcatDataset`.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset that is a stream: subclasses define ``__iter__`` yielding samples."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other):
        raise ArgumentTypeError("IterableDataset: concatenation of streams is not supported")


class TensorDataset(Dataset):
    """Samples are the ``i``-th rows of tensors of equal first dimension: ``(x[i], y[i], ...)``.

    Args:
        *tensors: tensors (or arrays) with the same size in dimension 0.

    Raises:
        ShapeError-like ArgumentError: if the first dimensions differ.
    """

    def __init__(self, *tensors):
        tensors = tuple(t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in tensors)
        if not tensors:
            raise ArgumentError("TensorDataset: give at least one tensor")
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if None in sizes or len(set(sizes)) != 1:
            raise ArgumentError(f"TensorDataset: every tensor needs the same size in dimension 0, got sizes "
                                f"{[tuple(t.shape) for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def _batch(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        return tuple(Tensor._wrap(t._data[idx]) for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in (indices.tolist() if hasattr(indices, "tolist") else indices)]

    def __getitem__(self, index):
        if isinstance(index, (list, tuple)):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


class ConcatDataset(Dataset):
    """Datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ArgumentError("ConcatDataset: give at least one dataset")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise ArgumentTypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise IndexError(f"ConcatDataset: index {index} out of range for {len(self)} samples")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        if which >= len(self.datasets):
            raise IndexError(f"ConcatDataset: index {index} out of range for {len(self)} samples")
        start = 0 if which == 0 else self.cumulative_sizes[which - 1]
        return self.datasets[which][index - start]


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given lengths.

    Args:
        dataset: a map-style dataset.
        lengths: sizes summing to ``len(dataset)``, or fractions summing to 1 (the remainder of
            the rounding goes to the first subsets one by one, as PyTorch does).
        generator: a :class:`convgrad.Generator`; default convgrad's global generator.

    Raises:
        ArgumentError: if the lengths do not add up.
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:  # fractions (PyTorch's rule)
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    if sum(lengths) != n:
        raise ArgumentError(f"random_split: the lengths {lengths} sum to {sum(lengths)}, the dataset has {n} samples")
    perm = backend.rng_of(generator).permutation(n).tolist()
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + length]))
        offset += length
    return out


# ----------------------------------------------------------------------------------------------
# Samplers: which indices, in which order
# ----------------------------------------------------------------------------------------------
class Sampler:
    """Base class: iterating yields dataset indices."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new random order each pass (or ``num_samples`` draws with ``replacement``)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source, self.replacement, self.generator = data_source, bool(replacement), generator
        self._num_samples = num_samples
        if num_samples is not None and (not isinstance(num_samples, numbers.Integral) or num_samples <= 0):
            raise ArgumentError(f"RandomSampler: num_samples must be a positive integer, got {num_samples!r}")

    @property
    def num_samples(self):
        """Indices per pass: ``num_samples`` if given, else the dataset's length."""
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __iter__(self):
        n, rng = len(self.data_source), backend.rng_of(self.generator)
        if self.replacement:
            return iter(rng.integers(0, n, self.num_samples).tolist())
        reps = -(-self.num_samples // n) if n else 0
        order = np.concatenate([rng.permutation(n) for _ in range(reps)]) if reps else np.zeros(0, np.int64)
        return iter(order[:self.num_samples].tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order each pass."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = list(indices), generator

    def __iter__(self):
        perm = backend.rng_of(self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in perm)

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        w = np.asarray(weights._data if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if w.ndim != 1 or (w < 0).any() or not w.sum() > 0:
            raise ArgumentError("WeightedRandomSampler: weights must be a 1-D sequence of non-negative numbers "
                                "with a positive sum")
        self.weights, self.num_samples = w, int(num_samples)
        self.replacement, self.generator = bool(replacement), generator

    def __iter__(self):
        p = self.weights / self.weights.sum()
        draws = backend.rng_of(self.generator).choice(len(p), self.num_samples, replace=self.replacement, p=p)
        return iter(draws.tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last may be shorter
    unless ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ArgumentError(f"BatchSampler: batch_size must be a positive integer, got {batch_size!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), bool(drop_last)

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


# ----------------------------------------------------------------------------------------------
# Collation: a list of samples -> one batch
# ----------------------------------------------------------------------------------------------
def default_collate(batch):
    """Merge a list of samples into a batch, as PyTorch's ``default_collate``.

    Tensors and NumPy arrays are stacked into a tensor with a new first dimension; Python floats
    become a float64 tensor, ints an int64 tensor, bools a bool tensor; strings stay a list;
    tuples, lists, named tuples and dicts are collated element by element.

    Raises:
        ArgumentError: if tensors of different shapes are to be stacked.
        ArgumentTypeError: for samples of a type it cannot merge (PIL images: add ToTensor()).
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        shapes = {tuple(t.shape) for t in batch}
        if len(shapes) > 1:
            raise ArgumentError(f"default_collate: samples of different shapes cannot be stacked into a batch: "
                                f"{sorted(shapes)[:4]}; resize them to one size or pass a collate_fn")
        return Tensor._wrap(np.stack([t._data for t in batch]))
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OUS":
            raise ArgumentTypeError(f"default_collate: arrays of dtype {elem.dtype} cannot be batched")
        return default_collate([Tensor._wrap(a) for a in batch])
    if isinstance(elem, np.generic):
        return Tensor._wrap(np.array(batch))
    if isinstance(elem, bool):
        return Tensor._wrap(np.array(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return Tensor._wrap(np.array(batch, dtype=np.int64))
    if isinstance(elem, numbers.Real):
        return Tensor._wrap(np.array(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return type(elem)({key: default_collate([d[key] for d in batch]) for key in elem}) \
            if not isinstance(elem, dict) or type(elem) is dict else {k: default_collate([d[k] for d in batch])
                                                                      for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise ArgumentError("default_collate: every sample of a batch must have the same number of elements")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise ArgumentTypeError(f"default_collate: samples of type {type(elem).__name__} cannot be batched (a PIL "
                            f"image? add transforms.ToTensor()); expected tensors, arrays, numbers, strings, "
                            f"tuples, lists or dicts")


def default_convert(data):
    """Without batching (``batch_size=None``): arrays become tensors, containers recursively."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OUS":
        return Tensor._wrap(data)
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(d) for d in data)
    if isinstance(data, dict):
        return {k: default_convert(v) for k, v in data.items()}
    return data


def get_worker_info():
    """None: convgrad loads data in the main process (see the module docstring)."""
    return None


# ----------------------------------------------------------------------------------------------
# DataLoader
# ----------------------------------------------------------------------------------------------
class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a map-style dataset (``len`` and ``[i]``) or an :class:`IterableDataset`.
        batch_size: samples per batch; None yields single samples (converted, not collated).
        shuffle: a new random order every epoch (map-style datasets only).
        sampler: an iterable of indices (instead of ``shuffle``).
        batch_sampler: an iterable of index lists (instead of batch_size/shuffle/sampler/drop_last).
        num_workers: accepted, as are ``pin_memory``, ``persistent_workers``, ``prefetch_factor``,
            ``timeout``, ``worker_init_fn``, ``multiprocessing_context``, ``pin_memory_device`` and
            ``in_order``; loading runs in the main process.
        collate_fn: merges a list of samples (default :func:`default_collate`).
        drop_last: drop the last incomplete batch.
        generator: a :class:`convgrad.Generator` for the shuffling.

    Raises:
        ArgumentError: for contradictory options (``sampler`` with ``shuffle``, ...).

    Example:
        >>> loader = DataLoader(TensorDataset(convgrad.randn(10, 2)), batch_size=4)
        >>> [len(b[0]) for b in loader]
        [4, 4, 2]
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ArgumentError(f"DataLoader: num_workers must be a non-negative integer, got {num_workers!r}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
                                       or batch_size < 1):
            raise ArgumentError(f"DataLoader: batch_size must be a positive integer or None, got {batch_size!r}")
        self.dataset = dataset
        self.num_workers, self.pin_memory, self.persistent_workers = int(num_workers), pin_memory, persistent_workers
        self.timeout, self.worker_init_fn, self.prefetch_factor = timeout, worker_init_fn, prefetch_factor
        self.generator = generator
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle:
                raise ArgumentError("DataLoader: shuffle=True is not possible with an IterableDataset (it is a stream)")
            if sampler is not None or batch_sampler is not None:
                raise ArgumentError("DataLoader: an IterableDataset takes no sampler or batch_sampler")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ArgumentError("DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, "
                                    "sampler and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ArgumentError("DataLoader: drop_last needs a batch_size")
        if sampler is not None and shuffle:
            raise ArgumentError("DataLoader: sampler and shuffle=True are mutually exclusive")
        if not self._iterable and sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if not self._iterable and batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size, self.drop_last, self.shuffle = batch_size, bool(drop_last), bool(shuffle)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_size is not None or batch_sampler is not None else default_convert)
        self._default_collate = collate_fn is None

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)  # TypeError if the stream has no length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def __iter__(self):
        if self._iterable:
            return self._iter_stream()
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        return self._iter_batches()

    def _iter_batches(self):
        ds = self.dataset
        fast_tensor = self._default_collate and isinstance(ds, TensorDataset)
        fast_batch = self._default_collate and hasattr(ds, "get_batch") and not isinstance(ds, Dataset)
        for indices in self.batch_sampler:
            if fast_tensor:
                yield list(ds._batch(indices))
            elif fast_batch:  # convgrad.data datasets: a whole batch transformed at once
                images, labels = ds.get_batch(np.asarray(indices, dtype=np.int64), rng=backend.get_rng())
                yield [Tensor._wrap(np.asarray(images)), Tensor._wrap(np.asarray(labels, dtype=np.int64))]
            elif hasattr(ds, "__getitems__"):
                yield self.collate_fn(ds.__getitems__(list(indices)))
            else:
                yield self.collate_fn([ds[i] for i in indices])

    def _iter_stream(self):
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __repr__(self):
        return f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, shuffle={self.shuffle})"
