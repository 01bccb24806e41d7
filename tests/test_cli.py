"""The convgrad command: a short real train -> evaluate -> predict, and bad input of every kind
giving one readable line on stderr and a non-zero exit (never a traceback)."""
import gzip
import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from convgrad.cli import build_parser, main
from convgrad.data import MNIST
from convgrad.io import build_model, load_checkpoint, save_checkpoint

QUICK = ["--max-train", "1000", "--max-test", "500", "--epochs", "2", "--batch-size", "25", "--schedule", "none",
         "--lr", "0.003", "--no-progress"]

DIVERGE = ["--lr", "10", "--optimizer", "sgd", "--schedule", "none", "--max-train", "500", "--max-test", "50",
           "--epochs", "3", "--batch-size", "32"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short real training run through the CLI, shared by the tests below."""
    out = tmp_path_factory.mktemp("run") / "r"
    code = main(["train", *QUICK, "--out", str(out)])
    assert code == 0
    return out


def test_train_prints_accuracy_and_saves(trained, capsys):
    assert (trained / "model.npz").exists() and (trained / "config.json").exists()
    code = main(["evaluate", str(trained / "model.npz")])
    out = capsys.readouterr().out.strip()
    assert code == 0 and out.startswith("accuracy: 0.")
    assert float(out.split()[1]) > 0.8


def test_train_output_and_evaluate_agree(tmp_path, capsys):
    code = main(["train", *QUICK, "--max-train", "300", "--out", str(tmp_path / "a"), "--optimizer", "sgd",
                 "--lr", "0.05", "--schedule", "cosine", "--no-augment", "--threads", "2"])
    printed = capsys.readouterr().out
    assert code == 0
    line = [x for x in printed.splitlines() if x.startswith("test accuracy:")][0]
    assert "on 500 test images" in line
    assert f"saved model to {tmp_path / 'a' / 'model.npz'}" in printed
    assert "images/s" in printed
    main(["evaluate", str(tmp_path / "a" / "model.npz"), "--max-test", "500"])
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"accuracy: {line.split()[2]} on 500 test images"


def test_evaluate_uses_the_whole_test_split_by_default(trained, capsys):
    """#14.5: the run tested on --max-test 500; evaluate takes all 10,000 unless told, says how
    many, and adds a per-class table."""
    assert main(["evaluate", str(trained / "model.npz")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"accuracy: 0\.\d{4} on 10,000 test images", lines[0]), lines[0]
    assert lines[1].split() == ["class", "images", "correct", "accuracy"]
    table = [line.split() for line in lines[2:]]
    assert [row[0] for row in table] == [str(d) for d in range(10)]
    assert sum(int(row[1].replace(",", "")) for row in table) == 10000
    correct = sum(int(row[2].replace(",", "")) for row in table)
    assert abs(correct / 10000 - float(lines[0].split()[1])) < 1e-4
    assert main(["evaluate", str(trained / "model.npz"), "--max-test", "300"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("on 300 test images")


def test_evaluate_on_a_directory(trained, tmp_path, capsys):
    test = MNIST(train=False)
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + np.array([200, 28, 28], ">u4").tobytes() + test.data[:200].tobytes())
    with open(tmp_path / "t10k-labels-idx1-ubyte", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + np.array([200], ">u4").tobytes() + test.targets[:200].astype(np.uint8).tobytes())
    assert main(["evaluate", str(trained / "model.npz"), "--data", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(" on 200 test images")  # all of them, not a split


def save_png(path, digit, invert=False, scale=4):
    img = Image.fromarray(255 - digit if invert else digit).resize((28 * scale, 28 * scale), Image.BILINEAR)
    img.convert("RGB").save(path)
    return str(path)


def test_predict(trained, tmp_path, capsys):
    test = MNIST(train=False)
    paths = [save_png(tmp_path / f"d{i}.png", test.data[i], invert=i % 2 == 0) for i in range(6)]
    assert main(["predict", str(trained / "model.npz"), *paths]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6
    predicted = [int(line.split(": ")[1].split()[0]) for line in lines]
    probs = [float(line.split("probability ")[1].rstrip(")")) for line in lines]
    assert all(0.1 <= p <= 1 for p in probs)
    assert sum(p == t for p, t in zip(predicted, test.targets[:6])) >= 4


def bad_checkpoints(tmp_path):
    other = build_model("lenet5", num_classes=5)  # a model of another shape under the same name
    wrong = tmp_path / "wrong.npz"
    save_checkpoint(wrong, other, model_kwargs={"num_classes": 10, "variant": "classic"})
    rgb = tmp_path / "rgb.npz"
    save_checkpoint(rgb, build_model("lenet5", in_channels=3), preprocessing={"input_size": [3, 32, 32]})
    garbage = tmp_path / "garbage.npz"
    # fixed bytes: random ones starting with 0x80 look like a pickle and get that (right) message
    garbage.write_bytes(b"\x01" + np.random.default_rng(0).bytes(299))
    return wrong, rgb, garbage


def cases(tmp_path, trained):
    wrong, rgb, garbage = bad_checkpoints(tmp_path)
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    bad_data = tmp_path / "bad_data"
    bad_data.mkdir()
    (bad_data / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 5)
    (bad_data / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x05")
    (tmp_path / "file").write_text("x")
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    model = str(trained / "model.npz")
    return [
        (["train", "--data", str(tmp_path / "nope")], 1, "data (directory|path) '.*nope' does not exist"),
        (["train", "--data", str(empty)], 1, "has no train-images-idx3-ubyte|holds no data convgrad recognises"),
        (["train", "--data", str(bad_data)], 1, "truncated inside its header"),
        (["train", "--model", "lenet7"], 1, "unknown model 'lenet7'; available models: .*lenet5"),
        (["train", "--epochs", "0"], 2, "--epochs: must be a positive integer, got 0"),
        (["train", "--epochs", "ten"], 2, "--epochs: expected a positive integer, got 'ten'"),
        (["train", "--lr", "-0.1"], 2, r"--lr: must be a number in \(0, 10\]"),
        (["train", "--lr", "nan"], 2, "--lr: must be a number"),
        (["train", "--batch-size", "-3"], 2, "--batch-size: must be a positive integer"),
        (["train", "--optimizer", "rmsprop"], 2, "--optimizer: invalid choice"),
        (["train", "--seed", "-1"], 2, "--seed: must be an integer >= 0"),
        (["train", "--threads", "0"], 2, "--threads: must be a positive integer"),
        (["train", "--out", str(tmp_path / "file")], 1, "exists and is not a directory"),
        (["train", "--out", str(trained)], 1, "already holds a run; continue it with --resume"),
        (["train", "--resume", str(empty)], 1, "is not a run directory"),
        (["train", "--resume", str(trained)], 1, "has already finished"),
        (["train", "--resume", str(trained), "--out", "x"], 2, "do not combine it with --out"),
        (["evaluate", str(tmp_path / "missing.npz")], 1, "checkpoint '.*missing.npz' does not exist"),
        (["evaluate", str(garbage)], 1, "garbage.npz' is not a .npz file|corrupt"),
        (["evaluate", str(notes)], 1, "not a .npz file"),
        (["evaluate", str(wrong)], 1, "does not fit LeNet5.*fc3.weight"),
        (["evaluate", str(rgb)], 1, "lenet5 model for 3x32x32 input; the data.s samples are 1x28x28"),
        (["evaluate", model, "--data", str(tmp_path / "nope")], 1, "nope' does not exist"),
        (["predict", model, str(notes)], 1, "cannot read '.*notes.png' as an image"),
        (["predict", model, str(tmp_path / "nothing.png")], 1, "(image|input file) '.*nothing.png' does not exist"),
        (["predict", str(wrong), str(notes)], 1, "does not fit LeNet5"),
        (["predict", model], 2, "the following arguments are required: IMAGE"),
        (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    ]


def test_bad_input_one_line_and_nonzero_exit(trained, tmp_path, capsys):
    for argv, code, pattern in cases(tmp_path, trained):
        got = main(argv + (["--no-progress"] if argv[0] == "train" and "--resume" not in argv else []))
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert got == code, (argv, got, err)
        assert "Traceback" not in captured.err and len(err.splitlines()) == 1, (argv, err)
        assert re.search(pattern, err), (argv, err)
        assert err.startswith("convgrad"), err


def test_divergence_is_one_line_with_advice(tmp_path, capsys):
    """lr=10 makes LeNet-5 either diverge (NaN loss) or kill its ReLUs (finite loss), depending on
    the initialisation: try seeds until one diverges, and check every outcome is clean."""
    diverged = None
    for seed in range(8):
        code = main(["train", *DIVERGE, "--seed", str(seed), "--out", str(tmp_path / f"s{seed}"), "--no-progress"])
        err = capsys.readouterr().err.strip()
        assert code in (0, 1) and "Traceback" not in err
        if code == 1:
            assert len(err.splitlines()) == 1
            assert re.search(r"training diverged: loss is nan at epoch \d+, batch \d+.*learning rate.*lr=10", err)
            diverged = seed
            break
    assert diverged is not None, "no seed diverged at lr=10"
    code = main(["train", *DIVERGE, "--seed", str(diverged), "--out", str(tmp_path / "anomaly"), "--no-progress",
                 "--detect-anomaly"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and re.search("produced (NaN|Inf)", err), err


def test_console_script_subprocess(trained, tmp_path):
    """The real entry point: exit status and stderr of a separate process."""
    exe = os.path.join(os.path.dirname(sys.executable), "convgrad")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "convgrad.cli"]
    bad = subprocess.run(cmd + ["evaluate", str(tmp_path / "none.npz")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "does not exist" in bad.stderr
    ok = subprocess.run(cmd + ["evaluate", str(trained / "model.npz")], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.startswith("accuracy: 0.")
    helptext = subprocess.run(cmd + ["train", "--help"], capture_output=True, text=True, timeout=120).stdout
    assert "--checkpoint-every" in helptext and "--resume" in helptext and "one-cycle" in helptext


# --- issue #14: habits users bring, and what used to be a traceback -----------------------------------
def run_cli(args, timeout=300, **kw):
    return subprocess.run([sys.executable, "-m", "convgrad.cli", *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def one_error_line(proc, pattern):
    err = proc.stderr.strip()
    assert proc.returncode == 1, (proc.returncode, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert re.search(pattern, err), err


def test_out_of_memory_is_one_line_before_building_the_step():
    """#14.7: `ulimit -v 4000000; convgrad train --model resnet18 --batch-size 5000` was a MemoryError
    traceback; now the step's memory is estimated first and the line says what to change."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (4_000_000 * 1024, 4_000_000 * 1024))

    proc = run_cli(["train", "--model", "resnet18", "--batch-size", "5000", "--no-progress", "--out", "/nonexistent/x"],
                   preexec_fn=limit, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    one_error_line(proc, r"resnet18 at batch size 5,000 .* needs about [\d.]+ GB .* use --batch-size [\d,]+ or less")


def test_models_that_do_not_fit_the_data_are_one_line(tmp_path):
    """#14.8: a model whose layers cannot take the data's samples fails before the first step,
    naming the model and the sizes, in one line."""
    proc = run_cli(["train", "--model", "alexnet", "--max-train", "100", "--epochs", "1", "--no-progress",
                    "--out", str(tmp_path / "a")])
    one_error_line(proc, r"alexnet.*(needs|does not fit).*28")
    assert not (tmp_path / "a").exists()


def test_generative_models_train_through_the_cli(tmp_path, capsys):
    """#14.8 / #17: conv_autoencoder (a traceback before), vae and dcgan train with `convgrad train
    --model`, record their objective, and evaluate/predict treat them as what they are."""
    quick = ["--max-train", "200", "--max-test", "100", "--epochs", "1", "--batch-size", "50", "--no-progress"]
    for name, figure in (("conv_autoencoder", r"test loss 0\.\d+, mse 0\.\d+ on 100 test images"),
                         ("vae", r"test loss [\d.]+, recon loss [\d.]+, kl [\d.]+ on 100 test images"),
                         ("dcgan", r"no test figure")):
        out = tmp_path / name
        assert main(["train", "--model", name, *quick, "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        assert re.search(figure, printed), printed
        ckpt = load_checkpoint(out / "model.npz")
        assert ckpt.extra["objective"]["name"] == {"conv_autoencoder": "reconstruction", "vae": "vae",
                                                   "dcgan": "gan"}[name]
        rows = [json.loads(line) for line in open(out / "metrics.jsonl")]
        assert [r["epoch"] for r in rows if r["kind"] == "epoch"] == [1]
    digit = save_png(tmp_path / "d.png", MNIST(train=False).data[0])
    assert main(["predict", str(tmp_path / "conv_autoencoder" / "model.npz"), digit]) == 0
    assert re.search(r"d\.png: reconstruction error 0\.\d{4}", capsys.readouterr().out)
    for verb in (["evaluate"], ["predict"]):
        args = verb + [str(tmp_path / "dcgan" / "model.npz")] + ([digit] if verb == ["predict"] else [])
        assert main(args) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "generator" in err and "convgrad generate" in err, err


def test_resume_refuses_settings_it_cannot_honour_and_extends_finished_runs(trained, tmp_path, capsys):
    """#14.11: `--resume RUN --lr ...` was silently ignored; now refused. `--resume RUN --epochs N`
    extends a finished run: with no schedule, 1 epoch extended to 2 equals a 2-epoch run."""
    assert main(["train", "--resume", str(trained), "--lr", "0.1"]) == 1
    err = capsys.readouterr().err
    assert "cannot honour --lr 0.1 (the run has 0.003)" in err
    assert main(["train", "--resume", str(trained), "--lr", "0.003", "--epochs", "2"]) == 1  # same values: finished
    assert "has already finished" in capsys.readouterr().err
    assert main(["train", "--resume", str(trained), "--epochs", "1"]) == 1
    assert "--epochs must be more than 2" in capsys.readouterr().err
    short = tmp_path / "short"
    assert main(["train", *QUICK, "--epochs", "1", "--out", str(short)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(short), "--epochs", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "extending" in printed and "epoch 2/2" in printed
    extended, reference = load_checkpoint(short / "model.npz"), load_checkpoint(trained / "model.npz")
    for key, value in reference.model_state.items():
        np.testing.assert_array_equal(extended.model_state[key], value, err_msg=key)
    assert json.load(open(short / "config.json"))["config"]["epochs"] == 2
    assert len(extended.extra["history"]) == 2
    # an extension stopped half way resumes (it is not 'finished' because of the old model.npz)
    import shutil
    import threading

    from convgrad.training import resume_run

    class StopAt:
        def __init__(self, event, step):
            self.event, self.step = event, step

        def on_step_end(self, step, logs):
            if step == self.step:
                self.event.set()

    copy = tmp_path / "copy"
    shutil.copytree(short, copy)
    whole = resume_run(short, log=None, progress=False, epochs=3)
    stop = threading.Event()
    half = resume_run(copy, log=None, progress=False, epochs=3, callbacks=[StopAt(stop, 100)], stop=stop)
    assert half["stopped"] and half["step"] == 100
    done = resume_run(copy, log=None, progress=False)
    assert not done["stopped"] and done["test_accuracy"] == whole["test_accuracy"]
    a, b = load_checkpoint(short / "model.npz"), load_checkpoint(copy / "model.npz")
    for key, value in a.model_state.items():
        np.testing.assert_array_equal(b.model_state[key], value, err_msg=key)


def test_failed_run_directory_can_be_reused(tmp_path, capsys):
    """#14.12: a run that failed before its first checkpoint left config.json, and its --out was
    refused as 'already holds a run'."""
    for seed in range(8):  # a seed whose run diverges (which one depends on the augmentation draws)
        out = tmp_path / f"r{seed}"
        code = main(["train", *DIVERGE, "--seed", str(seed), "--out", str(out), "--no-progress", "--detect-anomaly"])
        if code == 1:
            break
    assert code == 1 and (out / "config.json").exists() and not (out / "checkpoint.npz").exists()
    capsys.readouterr()
    assert main(["train", *QUICK, "--max-train", "100", "--epochs", "1", "--out", str(out)]) == 0
    assert (out / "model.npz").exists()


def test_second_trainer_is_refused_and_stale_locks_are_replaced(tmp_path, capsys):
    """#14.13: run.lock holds the trainer's pid; a live owner refuses a second trainer (new run or
    --resume), a dead one is replaced with a warning; the lock goes when the run ends."""
    out = tmp_path / "r"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / "run.lock").write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname(),
                                                  "started": "now"}))
        assert main(["train", *QUICK, "--out", str(out)]) == 1
        assert re.search(rf"being trained by process {sleeper.pid}", capsys.readouterr().err)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert main(["train", *QUICK, "--max-train", "100", "--epochs", "1", "--out", str(out)]) == 0
    assert f"removed a stale lock of process {sleeper.pid}" in capsys.readouterr().err
    assert not (out / "run.lock").exists()


@pytest.mark.slow
def test_absurd_batch_size_and_max_train_are_said(tmp_path):
    """#14.18: a batch larger than the data and --max-train beyond it each get one line."""
    proc = run_cli(["train", "--batch-size", "10000000000000", "--max-train", "100000", "--max-test", "100",
                    "--epochs", "1", "--no-progress", "--out", str(tmp_path / "r")])
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert any(re.search(r"max.train.100,000 is more than the 5,000 train.* using all 5,000", w) for w in warnings), warnings
    assert any(re.search(r"--batch-size 10,000,000,000,000 is more than the 5,000 training samples", w)
               for w in warnings), warnings


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path):
    """#14.20: the bar flooded logs; to a pipe, train prints one line per epoch and no bar."""
    proc = run_cli(["train", *QUICK[:-1], "--max-train", "200", "--out", str(tmp_path / "r")])
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "it/s" not in proc.stderr and "img/s" not in proc.stderr, proc.stderr
    epoch_lines = [line for line in proc.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]


def test_metrics_file_rows(trained):
    rows = [json.loads(line) for line in open(trained / "metrics.jsonl")]
    epochs = [r for r in rows if r["kind"] == "epoch"]
    steps = [r for r in rows if r["kind"] == "step"]
    assert [r["epoch"] for r in epochs] == [1, 2] and epochs[-1]["step"] == 80
    assert {"loss", "accuracy", "lr", "seconds", "images_per_second"} <= set(epochs[0])
    assert "test_accuracy" in epochs[-1] and "test_accuracy" not in epochs[0]
    assert [r["step"] for r in steps] == list(range(10, 81, 10)) and all({"loss", "lr", "epoch"} <= set(r) for r in steps)
    assert load_checkpoint(trained / "model.npz").extra["test_accuracy"] == epochs[-1]["test_accuracy"]


def test_record_filters_and_health_rows(tmp_path, capsys):
    """--record-filters N writes filters.npz (step 0 = the initialisation, then every N steps) and
    --health-every N adds health rows per layer to metrics.jsonl."""
    out = tmp_path / "r"
    assert main(["train", *QUICK, "--max-train", "200", "--epochs", "1", "--record-filters", "3", "--health-every", "4",
                 "--out", str(out)]) == 0
    with np.load(out / "filters.npz", allow_pickle=False) as f:
        assert f["steps"].tolist() == [0, 3, 6] and f["weights"].shape == (3, 6, 1, 5, 5) and str(f["layer"]) == "conv1"
    health = [json.loads(line) for line in open(out / "metrics.jsonl") if '"health"' in line]
    assert {r["layer"] for r in health} >= {"conv1", "conv2", "fc1"} and {r["step"] for r in health} == {4, 8}
    assert all(r["grad_norm"] > 0 for r in health)


def test_image_folder_run_carries_class_names_and_split(tmp_path, capsys):
    """#11 through the runner: a folder of PNG digits in three named classes, no test split: the
    seeded validation split is recorded in split.json, class names travel in the checkpoint, and
    predict and evaluate speak in them."""
    test = MNIST(train=False)
    names = {0: "zero", 1: "one", 7: "seven"}
    root = tmp_path / "folder"
    for digit, name in names.items():
        (root / name).mkdir(parents=True)
        for i in np.flatnonzero(test.targets == digit)[:40]:
            Image.fromarray(test.data[i]).save(root / name / f"{i}.png")
    out = tmp_path / "r"
    assert main(["train", "--data", str(root), "--epochs", "3", "--batch-size", "16", "--lr", "0.003", "--no-progress",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].startswith("image folder: 3 classes (one, seven, zero), 96 train / 24 validation")
    assert re.search(r"validation accuracy: [\d.]+ on 24 validation images", printed), printed
    split = json.load(open(out / "split.json"))
    assert split["fraction"] == 0.2 and len(split["validation_indices"]) == 24
    ckpt = load_checkpoint(out / "model.npz")
    assert ckpt.extra["class_names"] == ["one", "seven", "zero"] and ckpt.extra["test_name"] == "validation"
    assert main(["evaluate", str(out / "model.npz")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("on 24 validation images") and [row.split()[0] for row in lines[2:]] == ["one", "seven", "zero"]
    digit = save_png(tmp_path / "seven.png", test.data[np.flatnonzero(test.targets == 7)[50]], scale=1)
    assert main(["predict", str(out / "model.npz"), digit]) == 0
    assert re.fullmatch(r".*seven\.png: (one|seven|zero) \(probability 0\.\d{4}\)", capsys.readouterr().out.strip())


def test_time_series_default_model_is_fcn1d(tmp_path, capsys):
    """`.ts` data (UCR GunPoint from ../shared/data) trains fcn1d by default."""
    from oracle import SHARED_DATA

    out = tmp_path / "ts"
    assert main(["train", "--data", os.path.join(SHARED_DATA, "ucr_sktime", "GunPoint"), "--epochs", "1",
                 "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"test accuracy: [\d.]+ on 150 test samples", printed), printed
    ckpt = load_checkpoint(out / "model.npz")
    assert ckpt.model_name == "fcn1d" and ckpt.preprocessing["input_size"] == [1, 150]


def test_memory_error_inside_a_step_is_one_line(tmp_path):
    """#14.7: an allocation failing inside a training step (here raised by a callback) ends the run
    with a ResourceLimitError naming the model, the batch size and what to change."""
    from convgrad.errors import ResourceLimitError
    from convgrad.training import train_run

    class Exhausted:
        def on_step_end(self, step, logs):
            raise MemoryError("Unable to allocate 8.00 GiB")

    with pytest.raises(ResourceLimitError, match=r"out of memory in a training step of lenet5 at batch size 32 .*"
                                                 r"smaller --batch-size \(e.g. 8\)"):
        train_run({"max_train": 200, "max_test": 100, "epochs": 1, "batch_size": 32}, out=tmp_path / "r", log=None,
                  progress=False, callbacks=[Exhausted()])
    assert not (tmp_path / "r" / "run.lock").exists()


def test_readme_and_help_give_the_same_main_job_figure():
    """#14.21: README said 98.58% in 11-16 s, `train --help` 98.5% in about 30 s: one measured
    figure (accuracy and time) must appear in both."""
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md"), encoding="utf-8").read()
    main_job = readme[readme.index("## The main job"):][:1500]
    accuracy, seconds = re.search(r"\*\*(\d\d\.\d\d)% test accuracy\s+\(seed 0\) in (\d+) s\*\*", main_job).groups()
    helptext = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    assert f"{accuracy}% in {seconds} s" in helptext, helptext[:600]
