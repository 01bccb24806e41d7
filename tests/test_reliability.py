"""Faults found by trying convgrad as a new user would (issue 14): each test failed before its fix.

Classes of fault: a command writing over its input or over other files; a raw traceback instead of
one line (out of memory, broken pipe); defaults that disagree between commands; files with the
wrong permissions; exported files a runtime refuses or that lose the preprocessing.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import convgrad as cg
from convgrad.cli import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "model.npz"
    cg.manual_seed(0)
    cg.save(cg.models.lenet5(), path, preprocessing={"mean": [0.1307], "std": [0.3081], "input_size": [1, 28, 28],
                                                      "classes": [str(d) for d in range(10)]})
    return path


def _cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# -- 1. nothing lost: no command writes over its input, nor over another file without --force ----------
def test_export_refuses_to_overwrite_its_own_checkpoint(checkpoint, capsys):
    before = checkpoint.read_bytes()
    code, _, err = _cli(["export", checkpoint, "--onnx", checkpoint], capsys)
    assert code == 2 and "is this command's input" in err and err.count("\n") == 1
    assert checkpoint.read_bytes() == before
    code, _, err = _cli(["export", checkpoint, "--onnx", checkpoint, "--force"], capsys)  # not even forced
    assert code == 2 and checkpoint.read_bytes() == before


def test_export_needs_force_to_replace_an_existing_file(checkpoint, tmp_path, capsys):
    pytest.importorskip("onnx")
    out = tmp_path / "other.onnx"
    out.write_bytes(b"precious")
    code, _, err = _cli(["export", checkpoint, "--onnx", out], capsys)
    assert code == 2 and "--force" in err and out.read_bytes() == b"precious"
    code, out_text, _ = _cli(["export", checkpoint, "--onnx", out, "--force"], capsys)
    assert code == 0 and out.read_bytes() != b"precious"
    code, _, err = _cli(["export", checkpoint, "--onnx", tmp_path], capsys)
    assert code == 2 and "is a directory" in err


def test_save_to_a_directory_is_one_clear_error(tmp_path):
    with pytest.raises((cg.ConvgradError, IsADirectoryError), match="is a directory"):
        cg.save(cg.models.lenet5(), tmp_path)
    assert os.listdir(tmp_path) == []  # no temporary file left behind


# -- 17. files respect the umask ----------------------------------------------------------------
@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_respect_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        for name in ("m.npz", "m.safetensors"):
            cg.save(cg.models.lenet5(), tmp_path / name)
            assert os.stat(tmp_path / name).st_mode & 0o777 == mode, name
    finally:
        os.umask(old)


# -- 7. too big: one line naming what was too big, before allocating ------------------------------
def test_summary_of_a_huge_input_is_one_line(capsys):
    code, _, err = _cli(["summary", "resnet18", "--input-size", "3", "100000", "100000"], capsys)
    assert code == 1 and err.count("\n") == 1
    assert "(1, 3, 100000, 100000)" in err and "--input-size" in err and "Traceback" not in err


def test_numpy_out_of_memory_becomes_one_line(monkeypatch, capsys):
    summary_mod = sys.modules["convgrad.inspect.summary"]  # the package exports a function of that name

    def boom(*args, **kwargs):
        np.empty((1 << 42,), dtype=np.float32)  # 16 TiB: NumPy's own _ArrayMemoryError

    monkeypatch.setattr(summary_mod, "summary", boom)
    code, _, err = _cli(["summary", "lenet5"], capsys)
    assert code == 1 and err.startswith("convgrad summary: error: out of memory") and err.count("\n") == 1


# -- 15. one default per model, the one train uses ------------------------------------------------
def test_imagenet_models_are_summarised_at_224(capsys):
    for name in ("vgg16", "alexnet", "resnet18", "googlenet"):
        code, out, _ = _cli(["summary", name], capsys)
        assert code == 0 and "input (1, 3, 224, 224)" in out.splitlines()[0], name
    code, out, _ = _cli(["summary", "resnet20"], capsys)  # the CIFAR ResNet keeps its 32x32
    assert "input (1, 3, 32, 32)" in out.splitlines()[0]


def test_lenet5_default_variant_is_the_one_train_uses(capsys):
    from convgrad.training.runner import DEFAULTS

    assert cg.models.lenet5().variant == DEFAULTS["variant"] == "modern"
    code, out, _ = _cli(["summary", "lenet5"], capsys)
    assert "MaxPool2d" in out and "ReLU" in out and "AvgPool2d" not in out
    code, out, _ = _cli(["summary", "lenet5", "--variant", "classic"], capsys)
    assert code == 0 and "AvgPool2d" in out and "Tanh" in out
    code, _, err = _cli(["summary", "resnet18", "--variant", "classic"], capsys)
    assert code == 1 and "does not take variant" in err


# -- 16. export: the opsets it supports, and the preprocessing in the file ------------------------
def test_every_supported_opset_runs_in_onnxruntime(checkpoint, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from convgrad.onnx import export_checkpoint
    from convgrad.onnx.export import SUPPORTED_OPSETS

    model = cg.load(checkpoint)
    model.eval()
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    with cg.no_grad():
        expected = model(cg.tensor(x)).numpy()
    for opset in SUPPORTED_OPSETS:
        if opset > onnx.defs.onnx_opset_version():
            continue
        out = tmp_path / f"m{opset}.onnx"
        export_checkpoint(checkpoint, out, opset_version=opset)
        got = ort.InferenceSession(str(out)).run(None, {"input": x})[0]
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5, err_msg=f"opset {opset}")


def test_unsupported_opset_is_refused_before_writing(checkpoint, tmp_path, capsys):
    pytest.importorskip("onnx")
    out = tmp_path / "m.onnx"
    code, _, err = _cli(["export", checkpoint, "--onnx", out, "--opset", "99"], capsys)
    assert code == 1 and "17 to" in err and not out.exists()


def test_onnx_file_carries_the_preprocessing(checkpoint, tmp_path):
    onnx = pytest.importorskip("onnx")
    import json

    from convgrad.onnx import export_checkpoint

    out = tmp_path / "m.onnx"
    export_checkpoint(checkpoint, out)
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["convgrad.mean"]) == [0.1307] and json.loads(meta["convgrad.std"]) == [0.3081]
    assert json.loads(meta["convgrad.input_size"]) == [1, 28, 28]
    assert json.loads(meta["convgrad.classes"]) == [str(d) for d in range(10)]
    assert json.loads(meta["convgrad.model"])["name"] == "lenet5"


# -- 19. threads: PyTorch's set_num_threads ----------------------------------------------------------
def test_set_num_threads_sets_blas_and_worker_threads():
    from convgrad.kernels.blas import get_blas_threads
    from convgrad.kernels.parallel import workers

    before = cg.get_num_threads()
    try:
        cg.set_num_threads(1)
        assert cg.get_num_threads() == 1 and workers() == 1
        assert get_blas_threads() in (None, 1)
    finally:
        cg.set_num_threads(before)
    with pytest.raises(cg.ArgumentError):
        cg.set_num_threads(0)


# -- 20. habits: --version, `| head` ---------------------------------------------------------------
def test_version_flag(capsys):
    code, out, _ = _cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"convgrad {cg.__version__}"


def test_broken_pipe_prints_no_error():
    # `convgrad summary ... --explain | head -1`: the reader goes away after one line
    proc = subprocess.Popen([sys.executable, "-m", "convgrad.cli", "summary", "resnet152", "--explain"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Broken pipe" not in err and "Traceback" not in err and err == ""


# -- 14. predict answers every good file and names each bad one ---------------------------------------
def test_predict_answers_good_files_and_reports_each_bad_one(tmp_path, capsys):
    from PIL import Image

    from convgrad.data import MNIST

    test = MNIST(train=False)
    cg.manual_seed(0)
    model = cg.models.lenet5()
    ckpt = tmp_path / "m.npz"
    cg.save(model, ckpt, preprocessing={"mean": [0.1307], "std": [0.3081], "input_size": [1, 28, 28],
                                        "classes": [str(d) for d in range(10)]})
    good = []
    for i in range(2):
        path = tmp_path / f"good{i}.png"
        Image.fromarray(255 - test.data[i]).save(path)  # dark ink on white paper
        good.append(path)
    (tmp_path / "bad.png").write_bytes(b"not a picture")
    files = [good[0], tmp_path / "missing.png", tmp_path / "bad.png", good[1]]
    code, out, err = _cli(["predict", ckpt, *files], capsys)
    lines = out.splitlines()
    assert code == 1 and len(lines) == 2
    assert lines[0].startswith(f"{good[0]}: ") and lines[1].startswith(f"{good[1]}: ")
    assert err.count("\n") == 2 and "missing.png" in err and "bad.png" in err
    code, out_again, err = _cli(["predict", ckpt, *good], capsys)  # the same answers without the bad files
    assert code == 0 and out_again == out and err == ""


# -- the own-data issue: a folder of pictures of any size trains with the one command ----------------
@pytest.mark.slow
def test_a_two_class_picture_folder_trains_with_the_default_command(tmp_path, capsys):
    from PIL import Image

    from convgrad.data import MNIST

    test = MNIST(train=False)
    for digit, name in ((3, "three"), (8, "eight")):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for k, i in enumerate(np.flatnonzero(test.targets == digit)[:100]):
            picture = Image.fromarray(255 - test.data[i]).resize((64, 64), Image.BILINEAR).convert("RGB")
            picture.save(tmp_path / "pics" / name / f"{k:03d}.{'jpg' if k % 2 else 'png'}")
    code, out, err = _cli(["train", "--data", tmp_path / "pics", "--out", tmp_path / "run", "--epochs", "8",
                           "--no-progress"], capsys)
    assert code == 0, err
    assert "image folder: 2 classes (eight, three)" in out and "32x32" in out  # LeNet-5's own input size
    accuracy = float(out.split("validation accuracy: ")[1].split()[0])
    assert accuracy >= 0.9
    code, out, _ = _cli(["predict", tmp_path / "run" / "model.npz", tmp_path / "pics" / "three" / "001.jpg"], capsys)
    assert code == 0 and ": three (probability" in out
