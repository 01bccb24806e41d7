"""The workbench's Starlette application: the page, its JSON API and the training event stream.

    from convgrad.web.app import create_app
    app = create_app(["runs/lenet/model.npz"], runs_dir="runs")   # serve with uvicorn

Routes (documented for users in the README section "The workbench"):

    GET  /                            the page (static/index.html); GET /static/NAME its assets
    GET  /api/models                  the models the server knows (checkpoints given, runs of the run directory)
    GET  /api/model/{id}              layers in order with shapes, params, mult-adds; summary and explain text
    GET  /api/model/{id}/filters      ?layer=NAME: a conv layer's kernels
    POST /api/predict                 PNG/JPEG body (?model=ID) or JSON {"pixels": [[...]], "model", "centre"}
    POST /api/activations             same body: every layer's feature maps, autoscaled uint8, base64
    POST /api/detail                  JSON {..., "layer", "channel", "y", "x"}: one output value explained
    POST /api/saliency                same body as predict (+ "target"): |d score / d input|
    GET  /api/digit/{index}           an MNIST test digit (pixels, label)
    GET  /api/codes/{id}              ?n=: 2-D PCA map of the test digits' codes; .../neighbours?index=&k=
    GET  /api/arithmetic              ?op=conv|maxpool|avgpool&size=&kernel=&stride=&padding=&dilation=&ceil_mode=
    GET  /api/train/options           what the Learn view offers
    POST /api/train                   start a run (JSON settings); 409 while one runs
    POST /api/train/stop              end it after the current step (checkpoint.npz stays)
    POST /api/train/pause             JSON {"paused": true|false}
    GET  /api/train/status            state, step, epoch records, the run's model id
    GET  /api/runs, /api/runs/{name}  the run directory's runs; one run's config and metrics
    GET  /api/events                  server-sent events of the current training run

Safety: request bodies are capped (5 MB by default: 413), requests must name this machine in
their Host header (against DNS rebinding), a POST from a page of another origin is refused (403)
and the training endpoints take only application/json (415 otherwise), no request path is ever joined to a file path (models
are ids; static files are a fixed list read at start; run names are checked against the run
directory's listing), and every error is a JSON object ``{"error": "..."}`` with a 4xx status.
"""
import asyncio
import base64
import binascii
import contextlib
import json
import math
import os
import types

from ..errors import ConvgradError
from . import api
from .registry import Registry, RequestError

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
MAX_BODY_BYTES = 5 * 1024 * 1024
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml",
                 ".txt": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8"}
SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                                               "style-src 'self'; script-src 'self'; connect-src 'self'",
                    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class MissingExtraError(ConvgradError, ImportError):
    """The optional dependencies of the workbench are not installed."""


def _starlette():
    try:
        import starlette  # noqa: F401
    except ImportError:
        raise MissingExtraError("the workbench needs Starlette and uvicorn: pip install convgrad[web]") from None


def load_static(directory=STATIC_DIR):
    """``{name: (bytes, content type)}`` of the regular files (not symlinks) directly in ``directory``."""
    files = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name.startswith(".") or os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            files[name] = (f.read(), CONTENT_TYPES.get(os.path.splitext(name)[1], "application/octet-stream"))
    return files


class BodyLimit:
    """ASGI middleware: a declared Content-Length above the cap is answered 413 before the app runs
    (bodies without one are counted while read, see ``read_body``)."""

    def __init__(self, app, max_bytes):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            length = dict(scope.get("headers") or []).get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
                from starlette.responses import JSONResponse

                status = 413 if length.isdigit() else 400
                message = _too_large(self.max_bytes) if status == 413 else "malformed Content-Length header"
                await JSONResponse({"error": message}, status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SameOrigin:
    """ASGI middleware against cross-site requests: a POST whose ``Origin`` header (browsers send
    it on every cross-origin POST) names another site than the ``Host`` it was sent to is answered
    403, so a web page elsewhere cannot start or stop training on this machine."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(scope.get("headers") or [])
            origin, host = headers.get(b"origin"), headers.get(b"host", b"")
            if origin is not None and origin.split(b"://", 1)[-1] != host:
                from starlette.responses import JSONResponse

                message = f"cross-origin request refused (Origin {origin.decode('latin-1')[:80]})"
                await JSONResponse({"error": message}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _too_large(limit):
    return f"request body too large: at most {limit // (1024 * 1024)} MB accepted"


async def read_body(request, limit):
    """The body, refusing (413) more than ``limit`` bytes whatever the headers said."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(_too_large(limit), 413)
        chunks.append(chunk)
    return b"".join(chunks)


def _json_object(body):
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RequestError("the request body is not valid JSON") from None
    if not isinstance(obj, dict):
        raise RequestError("the request body must be a JSON object")
    return obj


def _int_param(params, name, default=None):
    value = params.get(name)
    if value is None:
        if default is None:
            raise RequestError(f"query parameter {name} is required")
        return default
    try:
        return int(value)
    except ValueError:
        raise RequestError(f"{name} must be an integer, got {value[:40]!r}") from None


def create_app(checkpoints=(), runs_dir="runs", *, max_body_bytes=MAX_BODY_BYTES, allowed_hosts=LOCAL_HOSTS):
    """The workbench as an ASGI application.

    Args:
        checkpoints: paths of convgrad checkpoints to offer (each must load).
        runs_dir: the run directory: its runs are offered too, and the Learn view trains into it.
        max_body_bytes: larger request bodies are answered 413.
        allowed_hosts: the Host header values accepted (default: this machine's loopback names);
            ``("*",)`` accepts any, for a server bound to a public address.

    Returns:
        a Starlette application with ``app.state.workbench`` (``registry``, ``trainer``, ``hub``).

    Raises:
        MissingExtraError: Starlette is not installed (``pip install convgrad[web]``).
        CheckpointError: a checkpoint does not load.
    """
    _starlette()
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    from .training import EventHub, TrainingManager

    hub = EventHub()
    registry = Registry(checkpoints, runs_dir)
    trainer = TrainingManager(runs_dir, registry, hub)
    registry.quiet = trainer.parked  # summary() traces process-wide: no training step meanwhile
    static = load_static()

    def ok(payload, status=200):
        return JSONResponse(payload, status_code=status, headers={"Cache-Control": "no-store"})

    async def call(fn, *args, **kwargs):
        return ok(await run_in_threadpool(fn, *args, **kwargs))

    # --- the page ------------------------------------------------------------------------------
    async def index(request):
        return static_file_response("index.html")

    async def static_file(request):
        return static_file_response(request.path_params["name"])

    def static_file_response(name):
        if name not in static:  # a fixed list: no request path is ever joined to a directory
            raise RequestError("not found", 404)
        data, content_type = static[name]
        return Response(data, media_type=content_type, headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})

    # --- models --------------------------------------------------------------------------------
    async def list_models(request):
        def work():
            return {"models": registry.list(), "problems": list(registry.problems)}
        return await call(work)

    async def model_info(request):
        return await call(lambda: api.describe_model(registry.get(request.path_params["id"])))

    async def model_filters(request):
        layer = request.query_params.get("layer")
        return await call(lambda: api.filters(registry.get(request.path_params["id"]), layer))

    async def read_input(request):
        """(entry, grey image, centre, the JSON object or {}) from a PNG/JPEG or JSON body."""
        body = await read_body(request, max_body_bytes)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        model_id = request.query_params.get("model")
        obj = {}
        if content_type == "application/json" or body[:1] == b"{":
            obj = _json_object(body)
            model_id = obj.get("model", model_id)
            if "pixels" in obj:
                grey = api.grey_from_pixels(obj["pixels"])
            elif "image" in obj:
                grey = api.grey_from_image_bytes(_base64_image(obj["image"]))
            else:
                raise RequestError('the JSON body needs "pixels" (rows of 0..255, white on black) or "image" '
                                   "(a base64 PNG)")
            centre = obj.get("centre", True)
            if not isinstance(centre, bool):
                raise RequestError(f"centre must be true or false, got {centre!r}")
        else:
            if not body:
                raise RequestError("empty request body: send a PNG/JPEG image or JSON {\"pixels\": ...}")
            grey, centre = await run_in_threadpool(api.grey_from_image_bytes, body), True
        return _entry(model_id), grey, centre, obj

    def _entry(model_id):
        if model_id is None:
            models = registry.list()
            if not models:
                raise RequestError("no model is loaded: start convgrad serve with a checkpoint, or train one "
                                   "in the Learn view", 404)
            model_id = models[0]["id"]
        return registry.get(model_id)

    async def predict(request):
        entry, grey, centre, _ = await read_input(request)
        return await call(api.predict, entry, grey, centre)

    async def activations(request):
        entry, grey, centre, _ = await read_input(request)
        return await call(api.activations, entry, grey, centre)

    async def saliency(request):
        entry, grey, centre, obj = await read_input(request)
        return await call(api.saliency, entry, grey, centre, obj.get("target"))

    async def detail(request):
        entry, grey, centre, obj = await read_input(request)
        missing = [k for k in ("layer", "channel", "y", "x") if k not in obj]
        if missing:
            raise RequestError(f"detail needs a JSON body with {', '.join(missing)}")
        return await call(api.detail, entry, grey, obj["layer"], obj["channel"], obj["y"], obj["x"], centre)

    async def digit(request):
        return await call(api.test_digit, request.path_params["index"])

    async def codes(request):
        n = _int_param(request.query_params, "n", 500)
        return await call(lambda: api.codes_map(registry.get(request.path_params["id"]), n))

    async def codes_neighbours(request):
        q = request.query_params
        index, n, k = _int_param(q, "index"), _int_param(q, "n", 500), _int_param(q, "k", 8)
        return await call(lambda: api.neighbours(registry.get(request.path_params["id"]), index, n, k))

    async def arithmetic(request):
        q = request.query_params
        ceil = q.get("ceil_mode", "false").lower()
        if ceil not in ("true", "false", "1", "0"):
            raise RequestError(f"ceil_mode must be true or false, got {ceil[:20]!r}")
        values = {name: _int_param(q, name, default) for name, default in
                  (("size", 28), ("kernel", 3), ("stride", 1), ("padding", 0), ("dilation", 1))}
        return await call(api.arithmetic, q.get("op", "conv"), ceil_mode=ceil in ("true", "1"), **values)

    # --- training ------------------------------------------------------------------------------
    async def train_options(request):
        return ok(trainer.options())

    def require_json(request):
        """Settings come as application/json, a type no cross-site form or simple request can send."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise RequestError(f"send the settings as JSON (Content-Type: application/json), got "
                               f"{content_type[:60] or 'no Content-Type'!r}", 415)

    async def train_start(request):
        require_json(request)
        params = _json_object(await read_body(request, max_body_bytes) or b"{}")
        return await call(trainer.start, params)

    async def train_stop(request):
        require_json(request)
        return ok(trainer.stop())

    async def train_pause(request):
        require_json(request)
        body = await read_body(request, max_body_bytes)
        paused = _json_object(body).get("paused", True) if body else True
        if not isinstance(paused, bool):
            raise RequestError(f"paused must be true or false, got {paused!r}")
        return ok(trainer.pause(paused))

    async def train_status(request):
        return ok(trainer.status())

    async def runs(request):
        return await call(lambda: {"runs": registry.run_names(), "dir": registry.runs_dir})

    async def run_info(request):
        return await call(_run_info, registry, request.path_params["name"])

    async def events(request):
        queue = hub.subscribe()

        async def stream():
            try:
                yield "retry: 2000\n\n"
                yield f"data: {json.dumps({'type': 'status', **trainer.status()})}\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(queue.get(), timeout=15)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if event is None:
                        break
                    yield f"id: {event['seq']}\ndata: {json.dumps(event)}\n\n"
            finally:
                hub.unsubscribe(queue)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    # --- errors --------------------------------------------------------------------------------
    async def request_error(request, exc):
        return ok({"error": str(exc)}, exc.status)

    async def convgrad_error(request, exc):
        return ok({"error": " ".join(str(exc).split())}, 400)

    async def http_error(request, exc):
        message = exc.detail if exc.status_code != 404 else f"not found: {request.url.path[:200]}"
        return ok({"error": message}, exc.status_code)

    async def server_error(request, exc):
        return ok({"error": f"internal error: {type(exc).__name__}"}, 500)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        hub.close()
        await run_in_threadpool(trainer.shutdown)

    routes = [
        Route("/", index), Route("/static/{name}", static_file),
        Route("/api/models", list_models), Route("/api/model/{id}", model_info),
        Route("/api/model/{id}/filters", model_filters),
        Route("/api/predict", predict, methods=["POST"]), Route("/api/activations", activations, methods=["POST"]),
        Route("/api/detail", detail, methods=["POST"]), Route("/api/saliency", saliency, methods=["POST"]),
        Route("/api/digit/{index:int}", digit), Route("/api/codes/{id}", codes),
        Route("/api/codes/{id}/neighbours", codes_neighbours), Route("/api/arithmetic", arithmetic),
        Route("/api/train/options", train_options), Route("/api/train", train_start, methods=["POST"]),
        Route("/api/train/stop", train_stop, methods=["POST"]),
        Route("/api/train/pause", train_pause, methods=["POST"]), Route("/api/train/status", train_status),
        Route("/api/runs", runs), Route("/api/runs/{name}", run_info), Route("/api/events", events),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)), Middleware(SameOrigin),
                  Middleware(BodyLimit, max_bytes=max_body_bytes)]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={RequestError: request_error, ConvgradError: convgrad_error,
                                        HTTPException: http_error, Exception: server_error})
    app.state.workbench = types.SimpleNamespace(registry=registry, trainer=trainer, hub=hub)
    return app


def _base64_image(text):
    if not isinstance(text, str):
        raise RequestError('"image" must be a base64 string (optionally a data: URL)')
    if text.startswith("data:"):
        text = text.split(",", 1)[-1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RequestError('"image" is not valid base64') from None


def _run_info(registry, name):
    """One run's config.json and metrics.jsonl rows (``GET /api/runs/{name}``)."""
    config_path = registry.run_path(name, "config.json")
    if config_path is None or not os.path.isfile(config_path):
        raise RequestError(f"no run named {name[:80]!r} in the run directory", 404)
    with open(config_path, encoding="utf-8") as f:
        try:
            config = json.load(f)
        except ValueError:
            raise RequestError(f"run {name!r}: config.json is malformed", 400) from None
    metrics = []
    metrics_path = registry.run_path(name, "metrics.jsonl")
    if metrics_path is not None and os.path.isfile(metrics_path):
        with open(metrics_path, encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a line being written
                if isinstance(row, dict):
                    metrics.append({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                    for k, v in row.items()})
    files = sorted(n for n in os.listdir(os.path.dirname(config_path)) if not n.startswith("."))
    return {"name": name, "config": config, "metrics": metrics, "files": files}
