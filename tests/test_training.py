"""Training: a real short run on the bundled data, exact resume (in process and after SIGKILL of a
real training process), same-seed reproducibility, NaN handling, LeNet-5's shape and parameters."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import convgrad as cg
from convgrad import nn
from convgrad.data import DataLoader, MNIST, mnist_transforms
from convgrad.data.datasets import ArrayDataset
from convgrad.errors import ArgumentError
from convgrad.io import load_checkpoint
from convgrad.models.lenet import lenet5
from convgrad.training import TrainingDivergedError, evaluate, fit
from convgrad.kernels.blas import blas_threads


# --- LeNet-5 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["classic", "modern"])
def test_lenet5_parameters_shapes_and_stages(variant):
    model = lenet5(variant=variant)
    assert sum(p.numel() for p in model.parameters()) == 61706
    x = cg.randn(3, 1, 28, 28)
    assert model(x).shape == (3, 10)
    acts = model(x, return_layers=["conv1", "pool1", "conv2", "pool2", "fc1", "fc2"])
    assert list(acts) == ["conv1", "pool1", "conv2", "pool2", "fc1", "fc2", "output"]
    assert acts["conv1"].shape == (3, 6, 28, 28) and acts["pool1"].shape == (3, 6, 14, 14)
    assert acts["conv2"].shape == (3, 16, 10, 10) and acts["pool2"].shape == (3, 16, 5, 5)
    assert acts["fc1"].shape == (3, 120) and acts["fc2"].shape == (3, 84)
    np.testing.assert_array_equal(acts["output"].numpy(), model(x).numpy())
    paper = lenet5(variant=variant, padding=0)
    assert paper(cg.randn(2, 1, 32, 32)).shape == (2, 10)
    kinds = {type(model.act1).__name__, type(model.pool1).__name__}
    assert kinds == ({"Tanh", "AvgPool2d"} if variant == "classic" else {"ReLU", "MaxPool2d"})


def test_lenet5_bad_arguments():
    with pytest.raises(ArgumentError, match="variant must be one of"):
        lenet5(variant="fancy")
    with pytest.raises(ArgumentError, match="num_classes must be an integer >= 1"):
        lenet5(num_classes=0)


# --- a real short training run --------------------------------------------------------------------
def test_short_training_reaches_accuracy():
    """2 epochs on the 5,000 bundled images: >= 90% on 2,000 official test images."""
    cg.manual_seed(0)
    model = lenet5(variant="modern")
    train = DataLoader(MNIST(train=True, transform=mnist_transforms()), batch_size=32, shuffle=True, seed=0)
    test_set = MNIST(train=False, transform=mnist_transforms())
    test = DataLoader(ArrayDataset(test_set.data[:2000], test_set.targets[:2000], test_set.transform),
                      batch_size=500)
    opt = cg.optim.Adam(model.parameters(), lr=2e-3)
    with blas_threads(1):  # a multi-threaded BLAS is far slower on LeNet's small matrices
        history = fit(model, train, opt, epochs=2, progress=False)
        accuracy = evaluate(model, test)
    assert [h["epoch"] for h in history] == [1, 2] and history[1]["loss"] < history[0]["loss"]
    assert accuracy >= 0.90, accuracy
    assert model.training  # evaluate restores the mode


# --- exact resume in process ----------------------------------------------------------------------
def small_setup(seed=5):
    """A tiny MLP with dropout (exercises the global RNG) on 400 augmented images."""
    cg.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))
    full = MNIST(train=True, transform=mnist_transforms(augment=True))
    idx = np.random.default_rng(0).permutation(len(full))[:400]
    loader = DataLoader(ArrayDataset(full.data[idx], full.targets[idx], full.transform), batch_size=25,
                        shuffle=True, seed=seed)
    opt = cg.optim.Adam(model.parameters(), lr=1e-2)
    sched = cg.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2, total_steps=3 * len(loader))
    return model, loader, opt, sched


class CrashAt:
    def __init__(self, step):
        self.step = step

    def on_step_end(self, step, logs):
        if step == self.step:
            raise KeyboardInterrupt("simulated crash")


def weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("crash_step", [13, 16, 32])
def test_resume_is_bit_identical(tmp_path, crash_step):
    kwargs = dict(epochs=3, scheduler_interval="step", checkpoint_every=5, progress=False,
                  checkpoint_kwargs={"model_name": "mlp"})
    model, loader, opt, sched = small_setup()
    ref_hist = fit(model, loader, opt, scheduler=sched, checkpoint_path=tmp_path / "ref.npz", **kwargs)
    reference = weights(model)

    model, loader, opt, sched = small_setup()
    path = tmp_path / "ck.npz"
    with pytest.raises(KeyboardInterrupt):
        fit(model, loader, opt, scheduler=sched, checkpoint_path=path, callbacks=[CrashAt(crash_step)], **kwargs)
    ckpt = load_checkpoint(path)
    assert ckpt.training["step"] == crash_step // 5 * 5
    cg.manual_seed(999)  # the resumed process starts from a different global RNG state
    model, loader, opt, sched = small_setup(seed=5)
    hist = fit(model, loader, opt, scheduler=sched, checkpoint_path=path, resume=ckpt, **kwargs)
    for key, value in reference.items():
        np.testing.assert_array_equal(model.state_dict()[key], value, err_msg=key)
    assert [h["loss"] for h in hist] == [h["loss"] for h in ref_hist]


def test_same_seed_same_weights():
    runs = []
    for _ in range(2):
        model, loader, opt, sched = small_setup(seed=7)
        fit(model, loader, opt, epochs=1, scheduler=sched, scheduler_interval="step", progress=False)
        runs.append(weights(model))
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key])
    model, loader, opt, sched = small_setup(seed=8)
    fit(model, loader, opt, epochs=1, progress=False)
    assert not np.array_equal(weights(model)["1.weight"], runs[0]["1.weight"])


# --- NaN / Inf ------------------------------------------------------------------------------------
def nan_on(batches):
    """cross_entropy, but NaN on the given (global) batch numbers."""
    calls = {"n": 0}

    def loss_fn(logits, labels):
        calls["n"] += 1
        loss = cg.nn.functional.cross_entropy(logits, labels)
        return loss * float("nan") if calls["n"] in batches else loss
    return loss_fn


def test_nonfinite_loss_stops_with_advice_and_keeps_checkpoint(tmp_path):
    model, loader, opt, _ = small_setup()
    path = tmp_path / "ck.npz"
    with pytest.raises(TrainingDivergedError, match=r"learning rate.*initialisation.*last good checkpoint") as err:
        fit(model, loader, opt, epochs=1, loss_fn=nan_on({9}), checkpoint_path=path, checkpoint_every=4,
            progress=False, checkpoint_kwargs={"model_name": "mlp"})
    assert "step 8" in str(err.value) and "epoch 1, batch 9" in str(err.value)
    ckpt = load_checkpoint(path)
    assert ckpt.training["step"] == 8 and all(np.isfinite(v).all() for v in ckpt.model_state.values())
    model, loader, opt, _ = small_setup()
    with pytest.raises(TrainingDivergedError, match="No checkpoint was written"):
        fit(model, loader, opt, epochs=1, loss_fn=nan_on({2}), progress=False)


def test_nonfinite_skip(capsys):
    model, loader, opt, _ = small_setup()
    hist = fit(model, loader, opt, epochs=1, loss_fn=nan_on({3, 4}), on_nonfinite="skip", progress=False)
    assert hist[0]["step"] == len(loader) - 2
    assert capsys.readouterr().err.count("batch skipped") == 2


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflow on the way to NaN is the point here
def test_diverging_learning_rate_is_caught():
    _, loader, _, _ = small_setup()
    # two stacked linear layers: each one's gradient grows with the other's weights, so a huge
    # learning rate overflows to Inf/NaN whatever the initialisation (no ReLU can die)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Linear(32, 10))
    opt = cg.optim.SGD(model.parameters(), lr=1e9)
    with pytest.raises(TrainingDivergedError, match="lr=1000000000"):
        fit(model, loader, opt, epochs=3, progress=False)


def test_fit_argument_errors():
    model, loader, opt, _ = small_setup()
    with pytest.raises(ArgumentError, match="epochs must be a positive integer"):
        fit(model, loader, opt, epochs=0)
    with pytest.raises(ArgumentError, match="on_nonfinite"):
        fit(model, loader, opt, epochs=1, on_nonfinite="ignore")
    with pytest.raises(ArgumentError, match="checkpoint_every needs a checkpoint_path"):
        fit(model, loader, opt, epochs=1, checkpoint_every=3)


# --- kill a real training process and resume it -----------------------------------------------------
TRAIN_ARGS = ["train", "--max-train", "600", "--max-test", "200", "--epochs", "2", "--batch-size", "20",
              "--checkpoint-every", "6", "--seed", "3", "--no-progress"]


def run_cli(args, **kw):
    return subprocess.run([sys.executable, "-m", "convgrad.cli", *args], capture_output=True, text=True,
                          timeout=300, **kw)


def final_state(run_dir):
    return load_checkpoint(os.path.join(run_dir, "model.npz"))


def test_sigkill_and_resume_gives_identical_weights(tmp_path):
    ref_dir = str(tmp_path / "ref")
    done = run_cli(TRAIN_ARGS + ["--out", ref_dir])
    assert done.returncode == 0, done.stderr
    reference = final_state(ref_dir)
    trials = 0
    for min_step in (6, 30):  # kill just after the first checkpoint, and half way through the run
        run_dir = str(tmp_path / f"killed{min_step}")
        proc = subprocess.Popen([sys.executable, "-m", "convgrad.cli", *TRAIN_ARGS, "--out", run_dir],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ckpt = os.path.join(run_dir, "checkpoint.npz")
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if os.path.exists(ckpt):
                try:
                    if load_checkpoint(ckpt).training["step"] >= min_step:
                        break
                except Exception:
                    pass
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
        assert not os.path.exists(os.path.join(run_dir, "model.npz"))
        resumed = run_cli(["train", "--resume", run_dir, "--no-progress"])
        assert resumed.returncode == 0, resumed.stderr
        assert "resuming" in resumed.stdout
        final = final_state(run_dir)
        for key, value in reference.model_state.items():
            np.testing.assert_array_equal(final.model_state[key], value, err_msg=key)
        assert final.extra["test_accuracy"] == reference.extra["test_accuracy"]
        assert metric_rows(run_dir) == metric_rows(ref_dir)  # rows past the checkpoint were dropped
        trials += 1
    assert trials == 2


def metric_rows(run_dir):
    """metrics.jsonl without the timings (which differ between runs)."""
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    return [{k: v for k, v in r.items() if k not in ("seconds", "images_per_second")} for r in rows]


@pytest.mark.slow
def test_sigint_saves_a_resumable_checkpoint(tmp_path):
    """#14.10: Ctrl-C (SIGINT) or SIGTERM during `train` threw the work away; now the run stops after
    the current step, saves checkpoint.npz, says how to resume and exits 130; the resumed run ends
    with the weights of an uninterrupted one."""
    args = [a for i, a in enumerate(TRAIN_ARGS) if "--checkpoint-every" not in TRAIN_ARGS[max(i - 1, 0):i + 1]]
    assert "--checkpoint-every" not in args and "6" not in args  # the signal alone saves
    ref_dir = str(tmp_path / "ref")
    assert run_cli(args + ["--out", ref_dir]).returncode == 0
    for sig in (signal.SIGINT, signal.SIGTERM):
        run_dir = str(tmp_path / f"sig{int(sig)}")
        proc = subprocess.Popen([sys.executable, "-m", "convgrad.cli", *args, "--out", run_dir],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        metrics = os.path.join(run_dir, "metrics.jsonl")
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if os.path.exists(metrics) and os.path.getsize(metrics) > 0:
                break
            time.sleep(0.01)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, (proc.returncode, err)
        assert f"convgrad train --resume {run_dir}" in err and "Traceback" not in err
        assert os.path.exists(os.path.join(run_dir, "checkpoint.npz"))
        assert not os.path.exists(os.path.join(run_dir, "model.npz"))
        assert not os.path.exists(os.path.join(run_dir, "run.lock"))
        resumed = run_cli(["train", "--resume", run_dir, "--no-progress"])
        assert resumed.returncode == 0, resumed.stderr
        final, reference = final_state(run_dir), final_state(ref_dir)
        for key, value in reference.model_state.items():
            np.testing.assert_array_equal(final.model_state[key], value, err_msg=key)


# --- objectives beyond classification (issue #17) ---------------------------------------------------
from convgrad.data import MNIST_MEAN, MNIST_STD  # noqa: E402
from convgrad.models import dcgan, get_model  # noqa: E402
from convgrad.training import GAN, VAE, History, Optimizers, Reconstruction  # noqa: E402


def digits(n, seed=0, batch_size=32):
    """``n`` bundled training digits (normalised like MNIST), in a seeded loader."""
    full = MNIST(train=True, transform=mnist_transforms())
    idx = np.sort(np.random.default_rng(seed).permutation(len(full))[:n])
    return DataLoader(ArrayDataset(full.data[idx], full.targets[idx], full.transform), batch_size=batch_size,
                      shuffle=True, seed=seed)


def test_vae_loss_falls_and_reports_its_terms():
    cg.manual_seed(0)
    model = get_model("vae", latent_dim=8)
    loader = digits(640)
    opt = cg.optim.Adam(model.parameters(), lr=3e-3)
    with blas_threads(1):
        hist = fit(model, loader, opt, epochs=3, objective=VAE(mean=MNIST_MEAN, std=MNIST_STD), progress=False,
                   val_loader=digits(200, seed=1, batch_size=100))
    losses = [h["loss"] for h in hist]
    assert losses[2] < losses[1] < losses[0], losses
    for h in hist:  # the ELBO's two terms, per image: loss = recon_loss + kl
        assert h["kl"] > 0 and abs(h["loss"] - (h["recon_loss"] + h["kl"])) < 1e-3 * h["loss"]
        assert "accuracy" not in h and h["val_loss"] > 0
    assert hist[-1]["recon_loss"] < 0.8 * hist[0]["recon_loss"]
    x = next(iter(loader))[0]
    assert model.encode(x).shape == (32, 8) and model.decode(model.encode(x)).shape == (32, 1, 28, 28)
    sample = model.sample(5).numpy()
    assert sample.shape == (5, 1, 28, 28) and sample.min() >= 0 and sample.max() <= 1


def test_autoencoder_reconstruction_improves():
    cg.manual_seed(0)
    model = get_model("conv_autoencoder", code_dim=16)
    objective = Reconstruction("bce", mean=MNIST_MEAN, std=MNIST_STD)
    val = digits(200, seed=1, batch_size=100)
    before = objective.evaluate(model, val)["mse"]
    with blas_threads(1):
        fit(model, digits(640), cg.optim.Adam(model.parameters(), lr=3e-3), epochs=2, objective=objective,
            progress=False)
    after = objective.evaluate(model, val)["mse"]
    assert after < 0.5 * before, (before, after)


def small_gan(seed=3):
    cg.manual_seed(seed)
    model = dcgan(latent_dim=8, width=4)
    opt = Optimizers({k: cg.optim.Adam(getattr(model, k).parameters(), lr=2e-3, betas=(0.5, 0.999))
                      for k in ("discriminator", "generator")})
    return model, digits(160, seed=seed, batch_size=16), opt


def test_gan_resume_is_bit_identical(tmp_path):
    """Two networks, two optimizers, batch norm and latent noise from the global generator: a run
    stopped by a crash and resumed from its checkpoint ends with the same weights and numbers."""
    kwargs = dict(epochs=2, checkpoint_every=3, progress=False, objective=GAN(MNIST_MEAN, MNIST_STD),
                  checkpoint_kwargs={"model_name": "dcgan"})
    model, loader, opt = small_gan()
    with blas_threads(1):
        ref_hist = fit(model, loader, opt, checkpoint_path=tmp_path / "ref.npz", **kwargs)
    reference = weights(model)
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(ref_hist[0])
    model, loader, opt = small_gan()
    path = tmp_path / "ck.npz"
    with blas_threads(1), pytest.raises(KeyboardInterrupt):
        fit(model, loader, opt, checkpoint_path=path, callbacks=[CrashAt(14)], **kwargs)
    ckpt = load_checkpoint(path)
    assert ckpt.training["step"] == 12 and set(ckpt.training["optimizer"]["members"]) == {"discriminator", "generator"}
    cg.manual_seed(999)
    model, loader, opt = small_gan()
    with blas_threads(1):
        hist = fit(model, loader, opt, checkpoint_path=path, resume=ckpt, **kwargs)
    assert set(reference) == set(weights(model))
    for key, value in reference.items():  # generator, discriminator and their batch-norm statistics
        np.testing.assert_array_equal(model.state_dict()[key], value, err_msg=key)
    assert [h["g_loss"] for h in hist] == [h["g_loss"] for h in ref_hist]


def test_gan_needs_two_named_optimizers():
    model, loader, _ = small_gan()
    with pytest.raises(ArgumentError, match="one optimizer per network"):
        fit(model, loader, cg.optim.Adam(model.parameters()), epochs=1, objective=GAN(), progress=False)


class Recorder:
    def __init__(self, stop=None, at=None):
        self.calls, self.stop, self.at = [], stop, at

    def on_train_begin(self, model, state):
        self.calls.append(("begin", dict(state)))

    def on_step_end(self, step, logs):
        self.calls.append(("step", step, dict(logs)))
        if self.stop is not None and step == self.at:
            self.stop.set()

    def on_epoch_end(self, epoch, record):
        self.calls.append(("epoch", epoch, dict(record)))

    def on_train_end(self, result):
        self.calls.append(("end", result))


def test_callbacks_and_stop_event(tmp_path):
    """The callback protocol's calls and keys; `stop` ends the run after the current step with a
    checkpoint from which the run resumes to the same weights as an uninterrupted one."""
    import threading

    kwargs = dict(epochs=2, scheduler_interval="step", progress=False, checkpoint_kwargs={"model_name": "mlp"})
    model, loader, opt, sched = small_setup()
    rec = Recorder()
    fit(model, loader, opt, scheduler=sched, callbacks=[rec], **kwargs)
    reference = weights(model)
    kinds = [c[0] for c in rec.calls]
    assert kinds[0] == "begin" and kinds[-1] == "end" and kinds.count("epoch") == 2 and kinds.count("step") == 32
    begin = rec.calls[0][1]
    assert begin["step"] == 0 and begin["epochs"] == 2 and begin["steps_per_epoch"] == 16
    assert begin["objective"] == "classification" and begin["resumed"] is False
    step_logs = rec.calls[1][2]
    assert {"loss", "epoch", "batch", "step", "lr", "model"} <= set(step_logs) and step_logs["epoch"] == 1
    assert rec.calls[-1][1]["stopped"] is False

    stop = threading.Event()
    model, loader, opt, sched = small_setup()
    path = tmp_path / "ck.npz"
    hist = fit(model, loader, opt, scheduler=sched, callbacks=[Recorder(stop, at=11)], stop=stop,
               checkpoint_path=path, **kwargs)
    assert isinstance(hist, History) and hist.stopped and hist.step == 11 and hist == []
    ckpt = load_checkpoint(path)
    assert (ckpt.training["epoch"], ckpt.training["batch"], ckpt.training["step"]) == (0, 11, 11)
    model, loader, opt, sched = small_setup()
    fit(model, loader, opt, scheduler=sched, resume=ckpt, checkpoint_path=path, **kwargs)
    for key, value in reference.items():
        np.testing.assert_array_equal(model.state_dict()[key], value, err_msg=key)


def test_googlenet_auxiliary_outputs_train():
    """#14.8: GoogLeNet returns its auxiliary heads in training mode; the default objective adds
    their losses (weight 0.3) instead of failing inside the first step."""
    cg.manual_seed(0)
    model = get_model("googlenet", num_classes=3, in_channels=1)
    x = np.random.default_rng(0).standard_normal((4, 1, 32, 32)).astype(np.float32)
    loader = DataLoader(ArrayDataset(x, np.array([0, 1, 2, 0])), batch_size=4)
    with blas_threads(2):
        hist = fit(model, loader, cg.optim.SGD(model.parameters(), lr=0.01), epochs=1, progress=False)
    assert hist[0]["step"] == 1 and np.isfinite(hist[0]["loss"]) and 0 <= hist[0]["accuracy"] <= 1
