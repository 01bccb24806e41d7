"""Where a classifier goes wrong: the confusion matrix, and the misclassified samples.

    pred = predict_dataset(model, test_set)             # probabilities and labels of every sample
    pic = confusion(model, test_set, path="confusion.png")
    pic.data["matrix"][true, predicted]                 # counts
    pic = mistakes(model, test_set, n=64, path="mistakes.png")
    pic.data["indices"]                                 # most confident mistakes first

``dataset`` is anything with ``len()`` and ``get_batch(indices) -> (inputs, labels)`` already
preprocessed for the model (a convgrad dataset with its transform, or a DataBundle's split).
"""
import numpy as np

from ..errors import ArgumentError
from ..functional import softmax
from ..tensor import Tensor, no_grad
from .common import finish, hide_ticks, image_for_display, model_name, new_figure, require_matplotlib

BATCH = 500


def predict_dataset(model, dataset, batch_size=BATCH):
    """``{"probabilities" (N, classes), "labels" (N,), "predicted" (N,)}`` for every sample, eval mode."""
    n = len(dataset)
    if n == 0:
        raise ArgumentError("confusion: the dataset is empty")
    was_training = model.training
    model.eval()
    probabilities, labels = [], []
    try:
        with no_grad():
            for start in range(0, n, batch_size):
                inputs, y = dataset.get_batch(np.arange(start, min(n, start + batch_size)), None)
                logits = model(inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs)))
                probabilities.append(softmax(Tensor(logits.numpy().astype(np.float64)), dim=1).numpy())
                labels.append(np.asarray(y, dtype=np.int64))
    finally:
        model.train(was_training)
    probabilities = np.concatenate(probabilities)
    return {"probabilities": probabilities, "labels": np.concatenate(labels),
            "predicted": probabilities.argmax(axis=1)}


def confusion_matrix(labels, predicted, num_classes=None):
    """``(classes, classes)`` int64 counts: row = true class, column = predicted class."""
    labels, predicted = np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    k = num_classes or int(max(labels.max(initial=0), predicted.max(initial=0)) + 1)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def _names(class_names, k):
    return [str(c) for c in class_names] if class_names else [str(i) for i in range(k)]


def confusion(model, dataset, path=None, class_names=None, dataset_name="test set", title=None, predictions=None,
              model_label=None):
    """Draw the confusion matrix (counts in every cell, colour = count on a log scale).

    Returns:
        Picture with ``data = {"matrix", "accuracy", "labels", "predicted", "probabilities",
        "class_names"}``.
    """
    require_matplotlib()
    from matplotlib.colors import LogNorm

    pred = predictions or predict_dataset(model, dataset)
    k = pred["probabilities"].shape[1]
    matrix = confusion_matrix(pred["labels"], pred["predicted"], k)
    names = _names(class_names, k)
    accuracy = float(np.trace(matrix) / matrix.sum())
    title = title or (f"{model_label or model_name(model)}: confusion matrix on the {dataset_name} ({matrix.sum():,} samples, "
                      f"accuracy {100 * accuracy:.2f}%)")
    size = min(12.0, 3.0 + 0.55 * k)
    fig = new_figure(size + 1.2, size)
    ax = fig.add_subplot(1, 1, 1)
    shown = np.where(matrix > 0, matrix, np.nan)
    image = ax.imshow(shown, cmap="Blues", norm=LogNorm(vmin=1, vmax=max(2, matrix.max())))
    if k <= 30:
        for (i, j), count in np.ndenumerate(matrix):
            if count:
                dark = np.log(count) > 0.6 * np.log(max(2, matrix.max()))
                ax.text(j, i, str(count), ha="center", va="center", fontsize=8 if k <= 12 else 6,
                        color="white" if dark else ("black" if i == j else "darkred"))
        ax.set_xticks(range(k), labels=names, fontsize=8, rotation=90 if max(map(len, names)) > 3 else 0)
        ax.set_yticks(range(k), labels=names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("samples (log scale)", fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    data = {"matrix": matrix, "accuracy": accuracy, "class_names": names, **pred}
    return finish(fig, data, title, path)


def mistakes(model, dataset, n=64, path=None, class_names=None, dataset_name="test set", title=None,
             predictions=None, model_label=None):
    """Draw the misclassified samples, most confident mistakes first, each titled
    "predicted (probability) / true".

    Returns:
        Picture with ``data = {"indices" (into the dataset, all mistakes, sorted), "predicted",
        "labels", "confidence", "shown" (how many are drawn), "total" (dataset size)}``.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ArgumentError(f"mistakes: n must be a positive integer, got {n!r}")
    pred = predictions or predict_dataset(model, dataset)
    wrong = np.flatnonzero(pred["predicted"] != pred["labels"])
    confidence = pred["probabilities"][wrong, pred["predicted"][wrong]]
    order = np.argsort(-confidence, kind="stable")
    wrong, confidence = wrong[order], confidence[order]
    names = _names(class_names, pred["probabilities"].shape[1])
    shown = min(int(n), len(wrong))
    title = title or (f"{model_label or model_name(model)}: {len(wrong)} mistakes on the {dataset_name} ({len(pred['labels']):,} "
                      f"samples), the {shown} most confident")
    cols = min(max(shown, 1), 8)
    rows = -(-max(shown, 1) // cols)
    fig = new_figure(max(cols * 1.25 + 0.3, 7.5), rows * 1.5 + 0.8)  # wide enough for the title
    if shown == 0:
        ax = fig.add_subplot(1, 1, 1)
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no mistakes", ha="center", va="center")
    else:
        inputs, _ = dataset.get_batch(wrong[:shown], None)
        inputs = np.asarray(inputs.numpy() if isinstance(inputs, Tensor) else inputs)
        axes = fig.subplots(rows, cols, squeeze=False)
        for i, ax in enumerate(axes.ravel()):
            hide_ticks(ax)
            if i >= shown:
                ax.set_axis_off()
                continue
            image = image_for_display(inputs[i])
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
            j = wrong[i]
            ax.set_title(f"pred {names[pred['predicted'][j]]} ({confidence[i]:.2f})\ntrue {names[pred['labels'][j]]}",
                         fontsize=7.5, pad=2)
            ax.set_xlabel(f"#{j}", fontsize=6, labelpad=1)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_size_inches()[1]))
    data = {"indices": wrong, "predicted": pred["predicted"][wrong], "labels": pred["labels"][wrong],
            "confidence": confidence, "shown": shown, "total": len(pred["labels"])}
    return finish(fig, data, title, path)
