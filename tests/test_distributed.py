"""convgrad.distributed: real ``mpiexec -n 2`` jobs, and the pieces in one process.

The multi-rank tests launch ``mpiexec -n 2 python tests/distributed_job.py ...`` (or the CLI)
with a timeout, so a hang fails the test instead of blocking the suite.
"""
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import convgrad as cg
from convgrad import distributed as dist
from convgrad import nn
from convgrad.data import DataLoader
from convgrad.data.datasets import ArrayDataset
from convgrad.data.sample_rng import PerSampleDrawError, SampleStreams
from convgrad.tensor import queue_callback

HERE = os.path.dirname(os.path.abspath(__file__))
JOB = os.path.join(HERE, "distributed_job.py")
SRC = os.path.join(os.path.dirname(HERE), "src")

try:
    import mpi4py  # noqa: F401
    HAVE_MPI = shutil.which("mpiexec") is not None
except ImportError:
    HAVE_MPI = False
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="the mpi extra (mpi4py, mpich's mpiexec) is not installed")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    for name in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE"):
        env.pop(name, None)
    return env


def _run(args, n=None, timeout=120, cwd=None):
    cmd = (["mpiexec", "-n", str(n)] if n else []) + list(args)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=cwd)
    return proc, time.perf_counter() - t0


def _job(*args, n=2, timeout=120):
    proc, seconds = _run([sys.executable, JOB, *args], n=n, timeout=timeout)
    return proc, seconds


def _max_relative(a, b):
    """max over tensors of max|a - b| / max|a| (the tensors' own scale)."""
    worst = 0.0
    for k in a.files:
        if k.startswith("_"):
            continue
        scale = max(float(np.abs(a[k]).max()), 1e-30)
        worst = max(worst, float(np.abs(a[k].astype(np.float64) - b[k]).max()) / scale)
    return worst


# ----------------------------------------------------------------------------------------------
# Two ranks follow one process
# ----------------------------------------------------------------------------------------------
@pytest.mark.slow
@needs_mpi
def test_two_ranks_give_the_weights_of_one_process_after_200_steps(tmp_path):
    single, double, control = tmp_path / "one.npz", tmp_path / "two.npz", tmp_path / "batch_rng.npz"
    proc, _ = _job("trajectory", str(single), "--single", n=None)
    assert proc.returncode == 0, proc.stderr
    proc, _ = _job("trajectory", str(double), n=2)
    assert proc.returncode == 0, proc.stderr
    a, b = np.load(single), np.load(double)
    assert int(b["_stat_steps"]) == 200
    # float32 reductions in another order (2 x 32 samples + all-reduce, not 64): measured 1.1e-5
    assert _max_relative(a, b) < 2e-4
    # the test can fail: the per-batch augmentation generator alone changes the weights by far more
    proc, _ = _job("trajectory", str(control), "--single", "--batch-rng", n=None)
    assert proc.returncode == 0, proc.stderr
    assert _max_relative(a, np.load(control)) > 1e-2


@needs_mpi
def test_sync_batchnorm_equals_single_process_batch_norm_on_the_global_batch(tmp_path):
    out = tmp_path / "sync.npz"
    proc, _ = _job("syncbn", str(out), n=2)
    assert proc.returncode == 0, proc.stderr
    b = np.load(out)
    rng = np.random.default_rng(3)  # the job's data
    x = rng.normal(2.0, 3.0, (8, 3, 6, 6))
    target = rng.normal(size=(8, 4, 6, 6))
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(b["0.weight"]))  # no optimizer step: still the initial weights
        net[0].bias.copy_(torch.from_numpy(b["0.bias"]))
    xt = torch.from_numpy(x).requires_grad_()
    y = net(xt)
    ((y - torch.from_numpy(target)) ** 2).mean().backward()
    np.testing.assert_allclose(b["y"], y.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(b["1.running_mean"], net[1].running_mean.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b["1.running_var"], net[1].running_var.numpy(), rtol=1e-12, atol=1e-14)
    for name, p in net.named_parameters():
        np.testing.assert_allclose(b["grad." + name], p.grad.numpy(), rtol=1e-10, atol=1e-14)
    # each rank's input gradient is of its own shard's mean loss: 2x the global mean's
    np.testing.assert_allclose(b["dx"], 2 * xt.grad.numpy(), rtol=1e-10, atol=1e-15)
    # plain per-rank batch norm normalises each shard by itself: other outputs and statistics
    proc, _ = _job("syncbn", str(tmp_path / "plain.npz"), "--plain", n=2)
    assert proc.returncode == 0, proc.stderr
    plain = np.load(tmp_path / "plain.npz")
    assert np.abs(plain["y"] - y.detach().numpy()).max() > 1e-3


@pytest.mark.slow
@needs_mpi
def test_sync_bn_training_follows_one_process_and_plain_bn_does_not(tmp_path):
    paths = {mode: tmp_path / f"{mode}.npz" for mode in ("single", "sync", "plain")}
    for mode, path in paths.items():
        proc, _ = _job("bn_trajectory", str(path), "--mode", mode, n=None if mode == "single" else 2)
        assert proc.returncode == 0, proc.stderr
    single = np.load(paths["single"])
    # float64, 20 Adam steps on real augmented batches: measured 1.6e-13 (float32: see docs/SCALING.md)
    assert _max_relative(single, np.load(paths["sync"])) < 1e-9
    assert _max_relative(single, np.load(paths["plain"])) > 1e-3  # each rank normalised its own 16 samples


# ----------------------------------------------------------------------------------------------
# A failing rank ends the job, fast
# ----------------------------------------------------------------------------------------------
@needs_mpi
@pytest.mark.parametrize("how", ["fail", "kill"])
def test_a_failing_or_killed_rank_ends_the_job_fast(how):
    proc, seconds = _job(how, n=2, timeout=60)  # rank 0 would wait in a barrier for ever
    assert proc.returncode != 0
    assert seconds < 20
    if how == "fail":
        assert "rank 1 of 2" in proc.stderr and "rank 1 fails on purpose" in proc.stderr
    else:
        assert "signal 9" in proc.stdout + proc.stderr or "Killed" in proc.stdout + proc.stderr


# ----------------------------------------------------------------------------------------------
# Without mpi4py
# ----------------------------------------------------------------------------------------------
NO_MPI = "import sys; sys.modules['mpi4py'] = None\n"


def _python(code, env_extra=None, timeout=120):
    env = _env()
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", NO_MPI + code], capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_without_mpi4py_everything_single_process_works_and_distributed_paths_say_what_to_install():
    code = (
        "import numpy as np\n"
        "from convgrad import distributed as dist, nn\n"
        "assert dist.init() == 1 and dist.rank() == 0 and dist.world_size() == 1 and not dist.is_distributed()\n"
        "a = np.arange(3.0); assert dist.all_reduce(a, op='mean') is a and a.tolist() == [0, 1, 2]\n"
        "ddp = dist.DistributedDataParallel(dist.convert_sync_batchnorm(nn.Sequential(nn.Conv2d(1, 2, 3), "
        "nn.BatchNorm2d(2))))\n"
        "import convgrad as cg\n"
        "ddp(cg.from_numpy(np.random.rand(4, 1, 5, 5).astype(np.float32))).sum().backward()\n"
        "try:\n"
        "    dist.init(force=True)\n"
        "except dist.DistributedError as e:\n"
        "    print('ERROR', e)\n"
        "assert 'mpi4py' not in sys.modules or sys.modules['mpi4py'] is None\n")
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    assert "ERROR" in proc.stdout and "pip install convgrad[mpi]" in proc.stdout
    # started by a launcher with 2 ranks but without mpi4py: the same one-line error
    proc = _python("from convgrad import distributed as dist\ndist.init()", {"PMI_SIZE": "2"})
    assert proc.returncode != 0 and "pip install convgrad[mpi]" in proc.stderr


# ----------------------------------------------------------------------------------------------
# The pieces, in one process
# ----------------------------------------------------------------------------------------------
def test_post_accumulate_grad_hooks_fire_as_soon_as_each_gradient_is_complete():
    cg.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    events = []
    for name, p in net.named_parameters():
        p.register_post_accumulate_grad_hook(lambda t, name=name: events.append((name, t.grad.numpy().copy())))
    x = cg.from_numpy(np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32))
    shared = net[0].weight
    loss = net(x).sum() + (shared * shared).sum()  # a parameter used twice: one hook call, full gradient
    queue_callback(lambda: events.append(("end", None)))
    loss.backward()
    names = [e[0] for e in events]
    assert names[-1] == "end" and sorted(names[:-1]) == sorted(n for n, _ in net.named_parameters())
    assert names.index("4.weight") < names.index("2.weight") < names.index("0.weight")  # last layer first
    reference = {n: p.grad.numpy() for n, p in net.named_parameters()}
    for name, grad in events[:-1]:
        np.testing.assert_array_equal(grad, reference[name])
    # the same gradients as without hooks
    plain = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    plain.load_state_dict(net.state_dict())
    (plain(x).sum() + (plain[0].weight * plain[0].weight).sum()).backward()
    for (n, p), (_, q) in zip(net.named_parameters(), plain.named_parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_per_sample_streams_do_not_depend_on_the_batch():
    idx = np.array([7, 3, 11, 0, 5])
    whole = SampleStreams(4, 2, idx)
    draws = [whole.uniform(-1, 1, 5), whole.integers(0, 10, (5, 3)), whole.normal(0, 1, (5, 2)), whole.random(5)]
    for j, i in enumerate(idx):
        alone = SampleStreams(4, 2, [i])
        single = [alone.uniform(-1, 1, 1), alone.integers(0, 10, (1, 3)), alone.normal(0, 1, (1, 2)), alone.random(1)]
        for d, s in zip(draws, single):
            np.testing.assert_array_equal(d[j], s[0])
    assert not np.array_equal(SampleStreams(4, 3, idx).uniform(size=5), SampleStreams(4, 2, idx).uniform(size=5))
    u = SampleStreams(0, 0, np.arange(20000)).uniform(size=20000)
    assert abs(u.mean() - 0.5) < 0.01 and 0 <= u.min() and u.max() < 1
    with pytest.raises(PerSampleDrawError):
        SampleStreams(0, 0, idx).uniform(0, 1)  # one value for the whole batch


def test_loader_with_per_sample_rng_shards_make_the_same_images_as_one_batch():
    from convgrad.data import mnist_transforms

    rng = np.random.default_rng(0)
    ds = ArrayDataset(rng.integers(0, 255, (40, 12, 12), dtype=np.uint8), np.arange(40) % 10,
                      mnist_transforms(augment=True))
    loader = DataLoader(ds, batch_size=16, shuffle=True, seed=5, per_sample_rng=True)
    full = [(x.numpy(), y.numpy()) for x, y in loader.iter_epoch(1)]
    shards = [[(x.numpy(), y.numpy()) for x, y in dist.DistributedLoader(loader, 3, r).iter_epoch(1)]
              for r in range(3)]
    assert len(full) == len(shards[0]) == 3
    for b, (x, y) in enumerate(full):
        np.testing.assert_array_equal(np.concatenate([s[b][0] for s in shards]), x)
        np.testing.assert_array_equal(np.concatenate([s[b][1] for s in shards]), y)
    resumed = [x.numpy() for x, _ in dist.DistributedLoader(loader, 3, 1).iter_epoch(1, start_batch=2)]
    np.testing.assert_array_equal(resumed[0], shards[1][2][0])


def test_distributed_sampler_shards_cover_each_global_batch_once():
    for n, batch, world in [(10, 4, 2), (23, 7, 3), (5, 5, 5)]:
        samplers = [dist.DistributedSampler(n, batch, world, r, seed=1) for r in range(world)]
        order = samplers[0].order(3)
        for b, parts in enumerate(zip(*(s.batches(3) for s in samplers))):
            np.testing.assert_array_equal(np.concatenate(parts), order[b * batch:(b + 1) * batch])
    with pytest.raises(cg.errors.ArgumentError):
        dist.DistributedSampler(10, 2, num_replicas=3, rank=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 3, 4, 5)])
def test_sync_batchnorm_in_one_process_is_batch_norm(dtype, shape):
    rng = np.random.default_rng(1)
    x = rng.normal(1.0, 2.0, shape).astype(dtype)
    g = rng.normal(size=shape).astype(dtype)
    bn = dist.SyncBatchNorm(3, momentum=0.3).to(dtype)
    bn.weight.numpy()[...] = rng.uniform(0.5, 1.5, 3)
    bn.bias.numpy()[...] = rng.normal(size=3)
    ref = torch.nn.BatchNorm1d(3, momentum=0.3).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(bn.weight.numpy()))
        ref.bias.copy_(torch.from_numpy(bn.bias.numpy()))
    ref = ref if len(shape) < 4 else _as_2d(ref)
    xc, xt = cg.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(x.copy()).requires_grad_()
    y, yt = bn(xc), ref(xt)
    y.backward(cg.from_numpy(g))
    yt.backward(torch.from_numpy(g))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **tol)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), **tol)
    np.testing.assert_allclose(bn.weight.grad.numpy(), ref.weight.grad.numpy(), **tol)
    np.testing.assert_allclose(bn.bias.grad.numpy(), ref.bias.grad.numpy(), **tol)
    np.testing.assert_allclose(bn.running_mean.numpy(), ref.running_mean.numpy(), **tol)
    np.testing.assert_allclose(bn.running_var.numpy(), ref.running_var.numpy(), **tol)
    bn.eval()
    ref.eval()
    np.testing.assert_allclose(bn(cg.from_numpy(x)).numpy(), ref(torch.from_numpy(x)).detach().numpy(), **tol)


def _as_2d(bn1d):
    """The torch BatchNorm2d holding a BatchNorm1d's parameters."""
    bn = torch.nn.BatchNorm2d(bn1d.num_features, momentum=bn1d.momentum).to(bn1d.weight.dtype)
    with torch.no_grad():
        bn.weight.copy_(bn1d.weight)
        bn.bias.copy_(bn1d.bias)
    return bn


def test_sync_batchnorm_float64_gradients_match_finite_differences():
    from convgrad.distributed.sync_batchnorm import SyncBatchNormFunction
    from convgrad.inspect.gradcheck import gradcheck

    rng = np.random.default_rng(2)
    x = cg.from_numpy(rng.normal(size=(3, 2, 4))).requires_grad_()
    w = cg.from_numpy(rng.uniform(0.5, 1.5, 2)).requires_grad_()
    b = cg.from_numpy(rng.normal(size=2)).requires_grad_()
    assert gradcheck(lambda x, w, b: SyncBatchNormFunction.apply(x, w, b), (x, w, b))


def test_convert_sync_batchnorm_keeps_parameters_and_buffers():
    cg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 2, 3), nn.BatchNorm2d(2))
    net[1].running_mean.numpy()[...] = 0.5
    before = {k: v.copy() for k, v in net.state_dict().items()}
    x = cg.from_numpy(np.random.default_rng(0).normal(size=(4, 1, 9, 9)).astype(np.float32))
    net.eval()
    expected = net(x).numpy()
    dist.convert_sync_batchnorm(net)
    assert type(net[1]) is dist.SyncBatchNorm and type(net[4]) is dist.SyncBatchNorm
    after = net.state_dict()
    assert sorted(after) == sorted(before)
    for k in before:
        np.testing.assert_array_equal(np.asarray(after[k]), np.asarray(before[k]))
    np.testing.assert_allclose(net(x).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_ddp_in_one_process_trains_exactly_like_the_bare_model():
    from convgrad import optim

    cg.manual_seed(0)
    a = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    b = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    b.load_state_dict(a.state_dict())
    ddp = dist.DistributedDataParallel(b)
    x = cg.from_numpy(np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32))
    for model in (a, ddp):
        opt = optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
    for (_, p), (_, q) in zip(a.named_parameters(), ddp.module.named_parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    with pytest.raises(cg.errors.ArgumentError):
        dist.DistributedDataParallel(a, average="median")


# ----------------------------------------------------------------------------------------------
# mpiexec -n 2 convgrad train
# ----------------------------------------------------------------------------------------------
CLI = [sys.executable, "-m", "convgrad.cli"]
SMALL_RUN = ["train", "--max-train", "1600", "--epochs", "4", "--max-test", "500", "--checkpoint-every", "20",
             "--no-progress"]


def _weights(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k.startswith("model/")}


@pytest.mark.slow
@needs_mpi
def test_cli_resumed_distributed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path):
    whole, cut, single = tmp_path / "whole", tmp_path / "cut", tmp_path / "single"
    proc, _ = _run(CLI + SMALL_RUN + ["--out", str(whole)], n=2, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "data-parallel on 2 ranks" in proc.stdout and proc.stdout.count("saved model to") == 1  # rank 0 speaks
    # the same run, interrupted with Ctrl-C (mpiexec forwards it to both ranks) after step 30
    job = subprocess.Popen(["mpiexec", "-n", "2"] + CLI + SMALL_RUN + ["--out", str(cut)], env=_env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and job.poll() is None:
        metrics = cut / "metrics.jsonl"
        if metrics.exists() and '"step": 30' in metrics.read_text():
            break
        time.sleep(0.1)
    job.send_signal(2)
    _, err = job.communicate(timeout=120)
    assert job.returncode != 0 and "interrupted after" in err, err
    assert not (cut / "model.npz").exists()
    proc, _ = _run(CLI + ["train", "--resume", str(cut), "--no-progress"], n=2, timeout=300)
    assert proc.returncode == 0, proc.stderr
    a, b = _weights(whole / "model.npz"), _weights(cut / "model.npz")
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    # and one process follows the same trajectory (same command without mpiexec)
    proc, _ = _run(CLI + SMALL_RUN + ["--out", str(single)], timeout=300)
    assert proc.returncode == 0, proc.stderr
    c = _weights(single / "model.npz")
    worst = max(float(np.abs(a[k] - c[k]).max() / np.abs(c[k]).max()) for k in a)
    assert 0 < worst < 2e-4


@needs_mpi
def test_cli_error_on_one_rank_ends_the_distributed_job_fast(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "model.npz").write_bytes(b"x")  # rank 0 refuses this --out; rank 1 would wait for it for ever
    proc, seconds = _run(CLI + ["train", "--max-train", "200", "--epochs", "1", "--out", str(out), "--no-progress"],
                         n=2, timeout=90)
    assert proc.returncode != 0 and seconds < 60
    assert "rank 0 of 2 failed" in proc.stderr and "already holds a run" in proc.stderr


def test_cli_without_mpi4py_trains_alone_and_distributed_says_what_to_install(tmp_path):
    run = ("from convgrad.cli import main\n"
           "code = main(sys.argv[1:])\n"
           "assert 'mpi4py' not in sys.modules or sys.modules['mpi4py'] is None\n"
           "sys.exit(code)\n")
    env = _env()
    proc = subprocess.run([sys.executable, "-c", NO_MPI + run, "train", "--max-train", "128", "--epochs", "1",
                           "--max-test", "100", "--out", str(tmp_path / "plain"), "--no-progress"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "plain" / "model.npz").exists()
    proc = subprocess.run([sys.executable, "-c", NO_MPI + run, "train", "--distributed", "--max-train", "128",
                           "--out", str(tmp_path / "dist")], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install convgrad[mpi]" in lines[0], proc.stderr


@pytest.mark.slow
@needs_mpi
def test_cli_sharded_embedding_equals_the_single_process_file(tmp_path):
    proc, _ = _run(CLI + ["train", "--max-train", "256", "--epochs", "1", "--max-test", "100", "--out",
                          str(tmp_path / "run"), "--no-progress"], timeout=300)
    assert proc.returncode == 0, proc.stderr
    model = str(tmp_path / "run" / "model.npz")
    common = ["embed", model, "--split", "train", "--batch-size", "384"]  # 13 full batches and a short one
    proc, _ = _run(CLI + common + ["--out", str(tmp_path / "one.npz")], timeout=300)
    assert proc.returncode == 0, proc.stderr
    proc, _ = _run(CLI + common + ["--out", str(tmp_path / "two.npz")], n=2, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("wrote") == 1  # rank 0 alone reports
    with np.load(tmp_path / "one.npz") as a, np.load(tmp_path / "two.npz") as b:
        assert a["embeddings"].shape == (5000, 84)
        np.testing.assert_array_equal(a["embeddings"], b["embeddings"])
        np.testing.assert_array_equal(a["labels"], b["labels"])
