"""The run directory: its files, the lock that keeps a second trainer out, and the metrics file.

    config.json      the run's settings (everything needed to rebuild model, optimizer and data)
    checkpoint.npz   the latest resumable checkpoint, written atomically (every --checkpoint-every N
                     steps, when the run is stopped, and at the end)
    model.npz        the final weights, preprocessing, class names and test figures
    metrics.jsonl    one JSON object per line (see :class:`MetricsWriter`)
    split.json       the seeded validation split, when the data had no test split
    filters.npz      the first layer's filters over time (with --record-filters N)
    run.lock         while a process trains into the directory: its pid, host and start time

A directory is *reusable* for a new run when it holds no checkpoint and no model (a run that
failed before its first checkpoint); :func:`check_new_run_dir` says why otherwise.
"""
import json
import os
import socket
import time

from ..errors import ConvgradError
from ..io.checkpoint import atomic_write

CONFIG_FILE, CHECKPOINT_FILE, MODEL_FILE = "config.json", "checkpoint.npz", "model.npz"
METRICS_FILE, SPLIT_FILE, LOCK_FILE, FILTERS_FILE = "metrics.jsonl", "split.json", "run.lock", "filters.npz"


class RunError(ConvgradError, ValueError):
    """A run directory cannot be used (missing, finished, busy, or from another version)."""


def write_json(path, obj):
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=1, sort_keys=True).encode("utf-8")))


def default_run_dir():
    """``runs/<timestamp>`` (with a suffix if that exists already)."""
    base = os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}-{n}"
    return path


def check_new_run_dir(run_dir):
    """Refuse a ``--out`` that is a file, holds a run with a checkpoint or model, or is locked."""
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise RunError(f"--out '{run_dir}' exists and is not a directory")
    holder = lock_holder(run_dir)
    if holder is not None:
        raise RunError(f"'{run_dir}' is being trained by process {holder['pid']} on {holder['host']} "
                       f"({LOCK_FILE}); wait for it or choose another --out")
    if any(os.path.exists(os.path.join(run_dir, f)) for f in (CHECKPOINT_FILE, MODEL_FILE)):
        raise RunError(f"'{run_dir}' already holds a run; continue it with --resume {run_dir} or choose another --out")


# ----------------------------------------------------------------------------------------------
# The lock
# ----------------------------------------------------------------------------------------------
def _pid_alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except (OverflowError, ValueError, OSError):
        return False
    return True


def _read_lock(path):
    try:
        with open(path, encoding="utf-8") as f:
            info = json.load(f)
        return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else {}
    except (OSError, ValueError):
        return {}


def lock_holder(run_dir):
    """The live owner of ``run_dir``'s lock (``{"pid", "host", "started"}``), or None when there is
    no lock or it is stale (its process is gone: killed, crashed)."""
    info = _read_lock(os.path.join(run_dir, LOCK_FILE))
    if not info:
        return None
    if info.get("host") not in (None, socket.gethostname()):
        return info  # another machine's process: cannot be checked, assume it is alive
    return info if _pid_alive(info["pid"]) else None


class RunLock:
    """``run.lock`` in a run directory, taken with O_EXCL; a stale lock (dead owner) is replaced.

    Use as a context manager; :attr:`replaced` holds the stale owner's info if one was removed.

    Raises:
        RunError: another live process holds the lock.
    """

    def __init__(self, run_dir):
        self.path = os.path.join(run_dir, LOCK_FILE)
        self.replaced = None
        self._held = False

    def acquire(self):
        """Take the run directory's lock (``run.lock``); a stale lock of a dead process is replaced. Raises RunError if
        a live trainer holds it."""
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = lock_holder(os.path.dirname(self.path))
                if holder is not None:
                    raise RunError(f"'{os.path.dirname(self.path)}' is being trained by process {holder['pid']} on "
                                   f"{holder['host']} since {holder.get('started', '?')} ({LOCK_FILE}); a second "
                                   "trainer is refused") from None
                self.replaced = _read_lock(self.path) or {"pid": None}
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(info, f)
            self._held = True
            return self
        raise RunError(f"could not take the lock '{self.path}'")

    def release(self):
        """Remove the lock if this process holds it."""
        if self._held:
            self._held = False
            if _read_lock(self.path).get("pid") == os.getpid():
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


# ----------------------------------------------------------------------------------------------
# metrics.jsonl
# ----------------------------------------------------------------------------------------------
def _number(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


EPOCH_ROW_SKIP = ("epoch", "step")


class MetricsWriter:
    """A ``fit`` callback writing ``metrics.jsonl``: one JSON object per line.

    - ``{"kind": "epoch", "epoch" (1-based), "step", "loss", "accuracy" (classification),
      "val_*" (each epoch, with a validation loader) or "test_*" (the last epoch's row, from
      ``final_eval``), "lr", "seconds", "images_per_second", ...the objective's numbers}``
    - ``{"kind": "step", "epoch", "step", "loss", "lr", ...}`` every ``every`` optimizer steps
    - other rows (``{"kind": "health", ...}``) through :meth:`write`.

    On a resumed run, rows past the checkpoint (epoch rows after its completed epochs, other rows
    after its step) are dropped first, so the file equals an uninterrupted run's (times aside).

    Args:
        path: the file.
        every: a step row every N steps (None: none).
        final_eval: called at the end of the last epoch; the dict it returns (``{"test_accuracy":
            ...}``) goes into that epoch's row.
        epochs: the run's number of epochs (to know the last one).
    """

    def __init__(self, path, every=10, final_eval=None, epochs=None):
        self.path, self.every, self.final_eval, self.epochs = path, every, final_eval, epochs
        self.final = None
        self._file = None

    def on_train_begin(self, model, state):
        kept = []
        if state.get("resumed") and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        row = json.loads(line)
                    except ValueError:
                        continue  # a line cut by a kill
                    if row.get("kind") == "epoch":
                        keep = row.get("epoch", 0) <= state["epoch"]
                    else:
                        keep = row.get("step", 0) <= state["step"]
                    if keep:
                        kept.append(row)
        atomic_write(self.path, lambda f: f.write("".join(json.dumps(r) + "\n" for r in kept).encode("utf-8")))
        self._file = open(self.path, "a", encoding="utf-8")

    def write(self, row):
        """Append one row (a dict of JSON-able numbers and strings)."""
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(json.dumps({k: (v if isinstance(v, str) else _number(v)) for k, v in row.items()}) + "\n")
        self._file.flush()

    def on_step_end(self, step, logs):
        if self.every and step % self.every == 0:
            row = {"kind": "step", "epoch": logs["epoch"], "step": step}
            row.update({k: v for k, v in logs.items() if k not in ("model", "batch", "epoch", "step")})
            self.write(row)

    def on_epoch_end(self, epoch, record):
        row = {"kind": "epoch", "epoch": record["epoch"], "step": record["step"]}
        row.update({k: v for k, v in record.items() if k not in EPOCH_ROW_SKIP})
        if self.final_eval is not None and self.epochs is not None and record["epoch"] == self.epochs:
            self.final = self.final_eval()
            row.update(self.final)
        self.write(row)

    def on_train_end(self, result):
        self.close()

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


def read_metrics(run_dir):
    """The rows of ``run_dir/metrics.jsonl`` (a line cut by a kill is skipped)."""
    rows = []
    path = os.path.join(run_dir, METRICS_FILE)
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows
