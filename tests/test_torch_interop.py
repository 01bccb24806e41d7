"""PyTorch interop: state_dicts cross in both directions, .pth files are read only with
weights_only=True, and a file that would run code when unpickled is refused without running it."""
import os
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch

import convgrad as cg
from convgrad import nn
from convgrad.errors import FileFormatError
from convgrad.io.torch_interop import (TorchCheckpointError, export_torch_state_dict, load_torch_checkpoint,
                                       save_torch_checkpoint)


def cg_net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.Conv2d(8, 4, 3, stride=2, bias=False),
                         nn.BatchNorm2d(4))


def torch_net():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                               torch.nn.Conv2d(8, 4, 3, stride=2, bias=False), torch.nn.BatchNorm2d(4))


def trained_torch_net(seed=0):
    """A torch net whose BatchNorm running statistics and counters are not the defaults."""
    torch.manual_seed(seed)
    net = torch_net()
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(4, 3, 9, 9))
    net.eval()
    return net


def run_cg(model, x):
    model.eval()
    with cg.no_grad():
        return model(cg.tensor(x)).numpy()


def test_load_state_dict_accepts_torch_tensors_with_num_batches_tracked():
    tnet = trained_torch_net()
    model = cg_net()
    missing, unexpected = model.load_state_dict(tnet.state_dict())
    assert missing == [] and unexpected == []
    assert int(model.state_dict()["1.num_batches_tracked"]) == 3
    assert model.state_dict()["1.num_batches_tracked"].dtype == np.int64
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32)
    np.testing.assert_allclose(run_cg(model, x), tnet(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_load_torch_checkpoint_reads_a_pth_state_dict(tmp_path):
    tnet = trained_torch_net(1)
    path = tmp_path / "net.pth"
    torch.save(tnet.state_dict(), path)
    state = load_torch_checkpoint(path)
    assert list(state) == list(tnet.state_dict())
    for k, v in tnet.state_dict().items():
        assert isinstance(state[k], np.ndarray)
        assert state[k].dtype == v.numpy().dtype
        np.testing.assert_array_equal(state[k], v.numpy())
    model = cg_net()
    model.load_state_dict(state)
    x = np.random.default_rng(1).standard_normal((2, 3, 9, 9)).astype(np.float32)
    np.testing.assert_allclose(run_cg(model, x), tnet(torch.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_wrappers_and_dataparallel_prefix(tmp_path):
    sd = trained_torch_net(2).state_dict()
    path = tmp_path / "wrapped.pth"
    torch.save({"epoch": 3, "state_dict": OrderedDict(("module." + k, v) for k, v in sd.items())}, path)
    state = load_torch_checkpoint(path)
    assert list(state) == list(sd)
    kept = load_torch_checkpoint(path, strip_prefix=None)
    assert all(k.startswith("module.") for k in kept)


def test_bfloat16_becomes_float32(tmp_path):
    path = tmp_path / "bf16.pth"
    torch.save({"w": torch.tensor([1.5, -2.0], dtype=torch.bfloat16)}, path)
    state = load_torch_checkpoint(path)
    assert state["w"].dtype == np.float32
    np.testing.assert_array_equal(state["w"], [1.5, -2.0])


class _Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_with_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "x": _Payload(str(marker))}, path)
    assert not marker.exists()
    with pytest.raises(TorchCheckpointError, match="weights_only"):
        load_torch_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a pickle at all", b"PK\x03\x04" + b"\x00" * 40])
def test_garbage_files_give_a_file_format_error(tmp_path, content):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(FileFormatError):
        load_torch_checkpoint(path)


def test_truncated_pth(tmp_path):
    good = tmp_path / "good.pth"
    torch.save(trained_torch_net().state_dict(), good)
    data = good.read_bytes()
    for cut in (10, len(data) // 2, len(data) - 5):
        bad = tmp_path / f"cut{cut}.pth"
        bad.write_bytes(data[:cut])
        with pytest.raises(FileFormatError):
            load_torch_checkpoint(bad)


def test_non_state_dict_content(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(TorchCheckpointError, match="not a state_dict"):
        load_torch_checkpoint(path)
    path2 = tmp_path / "mixed.pth"
    torch.save({"state_dict": {"w": torch.zeros(2), "n": 3}}, path2)
    with pytest.raises(TorchCheckpointError):
        load_torch_checkpoint(path2)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_torch_checkpoint(tmp_path / "nope.pth")


def test_export_to_torch_round_trip(tmp_path):
    cg.manual_seed(3)
    model = cg_net()
    model.train()
    with cg.no_grad():
        model(cg.randn(4, 3, 9, 9))  # move running statistics away from their defaults
    exported = export_torch_state_dict(model)
    assert all(isinstance(v, torch.Tensor) for v in exported.values())
    assert exported["1.num_batches_tracked"].dtype == torch.int64
    tnet = torch_net()
    tnet.load_state_dict(exported, strict=True)
    tnet.eval()
    x = np.random.default_rng(4).standard_normal((2, 3, 9, 9)).astype(np.float32)
    np.testing.assert_allclose(tnet(torch.tensor(x)).detach().numpy(), run_cg(model, x), rtol=1e-4, atol=1e-5)
    # copies, not views: changing the torch tensor leaves the convgrad model alone
    exported["0.weight"].zero_()
    assert np.abs(model.state_dict()["0.weight"]).sum() > 0

    path = save_torch_checkpoint(model, tmp_path / "from_cg.pth")
    back = torch.load(path, weights_only=True)
    assert list(back) == list(model.state_dict())
    again = load_torch_checkpoint(path)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(again[k], v)


def test_clear_error_without_torch(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes "import torch" fail
    with pytest.raises(ImportError, match="needs PyTorch"):
        load_torch_checkpoint(tmp_path / "x.pth")
    with pytest.raises(ImportError, match="needs PyTorch"):
        export_torch_state_dict(cg_net())


def test_convgrad_never_imports_torch_at_import_time():
    code = "import sys, convgrad, convgrad.io, convgrad.onnx, convgrad.inspect.summary; print('torch' in sys.modules)"
    import subprocess
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(__file__))
    assert out.stdout.strip() == "False"
