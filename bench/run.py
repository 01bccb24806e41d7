"""convgrad vs PyTorch CPU, side by side, same threads, same shapes.

    /work/venv/bin/python -m bench                  # every workload, writes bench/RESULTS.md
    /work/venv/bin/python -m bench --only conv3x3   # a subset, printed only (add --write to save)

Each (framework, workload) pair runs in its own worker process (``python -m bench.run --worker``)
with ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` and
``torch.set_num_threads`` all equal to ``--threads`` (2 by default). A worker builds the
workload, warms it up, times ``--repeats`` runs and reports the median, plus the peak resident
memory the workload added (VmHWM reset before the timed runs, minus the RSS before setup).
The table gives convgrad/PyTorch time ratios: below 1 means convgrad is faster.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

ENV_AT_START = dict(os.environ)  # before anything imported (convgrad sets OPENBLAS_THREAD_TIMEOUT for itself)
HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "RESULTS.md")
RAW = os.path.join(HERE, "results.json")  # the last full run's numbers, so RESULTS.md can be re-rendered
NOTES = os.path.join(HERE, "NOTES.md")  # hand-written analysis appended to RESULTS.md

# name, description, batch (images per step, for img/s), default repeats
WORKLOADS = [
    ("lenet_b64", "LeNet-5 train step, batch 64", 64, 20),
    ("lenet_b256", "LeNet-5 train step, batch 256", 256, 10),
    ("conv3x3", "3x3 conv 64->64 on 32x64x56x56, forward + input & weight gradients", None, 4),
    ("resnet18_b8", "ResNet-18 inference, batch 8, 224x224", 8, 3),
    ("resnet18_b1", "ResNet-18 inference, batch 1, 224x224", 1, 8),
    ("small_resnet_train", "small ResNet (3 stages, 16-32-64) train step on 28x28, batch 128", 128, 4),
    ("matmul2048", "float32 matrix product 2048^3 (NumPy vs torch.mm; the GEMM ceiling)", None, 4),
    ("mnist_example", "pytorch/examples MNIST network train step (Adadelta), batch 64", 64, 10),
    ("dcgan_step", "DCGAN train step (one D + one G step), 64x64, ngf = ndf = 64, batch 64", 64, 2),
    ("main_epoch", "`convgrad train` main job, one epoch (5,000 images, augmented, Adam + one-cycle, "
                   "then the 10,000 test images) vs the same epoch in PyTorch", 5000, 1),
]
# workloads of several seconds a step: at most this many warm-up steps, whatever --warmup says
WARMUP_CAP = {"dcgan_step": 1, "main_epoch": 0}  # main_epoch: from cold, as a user runs it
CONV3X3_FLOP = 3 * 2 * 32 * 64 * 64 * 9 * 56 * 56  # forward + two gradients, each one GEMM's worth
MATMUL_FLOP = 2 * 2048 ** 3


# ----------------------------------------------------------------------------------------------
# Models written once against the shared API (convgrad.nn or torch.nn)
# ----------------------------------------------------------------------------------------------
def lenet5(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def basic_block_class(nn):
    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    return BasicBlock


def small_resnet(nn):
    block = basic_block_class(nn)
    return nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                         block(16, 16, 1), block(16, 32, 2), block(32, 64, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def mnist_example_net(nn, F):
    """The network of pytorch/examples' MNIST example, written here against the shared API."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = self.dropout1(F.max_pool2d(x, 2))
            x = self.dropout2(F.relu(self.fc1(x.flatten(1))))
            return F.log_softmax(self.fc2(x), dim=1)
    return Net()


def dcgan_nets(nn, nz=100, ngf=64, ndf=64, nc=3):
    """DCGAN's generator and discriminator for 64x64 images (Radford et al.; the layout of the
    pytorch/examples DCGAN), written against the shared API."""
    generator = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
    discriminator = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())
    return generator, discriminator


def torch_resnet18(nn):
    """torchvision's resnet18 layout (torchvision is not installed here)."""
    block = basic_block_class(nn)
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [block(cin, cout, stride), block(cout, cout, 1)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000))


# ----------------------------------------------------------------------------------------------
# Framework adapters
# ----------------------------------------------------------------------------------------------
class Convgrad:
    name = "convgrad"

    def __init__(self):
        import convgrad as cg
        import convgrad.optim  # noqa: F401
        self.cg = cg
        self.nn = cg.nn
        self.F = cg.nn.functional
        self.optim = cg.optim
        self.no_grad = cg.no_grad

    def tensor(self, array, requires_grad=False):
        return self.cg.tensor(array, requires_grad=requires_grad)

    def channels_last(self, array):
        import numpy as np
        return np.ascontiguousarray(array.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)

    def resnet18(self):
        import convgrad.models
        return convgrad.models.resnet18()

    def matmul(self, a, b):
        return lambda: a @ b


class Torch:
    name = "torch"

    def __init__(self, threads):
        import torch
        torch.set_num_threads(threads)
        self.torch = torch
        self.nn = torch.nn
        self.F = torch.nn.functional
        self.optim = torch.optim
        self.no_grad = torch.no_grad

    def tensor(self, array, requires_grad=False):
        return self.torch.tensor(array, requires_grad=requires_grad)

    def channels_last(self, array):
        return array  # PyTorch's default (and fastest here) CPU layout is NCHW

    def resnet18(self):
        return torch_resnet18(self.nn)

    def matmul(self, a, b):
        ta, tb = self.torch.from_numpy(a), self.torch.from_numpy(b)
        return lambda: self.torch.mm(ta, tb)


# ----------------------------------------------------------------------------------------------
# Workloads: each returns a function that runs one step
# ----------------------------------------------------------------------------------------------
def _train_step(fw, model, x_shape, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    x = fw.tensor(rng.standard_normal(x_shape).astype(np.float32))
    y = fw.tensor(rng.integers(0, 10, x_shape[0]).astype(np.int64))
    opt = fw.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()

    def step():
        loss = fw.F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def lenet_step(fw, batch):
    return _train_step(fw, lenet5(fw.nn), (batch, 1, 28, 28))


def conv3x3_step(fw):
    import numpy as np
    rng = np.random.default_rng(0)
    x_np = fw.channels_last(rng.standard_normal((32, 64, 56, 56)).astype(np.float32))
    w_np = (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32)
    g_np = fw.channels_last(rng.standard_normal((32, 64, 56, 56)).astype(np.float32))
    x = fw.tensor(x_np, requires_grad=True)
    w = fw.tensor(w_np, requires_grad=True)
    g = fw.tensor(g_np)

    def step():
        x.grad = None
        w.grad = None
        out = fw.F.conv2d(x, w, padding=1)
        out.backward(g)
    return step


def resnet18_inference(fw, batch):
    import numpy as np
    model = fw.resnet18()
    model.eval()
    x = fw.tensor(np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32))

    def step():
        with fw.no_grad():
            return model(x)
    return step


def small_resnet_step(fw):
    return _train_step(fw, small_resnet(fw.nn), (128, 1, 28, 28))


def mnist_example_step(fw):
    import numpy as np
    rng = np.random.default_rng(0)
    model = mnist_example_net(fw.nn, fw.F)
    x = fw.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = fw.tensor(rng.integers(0, 10, 64).astype(np.int64))
    opt = fw.optim.Adadelta(model.parameters(), lr=1.0)
    model.train()

    def step():
        opt.zero_grad()
        loss = fw.F.nll_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def dcgan_step(fw, batch=64, nz=100):
    import numpy as np
    rng = np.random.default_rng(0)
    G, D = dcgan_nets(fw.nn, nz)
    G.train()
    D.train()
    real = fw.tensor(rng.uniform(-1, 1, (batch, 3, 64, 64)).astype(np.float32))
    noise = fw.tensor(rng.standard_normal((batch, nz, 1, 1)).astype(np.float32))
    ones = fw.tensor(np.ones(batch, np.float32))
    zeros = fw.tensor(np.zeros(batch, np.float32))
    opt_d = fw.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = fw.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = fw.nn.BCELoss()

    def step():
        D.zero_grad()  # (1) D: maximise log D(x) + log(1 - D(G(z)))
        bce(D(real).reshape(-1), ones).backward()
        fake = G(noise)
        bce(D(fake.detach()).reshape(-1), zeros).backward()
        opt_d.step()
        G.zero_grad()  # (2) G: maximise log D(G(z))
        loss_g = bce(D(fake).reshape(-1), ones)
        loss_g.backward()
        opt_g.step()
        return loss_g
    return step


def main_epoch(fw):
    """One epoch of `convgrad train`'s main job as a user waits for it. convgrad: the real
    runner (data, model, one training epoch, the test-set evaluation, the run directory's files).
    PyTorch: the same data (the bundled sample's arrays), the same LeNet-5, augmentation
    (rotation +-10 degrees, shift +-2 px, zoom 0.9-1.1) done per batch with affine_grid and
    grid_sample, Adam with the one-cycle schedule, then the test-set evaluation."""
    import tempfile
    threads = int(os.environ.get("OMP_NUM_THREADS", "2"))
    if fw.name == "convgrad":
        from convgrad.training.runner import train_run
        tmp = tempfile.mkdtemp(prefix="bench_main_epoch_")
        count = [0]

        def step():
            count[0] += 1
            out = os.path.join(tmp, f"run{count[0]}")
            return train_run({"epochs": 1, "threads": threads, "seed": 0}, out=out, log=None, progress=False)
        return step
    import math
    import numpy as np
    import convgrad.data  # the same bundled arrays (the reader is not what is timed)
    torch, nn, F = fw.torch, fw.nn, fw.F
    train, test = convgrad.data.MNIST(train=True), convgrad.data.MNIST(train=False)
    x_train = torch.from_numpy(np.asarray(train.data, np.uint8).copy())
    y_train = torch.from_numpy(np.asarray(train.targets, np.int64).copy())
    x_test = torch.from_numpy(np.asarray(test.data, np.uint8).copy())
    y_test = torch.from_numpy(np.asarray(test.targets, np.int64).copy())
    mean, std = 0.1307, 0.3081

    def lenet5_modern():
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))

    def augment(x, gen):
        n = x.shape[0]
        angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(10)
        zoom = 0.9 + 0.2 * torch.rand(n, generator=gen)
        shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * 2 / 14  # +-2 px in [-1, 1] units of 28 px
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    def step():
        gen = torch.Generator().manual_seed(0)
        torch.manual_seed(0)
        model = lenet5_modern()
        opt = torch.optim.Adam(model.parameters(), lr=4e-3)
        batch = 64
        steps = math.ceil(len(x_train) / batch)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps)
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        for i in range(steps):
            idx = order[i * batch:(i + 1) * batch]
            x = x_train[idx].unsqueeze(1).float() / 255
            x = (augment(x, gen) - mean) / std
            loss = F.cross_entropy(model(x), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(x_test), 500):
                x = (x_test[i:i + 500].unsqueeze(1).float() / 255 - mean) / std
                correct += int((model(x).argmax(1) == y_test[i:i + 500]).sum())
        return correct / len(x_test)
    return step


def matmul_step(fw):
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2048, 2048)).astype(np.float32)
    b = rng.standard_normal((2048, 2048)).astype(np.float32)
    return fw.matmul(a, b)


SETUPS = {
    "lenet_b64": lambda fw: lenet_step(fw, 64),
    "lenet_b256": lambda fw: lenet_step(fw, 256),
    "conv3x3": conv3x3_step,
    "resnet18_b8": lambda fw: resnet18_inference(fw, 8),
    "resnet18_b1": lambda fw: resnet18_inference(fw, 1),
    "small_resnet_train": small_resnet_step,
    "matmul2048": matmul_step,
    "mnist_example": mnist_example_step,
    "dcgan_step": dcgan_step,
    "main_epoch": main_epoch,
}


# ----------------------------------------------------------------------------------------------
# Worker: one framework, one workload, in its own process
# ----------------------------------------------------------------------------------------------
def _proc_status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (the peak RSS) to the current RSS
    except OSError:
        pass


def worker(framework, workload, repeats, threads, warmup):
    fw = Convgrad() if framework == "convgrad" else Torch(threads)
    rss_before = _proc_status("VmRSS")
    try:
        step = SETUPS[workload](fw)
    except (ImportError, AttributeError, ModuleNotFoundError, NotImplementedError) as exc:
        print(json.dumps({"skipped": f"{type(exc).__name__}: {exc}"}))
        return
    for _ in range(warmup):
        step()
    _reset_peak()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    peak = _proc_status("VmHWM") - rss_before
    times.sort()
    print(json.dumps({"times": times, "peak_bytes": peak}))


def run_worker(framework, workload, repeats, threads, warmup):
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cmd = [sys.executable, "-m", "bench.run", "--worker", framework, workload, "--repeats", str(repeats),
           "--threads", str(threads), "--warmup", str(warmup)]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"failed: {tail}"}
    return json.loads(lines[-1])


def _pool(results):
    """Median over the timed runs of every round; the largest peak memory."""
    good = [r for r in results if "times" in r]
    if not good:
        return results[0]
    times = sorted(t for r in good for t in r["times"])
    rounds = [sorted(r["times"])[len(r["times"]) // 2] for r in good]  # each worker's median, in order
    return {"median": times[len(times) // 2], "best": times[0], "peak_bytes": max(r["peak_bytes"] for r in good),
            "runs": len(times), "round_medians": rounds}


# ----------------------------------------------------------------------------------------------
# Table and RESULTS.md
# ----------------------------------------------------------------------------------------------
def _throughput(workload, batch, seconds):
    if workload == "main_epoch":
        return f"{batch / seconds:,.0f} train img/s (incl. test pass)"
    if workload == "conv3x3":
        return f"{CONV3X3_FLOP / seconds / 1e9:.0f} GFLOP/s"
    if workload == "matmul2048":
        return f"{MATMUL_FLOP / seconds / 1e9:.0f} GFLOP/s"
    if workload.startswith("resnet18") or workload == "dcgan_step":
        return f"{batch / seconds:.1f} img/s"
    return f"{batch / seconds:,.0f} img/s"


def _cell(result, workload, batch):
    if "skipped" in result:
        return "skipped", "", ""
    t = result["median"]
    return f"{t * 1e3:.1f} ms", _throughput(workload, batch, t), f"{result['peak_bytes'] / 2 ** 20:.0f}"


def make_table(rows):
    header = ("| workload | convgrad | PyTorch | ratio cg/torch | ratio of best runs | convgrad throughput "
              "| PyTorch throughput | convgrad peak MB | PyTorch peak MB |")
    lines = [header, "|" + "---|" * 9]
    for (name, label, batch, _), res in rows:
        cg_t, cg_thr, cg_mem = _cell(res["convgrad"], name, batch)
        t_t, t_thr, t_mem = _cell(res["torch"], name, batch)
        if "median" in res["convgrad"] and "median" in res["torch"]:
            ratio = f"**{res['convgrad']['median'] / res['torch']['median']:.2f}**"
            best = f"{res['convgrad']['best'] / res['torch']['best']:.2f}"
        else:
            ratio = best = "—"
        lines.append(f"| {label} | {cg_t} | {t_t} | {ratio} | {best} | {cg_thr} | {t_thr} | {cg_mem} | {t_mem} |")
    return "\n".join(lines)


def machine_info():
    import numpy
    info = {"python": platform.python_version(), "numpy": numpy.__version__, "platform": platform.platform()}
    try:
        import torch
        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = "not installed"
    try:
        import convgrad
        info["convgrad"] = convgrad.__version__
    except ImportError:
        info["convgrad"] = "?"
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["cpu"] = f"{cpu}, {os.cpu_count()} logical CPUs"
    info["vector"] = _vector_extensions()
    info["blas_kernel"] = _blas_kernel()
    # BLAS/OpenMP settings of the environment the command ran in (the workers then set the thread counts)
    overrides = sorted(f"{k}={v}" for k, v in ENV_AT_START.items()
                       if k.startswith(("OPENBLAS_", "GOTO", "MKL_", "NVPL_", "BLIS_")) or k in ("OMP_NUM_THREADS",))
    info["blas_env"] = ", ".join(overrides) or "none"
    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001  (show_config's layout differs between NumPy versions)
        info["blas"] = "?"
    return info


def _vector_extensions():
    """The CPU's SIMD extensions from /proc/cpuinfo's flags (avx, avx2, fma, avx512*, amx*)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split(":", 1)[1].split()
                    return " ".join(f for f in flags if f.startswith(("avx", "fma", "amx"))) or "none"
    except OSError:
        pass
    return "?"


def _blas_kernel():
    """NumPy's BLAS as threadpoolctl reports it: library, version, the kernel it chose."""
    try:
        import numpy  # noqa: F401  (loads the BLAS)
        import threadpoolctl
        found = [f"{d.get('internal_api')} {d.get('version')} kernel {d.get('architecture')}"
                 for d in threadpoolctl.threadpool_info() if d.get("user_api") == "blas"]
        return "; ".join(found) or "?"
    except ImportError:
        return "threadpoolctl not installed"


def write_results(table, info, command, threads, rounds, load_before, load_after, notes, now):
    text = f"""# convgrad vs PyTorch CPU

Generated by `{command}` on {now}. Do not edit by hand: rerun the command (or
`python -m bench --render` to re-render this page from bench/results.json and bench/NOTES.md).

- Machine: {info['cpu']}; {info['platform']}
- Vector extensions: {info.get('vector', '?')}
- NumPy's BLAS (threadpoolctl): {info.get('blas_kernel', '?')}; BLAS environment of the command: {info.get('blas_env', '?')}
- Versions: Python {info['python']}, NumPy {info['numpy']} ({info['blas']}), PyTorch {info['torch']}, convgrad {info['convgrad']}
- Threads: {threads} for both (BLAS/OpenMP environment variables and `torch.set_num_threads`)
- Method: each (framework, workload) in its own worker process, {rounds} round(s) alternating the frameworks;
  in each, a warm-up, then timed runs; the table gives the median over all timed runs.
  Peak MB is the resident memory the workload added (peak RSS during the timed runs minus RSS before setup).
- Load average before / after the run: {load_before} / {load_after} (the machine is shared; times are noisy)

{table}

Ratio = convgrad median time / PyTorch median time (below 1: convgrad is faster). Goal: at most 1.5 on
every row. "Ratio of best runs" divides the fastest run of each: on a shared machine it is the less
load-sensitive estimate of what each framework can do.
{notes}
"""
    text += _kept_sections()
    with open(RESULTS, "w") as f:
        f.write(text)


def _kept_sections():
    """The part of RESULTS.md another benchmark owns (bench/distributed.py's section, from its
    marker to the end), kept when this page is rewritten."""
    marker = "<!-- bench.distributed -->"
    if not os.path.exists(RESULTS):
        return ""
    with open(RESULTS) as f:
        old = f.read()
    return "\n" + marker + old.split(marker, 1)[1] if marker in old else ""


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="workload names: " + ", ".join(w[0] for w in WORKLOADS))
    parser.add_argument("--repeats", type=int, default=None, help="override every workload's repeat count")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5,
                        help="worker processes per framework and workload, alternating frameworks")
    parser.add_argument("--write", action="store_true", help="write bench/RESULTS.md even with --only")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    parser.add_argument("--render", action="store_true", help="rewrite RESULTS.md from bench/results.json")
    parser.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], args.worker[1], args.repeats or 5, args.threads, args.warmup)
        return
    if args.render:
        render()
        return
    selected = [w for w in WORKLOADS if not args.only or w[0] in args.only]
    load_before = " ".join(f"{v:.2f}" for v in os.getloadavg())
    writing = (not args.only or args.write) and not args.no_write
    rows = []
    for workload in selected:
        name, label, batch, repeats = workload
        runs = {"convgrad": [], "torch": []}
        for round_ in range(args.rounds):
            # alternate which framework goes first, so both see the same (shared-machine) load
            order = ("convgrad", "torch") if round_ % 2 == 0 else ("torch", "convgrad")
            for framework in order:
                runs[framework].append(run_worker(framework, name, args.repeats or repeats, args.threads,
                                                  min(args.warmup, WARMUP_CAP.get(name, args.warmup))))
        res = {framework: _pool(results) for framework, results in runs.items()}
        rows.append((workload, res))
        c, t = res["convgrad"], res["torch"]
        ratio = f"{c['median'] / t['median']:.2f}" if "median" in c and "median" in t else "—"
        print(f"{name:20s} convgrad {_cell(c, name, batch)[0]:>12s}  torch {_cell(t, name, batch)[0]:>12s}"
              f"  ratio {ratio}" + (f"  ({c.get('skipped') or t.get('skipped')})" if ratio == "—" else ""),
              flush=True)
        if "round_medians" in c and "round_medians" in t:  # the per-round ratios (worker medians, paired by round)
            print(f"{'':20s} per-round ratios " + " ".join(f"{a / b:.2f}" for a, b in zip(c["round_medians"],
                                                                                        t["round_medians"])),
                  flush=True)
        if writing:  # after every row, so that an interrupted run keeps what it measured (--render)
            _save_raw(rows, args, argv, load_before)
    print()
    print(make_table(rows))
    if writing:
        _save_raw(rows, args, argv, load_before)
        render()


def _save_raw(rows, args, argv, load_before):
    command = " ".join(["python -m bench"] + (argv if argv is not None else sys.argv[1:]))
    run = {"rows": [[list(w), res] for w, res in rows], "info": machine_info(), "command": command,
           "threads": args.threads, "rounds": args.rounds, "load_before": load_before,
           "load_after": " ".join(f"{v:.2f}" for v in os.getloadavg()),
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    with open(RAW, "w") as f:
        json.dump(run, f, indent=1)


def render():
    """(Re)write RESULTS.md from the last run's raw numbers (bench/results.json) and NOTES.md."""
    with open(RAW) as f:
        run = json.load(f)
    notes = ""
    if os.path.exists(NOTES):
        with open(NOTES) as f:
            notes = "\n" + f.read()
    rows = [(tuple(w), res) for w, res in run["rows"]]
    write_results(make_table(rows), run["info"], run["command"], run["threads"], run["rounds"],
                  run["load_before"], run["load_after"], notes, run["date"])
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
