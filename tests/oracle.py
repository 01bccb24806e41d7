"""Test helpers: compare a convgrad op with PyTorch (forward and every gradient) and with
finite differences. Tests call ``check_against_torch`` in one line per configuration.

Tolerances: float32 agrees to 1e-4 and float64 to 1e-10, relative to the largest magnitude of the
reference result (so values near zero inside a large result are not held to a relative bound).
"""
import os

import numpy as np
import torch

import convgrad as cg
from convgrad.inspect import gradcheck

# op name -> configurations checked, worst relative error per dtype, options seen; written out by
# conftest (CONVGRAD_PARITY_OUT) for scripts/parity_table.py, which makes docs/PARITY.md
PARITY = {}
CURRENT_PARAMS = {}  # the running test's pytest parameters, set by an autouse fixture in conftest


def _shared_data_dir():
    """``../shared/data`` beside the repository (as CI lays it out); ``CONVGRAD_SHARED`` overrides
    (a directory holding ``data/``), and ``/work/shared/data`` is the development machine's copy."""
    candidates = [os.path.join(os.environ["CONVGRAD_SHARED"], "data")] if os.environ.get("CONVGRAD_SHARED") else []
    candidates += [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"),
                   "/work/shared/data"]
    for path in candidates:
        if os.path.isdir(path):
            return os.path.normpath(path)
    return os.path.normpath(candidates[0])


SHARED_DATA = _shared_data_dir()  # the real datasets of ../shared/data (see its README.md)

RTOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def assert_close(actual, expected, rtol, what=""):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    scale = max(1.0, float(np.abs(expected).max())) if expected.size else 1.0
    err = float(np.abs(actual - expected).max()) / scale if expected.size else 0.0
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:g}"
    return err


def random_inputs(shapes, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) if isinstance(s, tuple) else np.asarray(s) for s in shapes]


def check_against_torch(cg_fn, torch_fn, inputs, dtype=np.float32, grad=True, seed=0, rtol=None, name=None):
    """Run ``cg_fn`` and ``torch_fn`` on the same arrays; assert equal outputs and input gradients.

    ``inputs``: shapes (random normal arrays are made) or arrays (used as given; integer arrays
    never require grad). Returns the worst relative error seen; with ``name`` it is also
    recorded for the generated parity table (docs/PARITY.md).
    """
    dtype = np.dtype(dtype)
    rtol = RTOL[dtype] if rtol is None else rtol
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in random_inputs(inputs, dtype, seed)]
    diff = [grad and a.dtype.kind == "f" for a in arrays]
    cg_in = [cg.tensor(a, requires_grad=d) for a, d in zip(arrays, diff)]
    t_in = [torch.tensor(a, requires_grad=d) for a, d in zip(arrays, diff)]
    out = cg_fn(*cg_in)
    ref = torch_fn(*t_in)
    worst = assert_close(out.numpy(), ref.detach().numpy(), rtol, "forward")
    if grad and any(diff):
        g = np.random.default_rng(seed + 1).standard_normal(ref.shape).astype(dtype)
        out.backward(g)
        ref.backward(torch.tensor(g))
        for i, (c, t) in enumerate(zip(cg_in, t_in)):
            if not diff[i]:
                continue
            expected = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
            actual = np.zeros(c.shape) if c.grad is None else c.grad.numpy()
            worst = max(worst, assert_close(actual, expected, rtol, f"gradient of input {i}"))
    if name is not None:
        record = PARITY.setdefault(name, {"configs": 0, "options": {}})
        record["configs"] += 1
        record[dtype.name] = max(record.get(dtype.name, 0.0), worst)
        for key, value in CURRENT_PARAMS.items():
            if key not in ("dtype", "name") and not callable(value):
                values = record["options"].setdefault(key, [])
                if repr(value) not in values:
                    values.append(repr(value))
    return worst


def check_gradient(cg_fn, inputs, seed=0, **kwargs):
    """float64 central-difference check of every floating input's gradient."""
    arrays = random_inputs(inputs, np.float64, seed)
    tensors = [cg.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    return gradcheck(cg_fn, tensors, **kwargs)
