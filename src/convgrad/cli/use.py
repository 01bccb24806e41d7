"""``convgrad evaluate`` and ``convgrad predict``: use a trained model."""

def register(sub):
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

    evaluate.set_defaults(handler=run_evaluate)
    predict.set_defaults(handler=run_predict)


def run_evaluate(args):
    from ..training.runner import evaluate_checkpoint

    accuracy, n = evaluate_checkpoint(args.checkpoint, data=args.data)
    print(f"accuracy: {accuracy:.4f}")
    return 0


def run_predict(args):
    from ..training.runner import predict_digits

    for path, digit, prob in predict_digits(args.checkpoint, args.images):
        print(f"{path}: {digit} (probability {prob:.4f})")
    return 0
