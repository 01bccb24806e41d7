"""Feed PyTorch's own module test inputs to convgrad's layers and count the disagreements.

PyTorch describes, for each ``torch.nn`` module it tests, a list of constructor arguments and
forward inputs (``torch.testing._internal.common_modules.module_db``: batched and unbatched
inputs, zero-size batches, options). This script builds the convgrad layer of the same name with
the same arguments, copies the PyTorch module's parameters and buffers into it, runs both
forward (training and evaluation mode) and backward, and compares outputs, input gradients and
parameter gradients (float64, relative 1e-7).

    python scripts/probe_module_db.py              # summary and every disagreement
    python scripts/probe_module_db.py --json out.json

Needs ``expecttest`` (``pip install expecttest``), which PyTorch's test helpers import; it is a
development tool only, not a test dependency.
"""
import argparse
import json
import sys
import warnings

import numpy as np
import torch

import convgrad as cg
import convgrad.nn as cnn

RTOL = 1e-7
# modules whose outputs are random draws: only the shapes are compared
RANDOM = {"FractionalMaxPool2d", "FractionalMaxPool3d", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
          "AlphaDropout", "FeatureAlphaDropout"}


def to_cg(value):
    """PyTorch arguments -> convgrad arguments (tensors, dtypes, nested containers)."""
    if isinstance(value, torch.Tensor):
        t = cg.tensor(value.detach().numpy().copy())
        if value.requires_grad:
            t.requires_grad = True
        return t
    if isinstance(value, torch.dtype):
        return {torch.float32: np.float32, torch.float64: np.float64}.get(value, value)
    if isinstance(value, torch.device):
        return "cpu"
    if isinstance(value, torch.Size):
        return tuple(value)
    if isinstance(value, (list, tuple)):
        return type(value)(to_cg(v) for v in value)
    if isinstance(value, dict):
        return {k: to_cg(v) for k, v in value.items()}
    return value


def flat_tensors(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in flat_tensors(o)]
    return [out]


def compare(a, b, what):
    a = np.asarray(a.numpy() if hasattr(a, "numpy") else a, dtype=np.float64)
    b = np.asarray(b.detach().numpy() if isinstance(b, torch.Tensor) else b, dtype=np.float64)
    if a.shape != b.shape:
        return f"{what}: shape {a.shape} != torch {b.shape}"
    if a.size == 0:
        return None
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return f"{what}: NaN where torch has {'none' if np.isnan(a).any() else 'NaN'}"
    ok = ~np.isnan(b)
    scale = max(1.0, float(np.abs(b[ok]).max())) if ok.any() else 1.0
    err = float(np.abs(np.where(ok, a - b, 0)).max()) / scale
    if not err <= RTOL:
        return f"{what}: relative error {err:.2g}"
    return None


def run_case(name, module_info, sample, training):
    """None if convgrad agrees, else a one-line reason."""
    cargs, ckw = sample.constructor_input.args, sample.constructor_input.kwargs
    fargs, fkw = sample.forward_input.args, sample.forward_input.kwargs
    torch.manual_seed(0)
    tm = module_info.module_cls(*cargs, **ckw).to(torch.float64)
    tm.train(training)
    try:
        t_out = tm(*fargs, **fkw)
    except Exception:  # noqa: BLE001  (PyTorch refuses too: not a case for convgrad)
        return "skip"
    try:
        cm = getattr(cnn, name)(*to_cg(cargs), **to_cg(ckw))
        cm.to(np.float64)
        state = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
        cm.load_state_dict(state, strict=False)
        cm.train(training)
        c_in = to_cg(fargs)
        c_out = cm(*c_in, **to_cg(fkw))
    except Exception as err:  # noqa: BLE001
        return f"convgrad raised {type(err).__name__}: {str(err).splitlines()[0][:160]}"
    t_flat, c_flat = flat_tensors(t_out), flat_tensors(c_out)
    if len(t_flat) != len(c_flat):
        return f"returned {len(c_flat)} tensors, torch {len(t_flat)}"
    for i, (c, t) in enumerate(zip(c_flat, t_flat)):
        if name in RANDOM:
            if tuple(c.shape) != tuple(t.shape):
                return f"output {i}: shape {tuple(c.shape)} != torch {tuple(t.shape)}"
            continue
        msg = compare(c, t, f"output {i}")
        if msg:
            return msg
    if name in RANDOM or not t_flat[0].requires_grad or not t_flat[0].dtype.is_floating_point:
        return None
    # backward with one random upstream gradient; compare input and parameter gradients
    g = np.random.default_rng(0).standard_normal(tuple(t_flat[0].shape))
    t_flat[0].backward(torch.tensor(g, dtype=t_flat[0].dtype))
    try:
        c_flat[0].backward(cg.tensor(g.astype(np.asarray(c_flat[0].numpy()).dtype)))
    except Exception as err:  # noqa: BLE001
        return f"convgrad backward raised {type(err).__name__}: {str(err).splitlines()[0][:160]}"
    t_leaves = [a for a in flat_tensors(list(fargs)) if isinstance(a, torch.Tensor) and a.requires_grad]
    c_leaves = [a for a in flat_tensors(list(c_in)) if isinstance(a, cg.Tensor) and a.requires_grad]
    for i, (c, t) in enumerate(zip(c_leaves, t_leaves)):
        if t.grad is None:
            continue
        msg = compare(c.grad if c.grad is not None else np.zeros(c.shape), t.grad, f"grad of input {i}")
        if msg:
            return msg
    c_params = dict(cm.named_parameters())
    for pname, p in tm.named_parameters():
        if p.grad is None or pname not in c_params:
            continue
        cp = c_params[pname]
        msg = compare(cp.grad if cp.grad is not None else np.zeros(cp.shape), p.grad, f"grad of {pname}")
        if msg:
            return msg
    return None


def probe():
    from torch.testing._internal.common_modules import module_db

    results = []
    for info in module_db:
        name = info.module_cls.__name__
        if not hasattr(cnn, name) or info.is_lazy:
            continue
        modes = (True, False) if info.train_and_eval_differ else (True,)
        for training in modes:
            samples = info.module_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=True,
                                              training=training)
            for sample in samples:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    reason = run_case(name, info, sample, training)
                if reason != "skip":
                    results.append({"module": name, "desc": sample.desc, "training": training, "reason": reason})
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write every case and its outcome to this file")
    args = parser.parse_args(argv)
    results = probe()
    bad = [r for r in results if r["reason"]]
    modules = sorted({r["module"] for r in results})
    for r in bad:
        mode = "train" if r["training"] else "eval"
        print(f"{r['module']:24s} {r['desc'] or '-':38s} {mode:5s} {r['reason']}")
    print(f"{len(modules)} modules, {len(results)} cases, {len(bad)} disagree "
          f"({100 * len(bad) / max(len(results), 1):.1f}%)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
