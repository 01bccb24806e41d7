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
    """Top-1 accuracy of ``model`` over ``loader`` (eval mode, no graph); the mode is restored."""
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


def fit(model, train_loader, optimizer, epochs, loss_fn=None, val_loader=None, scheduler=None,
        scheduler_interval="epoch", callbacks=(), checkpoint_path=None, checkpoint_every=None,
        checkpoint_kwargs=None, resume=None, on_nonfinite="stop", detect_anomaly=False, progress=True,
        log=None):
    """Train ``model`` for ``epochs`` epochs; return the history (one dict per epoch).

    Args:
        model: a Module returning logits.
        train_loader: a :class:`~convgrad.data.DataLoader` (its seed fixes order and augmentation).
        optimizer: a ``convgrad.optim`` optimizer over the model's parameters.
        epochs: total number of epochs (a resumed run counts the ones already done).
        loss_fn: ``loss_fn(logits, labels) -> scalar tensor``; default ``F.cross_entropy``.
        val_loader: if given, the accuracy on it is measured after each epoch.
        scheduler: a learning-rate scheduler, stepped after each epoch (``scheduler_interval="epoch"``)
            or after each optimizer step (``"step"``).
        callbacks: objects with optional ``on_step_end(step, logs)`` / ``on_epoch_end(epoch, logs)``.
        checkpoint_path, checkpoint_every: write a resumable checkpoint every N optimizer steps.
        checkpoint_kwargs: passed to ``save_checkpoint`` (``preprocessing``, ``extra``, ``model_name``...).
        resume: a :class:`~convgrad.io.Checkpoint` (or its ``training`` dict) to continue from.
        on_nonfinite: "stop" raises TrainingDivergedError at a NaN/Inf loss; "skip" skips the batch
            (no update) and stops after 20 bad batches in a row.
        detect_anomaly: run under ``convgrad.detect_anomaly()`` (the first op making NaN/Inf raises).
        progress: show a tqdm bar (loss, accuracy, images/s) on stderr.
        log: callable taking one line per epoch (e.g. ``print``), or None.

    Raises:
        TrainingDivergedError: the loss became NaN/Inf (message suggests causes and names the last
            good checkpoint).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ArgumentError(f"fit: epochs must be a positive integer, got {epochs!r}")
    if on_nonfinite not in NONFINITE_ACTIONS:
        raise ArgumentError(f"fit: on_nonfinite must be one of {NONFINITE_ACTIONS}, got {on_nonfinite!r}")
    if scheduler_interval not in ("epoch", "step"):
        raise ArgumentError(f"fit: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
    loss_fn = loss_fn or _default_loss()
    ckpt = _Checkpointer(checkpoint_path, checkpoint_every, checkpoint_kwargs)
    if checkpoint_path is not None:  # fail now, not at the first checkpoint after N steps of work
        from ..io.checkpoint import check_saveable
        check_saveable(checkpoint_path, model, optimizer, scheduler)
    pos = {"epoch": 0, "batch": 0, "step": 0, "stats": {}, "history": []}
    if resume is not None:
        pos = _restore(resume, model, optimizer, scheduler, train_loader)
    history = list(pos["history"])
    loop = _Loop(model, train_loader, optimizer, scheduler, scheduler_interval, loss_fn, callbacks, ckpt,
                 on_nonfinite, progress, epochs)
    with detect_anomaly_ctx(bool(detect_anomaly)):
        for epoch in range(pos["epoch"], epochs):
            start_batch = pos["batch"] if epoch == pos["epoch"] else 0
            stats = RunningStats(**pos["stats"]) if epoch == pos["epoch"] else RunningStats()
            record = loop.run_epoch(epoch, start_batch, pos["step"], stats, history)
            pos["step"] = loop.step
            if val_loader is not None:
                record["val_accuracy"] = evaluate(model, val_loader)
            history.append(record)
            for cb in callbacks:
                if hasattr(cb, "on_epoch_end"):
                    cb.on_epoch_end(epoch, record)
            if log is not None:
                log(_epoch_line(record, epochs))
    return history


class _Loop:
    """One epoch at a time; keeps the global step count."""

    def __init__(self, model, loader, optimizer, scheduler, interval, loss_fn, callbacks, ckpt, on_nonfinite,
                 progress, epochs):
        self.model, self.loader, self.optimizer, self.scheduler = model, loader, optimizer, scheduler
        self.interval, self.loss_fn, self.callbacks, self.ckpt = interval, loss_fn, callbacks, ckpt
        self.on_nonfinite, self.progress, self.epochs = on_nonfinite, progress, epochs
        self.step = 0

    def _state(self, epoch, batch, stats, history):
        return {"epoch": epoch, "batch": batch, "step": self.step, "epochs": self.epochs,
                "loader": self.loader.state_dict(), "rng": backend.get_rng_state(),
                "stats": stats.state_dict(), "history": history}

    def run_epoch(self, epoch, start_batch, step, stats, history):
        from tqdm import tqdm

        self.step = step
        self.model.train()
        n_batches = len(self.loader)
        bar = tqdm(total=n_batches, initial=start_batch, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False,
                   disable=not self.progress, file=sys.stderr, dynamic_ncols=True)
        t0, seen_here, skipped_in_row = time.perf_counter(), 0, 0
        for b, (images, labels) in enumerate(self.loader.iter_epoch(epoch, start_batch), start=start_batch):
            logits = self.model(images)
            loss = self.loss_fn(logits, labels)
            loss_value = float(loss.item())
            if not math.isfinite(loss_value):
                skipped_in_row += 1
                self._nonfinite(loss_value, epoch, b, skipped_in_row)
                bar.update(1)
                continue
            skipped_in_row = 0
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.step += 1
            if self.scheduler is not None and self.interval == "step":
                self.scheduler.step()
            n = len(labels)
            stats.update(loss_value, correct_count(logits.numpy(), labels.numpy()), n)
            seen_here += n
            for cb in self.callbacks:
                if hasattr(cb, "on_step_end"):
                    cb.on_step_end(self.step, {"loss": loss_value, "epoch": epoch, "batch": b})
            if self.ckpt.due(self.step):
                self.ckpt.save(self.model, self.optimizer, self.scheduler, self._state(epoch, b + 1, stats, history))
            bar.update(1)
            if b % 10 == 0 or b == n_batches - 1:
                rate = seen_here / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix_str(f"loss {stats.loss:.4f} acc {stats.accuracy:.4f} {rate:.0f} img/s")
        bar.close()
        if self.scheduler is not None and self.interval == "epoch":
            self.scheduler.step()
        seconds = time.perf_counter() - t0
        return {"epoch": epoch + 1, "loss": stats.loss, "accuracy": stats.accuracy, "lr": _lr(self.optimizer),
                "seconds": seconds, "images_per_second": seen_here / max(seconds, 1e-9), "step": self.step}

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
    parts = [f"epoch {record['epoch']}/{epochs}", f"loss {record['loss']:.4f}", f"train acc {record['accuracy']:.4f}"]
    if "val_accuracy" in record:
        parts.append(f"val acc {record['val_accuracy']:.4f}")
    if record.get("lr") is not None:
        parts.append(f"lr {record['lr']:.3g}")
    parts.append(f"{record['seconds']:.1f} s ({record['images_per_second']:.0f} img/s)")
    return "  ".join(parts)

