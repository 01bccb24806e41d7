"""``convgrad evaluate`` and ``convgrad predict``: use a trained model."""
import sys

from .common import EXIT_ERROR, positive_int


def register(sub):
    evaluate = sub.add_parser("evaluate", help="print a checkpoint's accuracy (and per-class table) on a test split",
                              description="Print `accuracy: 0.xxxx on N test images` of CHECKPOINT and a table "
                              "per class, on the whole test split of the data it was trained on (the bundled "
                              "official 10,000 MNIST test images for the default model) or of --data. An "
                              "autoencoder's reconstruction loss instead.")
    evaluate.add_argument("checkpoint", metavar="CHECKPOINT")
    evaluate.add_argument("--data", metavar="PATH", help="data to evaluate on (default: the model's training data)")
    evaluate.add_argument("--data-kind", choices=("idx", "image_folder", "npz", "csv", "ts"), default=None,
                          help="force the kind of --data")
    evaluate.add_argument("--max-test", type=positive_int, metavar="N",
                          help="evaluate a seeded random subset of N samples (default: all of them)")

    predict = sub.add_parser("predict", help="classify images (or series) with a trained model",
                             description="Print the predicted class and its probability for each input file. "
                             "Digits (MNIST models): any size, colour or grey, dark-on-light or light-on-dark: the "
                             "digit is found, cropped, scaled into 20x20 and centred by its centre of mass in 28x28, "
                             "as in MNIST. Image-folder models: any image, resized; sequence models: a .ts/CSV file. "
                             "An autoencoder prints each input's reconstruction error.")
    predict.add_argument("checkpoint", metavar="CHECKPOINT")
    predict.add_argument("images", metavar="IMAGE", nargs="+")

    evaluate.set_defaults(handler=run_evaluate)
    predict.set_defaults(handler=run_predict)


def run_evaluate(args):
    from ..training.use import evaluate_checkpoint

    report = evaluate_checkpoint(args.checkpoint, data=args.data, data_kind=args.data_kind, max_test=args.max_test,
                                 per_class=True)
    where = f"on {report['images']:,} {report['split']} images"
    if "accuracy" not in report:
        figures = ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in report.items() if isinstance(v, float))
        print(f"{report['objective']}: {figures} {where}")
        return 0
    print(f"accuracy: {report['accuracy']:.4f} {where}")
    rows = [(str(r["name"]), f"{r['images']:,}", f"{r['correct']:,}", f"{r['accuracy']:.4f}") for r in report["per_class"]]
    head = ("class", "images", "correct", "accuracy")
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    for row in [head] + rows:
        print("  ".join(f"{x:<{w}}" if i == 0 else f"{x:>{w}}" for i, (x, w) in enumerate(zip(row, widths))))
    return 0


def run_predict(args):
    from ..training.use import predict_files

    failed = 0
    for r in predict_files(args.checkpoint, args.images, on_error="report"):
        if "error" in r:  # every good file is still answered; each bad one is said on stderr
            failed += 1
            print(f"convgrad predict: error: {r['error']}", file=sys.stderr)
        elif "class" in r:
            print(f"{r['path']}: {r['name']} (probability {r['probability']:.4f})")
        else:
            print(f"{r['path']}: reconstruction error {r['reconstruction_error']:.4f}")
    return EXIT_ERROR if failed else 0
