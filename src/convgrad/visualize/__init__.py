"""Pictures of a network and its training: filters, their evolution, feature maps, saliency,
learning curves, confusion and mistakes, the classical filters, training health.

Every picture function takes a model (any ``convgrad.nn.Module``) or a run directory, returns a
:class:`~convgrad.visualize.common.Picture` (``.figure``, ``.data`` with the numbers drawn,
``.path``) and writes a PNG when given ``path=``; a data function beside it returns the numbers
without drawing::

    import convgrad
    from convgrad import visualize

    model = convgrad.load("runs/a/model.npz")
    visualize.filters(model, layer="conv1", path="filters.png")
    visualize.evolution("runs/a", path="evolution.png", gif_path="evolution.gif")
    visualize.features(model, x, layers=["conv1", "conv2"], grad=True, path="features.png")
    visualize.saliency(model, x, method="smoothgrad", path="saliency.png")
    visualize.curves("runs/a", path="curves.png")
    visualize.confusion(model, test_set, path="confusion.png")
    visualize.mistakes(model, test_set, n=64, path="mistakes.png")
    visualize.filters_demo("photo.jpg", path="demo.png")
    visualize.health("runs/a", path="health.png")

matplotlib is the optional extra ``viz`` (``pip install convgrad[viz]``): it is imported only when
a picture is drawn, and missing it is one MissingExtraError naming the extra. Importing this
package does not import matplotlib.
"""
from .common import MissingExtraError, Picture
from .confusion import confusion, confusion_matrix, mistakes, predict_dataset
from .curves import RunNotFound, curves, learning_curves, read_metrics
from .demo import filters_demo, read_image
from .evolution import evolution, write_gif
from .features import feature_maps, features
from .filters import (classical_bank, describe_filters, filter_weights, filters, format_filter_table,
                      nearest_classical, orientation)
from .health import dead_layers, health, health_series
from .saliency import saliency, saliency_map

__all__ = [
    "Picture", "MissingExtraError", "RunNotFound",
    "filters", "filter_weights", "describe_filters", "format_filter_table", "orientation", "nearest_classical",
    "classical_bank", "evolution", "write_gif", "features", "feature_maps", "saliency", "saliency_map",
    "curves", "read_metrics", "learning_curves", "confusion", "confusion_matrix", "mistakes", "predict_dataset",
    "filters_demo", "read_image", "health", "health_series", "dead_layers",
]
