"""Metrics: accuracy from logits, and running means over an epoch for the progress bar and records."""
import numpy as np


def correct_count(logits, labels):
    """How many rows of ``logits`` (N, C) have their largest value at the label's index."""
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    return int((logits.argmax(axis=1) == labels).sum())


def accuracy(logits, labels):
    """Fraction of rows whose arg-max is the label (PyTorch-style top-1 accuracy)."""
    labels = np.asarray(labels)
    return correct_count(logits, labels) / max(1, labels.shape[0])


class RunningStats:
    """Sums over an epoch of per-sample means (the loss and any objective's numbers, weighted by
    the batch size) and of correct predictions, for epoch means on the fly."""

    def __init__(self, loss_sum=0.0, correct=0, seen=0, sums=None):
        self.loss_sum, self.correct, self.seen = float(loss_sum), int(correct), int(seen)
        self.sums = {k: float(v) for k, v in (sums or {}).items()}

    def update(self, mean_loss, correct, n, **means):
        """Add a batch: its mean loss, its number of correct predictions, its size ``n`` and other batch means."""
        self.loss_sum += float(mean_loss) * n
        self.correct += int(correct)
        self.seen += int(n)
        for key, value in means.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value) * n

    @property
    def loss(self):
        """Mean loss per sample so far (NaN before the first batch)."""
        return self.loss_sum / self.seen if self.seen else float("nan")

    @property
    def accuracy(self):
        """Share of correct predictions so far (NaN before the first batch)."""
        return self.correct / self.seen if self.seen else float("nan")

    def means(self):
        """The epoch means of the objective's other numbers (``{"kl": ..., ...}``)."""
        return {k: (v / self.seen if self.seen else float("nan")) for k, v in self.sums.items()}

    def state_dict(self):
        """The running sums as a dict (stored in checkpoints, restored with ``RunningStats(**state)``)."""
        return {"loss_sum": self.loss_sum, "correct": self.correct, "seen": self.seen, "sums": dict(self.sums)}
