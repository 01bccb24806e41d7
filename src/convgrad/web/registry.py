"""Which models a workbench server knows: the checkpoints it was started with and the runs in its
run directory, each under a short id.

A request names a model only by its id, a key of an in-memory dict: no request path ever becomes a
file path. The run directory is scanned by the server itself (direct children only, no symlinks,
every path checked to resolve inside the directory).
"""
import os
import re
import threading
from contextlib import nullcontext

import numpy as np

from ..errors import ConvgradError
from ..io.checkpoint import load_checkpoint
from ..tensor import Tensor, no_grad

# One model computation at a time in the whole server: forward hooks are per model instance, and
# summary()'s tracer patches Module.__call__ process-wide (see convgrad.inspect.trace).
MODEL_LOCK = threading.RLock()

RUN_FILES = ("model.npz", "checkpoint.npz")  # a finished run's weights first, else its last checkpoint


class RequestError(ConvgradError, ValueError):
    """A request the workbench cannot answer; ``status`` is the HTTP status (4xx)."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


class ModelEntry:
    """One loaded model: ``id``, ``title``, ``source`` ("checkpoint" or "run"), ``path``, the model
    (eval mode), its ``input_size`` (C, H, W), ``mean``/``std``, ``kind`` ("classifier",
    "autoencoder" or "other"), ``class_names``, ``extra`` (the checkpoint's extra metadata)."""

    def __init__(self, entry_id, title, source, path, checkpoint):
        self.id, self.title, self.source, self.path = entry_id, title, source, path
        pre = checkpoint.preprocessing or {}
        self.model = checkpoint.build_model()
        self.model.eval()
        self.model_name = checkpoint.model_name
        self.model_kwargs = dict(checkpoint.model_kwargs)
        self.extra = checkpoint.extra or {}
        self.stopped = bool(checkpoint.training)  # a checkpoint with training state: a run not finished
        self.input_size = tuple(int(v) for v in pre.get("input_size") or (1, 28, 28))
        channels = self.input_size[0]
        self.mean = np.resize(np.asarray(pre.get("mean", [0.0]), np.float32), channels).reshape(channels, 1, 1)
        self.std = np.resize(np.asarray(pre.get("std", [1.0]), np.float32), channels).reshape(channels, 1, 1)
        self.summary = None  # filled by Registry (it needs the tracer, see MODEL_LOCK)
        self.explain = None
        self.codes = {}  # number of test digits -> (codes, source description)
        with MODEL_LOCK, no_grad():
            out = self.model(Tensor(np.zeros((1,) + self.input_size, np.float32)))
        out_shape = tuple(out.shape) if isinstance(out, Tensor) else ()
        if len(out_shape) == 2:
            self.kind = "classifier"
            names = pre.get("classes") or self.extra.get("class_names") or [str(i) for i in range(out_shape[1])]
            self.class_names = [str(n) for n in names][:out_shape[1]]
        elif out_shape == (1,) + self.input_size:
            self.kind, self.class_names = "autoencoder", []
        else:
            self.kind, self.class_names = "other", []

    def describe(self):
        """The short JSON description listed by ``GET /api/models``."""
        return {"id": self.id, "title": self.title, "source": self.source, "model": self.model_name,
                "kind": self.kind, "input_size": list(self.input_size), "classes": self.class_names,
                "test_accuracy": self.extra.get("test_accuracy"), "stopped": self.stopped,
                "params": int(sum(p.numel() for p in self.model.parameters()))}


def _slug(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:60] or "model"


class Registry:
    """The models of one server. ``quiet`` is a context manager factory under which no training
    step runs (the training manager's ``parked``), needed while ``summary()`` traces a model."""

    def __init__(self, checkpoints=(), runs_dir=None, quiet=nullcontext):
        self.runs_dir = os.path.realpath(runs_dir) if runs_dir is not None else None
        self.quiet = quiet
        self.entries = {}
        self.problems = []  # one line per run that could not be loaded
        self._by_path = {}  # realpath -> (mtime, entry id)
        self._lock = threading.Lock()
        for n, path in enumerate(checkpoints, start=1):
            ckpt = load_checkpoint(path)  # a bad checkpoint on the command line is the user's error
            base = os.path.splitext(os.path.basename(os.fspath(path)))[0]
            parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
            title = f"{parent}/{base}" if parent else base
            self._add(ModelEntry(f"m{n}-{_slug(title)}", title, "checkpoint", os.path.abspath(path), ckpt))

    def _add(self, entry):
        from ..inspect import explain, summary

        with self.quiet(), MODEL_LOCK:
            entry.summary = summary(entry.model, entry.input_size)
            entry.explain = explain(entry.model, entry.input_size)
        with self._lock:
            self.entries[entry.id] = entry
        return entry

    def get(self, entry_id):
        """The entry ``entry_id``; RequestError 404 if there is none."""
        if not isinstance(entry_id, str):
            entry_id = None
        entry = self.entries.get(entry_id)
        if entry is None and entry_id is not None and entry_id.startswith("run-"):
            self.refresh()  # a run that appeared since
            entry = self.entries.get(entry_id)
        if entry is None:
            raise RequestError(f"no model with id {str(entry_id)[:80]!r}; GET /api/models lists them", 404)
        return entry

    def list(self):
        self.refresh()
        return [e.describe() for e in self.entries.values()]

    # ------------------------------------------------------------------------------------------
    # The run directory
    # ------------------------------------------------------------------------------------------
    def run_path(self, name, *parts):
        """The real path of run ``name`` (a direct child of the run directory, not a symlink) and
        optionally of a file in it; None if there is no such run or the path would leave it."""
        if self.runs_dir is None or not isinstance(name, str) or name in ("", ".", "..") or name.startswith("."):
            return None
        if "/" in name or "\\" in name or "\0" in name or os.path.isabs(name):
            return None
        try:
            children = set(os.listdir(self.runs_dir))
        except OSError:
            return None
        if name not in children:
            return None
        path = os.path.join(self.runs_dir, name, *parts)
        if any(os.path.islink(os.path.join(self.runs_dir, name, *parts[:i])) for i in range(len(parts) + 1)):
            return None
        real = os.path.realpath(path)
        if os.path.commonpath([real, self.runs_dir]) != self.runs_dir:
            return None
        return real

    def run_names(self):
        """Names of the run directories (children holding a config.json), newest first."""
        if self.runs_dir is None or not os.path.isdir(self.runs_dir):
            return []
        names = [n for n in os.listdir(self.runs_dir) if self.run_path(n, "config.json")
                 and os.path.isfile(self.run_path(n, "config.json"))]
        return sorted(names, key=lambda n: os.path.getmtime(os.path.join(self.runs_dir, n)), reverse=True)

    def refresh(self):
        """Load the runs of the run directory that are new or changed since the last look (not the
        ones still training: they hold a ``run.lock``)."""
        for name in self.run_names():
            lock = self.run_path(name, "run.lock")
            if lock is not None and os.path.exists(lock):
                continue  # still training: its checkpoint is offered when the run ends
            for filename in RUN_FILES:
                path = self.run_path(name, filename)
                if path is not None and os.path.isfile(path):
                    self.add_run_file(name, path)
                    break

    def add_run_file(self, name, path):
        """Load (or reload, if it changed) the weights of run ``name`` from ``path``; the entry or None."""
        try:
            mtime = os.path.getmtime(path)
        except OSError:
            return None
        known = self._by_path.get(os.path.join(name, ""))
        if known is not None and known[0] == (path, mtime):
            return self.entries.get(known[1])
        entry_id = f"run-{_slug(name)}"
        try:
            ckpt = load_checkpoint(path)
            title = f"run {name}" + (" (stopped)" if os.path.basename(path) == "checkpoint.npz" else "")
            entry = self._add(ModelEntry(entry_id, title, "run", path, ckpt))
        except (ConvgradError, OSError) as exc:
            self.problems.append(f"run {name}: {' '.join(str(exc).split())}")
            entry = None
        self._by_path[os.path.join(name, "")] = ((path, mtime), entry_id)
        return entry
