"""Metrics for classification: accuracy from logits, and a running mean for the progress bar."""
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
    """Sum of a per-sample loss and of correct predictions over an epoch, for means on the fly."""

    def __init__(self, loss_sum=0.0, correct=0, seen=0):
        self.loss_sum, self.correct, self.seen = float(loss_sum), int(correct), int(seen)

    def update(self, mean_loss, correct, n):
        self.loss_sum += float(mean_loss) * n
        self.correct += int(correct)
        self.seen += int(n)

    @property
    def loss(self):
        return self.loss_sum / self.seen if self.seen else float("nan")

    @property
    def accuracy(self):
        return self.correct / self.seen if self.seen else float("nan")

    def state_dict(self):
        return {"loss_sum": self.loss_sum, "correct": self.correct, "seen": self.seen}
