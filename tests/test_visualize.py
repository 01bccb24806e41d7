"""convgrad.visualize, the recorders and `convgrad visualize`: real short runs on the bundled MNIST.

One LeNet-5 run (2 epochs on 2,000 bundled images, filters and health recorded, a metrics.jsonl
written from the fit's own records) and one small ResNet-20 run are made once per module; every
picture is drawn from them and opened again with Pillow.
"""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import convgrad
from convgrad import filters as classic
from convgrad import nn, visualize
from convgrad.cli import main
from convgrad.data import MNIST, DataLoader, mnist_transforms
from convgrad.data.datasets import ArrayDataset
from convgrad.io import save_checkpoint
from convgrad.tensor import Tensor, no_grad
from convgrad.training import evaluate, fit
from convgrad.training.recorders import FilterRecorder, HealthMonitor, load_filter_history
from convgrad.visualize.common import DPI

pytest.importorskip("matplotlib")

PREPROCESSING = {"mean": [0.1307], "std": [0.3081], "input_size": [1, 28, 28], "dataset": "mnist",
                 "classes": [str(d) for d in range(10)]}
RECORD_EVERY = 5


class MetricsWriter:
    """Writes metrics.jsonl rows the way the run contract (INTERFACES.md section 2) describes them."""

    def __init__(self, path, test_set, model):
        self.file, self.test_set, self.model = open(path, "w"), test_set, model

    def write(self, row):
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()

    def on_step_end(self, step, logs):
        if step % RECORD_EVERY == 0:
            self.write({"kind": "step", "epoch": logs["epoch"] + 1, "step": step, "loss": logs["loss"]})

    def on_epoch_end(self, epoch, record):
        accuracy = evaluate(self.model, DataLoader(self.test_set, batch_size=500))
        self.write({"kind": "epoch", **record, "test_accuracy": accuracy})


def _train(run_dir, model, n_train, epochs, batch_size, lr, n_test=1000, warn=None):
    """A real fit with the recorders; returns (history, HealthMonitor, warnings)."""
    train = MNIST(train=True, transform=mnist_transforms())
    idx = np.random.default_rng(0).permutation(len(train))[:n_train]
    train = ArrayDataset(train.data[idx], train.targets[idx], train.transform)
    test = MNIST(train=False, transform=mnist_transforms()).subset(n_test)
    os.makedirs(run_dir, exist_ok=True)
    with open(os.path.join(run_dir, "config.json"), "w") as f:
        json.dump({"format": "convgrad-run", "version": 1, "config": {"model": model.model_config["name"]}}, f)
    metrics = MetricsWriter(os.path.join(run_dir, "metrics.jsonl"), test, model)
    warnings = []
    health = HealthMonitor(RECORD_EVERY, metrics.write, model=model, warn=warnings.append)
    recorder = FilterRecorder(run_dir, RECORD_EVERY, model=model)
    opt = convgrad.optim.Adam(model.parameters(), lr=lr)
    history = fit(model, DataLoader(train, batch_size=batch_size, shuffle=True, seed=0), opt, epochs,
                  callbacks=[recorder, health, metrics], progress=False)
    metrics.file.close()
    save_checkpoint(os.path.join(run_dir, "model.npz"), model, preprocessing=PREPROCESSING,
                    extra={"history": history})
    return history, health, warnings


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("lenet_run"))
    convgrad.manual_seed(0)
    model = convgrad.models.lenet5(variant="modern")
    history, health, warnings = _train(run_dir, model, n_train=2000, epochs=2, batch_size=50, lr=3e-3)  # 80 steps
    model.eval()
    return {"dir": run_dir, "model": model, "history": history, "health": health, "warnings": warnings,
            "ckpt": os.path.join(run_dir, "model.npz")}


@pytest.fixture(scope="module")
def resnet_run(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("resnet_run"))
    convgrad.manual_seed(0)
    model = convgrad.models.resnet20(in_channels=1)
    history, _, _ = _train(run_dir, model, n_train=256, epochs=1, batch_size=32, lr=3e-3, n_test=100)
    model.eval()
    return {"dir": run_dir, "model": model, "ckpt": os.path.join(run_dir, "model.npz")}


@pytest.fixture(scope="module")
def digits():
    """(normalised inputs (N, 1, 28, 28), raw uint8 digits (N, 28, 28), labels) of 40 real test digits."""
    test = MNIST(train=False, transform=mnist_transforms())
    idx = np.arange(0, 2000, 50)
    inputs, labels = test.get_batch(idx)
    return inputs, test.data[idx], labels


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory, digits):
    path = str(tmp_path_factory.mktemp("images") / "digit.png")
    Image.fromarray(255 - digits[1][0]).save(path)  # dark ink on white paper, as a user would draw it
    return path


def _png_size(picture):
    """The pixel size the figure was drawn at (what the PNG must have)."""
    w, h = picture.figure.get_size_inches()
    return round(w * DPI), round(h * DPI)


def _opens_as(path, size, frames=1):
    with Image.open(path) as img:
        assert img.size == size
        assert getattr(img, "n_frames", 1) == frames
        img.load()


def _cli(capsys, *argv):
    code = main(["visualize", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ----------------------------------------------------------------------------------------------
# The optional extra
# ----------------------------------------------------------------------------------------------
def test_importing_convgrad_and_its_cli_does_not_import_matplotlib():
    code = ("import sys, convgrad, convgrad.visualize, convgrad.training.recorders\n"
            "from convgrad.cli import build_parser; build_parser()\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_is_one_error_naming_the_extra(lenet_run, tmp_path):
    out = tmp_path / "f.png"
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from convgrad.cli import main\n"
            f"sys.exit(main(['visualize', 'filters', {lenet_run['ckpt']!r}, '--out', {str(out)!r}]))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install convgrad[viz]" in lines[0], result.stderr
    assert not out.exists()
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "import convgrad\nfrom convgrad import visualize\n"
            f"model = convgrad.load({lenet_run['ckpt']!r})\n"
            "try:\n    visualize.filters(model)\nexcept visualize.MissingExtraError as e:\n    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install convgrad[viz]" in result.stdout


# ----------------------------------------------------------------------------------------------
# Filters and what they are
# ----------------------------------------------------------------------------------------------
def test_filters_cli_writes_the_grid_of_the_first_conv(lenet_run, tmp_path, capsys):
    out = str(tmp_path / "filters.png")
    code, stdout, _ = _cli(capsys, "filters", lenet_run["ckpt"], "--out", out)
    assert code == 0 and f"wrote {out}" in stdout
    assert "nearest classical filter" in stdout and len(stdout.strip().splitlines()) == 6 + 3
    pic = visualize.filters(lenet_run["model"])
    np.testing.assert_array_equal(pic.data["weights"], lenet_run["model"].conv1.weight.numpy())
    assert pic.data["layer"] == "conv1" and pic.data["limit"] == np.abs(pic.data["weights"]).max()
    assert "lenet5, layer conv1" in pic.title
    _opens_as(out, _png_size(pic))


def test_filters_of_deep_and_rgb_layers(resnet_run, tmp_path):
    model = resnet_run["model"]
    pic = visualize.filters(model, layer="layer2.0.conv1", path=tmp_path / "deep.png")
    assert pic.data["weights"].shape == (32, 16, 3, 3)
    _opens_as(pic.path, _png_size(pic))
    rgb = convgrad.models.resnet20(in_channels=3)
    pic = visualize.filters(rgb, path=tmp_path / "rgb.png")
    assert pic.data["weights"].shape == (16, 3, 3, 3)
    _opens_as(pic.path, _png_size(pic))


def test_nearest_classical_filter_recognises_planted_sobel_kernels():
    horizontal, vertical = classic.sobel()
    conv = nn.Conv2d(1, 4, 3)
    classic.init_conv2d_(conv, [vertical, horizontal, -vertical, classic.laplacian()])
    rows = visualize.describe_filters(conv.weight.numpy())
    assert [r["nearest"] for r in rows] == ["sobel x (vertical edge)", "sobel y (horizontal edge)",
                                            "sobel x (vertical edge)", "laplacian"]
    assert rows[0]["correlation"] > 0.999 and rows[2]["correlation"] < -0.999 and rows[3]["correlation"] > 0.999
    assert rows[0]["orientation_deg"] == pytest.approx(90) and rows[1]["orientation_deg"] == pytest.approx(0)
    # LeNet's 5x5 first layer with a Sobel planted among learned-looking random kernels
    model = convgrad.models.lenet5()
    classic.init_conv2d_(model.conv1, [vertical])
    name, corr = visualize.nearest_classical(model.conv1.weight.numpy()[0])
    assert name == "sobel x 3x3 (vertical edge)" and corr > 0.999
    table = visualize.format_filter_table(visualize.describe_filters(model.conv1.weight.numpy()))
    assert "sobel x 3x3 (vertical edge)" in table.splitlines()[1]


@pytest.mark.parametrize("theta_index", range(8))
def test_orientation_of_rotated_gabors(theta_index):
    theta = theta_index * math.pi / 8
    kernel = classic.gabor(7, 1.5, theta, 5.0)
    angle, coherence = visualize.orientation(kernel)
    expected = (90 - math.degrees(theta)) % 180  # the stripes (edges) of OpenCV's layout on the picture
    assert min(abs(angle - expected), 180 - abs(angle - expected)) < 1 and coherence > 0.5
    name, corr = visualize.nearest_classical(kernel)
    assert name.startswith(f"gabor {expected:.1f} deg") and corr > 0.9


def test_isotropic_kernel_has_no_orientation():
    angle, coherence = visualize.orientation(classic.gaussian(5))
    assert math.isnan(angle) and coherence < 0.01
    assert visualize.nearest_classical(classic.gaussian(5)) == ("gaussian", pytest.approx(1.0))


# ----------------------------------------------------------------------------------------------
# Recording filters, evolution
# ----------------------------------------------------------------------------------------------
def test_filter_history_of_a_real_run(lenet_run):
    history = load_filter_history(lenet_run["dir"])
    total_steps = lenet_run["history"][-1]["step"]
    np.testing.assert_array_equal(history["steps"], np.arange(0, total_steps + 1, RECORD_EVERY))
    assert history["layer"] == "conv1" and history["weights"].shape[1:] == (6, 1, 5, 5)
    if total_steps % RECORD_EVERY == 0:
        np.testing.assert_array_equal(history["weights"][-1], lenet_run["model"].conv1.weight.numpy())
    assert not np.allclose(history["weights"][0], history["weights"][-1])


def test_filter_recorder_resume_drops_rows_past_the_resumed_step(tmp_path):
    model = convgrad.models.lenet5()

    def steps_of(recorder, start, stop):
        for step in range(start, stop + 1):
            with no_grad():
                model.conv1.weight.fill_(step)  # a recognisable value per step
            recorder.on_step_end(step, {"loss": 0.0, "epoch": 0, "batch": step})

    recorder = FilterRecorder(tmp_path, 5)
    recorder.on_train_begin(model, {"step": 0})
    steps_of(recorder, 1, 12)
    np.testing.assert_array_equal(load_filter_history(tmp_path)["steps"], [0, 5, 10])
    resumed = FilterRecorder(tmp_path, 5)   # resumed at step 5 via on_train_begin
    resumed.on_train_begin(model, {"step": 5})
    steps_of(resumed, 6, 15)
    history = load_filter_history(tmp_path)
    np.testing.assert_array_equal(history["steps"], [0, 5, 10, 15])
    assert history["weights"][2].max() == 10 and history["weights"][3].min() == 15
    old_loop = FilterRecorder(tmp_path, 5, model=model)  # a loop without on_train_begin, resumed at 5
    steps_of(old_loop, 6, 10)
    np.testing.assert_array_equal(load_filter_history(tmp_path)["steps"], [0, 5, 10])


@pytest.mark.slow
def test_filter_history_of_a_stopped_and_resumed_run_equals_an_uninterrupted_one(tmp_path):
    import threading

    from convgrad.training.runner import resume_run, train_run

    config = {"max_train": 200, "max_test": 50, "epochs": 2, "batch_size": 25, "record_filters": 3,
              "health_every": 4, "schedule": "none"}
    train_run(config, out=tmp_path / "whole", log=None, progress=False)
    stop = threading.Event()

    class StopAt:
        def on_step_end(self, step, logs):
            if step == 10:
                stop.set()

    result = train_run(config, out=tmp_path / "parts", log=None, progress=False, callbacks=[StopAt()], stop=stop)
    assert result["stopped"]
    assert load_filter_history(tmp_path / "parts")["steps"][-1] == 9
    resume_run(tmp_path / "parts", log=None, progress=False)
    whole, parts = load_filter_history(tmp_path / "whole"), load_filter_history(tmp_path / "parts")
    np.testing.assert_array_equal(parts["steps"], np.arange(0, 17, 3))
    np.testing.assert_array_equal(parts["steps"], whole["steps"])
    np.testing.assert_array_equal(parts["weights"], whole["weights"])
    health = [visualize.health_series(visualize.read_metrics(tmp_path / name)) for name in ("whole", "parts")]
    for layer in health[0]:
        np.testing.assert_array_equal(health[0][layer]["step"], health[1][layer]["step"])


def test_evolution_cli_writes_grid_and_gif(lenet_run, tmp_path, capsys):
    out, gif = str(tmp_path / "evo.png"), str(tmp_path / "evo.gif")
    code, stdout, _ = _cli(capsys, "evolution", lenet_run["dir"], "--out", out, "--frames", "12")
    assert code == 0 and f"wrote {gif} (12 frames)" in stdout
    pic = visualize.evolution(lenet_run["dir"], max_frames=12)
    assert len(pic.data["gif_steps"]) == 12 and pic.data["gif_steps"][0] == 0
    assert pic.data["gif_steps"][-1] == pic.data["steps"][-1]
    _opens_as(out, _png_size(pic))
    with Image.open(gif) as img:
        assert img.n_frames == 12
        sizes = set()
        for frame in range(img.n_frames):
            img.seek(frame)
            sizes.add(img.size)
        assert len(sizes) == 1


# ----------------------------------------------------------------------------------------------
# Feature maps
# ----------------------------------------------------------------------------------------------
def test_feature_maps_equal_return_layers(lenet_run, digits):
    model, x = lenet_run["model"], digits[0][0]
    data = visualize.feature_maps(model, x, layers=["conv1", "act2", "fc1"])
    with no_grad():
        expected = model(Tensor(x[None]), return_layers=["conv1", "act2", "fc1"])
    for name in ("conv1", "act2", "fc1"):
        np.testing.assert_allclose(data["maps"][name], expected[name].numpy()[0], rtol=1e-6, atol=1e-6)
    assert data["predicted"] == int(expected["output"].numpy()[0].argmax())
    assert visualize.feature_maps(model, x)["layers"] == ["conv1", "act1", "pool1", "conv2", "act2", "pool2"]


def test_feature_map_gradient_matches_finite_differences(lenet_run, digits):
    """d score / d map, checked in float64 by nudging the map through a forward hook that replaces it."""
    model = convgrad.models.lenet5(variant="modern").double()
    model.load_state_dict(lenet_run["model"].state_dict())
    model.eval()
    x = digits[0][0].astype(np.float64)
    data = visualize.feature_maps(model, x, layers=["conv2"], grad=True)
    grad, target = data["grads"]["conv2"], data["target"]
    direction = np.random.default_rng(0).normal(size=grad.shape)
    eps = 1e-6

    def score(shift):
        handle = model.conv2.register_forward_hook(lambda m, i, out: out + Tensor(shift * direction[None]))
        try:
            with no_grad():
                return float(model(Tensor(x[None])).numpy()[0, target])
        finally:
            handle.remove()

    numeric = (score(eps) - score(-eps)) / (2 * eps)
    assert numeric == pytest.approx(float(np.sum(grad * direction)), rel=1e-6)


def test_features_cli(lenet_run, digit_png, tmp_path, capsys):
    out = str(tmp_path / "features.png")
    code, stdout, _ = _cli(capsys, "features", lenet_run["ckpt"], digit_png, "--layer", "conv1", "pool2", "--grad",
                           "--out", out)
    assert code == 0 and "conv1: (6, 28, 28)" in stdout and "pool2: (16, 5, 5)" in stdout
    with Image.open(out) as img:
        assert img.size[0] >= 700 and img.size[1] > 500


def test_features_of_a_resnet(resnet_run, digits, tmp_path):
    pic = visualize.features(resnet_run["model"], digits[0][0], layers=["layer1", "layer3.2"], grad=True,
                             path=tmp_path / "f.png")
    assert pic.data["maps"]["layer3.2"].shape == (64, 7, 7) and pic.data["grads"]["layer1"].shape == (16, 28, 28)
    _opens_as(pic.path, _png_size(pic))


# ----------------------------------------------------------------------------------------------
# Saliency
# ----------------------------------------------------------------------------------------------
def _ink_fraction(model, digits, method):
    inputs, raw, _ = digits
    fractions = []
    for x, pixels in zip(inputs, raw):
        s = visualize.saliency_map(model, x, method=method, samples=8)["saliency"]
        fractions.append(s[pixels > 0].sum() / s.sum())
    return float(np.mean(fractions))


def test_saliency_concentrates_on_the_ink(lenet_run, digits):
    """Over 40 real test digits, the trained network's input-gradient saliency puts on the ink
    far more than the ink's share of the pixels, and more than an untrained network does."""
    ink_share = float((digits[1] > 0).mean())
    trained = _ink_fraction(lenet_run["model"], digits, "gradient")
    convgrad.manual_seed(1)
    untrained = _ink_fraction(convgrad.models.lenet5(variant="modern"), digits, "gradient")
    assert trained > 1.5 * ink_share, (trained, ink_share)
    assert trained > untrained + 0.03, (trained, untrained)
    assert _ink_fraction(lenet_run["model"], digits, "smoothgrad") > 1.3 * ink_share


def test_saliency_gradient_is_the_input_gradient(lenet_run, digits):
    model, x = lenet_run["model"], digits[0][0]
    data = visualize.saliency_map(model, x, method="gradient")
    xt = Tensor(x[None], requires_grad=True)
    model(xt)[0, data["target"]].backward()
    np.testing.assert_allclose(data["saliency"], np.abs(xt.grad.numpy()[0, 0]), rtol=1e-6)


def test_gradcam_layers(lenet_run, resnet_run, digits):
    data = visualize.saliency_map(lenet_run["model"], digits[0][0], method="gradcam")
    assert data["layer"] == "conv2" and data["cam"].shape == (10, 10) and data["saliency"].shape == (28, 28)
    assert data["saliency"].min() >= 0
    assert 0.5 * data["cam"].max() < data["saliency"].max() <= data["cam"].max() * (1 + 1e-6)  # bilinear
    data = visualize.saliency_map(resnet_run["model"], digits[0][0], method="gradcam")
    assert data["layer"] == "layer3" and data["cam"].shape == (7, 7)
    with pytest.raises(convgrad.errors.ArgumentError, match="not a map"):
        visualize.saliency_map(lenet_run["model"], digits[0][0], method="gradcam", layer="fc1")


@pytest.mark.parametrize("method", ["gradient", "smoothgrad", "gradcam"])
def test_saliency_cli(lenet_run, digit_png, tmp_path, capsys, method):
    out = str(tmp_path / f"{method}.png")
    code, stdout, _ = _cli(capsys, "saliency", lenet_run["ckpt"], digit_png, "--method", method, "--out", out)
    assert code == 0 and "predicted" in stdout
    _opens_as(out, (1000, 390))


# ----------------------------------------------------------------------------------------------
# Curves, health
# ----------------------------------------------------------------------------------------------
def test_curves_from_the_metrics_file(lenet_run, tmp_path, capsys):
    out = str(tmp_path / "curves.png")
    code, stdout, _ = _cli(capsys, "curves", lenet_run["dir"], "--out", out)
    assert code == 0
    _opens_as(out, (1000, 400))
    data = visualize.curves(lenet_run["dir"]).data
    history = lenet_run["history"]
    np.testing.assert_array_equal(data["epoch"]["epoch"], [1, 2])
    np.testing.assert_allclose(data["epoch"]["loss"], [h["loss"] for h in history])
    np.testing.assert_allclose(data["epoch"]["accuracy"], [h["accuracy"] for h in history])
    assert data["epoch"]["test_accuracy"][-1] > 0.8  # 2 epochs on 2,000 digits
    assert len(data["step"]["step"]) == history[-1]["step"] // RECORD_EVERY


def test_health_rows_picture_and_no_warning_on_a_default_run(lenet_run, tmp_path, capsys):
    assert lenet_run["warnings"] == [] and lenet_run["health"].dead_layers == []
    rows = [r for r in visualize.read_metrics(lenet_run["dir"]) if r["kind"] == "health"]
    layers = ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert [r["layer"] for r in rows[:5]] == layers
    assert len(rows) == 5 * (lenet_run["history"][-1]["step"] // RECORD_EVERY)
    for r in rows:
        assert r["grad_norm"] > 0
        assert (r["zero_fraction"] is None) == (r["layer"] == "fc3")
        assert r["zero_fraction"] is None or 0 < r["zero_fraction"] < 1
    out = str(tmp_path / "health.png")
    code, stdout, _ = _cli(capsys, "health", lenet_run["dir"], "--out", out)
    assert code == 0 and "dead layer" not in stdout
    _opens_as(out, (1000, 400))


def test_zero_fraction_is_measured_on_the_relu_after_each_layer():
    model = convgrad.models.lenet5(variant="modern")
    model.train()
    rows = []
    monitor = HealthMonitor(1, rows.append, model=model)
    x = Tensor(np.random.default_rng(0).normal(size=(4, 1, 28, 28)).astype(np.float32))
    acts = model(x, return_layers=["act1", "act3"])
    acts["output"].sum().backward()
    monitor.on_step_end(1, {"epoch": 0})
    by_layer = {r["layer"]: r for r in rows}
    assert by_layer["conv1"]["zero_fraction"] == pytest.approx(float((acts["act1"].numpy() == 0).mean()))
    assert by_layer["fc1"]["zero_fraction"] == pytest.approx(float((acts["act3"].numpy() == 0).mean()))
    weight_grad = np.concatenate([model.conv2.weight.grad.numpy().ravel(), model.conv2.bias.grad.numpy().ravel()])
    assert by_layer["conv2"]["grad_norm"] == pytest.approx(float(np.linalg.norm(weight_grad)), rel=1e-5)
    monitor.remove()


def test_dead_layer_warning_fires_on_a_layer_forced_dead(tmp_path, capsys):
    convgrad.manual_seed(0)
    model = convgrad.models.lenet5(variant="modern")
    with no_grad():
        model.conv2.bias.fill_(-100.0)
    _, health, warnings = _train(str(tmp_path), model, n_train=256, epochs=1, batch_size=32, lr=1e-3, n_test=100)
    assert health.dead_layers == ["conv2"]
    assert len(warnings) == 1 and warnings[0].startswith("warning: dead layer conv2:")
    pic = visualize.health(str(tmp_path))
    assert pic.data["dead"] == ["conv2"] and "dead: conv2" in pic.title
    code, stdout, _ = _cli(capsys, "health", str(tmp_path), "--out", str(tmp_path / "h.png"))
    assert code == 0 and "dead layer: conv2" in stdout


@pytest.mark.slow
def test_pictures_of_a_real_convgrad_train_run(tmp_path, capsys):
    """`convgrad train --record-filters --health-every`, then every run picture from its directory;
    the curves hold the numbers train printed, one epoch row each."""
    run = str(tmp_path / "run")
    assert main(["train", "--max-train", "300", "--max-test", "200", "--epochs", "2", "--batch-size", "50",
                 "--record-filters", "2", "--health-every", "3", "--no-progress", "--out", run]) == 0
    printed = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    data = visualize.curves(run, path=tmp_path / "curves.png").data["epoch"]
    np.testing.assert_array_equal(data["epoch"], [1, 2])
    assert [f"{v:.4f}" for v in data["loss"]] == [words[3] for words in printed]
    assert [f"{v:.4f}" for v in data["accuracy"]] == [words[6] for words in printed]
    evolution = visualize.evolution(run, path=tmp_path / "evo.png", gif_path=tmp_path / "evo.gif")
    np.testing.assert_array_equal(evolution.data["steps"], np.arange(0, 13, 2))
    with Image.open(tmp_path / "evo.gif") as img:
        assert img.n_frames == 7
    health = visualize.health(run, path=tmp_path / "health.png")
    assert list(health.data["layers"]) == ["conv1", "conv2", "fc1", "fc2", "fc3"] and health.data["dead"] == []
    np.testing.assert_array_equal(health.data["layers"]["conv1"]["step"], [3, 6, 9, 12])
    for name in ("curves", "evo", "health"):
        with Image.open(tmp_path / f"{name}.png") as img:
            assert img.size[0] >= 500


# ----------------------------------------------------------------------------------------------
# Confusion, mistakes
# ----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_confusion_matrix_agrees_with_evaluate(lenet_run, tmp_path, capsys):
    out = str(tmp_path / "confusion.png")
    code, stdout, _ = _cli(capsys, "confusion", lenet_run["ckpt"], "--max-test", "2000", "--out", out)
    assert code == 0 and "on 2000 samples" in stdout
    test = MNIST(train=False, transform=mnist_transforms()).subset(2000)
    pic = visualize.confusion(lenet_run["model"], test)
    matrix = pic.data["matrix"]
    assert matrix.sum() == 2000 and list(matrix.sum(axis=1)) == list(np.bincount(test.targets, minlength=10))
    accuracy = evaluate(lenet_run["model"], DataLoader(test, batch_size=500))
    assert pic.data["accuracy"] == pytest.approx(accuracy) and f"accuracy {accuracy:.4f}" in stdout
    _opens_as(out, _png_size(pic))


@pytest.mark.slow
def test_mistakes_most_confident_first(lenet_run, tmp_path, capsys):
    test = MNIST(train=False, transform=mnist_transforms()).subset(2000)
    pic = visualize.mistakes(lenet_run["model"], test, n=16, path=tmp_path / "m.png")
    d = pic.data
    assert d["shown"] == 16 and np.all(np.diff(d["confidence"]) <= 0) and np.all(d["predicted"] != d["labels"])
    probabilities = visualize.predict_dataset(lenet_run["model"], test)["probabilities"]
    np.testing.assert_allclose(d["confidence"], probabilities[d["indices"]].max(axis=1))
    assert len(d["indices"]) == 2000 - np.trace(visualize.confusion_matrix(test.targets, probabilities.argmax(1)))
    _opens_as(pic.path, _png_size(pic))
    out = str(tmp_path / "mistakes.png")
    code, stdout, _ = _cli(capsys, "mistakes", lenet_run["ckpt"], "--max-test", "2000", "--n", "16", "--out", out)
    assert code == 0 and f"{len(d['indices'])} mistakes in 2000 samples; 16 shown" in stdout
    _opens_as(out, _png_size(pic))


# ----------------------------------------------------------------------------------------------
# The classical filters on an image
# ----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_filters_demo_responses(digit_png, tmp_path, capsys):
    out = str(tmp_path / "demo.png")
    code, _, _ = _cli(capsys, "filters-demo", digit_png, "--out", out)
    assert code == 0
    image = np.random.default_rng(0).random((20, 24))
    pic = visualize.filters_demo(image)
    padded = np.pad(image, 1)
    horizontal, vertical = classic.sobel()
    naive_x = np.array([[np.sum(padded[i:i + 3, j:j + 3] * vertical) for j in range(24)] for i in range(20)])
    np.testing.assert_allclose(pic.data["sobel_x"], naive_x, atol=1e-10)
    np.testing.assert_allclose(pic.data["magnitude"], np.hypot(naive_x, pic.data["sobel_y"]), atol=1e-10)
    assert pic.data["gabor"].shape == (4, 20, 24)
    assert pic.data["downsampled"]["max"][0, 0] == image[:4, :4].max()
    assert pic.data["downsampled"]["min"].shape == (5, 6)
    with Image.open(out) as img:
        assert img.size[0] > 800


# ----------------------------------------------------------------------------------------------
# Bad input: one line on stderr, exit 1, nothing written
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["unknown_layer", "not_conv", "bad_image", "empty_run", "no_filters",
                                  "no_metrics", "missing_checkpoint"])
def test_bad_input_is_one_line_and_writes_nothing(lenet_run, tmp_path, capsys, case):
    out = str(tmp_path / "out.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    bad_image = tmp_path / "bad.png"
    bad_image.write_bytes(b"not an image at all")
    argv, expected = {
        "unknown_layer": (["filters", lenet_run["ckpt"], "--layer", "conv9"], "conv1, act1, pool1, conv2"),
        "not_conv": (["filters", lenet_run["ckpt"], "--layer", "fc1"], "not a 2-D convolution"),
        "bad_image": (["features", lenet_run["ckpt"], str(bad_image)], "cannot read"),
        "empty_run": (["curves", str(empty)], "no metrics.jsonl"),
        "no_filters": (["evolution", str(empty)], "no recorded filters"),
        "no_metrics": (["health", str(empty)], "no metrics.jsonl"),
        "missing_checkpoint": (["saliency", str(tmp_path / "nope.npz"), str(bad_image)], "nope.npz"),
    }[case]
    before = sorted(os.listdir(tmp_path))
    code, stdout, stderr = _cli(capsys, *argv, "--out", out)
    assert code == 1 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and expected in stderr and "Traceback" not in stderr
    assert sorted(os.listdir(tmp_path)) == before
