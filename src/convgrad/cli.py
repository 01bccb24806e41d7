"""The ``convgrad`` command: train, evaluate and predict with MNIST digit recognizers.

Thin by design: it parses arguments, calls ``convgrad.training`` and prints. Every expected
failure (missing or malformed data, unreadable image, wrong checkpoint, bad argument) becomes one
line on stderr and exit status 1 (2 for command-line usage errors), never a traceback.
"""
import argparse
import math
import sys
import time

from .errors import ConvgradError
from .tensor import AnomalyError

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class _UsageError(Exception):
    """A combination of arguments that argparse cannot reject by itself."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus where to find help), not the usage block."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_parser(low, what):
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


_positive_int = _int_parser(1, "a positive integer")
_nonnegative_int = _int_parser(0, "an integer >= 0")


def _learning_rate(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= 10:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 10], got {text}")
    return value


def build_parser():
    from .training.runner import DEFAULTS, OPTIMIZERS, SCHEDULES

    d = DEFAULTS
    parser = _Parser(prog="convgrad", description="convgrad: CNNs from scratch on NumPy. Train, evaluate and "
                     "use MNIST digit recognizers.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = sub.add_parser(
        "train", help="train a digit recognizer (LeNet-5 on the bundled MNIST sample by default)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a model on MNIST, print its accuracy on the test split and save it.\n\n"
        "With no arguments: the modern LeNet-5 (ReLU + max pooling, 61,706 parameters) trained on the\n"
        "5,000 bundled MNIST training images with random rotation/shift/zoom augmentation, Adam with a\n"
        f"one-cycle learning-rate schedule (peak {d['lr']:g}), batch {d['batch_size']}, {d['epochs']} epochs, "
        f"seed {d['seed']};\n"
        "tested on the official 10,000 MNIST test images (98.5% measured, about 30 s on 2 cores).\n"
        "The final checkpoint goes to OUT/model.npz (default OUT: ./runs/<timestamp>).")
    train.add_argument("--model", default=d["model"], help=f"model name (default {d['model']})")
    train.add_argument("--variant", choices=("classic", "modern"), default=None,
                       help=f"LeNet-5 variant: classic = tanh + average pooling, modern = ReLU + max pooling "
                       f"(default {d['variant']})")
    train.add_argument("--data", metavar="DIR", help="MNIST directory with train-*/t10k-* IDX files (.gz or raw); "
                       "default: the bundled sample")
    train.add_argument("--epochs", type=_positive_int, default=d["epochs"], help=f"default {d['epochs']}")
    train.add_argument("--batch-size", type=_positive_int, default=d["batch_size"], help=f"default {d['batch_size']}")
    train.add_argument("--lr", type=_learning_rate, default=d["lr"],
                       help=f"(peak) learning rate, default {d['lr']:g}")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=d["optimizer"],
                       help=f"adam, or sgd (momentum 0.9, Nesterov, weight decay 5e-4); default {d['optimizer']}")
    train.add_argument("--schedule", choices=SCHEDULES, default=d["schedule"],
                       help=f"learning-rate schedule over all steps; default {d['schedule']}")
    train.add_argument("--no-augment", dest="augment", action="store_false",
                       help="no random rotation/shift/zoom of the training images")
    train.add_argument("--seed", type=_nonnegative_int, default=d["seed"],
                       help=f"seed of initialisation, data order and augmentation (default {d['seed']}); "
                       "same seed, same machine: bit-identical results")
    train.add_argument("--out", metavar="DIR", help="run directory (default ./runs/<timestamp>)")
    train.add_argument("--checkpoint-every", type=_positive_int, metavar="N",
                       help="write a resumable checkpoint (OUT/checkpoint.npz, atomically) every N steps")
    train.add_argument("--resume", metavar="RUN_DIR",
                       help="continue an interrupted run from its last checkpoint, with its saved settings")
    train.add_argument("--detect-anomaly", action="store_true",
                       help="stop at the first op that produces NaN/Inf, naming the op and layer")
    train.add_argument("--skip-nonfinite", action="store_true",
                       help="skip batches whose loss is NaN/Inf instead of stopping")
    train.add_argument("--max-train", type=_positive_int, metavar="N", help="train on a random subset of N images")
    train.add_argument("--max-test", type=_positive_int, metavar="N", help="test on a random subset of N images")
    train.add_argument("--threads", type=_positive_int, default=d["threads"], metavar="N",
                       help=f"BLAS threads (default {d['threads']}: fastest for LeNet-sized layers, and robust on a "
                       "busy machine)")
    train.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")

    evaluate = sub.add_parser("evaluate", help="print a checkpoint's accuracy on the MNIST test split",
                              description="Print `accuracy: 0.xxxx` of CHECKPOINT on the MNIST test split "
                              "(the bundled official 10,000 test images, or DIR's t10k-* files).")
    evaluate.add_argument("checkpoint", metavar="CHECKPOINT")
    evaluate.add_argument("--data", metavar="DIR", help="MNIST directory (default: the bundled test set)")

    predict = sub.add_parser("predict", help="recognize digits in PNG/JPEG images",
                             description="Print the predicted digit and its probability for each image. "
                             "Any size, colour or grey, dark-on-light or light-on-dark: the digit is found, "
                             "cropped, scaled into 20x20 and centred by its centre of mass in 28x28, as in MNIST.")
    predict.add_argument("checkpoint", metavar="CHECKPOINT")
    predict.add_argument("images", metavar="IMAGE", nargs="+")

    summary = sub.add_parser("summary", help="a model's layers: output shapes, parameters, multiply-adds, memory",
                             description="Print MODEL's layer table (a zoo model name or a checkpoint file); "
                             "with --explain, each layer's arithmetic, receptive field and jump.")
    summary.add_argument("model", metavar="MODEL", help="model name (e.g. resnet50) or checkpoint path")
    summary.add_argument("--input-size", type=_positive_int, nargs="+", metavar="N",
                         help="one input's shape, e.g. 3 224 224 (default: the checkpoint's, else one the model takes)")
    summary.add_argument("--batch-size", type=_positive_int, default=1, help="default 1")
    summary.add_argument("--explain", action="store_true", help="show each layer's arithmetic instead of the table")

    export = sub.add_parser("export", help="export a checkpoint to ONNX",
                            description="Rebuild CHECKPOINT's model and write it as an ONNX file (needs the onnx "
                            "package); the batch dimension stays dynamic.")
    export.add_argument("checkpoint", metavar="CHECKPOINT")
    export.add_argument("--onnx", metavar="OUT", required=True, help="the .onnx file to write")
    export.add_argument("--input-size", type=_positive_int, nargs="+", metavar="N",
                        help="one input's shape, e.g. 1 28 28 (default: the checkpoint's)")
    export.add_argument("--opset", type=_positive_int, default=17, help="ONNX opset version (>= 17), default 17")
    return parser


def _train(args):
    from .training.runner import resume_run, train_run

    t0 = time.perf_counter()
    if args.resume:
        given = [flag for flag, value in (("--out", args.out), ("--data", args.data), ("--variant", args.variant),
                                          ("--max-train", args.max_train), ("--max-test", args.max_test))
                 if value is not None]
        if given:
            raise _UsageError(f"--resume uses the run's saved settings; do not combine it with {', '.join(given)}")
        result = resume_run(args.resume, progress=args.progress)
    else:
        config = {"model": args.model, "variant": args.variant, "data": args.data, "epochs": args.epochs,
                  "batch_size": args.batch_size, "lr": args.lr, "optimizer": args.optimizer,
                  "schedule": args.schedule, "augment": args.augment, "seed": args.seed,
                  "checkpoint_every": args.checkpoint_every, "max_train": args.max_train,
                  "max_test": args.max_test, "detect_anomaly": args.detect_anomaly,
                  "on_nonfinite": "skip" if args.skip_nonfinite else "stop", "threads": args.threads}
        result = train_run(config, out=args.out, progress=args.progress)
    wall = time.perf_counter() - t0
    print(f"test accuracy: {result['test_accuracy']:.4f} on {result['test_images']} test images")
    print(f"training took {result['seconds']:.1f} s ({result['images_per_second']:.0f} images/s); "
          f"total {wall:.1f} s")
    print(f"saved model to {result['model_path']}")
    return 0


def _evaluate(args):
    from .training.runner import evaluate_checkpoint

    accuracy, n = evaluate_checkpoint(args.checkpoint, data=args.data)
    print(f"accuracy: {accuracy:.4f}")
    return 0


def _predict(args):
    from .training.runner import predict_digits

    for path, digit, prob in predict_digits(args.checkpoint, args.images):
        print(f"{path}: {digit} (probability {prob:.4f})")
    return 0


def _summary(args):
    from .inspect.summary import default_input_size, explain, load_model, summary

    model, recorded = load_model(args.model)
    size = tuple(args.input_size or recorded or default_input_size(model))
    show = explain if args.explain else summary
    print(show(model, size, batch_size=args.batch_size))
    return 0


def _export(args):
    from .onnx import export_checkpoint

    try:
        proto, size = export_checkpoint(args.checkpoint, args.onnx, input_size=args.input_size,
                                        opset_version=args.opset)
    except ImportError as exc:  # the optional onnx package
        raise ConvgradError(str(exc)) from None
    print(f"wrote {args.onnx}: {len(proto.graph.node)} nodes, opset {args.opset}, input (batch, "
          f"{', '.join(str(s) for s in size)})")
    return 0


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
    handler = {"train": _train, "evaluate": _evaluate, "predict": _predict, "summary": _summary,
               "export": _export}[args.command]
    try:
        return handler(args)
    except _UsageError as exc:
        print(f"convgrad {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ConvgradError, AnomalyError, OSError) as exc:
        print(f"convgrad {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"convgrad {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _one_line(exc):
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.strerror}: '{exc.filename}'"
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
