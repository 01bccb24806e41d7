"""Which public names of convgrad have no docstring (the docs build fails while any is missing).

A public name is one a package exports (its ``__all__``, else every name not starting with ``_``)
that convgrad itself defines: functions, classes, and the classes' own public methods and
properties other than ``forward`` / ``backward`` (whose behaviour the class docstring describes).

    python -m docs coverage          # prints the missing ones and their count
"""
import importlib
import inspect

# the packages whose names the API reference documents, in its order
PACKAGES = ("convgrad", "convgrad.nn", "convgrad.nn.functional", "convgrad.optim", "convgrad.optim.lr_scheduler",
            "convgrad.data", "convgrad.models", "convgrad.io", "convgrad.inspect", "convgrad.onnx",
            "convgrad.training", "convgrad.filters", "convgrad.image", "convgrad.visualize", "convgrad.codes",
            "convgrad.distributed", "convgrad.utils.data", "convgrad.vision", "convgrad.vision.transforms",
            "convgrad.vision.datasets", "convgrad.vision.utils")
SKIPPED_METHODS = {"forward", "backward"}


def available_packages():
    """The packages of :data:`PACKAGES` that this checkout has (some come with newer work)."""
    found = []
    for name in PACKAGES:
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            continue
    return found


def public_names(module):
    """``[(qualified name, object)]`` of the public functions and classes ``module`` exports."""
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    out = []
    for name in names:
        obj = getattr(module, name, None)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if not (getattr(obj, "__module__", "") or "").startswith("convgrad"):
            continue  # re-exported from NumPy or the standard library
        out.append((f"{module.__name__}.{name}", obj))
    return out


def _own_members(cls):
    for name, member in vars(cls).items():
        if name.startswith("_") or name in SKIPPED_METHODS:
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if inspect.isfunction(member) or isinstance(member, property):
            yield name, member


def missing_docstrings():
    """Sorted qualified names of public functions, classes and methods without a docstring."""
    missing, seen = set(), set()
    for module in available_packages():
        for qualname, obj in public_names(module):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if not (obj.__doc__ or "").strip():
                missing.add(qualname)
            if inspect.isclass(obj):
                for name, member in _own_members(obj):
                    doc = member.fget.__doc__ if isinstance(member, property) and member.fget else member.__doc__
                    if not (doc or "").strip():
                        missing.add(f"{obj.__module__}.{obj.__qualname__}.{name}")
    return sorted(missing)


def count_public():
    """How many distinct public functions, classes and methods the packages export."""
    seen, count = set(), 0
    for module in available_packages():
        for _, obj in public_names(module):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            count += 1 + (sum(1 for _ in _own_members(obj)) if inspect.isclass(obj) else 0)
    return count
