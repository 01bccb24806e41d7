"""PyTorch's own module test inputs (``module_db``: batched, unbatched, empty batches, options)
through every convgrad layer of the same name, with PyTorch's weights: outputs, input gradients
and parameter gradients agree in float64 (scripts/probe_module_db.py; 22 of 476 cases disagreed
before the unbatched / empty-batch / domain fixes)."""
import os
import sys

import pytest

pytest.importorskip("expecttest")  # PyTorch's test helpers import it (a test extra)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

import probe_module_db  # noqa: E402


@pytest.mark.slow
def test_every_module_db_case_agrees_with_torch():
    results = probe_module_db.probe()
    modules = {r["module"] for r in results}
    assert len(modules) >= 90 and len(results) >= 600  # the probe really ran PyTorch's cases
    bad = [f"{r['module']} {r['desc']} {'train' if r['training'] else 'eval'}: {r['reason']}"
           for r in results if r["reason"]]
    assert not bad, "\n".join(bad)
