"""What every ``convgrad`` verb shares: the one-line-error parser, argument types, exit codes.

A verb module (``cli/train.py``, ``cli/use.py``, ...) has ``register(subparsers)``, which adds its
sub-commands and sets ``handler=`` on each with ``set_defaults``; the handler takes the parsed
arguments and returns the exit status. Raising :class:`UsageError` gives exit status 2, any
``ConvgradError`` / ``OSError`` one line on stderr and exit status 1.
"""
import argparse
import math

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class UsageError(Exception):
    """A combination of arguments that argparse cannot reject by itself."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus where to find help), not the usage block."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def int_parser(low, what):
    """An argparse type: an integer >= ``low``, described as ``what`` in the error message."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
        return value
    return parse


positive_int = int_parser(1, "a positive integer")
nonnegative_int = int_parser(0, "an integer >= 0")


def learning_rate(text):
    """An argparse type: a finite number in (0, 10]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= 10:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 10], got {text}")
    return value


def one_line(exc):
    """An exception as one line of text (an OSError as 'reason: path')."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.strerror}: '{exc.filename}'"
    return " ".join(text.split())


def guard_output(out, inputs=(), force=False, what="output"):
    """Refuse to write ``out`` over one of the command's ``inputs`` (never, even with --force) or
    over any other existing file unless ``force``; a directory given as a file is refused too.

    Raises UsageError naming the file and what to do instead.
    """
    import os

    out = os.fspath(out)
    if os.path.isdir(out):
        raise UsageError(f"{what} '{out}' is a directory; give a file name")
    for source in inputs:
        source = os.fspath(source)
        if os.path.exists(source) and os.path.exists(out) and os.path.samefile(source, out) \
                or os.path.realpath(source) == os.path.realpath(out):
            raise UsageError(f"{what} '{out}' is this command's input '{source}'; choose another file name")
    if os.path.exists(out) and not force:
        raise UsageError(f"{what} '{out}' exists; add --force to replace it, or choose another file name")
    return out
