"""Checkpoints: npz and safetensors round trips, training state, refusal of pickle, atomic writes,
and fuzzing of the readers (only the project's errors, no giant allocations)."""
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convgrad as cg
from convgrad import nn
from convgrad.errors import ConvgradError
from convgrad.io import CheckpointError, atomic_write, build_model, load, load_checkpoint, save, save_checkpoint
from convgrad.io.checkpoint import _decode, _encode


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.weight = nn.Parameter(rng.standard_normal((3, 4)).astype(np.float32))
        self.bias = nn.Parameter(np.zeros(3, np.float32))
        self.register_buffer("count", cg.tensor(np.array(7, np.int64)))


def test_encode_decode_nested_state():
    state = {"state": {0: {"step": 3, "exp_avg": np.arange(4.0, dtype=np.float32), "s": np.float32(0.5)},
                       2: {"momentum_buffer": cg.tensor([1.0, 2.0])}},
             "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1, 2], "nesterov": False,
                               "name": None}],
             "rng": {"state": 2 ** 100 + 5, "inc": 3}, "nan": float("inf")}
    arrays = {}
    tree = json.loads(json.dumps(_encode(state, arrays)))
    back = _decode(tree, arrays)
    assert set(back["state"]) == {0, 2}
    assert back["state"][0]["step"] == 3 and back["state"][0]["exp_avg"].dtype == np.float32
    assert isinstance(back["state"][0]["s"], np.float32) and back["state"][0]["s"] == np.float32(0.5)
    assert isinstance(back["state"][2]["momentum_buffer"], cg.Tensor)
    assert back["param_groups"][0]["betas"] == (0.9, 0.999) and back["rng"]["state"] == 2 ** 100 + 5
    assert back["nan"] == float("inf")
    with pytest.raises(CheckpointError, match="cannot store an object of type"):
        _encode({"f": lambda: 1}, {})
    with pytest.raises(CheckpointError, match="object arrays"):
        _encode(np.array([object()]), {})


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_round_trip_weights_metadata_and_training_state(tmp_path, ext):
    model = Tiny()
    opt = cg.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(2):
        loss = (model.weight * model.weight).sum() + model.bias.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    sched = cg.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    path = tmp_path / ("ck" + ext)
    save_checkpoint(path, model, optimizer=opt, scheduler=sched, model_name="tiny", model_kwargs={"k": 1},
                    preprocessing={"mean": [0.5], "std": [0.25], "input_size": [1, 2, 2]},
                    training={"epoch": 4, "rng": cg.get_rng_state()}, extra={"note": "hello", "acc": 0.5})
    ck = load_checkpoint(path)
    assert ck.model_name == "tiny" and ck.model_kwargs == {"k": 1}
    assert ck.preprocessing["std"] == [0.25] and ck.extra == {"note": "hello", "acc": 0.5}
    assert ck.training["epoch"] == 4 and ck.training["rng"] == cg.get_rng_state()
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(ck.model_state[key], value)
        assert ck.model_state[key].dtype == value.dtype
    fresh = Tiny()
    fresh_opt = cg.optim.Adam(fresh.parameters(), lr=0.01)
    ck.load_into(fresh)
    fresh_opt.load_state_dict(ck.training["optimizer"])
    for p, q in zip(model.parameters(), fresh.parameters()):
        st_a, st_b = opt.state[p], fresh_opt.state[q]
        assert st_a.keys() == st_b.keys()
        for k in st_a:
            np.testing.assert_array_equal(np.asarray(st_a[k]), np.asarray(st_b[k]))
    assert ck.training["scheduler"]["step_size"] == 3


def test_lenet_save_load_rebuilds_by_name(tmp_path):
    model = build_model("lenet5", variant="modern")
    x = cg.randn(2, 1, 28, 28)
    for ext in (".npz", ".safetensors"):
        path = tmp_path / ("m" + ext)
        save(model, path, preprocessing={"mean": [0.1307], "std": [0.3081]})
        again = load(path)
        assert type(again).__name__ == "LeNet5" and again.variant == "modern"
        np.testing.assert_array_equal(again(x).numpy(), model(x).numpy())


def test_wrong_model_and_missing_name(tmp_path):
    path = tmp_path / "tiny.npz"
    save_checkpoint(path, Tiny(), model_name="lenet5")
    with pytest.raises(CheckpointError, match="does not fit LeNet5"):
        load(path)
    save_checkpoint(path, Tiny(), model_name="no_such_model")
    with pytest.raises(CheckpointError, match="cannot build model 'no_such_model'"):
        load(path)
    # a model class of the user's own saves (its import path recorded) and loads into an instance
    # the user builds; convgrad.load cannot rebuild it and says how to load it instead
    save(Tiny(), tmp_path / "x.npz")
    with pytest.raises(CheckpointError, match="load_into"):
        load(tmp_path / "x.npz")


def test_refuses_pickle(tmp_path):
    # a plain pickle (what torch.save / pickle.dump write)
    p1 = tmp_path / "model.npz"
    p1.write_bytes(pickle.dumps({"weight": [1, 2, 3]}))
    with pytest.raises(CheckpointError, match="pickled data"):
        load_checkpoint(p1)
    # an npz holding an object array (would need pickle to load)
    p2 = tmp_path / "obj.npz"
    np.savez(p2, **{"model/w": np.zeros(2), "__metadata__": np.zeros(2, np.uint8),
                    "evil": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(CheckpointError, match="pickled objects"):
        load_checkpoint(p2)


def test_not_a_checkpoint(tmp_path):
    p = tmp_path / "plain.npz"
    np.savez(p, w=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a convgrad checkpoint"):
        load_checkpoint(p)
    from safetensors.numpy import save_file
    q = tmp_path / "plain.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(q))
    with pytest.raises(CheckpointError, match="not a convgrad checkpoint"):
        load_checkpoint(q)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.npz")
    r = tmp_path / "text.npz"
    r.write_text("hello")
    with pytest.raises(CheckpointError, match="not a .npz file"):
        load_checkpoint(r)


def test_npz_lying_member_header(tmp_path):
    """An npy header declaring a huge shape inside a small npz is refused before any allocation."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False,
                                               "shape": (100000, 100000, 100)})
    member = buf.getvalue() + b"\0" * 16
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("__metadata__.npy", member)
    with pytest.raises(CheckpointError, match="declares shape"):
        load_checkpoint(path)


def test_safetensors_lying_header(tmp_path):
    path = tmp_path / "lie.safetensors"
    path.write_bytes(struct.pack("<Q", 2 ** 60) + b"{}")
    with pytest.raises(CheckpointError, match="header declares"):
        load_checkpoint(path)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "ck.npz"
    save_checkpoint(path, Tiny(), model_name="tiny", extra={"version": 1})
    before = path.read_bytes()

    def failing_writer(f):
        f.write(b"partial garbage")
        raise OSError("disk full (simulated)")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, failing_writer)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.npz"]  # no temporary file left behind
    with pytest.raises(CheckpointError):
        save_checkpoint(path, Tiny(), model_name="tiny", extra={"bad": object()})
    assert path.read_bytes() == before and load_checkpoint(path).extra == {"version": 1}


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_truncations_give_checkpoint_errors(tmp_path, ext):
    path = tmp_path / ("ck" + ext)
    save_checkpoint(path, Tiny(), model_name="tiny", training={"epoch": 1})
    data = path.read_bytes()
    bad = tmp_path / ("bad" + ext)
    for cut in sorted({0, 1, 7, 8, 9, 30, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1}):
        bad.write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            load_checkpoint(bad)


@settings(max_examples=120, deadline=None)
@given(st.data())
def test_fuzz_mutated_checkpoints_only_project_errors(tmp_path_factory, data):
    ext = data.draw(st.sampled_from([".npz", ".safetensors"]))
    d = tmp_path_factory.mktemp("fz")
    path = d / ("ck" + ext)
    save_checkpoint(path, Tiny(), model_name="tiny", training={"epoch": 1, "a": np.arange(3)})
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    path.write_bytes(bytes(raw))
    try:
        load_checkpoint(path)
    except ConvgradError:
        pass


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([".npz", ".safetensors"]))
def test_fuzz_random_bytes(tmp_path_factory, blob, ext):
    path = tmp_path_factory.mktemp("rb") / ("x" + ext)
    path.write_bytes(blob)
    with pytest.raises(ConvgradError):
        load_checkpoint(path)
