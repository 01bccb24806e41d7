"""Shared by the workbench tests: a LeNet-5 trained once per test session, a real uvicorn server in
a thread on a free port of 127.0.0.1."""
import os
import socket
import threading
import time

_CACHE = {}


def trained_lenet(tmp_path_factory):
    """Path of a LeNet-5 (ReLU, max pooling) trained 3 epochs on the 5,000 bundled images (~96% on
    the official test set), trained once per test session whichever test file asks first."""
    if "lenet" not in _CACHE:
        from convgrad.training.runner import train_run

        out = tmp_path_factory.mktemp("web-lenet") / "run"
        train_run({"epochs": 3, "augment": False, "variant": "modern"}, out=out, log=None, progress=False)
        _CACHE["lenet"] = os.fspath(out / "model.npz")
    return _CACHE["lenet"]


class ServerThread:
    """``with ServerThread(app) as server: server.url``: uvicorn serving ``app`` on 127.0.0.1 in a thread;
    leaving the block stops it the way Ctrl+C does (training asked to stop, event streams closed)."""

    def __init__(self, app):
        import uvicorn

        self.app = app
        # IPPROTO_TCP: asyncio sets TCP_NODELAY only then (else each response waits ~40 ms for an ACK)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=3)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        workbench = self.app.state.workbench
        workbench.hub.close()
        workbench.trainer.request_stop()
        self.server.should_exit = True
        self.thread.join(60)
        self.sock.close()
        return False
