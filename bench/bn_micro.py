"""Batch-norm kernels (kernels/batch_norm.py) against another revision's, in one process.

    python bench/bn_micro.py --against 49a8923 --threads 1 [--repeats 21] [--mean 0.5]
    python bench/bn_micro.py --against 49a8923 --threads 1 --step small_resnet_train [--repeats 15]

Loads the file ``src/convgrad/kernels/batch_norm.py`` of the revision given (``git show``) next
to the working tree's, then times each pass of both on the same (M, C) float32 arrays, the
two alternating call by call (the machine is shared: alternation spreads any noise over both),
and prints medians in ms. The thread count is set in the environment before NumPy loads
(``kernels.parallel.workers()`` follows it). ``--mean`` offsets the data (``|mean| * invstd``
above ``FOLD_LIMIT`` takes the unfolded, centred paths). With ``--step`` it times a whole
training step of ``bench/run.py`` instead, the batch-norm kernels module swapped between the two
step by step (the rest of the step is the working tree's), and the time spent in BatchNorm.
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time

SHAPES = [(100352, 16), (25088, 32), (6272, 64), (65536, 64), (16384, 128), (4096, 256), (1024, 512)]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, help="git revision whose kernels to compare with")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--mean", type=float, default=0.5, help="offset of the data (std 1)")
    parser.add_argument("--step", help="a training-step workload of bench/run.py (small_resnet_train, dcgan_step)")
    args = parser.parse_args()
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    sys.path.insert(0, os.path.join(ROOT, "src"))
    import numpy as np
    from convgrad.kernels import batch_norm as new
    from convgrad.kernels.parallel import workers

    source = subprocess.run(["git", "show", f"{args.against}:src/convgrad/kernels/batch_norm.py"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("convgrad.kernels._batch_norm_against", f.name)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    os.unlink(f.name)

    if args.step:
        return time_step(args, old, new)
    print(f"workers {workers()}, OPENBLAS_NUM_THREADS={args.threads}, data mean {args.mean}, std 1, "
          f"medians of {args.repeats} (ms), old = {args.against}, new = working tree; load {os.getloadavg()[0]:.2f}")
    names = ["stats", "output", "sums", "dx", "total"]
    print(f"{'shape':>14} " + " ".join(f"{n:>17}" for n in names))
    for m, c in SHAPES:
        rng = np.random.default_rng(0)
        v = (rng.standard_normal((m, c)) + args.mean).astype(np.float32)
        g = rng.standard_normal((m, c)).astype(np.float32)
        w = (rng.random(c) + 0.5).astype(np.float32)
        b = rng.standard_normal(c).astype(np.float32)
        times = {mod: {n: [] for n in names} for mod in ("old", "new")}
        for _ in range(args.repeats):
            for label, mod in (("old", old), ("new", new)):
                t = times[label]
                t0 = time.perf_counter()
                mean, var = (s.astype(np.float32) for s in mod.mean_and_variance(v))
                t1 = time.perf_counter()
                invstd = (1 / np.sqrt(var + 1e-5)).astype(np.float32)
                mod.normalize(v, mean, invstd, w, b)
                t2 = time.perf_counter()
                sum_g, sum_gx = (s.astype(np.float32) for s in mod.gradient_sums(g, v, mean, invstd))
                t3 = time.perf_counter()
                mod.input_gradient(g, v, mean, invstd, sum_g / m, sum_gx / m, invstd * w)
                t4 = time.perf_counter()
                for n, dt in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                    t[n].append(dt * 1e3)
        cells = []
        for n in names:
            a, bb = (float(np.median(times[k][n])) for k in ("old", "new"))
            cells.append(f"{a:6.2f} -> {bb:5.2f}")
        print(f"{str((m, c)):>14} " + " ".join(f"{x:>17}" for x in cells))


def time_step(args, old, new):
    """Median step times with the old and the new kernels, alternating step by step."""
    import numpy as np
    sys.path.insert(0, ROOT)
    from bench import run
    from convgrad.functional import normalization
    step = run.SETUPS[args.step](run.Convgrad())
    spent = {"old": 0.0, "new": 0.0}
    current = ["old"]
    forward, backward = normalization.BatchNorm.forward, normalization.BatchNorm.backward

    def timed(fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[current[0]] += time.perf_counter() - t
        return staticmethod(wrapper)
    normalization.BatchNorm.forward, normalization.BatchNorm.backward = timed(forward), timed(backward)
    modules = {"old": old, "new": new}
    times = {"old": [], "new": []}
    try:
        for i in range(2 + args.repeats):
            for label in ("old", "new") if i % 2 == 0 else ("new", "old"):
                normalization.bn_kernels, current[0] = modules[label], label
                t = time.perf_counter()
                step()
                if i >= 2:  # two warm-up steps each
                    times[label].append(time.perf_counter() - t)
                else:
                    spent[label] = 0.0
    finally:
        normalization.bn_kernels = new
        normalization.BatchNorm.forward, normalization.BatchNorm.backward = forward, backward
    a, b = (float(np.median(times[k])) * 1e3 for k in ("old", "new"))
    print(f"{args.step}, OPENBLAS_NUM_THREADS={args.threads}, medians of {args.repeats} steps each (alternating): "
          f"old = {args.against} {a:.1f} ms, new = working tree {b:.1f} ms ({a / b:.3f}x); BatchNorm forward + "
          f"backward per step {spent['old'] / args.repeats * 1e3:.1f} -> {spent['new'] / args.repeats * 1e3:.1f} ms; "
          f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
