"""``convgrad train``: train a model and save it in a run directory."""
import argparse
import time

from .common import UsageError, learning_rate, nonnegative_int, positive_int


def register(sub):
    from ..training.runner import DEFAULTS, OPTIMIZERS, SCHEDULES

    d = DEFAULTS
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
    train.add_argument("--epochs", type=positive_int, default=d["epochs"], help=f"default {d['epochs']}")
    train.add_argument("--batch-size", type=positive_int, default=d["batch_size"], help=f"default {d['batch_size']}")
    train.add_argument("--lr", type=learning_rate, default=d["lr"],
                       help=f"(peak) learning rate, default {d['lr']:g}")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=d["optimizer"],
                       help=f"adam, or sgd (momentum 0.9, Nesterov, weight decay 5e-4); default {d['optimizer']}")
    train.add_argument("--schedule", choices=SCHEDULES, default=d["schedule"],
                       help=f"learning-rate schedule over all steps; default {d['schedule']}")
    train.add_argument("--no-augment", dest="augment", action="store_false",
                       help="no random rotation/shift/zoom of the training images")
    train.add_argument("--seed", type=nonnegative_int, default=d["seed"],
                       help=f"seed of initialisation, data order and augmentation (default {d['seed']}); "
                       "same seed, same machine: bit-identical results")
    train.add_argument("--out", metavar="DIR", help="run directory (default ./runs/<timestamp>)")
    train.add_argument("--checkpoint-every", type=positive_int, metavar="N",
                       help="write a resumable checkpoint (OUT/checkpoint.npz, atomically) every N steps")
    train.add_argument("--resume", metavar="RUN_DIR",
                       help="continue an interrupted run from its last checkpoint, with its saved settings")
    train.add_argument("--detect-anomaly", action="store_true",
                       help="stop at the first op that produces NaN/Inf, naming the op and layer")
    train.add_argument("--skip-nonfinite", action="store_true",
                       help="skip batches whose loss is NaN/Inf instead of stopping")
    train.add_argument("--max-train", type=positive_int, metavar="N", help="train on a random subset of N images")
    train.add_argument("--max-test", type=positive_int, metavar="N", help="test on a random subset of N images")
    train.add_argument("--threads", type=positive_int, default=d["threads"], metavar="N",
                       help=f"BLAS threads (default {d['threads']}: fastest for LeNet-sized layers, and robust on a "
                       "busy machine)")
    train.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")

    train.set_defaults(handler=run_train)


def run_train(args):
    from ..training.runner import resume_run, train_run

    t0 = time.perf_counter()
    if args.resume:
        given = [flag for flag, value in (("--out", args.out), ("--data", args.data), ("--variant", args.variant),
                                          ("--max-train", args.max_train), ("--max-test", args.max_test))
                 if value is not None]
        if given:
            raise UsageError(f"--resume uses the run's saved settings; do not combine it with {', '.join(given)}")
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
