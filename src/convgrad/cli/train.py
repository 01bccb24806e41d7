"""``convgrad train``: train a model on the bundled sample or your own data, into a run directory."""
import argparse
import signal
import sys
import threading
import time

from .common import EXIT_INTERRUPTED, UsageError, learning_rate, nonnegative_int, positive_int


def fraction(text):
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.2, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1), got {text}")
    return value


# settings a --resume may repeat (they must equal the saved ones, see training.runner.resume_run)
SETTINGS = ("model", "variant", "data", "data_kind", "image_size", "channels", "val_split", "label_column", "strict",
            "epochs", "batch_size", "lr", "optimizer", "schedule", "augment", "seed", "checkpoint_every", "max_train",
            "max_test", "detect_anomaly", "on_nonfinite", "threads", "latent_dim", "record_filters", "health_every")
SETTINGS += ("sync_bn",)  # data-parallel runs (distributed/)


def register(sub):
    from ..training.runner import DEFAULTS, GENERATIVE, MODEL_DEFAULTS, OPTIMIZERS, SCHEDULES

    d = DEFAULTS
    train = sub.add_parser(
        "train", help="train a model (LeNet-5 on the bundled MNIST sample by default, or on --data)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a model, print its figures on the test split and save it in a run directory.\n\n"
        "With no arguments: the modern LeNet-5 (ReLU + max pooling, 61,706 parameters) trained on the\n"
        "5,000 bundled MNIST training images with random rotation/shift/zoom augmentation, Adam with a\n"
        f"one-cycle learning-rate schedule (peak {d['lr']:g}), batch {d['batch_size']}, {d['epochs']} epochs, "
        f"seed {d['seed']};\n"
        "tested on the official 10,000 MNIST test images: 98.54% in 34 s (measured 2026-12-02 on the\n"
        "project's 2-core development machine shared with other jobs; 14.4 s of CPU time; see README).\n\n"
        "--data PATH trains on your own data (MNIST IDX files, a folder of images with one subfolder per\n"
        "class, .npz arrays, CSV, or UCR/UEA .ts time series); the model is built for its channels, size\n"
        f"and classes. {', '.join(GENERATIVE)} train without labels (reconstruction, VAE, GAN).\n"
        "The run directory (default ./runs/<timestamp>) holds config.json, metrics.jsonl, checkpoint.npz\n"
        "and the final model.npz. Ctrl-C saves a resumable checkpoint: continue with --resume RUN_DIR.")
    train.add_argument("--model", default=None, help="model name (default lenet5; fcn1d for .ts data)")
    train.add_argument("--variant", choices=("classic", "modern"), default=None,
                       help=f"LeNet-5 variant: classic = tanh + average pooling, modern = ReLU + max pooling "
                       f"(default {d['variant']})")
    data = train.add_argument_group("data")
    data.add_argument("--data", metavar="PATH", help="your data (kind detected); default: the bundled MNIST sample")
    data.add_argument("--data-kind", choices=("idx", "image_folder", "npz", "csv", "ts"), default=None,
                      help="force the kind of --data instead of detecting it")
    data.add_argument("--image-size", type=positive_int, metavar="N", help="resize images to NxN (image folders)")
    data.add_argument("--channels", type=int, choices=(1, 3), default=None, help="1 (grey) or 3 (RGB) for images")
    data.add_argument("--val-split", type=fraction, default=None, metavar="F",
                      help=f"held-out share when the data has no test split (seeded, stratified; default {d['val_split']})")
    data.add_argument("--label-column", metavar="C", help="label column of a CSV file (name or index)")
    data.add_argument("--strict", action="store_const", const=True, default=None,
                      help="fail on unreadable files instead of skipping them")
    data.add_argument("--max-train", type=positive_int, metavar="N", help="train on a random subset of N samples")
    data.add_argument("--max-test", type=positive_int, metavar="N", help="test on a random subset of N samples")
    gen_defaults = "; ".join(f"{m}: {v['epochs']}" for m, v in MODEL_DEFAULTS.items())
    train.add_argument("--epochs", type=positive_int, default=None,
                       help=f"default {d['epochs']} ({gen_defaults}); with --resume: extend a finished run to N")
    train.add_argument("--batch-size", type=positive_int, default=None, help=f"default {d['batch_size']}")
    train.add_argument("--lr", type=learning_rate, default=None,
                       help=f"(peak) learning rate, default {d['lr']:g} (dcgan {MODEL_DEFAULTS['dcgan']['lr']:g})")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=None,
                       help=f"adam, or sgd (momentum 0.9, Nesterov, weight decay 5e-4); default {d['optimizer']}")
    train.add_argument("--schedule", choices=SCHEDULES, default=None,
                       help=f"learning-rate schedule over all steps; default {d['schedule']} (dcgan none)")
    train.add_argument("--augment", dest="augment", action="store_const", const=True, default=None,
                       help="random rotation/shift/zoom of the training images (default for classifiers)")
    train.add_argument("--no-augment", dest="augment", action="store_const", const=False,
                       help="no random rotation/shift/zoom of the training images")
    train.add_argument("--latent-dim", type=positive_int, metavar="N",
                       help=f"code size of {', '.join(GENERATIVE)} (default: the model's)")
    train.add_argument("--seed", type=nonnegative_int, default=None,
                       help=f"seed of initialisation, data order and augmentation (default {d['seed']}); "
                       "same seed, same machine: bit-identical results")
    train.add_argument("--out", metavar="DIR", help="run directory (default ./runs/<timestamp>)")
    train.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                       help="write a resumable checkpoint (OUT/checkpoint.npz, atomically) every N steps")
    train.add_argument("--resume", metavar="RUN_DIR",
                       help="continue an interrupted run from its last checkpoint, with its saved settings")
    train.add_argument("--detect-anomaly", action="store_const", const=True, default=None,
                       help="stop at the first op that produces NaN/Inf, naming the op and layer")
    train.add_argument("--skip-nonfinite", dest="on_nonfinite", action="store_const", const="skip", default=None,
                       help="skip batches whose loss is NaN/Inf instead of stopping")
    train.add_argument("--threads", type=positive_int, default=None, metavar="N",
                       help=f"BLAS threads (default {d['threads']}: fastest for LeNet-sized layers, and robust on a "
                       "busy machine)")
    train.add_argument("--record-filters", type=positive_int, metavar="N",
                       help="record the first convolution's filters every N steps (OUT/filters.npz)")
    train.add_argument("--health-every", type=positive_int, metavar="N",
                       help="log dead ReLUs and gradient norms every N steps (metrics.jsonl) and warn of dead layers")
    train.add_argument("--no-progress", dest="progress", action="store_false",
                       help="no progress bar (it is shown only when stderr is a terminal anyway)")
    parallel = train.add_argument_group("data-parallel training (run under mpiexec -n N; needs convgrad[mpi])")
    parallel.add_argument("--distributed", action="store_true",
                          help="train data-parallel over MPI (detected by itself under mpiexec -n N with N > 1); "
                          "--batch-size is the global batch, split over the ranks")
    parallel.add_argument("--sync-bn", dest="sync_bn", action="store_const", const=True, default=None,
                          help="batch-norm statistics over all ranks (SyncBatchNorm): the single-process result; "
                          "without it each rank normalises its own shard")
    train.set_defaults(handler=run_train)


class _StopOnSignal:
    """SIGINT/SIGTERM set ``event`` (the run stops after its current step and saves a checkpoint);
    a second SIGINT interrupts at once."""

    def __init__(self):
        self.event = threading.Event()
        self.previous = {}

    def _handle(self, signum, frame):
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.event.set()
        print("convgrad train: stopping after this step to save a checkpoint (Ctrl-C again to quit now)",
              file=sys.stderr)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self.event

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _settings(args):
    return {key: getattr(args, key) for key in SETTINGS if getattr(args, key, None) is not None}


def run_train(args):
    try:
        return _run_train(args)
    except BaseException as exc:
        _abort_other_ranks(args, exc)
        raise


def _abort_other_ranks(args, exc):
    """Under MPI a failing rank ends the whole job (its peers would wait in a collective)."""
    if "convgrad.distributed.comm" not in sys.modules or isinstance(exc, SystemExit):
        return
    from ..distributed import comm
    from .common import one_line

    if comm.is_initialized() and comm.world_size() > 1:
        comm.abort(f"convgrad {args.command}: error: {one_line(exc)}")


def _is_main():
    if "convgrad.distributed.comm" not in sys.modules:
        return True
    from ..distributed import comm

    return comm.is_main()


def _run_train(args):
    from ..training.runner import resume_run, train_run

    t0 = time.perf_counter()
    distributed = True if getattr(args, "distributed", False) else None
    settings = _settings(args)
    with _StopOnSignal() as stop:
        if args.resume:
            if args.out is not None:
                raise UsageError("--resume uses the run's saved settings; do not combine it with --out")
            result = resume_run(args.resume, progress=args.progress, stop=stop, epochs=settings.pop("epochs", None),
                                settings=settings, distributed=distributed)
        else:
            result = train_run(settings, out=args.out, progress=args.progress, stop=stop, distributed=distributed)
    wall = time.perf_counter() - t0
    if not _is_main():  # rank 0 speaks for the job
        return EXIT_INTERRUPTED if result["stopped"] else 0
    if result["stopped"]:
        print(f"convgrad train: interrupted after {result['step']} optimizer steps; saved a resumable checkpoint to "
              f"{result['checkpoint_path']}; continue with: convgrad train --resume {result['run_dir']}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    print(_figures_line(result))
    print(f"training took {result['seconds']:.1f} s ({result['images_per_second']:.0f} images/s); "
          f"total {wall:.1f} s")
    print(f"saved model to {result['model_path']}")
    return 0


def _figures_line(result):
    split = result["test_name"]
    unit = "images" if len(result.get("input_shape") or (1, 1, 1)) == 3 else "samples"
    where = f"on {result['test_images']} {split} {unit}"
    if "test_accuracy" in result:
        return f"{split} accuracy: {result['test_accuracy']:.4f} {where}"
    figures = [(k[len("test_"):], v) for k, v in result.items() if k.startswith("test_") and isinstance(v, float)]
    if not figures:
        return f"trained {result['objective']} model (no {split} figure for this objective)"
    return f"{split} " + ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in figures) + f" {where}"
