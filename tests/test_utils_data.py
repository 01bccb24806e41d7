"""convgrad.utils.data against torch.utils.data: the same samplers, batches, collation and splits."""
import numpy as np
import pytest
import torch
import torch.utils.data as tud

import convgrad as cg
from convgrad.errors import ArgumentError, ArgumentTypeError
from convgrad.utils import data as cud


def _same(a, b):
    """Compare a convgrad batch structure with torch's, element by element."""
    if isinstance(b, torch.Tensor):
        assert isinstance(a, cg.Tensor), type(a)
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert a.numpy().dtype == b.numpy().dtype
    elif isinstance(b, dict):
        assert type(a) is dict and a.keys() == b.keys()
        for k in b:
            _same(a[k], b[k])
    elif isinstance(b, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), (type(a), type(b))
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert a == b


class Squares(cud.Dataset):
    """A dataset of dicts, tuples, numbers and strings: every default_collate rule at once."""

    def __init__(self, lib, n=10):
        self.lib, self.n = lib, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        arr = np.arange(6, dtype=np.float32).reshape(2, 3) * i
        t = self.lib.tensor(arr)
        return {"x": t, "pair": (i, float(i) / 2), "name": f"s{i}", "flag": i % 2 == 0, "arr": arr}


class TorchSquares(tud.Dataset):
    def __init__(self, n=10):
        self.inner = Squares(torch, n)

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        return self.inner[i]


@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (3, False), (3, True), (10, False), (4, True)])
def test_sequential_batches_and_collation_match_torch(batch_size, drop_last):
    ours = list(cud.DataLoader(Squares(cg), batch_size=batch_size, drop_last=drop_last))
    theirs = list(tud.DataLoader(TorchSquares(), batch_size=batch_size, drop_last=drop_last))
    assert len(ours) == len(theirs) == len(cud.DataLoader(Squares(cg), batch_size=batch_size, drop_last=drop_last))
    for a, b in zip(ours, theirs):
        _same(a, b)


def test_batch_size_none_and_custom_collate_and_samplers():
    ds = Squares(cg, 5)
    single = list(cud.DataLoader(ds, batch_size=None))
    assert len(single) == 5 and isinstance(single[0]["arr"], cg.Tensor)
    firsts = list(cud.DataLoader(ds, batch_size=2, collate_fn=lambda b: [s["name"] for s in b]))
    assert firsts == [["s0", "s1"], ["s2", "s3"], ["s4"]]
    order = [3, 1, 4, 0]
    got = [b["pair"][0].tolist() for b in cud.DataLoader(ds, batch_size=2, sampler=order)]
    assert got == [[3, 1], [4, 0]]
    batches = [[0, 2], [4], [1, 3]]
    got = [b["pair"][0].tolist() for b in cud.DataLoader(ds, batch_sampler=batches)]
    assert got == [[0, 2], [4], [1, 3]]
    assert list(cud.BatchSampler(cud.SequentialSampler(range(7)), 3, False)) == \
        list(tud.BatchSampler(tud.SequentialSampler(range(7)), 3, False))
    assert list(cud.BatchSampler(range(7), 3, True)) == list(tud.BatchSampler(range(7), 3, True))
    with pytest.raises(ArgumentError, match="mutually exclusive"):
        cud.DataLoader(ds, batch_sampler=batches, batch_size=2)
    with pytest.raises(ArgumentError, match="mutually exclusive"):
        cud.DataLoader(ds, sampler=order, shuffle=True)


def test_shuffle_is_a_permutation_seeded_by_manual_seed_or_a_generator():
    ds = cud.TensorDataset(cg.arange(50), cg.arange(50) * 2)
    cg.manual_seed(3)
    first = [x.tolist() for x, _ in cud.DataLoader(ds, batch_size=8, shuffle=True)]
    cg.manual_seed(3)
    again = [x.tolist() for x, _ in cud.DataLoader(ds, batch_size=8, shuffle=True)]
    assert first == again and sorted(sum(first, [])) == list(range(50)) and sum(first, []) != list(range(50))
    loader = cud.DataLoader(ds, batch_size=50, shuffle=True, generator=cg.Generator().manual_seed(1))
    e1, e2 = [next(iter(loader))[0].tolist() for _ in range(2)]
    assert e1 != e2  # a new order every epoch
    for x, y in loader:
        np.testing.assert_array_equal(y.numpy(), 2 * x.numpy())  # rows stay together


def test_tensor_dataset_subset_concat_random_split_match_torch():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    ours = cud.TensorDataset(cg.tensor(x), cg.arange(10))
    theirs = tud.TensorDataset(torch.tensor(x), torch.arange(10))
    _same(list(ours[3]), list(theirs[3]))
    _same(list(cud.DataLoader(ours, batch_size=4)), list(tud.DataLoader(theirs, batch_size=4)))
    sub = cud.Subset(ours, [7, 2, 5])
    assert len(sub) == 3 and int(sub[1][1]) == 2
    cat = cud.ConcatDataset([sub, ours])
    tcat = tud.ConcatDataset([tud.Subset(theirs, [7, 2, 5]), theirs])
    assert len(cat) == len(tcat) == 13
    for i in (0, 2, 3, 12, -1, -13):
        assert int(cat[i][1]) == int(tcat[i][1])
    with pytest.raises(IndexError):
        cat[13]
    assert len(ours + ours) == 20
    for lengths in ([3, 7], [0.3, 0.7], [0.33, 0.33, 0.34], [0.5, 0.5]):
        parts = cud.random_split(ours, lengths, generator=cg.Generator().manual_seed(0))
        tparts = tud.random_split(theirs, lengths, generator=torch.Generator().manual_seed(0))
        assert [len(p) for p in parts] == [len(p) for p in tparts]
        assert sorted(i for p in parts for i in p.indices) == list(range(10))
    with pytest.raises(ArgumentError, match="sum to"):
        cud.random_split(ours, [3, 3])
    with pytest.raises(ArgumentError, match="same size in dimension 0"):
        cud.TensorDataset(cg.zeros(3, 2), cg.zeros(4))


def test_iterable_dataset_batches_like_torch():
    class Stream(cud.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    class TStream(tud.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    _same(list(cud.DataLoader(Stream(), batch_size=3)), list(tud.DataLoader(TStream(), batch_size=3)))
    _same(list(cud.DataLoader(Stream(), batch_size=3, drop_last=True)),
          list(tud.DataLoader(TStream(), batch_size=3, drop_last=True)))
    with pytest.raises(ArgumentError, match="IterableDataset"):
        cud.DataLoader(Stream(), shuffle=True)


def test_random_and_weighted_samplers():
    assert sorted(cud.RandomSampler(range(9), generator=cg.Generator().manual_seed(0))) == list(range(9))
    draws = list(cud.RandomSampler(range(3), replacement=True, num_samples=200))
    assert len(draws) == 200 and set(draws) == {0, 1, 2}
    w = list(cud.WeightedRandomSampler([0, 1, 0, 3], 400, generator=cg.Generator().manual_seed(0)))
    assert set(w) == {1, 3} and 0.6 < w.count(3) / 400 < 0.9
    assert sorted(cud.SubsetRandomSampler([5, 7, 9])) == [5, 7, 9]


def test_worker_options_are_accepted_and_default_collate_errors_are_clear():
    ds = cud.TensorDataset(cg.arange(10))
    loader = cud.DataLoader(ds, batch_size=4, num_workers=2, pin_memory=True, persistent_workers=True,
                            prefetch_factor=2)
    assert [len(b[0]) for b in loader] == [4, 4, 2] and cud.get_worker_info() is None
    with pytest.raises(ArgumentError, match="different shapes"):
        cud.default_collate([cg.zeros(2), cg.zeros(3)])
    with pytest.raises(ArgumentTypeError, match="ToTensor"):
        cud.default_collate([object(), object()])
    with pytest.raises(ArgumentError, match="num_workers"):
        cud.DataLoader(ds, num_workers=-1)


def test_convgrad_data_datasets_take_the_batched_path_with_the_same_samples():
    from convgrad.data import MNIST, mnist_transforms
    ds = MNIST(train=False, transform=mnist_transforms(augment=False)).subset(40)
    x, y = next(iter(cud.DataLoader(ds, batch_size=40)))
    assert x.shape == (40, 1, 28, 28) and y.dtype == np.int64
    one = ds[5]
    np.testing.assert_array_equal(x.numpy()[5], one[0])
    assert int(y[5]) == one[1]
