"""The training loop: ``fit`` and ``evaluate``, with crash-safe checkpoints and exact resume.

    model = convgrad.models.lenet5(variant="modern")
    opt = convgrad.optim.Adam(model.parameters(), lr=1e-3)
    history = fit(model, train_loader, opt, epochs=10, checkpoint_path="run/checkpoint.npz",
                  checkpoint_every=100)
    print(evaluate(model, test_loader))

Resuming: every ``checkpoint_every`` optimizer steps, ``fit`` writes (atomically) the weights, the
optimizer and scheduler state, the position (epoch, batch, step), the data loader's seed and
convgrad's global RNG state. ``fit(..., resume=load_checkpoint(path))`` restores all of it and
continues with exactly the batches, augmentations and random numbers the interrupted run would
have used, so the final weights are bit-identical to an uninterrupted run with the same seed.
"""
import math
import sys
import time

from .. import backend
from ..errors import ArgumentError, ConvgradError
from ..tensor import detect_anomaly as detect_anomaly_ctx
from ..tensor import no_grad
from .metrics import RunningStats, correct_count

NONFINITE_ACTIONS = ("stop", "skip")
MAX_CONSECUTIVE_SKIPS = 20


class TrainingDivergedError(ConvgradError, FloatingPointError):
    """The loss became NaN or Inf during training."""


def _default_loss():
    from ..functional import cross_entropy

    return cross_entropy


def _lr(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    return groups[0].get("lr") if groups else None


def evaluate(model, loader, progress=False):
    """Top-1 accuracy of ``model`` over ``loader`` (eval mode, no graph); the mode is restored.

    Args:
        model: a classifier returning logits.
        loader: batches of ``(images, labels)``.
        progress: a tqdm bar on stderr.

    Returns:
        The fraction of samples whose arg-max logit is the label.
    """
    was_training = model.training
    model.eval()
    correct = seen = 0
    try:
        with no_grad():
            batches = loader
            if progress:
                from tqdm import tqdm
                batches = tqdm(loader, desc="evaluate", leave=False, file=sys.stderr)
            for images, labels in batches:
                correct += correct_count(model(images).numpy(), labels.numpy())
                seen += len(labels)
    finally:
        model.train(was_training)
    if seen == 0:
        raise ArgumentError("evaluate: the loader yielded no samples")
    return correct / seen


class _Checkpointer:
    """Writes the periodic checkpoint and remembers the last good one."""

    def __init__(self, path, every, save_kwargs):
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ArgumentError(f"fit: checkpoint_every must be a positive integer, got {every!r}")
        if every is not None and path is None:
            raise ArgumentError("fit: checkpoint_every needs a checkpoint_path")
        self.path, self.every, self.save_kwargs = path, every, dict(save_kwargs or {})
        self.last_step = None

    def due(self, step):
        return self.every is not None and step % self.every == 0

    def save(self, model, optimizer, scheduler, training):
        from ..io.checkpoint import save_checkpoint

        save_checkpoint(self.path, model, optimizer=optimizer, scheduler=scheduler, training=training,
                        **self.save_kwargs)
        self.last_step = training["step"]


class History(list):
    """What :func:`fit` returns: the list of epoch records, plus ``stopped`` (True when ``stop``
    ended the run early; a resumable checkpoint was written if ``checkpoint_path`` was given) and
    ``step`` (optimizer steps done)."""

    stopped = False
    step = 0


def _call(callbacks, method, *args):
    for cb in callbacks:
        fn = getattr(cb, method, None)
        if fn is not None:
            fn(*args)


class _NonFinite(Exception):
    """Raised inside a step by the loop's update when a loss is NaN/Inf."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value


def fit(model, train_loader, optimizer, epochs, loss_fn=None, val_loader=None, scheduler=None,
        scheduler_interval="epoch", callbacks=(), checkpoint_path=None, checkpoint_every=None,
        checkpoint_kwargs=None, resume=None, on_nonfinite="stop", detect_anomaly=False, progress=True,
        log=None, objective=None, stop=None, distributed=None):
    """Train ``model`` for ``epochs`` epochs; return the history (one dict per epoch).

    Args:
        model: a Module (returning logits, for the default classification objective).
        train_loader: a :class:`~convgrad.data.DataLoader` (its seed fixes order and augmentation).
        optimizer: a ``convgrad.optim`` optimizer over the model's parameters, or, for objectives
            that train several networks (:class:`~convgrad.training.objectives.GAN`), an
            :class:`~convgrad.training.groups.Optimizers` naming one optimizer per network.
        epochs: total number of epochs (a resumed run counts the ones already done).
        loss_fn: ``loss_fn(logits, labels) -> scalar tensor`` for classification; default
            ``F.cross_entropy`` (plus auxiliary heads for GoogLeNet). Not used with ``objective``.
        val_loader: if given, the objective's held-out numbers are measured after each epoch
            (``val_accuracy`` for classification, ``val_loss`` ... otherwise).
        scheduler: a learning-rate scheduler (or :class:`~convgrad.training.groups.Schedulers`),
            stepped after each epoch (``scheduler_interval="epoch"``) or optimizer step (``"step"``).
        callbacks: objects with any of ``on_train_begin(model, state)``, ``on_step_end(step, logs)``,
            ``on_epoch_end(epoch, record)``, ``on_train_end(result)``. ``state``: ``epoch``
            (epochs done), ``batch``, ``step``, ``epochs``, ``steps_per_epoch``, ``objective``
            (its name), ``resumed``. Step ``logs``: ``loss``, ``epoch`` (1-based), ``batch``
            (0-based, in the epoch), ``step``, ``lr``, ``model`` and the objective's numbers.
            ``result``: ``{"history", "stopped", "step"}``.
        checkpoint_path, checkpoint_every: write a resumable checkpoint every N optimizer steps,
            when ``stop`` ends the run, and at the end (so a finished run can be extended).
        checkpoint_kwargs: passed to ``save_checkpoint`` (``preprocessing``, ``extra``, ``model_name``...).
        resume: a :class:`~convgrad.io.Checkpoint` (or its ``training`` dict) to continue from.
        on_nonfinite: "stop" raises TrainingDivergedError at a NaN/Inf loss; "skip" skips the batch
            (no further update) and stops after 20 bad batches in a row.
        detect_anomaly: run under ``convgrad.detect_anomaly()`` (the first op making NaN/Inf raises).
        progress: show a tqdm bar (loss, accuracy, images/s) on stderr when it is a terminal.
        log: callable taking one line per epoch (e.g. ``print``), or None.
        objective: what a step computes (:mod:`convgrad.training.objectives`); default
            ``Classification(loss_fn)``.
        stop: an object with ``is_set()`` (e.g. ``threading.Event``), checked after every step:
            when set, the loop ends, writes a checkpoint (with ``checkpoint_path``) and returns
            a history with ``stopped = True``.
        distributed: data-parallel training over MPI: a
            :class:`convgrad.distributed.training.DataParallelRun` (``model`` and
            ``train_loader`` wrapped by it). Rank 0 alone writes checkpoints (of the bare model);
            every step's numbers and the stop request are agreed over the ranks.

    Returns:
        :class:`History`: a list of epoch records (``epoch``, ``loss``, ``accuracy`` for
        classification, the objective's numbers, ``val_*``, ``lr``, ``seconds``,
        ``images_per_second``, ``step``).

    Raises:
        TrainingDivergedError: the loss became NaN/Inf (message suggests causes and names the last
            good checkpoint).
        ArgumentError: bad settings, or optimizers that do not match the objective's networks.

    Example::

        >>> history = fit(model, loader, Adam(model.parameters(), lr=1e-3), epochs=3)  # doctest: +SKIP
        >>> history[-1]["accuracy"]  # doctest: +SKIP
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ArgumentError(f"fit: epochs must be a positive integer, got {epochs!r}")
    if on_nonfinite not in NONFINITE_ACTIONS:
        raise ArgumentError(f"fit: on_nonfinite must be one of {NONFINITE_ACTIONS}, got {on_nonfinite!r}")
    if scheduler_interval not in ("epoch", "step"):
        raise ArgumentError(f"fit: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
    if stop is not None and not callable(getattr(stop, "is_set", None)):
        raise ArgumentError(f"fit: stop must have an is_set() method (e.g. threading.Event), got {stop!r}")
    if objective is None:
        from .objectives import Classification

        objective = Classification(loss_fn)
    elif loss_fn is not None:
        raise ArgumentError("fit: give the loss through the objective, not loss_fn, when objective= is set")
    optimizers = _optimizer_map(optimizer, objective)
    ckpt = _Checkpointer(checkpoint_path, checkpoint_every, checkpoint_kwargs)
    if checkpoint_path is not None and (distributed is None or distributed.is_main):  # rank 0 writes them
        from ..io.checkpoint import check_saveable  # fail now, not at the first checkpoint after N steps of work
        check_saveable(checkpoint_path, model if distributed is None else distributed.unwrap(model), optimizer,
                       scheduler)
    pos = {"epoch": 0, "batch": 0, "step": 0, "stats": {}, "history": []}
    if resume is not None:
        base = distributed.unwrap(model) if distributed is not None else model
        pos = _restore(resume, base, optimizer, scheduler, train_loader)
    history = History(pos["history"])
    loop = _Loop(model, train_loader, optimizer, optimizers, scheduler, scheduler_interval, objective, callbacks,
                 ckpt, on_nonfinite, progress, epochs, stop, distributed)
    loop.step = history.step = pos["step"]
    _call(callbacks, "on_train_begin", model, {"epoch": pos["epoch"], "batch": pos["batch"], "step": pos["step"],
                                               "epochs": epochs, "steps_per_epoch": len(train_loader),
                                               "objective": objective.name, "resumed": resume is not None})
    with detect_anomaly_ctx(bool(detect_anomaly)):
        for epoch in range(pos["epoch"], epochs):
            start_batch = pos["batch"] if epoch == pos["epoch"] else 0
            stats = RunningStats(**pos["stats"]) if epoch == pos["epoch"] else RunningStats()
            record = loop.run_epoch(epoch, start_batch, stats, history)
            history.step = loop.step
            if record is None:  # stopped mid-epoch; the checkpoint is written
                history.stopped = True
                break
            if val_loader is not None:
                for key, value in objective.evaluate(model, val_loader).items():
                    record[f"val_{key}"] = value
            history.append(record)
            _call(callbacks, "on_epoch_end", epoch, record)
            if log is not None:
                log(_epoch_line(record, epochs))
            if stop is not None and loop.stop_requested() and epoch + 1 < epochs:
                loop.save(epoch + 1, 0, RunningStats(), history)
                history.stopped = True
                break
    if not history.stopped and ckpt.path is not None and (resume is None or pos["epoch"] < epochs):
        loop.save(epochs, 0, RunningStats(), history)  # the end state: `--resume --epochs N` extends from it
    _call(callbacks, "on_train_end", {"history": history, "stopped": history.stopped, "step": history.step})
    return history


def _optimizer_map(optimizer, objective):
    """``{key: optimizer}`` for the objective's networks; refuse a mismatch before any step."""
    keys = tuple(objective.optimizer_keys)
    if hasattr(optimizer, "members"):
        if set(optimizer.keys()) != set(keys):
            raise ArgumentError(f"fit: the {objective.name} objective trains {', '.join(keys)}; the optimizers "
                                f"given are named {', '.join(optimizer.keys())}")
        return {key: optimizer[key] for key in keys}
    if keys != ("model",):
        raise ArgumentError(f"fit: the {objective.name} objective needs one optimizer per network ({', '.join(keys)}): "
                            f"pass convgrad.training.Optimizers({{{', '.join(repr(k) + ': ...' for k in keys)}}})")
    return {"model": optimizer}


class _Loop:
    """One epoch at a time; keeps the global step count."""

    def __init__(self, model, loader, optimizer, optimizers, scheduler, interval, objective, callbacks, ckpt,
                 on_nonfinite, progress, epochs, stop, distributed=None):
        self.distributed, self.agreed_stop = distributed, False
        self.model, self.loader, self.optimizer, self.scheduler = model, loader, optimizer, scheduler
        self.optimizers, self.objective = optimizers, objective
        self.interval, self.callbacks, self.ckpt = interval, callbacks, ckpt
        self.on_nonfinite, self.epochs, self.stop = on_nonfinite, epochs, stop
        self.progress = bool(progress) and _is_terminal(sys.stderr)
        self.step = 0

    def _state(self, epoch, batch, stats, history):
        return {"epoch": epoch, "batch": batch, "step": self.step, "epochs": self.epochs,
                "loader": self.loader.state_dict(), "rng": backend.get_rng_state(),
                "stats": stats.state_dict(), "history": list(history), "objective": self.objective.describe()}

    def save(self, epoch, batch, stats, history):
        dist = self.distributed
        if self.ckpt.path is not None and (dist is None or dist.is_main):
            model = self.model if dist is None else dist.unwrap(self.model)
            self.ckpt.save(model, self.optimizer, self.scheduler, self._state(epoch, batch, stats, history))

    def stop_requested(self):
        """The stop request, agreed by all ranks at the last step when distributed."""
        if self.distributed is not None:
            return self.agreed_stop
        return self.stop is not None and self.stop.is_set()

    def _update(self, loss, key="model"):
        """Check the loss, then zero the gradients of optimizer ``key``, back-propagate and step it."""
        value = float(loss.item())
        if self.distributed is not None and not self.distributed.agree_finite(value):
            raise _NonFinite(value if not math.isfinite(value) else math.nan)  # NaN on another rank
        if not math.isfinite(value):
            raise _NonFinite(value)
        optimizer = self.optimizers[key]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return value

    def run_epoch(self, epoch, start_batch, stats, history):
        """Train one epoch from ``start_batch``; its record, or None if ``stop`` ended it early."""
        from tqdm import tqdm

        self.model.train()
        n_batches = len(self.loader)
        bar = tqdm(total=n_batches, initial=start_batch, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False,
                   disable=not self.progress, file=sys.stderr, dynamic_ncols=True)
        t0, seen_here, skipped_in_row = time.perf_counter(), 0, 0
        accuracy = self.objective.has_accuracy
        for b, (images, labels) in enumerate(self.loader.iter_epoch(epoch, start_batch), start=start_batch):
            try:
                numbers = self.objective.train_step(self.model, images, labels, self._update)
            except _NonFinite as bad:
                skipped_in_row += 1
                self._nonfinite(bad.value, epoch, b, skipped_in_row)
                bar.update(1)
                continue
            skipped_in_row = 0
            self.step += 1
            if self.scheduler is not None and self.interval == "step":
                self.scheduler.step()
            n = len(labels)
            if self.distributed is not None:  # the global batch's numbers; a stop on any rank stops all
                numbers, n, self.agreed_stop = self.distributed.reduce_step(
                    numbers, n, self.stop is not None and self.stop.is_set())
            loss_value, correct = numbers.pop("loss"), numbers.pop("correct", 0)
            stats.update(loss_value, correct, n, **numbers)
            seen_here += n
            if self.callbacks:
                logs = {"loss": loss_value, "epoch": epoch + 1, "batch": b, "step": self.step,
                        "lr": _lr(self.optimizer), "model": self.model, **numbers}
                _call(self.callbacks, "on_step_end", self.step, logs)
            stopping = self.stop_requested()
            if self.ckpt.due(self.step) or stopping:
                self.save(epoch, b + 1, stats, history)
            bar.update(1)
            if self.progress and (b % 10 == 0 or b == n_batches - 1):
                rate = seen_here / max(time.perf_counter() - t0, 1e-9)
                shown = f"loss {stats.loss:.4f}" + (f" acc {stats.accuracy:.4f}" if accuracy else "")
                shown += "".join(f" {k} {v:.4f}" for k, v in stats.means().items() if k in SHOWN)
                bar.set_postfix_str(f"{shown} {rate:.0f} img/s")
            if stopping and b + 1 < n_batches:
                bar.close()
                return None
        bar.close()
        if self.scheduler is not None and self.interval == "epoch":
            self.scheduler.step()
        seconds = time.perf_counter() - t0
        record = {"epoch": epoch + 1, "loss": stats.loss}
        if accuracy:
            record["accuracy"] = stats.accuracy
        record.update(stats.means())
        record.update({"lr": _lr(self.optimizer), "seconds": seconds,
                       "images_per_second": seen_here / max(seconds, 1e-9), "step": self.step})
        return record

    def _nonfinite(self, value, epoch, batch, in_row):
        where = f"epoch {epoch + 1}, batch {batch + 1} (after {self.step} optimizer steps)"
        if self.on_nonfinite == "skip" and in_row <= MAX_CONSECUTIVE_SKIPS:
            print(f"warning: loss is {value} at {where}; batch skipped", file=sys.stderr)
            return
        lr = _lr(self.optimizer)
        if self.ckpt.last_step is not None:
            kept = f"The last good checkpoint ({self.ckpt.path}, step {self.ckpt.last_step}) is kept"
        else:
            kept = "No checkpoint was written yet (use checkpoint_every / --checkpoint-every)"
        repeat = f" ({in_row} bad batches in a row)" if in_row > 1 else ""
        raise TrainingDivergedError(
            f"training diverged: loss is {value} at {where}{repeat}. Likely causes: a learning rate "
            f"too high (lr={lr}: try 10x lower), an unsuitable weight initialisation, or bad input "
            f"data (NaN/Inf pixels). {kept}. detect_anomaly (--detect-anomaly) names the first op that "
            f"makes NaN; on_nonfinite='skip' (--skip-nonfinite) skips such batches.")


# the objective's numbers shown in the progress bar and the epoch line (the rest go to the records)
SHOWN = ("recon_loss", "kl", "d_loss", "g_loss")


def _is_terminal(stream):
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _restore(resume, model, optimizer, scheduler, loader):
    """Load a checkpoint's weights and training state; return the position to continue from."""
    training = resume
    if hasattr(resume, "training"):
        resume.load_into(model)
        training = resume.training
    if not training or "epoch" not in training:
        raise ArgumentError("fit: the resume checkpoint holds no training state (was it a final checkpoint?)")
    if "optimizer" in training:
        optimizer.load_state_dict(training["optimizer"])
    if scheduler is not None and "scheduler" in training:
        scheduler.load_state_dict(training["scheduler"])
    loader.load_state_dict(training["loader"])
    backend.set_rng_state(training["rng"])
    return {"epoch": int(training["epoch"]), "batch": int(training["batch"]), "step": int(training["step"]),
            "stats": dict(training.get("stats") or {}), "history": list(training.get("history") or [])}


def _epoch_line(record, epochs):
    parts = [f"epoch {record['epoch']}/{epochs}", f"loss {record['loss']:.4f}"]
    if "accuracy" in record:
        parts.append(f"train acc {record['accuracy']:.4f}")
    parts += [f"{key.replace('_loss', '')} {record[key]:.4f}" for key in SHOWN if key in record]
    if "val_accuracy" in record:
        parts.append(f"val acc {record['val_accuracy']:.4f}")
    elif "val_loss" in record:
        parts.append(f"val loss {record['val_loss']:.4f}")
    if record.get("lr") is not None:
        parts.append(f"lr {record['lr']:.3g}")
    parts.append(f"{record['seconds']:.1f} s ({record['images_per_second']:.0f} img/s)")
    return "  ".join(parts)

