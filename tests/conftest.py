import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # tests import the shared helpers in oracle.py


def pytest_sessionfinish(session, exitstatus):
    """With CONVGRAD_PARITY_OUT=path, write what check_against_torch(name=...) measured."""
    out = os.environ.get("CONVGRAD_PARITY_OUT")
    if out:
        from oracle import PARITY
        with open(out, "w") as f:
            json.dump(PARITY, f, indent=1, sort_keys=True)
