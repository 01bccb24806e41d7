import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests import the shared helpers in oracle.py

import oracle  # noqa: E402


@pytest.fixture(autouse=True)
def _record_test_parameters(request):
    """Let check_against_torch(name=...) note which options the running test covers."""
    callspec = getattr(request.node, "callspec", None)
    oracle.CURRENT_PARAMS = dict(callspec.params) if callspec else {}
    yield
    oracle.CURRENT_PARAMS = {}


def pytest_sessionfinish(session, exitstatus):
    """With CONVGRAD_PARITY_OUT=path, write what check_against_torch(name=...) measured."""
    out = os.environ.get("CONVGRAD_PARITY_OUT")
    if out:
        with open(out, "w") as f:
            json.dump(oracle.PARITY, f, indent=1, sort_keys=True)
