"""Process-wide settings in convgrad.backend: default dtype, seeding, the C allocator."""
import os
import subprocess
import sys

import numpy as np
import pytest

import convgrad as cg
from convgrad import backend


def test_allocator_is_tuned_on_glibc_and_can_be_left_alone():
    if not sys.platform.startswith("linux"):
        pytest.skip("mallopt is glibc's")
    assert backend.allocator_tuned
    env = dict(os.environ, CONVGRAD_MALLOC="system")
    out = subprocess.run([sys.executable, "-c", "import convgrad.backend as b; print(b.allocator_tuned)"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_default_dtype_can_change_and_must_be_floating():
    previous = cg.get_default_dtype()
    try:
        cg.set_default_dtype(np.float64)
        assert cg.tensor([1.5]).dtype == np.float64 and cg.randn(2).dtype == np.float64
    finally:
        cg.set_default_dtype(previous)
    with pytest.raises(TypeError, match="floating point"):
        cg.set_default_dtype(np.int32)


def test_rng_state_round_trips():
    cg.manual_seed(5)
    state = cg.get_rng_state()
    a = cg.rand(3).numpy().copy()
    cg.set_rng_state(state)
    assert np.array_equal(a, cg.rand(3).numpy())
