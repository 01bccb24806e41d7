"""The workbench's JSON API (Starlette's TestClient, and a real uvicorn server where streaming or
raw request paths matter), with a LeNet-5 trained on the bundled digits and real MNIST test digits."""
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from web_helpers import ServerThread, trained_lenet  # noqa: E402

pytest.importorskip("starlette")

import convgrad as cg  # noqa: E402
from convgrad.data import MNIST, digit_from_array  # noqa: E402
from convgrad.io import load_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def lenet_path(tmp_path_factory):
    return trained_lenet(tmp_path_factory)


@pytest.fixture(scope="module")
def test_set():
    return MNIST(train=False)


def make_app(checkpoints, runs_dir, **kwargs):
    from convgrad.web.app import create_app

    return create_app(checkpoints, runs_dir=runs_dir, **kwargs)


@pytest.fixture(scope="module")
def client(lenet_path, tmp_path_factory):
    from starlette.testclient import TestClient

    app = make_app([lenet_path], tmp_path_factory.mktemp("runs-api"))
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture(scope="module")
def model_id(client):
    return client.get("/api/models").json()["models"][0]["id"]


def reference_model(path):
    ckpt = load_checkpoint(path)
    model = ckpt.build_model()
    model.eval()
    return model, ckpt.preprocessing


def model_input(digit, pre):
    x = (digit.astype(np.float32) / 255 - pre["mean"][0]) / pre["std"][0]
    return cg.Tensor(x[None, None].astype(np.float32))


# ----------------------------------------------------------------------------------------------
# Models, predictions, activations
# ----------------------------------------------------------------------------------------------
def test_models_and_layers(client, model_id):
    models = client.get("/api/models").json()["models"]
    assert [m["model"] for m in models] == ["lenet5"] and models[0]["kind"] == "classifier"
    info = client.get(f"/api/model/{model_id}").json()
    names = [layer["name"] for layer in info["layers"]]
    assert names == ["conv1", "act1", "pool1", "conv2", "act2", "pool2", "flatten", "fc1", "act3", "fc2", "act4", "fc3"]
    summary = cg.summary(cg.models.lenet5(variant="modern"), (1, 28, 28))
    assert [layer["params"] for layer in info["layers"]] == [r.params for r in summary.layers]
    assert [layer["macs"] for layer in info["layers"]] == [r.macs for r in summary.layers]
    assert [tuple(layer["output_shape"]) for layer in info["layers"]] == [r.output_shape for r in summary.layers]
    assert info["total_params"] == 61706 and "conv1: (28 + 2*2 - 5) + 1 = 28" in info["explain"]
    filters = client.get(f"/api/model/{model_id}/filters", params={"layer": "conv2"}).json()
    assert filters["shape"] == [16, 6, 5, 5] and np.asarray(filters["weights"]).shape == (16, 6, 5, 5)


@pytest.mark.slow
def test_predict_real_test_digits(client, model_id, lenet_path, test_set):
    """JSON pixels of 200 real test digits: the answers equal the model's on `convgrad predict`'s
    preprocessing, and the accuracy is the model's (~96%)."""
    model, pre = reference_model(lenet_path)
    correct = 0
    for i in range(200):
        res = client.post("/api/predict", json={"pixels": test_set.data[i].tolist(), "model": model_id}).json()
        digit = digit_from_array(test_set.data[i])
        assert res["input"] == digit.tolist()
        with cg.no_grad():
            probs = cg.softmax(model(model_input(digit, pre)), dim=1).numpy()[0]
        assert res["prediction"] == int(probs.argmax())
        np.testing.assert_allclose(res["probabilities"], probs, atol=2e-6)
        correct += res["prediction"] == test_set.targets[i]
    assert correct / 200 >= 0.93


def test_predict_png_body_equals_convgrad_predict(client, model_id, lenet_path, test_set, tmp_path):
    """A PNG body (dark digit on white, bigger than 28x28) gets the answer of `convgrad predict`."""
    from PIL import Image

    from convgrad.training.use import predict_digits

    for i in (3, 11, 42):
        big = Image.fromarray(255 - test_set.data[i]).resize((140, 140), Image.Resampling.BILINEAR)
        path = tmp_path / f"digit{i}.png"
        big.save(path)
        res = client.post(f"/api/predict?model={model_id}", content=path.read_bytes(),
                          headers={"Content-Type": "image/png"}).json()
        [(_, digit, prob)] = predict_digits(lenet_path, [str(path)])
        assert res["prediction"] == digit
        assert abs(max(res["probabilities"]) - prob) < 1e-5


def test_activations_are_the_layers_outputs(client, model_id, lenet_path, test_set):
    import base64

    res = client.post("/api/activations", json={"pixels": test_set.data[7].tolist(), "centre": False}).json()
    model, pre = reference_model(lenet_path)
    names = [layer["name"] for layer in res["layers"]]
    with cg.no_grad():
        acts = model(model_input(test_set.data[7], pre), return_layers=names)
    for layer in res["layers"]:
        actual = acts[layer["name"]].numpy()[0]
        actual = actual.reshape(actual.shape[0], -1) if actual.ndim == 3 else actual.reshape(1, -1)
        maps = np.frombuffer(base64.b64decode(layer["data"]), np.uint8).reshape(layer["shown"], -1)
        assert maps.shape == actual.shape, layer["name"]
        np.testing.assert_allclose(layer["min"], actual.min(axis=1), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer["max"], actual.max(axis=1), rtol=1e-5, atol=1e-6)
        span = np.where(actual.max(1) > actual.min(1), actual.max(1) - actual.min(1), 1)[:, None]
        expected = np.round((actual - actual.min(1, keepdims=True)) / span * 255)
        assert np.abs(maps.astype(int) - expected).max() <= 1, layer["name"]


def test_detail_of_a_conv_value(client, lenet_path, test_set):
    """Window x kernel, summed plus bias, is the layer's output; the next value is its ReLU."""
    model, pre = reference_model(lenet_path)
    for layer, c, y, x in (("conv1", 3, 9, 14), ("conv1", 0, 0, 0), ("conv2", 11, 4, 6)):
        d = client.post("/api/detail", json={"pixels": test_set.data[1].tolist(), "centre": False, "layer": layer,
                                              "channel": c, "y": y, "x": x}).json()
        products = np.asarray(d["window"]) * np.asarray(d["kernel"])
        np.testing.assert_allclose(d["products"], products, atol=1e-5)
        assert abs(products.sum() + d["bias"] - d["output"]) < 1e-4
        assert abs(d["value"] - d["output"]) < 1e-4
        assert d["next"]["activation"] and d["next"]["value"] == pytest.approx(max(d["output"], 0), abs=1e-6)
        with cg.no_grad():
            out = model(model_input(test_set.data[1], pre), return_layers=[layer])[layer].numpy()
        assert d["output"] == pytest.approx(float(out[0, c, y, x]), abs=1e-5)
    corner = client.post("/api/detail", json={"pixels": test_set.data[1].tolist(), "centre": False, "layer": "conv1",
                                               "channel": 0, "y": 0, "x": 0}).json()
    assert corner["rows"] == [-2, -1, 0, 1, 2] and np.asarray(corner["window"])[0, :2].sum() == 0  # zero padding


def test_detail_of_pooling_values(client, tmp_path, test_set):
    """Max pooling: the winner is the output; average pooling (classic LeNet): sum / divisor."""
    d = client.post("/api/detail", json={"pixels": test_set.data[2].tolist(), "layer": "pool2", "channel": 5,
                                          "y": 2, "x": 3}).json()
    window = np.asarray(d["window"], dtype=float)
    assert d["value"] == pytest.approx(d["output"], abs=1e-6) == pytest.approx(np.nanmax(window), abs=1e-6)
    assert window[tuple(d["winner"])] == pytest.approx(np.nanmax(window), abs=1e-6)
    from starlette.testclient import TestClient

    path = tmp_path / "classic.npz"
    cg.manual_seed(0)
    cg.save(cg.models.lenet5(variant="classic"), path,
            preprocessing={"mean": [0.1307], "std": [0.3081], "input_size": [1, 28, 28]})
    with TestClient(make_app([path], tmp_path / "runs"), base_url="http://127.0.0.1") as c:
        d = c.post("/api/detail", json={"pixels": test_set.data[2].tolist(), "layer": "pool1", "channel": 1,
                                         "y": 6, "x": 7}).json()
        assert d["mode"] == "avg" and d["divisor"] == 4
        assert d["value"] == pytest.approx(d["output"], abs=1e-6)
        assert d["value"] == pytest.approx(np.sum(d["window"]) / 4, abs=1e-6)


def test_saliency_is_the_input_gradient(client, lenet_path, test_set):
    res = client.post("/api/saliency", json={"pixels": test_set.data[4].tolist(), "centre": False}).json()
    model, pre = reference_model(lenet_path)
    x = model_input(test_set.data[4], pre)
    x.requires_grad = True
    scores = model(x)
    k = int(scores.numpy()[0].argmax())
    scores[0, k].backward()
    grad = np.abs(x.grad.numpy()[0, 0])
    assert res["target"] == k
    np.testing.assert_allclose(res["saliency"], grad / grad.max(), atol=1e-4)


def test_codes_map_and_neighbours(client, model_id):
    res = client.get(f"/api/codes/{model_id}", params={"n": 300}).json()
    points = np.asarray(res["points"])
    assert points.shape == (300, 2) and res["code_dim"] == 84 and res["source"] == "input of fc3"
    assert abs(points.mean(axis=0)).max() < 1e-3  # PCA coordinates are centred
    assert points[:, 0].var() >= points[:, 1].var()  # the first axis explains the most
    same = 0
    for index in range(0, 300, 15):
        nb = client.get(f"/api/codes/{model_id}/neighbours", params={"index": index, "n": 300, "k": 5}).json()
        assert nb["distances"] == sorted(nb["distances"]) and index not in nb["neighbours"]
        same += sum(label == nb["label"] for label in nb["labels"])
    assert same / (20 * 5) > 0.85  # a trained classifier's penultimate codes group digits by class


def test_arithmetic_matches_torch(client):
    """Output sizes of the real ops (checked against torch) with explain's formula."""
    import torch

    rng = np.random.default_rng(0)
    for _ in range(60):
        op = ["conv", "maxpool", "avgpool"][rng.integers(3)]
        size, kernel, stride = int(rng.integers(1, 20)), int(rng.integers(1, 6)), int(rng.integers(1, 4))
        padding = int(rng.integers(0, 3))
        dilation = int(rng.integers(1, 3)) if op != "avgpool" else 1
        ceil = bool(rng.integers(2)) and op != "conv"
        res = client.get("/api/arithmetic", params={"op": op, "size": size, "kernel": kernel, "stride": stride,
                                                    "padding": padding, "dilation": dilation,
                                                    "ceil_mode": str(ceil).lower()})
        x = torch.zeros(1, 1, size, size)
        try:
            if op == "conv":
                out = torch.nn.functional.conv2d(x, torch.zeros(1, 1, kernel, kernel), stride=stride, padding=padding,
                                                 dilation=dilation)
            elif op == "maxpool":
                out = torch.nn.functional.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=ceil)
            else:
                out = torch.nn.functional.avg_pool2d(x, kernel, stride, padding, ceil_mode=ceil)
            expected = out.shape[-1]
        except RuntimeError:
            expected = None
        if expected is None or expected < 1:
            assert res.status_code == 400 and res.json()["error"], (op, size, kernel, stride, padding, dilation)
            continue
        body = res.json()
        assert res.status_code == 200 and body["output"] == expected, body
        assert body["formula"].split(" = ")[-1].split()[0] in (str(expected), str(expected + 1))
        assert len(body["starts"]) == expected
    bad = client.get("/api/arithmetic", params={"op": "conv", "size": 3, "kernel": 5}).json()
    assert "larger than the padded input" in bad["error"]
    assert "ceil mode" in client.get("/api/arithmetic", params={"op": "conv", "ceil_mode": "true"}).json()["error"]


def test_autoencoder_reconstruction_and_codes(tmp_path, test_set):
    """Any model: an autoencoder's predict answers a reconstruction, its codes come from encode."""
    from starlette.testclient import TestClient

    cg.manual_seed(0)
    path = tmp_path / "ae.npz"
    cg.save(cg.models.conv_autoencoder(), path, preprocessing={"mean": [0.1307], "std": [0.3081],
                                                               "input_size": [1, 28, 28]})
    with TestClient(make_app([path], tmp_path / "runs"), base_url="http://127.0.0.1") as c:
        [entry] = c.get("/api/models").json()["models"]
        assert entry["kind"] == "autoencoder"
        res = c.post("/api/predict", json={"pixels": test_set.data[0].tolist()}).json()
        assert res["prediction"] is None and np.asarray(res["reconstruction"]).shape == (28, 28)
        codes = c.get(f"/api/codes/{entry['id']}", params={"n": 50}).json()
        assert codes["source"] == "model.encode" and codes["code_dim"] == 16
        assert c.post("/api/saliency", json={"pixels": test_set.data[0].tolist()}).status_code == 400


def test_digit_endpoint(client, test_set):
    d = client.get("/api/digit/123").json()
    assert d["label"] == test_set.targets[123] and d["pixels"] == test_set.data[123].tolist()


# ----------------------------------------------------------------------------------------------
# Bad requests: 413 and 4xx, always JSON
# ----------------------------------------------------------------------------------------------
def test_body_cap_413(client):
    big = b"\x89PNG" + b"\0" * (5 * 1024 * 1024 + 10)
    res = client.post("/api/predict", content=big, headers={"Content-Type": "image/png"})
    assert res.status_code == 413 and "at most 5 MB" in res.json()["error"]

    def chunks():  # no Content-Length: counted while read
        for _ in range(6):
            yield b"\0" * (1024 * 1024)
    res = client.post("/api/predict", content=chunks(), headers={"Content-Type": "image/png"})
    assert res.status_code == 413 and "at most 5 MB" in res.json()["error"]


def test_huge_image_413(client):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (5000, 5000)).save(buf, format="PNG")  # ~25 KB compressed, 25 Mpixels decoded
    res = client.post("/api/predict", content=buf.getvalue(), headers={"Content-Type": "image/png"})
    assert res.status_code == 413 and "5000x5000" in res.json()["error"]


@pytest.mark.parametrize("method, path, kwargs, status, words", [
    ("post", "/api/predict", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 400, "JSON"),
    ("post", "/api/predict", {"json": [1, 2]}, 400, "JSON object"),
    ("post", "/api/predict", {"json": {"nothing": 1}}, 400, "pixels"),
    ("post", "/api/predict", {"json": {"pixels": "abc"}}, 400, "pixels"),
    ("post", "/api/predict", {"json": {"pixels": [[1, 2], [3]]}}, 400, "pixels"),
    ("post", "/api/predict", {"json": {"pixels": [[300] * 28] * 28}}, 400, "0..255"),
    ("post", "/api/predict", {"json": {"pixels": [1] * 28}}, 400, "2-D"),
    ("post", "/api/predict", {"json": {"pixels": [[0] * 28] * 28}}, 400, "no digit"),
    ("post", "/api/predict", {"json": {"pixels": [[0] * 20] * 20, "centre": False}}, 400, "28x28"),
    ("post", "/api/predict", {"json": {"pixels": [[0] * 28] * 28, "centre": "yes"}}, 400, "centre"),
    ("post", "/api/predict", {"json": {"image": "%%%"}}, 400, "base64"),
    ("post", "/api/predict", {"content": b"GIF89a-not-really", "headers": {"Content-Type": "image/gif"}}, 400, "image"),
    ("post", "/api/predict", {"content": b""}, 400, "empty"),
    ("post", "/api/predict", {"json": {"pixels": [[0] * 28] * 28, "model": "nope"}}, 404, "no model"),
    ("post", "/api/detail", {"json": {"pixels": [[9] * 28] * 28, "centre": False}}, 400, "layer"),
    ("post", "/api/detail", {"json": {"pixels": [[9] * 28] * 28, "centre": False, "layer": "fc1", "channel": 0,
                                      "y": 0, "x": 0}}, 400, "convolution and pooling"),
    ("post", "/api/detail", {"json": {"pixels": [[9] * 28] * 28, "centre": False, "layer": "conv1", "channel": 6,
                                      "y": 0, "x": 0}}, 400, "channel"),
    ("post", "/api/detail", {"json": {"pixels": [[9] * 28] * 28, "centre": False, "layer": "zzz", "channel": 0,
                                      "y": 0, "x": 0}}, 404, "no layer"),
    ("get", "/api/predict", {}, 405, ""),
    ("get", "/api/nothing/here", {}, 404, "not found"),
    ("get", "/api/model/nope", {}, 404, "no model"),
    ("get", "/api/digit/10000", {}, 404, "index"),
    ("get", "/api/arithmetic?size=abc", {}, 400, "integer"),
    ("get", "/api/arithmetic?size=1000", {}, 400, "size"),
    ("get", "/api/arithmetic?op=fft", {}, 400, "op"),
    ("get", "/api/arithmetic?ceil_mode=maybe", {}, 400, "ceil_mode"),
    ("get", "/api/codes/nope", {}, 404, "no model"),
    ("post", "/api/train", {"json": {"epochs": 0}}, 400, "epochs"),
    ("post", "/api/train", {"json": {"lr": -1}}, 400, "lr"),
    ("post", "/api/train", {"json": {"model": "vgg16"}}, 400, "model"),
    ("post", "/api/train", {"json": {"out": "/etc"}}, 400, "unknown"),
    ("post", "/api/train", {"json": {"optimizer": "rmsprop"}}, 400, "optimizer"),
    ("post", "/api/train/stop", {"json": {}}, 409, "no training run"),
    ("post", "/api/train/stop", {}, 415, "application/json"),
    ("post", "/api/train", {"content": b"{}", "headers": {"Content-Type": "text/plain"}}, 415, "application/json"),
    ("post", "/api/train/pause", {"json": {"paused": True}}, 409, "no training run"),
    ("post", "/api/predict", {"json": {"pixels": [[0] * 28] * 28}, "headers": {"Content-Length": "abc"}}, 400, "Content-Length"),
])
def test_bad_requests_are_4xx_json(client, model_id, method, path, kwargs, status, words):
    res = getattr(client, method)(path, **kwargs)
    assert res.status_code == status, res.text
    assert res.headers["content-type"].startswith("application/json")
    assert words in res.json()["error"]


def test_cross_origin_post_refused(client):
    """A page of another site cannot start training here (its browser sends Origin)."""
    res = client.post("/api/train", json={"epochs": 1}, headers={"Origin": "http://evil.example"})
    assert res.status_code == 403 and "cross-origin" in res.json()["error"]
    res = client.post("/api/train/stop", json={}, headers={"Origin": "http://127.0.0.1"})
    assert res.status_code == 409  # same origin: reaches the endpoint (no run to stop)


def test_foreign_host_header_refused(client):
    """DNS rebinding: a page on another name pointing at 127.0.0.1 is not served."""
    res = client.get("/api/models", headers={"Host": "evil.example"})
    assert res.status_code == 400


# ----------------------------------------------------------------------------------------------
# Traversal: no request path reaches a file outside the static assets and the run directory
# ----------------------------------------------------------------------------------------------
def raw_get(port, raw_path):
    """Status and body of ``GET raw_path`` sent byte for byte (no client-side normalisation)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {raw_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode("latin-1"))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_traversal_attempts(lenet_path, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "config.json").write_text('{"secret": "do-not-serve"}')
    (secret / "metrics.jsonl").write_text('{"secret": "do-not-serve"}\n')
    os.symlink(secret, runs / "link")  # a symlinked "run" pointing outside
    real = runs / "real"
    real.mkdir()
    (real / "config.json").write_text('{"format": "convgrad-run"}')
    os.symlink(secret / "metrics.jsonl", real / "metrics.jsonl")  # a symlinked file inside a real run
    app = make_app([lenet_path], runs)
    attempts = [
        "/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/%2e%2e%2f%2e%2e%2fapp.py",
        "/static/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", "/static//etc/passwd", "/static/%2fetc%2fpasswd",
        "/static/..\\app.py", "/static/.%2e/web/app.py", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
        "/static/index.html%00.js", "/api/runs/..", "/api/runs/%2e%2e", "/api/runs/..%2f..%2fsecret",
        "/api/runs/%2e%2e%2fsecret", f"/api/runs/{os.fspath(secret).replace('/', '%2f')}", "/api/runs/link",
        "/api/runs/%2fetc", "/api/model/..%2f..%2fmodel.npz", f"/api/model/{lenet_path.replace('/', '%2f')}",
        "/api/codes/..%2fm1", "/api/runs/real/..%2f..%2fsecret",
    ]
    with ServerThread(app) as server:
        for path in attempts:
            status, body = raw_get(server.port, path)
            assert status in (400, 404), (path, status)
            assert b"do-not-serve" not in body and b"root:" not in body and b"import " not in body, path
            assert json.loads(body)["error"], path
        status, body = raw_get(server.port, "/api/runs/real")
        assert status == 200 and b"do-not-serve" not in body and json.loads(body)["metrics"] == []
        assert raw_get(server.port, "/static/app.js")[0] == 200
        assert raw_get(server.port, "/api/runs")[1].count(b"link") == 0


# ----------------------------------------------------------------------------------------------
# Training: one run at a time, events, pause, stop, shutdown
# ----------------------------------------------------------------------------------------------
def wait_for(predicate, timeout=60, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out")


def read_events(lines, until, timeout=60):
    """Events from an SSE response's line iterator until ``until(event)`` is true."""
    events, deadline = [], time.monotonic() + timeout
    for line in lines:
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
            if until(events[-1]):
                return events
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"no such event among {[e['type'] for e in events]}")


@pytest.mark.slow
def test_training_events_pause_second_start_refused_and_stop(tmp_path):
    import httpx

    app = make_app([], tmp_path / "runs")
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        with http.stream("GET", "/api/events") as response:
            stream = response.iter_lines()
            first = read_events(stream, lambda e: e["type"] == "status")
            assert first[-1]["running"] is False
            start = http.post("/api/train", json={"epochs": 3, "max_train": 2000, "batch_size": 32})
            assert start.status_code == 200
            run = start.json()["run"]
            events = read_events(stream, lambda e: e["type"] == "epoch")
            kinds = {e["type"] for e in events}
            assert {"start", "step", "filters"} <= kinds
            steps = [e["step"] for e in events if e["type"] == "step"]
            assert steps == sorted(steps) and len(steps) >= 5
            assert all(np.isfinite(e["loss"]) for e in events if e["type"] == "step")
            filters = next(e for e in events if e["type"] == "filters")
            assert filters["layer"] == "conv1" and np.asarray(filters["weights"]).shape == (6, 1, 5, 5)
            assert events[-1]["accuracy"] > 0.3 and events[-1]["epoch"] == 1

            second = http.post("/api/train", json={"epochs": 1})
            assert second.status_code == 409 and "already in progress" in second.json()["error"]

            assert http.post("/api/train/pause", json={"paused": True}).json()["state"] == "paused"
            time.sleep(0.3)
            step = http.get("/api/train/status").json()["step"]
            time.sleep(1.0)
            assert http.get("/api/train/status").json()["step"] == step  # parked between two steps
            assert http.post("/api/train/pause", json={"paused": False}).json()["state"] == "running"
            wait_for(lambda: http.get("/api/train/status").json()["step"] > step)

            assert http.post("/api/train/stop", json={}).status_code == 200
            done = read_events(stream, lambda e: e["type"] in ("stopped", "done", "error"))[-1]
            assert done["type"] == "stopped" and done["run"] == run
        status = http.get("/api/train/status").json()
        assert status["state"] == "stopped" and not status["running"]
        ckpt = load_checkpoint(tmp_path / "runs" / run / "checkpoint.npz")
        assert ckpt.training["step"] == status["step"]
        ids = [m["id"] for m in http.get("/api/models").json()["models"]]
        assert status["model"] in ids
        digit = MNIST(train=False).data[0].tolist()
        assert http.post("/api/predict", json={"pixels": digit, "model": status["model"]}).status_code == 200
        info = http.get(f"/api/runs/{run}").json()
        assert "checkpoint.npz" in info["files"] and any(r.get("kind") == "epoch" for r in info["metrics"])
    # the run is an ordinary run: convgrad can resume it to the end
    from convgrad.training.runner import resume_run

    result = resume_run(tmp_path / "runs" / run, log=None, progress=False)
    assert not result["stopped"] and result["test_accuracy"] > 0.5


@pytest.mark.slow
def test_shutdown_during_training_leaves_a_loadable_checkpoint(tmp_path):
    from starlette.testclient import TestClient

    app = make_app([], tmp_path / "runs")
    trainer = app.state.workbench.trainer
    with TestClient(app, base_url="http://127.0.0.1") as c:
        run = c.post("/api/train", json={"epochs": 20, "max_train": 5000}).json()["run"]
        wait_for(lambda: c.get("/api/train/status").json()["step"] >= 3)
    # leaving the block is the server's shutdown: the worker was stopped and joined
    assert not trainer.running and trainer.state == "stopped"
    ckpt = load_checkpoint(tmp_path / "runs" / run / "checkpoint.npz")
    model = ckpt.build_model()
    model.eval()
    with cg.no_grad():
        assert model(cg.zeros(1, 1, 28, 28)).shape == (1, 10)
    assert not os.path.exists(tmp_path / "runs" / run / "run.lock")


# ----------------------------------------------------------------------------------------------
# convgrad serve
# ----------------------------------------------------------------------------------------------
def _serve(args, env=None):
    return subprocess.Popen([sys.executable, "-m", "convgrad.cli", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _url_of(proc):
    line = proc.stdout.readline()
    assert line.startswith("convgrad workbench: http://"), line + proc.stderr.read()
    return line.split()[2].rstrip("/")


def test_serve_prints_the_url_serves_and_stops_on_ctrl_c(lenet_path, tmp_path):
    import httpx

    proc = _serve([lenet_path, "--port", "0", "--runs-dir", str(tmp_path / "runs")])
    try:
        url = _url_of(proc)
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/api/models").json()["models"][0]["model"] == "lenet5"
        page = httpx.get(url + "/")
        assert page.status_code == 200 and "<canvas id=\"pad\"" in page.text
        for name in ("app.js", "style.css"):
            assert httpx.get(f"{url}/static/{name}").status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in proc.stderr.read()


@pytest.mark.slow
def test_ctrl_c_during_training_leaves_a_loadable_checkpoint(tmp_path):
    """The real server's shutdown (SIGINT to `convgrad serve`) with a run in progress and an event
    stream open: the process exits promptly and the run keeps a checkpoint that loads."""
    import httpx

    runs = tmp_path / "runs"
    proc = _serve(["--port", "0", "--runs-dir", str(runs)])
    try:
        url = _url_of(proc)
        run = httpx.post(url + "/api/train", json={"epochs": 20}).json()["run"]
        seen = []

        def listen():
            try:
                with httpx.stream("GET", url + "/api/events", timeout=60) as response:
                    for line in response.iter_lines():
                        seen.append(line)
            except httpx.HTTPError:
                pass
        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        wait_for(lambda: httpx.get(url + "/api/train/status").json()["step"] >= 3)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
        listener.join(10)
        assert not listener.is_alive()  # the event stream was closed by the shutdown
    finally:
        if proc.poll() is None:
            proc.kill()
    assert any('"type": "step"' in line for line in seen)
    model = load_checkpoint(runs / run / "checkpoint.npz").build_model()
    assert sum(p.numel() for p in model.parameters()) == 61706
    assert not (runs / run / "run.lock").exists()


def test_serve_other_host_warns(tmp_path):
    proc = _serve(["--host", "0.0.0.0", "--port", "0", "--runs-dir", str(tmp_path)])
    try:
        _url_of(proc)
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "warning: listening on 0.0.0.0" in proc.stderr.read()


def test_serve_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a checkpoint")
    res = subprocess.run([sys.executable, "-m", "convgrad.cli", "serve", str(bad), "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1 and "not a .npz" in res.stderr
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        res = subprocess.run([sys.executable, "-m", "convgrad.cli", "serve", "--port", str(busy.getsockname()[1]),
                              "--runs-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    finally:
        busy.close()
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1 and "cannot listen" in res.stderr


def test_missing_extra_is_one_line_and_plain_import_does_not_need_it():
    code = ("import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None\n"
            "from convgrad.cli import main\n"
            "sys.exit(main(['serve', '--port', '0']))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and res.stderr.strip().count("\n") == 0
    assert "pip install convgrad[web]" in res.stderr
    code = ("import sys, convgrad, convgrad.cli, convgrad.web, convgrad.web.api, convgrad.web.training\n"
            "convgrad.cli.build_parser()\n"
            "assert 'starlette' not in sys.modules and 'uvicorn' not in sys.modules, 'imported'")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def test_static_files_are_packaged():
    """pyproject's package-data ships web/static/* (what the page needs, nothing fetched from elsewhere)."""
    import tomllib

    root = os.path.join(os.path.dirname(__file__), "..")
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        data = tomllib.load(f)
    assert "web/static/*" in data["tool"]["setuptools"]["package-data"]["convgrad"]
    assert data["project"]["optional-dependencies"]["web"]
    from convgrad.web.app import STATIC_DIR

    names = sorted(os.listdir(STATIC_DIR))
    assert {"index.html", "app.js", "style.css"} <= set(names)
    for name in names:
        text = open(os.path.join(STATIC_DIR, name), encoding="utf-8").read()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name
