"""Training from the page: one run at a time per server, in a worker thread, streamed as events.

The run is an ordinary ``convgrad train`` run: :func:`convgrad.training.runner.train_run` writes it
into a new directory of the server's run directory (``config.json``, ``checkpoint.npz``,
``model.npz``, ...), so ``convgrad evaluate``, ``predict``, ``train --resume`` work on it. The
server passes a callback (fit's protocol: ``on_train_begin``, ``on_step_end``, ``on_epoch_end``) that
publishes events, and a ``threading.Event`` as ``stop``: when it is set, the run ends after the
current step and leaves a resumable ``checkpoint.npz``. Pausing parks the worker inside the
callback between two steps.

Events (JSON objects, see :class:`EventHub`): ``{"type": "start", "run", "config"}``,
``{"type": "step", "step", "epoch", "loss", "lr"}``, ``{"type": "filters", "step", "layer", "shape",
"min", "max", "weights"}``, ``{"type": "epoch", ...the epoch record}``, ``{"type": "paused"}``,
``{"type": "resumed"}``, ``{"type": "done" | "stopped", "run", "model", "test_accuracy"}``,
``{"type": "error", "message"}``.
"""
import asyncio
import collections
import contextlib
import os
import threading
import time

import numpy as np

from ..errors import ConvgradError
from .registry import RequestError

LEARN_MODELS = ("lenet5", "resnet20", "conv_autoencoder")  # zoo models that fit 28x28 and train in minutes
OPTIMIZERS = ("adam", "sgd")
LIMITS = {"epochs": (1, 50), "batch_size": (1, 1024), "max_train": (10, 60000)}
STEP_EVENT_SECONDS = 0.05      # at most ~20 step events a second
FILTER_EVENT_SECONDS = 0.5     # first-layer filters twice a second
PARK_TIMEOUT = 60.0
ACTIVE_STATES = ("running", "paused", "stopping")


class EventHub:
    """Fan-out of events from the worker thread to every open event stream (one asyncio queue
    per subscriber, fed thread-safely); keeps the current run's events so a page that connects
    late sees the whole run."""

    def __init__(self, keep=20000):
        self._subscribers = set()
        self._lock = threading.Lock()
        self.history = collections.deque(maxlen=keep)
        self.seq = 0
        self.closed = False

    def subscribe(self):
        """An ``asyncio.Queue`` receiving every event from now on (None when the server closes),
        pre-filled with the current run's events; call from the event loop."""
        queue = asyncio.Queue()
        loop = asyncio.get_running_loop()
        with self._lock:
            for event in self.history:
                queue.put_nowait(event)
            if self.closed:
                queue.put_nowait(None)
            self._subscribers.add((loop, queue))
        return queue

    def unsubscribe(self, queue):
        with self._lock:
            self._subscribers = {(lp, q) for lp, q in self._subscribers if q is not queue}

    def publish(self, event, reset=False):
        with self._lock:
            if reset:
                self.history.clear()
            self.seq += 1
            event = {**event, "seq": self.seq}
            self.history.append(event)
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            self._deliver(loop, queue, event)

    def close(self):
        """End every stream (server shutdown)."""
        with self._lock:
            self.closed = True
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            self._deliver(loop, queue, None)

    def _deliver(self, loop, queue, event):
        try:
            loop.call_soon_threadsafe(queue.put_nowait, event)
        except RuntimeError:  # that stream's loop is gone
            self.unsubscribe(queue)


def _first_conv_weight(model):
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if weight is not None and getattr(weight, "ndim", 0) == 4:
            return name, weight.numpy()
    return None, None


class _EventCallback:
    """The run's callback: events for steps, epochs and filters; parks the worker while paused."""

    def __init__(self, manager):
        self.manager = manager
        self.model = None
        self._last_step_event = self._last_filters = 0.0
        self._last_logs, self._published_step = None, None

    def on_train_begin(self, model, state=None):
        self.model = model
        self._send_filters(0)

    def on_step_end(self, step, logs):
        if logs.get("model") is not None:
            self.model = logs["model"]
        self.manager.step = step
        self._last_logs = (step, logs)
        now = time.monotonic()
        if now - self._last_step_event >= STEP_EVENT_SECONDS or step == 1:
            self._last_step_event = now
            self._publish_step(step, logs)
        if now - self._last_filters >= FILTER_EVENT_SECONDS:
            self._send_filters(step)
        self.manager.park_if_asked()

    def _publish_step(self, step, logs):
        self._published_step = step
        self.manager.publish({"type": "step", "step": step, "epoch": _int(logs.get("epoch")),
                              "loss": _number(logs.get("loss")), "lr": _number(logs.get("lr"))})

    def on_epoch_end(self, epoch, logs):
        if self._last_logs is not None and self._last_logs[0] != self._published_step:
            self._publish_step(*self._last_logs)  # the epoch's last step is always on the curve
        record = {k: (int(v) if isinstance(v, (int, np.integer)) else _number(v)) for k, v in logs.items()
                  if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)}
        self.manager.epochs_done.append(record)
        self.manager.publish({"type": "epoch", **record})
        self._send_filters(self.manager.step)

    def on_train_end(self, result=None):
        pass

    def _send_filters(self, step):
        self._last_filters = time.monotonic()
        if self.model is None:
            return
        name, weight = _first_conv_weight(self.model)
        if weight is None:
            return
        w = np.asarray(weight[:32, :1], np.float64)  # the first input channel of up to 32 filters
        self.manager.publish({"type": "filters", "step": step, "layer": name, "shape": list(weight.shape),
                              "min": float(w.min()), "max": float(w.max()), "weights": np.round(w, 4).tolist()})


def _number(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class TrainingManager:
    """One training run at a time for one server.

    Args:
        runs_dir: where runs are created (a new ``web-YYYYmmdd-HHMMSS`` directory per run).
        registry: the server's :class:`~convgrad.web.registry.Registry`; the finished (or stopped)
            run's weights are added to it.
        hub: the :class:`EventHub` events go to.
    """

    def __init__(self, runs_dir, registry, hub):
        self.runs_dir = os.path.abspath(runs_dir)
        self.registry, self.hub = registry, hub
        self._lock = threading.Lock()
        self._park = threading.Condition()
        self._thread = None
        self._stop = threading.Event()
        self._paused = False
        self._holds = 0          # requests waiting for the worker to park (see ``parked``)
        self._parked = False
        self.state, self.run, self.config, self.error, self.model_id = "idle", None, None, None, None
        self.step, self.epochs_done, self.result = 0, [], None

    # ------------------------------------------------------------------------------------------
    @property
    def running(self):
        """A run is in progress (its final event, if any, not yet published)."""
        return self._thread is not None and self._thread.is_alive() and self.state in ACTIVE_STATES

    def options(self):
        """The choices the Learn view offers."""
        from .. import models

        names = [m for m in LEARN_MODELS if m in models.list_models()]
        return {"models": names, "optimizers": list(OPTIMIZERS),
                "defaults": {"model": "lenet5", "optimizer": "adam", "lr": 0.004, "batch_size": 64, "epochs": 2,
                             "max_train": 5000}, "limits": {k: list(v) for k, v in LIMITS.items()}}

    def start(self, params):
        """Validate ``params`` (model, optimizer, lr, batch_size, epochs, max_train, augment) and start
        the run; RequestError 409 if one is running, 400 for a bad setting."""
        config = self._config(params)
        with self._lock:
            if self.running:
                raise RequestError(f"a training run is already in progress ({self.run}); stop it first or wait "
                                   "for it to finish", 409)
            name = self._new_run_name()
            self._stop.clear()
            self._paused, self._holds, self._parked = False, 0, False
            self.state, self.run, self.config, self.error, self.model_id = "running", name, config, None, None
            self.step, self.epochs_done, self.result = 0, [], None
            self.publish({"type": "start", "run": name, "config": config}, reset=True)
            self._thread = threading.Thread(target=self._work, args=(name, config), name="convgrad-train",
                                            daemon=True)
            self._thread.start()
        return self.status()

    def _config(self, params):
        from ..training.runner import check_config

        if not isinstance(params, dict):
            raise RequestError("the training settings must be a JSON object")
        allowed = {"model", "optimizer", "lr", "batch_size", "epochs", "max_train", "augment", "seed"}
        unknown = set(params) - allowed
        if unknown:
            raise RequestError(f"unknown training settings {sorted(unknown)}; allowed: {sorted(allowed)}")
        defaults = self.options()["defaults"]
        model = params.get("model", defaults["model"])
        if model not in self.options()["models"]:
            raise RequestError(f"model must be one of {', '.join(self.options()['models'])}, got {str(model)[:40]!r}")
        config = {"model": model, "optimizer": params.get("optimizer", defaults["optimizer"]),
                  "lr": params.get("lr", defaults["lr"]), "batch_size": params.get("batch_size", defaults["batch_size"]),
                  "epochs": params.get("epochs", defaults["epochs"]), "augment": params.get("augment", False),
                  "seed": params.get("seed", 0), "max_train": params.get("max_train", defaults["max_train"]),
                  "checkpoint_every": 100}
        for key, (low, high) in LIMITS.items():
            value = config[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise RequestError(f"{key} must be an integer in [{low}, {high}], got {value!r}")
        if not isinstance(config["augment"], bool):
            raise RequestError(f"augment must be true or false, got {config['augment']!r}")
        try:
            check_config(config)  # every setting checked here, so a bad one is a 400, not a failed run
        except ConvgradError as exc:
            raise RequestError(str(exc).replace("train: ", "")) from None
        return config

    def _new_run_name(self):
        base = "web-" + time.strftime("%Y%m%d-%H%M%S")
        name, n = base, 1
        while os.path.exists(os.path.join(self.runs_dir, name)):
            n += 1
            name = f"{base}-{n}"
        return name

    def _work(self, name, config):
        out = os.path.join(self.runs_dir, name)
        callback = _EventCallback(self)
        try:
            result = train_run_with_events(config, out, callback, self._stop, log=self._log)
            self.result = result
            stopped = bool(result.get("stopped"))
            path = os.path.join(out, "checkpoint.npz" if stopped else "model.npz")
            entry = self.registry.add_run_file(name, path) if os.path.isfile(path) else None
            self.model_id = entry.id if entry is not None else None
            self.state = "stopped" if stopped else "finished"
            self.publish({"type": "stopped" if stopped else "done", "run": name, "model": self.model_id,
                          "test_accuracy": _number(result.get("test_accuracy")),
                          "test_loss": _number(result.get("test_loss")), "step": self.step})
        except Exception as exc:  # the worker reports every failure as an event, never dies silently
            self.state, self.error = "error", " ".join(str(exc).split()) or type(exc).__name__
            self.publish({"type": "error", "run": name, "message": self.error})
        finally:
            with self._park:
                self._parked = False
                self._park.notify_all()

    def _log(self, line):
        self.publish({"type": "log", "message": str(line)})

    def publish(self, event, reset=False):
        self.hub.publish(event, reset=reset)

    # ------------------------------------------------------------------------------------------
    def stop(self):
        """Ask the run to end after its current step (it writes checkpoint.npz)."""
        if not self.running:
            raise RequestError("no training run is in progress", 409)
        self.request_stop()
        return self.status()

    def pause(self, paused=True):
        if not self.running:
            raise RequestError("no training run is in progress", 409)
        with self._park:
            self._paused = bool(paused)
            self._park.notify_all()
        if not self._stop.is_set():
            self.state = "paused" if paused else "running"
        self.publish({"type": "paused" if paused else "resumed", "step": self.step})
        return self.status()

    def park_if_asked(self):
        """Called by the worker between steps: wait while paused or while a request holds it."""
        with self._park:
            while (self._paused or self._holds) and not self._stop.is_set():
                self._parked = True
                self._park.notify_all()
                self._park.wait(0.5)
            self._parked = False

    @contextlib.contextmanager
    def parked(self):
        """A block during which no training step runs (the worker waits between two steps)."""
        if threading.current_thread() is self._thread:  # the worker itself, after its run
            yield
            return
        with self._park:
            self._holds += 1
            deadline = time.monotonic() + PARK_TIMEOUT
            while self.running and not self._parked and not self._stop.is_set() and time.monotonic() < deadline:
                self._park.wait(0.1)
        try:
            yield
        finally:
            with self._park:
                self._holds -= 1
                self._park.notify_all()

    def request_stop(self):
        """Ask a running run to end after its current step, without waiting (server shutdown)."""
        if self.running:
            self._stop.set()
            self.state = "stopping"
            with self._park:
                self._paused = False
                self._park.notify_all()

    def shutdown(self, timeout=120.0):
        """Stop the run (if any) and wait for the worker: it leaves a loadable checkpoint."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self):
        return {"state": self.state, "running": self.running, "run": self.run, "config": self.config,
                "step": self.step, "epochs": list(self.epochs_done), "model": self.model_id, "error": self.error,
                "paused": self._paused}


def train_run_with_events(config, out, callback, stop, log=None):
    """``train_run(config, out=out, callbacks=[callback], stop=stop)`` (INTERFACES.md section 2), quietly."""
    from ..training.runner import train_run

    return train_run(config, out=out, log=log, progress=False, callbacks=[callback], stop=stop)
