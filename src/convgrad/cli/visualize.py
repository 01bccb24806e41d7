"""``convgrad visualize KIND ...``: pictures of a trained network and of its training.

Thin: each kind loads what it needs (a checkpoint, a run directory, an image), calls the
matching function of :mod:`convgrad.visualize`, writes the PNG (or GIF) named by ``--out`` and
prints what it wrote. Nothing else is written.
"""
import argparse
import os

from .common import positive_int

KINDS = ("filters", "evolution", "features", "saliency", "curves", "confusion", "mistakes", "filters-demo",
         "health")


def register(sub):
    parser = sub.add_parser("visualize", help="draw a network's filters, feature maps, saliency, curves, mistakes",
                            description="Pictures of a trained network and of its training run (PNG; the filter "
                            "evolution also as an animated GIF). Needs matplotlib: pip install convgrad[viz].")
    kinds = parser.add_subparsers(dest="kind", metavar="KIND", parser_class=type(parser))
    kinds.required = True

    def kind(name, help, handler, description=None):
        p = kinds.add_parser(name, help=help, description=description or help,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(handler=handler)
        return p

    def out(p, default):
        p.add_argument("--out", metavar="FILE", default=default, help=f"picture to write (default {default})")

    p = kind("filters", "a conv layer's kernels as a grid, and a table of what each kernel is", run_filters)
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint file or run directory")
    p.add_argument("--layer", metavar="NAME", help="conv layer (default: the first)")
    out(p, "filters.png")

    p = kind("evolution", "how the recorded filters changed during training (grid and GIF)", run_evolution)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run trained with --record-filters N")
    out(p, "evolution.png")
    p.add_argument("--gif", metavar="FILE", help="animated GIF to write (default: --out with .gif)")
    p.add_argument("--frames", type=positive_int, default=60, help="GIF frames at most (default 60)")

    p = kind("features", "feature maps of chosen layers for one input image", run_features)
    p.add_argument("checkpoint", metavar="CHECKPOINT")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--layer", metavar="NAME", nargs="+", dest="layers",
                   help="layer names (default: the top-level stages that output maps)")
    p.add_argument("--grad", action="store_true", help="also the gradient of the predicted class score w.r.t. "
                   "each map")
    out(p, "features.png")

    p = kind("saliency", "which input pixels the prediction depends on", run_saliency)
    p.add_argument("checkpoint", metavar="CHECKPOINT")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--method", choices=("gradient", "smoothgrad", "gradcam"), default="gradient",
                   help="input gradient (default), SmoothGrad, or Grad-CAM on the last conv layer")
    p.add_argument("--layer", metavar="NAME", help="Grad-CAM's layer (default: the last conv stage)")
    out(p, "saliency.png")

    p = kind("curves", "loss and accuracy of a run per epoch (and per step where logged)", run_curves)
    p.add_argument("run_dir", metavar="RUN_DIR")
    out(p, "curves.png")

    for name, handler, help in (("confusion", run_confusion, "the confusion matrix on the test split"),
                                ("mistakes", run_mistakes, "the misclassified test samples, most confident first")):
        p = kind(name, help, handler)
        p.add_argument("checkpoint", metavar="CHECKPOINT")
        p.add_argument("--data", metavar="DIR", help="data directory (default: the bundled MNIST test set)")
        p.add_argument("--max-test", type=positive_int, metavar="N", help="only the first N test samples")
        if name == "mistakes":
            p.add_argument("--n", type=positive_int, default=64, help="mistakes shown at most (default 64)")
        out(p, f"{name}.png")

    p = kind("filters-demo", "the Sobel pair, a Gabor bank and max/min/avg pooling on any image", run_demo)
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--factor", type=positive_int, default=4, help="pooling block size (default 4)")
    out(p, "filters-demo.png")

    p = kind("health", "per layer: zero fraction of the ReLU outputs and gradient norm during training",
             run_health)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run trained with --health-every N")
    out(p, "health.png")


def _wrote(path):
    print(f"wrote {path}")
    return 0


def run_filters(args):
    from ..visualize import filters, format_filter_table
    from ..visualize.common import load_model, trained_label

    model, ckpt = load_model(args.checkpoint)
    pic = filters(model, layer=args.layer, path=args.out, model_label=trained_label(model, ckpt))
    print(format_filter_table(pic.data["report"], header=f"{pic.title}:"))
    return _wrote(pic.path)


def run_evolution(args):
    from ..visualize import evolution, format_filter_table

    gif = args.gif or os.path.splitext(args.out)[0] + ".gif"
    pic = evolution(args.run_dir, path=args.out, gif_path=gif, max_frames=args.frames)
    steps = pic.data["steps"]
    print(format_filter_table(pic.data["report"], header=f"{pic.data['layer']} at step {int(steps[-1])} "
                              f"({len(steps)} snapshots):"))
    _wrote(pic.path)
    return _wrote(f"{pic.data['gif_path']} ({len(pic.data['gif_steps'])} frames)")


def _model_and_input(args):
    from ..visualize.common import checkpoint_input, class_names_of, load_model, trained_label

    model, ckpt = load_model(args.checkpoint)
    return model, checkpoint_input(ckpt.preprocessing, args.image), class_names_of(ckpt), trained_label(model, ckpt)


def run_features(args):
    from ..visualize import features

    model, x, names, label = _model_and_input(args)
    pic = features(model, x, layers=args.layers, grad=args.grad, path=args.out,
                   input_name=os.path.basename(args.image), class_names=names, model_label=label)
    for layer in pic.data["layers"]:
        print(f"{layer}: {tuple(pic.data['maps'][layer].shape)}")
    return _wrote(pic.path)


def run_saliency(args):
    from ..visualize import saliency

    model, x, names, label = _model_and_input(args)
    pic = saliency(model, x, method=args.method, layer=args.layer, path=args.out,
                   input_name=os.path.basename(args.image), class_names=names, model_label=label)
    print(pic.title)
    return _wrote(pic.path)


def run_curves(args):
    from ..visualize import curves

    return _wrote(curves(args.run_dir, path=args.out).path)


def run_health(args):
    from ..visualize import health

    pic = health(args.run_dir, path=args.out)
    for layer in pic.data["dead"]:
        print(f"dead layer: {layer} (all its ReLU outputs zero at the last measurement)")
    return _wrote(pic.path)


def _test_set(args):
    """``(model, test dataset, class names, dataset name, model label)`` with the checkpoint's preprocessing."""
    from .. import data
    from ..data.transforms import Compose, Normalize, ToTensor
    from ..visualize.common import class_names_of, load_model, trained_label

    model, ckpt = load_model(args.checkpoint)
    pre = ckpt.preprocessing or {}
    names = class_names_of(ckpt)
    if args.data is not None and not _has_mnist_test_split(args.data) and hasattr(data, "open_data"):
        size = list(pre.get("input_size") or [])
        shape = {"image_size": tuple(size[1:]), "channels": size[0]} if len(size) == 3 else {}
        bundle = data.open_data(args.data, **shape)
        test, names, what = bundle.test, list(bundle.class_names), f"{bundle.test_name} split of {args.data}"
    else:  # the MNIST test split (t10k-* files), with the checkpoint's normalisation
        transform = Compose([ToTensor(), Normalize(pre.get("mean", [0.0]), pre.get("std", [1.0]))])
        test = data.MNIST(args.data, train=False, transform=transform)
        what = "MNIST test set" if args.data is None else f"test split of {args.data}"
    if args.max_test is not None and args.max_test < len(test):
        test = _first(test, args.max_test)
        what += f", its first {args.max_test:,}"
    return model, test, names, what, trained_label(model, ckpt)


def _has_mnist_test_split(directory):
    return any(name.startswith("t10k-images") for name in os.listdir(directory)) if os.path.isdir(directory) else False


class _first:
    """The first ``n`` samples of a dataset."""

    def __init__(self, dataset, n):
        self.dataset, self.n = dataset, n

    def __len__(self):
        return self.n

    def get_batch(self, indices, rng=None):
        return self.dataset.get_batch(indices, rng)


def run_confusion(args):
    from ..visualize import confusion

    model, test, names, what, label = _test_set(args)
    pic = confusion(model, test, path=args.out, class_names=names, dataset_name=what, model_label=label)
    print(f"accuracy {pic.data['accuracy']:.4f} on {int(pic.data['matrix'].sum())} samples")
    return _wrote(pic.path)


def run_mistakes(args):
    from ..visualize import mistakes

    model, test, names, what, label = _test_set(args)
    pic = mistakes(model, test, n=args.n, path=args.out, class_names=names, dataset_name=what, model_label=label)
    print(f"{len(pic.data['indices'])} mistakes in {pic.data['total']} samples; {pic.data['shown']} shown")
    return _wrote(pic.path)


def run_demo(args):
    from ..visualize import filters_demo

    return _wrote(filters_demo(args.image, path=args.out, factor=args.factor).path)
