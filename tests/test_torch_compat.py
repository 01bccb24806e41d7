"""PyTorch's tensor and package surface on convgrad: the ops it adds (compared with PyTorch,
values and gradients, float32/float64, randomized shapes and dims), in-place rules and version
counters, grad_fn objects, Tensor.data, Size, devices, dtype aliases, save/load of nested
structures, and the errors that used to come from NumPy or Python."""
import io
import os

import numpy as np
import pytest
import torch

import convgrad as cg
from convgrad.errors import ArgumentTypeError, DeviceError, DTypeError, ShapeError
from convgrad.io import CheckpointError
from oracle import check_against_torch, check_gradient

DTYPES = [np.float32, np.float64]
RNG = np.random.default_rng(1234)


def _shape(ndim):
    return tuple(int(s) for s in RNG.integers(1, 5, ndim))


# ----------------------------------------------------------------------------------------------
# Ops compared with PyTorch
# ----------------------------------------------------------------------------------------------
SORT_CASES = [(_shape(int(n)), int(d), bool(desc)) for n, d, desc in
              zip(RNG.integers(1, 4, 6), RNG.integers(-1, 1, 6), RNG.integers(0, 2, 6))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim,descending", SORT_CASES)
def test_sort_values_indices_and_gradient(shape, dim, descending, dtype):
    check_against_torch(lambda x: cg.sort(x, dim, descending).values,
                        lambda x: torch.sort(x, dim, descending).values, [shape], dtype, name="sort")
    x = RNG.standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(cg.sort(cg.tensor(x), dim, descending).indices.numpy(),
                                  torch.sort(torch.tensor(x), dim, descending).indices.numpy())
    np.testing.assert_array_equal(cg.argsort(cg.tensor(x), dim, descending).numpy(),
                                  torch.argsort(torch.tensor(x), dim=dim, descending=descending).numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 6), 1), ((4, 3, 5), 0), ((2, 3, 4), -1)])
def test_topk_matches_torch(shape, dim, largest, dtype):
    k = int(RNG.integers(1, shape[dim] + 1))
    check_against_torch(lambda x: cg.topk(x, k, dim, largest).values,
                        lambda x: torch.topk(x, k, dim, largest).values, [shape], dtype, name="topk")
    x = RNG.standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(cg.tensor(x).topk(k, dim, largest).indices.numpy(),
                                  torch.tensor(x).topk(k, dim, largest).indices.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((6,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), -1), ((2, 3, 4), 1)])
def test_cumsum_matches_torch(shape, dim, dtype):
    check_against_torch(lambda x: cg.cumsum(x, dim), lambda x: torch.cumsum(x, dim), [shape], dtype, name="cumsum")
    check_gradient(lambda x: x.cumsum(dim), [shape])


def _index_for(shape, dim, index_shape):
    return RNG.integers(0, shape[dim], index_shape).astype(np.int64)


GATHER_CASES = [((4, 5), 0, (3, 5)), ((4, 5), 1, (4, 7)), ((3, 4, 5), 2, (2, 3, 2)), ((3, 4, 5), 0, (6, 4, 5)),
                ((6,), 0, (9,))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim,index_shape", GATHER_CASES)
def test_gather_matches_torch(shape, dim, index_shape, dtype):
    idx = _index_for(shape, dim, index_shape)
    check_against_torch(lambda x: cg.gather(x, dim, cg.tensor(idx)),
                        lambda x: torch.gather(x, dim, torch.tensor(idx)), [shape], dtype, name="gather")
    check_gradient(lambda x: x.gather(dim, cg.tensor(idx)), [shape])


def _unique_index(shape, dim, index_shape):
    """Indices without repeats along ``dim`` (where repeated writes would race in PyTorch too)."""
    idx = np.empty(index_shape, np.int64)
    for pos in np.ndindex(*[n for d, n in enumerate(index_shape) if d != dim]):
        col = RNG.permutation(shape[dim])[:index_shape[dim]]
        where = list(pos)
        where.insert(dim, slice(None))
        idx[tuple(where)] = col
    return idx


SCATTER_CASES = [((4, 5), 0, (3, 5)), ((4, 5), 1, (2, 3)), ((3, 4, 5), 2, (3, 2, 4)), ((5,), 0, (3,))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim,index_shape", SCATTER_CASES)
def test_scatter_and_scatter_add_match_torch(shape, dim, index_shape, dtype):
    idx = _unique_index(shape, dim, index_shape)
    check_against_torch(lambda x, s: cg.scatter(x, dim, cg.tensor(idx), s),
                        lambda x, s: torch.scatter(x, dim, torch.tensor(idx), s), [shape, index_shape], dtype,
                        name="scatter")
    src_shape = tuple(n + 1 for n in index_shape)  # src may be larger than index (forward only: PyTorch's
    check_against_torch(lambda x, s: cg.scatter(x, dim, cg.tensor(idx), s),  # backward refuses it)
                        lambda x, s: torch.scatter(x, dim, torch.tensor(idx), s), [shape, src_shape], dtype,
                        grad=False)
    check_against_torch(lambda x: x.scatter(dim, cg.tensor(idx), value=2.5),
                        lambda x: x.scatter(dim, torch.tensor(idx), 2.5), [shape], dtype)
    rep = _index_for(shape, dim, index_shape)  # repeats add up
    check_against_torch(lambda x, s: cg.scatter_add(x, dim, cg.tensor(rep), s),
                        lambda x, s: torch.scatter_add(x, dim, torch.tensor(rep), s), [shape, index_shape], dtype,
                        name="scatter_add")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,mask_shape", [((3, 4), (3, 4)), ((2, 3, 4), (3, 1)), ((5,), ())])
def test_masked_fill_and_where_match_torch(shape, mask_shape, dtype):
    mask = RNG.random(mask_shape) > 0.5
    check_against_torch(lambda x: cg.masked_fill(x, cg.tensor(mask), -1.5),
                        lambda x: torch.masked_fill(x, torch.tensor(mask), -1.5), [shape], dtype, name="masked_fill")
    check_against_torch(lambda x, v: x.masked_fill(cg.tensor(mask), v),
                        lambda x, v: x.masked_fill(torch.tensor(mask), v), [shape, ()], dtype)
    check_against_torch(lambda x, y: cg.where(cg.tensor(mask), x, y),
                        lambda x, y: torch.where(torch.tensor(mask), x, y), [shape, shape[-1:]], dtype, name="where")
    cond = RNG.random(shape) > 0.3
    for a, b in zip(cg.where(cg.tensor(cond)), torch.where(torch.tensor(cond))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


NORM_CASES = [(2, None, False), ("fro", None, False), (1, 1, True), (3, (0, 1), False), (float("inf"), 0, False),
              (2, -1, True), (0.5, 1, False), (-float("inf"), 1, True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p,dim,keepdim", NORM_CASES)
def test_norm_matches_torch(p, dim, keepdim, dtype):
    shape = (3, 4, 2)
    check_against_torch(lambda x: x.norm(p, dim, keepdim), lambda x: x.norm(p, dim, keepdim), [shape], dtype,
                        name="norm")
    check_gradient(lambda x: cg.norm(x, p, dim, keepdim), [shape])


def test_norm_gradient_at_zero_is_zero_as_in_torch():
    x, t = cg.zeros(3, requires_grad=True), torch.zeros(3, requires_grad=True)
    x.norm().backward()
    t.norm().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_log1p_expm1_mm_bmm_match_torch(dtype):
    check_against_torch(cg.log1p, torch.log1p, [np.abs(RNG.standard_normal((3, 4)))], dtype, name="log1p")
    check_against_torch(cg.expm1, torch.expm1, [(3, 4)], dtype, name="expm1")
    check_against_torch(cg.mm, torch.mm, [(3, 4), (4, 2)], dtype, name="mm")
    check_against_torch(cg.bmm, torch.bmm, [(2, 3, 4), (2, 4, 5)], dtype, name="bmm")
    check_gradient(lambda x: x.log1p(), [np.abs(RNG.standard_normal((3,)))])
    with pytest.raises(ShapeError, match="2-D"):
        cg.mm(cg.randn(2, 3, 4), cg.randn(4, 2))


@pytest.mark.parametrize("dtype", DTYPES)
def test_view_as_and_eye_requires_grad(dtype):
    check_against_torch(lambda x, y: x.view_as(y) * 2, lambda x, y: x.view_as(y) * 2, [(2, 6), (3, 4)], dtype)
    e = cg.eye(3, requires_grad=True, dtype=dtype)
    (e * 3).sum().backward()
    np.testing.assert_array_equal(e.grad.numpy(), np.full((3, 3), 3.0))


# ----------------------------------------------------------------------------------------------
# In-place methods: values, gradients, PyTorch's rules
# ----------------------------------------------------------------------------------------------
INPLACE = [
    ("add_", lambda t, o: t.add_(o), lambda t, o: t.add_(o)),
    ("add_alpha", lambda t, o: t.add_(o, alpha=-0.5), lambda t, o: t.add_(o, alpha=-0.5)),
    ("sub_", lambda t, o: t.sub_(o), lambda t, o: t.sub_(o)),
    ("mul_", lambda t, o: t.mul_(o), lambda t, o: t.mul_(o)),
    ("div_", lambda t, o: t.div_(o.abs() + 1), lambda t, o: t.div_(o.abs() + 1)),
    ("iadd", lambda t, o: t.__iadd__(o), lambda t, o: t.__iadd__(o)),
    ("imul", lambda t, o: t.__imul__(o), lambda t, o: t.__imul__(o)),
    ("clamp_", lambda t, o: t.clamp_(-0.3, 0.4), lambda t, o: t.clamp_(-0.3, 0.4)),
    ("fill_", lambda t, o: t.fill_(0.7), lambda t, o: t.fill_(0.7)),
    ("zero_", lambda t, o: t.zero_(), lambda t, o: t.zero_()),
    ("masked_fill_", lambda t, o: t.masked_fill_(o > 0, 2.0), lambda t, o: t.masked_fill_(o > 0, 2.0)),
    ("copy_", lambda t, o: t.copy_(o * 3), lambda t, o: t.copy_(o * 3)),
    ("scatter_", lambda t, o: t.scatter_(1, cg.tensor([[0, 2], [1, 3], [3, 0]]), o[:, :2]),
     lambda t, o: t.scatter_(1, torch.tensor([[0, 2], [1, 3], [3, 0]]), o[:, :2])),
    ("scatter_add_", lambda t, o: t.scatter_add_(0, cg.tensor([[0, 2, 2, 1]]), o[:1]),
     lambda t, o: t.scatter_add_(0, torch.tensor([[0, 2, 2, 1]]), o[:1])),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,cg_op,torch_op", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_on_a_non_leaf_matches_torch(name, cg_op, torch_op, dtype):
    def run(op, lib):
        def f(x, o):
            y = x * 1.5  # a non-leaf: in-place changes are recorded
            out = op(y, o)
            assert out is y
            return y.tanh()
        return f
    check_against_torch(run(cg_op, cg), run(torch_op, torch), [(3, 4), (3, 4)], dtype, name=name)


@pytest.mark.parametrize("name,cg_op,torch_op", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_on_a_leaf_that_requires_grad_raises_like_torch(name, cg_op, torch_op):
    x, o = cg.randn(3, 4, requires_grad=True), cg.randn(3, 4)
    t = torch.randn(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        torch_op(t, torch.randn(3, 4))
    with pytest.raises(RuntimeError, match="leaf"):
        cg_op(x, o)
    with cg.no_grad():  # allowed under no_grad, as in PyTorch
        cg_op(x, o)


def test_inplace_without_graph_changes_storage_and_version():
    x = cg.zeros(4)
    alias = x.detach()
    assert x._version[0] == 0
    x.add_(2).mul_(3)
    assert x._version[0] == 2 and alias._version[0] == 2
    np.testing.assert_array_equal(alias.numpy(), [6, 6, 6, 6])
    x.normal_(0, 1, generator=cg.Generator().manual_seed(0))
    y = cg.zeros(4).normal_(0, 1, generator=cg.Generator().manual_seed(0))
    np.testing.assert_array_equal(x.numpy(), y.numpy())
    u = cg.empty(1000).uniform_(-2, 3)
    assert -2 <= u.numpy().min() and u.numpy().max() <= 3 and 0 < float(u.mean()) < 1
    with pytest.raises(DTypeError):
        cg.zeros(3, dtype=cg.long).add_(0.5)  # PyTorch: result type Float can't be cast to Long


def test_modifying_a_tensor_saved_for_backward_raises_at_backward():
    for make in (lambda a: a.exp(), lambda a: a.sigmoid(), lambda a: a.tanh()):  # these keep their output
        a, t = cg.randn(3, requires_grad=True), torch.randn(3, requires_grad=True)
        y, u = make(a), make(t)
        y.add_(1)
        u.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            u.sum().backward()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    # mul keeps its inputs: changing one after use raises, as in PyTorch
    w, x = cg.randn(3, requires_grad=True), cg.randn(3)
    y = w * x
    x.mul_(2)
    with pytest.raises(RuntimeError, match="version 1; expected version 0"):
        y.sum().backward()
    # an op that kept nothing of its input does not mind (add)
    a = cg.randn(3, requires_grad=True)
    b = a + 1
    c = b + 2
    c.sub_(1)
    c.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.ones(3))


def test_inplace_through_a_view_in_the_graph_is_refused():
    a = cg.randn(3, 4, requires_grad=True)
    y = a.exp()
    with pytest.raises(RuntimeError, match="view"):
        y[0].add_(1)  # would change exp's saved output behind its back
    z = y.clone()
    z.add_(1)  # a tensor of its own: fine
    x = cg.zeros(3, 4)
    x[:, :2] *= 0.0  # no graph: changes the storage, as in PyTorch
    x[1] += 5
    np.testing.assert_array_equal(x.numpy()[1], [5, 5, 5, 5])


def test_changes_through_data_are_not_recorded():
    p = cg.randn(3, requires_grad=True)
    d = p.data
    assert isinstance(d, cg.Tensor) and not d.requires_grad and d.grad_fn is None
    d.mul_(0).add_(5)  # PyTorch's classic hand-written update goes through .data
    np.testing.assert_array_equal(p.numpy(), [5, 5, 5])
    p.data = cg.ones(3)
    np.testing.assert_array_equal(p.numpy(), [1, 1, 1])
    assert p.requires_grad and p.is_leaf


# ----------------------------------------------------------------------------------------------
# grad_fn, Size, devices, dtypes
# ----------------------------------------------------------------------------------------------
def test_grad_fn_is_an_object_like_torch():
    x = cg.randn(2, 3, requires_grad=True)
    w = cg.randn(3, 4, requires_grad=True)
    loss = (x @ w).relu().sum()
    tx, tw = torch.tensor(x.numpy(), requires_grad=True), torch.tensor(w.numpy(), requires_grad=True)
    tloss = (tx @ tw).relu().sum()
    assert repr(loss.grad_fn) == "<SumBackward0>" and loss.grad_fn.name() == "SumBackward0"
    assert str(tloss.grad_fn).startswith("<SumBackward0")
    relu = loss.grad_fn.next_functions[0][0]
    assert relu.name() == tloss.grad_fn.next_functions[0][0].name() == "ReluBackward0"
    mm = relu.next_functions[0][0]
    assert [n.name() for n, _ in mm.next_functions] == ["AccumulateGrad", "AccumulateGrad"]
    assert mm.next_functions[0][0].variable is x
    assert "grad_fn=<SumBackward0>" in repr(loss)
    assert loss.grad_fn == "Sum"  # the string comparison older convgrad code used still holds
    assert x.grad_fn is None


def test_size_is_a_tuple_subclass():
    x = cg.zeros(2, 3, 4)
    assert isinstance(x.shape, cg.Size) and isinstance(x.size(), tuple)
    assert x.size() == (2, 3, 4) == torch.zeros(2, 3, 4).size()
    assert x.shape.numel() == 24 and x.size(1) == 3 and x.shape[1:] == cg.Size([3, 4])
    assert repr(x.shape) == "convgrad.Size([2, 3, 4])"


def test_cpu_device_everywhere_and_a_clear_error_for_accelerators():
    device = cg.device("cuda" if cg.cuda.is_available() else "cpu")
    assert not cg.cuda.is_available() and not cg.accelerator.is_available()
    assert cg.accelerator.current_accelerator() is None and not cg.backends.mps.is_available()
    x = cg.randn(2, 3, device=device)
    assert x.device == device == "cpu" and str(x.device) == "cpu" and not x.is_cuda
    assert x.to(device) is x and x.cpu() is x and x.to("cpu", cg.float64).dtype == np.float64
    assert x.to(dtype=cg.double).dtype == np.float64 and x.to(cg.zeros(1, dtype=cg.float64)).dtype == np.float64
    for factory in (cg.zeros, cg.ones, cg.randn, cg.rand, cg.empty):
        assert factory(2, device="cpu").shape == (2,)
    assert cg.tensor([1.0], device=device).device == device and cg.arange(3, device="cpu").shape == (3,)
    model = cg.nn.Linear(3, 2).to(device)
    assert model.to(cg.float64).weight.dtype == np.float64 and model.to("cpu", dtype=cg.float32) is model
    for bad in ("cuda", "cuda:0", "mps", cg.device("mps"), cg.device("cuda", 1)):
        with pytest.raises(DeviceError, match="CPU"):
            x.to(bad)
    # a CUDA device object can be made without CUDA, as in PyTorch (the tensors tutorial does)
    assert cg.device("cuda").type == "cuda" and cg.device("cuda").index is None and cg.device("cuda:1").index == 1
    assert not (cg.cuda.is_available() & (cg.device("cuda").index is not None))
    with pytest.raises(DeviceError, match="device type"):
        cg.device("gpu")
    with pytest.raises(DeviceError, match="CPU"):
        model.to("cuda")
    with pytest.raises(DeviceError, match="CPU"):
        cg.zeros(2, device="cuda")
    with pytest.raises(DeviceError, match="CPU"):
        x.cuda()


def test_dtype_aliases():
    assert cg.float is cg.float32 and cg.double is cg.float64 and cg.long is cg.int64
    assert cg.int is np.int32 and cg.bool is np.bool_
    assert cg.zeros(2, dtype=cg.long).dtype == np.int64 and cg.ones(2).long().dtype == cg.long
    assert cg.tensor([1, 2]).to(cg.float).dtype == np.float32
    with pytest.raises(DTypeError, match="float32 and float64 only"):
        _ = cg.float16
    with pytest.raises(DTypeError, match="float32 and float64 only"):
        _ = cg.half
    namespace = {}
    exec("from convgrad import *", namespace)  # the aliases do not shadow Python's float/int/bool
    assert "float" not in namespace and "int" not in namespace and "tensor" in namespace


# ----------------------------------------------------------------------------------------------
# save / load
# ----------------------------------------------------------------------------------------------
def test_save_load_the_usual_checkpoint_dict(tmp_path):
    cg.manual_seed(0)
    model = cg.nn.Sequential(cg.nn.Linear(4, 3), cg.nn.ReLU(), cg.nn.Linear(3, 2))
    opt = cg.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(2):
        opt.zero_grad()
        model(cg.randn(5, 4)).sum().backward()
        opt.step()
    ckpt = {"epoch": 3, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
            "loss": 0.25, "note": None, "shape": (2, 3), "tensor": cg.arange(4), "history": [1.5, 2]}
    path = tmp_path / "checkpoint.pt"
    cg.save(ckpt, path)
    back = cg.load(path, map_location="cpu", weights_only=True)
    assert back["epoch"] == 3 and back["loss"] == 0.25 and back["note"] is None and back["shape"] == (2, 3)
    assert isinstance(back["tensor"], cg.Tensor) and back["tensor"].tolist() == [0, 1, 2, 3]
    assert back["history"] == [1.5, 2]
    model2 = cg.nn.Sequential(cg.nn.Linear(4, 3), cg.nn.ReLU(), cg.nn.Linear(3, 2))
    model2.load_state_dict(back["model_state_dict"])
    opt2 = cg.optim.Adam(model2.parameters(), lr=0.01)
    opt2.load_state_dict(back["optimizer_state_dict"])
    x = cg.randn(5, 4)
    np.testing.assert_array_equal(model2(x).numpy(), model(x).numpy())
    for o, m in ((opt, model), (opt2, model2)):  # one more identical step from the restored state
        o.zero_grad()
        m(x).sum().backward()
        o.step()
    np.testing.assert_array_equal(model2(x).numpy(), model(x).numpy())
    buffer = io.BytesIO()  # file objects too
    cg.save(model.state_dict(), buffer)
    buffer.seek(0)
    assert set(cg.load(buffer)) == set(model.state_dict())


def test_save_refuses_what_needs_pickle_and_a_directory(tmp_path):
    with pytest.raises(CheckpointError, match="cannot store an object of type function"):
        cg.save({"f": lambda: 1}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="is a directory"):
        cg.save({"a": 1}, tmp_path)
    with pytest.raises(CheckpointError, match="is a directory"):
        cg.save(cg.nn.Linear(2, 2), tmp_path)
    with pytest.raises(CheckpointError, match="is a directory"):
        cg.load(tmp_path)


def test_plain_safetensors_and_npz_files_name_the_right_function(tmp_path):
    from convgrad.io import load_safetensors, save_safetensors
    model = cg.nn.Linear(3, 2)
    path = tmp_path / "weights.safetensors"
    save_safetensors(model.state_dict(), path)
    with pytest.raises(CheckpointError, match=r"load_safetensors\(path\)"):
        cg.load(path)
    np.savez(tmp_path / "a.npz", x=np.zeros(3))
    with pytest.raises(CheckpointError, match=r"numpy.load"):
        cg.load(tmp_path / "a.npz")
    loaded = load_safetensors(path)
    with pytest.raises(ArgumentTypeError, match=r"\(state, metadata\) tuple"):
        model.load_state_dict(loaded)
    model.load_state_dict(loaded[0])


def test_load_state_dict_accepts_plain_arrays():
    model = cg.nn.Linear(3, 2)
    arrays = {k: np.full(np.shape(v), 0.5, np.float64) for k, v in model.state_dict().items()}
    model.load_state_dict(arrays)
    np.testing.assert_array_equal(model.weight.numpy(), np.full((2, 3), 0.5, np.float32))
    assert model.weight.dtype == np.float32


class Net(cg.nn.Module):
    """A model class of the user's own (not in convgrad.models)."""

    def __init__(self):
        super().__init__()
        self.fc = cg.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)


def test_custom_module_checkpoints_save_and_load_into_an_instance(tmp_path):
    model = Net()
    opt = cg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    path = tmp_path / "net.npz"
    cg.save(model, path)  # used to raise "cannot tell which model this Net is"
    from convgrad.io import load_checkpoint
    ckpt = load_checkpoint(path)
    assert ckpt.model_class == "test_torch_compat.Net" and ckpt.model_name is None
    other = Net()
    ckpt.load_into(other)
    np.testing.assert_array_equal(other.fc.weight.numpy(), model.fc.weight.numpy())
    with pytest.raises(CheckpointError, match="load_into"):
        cg.load(path)
    # fit with checkpoints of a custom model: checkpoints are written, and resume works
    from convgrad.training.fit import fit
    from convgrad.data import DataLoader
    from convgrad.data.datasets import ArrayDataset
    ds = ArrayDataset(np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32), np.arange(40) % 3)
    fit(model, DataLoader(ds, batch_size=8, seed=0), opt, epochs=1, checkpoint_path=tmp_path / "run.npz",
        checkpoint_every=2, progress=False)
    ckpt = load_checkpoint(tmp_path / "run.npz")
    assert ckpt.training["step"] == 5 and "optimizer" in ckpt.training  # fit checkpoints the end of the run too


def test_fit_checks_the_checkpoint_path_before_the_first_step(tmp_path):
    from convgrad.training.fit import fit
    from convgrad.data import DataLoader
    from convgrad.data.datasets import ArrayDataset
    model = Net()
    steps = []
    model.register_forward_hook(lambda m, i, o: steps.append(1))
    ds = ArrayDataset(np.zeros((8, 4), np.float32), np.zeros(8, np.int64))
    with pytest.raises(CheckpointError, match="is a directory"):
        fit(model, DataLoader(ds, batch_size=4, seed=0), cg.optim.SGD(model.parameters(), lr=0.1), epochs=1,
            checkpoint_path=tmp_path, checkpoint_every=1, progress=False)
    assert not steps  # refused before any work


# ----------------------------------------------------------------------------------------------
# Errors that used to come from NumPy or Python (issue 14, item 9)
# ----------------------------------------------------------------------------------------------
def test_broadcast_failure_is_a_shape_error_naming_both_shapes():
    for op in (lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b):
        with pytest.raises(ShapeError, match=r"\(2, 3\) and \(4, 3\)"):
            op(cg.randn(2, 3), cg.randn(4, 3))


def test_a_list_given_to_a_model_is_a_type_error_like_torch():
    model = cg.nn.Linear(1, 1)
    with pytest.raises(TypeError):
        torch.nn.Linear(1, 1)([[0.0]])
    with pytest.raises(ArgumentTypeError, match="expected a convgrad Tensor"):
        model([[0.0]])
    with pytest.raises(ArgumentTypeError, match="expected a convgrad Tensor"):
        model(np.zeros((1, 1), np.float32))


def test_float_labels_are_refused_by_array_dataset():
    from convgrad.data.datasets import ArrayDataset
    with pytest.raises(DTypeError, match="non-integral"):
        ArrayDataset(np.zeros((2, 1, 2, 2), np.float32), np.array([1.5, 2.7]))
    assert ArrayDataset(np.zeros((2, 1, 2, 2), np.float32), np.array([1.0, 2.0])).targets.tolist() == [1, 2]


def test_gradcheck_on_float32_says_use_float64():
    from convgrad.inspect import gradcheck
    with pytest.raises(DTypeError, match="float64"):
        gradcheck(lambda x: x * 2, [cg.randn(3, requires_grad=True)])
    assert gradcheck(lambda x: x * 2, [cg.randn(3, dtype=cg.float64, requires_grad=True)])


def test_docs_pytorch_md_lists_are_generated_from_the_code():
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, os.path.join(root, "scripts", "pytorch_map.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("dtype", DTYPES)
def test_autograd_grad_and_variable_match_torch(dtype):
    from convgrad.autograd import Variable, grad
    x = RNG.standard_normal((4, 3)).astype(dtype)
    w = RNG.standard_normal((3, 2)).astype(dtype)
    cx, cw = Variable(cg.tensor(x), requires_grad=True), cg.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    gx, gw = grad(((cx @ cw).tanh() ** 2).sum(), [cx, cw])
    ex, ew = torch.autograd.grad(((tx @ tw).tanh() ** 2).sum(), [tx, tw])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gx.numpy(), ex.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(gw.numpy(), ew.numpy(), rtol=tol, atol=tol)
    assert cx.grad is None and cw.grad is None  # returned, not accumulated
    unused = cg.randn(2, requires_grad=True)
    with pytest.raises(ArgumentTypeError, match="allow_unused"):
        grad((cx * 2).sum(), [unused])


def test_nn_parallel_runs_the_module_on_the_cpu():
    import convgrad.nn.parallel as parallel
    m = cg.nn.Linear(3, 2)
    x = cg.randn(4, 3)
    np.testing.assert_array_equal(parallel.data_parallel(m, x).numpy(), m(x).numpy())
    wrapped = parallel.DataParallel(m)
    assert list(wrapped.state_dict())[0].startswith("module.")
    with pytest.raises(DeviceError, match="CPU"):
        parallel.data_parallel(m, x, device_ids=[0, 1])


def test_out_arguments_and_the_one_hot_idiom_match_torch():
    a, b = RNG.standard_normal((3, 4)).astype(np.float32), RNG.standard_normal((4, 2)).astype(np.float32)
    for fn in ("matmul", "mm"):
        out, tout = cg.empty(3, 2), torch.empty(3, 2)
        assert getattr(cg, fn)(cg.tensor(a), cg.tensor(b), out=out) is out
        getattr(torch, fn)(torch.tensor(a), torch.tensor(b), out=tout)
        np.testing.assert_allclose(out.numpy(), tout.numpy(), rtol=1e-6)
    out = cg.zeros(3, 4)
    cg.mul(cg.tensor(a), 2, out=out)
    np.testing.assert_array_equal(out.numpy(), a * 2)
    with pytest.raises(RuntimeError, match="out="):
        cg.add(cg.tensor(a, requires_grad=True), 1, out=cg.zeros(3, 4))
    for y in (0, 3, 9):  # transforms tutorial: Lambda(lambda y: zeros(10).scatter_(0, tensor(y), value=1))
        ours = cg.zeros(10, dtype=cg.float).scatter_(0, cg.tensor(y), value=1)
        theirs = torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_shape_rules_of_the_new_ops_agree_with_their_forward():
    from convgrad.functional import indexing, norms, sorting
    x = cg.randn(3, 4, 5)
    idx = np.zeros((2, 4, 5), np.int64)
    assert indexing.Gather.output_shape(x.shape, 0, idx.shape) == tuple(cg.gather(x, 0, cg.tensor(idx)).shape)
    assert indexing.Scatter.output_shape(x.shape) == tuple(cg.scatter(x, 0, cg.tensor(idx), 1.0).shape)
    assert sorting.TakeAlong.output_shape(x.shape, 1, (3, 2, 5)) == tuple(cg.topk(x, 2, 1).values.shape)
    assert sorting.CumSum.output_shape(x.shape, 2) == tuple(cg.cumsum(x, 2).shape)
    for axes, keep in (((1,), False), ((0, 2), True), ((0, 1, 2), False)):
        assert norms.Norm.output_shape(x.shape, 2.0, axes, keep) == tuple(x.norm(2, axes, keep).shape)
