"""Nearest neighbours of codes: exact search in NumPy by blocks, or a faiss index when installed.

Exact search computes squared Euclidean distances a block at a time,

    ||q - x||^2 = ||q||^2 - 2 q.x + ||x||^2,

over blocks of queries and blocks of the collection, keeping the running ``k`` best of each query,
so memory stays at ``query_block x collection_block`` distances whatever the collection's size
(the collection may be a memory-mapped array on disk). Results come sorted by distance, ties by
index, so they are reproducible. ``metric="cosine"`` searches unit-normalised codes and reports
``1 - cos``.

``index="faiss"`` (the optional extra ``pip install convgrad[faiss]``) hands the search to faiss:
an exact flat index for collections up to ``FAISS_FLAT_LIMIT`` codes, an approximate HNSW graph
above, for collections of millions.
"""
import numpy as np

from ..errors import ArgumentError, ShapeError

INDEXES = ("exact", "faiss")
METRICS = ("euclidean", "cosine")
QUERY_BLOCK = 1024
COLLECTION_BLOCK = 65536
FAISS_FLAT_LIMIT = 200_000


def _check(queries, collection, k):
    if queries.ndim != 2 or collection.ndim != 2 or queries.shape[1] != collection.shape[1]:
        raise ShapeError(f"knn: expected queries (Q, d) and collection (N, d) of the same d, got "
                         f"{queries.shape} and {collection.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ArgumentError(f"knn: k must be a positive integer, got {k!r}")


def _unit(rows):
    rows = np.asarray(rows, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def _merge(best_d, best_i, d, i, k):
    """The k smallest of the kept and the new candidates, sorted by (distance, index)."""
    all_d = np.concatenate([best_d, d], axis=1)
    all_i = np.concatenate([best_i, i], axis=1)
    if all_d.shape[1] > k:
        keep = np.argpartition(all_d, k - 1, axis=1)[:, :k]
        all_d = np.take_along_axis(all_d, keep, axis=1)
        all_i = np.take_along_axis(all_i, keep, axis=1)
    order = np.lexsort((all_i, all_d), axis=1)
    return np.take_along_axis(all_d, order, axis=1), np.take_along_axis(all_i, order, axis=1)


def _exact(queries, collection, k, self_offset):
    """Squared distances and indices of the k nearest; ``self_offset`` excludes query q's own row
    ``self_offset + q`` of the collection (leave-one-out)."""
    n_q, n = len(queries), len(collection)
    out_d = np.empty((n_q, k), np.float64)
    out_i = np.empty((n_q, k), np.int64)
    for qs in range(0, n_q, QUERY_BLOCK):
        q = np.asarray(queries[qs:qs + QUERY_BLOCK], dtype=np.float64)
        q_sq = (q * q).sum(axis=1)[:, None]
        best_d = np.empty((len(q), 0))
        best_i = np.empty((len(q), 0), np.int64)
        for cs in range(0, n, COLLECTION_BLOCK):
            c = np.asarray(collection[cs:cs + COLLECTION_BLOCK], dtype=np.float64)
            d = np.maximum(q_sq - 2.0 * (q @ c.T) + (c * c).sum(axis=1)[None], 0.0)
            if self_offset is not None:
                rows = np.arange(len(q))
                cols = self_offset + qs + rows - cs
                inside = (cols >= 0) & (cols < len(c))
                d[rows[inside], cols[inside]] = np.inf
            idx = np.broadcast_to(np.arange(cs, cs + len(c)), d.shape)
            best_d, best_i = _merge(best_d, best_i, d, idx, k)
        out_d[qs:qs + len(q)], out_i[qs:qs + len(q)] = best_d, best_i
    return out_d, out_i


def require_faiss():
    """The faiss module, or a one-line ArgumentError naming the extra to install."""
    try:
        import faiss
    except ImportError:
        raise ArgumentError("index 'faiss' needs faiss-cpu (pip install convgrad[faiss])") from None
    return faiss


def _faiss(queries, collection, k, self_offset):
    faiss = require_faiss()
    data = np.ascontiguousarray(collection, dtype=np.float32)
    if len(data) <= FAISS_FLAT_LIMIT:
        index = faiss.IndexFlatL2(data.shape[1])
    else:
        index = faiss.IndexHNSWFlat(data.shape[1], 32)
    index.add(data)
    extra = 1 if self_offset is not None else 0
    d, i = index.search(np.ascontiguousarray(queries, dtype=np.float32), k + extra)
    d, i = d.astype(np.float64), i.astype(np.int64)
    if self_offset is not None:
        own = self_offset + np.arange(len(queries))[:, None]
        d = np.where(i == own, np.inf, d)
        order = np.lexsort((i, d), axis=1)[:, :k]
        d, i = np.take_along_axis(d, order, axis=1), np.take_along_axis(i, order, axis=1)
    return np.maximum(d, 0.0), i


def knn(queries, collection, k=10, metric="euclidean", index="exact", exclude_self=False):
    """The ``k`` nearest rows of ``collection`` to each row of ``queries``.

    Args:
        queries: array (Q, d).
        collection: array (N, d), possibly a memory-mapped array.
        k: neighbours per query (at most N, or N - 1 with ``exclude_self``).
        metric: "euclidean" (distance ``||q - x||``) or "cosine" (``1 - cos(q, x)``).
        index: "exact" (NumPy, by blocks) or "faiss" (needs the ``faiss`` extra).
        exclude_self: the queries are the first Q rows of the collection; a query never finds its own
            row (leave-one-out).

    Returns:
        ``(distances, indices)``: float64 (Q, k) ascending and int64 (Q, k) row numbers.

    Raises:
        ShapeError: the arrays are not (Q, d) and (N, d).
        ArgumentError: bad ``k``, metric or index, or faiss is not installed.

    Example:
        >>> codes = np.random.default_rng(0).normal(size=(100, 16))
        >>> dist, idx = knn(codes[:5], codes, k=3)
        >>> idx[:, 0].tolist()   # each query's nearest row is itself
        [0, 1, 2, 3, 4]
    """
    queries, collection = np.asarray(queries), np.asarray(collection)  # a memmap stays on disk
    _check(queries, collection, k)
    if metric not in METRICS:
        raise ArgumentError(f"knn: metric must be one of {METRICS}, got {metric!r}")
    if index not in INDEXES:
        raise ArgumentError(f"knn: index must be one of {INDEXES}, got {index!r}")
    available = len(collection) - (1 if exclude_self else 0)
    if k > available:
        raise ArgumentError(f"knn: k={k} is more than the {available} candidates in the collection")
    if exclude_self and len(queries) > len(collection):
        raise ShapeError("knn: exclude_self needs the queries to be the first rows of the collection")
    if metric == "cosine":
        queries, collection = _unit(queries), _unit(collection)
    search = _faiss if index == "faiss" else _exact
    sq, idx = search(queries, collection, int(k), 0 if exclude_self else None)
    dist = sq / 2.0 if metric == "cosine" else np.sqrt(sq)  # ||u - v||^2 = 2 - 2 cos for unit rows
    return dist, idx


def leave_one_out(codes, k=10, metric="euclidean", index="exact"):
    """Each code's ``k`` nearest other codes: ``knn(codes, codes, k, exclude_self=True)``."""
    return knn(codes, codes, k=k, metric=metric, index=index, exclude_self=True)
