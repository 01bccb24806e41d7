"""How good are codes and generated images? Numbers that need no labels to train, only to judge.

Codes: the leave-one-out k-nearest-neighbour label agreement, the mean share of each image's k
nearest other images (by code distance) that carry its label. It is the figure behind "similar
images have similar codes": 1.0 means every neighbourhood is one class. :func:`knn_agreement_table`
puts the codes next to the raw pixels and PCA at the same dimension.

Generated images: a classifier (the default LeNet-5) judges them. Its mean top probability (are the
digits recognisable?), the share of each predicted class (a collapsed GAN draws one or two classes),
and the Fréchet distance between real and generated images in the classifier's penultimate
features (the FID recipe with a digit classifier in place of Inception):

    FD = ||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))

:func:`generation_report` gives the same figure for test digits against training digits (the floor:
what real digits score) and for uniform noise (the ceiling).
"""
import numpy as np

from ..errors import ArgumentError, ShapeError
from .neighbours import leave_one_out


def knn_agreement(codes, labels, k=10, index="exact"):
    """Mean share of the ``k`` nearest other codes that have the same label (leave-one-out).

    Args:
        codes: array (N, d).
        labels: integer array (N,).
        k: neighbours per code.
        index: "exact" or "faiss" (see :func:`~convgrad.codes.neighbours.knn`).

    Returns:
        A float in [0, 1].

    Example:
        >>> knn_agreement(np.array([[0.], [0.1], [5.], [5.1]]), np.array([0, 0, 1, 1]), k=1)
        1.0
    """
    labels = np.asarray(labels)
    codes = np.asarray(codes)
    if labels.shape != (len(codes),):
        raise ShapeError(f"knn_agreement: expected labels ({len(codes)},), got {labels.shape}")
    _, idx = leave_one_out(codes, k=k, index=index)
    return float((labels[idx] == labels[:, None]).mean())


def pca(data, dim):
    """Project ``data`` (N, D) onto its first ``dim`` principal components: (N, dim) float32.

    The components are the top eigenvectors of the covariance (D x D, so cheap for images of a few
    thousand pixels); signs are fixed so each component's largest coefficient is positive.
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2 or not 1 <= dim <= data.shape[1]:
        raise ArgumentError(f"pca: expected data (N, D) and 1 <= dim <= D, got {data.shape} and dim={dim}")
    centred = data - data.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred / max(len(data) - 1, 1))
    top = vectors[:, np.argsort(values)[::-1][:dim]]
    top *= np.sign(top[np.abs(top).argmax(axis=0), np.arange(dim)])
    return (centred @ top).astype(np.float32)


def knn_agreement_table(pixels, labels, codes, k=10, codes_name="codes"):
    """Rows ``{"name", "dim", "agreement"}`` for raw pixels, PCA at the codes' dimension and the codes.

    Args:
        pixels: the images flattened, (N, D).
        labels: (N,) labels (used only to score).
        codes: (N, d) codes of the same images in the same order.
        k: neighbours.
        codes_name: the row name of the codes (e.g. "conv autoencoder").
    """
    pixels, codes = np.asarray(pixels).reshape(len(pixels), -1), np.asarray(codes)
    if len(pixels) != len(codes):
        raise ShapeError(f"knn_agreement_table: {len(pixels)} images but {len(codes)} codes")
    dim = codes.shape[1]
    rows = [("raw pixels", pixels), (f"PCA-{dim}", pca(pixels, dim)), (codes_name, codes)]
    return [{"name": name, "dim": int(x.shape[1]), "agreement": knn_agreement(x, labels, k=k)} for name, x in rows]


def _sqrt_psd(matrix):
    """Square root of a symmetric positive semi-definite matrix (eigenvalues clipped at 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(a, b):
    """Fréchet distance between Gaussians fitted to two sets of feature vectors (rows).

    ``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. The trace of the root is taken as
    ``tr((S_a^1/2 S_b S_a^1/2)^1/2)`` (the same eigenvalues, of a symmetric matrix), which stays
    exact when the covariances are singular, as those of ReLU features with silent units are, where
    ``scipy.linalg.sqrtm(S_a @ S_b)`` warns and loses accuracy. Identical sets give ~0.

    Raises:
        ShapeError: the sets are not (N, d) of the same d with N >= 2.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ShapeError(f"frechet_distance: expected two sets (N, d) of the same d, N >= 2, got {a.shape} "
                         f"and {b.shape}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False).reshape(a.shape[1], -1), np.cov(b, rowvar=False).reshape(b.shape[1], -1)
    root_a = _sqrt_psd(cov_a)
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root)


def classifier_view(classifier, images, mean=(0.0,), std=(1.0,), batch_size=500):
    """``(probabilities (N, classes), penultimate features (N, d))`` of images (N, C, H, W) in
    [0, 1], normalised with the classifier's ``mean`` and ``std`` first."""
    from ..functional import softmax
    from ..tensor import Tensor, no_grad
    from .embed import _penultimate

    images = np.asarray(images, dtype=np.float32)
    c = images.shape[1]
    m = np.resize(np.asarray(mean, np.float32), c).reshape(1, c, 1, 1)
    s = np.resize(np.asarray(std, np.float32), c).reshape(1, c, 1, 1)
    classifier.eval()
    probs, feats = [], []
    with no_grad():
        for start in range(0, len(images), batch_size):
            x = Tensor((images[start:start + batch_size] - m) / s)
            captured = {}
            handle = classifier.register_forward_hook(lambda mod, inp, out: captured.setdefault("logits", out))
            try:
                feats.append(_penultimate(classifier, x).numpy().reshape(len(x), -1))
            finally:
                handle.remove()
            probs.append(softmax(captured["logits"], dim=1).numpy())
    return np.concatenate(probs), np.concatenate(feats)


def generation_report(classifier, generated, test_images, train_images, mean=(0.0,), std=(1.0,), seed=0):
    """How a classifier judges generated digits, with the real-digit floor and the noise ceiling.

    Args:
        classifier: a trained classifier (e.g. the default LeNet-5 of ``convgrad train``).
        generated, test_images, train_images: images (N, C, H, W) in [0, 1].
        mean, std: the classifier's normalisation (its checkpoint's preprocessing).
        seed: seed of the uniform-noise images (as many as ``generated``).

    Returns:
        dict: ``mean_top_probability``, ``class_shares`` (one share per class of the predicted
        labels), ``frechet`` (generated vs test), ``frechet_floor`` (test vs train),
        ``frechet_ceiling`` (noise vs test), ``n``.
    """
    generated = np.asarray(generated, np.float32)
    noise = np.random.default_rng(seed).random(generated.shape, dtype=np.float32)
    probs, gen_feats = classifier_view(classifier, generated, mean, std)
    _, test_feats = classifier_view(classifier, test_images, mean, std)
    _, train_feats = classifier_view(classifier, train_images, mean, std)
    _, noise_feats = classifier_view(classifier, noise, mean, std)
    shares = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1]) / len(probs)
    return {"n": len(generated), "mean_top_probability": float(probs.max(axis=1).mean()),
            "class_shares": [float(s) for s in shares],
            "frechet": frechet_distance(gen_feats, test_feats),
            "frechet_floor": frechet_distance(test_feats, train_feats),
            "frechet_ceiling": frechet_distance(noise_feats, test_feats)}
