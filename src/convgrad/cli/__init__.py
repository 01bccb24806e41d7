"""The ``convgrad`` command: one sub-command (verb) per task, one module per group of verbs.

Thin by design: each verb parses its arguments, calls the floor-5 packages (``training``,
``inspect``, ``io``, ...) and prints. Every expected failure (missing or malformed data, unreadable
image, wrong checkpoint, bad argument) becomes one line on stderr and exit status 1 (2 for
command-line usage errors), never a traceback.

To add a verb group, write ``cli/<group>.py`` with ``register(subparsers)`` (see ``common.py``) and
name it in ``VERB_MODULES``.
"""
import importlib
import os
import sys

from ..errors import ConvgradError
from ..tensor import AnomalyError
from .common import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, Parser, UsageError, one_line

# In the order `convgrad --help` lists them.
VERB_MODULES = ("train", "use", "inspect", "visualize", "codes", "serve")


def build_parser():
    """The ``convgrad`` argument parser with every verb registered."""
    parser = Parser(prog="convgrad", description="convgrad: CNNs from scratch on NumPy. Train, evaluate, "
                    "inspect and use convolutional networks.")
    parser.add_argument("--version", action="version", version=f"convgrad {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in VERB_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def _version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("convgrad")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from .. import __version__
        return __version__


def main(argv=None):
    """Entry point of the ``convgrad`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed in one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args)
    except BrokenPipeError:  # `convgrad ... | head` closed our stdout: not an error of ours
        _silence_stdout()
        return EXIT_ERROR  # as Python itself exits on EPIPE; nothing printed
    except UsageError as exc:
        print(f"convgrad {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ConvgradError, AnomalyError, OSError) as exc:
        text = one_line(exc)
        if text.startswith(f"{args.command}: "):  # "convgrad train: error: train: ..." says it twice
            text = text[len(args.command) + 2:]
        print(f"convgrad {args.command}: error: {text}", file=sys.stderr)
        return EXIT_ERROR
    except MemoryError as exc:  # a ResourceLimitError of ours says what was too big; NumPy's does too
        print(f"convgrad {args.command}: error: out of memory: {one_line(exc)}; try a smaller --batch-size or "
              "input size", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"convgrad {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _silence_stdout():
    """After a broken pipe, point stdout at /dev/null so that Python's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
