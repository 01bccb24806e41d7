"""convgrad.codes and its verbs: embeddings, nearest neighbours, clusters, quality, generation, style.

Verb tests run ``convgrad.cli.main`` in-process on the bundled MNIST sample with small, untrained
models (the verbs must write their files whatever the weights); the one test about what training
buys (autoencoder codes retrieve better than raw pixels on held-out digits) trains a short run.
"""
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import convgrad as cg
from convgrad import codes, models, nn
from convgrad.cli import main
from convgrad.codes import neighbours
from convgrad.codes.grids import CAPTION_HEIGHT, GAP
from convgrad.data import MNIST, open_data
from convgrad.io import save_checkpoint
from convgrad.models.vgg import make_layers

MNIST_PRE = dict(open_data(None).preprocessing, mean=[0.0], std=[1.0])  # inputs in [0, 1]


def grid_size(n_tiles, cols, side=28, scale=2, captions=True):
    """(width, height) of an image_grid of n_tiles square tiles, cols per row."""
    rows = -(-n_tiles // cols)
    tile = side * scale
    return cols * (tile + GAP) + GAP, rows * (tile + (CAPTION_HEIGHT if captions else 0) + GAP) + GAP


@pytest.fixture(scope="module")
def ae_checkpoint(tmp_path_factory):
    cg.manual_seed(0)
    model = models.get_model("conv_autoencoder", code_dim=16, widths=[8, 16])
    path = tmp_path_factory.mktemp("ae") / "ae.npz"
    save_checkpoint(path, model, preprocessing=MNIST_PRE)
    return str(path)


@pytest.fixture(scope="module")
def digit_pngs(tmp_path_factory):
    """Two held-out digits (bundled training images) as dark-on-light PNGs."""
    folder = tmp_path_factory.mktemp("digits")
    train = MNIST(train=True)
    paths = []
    for digit in (7, 1):
        i = np.flatnonzero(train.targets == digit)[0]
        path = folder / f"{digit}.png"
        Image.fromarray(255 - train.data[i]).resize((56, 56)).save(path)
        paths.append(str(path))
    return paths


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_failure(code, err, *words):
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip() and "%|" not in line]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], lines[0]


# ----------------------------------------------------------------------------------------------
# Nearest neighbours
# ----------------------------------------------------------------------------------------------
def brute_force(queries, collection, k, exclude_self=False):
    dist = np.sqrt(((queries[:, None, :] - collection[None, :, :]) ** 2).sum(-1))
    if exclude_self:
        dist[np.arange(len(queries)), np.arange(len(queries))] = np.inf
    idx = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, idx, 1), idx


@pytest.mark.parametrize("blocks", [(1024, 65536), (7, 13), (1, 1)])
def test_knn_exact_equals_brute_force(blocks, monkeypatch):
    monkeypatch.setattr(neighbours, "QUERY_BLOCK", blocks[0])
    monkeypatch.setattr(neighbours, "COLLECTION_BLOCK", blocks[1])
    rng = np.random.default_rng(1)
    collection = rng.normal(size=(120, 5))
    queries = rng.normal(size=(17, 5))
    dist, idx = codes.knn(queries, collection, k=6)
    ref_d, ref_i = brute_force(queries, collection, 6)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_allclose(dist, ref_d, rtol=1e-9, atol=1e-9)
    dist, idx = codes.leave_one_out(collection, k=4)
    ref_d, ref_i = brute_force(collection, collection, 4, exclude_self=True)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_allclose(dist, ref_d, rtol=1e-9, atol=1e-9)


def test_knn_cosine_and_ties():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 3))
    dist, idx = codes.knn(x[:5], x, k=3, metric="cosine")
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    ref = 1 - unit[:5] @ unit.T
    np.testing.assert_array_equal(idx, np.argsort(ref, axis=1, kind="stable")[:, :3])
    np.testing.assert_allclose(dist, np.sort(ref, axis=1)[:, :3], atol=1e-12)
    same = np.zeros((6, 2))  # all at distance 0: ties go to the lower index
    np.testing.assert_array_equal(codes.knn(same[:1], same, k=4)[1], [[0, 1, 2, 3]])


def test_knn_bad_arguments():
    x = np.zeros((4, 2))
    for k in (0, -1, 5, 2.5, True):
        with pytest.raises(cg.ArgumentError):
            codes.knn(x, x, k=k)
    with pytest.raises(cg.ShapeError):
        codes.knn(np.zeros((2, 3)), x, k=1)
    with pytest.raises(cg.ArgumentError, match="metric"):
        codes.knn(x, x, k=1, metric="manhattan")


def test_faiss_index_agrees_with_exact_search():
    pytest.importorskip("faiss")  # optional extra: pip install convgrad[faiss]
    rng = np.random.default_rng(11)
    collection = rng.normal(size=(500, 8)).astype(np.float32)
    dist, idx = codes.knn(collection[:40], collection, k=5, index="faiss", exclude_self=True)
    ref_d, ref_i = codes.knn(collection[:40], collection, k=5, exclude_self=True)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_allclose(dist, ref_d, rtol=1e-4, atol=1e-4)


def test_faiss_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss -> ImportError
    with pytest.raises(cg.ArgumentError, match=r"pip install convgrad\[faiss\]"):
        codes.knn(np.zeros((3, 2)), np.zeros((3, 2)), k=1, index="faiss")


# ----------------------------------------------------------------------------------------------
# Quality of codes
# ----------------------------------------------------------------------------------------------
def test_knn_agreement_by_hand():
    # 1-D codes: 0, 1, 10, 11, 12 with labels a a b b a. Each point's 2 nearest others:
    # 0 -> {1, 10}: 1 of 2 agree; 1 -> {0, 10}: 1/2; 10 -> {11, 12}: 1/2; 11 -> {10, 12}: 1/2;
    # 12 -> {11, 10}: 0/2. Mean = (0.5 * 4 + 0) / 5 = 0.4
    x = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
    assert codes.knn_agreement(x, np.array([0, 0, 1, 1, 0]), k=2) == pytest.approx(0.4)


def test_pca_matches_svd():
    rng = np.random.default_rng(3)
    data = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    centred = data - data.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    ref = centred @ vt[:3].T
    got = codes.pca(data, 3)
    for j in range(3):  # components are defined up to sign
        assert min(np.abs(got[:, j] - ref[:, j]).max(), np.abs(got[:, j] + ref[:, j]).max()) < 1e-4


def test_knn_agreement_table_rows():
    test = MNIST(train=False)
    pixels = test.data[:300].reshape(300, -1) / 255.0
    rows = codes.knn_agreement_table(pixels, test.targets[:300], codes.pca(pixels, 8), k=10, codes_name="pca")
    assert [r["name"] for r in rows] == ["raw pixels", "PCA-8", "pca"]
    assert [r["dim"] for r in rows] == [784, 8, 8]
    assert rows[1]["agreement"] == pytest.approx(rows[2]["agreement"])
    assert 0.5 < rows[0]["agreement"] <= 1.0  # digits: most neighbours share the label


def scipy_reference_frechet(a, b):
    """The FID formula as its reference code writes it: ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 sqrtm(S_a S_b))."""
    from scipy.linalg import sqrtm

    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    return ((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * np.real(sqrtm(s_a @ s_b)))


def test_frechet_distance():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(300, 5))
    b = rng.normal(size=(250, 5)) * 1.5 + 0.7
    assert abs(codes.frechet_distance(a, a)) < 1e-8
    assert codes.frechet_distance(a, b) == pytest.approx(scipy_reference_frechet(a, b), rel=1e-8)
    # two Gaussians with known parameters: ||mu||^2 + d (s_a - s_b)^2 for isotropic covariances
    big = rng.normal(size=(200000, 2))
    assert codes.frechet_distance(big, big * 2 + 1) == pytest.approx(2 * 1 + 2 * (1 - 2) ** 2, rel=0.02)
    with pytest.raises(cg.ShapeError):
        codes.frechet_distance(a, b[:, :3])


def test_generation_report_keys_and_floor():
    cg.manual_seed(0)
    lenet = models.lenet5(variant="modern")
    test, train = MNIST(train=False), MNIST(train=True)
    real = test.data[:400, None].astype(np.float32) / 255
    report = codes.generation_report(lenet, real, real, train.data[:400, None].astype(np.float32) / 255)
    assert report["n"] == 400
    assert abs(report["frechet"]) < 1e-6  # generated == the real test digits
    assert sum(report["class_shares"]) == pytest.approx(1.0)
    assert 0.1 <= report["mean_top_probability"] <= 1.0
    assert report["frechet_floor"] < report["frechet_ceiling"]


# ----------------------------------------------------------------------------------------------
# Clusters
# ----------------------------------------------------------------------------------------------
def test_purity_by_hand():
    # cluster 5 = labels {0, 0, 1} votes 0 (2 right), cluster 7 = {1, 2, 2} votes 2 (2 right): 4/6
    assert codes.purity([0, 0, 1, 1, 2, 2], [5, 5, 5, 7, 7, 7]) == pytest.approx(4 / 6)
    assert codes.purity([3, 3, 4], [0, 1, 2]) == 1.0
    assert codes.purity([0, 1, 2, 3], [0, 0, 0, 0]) == 0.25


def test_nmi_by_hand():
    labels = [0, 0, 1, 1]
    assert codes.nmi(labels, [1, 1, 0, 0]) == pytest.approx(1.0)
    assert codes.nmi(labels, [0, 1, 0, 1]) == pytest.approx(0.0, abs=1e-12)
    # labels {0,0,1,1}, clusters {0,0,0,1}: H(Y) = ln 2, H(C) = -(3/4 ln 3/4 + 1/4 ln 1/4),
    # I = H(Y) - H(Y|C) with H(Y|C) = 3/4 * H(1/3, 2/3); NMI = I / ((H(Y) + H(C)) / 2)
    h_y = np.log(2)
    h_c = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    h_y_given_c = 0.75 * -(1 / 3 * np.log(1 / 3) + 2 / 3 * np.log(2 / 3))
    assert codes.nmi(labels, [0, 0, 0, 1]) == pytest.approx((h_y - h_y_given_c) / ((h_y + h_c) / 2))


def test_kmeans_finds_separated_groups():
    rng = np.random.default_rng(5)
    centres = np.array([[0, 0], [10, 0], [0, 10]])
    labels = np.repeat([0, 1, 2], 30)
    x = centres[labels] + rng.normal(scale=0.5, size=(90, 2))
    clusters = codes.kmeans(x, k=3)
    assert codes.purity(labels, clusters) == 1.0
    assert codes.nmi(labels, clusters) == pytest.approx(1.0)
    with pytest.raises(cg.ArgumentError):
        codes.kmeans(x, k=0)


def test_ambiguous_finds_the_point_between_two_classes():
    rng = np.random.default_rng(6)
    ones = rng.normal(scale=0.1, size=(10, 2)) + [-1, 0]
    sevens = rng.normal(scale=0.1, size=(10, 2)) + [1, 0]
    between = np.array([[0.0, 0.0]])
    x = np.concatenate([ones, sevens, between])
    labels = np.array([1] * 10 + [7] * 10 + [7])
    top = codes.ambiguous(x, labels, n=1, k=10)[0]
    assert top["index"] == 20 and top["label"] == 7
    assert set(top["classes"]) == {1, 7}
    assert sum(top["shares"]) == pytest.approx(1.0) and min(top["shares"]) >= 0.4


# ----------------------------------------------------------------------------------------------
# Embeddings
# ----------------------------------------------------------------------------------------------
def test_embed_order_shapes_dtypes(ae_checkpoint, tmp_path, capsys):
    out = tmp_path / "codes.npz"
    code, text, _ = run(["embed", ae_checkpoint, "--split", "train", "--batch-size", "700", "--out", str(out)], capsys)
    assert code == 0 and "5000 embeddings of dimension 16" in text
    with np.load(out, allow_pickle=False) as data:
        assert set(data.files) == {"embeddings", "labels"}
        emb, labels = data["embeddings"], data["labels"]
    assert emb.shape == (5000, 16) and emb.dtype == np.float32
    assert labels.shape == (5000,) and labels.dtype == np.int64
    train = MNIST(train=True)
    np.testing.assert_array_equal(labels, train.targets)
    model = cg.load(ae_checkpoint).eval()
    with cg.no_grad():
        direct = model.encode(cg.from_numpy(train.data[:, None].astype(np.float32) / 255)).numpy()
    np.testing.assert_allclose(emb, direct, rtol=1e-5, atol=1e-5)


def test_embed_classifier_is_its_penultimate_layer(tmp_path):
    cg.manual_seed(1)
    lenet = models.lenet5(variant="modern")
    test = MNIST(train=False, transform=codes.collection.transform_of({}))
    small = test.subset(300)
    codes.embed_dataset(lenet, small, tmp_path / "c.npz", batch_size=128, progress=False)
    emb, labels = codes.load_embeddings(tmp_path / "c.npz")
    with cg.no_grad():
        act4 = lenet(cg.from_numpy(small.get_batch(np.arange(300))[0]), return_layers=["act4"])["act4"].numpy()
    assert emb.shape == (300, 84)
    np.testing.assert_allclose(emb, act4, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(labels, test.targets[:300])


@pytest.mark.slow
def test_embed_report_prints_the_table(ae_checkpoint, tmp_path, capsys):
    code, text, _ = run(["embed", ae_checkpoint, "--split", "train", "--out", str(tmp_path / "c.npz"), "--report"],
                        capsys)
    assert code == 0
    for row in ("raw pixels", "PCA-16", "conv_autoencoder codes"):
        assert row in text


def test_embed_checkpoint_of_another_input_size(tmp_path, capsys):
    model = models.get_model("conv_autoencoder", code_dim=4, input_size=32, widths=[4, 4])
    path = tmp_path / "ae32.npz"
    save_checkpoint(path, model, preprocessing=dict(MNIST_PRE, input_size=[1, 32, 32]))
    code, _, err = run(["embed", str(path), "--out", str(tmp_path / "c.npz")], capsys)
    assert_one_line_failure(code, err, "1x32x32", "1x28x28")
    save_checkpoint(path, model, preprocessing={})  # no recorded size: found by running the model
    code, _, err = run(["embed", str(path), "--out", str(tmp_path / "c.npz")], capsys)
    assert_one_line_failure(code, err, "28")
    assert not (tmp_path / "c.npz").exists()


def test_embed_a_gan_is_refused():
    class Gan(nn.Module):
        def __init__(self):
            super().__init__()
            self.generator = nn.Linear(2, 4)

    with pytest.raises(codes.EmbeddingError, match="generator"):
        codes.encode_batch(Gan(), np.zeros((1, 1, 2, 2), np.float32))


# ----------------------------------------------------------------------------------------------
# similar / cluster
# ----------------------------------------------------------------------------------------------
def test_similar_prints_and_draws(ae_checkpoint, digit_pngs, tmp_path, capsys):
    out = tmp_path / "similar.png"
    code, text, _ = run(["similar", ae_checkpoint, digit_pngs[0], "--split", "train", "--k", "5", "--out", str(out)],
                        capsys)
    assert code == 0
    rows = [line.split() for line in text.splitlines()[1:6]]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5]
    distances = [float(r[3]) for r in rows]
    assert distances == sorted(distances)
    train = MNIST(train=True)
    assert all(train.targets[int(r[1])] == int(r[2]) for r in rows)
    with Image.open(out) as img:
        assert img.size == grid_size(6, 6)
    embedded = tmp_path / "codes.npz"  # embed once, search again with the stored codes: same answer
    run(["embed", ae_checkpoint, "--split", "train", "--out", str(embedded)], capsys)
    code, again, _ = run(["similar", ae_checkpoint, digit_pngs[0], "--split", "train", "--k", "5",
                          "--codes", str(embedded)], capsys)
    assert code == 0 and again.splitlines()[:6] == text.splitlines()[:6]


def test_similar_bad_inputs(ae_checkpoint, digit_pngs, tmp_path, capsys, monkeypatch):
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello")
    code, _, err = run(["similar", ae_checkpoint, str(not_an_image)], capsys)
    assert_one_line_failure(code, err, "image")
    blank = tmp_path / "blank.png"
    Image.new("L", (30, 30), 255).save(blank)
    code, _, err = run(["similar", ae_checkpoint, str(blank)], capsys)
    assert_one_line_failure(code, err, "no digit")
    code, _, err = run(["similar", ae_checkpoint, digit_pngs[0], "--k", "0"], capsys)
    assert_one_line_failure(code, err, "--k")
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "faiss", None)  # as if the extra were not installed
        code, _, err = run(["similar", ae_checkpoint, digit_pngs[0], "--index", "faiss"], capsys)
    assert_one_line_failure(code, err, "pip install convgrad[faiss]")


@pytest.mark.slow
def test_cluster_prints_scores_and_draws(ae_checkpoint, tmp_path, capsys):
    out = tmp_path / "map.png"
    code, text, _ = run(["cluster", ae_checkpoint, "--split", "train", "--k", "10", "--map", "pca", "--out", str(out),
                         "--ambiguous", "10"], capsys)
    assert code == 0
    assert "purity" in text and "NMI" in text
    purity = float(text.split("purity")[1].split()[0])
    assert 0.1 <= purity <= 1.0
    with Image.open(out) as img:
        assert img.size == (480, 480)
    with Image.open(tmp_path / "map_ambiguous.png") as img:
        assert img.size == grid_size(10, 8)
    listed = [line for line in text.splitlines() if "/" in line and line.split()[0].isdigit()]
    assert len(listed) == 10


def test_cluster_missing_extra_is_one_line(ae_checkpoint, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    code, _, err = run(["cluster", ae_checkpoint, "--split", "train"], capsys)
    assert_one_line_failure(code, err, "pip install convgrad[codes]")
    code, _, err = run(["cluster", ae_checkpoint, "--k", "0"], capsys)
    assert_one_line_failure(code, err, "--k")


@pytest.mark.slow
def test_short_autoencoder_run_retrieves_better_than_raw_pixels():
    """4 epochs on the 5,000 bundled training images; judged on 2,000 held-out test digits."""
    from convgrad.kernels.blas import blas_threads

    train, test = MNIST(train=True), MNIST(train=False)
    held_out = test.data[:2000, None].astype(np.float32) / 255
    labels = test.targets[:2000]
    cg.manual_seed(0)
    model = models.get_model("conv_autoencoder", code_dim=16)
    loader = cg.data.DataLoader(cg.data.ArrayDataset(train.data, train.targets, codes.collection.transform_of({})),
                                batch_size=64, shuffle=True, seed=0)
    opt = cg.optim.Adam(model.parameters(), lr=2e-3)
    sched = cg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4 * len(loader))
    with blas_threads(1):
        for epoch in range(4):
            for x, _ in loader:  # the labels are never used
                loss = nn.functional.mse_loss(model(x), x)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        model.eval()
        with cg.no_grad():
            embedded = model.encode(cg.from_numpy(held_out)).numpy()
    raw = codes.knn_agreement(held_out.reshape(2000, -1), labels)
    learned = codes.knn_agreement(embedded, labels)
    assert learned > raw + 0.01, (learned, raw)


# ----------------------------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------------------------
def test_generate_grid_and_interpolation(ae_checkpoint, digit_pngs, tmp_path, capsys):
    out = tmp_path / "samples.png"
    code, text, _ = run(["generate", ae_checkpoint, "--n", "20", "--seed", "3", "--out", str(out)], capsys)
    assert code == 0
    with Image.open(out) as img:
        assert img.size == grid_size(20, 8, captions=False)
    again = tmp_path / "again.png"
    run(["generate", ae_checkpoint, "--n", "20", "--seed", "3", "--out", str(again)], capsys)
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(again)))  # seeded
    walk = tmp_path / "walk.png"
    code, _, _ = run(["generate", ae_checkpoint, "--interpolate", *digit_pngs, "--steps", "7", "--out", str(walk)],
                     capsys)
    assert code == 0
    with Image.open(walk) as img:
        assert img.size == grid_size(7, 7, captions=False)


def test_interpolate_ends_are_the_reconstructions():
    cg.manual_seed(2)
    model = models.get_model("conv_autoencoder", code_dim=3, widths=[4, 4]).eval()
    rng = np.random.default_rng(0)
    a, b = rng.random((1, 28, 28), dtype=np.float32), rng.random((1, 28, 28), dtype=np.float32)
    walk = codes.interpolate(model, a, b, steps=5)
    assert walk.shape == (5, 1, 28, 28)
    with cg.no_grad():
        ends = model(cg.from_numpy(np.stack([a, b]))).numpy()
    np.testing.assert_allclose(walk[[0, -1]], ends, rtol=1e-5, atol=1e-6)
    z = codes.generate.encode(model, np.stack([a, b]))
    mid = codes.generate.decode(model, z.mean(0, keepdims=True))
    np.testing.assert_allclose(codes.interpolate(model, a, b, steps=3)[1], mid[0], rtol=1e-5, atol=1e-6)


def test_generate_with_a_classifier_fails(tmp_path, capsys):
    path = tmp_path / "lenet.npz"
    save_checkpoint(path, models.lenet5(), preprocessing=MNIST_PRE)
    code, _, err = run(["generate", str(path), "--out", str(tmp_path / "g.png")], capsys)
    assert_one_line_failure(code, err, "lenet5", "VAE or GAN")
    assert not (tmp_path / "g.png").exists()


# ----------------------------------------------------------------------------------------------
# Style transfer
# ----------------------------------------------------------------------------------------------
def test_gram_matrix_matches_torch():
    rng = np.random.default_rng(7)
    maps = rng.normal(size=(2, 3, 4, 5))
    x = cg.tensor(maps, requires_grad=True)
    g = codes.gram_matrix(x)
    weights = rng.normal(size=(2, 3, 3))
    (g * cg.tensor(weights)).sum().backward()
    t = torch.tensor(maps, requires_grad=True)
    flat = t.reshape(2, 3, 20)
    tg = flat @ flat.transpose(1, 2) / 60
    (tg * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(g.numpy(), tg.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_style_layers_follow_the_paper():
    features = make_layers([64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"])  # VGG-11
    style, content = codes.style_layers(features)
    relus = [i for i, m in enumerate(features) if isinstance(m, nn.ReLU)]
    assert style == [relus[0], relus[1], relus[2], relus[4], relus[6]]  # relu1_1 .. relu5_1
    assert content == relus[5]  # relu4_2


def tiny_vgg():
    model = nn.Module()
    model.features = make_layers([8, "M", 16, "M", 16, 16, "M", 32, 32, "M"], in_channels=3)
    return model


def test_style_transfer_loss_falls():
    cg.manual_seed(0)
    rng = np.random.default_rng(8)
    yy, xx = np.mgrid[0:32, 0:32] / 32
    content = np.stack([yy, xx, 1 - yy]).astype(np.float32)
    style = (rng.random((3, 32, 32)) > 0.5).astype(np.float32)
    image, history = codes.stylize(tiny_vgg(), content, style, steps=30, progress=False)
    assert image.shape == (3, 32, 32) and 0 <= image.min() and image.max() <= 1
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert history[-1]["style"] < history[0]["style"]


def test_stylize_verb_writes_the_image(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(models.MODEL_REGISTRY, "tiny_vgg", tiny_vgg)
    rng = np.random.default_rng(9)
    Image.fromarray((rng.random((40, 60, 3)) * 255).astype(np.uint8)).save(tmp_path / "content.png")
    Image.fromarray((rng.random((20, 20, 3)) * 255).astype(np.uint8)).save(tmp_path / "style.png")
    out = tmp_path / "out.png"
    code, text, _ = run(["stylize", str(tmp_path / "content.png"), str(tmp_path / "style.png"), "--model", "tiny_vgg",
                         "--steps", "3", "--size", "48", "--out", str(out)], capsys)
    assert code == 0, text
    with Image.open(out) as img:
        assert img.size == (48, 32) and img.mode == "RGB"
    code, _, err = run(["stylize", str(tmp_path / "content.png"), str(tmp_path / "style.png"), "--model", "lenet5",
                        "--out", str(out)], capsys)
    assert_one_line_failure(code, err, "VGG")


def test_frechet_distance_with_singular_covariances():
    rng = np.random.default_rng(10)
    a = np.concatenate([rng.normal(size=(100, 3)), np.zeros((100, 2))], axis=1)  # two silent features
    b = a[::-1] + [0.5, 0, 0, 0, 0]
    assert abs(codes.frechet_distance(a, a)) < 1e-8
    assert codes.frechet_distance(a, b) == pytest.approx(0.25, rel=1e-6)  # same covariance, mean moved 0.5


def write_idx_dir(folder, images_by_split):
    """MNIST IDX files (uncompressed) for {"train": (images, labels), "t10k": (...)}."""
    import struct

    folder.mkdir()
    for prefix, (images, labels) in images_by_split.items():
        with open(folder / f"{prefix}-images-idx3-ubyte", "wb") as f:
            f.write(struct.pack(">IIII", 2051, *images.shape) + images.astype(np.uint8).tobytes())
        with open(folder / f"{prefix}-labels-idx1-ubyte", "wb") as f:
            f.write(struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def test_embed_data_dir_renormalised_to_the_checkpoint(tmp_path, capsys):
    """--data DIR is read with open_data (normalised with the data's mean/std) and brought to the
    checkpoint's own normalisation: the codes equal a direct encode of the checkpoint's inputs."""
    test = MNIST(train=False)
    folder = tmp_path / "mnist"
    write_idx_dir(folder, {"train": (test.data[100:160], test.targets[100:160]),
                           "t10k": (test.data[:30], test.targets[:30])})
    cg.manual_seed(3)
    model = models.get_model("conv_autoencoder", code_dim=5, widths=[4, 4])
    pre = dict(MNIST_PRE, mean=[0.5], std=[0.25])
    save_checkpoint(tmp_path / "ae.npz", model, preprocessing=pre)
    out = tmp_path / "c.npz"
    code, _, _ = run(["embed", str(tmp_path / "ae.npz"), "--data", str(folder), "--out", str(out)], capsys)
    assert code == 0
    emb, labels = codes.load_embeddings(out)
    np.testing.assert_array_equal(labels, test.targets[:30])
    with cg.no_grad():
        x = ((test.data[:30, None] / 255.0 - 0.5) / 0.25).astype(np.float32)
        direct = model.eval().encode(cg.from_numpy(x)).numpy()
    np.testing.assert_allclose(emb, direct, rtol=1e-4, atol=1e-5)
