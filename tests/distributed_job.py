"""Jobs that tests/test_distributed.py runs under ``mpiexec -n 2`` (and in one process).

    python tests/distributed_job.py trajectory OUT.npz [--steps 200] [--single]
    python tests/distributed_job.py syncbn OUT.npz
    python tests/distributed_job.py fail | kill
"""
import argparse
import os
import signal
import sys
import time

import numpy as np


def lenet_trajectory(out, steps, single, batch_size=64, dtype="float32", batch_rng=False):
    """LeNet-5 with the default augmentation, Adam + one-cycle, ``steps`` optimizer steps of the
    global batch; rank 0 writes the final weights (and DDP's timing stats)."""
    import convgrad as cg
    from convgrad import distributed as dist
    from convgrad import optim
    from convgrad.data import MNIST, DataLoader, mnist_transforms
    from convgrad.data.datasets import ArrayDataset
    from convgrad.kernels.blas import blas_threads
    from convgrad.models import lenet5
    from convgrad.training import fit

    if not single:
        dist.init()
    train = MNIST(train=True, transform=mnist_transforms(augment=True))
    n = 1600  # 25 global batches of 64 per epoch: 200 steps are 8 epochs
    idx = np.sort(np.random.default_rng(7).permutation(len(train))[:n])
    data = ArrayDataset(train.data[idx], train.targets[idx], train.transform)
    cg.manual_seed(0)
    model = lenet5(variant="modern")
    if dtype == "float64":
        model = model.double()
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, seed=0, per_sample_rng=not batch_rng)
    if dtype == "float64":
        loader = _Cast(loader)
    if not single:
        model = dist.DistributedDataParallel(model)
        loader = dist.DistributedLoader(loader) if dtype != "float64" else _Cast(dist.DistributedLoader(loader.loader))
    epochs = -(-steps // len(loader))
    opt = optim.Adam(model.parameters(), lr=4e-3)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=epochs * len(loader))
    t0 = time.perf_counter()
    with blas_threads(1):
        fit(model, loader, opt, epochs, scheduler=sched, scheduler_interval="step", progress=False)
    seconds = time.perf_counter() - t0
    net = model.module if not single else model
    if dist.rank() == 0:
        arrays = {k: np.asarray(v) for k, v in net.state_dict().items()}
        arrays["_seconds"] = np.array(seconds)
        if not single:
            for key, value in model.stats.items():
                arrays["_stat_" + key] = np.array(value)
        np.savez(out, **arrays)


class _Cast:
    """A loader whose images come as float64 (for the float64 trajectory)."""

    def __init__(self, loader):
        self.loader = loader

    def __len__(self):
        return len(self.loader)

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def iter_epoch(self, epoch, start_batch=0):
        import convgrad as cg

        for x, y in self.loader.iter_epoch(epoch, start_batch):
            yield cg.from_numpy(x.numpy().astype(np.float64)), y


def syncbn_stats(out, plain=False):
    """A conv -> SyncBatchNorm net, one training step on each rank's shard of a fixed global batch:
    rank 0 writes the output, running statistics and input/parameter gradients of its shard."""
    import convgrad as cg
    from convgrad import distributed as dist
    from convgrad import nn

    dist.init()
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 3.0, (8, 3, 6, 6)).astype(np.float64)
    target = rng.normal(size=(8, 4, 6, 6)).astype(np.float64)
    cg.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4)).double()
    if not plain:
        net = dist.convert_sync_batchnorm(net)
    ddp = dist.DistributedDataParallel(net)
    start, stop = dist.shard_bounds(len(x), dist.world_size(), dist.rank())
    xs = cg.from_numpy(x[start:stop].copy()).requires_grad_()
    y = ddp(xs)
    loss = ((y - cg.from_numpy(target[start:stop])) ** 2).mean()
    loss.backward()
    shards = {"y": y.numpy(), "dx": xs.grad.numpy()}
    gathered = {k: np.concatenate(dist.get_comm().allgather(v)) if dist.is_distributed() else v
                for k, v in shards.items()}
    if dist.rank() == 0:
        arrays = {k: np.asarray(v) for k, v in net.state_dict().items()}
        arrays.update({"grad." + n: p.grad.numpy() for n, p in net.named_parameters()})
        arrays.update(gathered)
        np.savez(out, **arrays)


def bn_trajectory(out, mode, steps=20):
    """A small conv net with batch norm, float64, Adam, ``steps`` steps on MNIST batches of 32:
    ``mode`` "single" (one process), "sync" (SyncBatchNorm on every rank) or "plain" (per-rank BN)."""
    import convgrad as cg
    from convgrad import distributed as dist
    from convgrad import nn, optim
    from convgrad.data import MNIST, DataLoader, mnist_transforms
    from convgrad.functional import cross_entropy

    if mode != "single":
        dist.init()
    cg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(16 * 7 * 7, 10)).double()
    model = net
    loader = DataLoader(MNIST(train=True, transform=mnist_transforms(augment=True)), batch_size=32, shuffle=True,
                        seed=0, per_sample_rng=True)
    if mode != "single":
        model = dist.DistributedDataParallel(dist.convert_sync_batchnorm(net) if mode == "sync" else net)
        loader = dist.DistributedLoader(loader)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    for step, (x, y) in zip(range(steps), loader.iter_epoch(0)):
        opt.zero_grad()
        cross_entropy(model(cg.from_numpy(x.numpy().astype(np.float64))), y).backward()
        opt.step()
    if dist.rank() == 0:
        np.savez(out, **{k: np.asarray(v) for k, v in net.state_dict().items()})


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("job", choices=("trajectory", "syncbn", "bn_trajectory", "fail", "kill"))
    ap.add_argument("out", nargs="?")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--single", action="store_true")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--batch-rng", action="store_true", help="per-batch augmentation generator (control)")
    ap.add_argument("--plain", action="store_true", help="plain per-rank batch norm (control)")
    ap.add_argument("--mode", default="single", choices=("single", "sync", "plain"))
    args = ap.parse_args(argv)
    if args.job == "trajectory":
        lenet_trajectory(args.out, args.steps, args.single, dtype=args.dtype, batch_rng=args.batch_rng)
    elif args.job == "bn_trajectory":
        bn_trajectory(args.out, args.mode)
    elif args.job == "syncbn":
        syncbn_stats(args.out, args.plain)
    else:
        from convgrad import distributed as dist

        dist.init()
        if dist.rank() == 1:
            time.sleep(0.5)
            if args.job == "fail":
                raise RuntimeError("rank 1 fails on purpose")
            os.kill(os.getpid(), signal.SIGKILL)
        dist.barrier()  # rank 0 waits here for ever unless the job is ended
        time.sleep(60)


if __name__ == "__main__":
    sys.exit(main())
