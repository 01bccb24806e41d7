"""The documentation's promises: every public name has a docstring, and the ``>>>`` examples in
convgrad's docstrings run and print what they show (doctests; examples that need files, a
network or randomness are marked ``# doctest: +SKIP``)."""
import doctest
import importlib
import os
import pkgutil
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from docs import coverage  # noqa: E402  (the repository root's docs/ package)


def test_every_public_name_has_a_docstring():
    assert coverage.missing_docstrings() == []


def _modules():
    """Every module of the documented packages (their submodules too), imported once."""
    seen = {}
    for package in coverage.available_packages():
        seen[package.__name__] = package
        if hasattr(package, "__path__"):
            for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
                if ".cli" in info.name or info.name in seen:
                    continue
                try:
                    seen[info.name] = importlib.import_module(info.name)
                except ImportError:  # an optional extra that is not installed
                    continue
    return seen


def _doctests():
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests, ids = [], set()
    for name, module in sorted(_modules().items()):
        for test in finder.find(module, name):
            if test.examples and test.name not in ids:
                ids.add(test.name)
                tests.append(test)
    return tests


DOCTESTS = _doctests()


def test_there_are_doctests():
    assert len(DOCTESTS) >= 30


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_docstring_example(test, tmp_path, monkeypatch):
    import convgrad
    import convgrad.nn as nn
    import convgrad.nn.functional as F
    from convgrad import filters

    monkeypatch.chdir(tmp_path)
    convgrad.manual_seed(0)
    # the names the examples take as imported (as a reader's session would have them)
    test.globs = {"np": np, "convgrad": convgrad, "cg": convgrad, "nn": nn, "F": F, "filters": filters,
                  **test.globs}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)


@pytest.mark.slow
def test_the_docs_build_without_a_warning():
    """``python -m docs build``: MkDocs strict, every warning (a broken link, a docstring griffe
    cannot parse) fails it; the tutorials become pages."""
    pytest.importorskip("mkdocstrings")
    import subprocess

    result = subprocess.run([sys.executable, "-m", "docs", "build"], cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "WARNING" not in result.stderr
    site = os.path.join(ROOT, "build", "site")
    assert os.path.exists(os.path.join(site, "api", "convgrad.functional.html"))
    assert os.path.exists(os.path.join(site, "tutorials", "01_convolution_by_hand.html"))
