"""``convgrad serve``: the workbench, a local web page over the JSON API of :mod:`convgrad.web`."""
import argparse
import socket
import sys

from .common import UsageError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def port_number(text):
    """An argparse type: a TCP port 0..65535 (0: any free port)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number in 0..65535, got {value}")
    return value


def register(sub):
    serve = sub.add_parser("serve", help="the workbench: draw digits, look inside networks, train, in the browser",
                           description="Start the workbench on http://HOST:PORT/: draw a digit and watch the "
                           "network's layers, explore conv arithmetic, train a model live, map its codes. "
                           "Serves only this machine (127.0.0.1) unless --host says otherwise. "
                           "Needs the extra: pip install convgrad[web].")
    serve.add_argument("checkpoints", metavar="CHECKPOINT", nargs="*", help="checkpoints to offer (.npz/.safetensors)")
    serve.add_argument("--port", type=port_number, default=8000, help="TCP port (default 8000; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--runs-dir", metavar="DIR", default="runs",
                       help="run directory: its runs are offered, the page trains into it (default: runs)")
    serve.set_defaults(handler=run_serve)


def run_serve(args):
    from ..web.app import LOCAL_HOSTS, MissingExtraError, create_app

    try:
        import uvicorn
    except ImportError:
        raise MissingExtraError("the workbench needs Starlette and uvicorn: pip install convgrad[web]") from None
    if not args.host:
        raise UsageError("--host must not be empty")
    local = args.host in LOOPBACK
    if not local:
        print(f"convgrad serve: warning: listening on {args.host}, not 127.0.0.1: anyone who can reach this "
              "port can use the workbench and start training runs", file=sys.stderr)
    app = create_app(args.checkpoints, runs_dir=args.runs_dir, allowed_hosts=LOCAL_HOSTS if local else ("*",))
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP; without it
    # every response waits ~40 ms for the client's delayed ACK (headers and body are two writes)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))  # bound here so a taken port is one line, and port 0 shows its number
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    port = sock.getsockname()[1]
    shown = f"[{args.host}]" if ":" in args.host else args.host
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    server = _server_class(uvicorn)(config)
    print(f"convgrad workbench: http://{shown}:{port}/  (Ctrl+C stops; a training run keeps its checkpoint)",
          flush=True)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C after its graceful shutdown: the usual way to stop
        pass
    print("convgrad workbench: stopped", flush=True)
    return 0


def _server_class(uvicorn):
    class WorkbenchServer(uvicorn.Server):
        """uvicorn's server; on Ctrl+C / SIGTERM the training run is asked to stop and the event streams
        close first, so the graceful shutdown does not wait on them."""

        def handle_exit(self, sig, frame):
            workbench = self.config.app.state.workbench
            workbench.hub.close()
            workbench.trainer.request_stop()
            super().handle_exit(sig, frame)

    return WorkbenchServer
