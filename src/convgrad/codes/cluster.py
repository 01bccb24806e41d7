"""Groups of codes: k-means, how well the groups match the labels, a 2-D map, and the in-betweens.

- :func:`kmeans` clusters the codes (scikit-learn's ``KMeans``, optional extra ``codes``).
- :func:`purity`: each cluster votes for its most common label; the share of images whose cluster's
  label is theirs, ``(1/N) sum_clusters max_class |cluster & class|``. Computed here.
- :func:`nmi`: normalised mutual information ``I(Y; C) / mean(H(Y), H(C))`` (arithmetic mean,
  scikit-learn's default), 0 for unrelated clusters, 1 for the labels themselves.
- :func:`map_2d` squeezes the codes to two dimensions (PCA or t-SNE, scikit-learn) and
  :func:`draw_map` scatters them coloured by label (matplotlib, extra ``viz``).
- :func:`ambiguous`: the images whose k nearest codes are most evenly split between two classes,
  the lecture's sevens "somewhere in between" the ones and the sevens.
"""
import numpy as np

from ..errors import ArgumentError, ShapeError
from .neighbours import leave_one_out

MAP_METHODS = ("pca", "tsne")


def _sklearn(what):
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ArgumentError(f"{what} needs scikit-learn (pip install convgrad[codes])") from None


def _pair(labels, clusters):
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    if labels.ndim != 1 or labels.shape != clusters.shape or len(labels) == 0:
        raise ShapeError(f"expected labels and clusters of the same shape (N,), got {labels.shape} and "
                         f"{clusters.shape}")
    return labels, clusters


def kmeans(codes, k=10, seed=0):
    """Cluster ids (N,) int64 of k-means on ``codes`` (N, d) (scikit-learn, 10 restarts).

    Raises:
        ArgumentError: ``k`` < 1 or more than N, or scikit-learn is missing.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(codes):
        raise ArgumentError(f"kmeans: k must be an integer in [1, {len(codes)}], got {k!r}")
    _sklearn("kmeans")
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=int(k), n_init=10, random_state=seed).fit_predict(codes).astype(np.int64)


def purity(labels, clusters):
    """Share of samples whose cluster's majority label is their own label.

    Example:
        >>> purity([0, 0, 1, 1], [5, 5, 5, 7])   # cluster 5 = {0, 0, 1} votes 0, cluster 7 = {1}
        0.75
    """
    labels, clusters = _pair(labels, clusters)
    _, y = np.unique(labels, return_inverse=True)
    _, c = np.unique(clusters, return_inverse=True)
    table = np.zeros((c.max() + 1, y.max() + 1), np.int64)
    np.add.at(table, (c, y), 1)
    return float(table.max(axis=1).sum() / len(labels))


def nmi(labels, clusters):
    """Normalised mutual information between labels and clusters (scikit-learn)."""
    labels, clusters = _pair(labels, clusters)
    _sklearn("nmi")
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(labels, clusters))


def map_2d(codes, method="pca", seed=0):
    """The codes in two dimensions (N, 2) float32: "pca" (fast) or "tsne" (neighbourhoods kept)."""
    if method not in MAP_METHODS:
        raise ArgumentError(f"map_2d: method must be one of {MAP_METHODS}, got {method!r}")
    _sklearn("map_2d")
    codes = np.asarray(codes, dtype=np.float32)
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(codes).astype(np.float32)
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(2, (len(codes) - 1) // 3)))
    tsne = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed)
    return tsne.fit_transform(codes).astype(np.float32)


def draw_map(points, labels, path, class_names=None, title=None):
    """Scatter ``points`` (N, 2) coloured by label with a legend; write a PNG to ``path``."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ArgumentError("draw_map needs matplotlib (pip install convgrad[viz])") from None
    points, labels = np.asarray(points), np.asarray(labels)
    classes = np.unique(labels)
    fig, ax = plt.subplots(figsize=(6, 6), dpi=80)
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for i, cls in enumerate(classes):
        mask = labels == cls
        name = class_names[cls] if class_names is not None and 0 <= cls < len(class_names) else str(cls)
        ax.scatter(points[mask, 0], points[mask, 1], s=3, alpha=0.6, color=cmap(i % cmap.N), label=name)
    ax.legend(markerscale=4, fontsize=8, loc="best", frameon=False)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _mean_where(values, mask):
    """Row means of ``values`` over ``mask`` (inf where a row has no True)."""
    total = np.where(mask, values, 0.0).sum(axis=1)
    count = mask.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.inf)


def ambiguous(codes, labels, n=16, k=10):
    """The ``n`` images whose ``k``-neighbourhood is most mixed between two classes.

    For each image, the labels of its ``k`` nearest other codes are counted; the two most common
    classes ``a`` (more) and ``b`` (fewer) make the score ``count_b``, ties broken by
    ``count_a + count_b`` (a neighbourhood of exactly two classes is more "in between" than a
    scattered one), then by how equally far the two classes' neighbours are (the gap between their
    mean distances, smaller first), then by index.

    Args:
        codes: (N, d); labels: (N,) integers >= 0; n: how many; k: neighbours.

    Returns:
        A list of dicts ``{"index", "label", "classes": (a, b), "shares": (count_a / k, count_b / k)}``,
        most ambiguous first.
    """
    codes, labels = np.asarray(codes), np.asarray(labels)
    if labels.shape != (len(codes),) or (len(labels) and labels.min() < 0):
        raise ShapeError(f"ambiguous: expected labels (N,) >= 0 for {len(codes)} codes, got {labels.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ArgumentError(f"ambiguous: n must be a positive integer, got {n!r}")
    dist, idx = leave_one_out(codes, k=k)
    n_classes = int(labels.max()) + 1
    counts = np.zeros((len(codes), max(n_classes, 2)), np.int64)
    np.add.at(counts, (np.repeat(np.arange(len(codes)), k), labels[idx].ravel()), 1)
    order = np.argsort(-counts, axis=1, kind="stable")
    a, b = order[:, 0], order[:, 1]
    count_a = np.take_along_axis(counts, a[:, None], 1)[:, 0]
    count_b = np.take_along_axis(counts, b[:, None], 1)[:, 0]
    neighbour_labels = labels[idx]
    gap = np.abs(_mean_where(dist, neighbour_labels == a[:, None]) - _mean_where(dist, neighbour_labels == b[:, None]))
    ranking = np.lexsort((np.arange(len(codes)), gap, -(count_a + count_b), -count_b))[:n]
    return [{"index": int(i), "label": int(labels[i]), "classes": (int(a[i]), int(b[i])),
             "shares": (count_a[i] / k, count_b[i] / k)} for i in ranking]
