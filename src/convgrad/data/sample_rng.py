"""Per-sample random streams: a sample's augmentation depends on the sample, not on its batch.

The :class:`~convgrad.data.DataLoader` normally hands a batch's transforms one generator seeded
with ``(seed, epoch, batch)``, so an image's random rotation depends on where in the batch it
sits. That is fine in one process, but in data-parallel training each rank transforms only its
shard of the global batch: with one generator per rank, the same image would get another
rotation than in a single process, and N ranks would not follow the single-process run.

:class:`SampleStreams` stands in for ``np.random.Generator`` (``random``, ``uniform``,
``integers``, ``normal``, ``standard_normal``) and gives row ``j`` of every draw of shape
``(n, ...)`` from sample ``j``'s own stream, keyed by ``(seed, epoch, sample index)`` and the
draw's position in the pipeline. It is a counter-based generator (a SplitMix64 finaliser of the
key plus a counter, vectorised over the batch) instead of n NumPy generators, which would cost
about 20 us each to create: a 64-image batch's streams cost a few microseconds.

A transform that draws anything else (a scalar, a draw whose leading size is not the batch, a
method not listed) raises :class:`PerSampleDrawError` (or AttributeError); the loader then transforms that batch one
sample at a time, each with a real ``np.random.default_rng([seed, epoch, index])``: slower, but
still independent of the batch.
"""
import numpy as np

from ..errors import ArgumentError

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


class PerSampleDrawError(ArgumentError):
    """A transform asked the per-sample streams for a draw they cannot split by sample."""


def _mix(z):
    """SplitMix64's finaliser on a uint64 array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _key(*parts):
    """A uint64 array of stream keys from integers / integer arrays, mixed in order."""
    with np.errstate(over="ignore"):
        h = np.zeros((), np.uint64)
        for p in parts:
            h = _mix(h * _GOLDEN + (np.asarray(p, dtype=np.int64).astype(np.uint64) ^ _GOLDEN))
    return h


class SampleStreams:
    """A generator-like object whose draws of shape ``(n, ...)`` give row ``j`` from the stream
    of ``indices[j]``.

    Args:
        seed, epoch: the loader's seed and the epoch.
        indices: the dataset indices of the batch's samples (any order).

    Raises (from the draws):
        PerSampleDrawError: a draw without a leading dimension equal to ``len(indices)``.

    Example:
        >>> a = SampleStreams(0, 0, [5, 9]).uniform(0, 1, 2)
        >>> b = SampleStreams(0, 0, [9]).uniform(0, 1, 1)
        >>> bool(a[1] == b[0])          # sample 9 draws the same wherever it sits
        True
    """

    def __init__(self, seed, epoch, indices):
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.keys = _key(int(seed), int(epoch), self.indices)
        self.calls = 0

    def __len__(self):
        return len(self.indices)

    def _bits(self, size, method):
        if size is None:
            raise PerSampleDrawError(f"per-sample streams: {method}() without a size draws one value for the whole "
                                     f"batch; draw one per sample (size={len(self)} or ({len(self)}, ...))")
        shape = (int(size),) if np.ndim(size) == 0 else tuple(int(s) for s in size)
        if not shape or shape[0] != len(self):
            raise PerSampleDrawError(f"per-sample streams: {method}() of shape {shape} does not start with the batch "
                                     f"size {len(self)}")
        per_sample = int(np.prod(shape[1:], dtype=np.int64))
        call = self.calls
        self.calls += 1
        counter = (np.uint64(call) << np.uint64(32)) + np.arange(per_sample, dtype=np.uint64)
        with np.errstate(over="ignore"):
            bits = _mix(self.keys[:, None] + (counter[None, :] + np.uint64(1)) * _GOLDEN)
        return bits.reshape(shape)

    def random(self, size=None, dtype=np.float64):
        """Uniform floats in [0, 1), like ``Generator.random``."""
        return ((self._bits(size, "random") >> np.uint64(11)) * (1.0 / (1 << 53))).astype(dtype, copy=False)

    def uniform(self, low=0.0, high=1.0, size=None):
        """Uniform floats in [low, high), like ``Generator.uniform`` (scalar bounds)."""
        u = (self._bits(size, "uniform") >> np.uint64(11)) * (1.0 / (1 << 53))
        return low + (high - low) * u

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        """Uniform integers in [low, high) (or [low, high] with ``endpoint``), like ``Generator.integers``."""
        if high is None:
            low, high = 0, low
        span = int(high) - int(low) + (1 if endpoint else 0)
        if span <= 0:
            raise ArgumentError(f"integers: empty range low={low}, high={high}")
        u = (self._bits(size, "integers") >> np.uint64(11)) * (1.0 / (1 << 53))
        return (int(low) + np.minimum(np.floor(u * span), span - 1)).astype(dtype)

    def standard_normal(self, size=None, dtype=np.float64):
        """Standard normal floats (Box-Muller), like ``Generator.standard_normal``."""
        bits = self._bits(size, "standard_normal")
        u1 = ((bits >> np.uint64(11)) + np.uint64(1)) * (1.0 / ((1 << 53) + 1))   # (0, 1]
        u2 = ((_mix(bits) >> np.uint64(11)) * (1.0 / (1 << 53)))
        return (np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)).astype(dtype, copy=False)

    def normal(self, loc=0.0, scale=1.0, size=None):
        """Normal floats with mean ``loc`` and standard deviation ``scale``."""
        return loc + scale * self.standard_normal(size)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"per-sample streams have no {name}(); they offer random, uniform, integers, "
                             f"normal and standard_normal")
