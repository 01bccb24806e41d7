"""``convgrad summary`` and ``convgrad export``: a model's layers, and its weights as ONNX."""
import os

from ..errors import ConvgradError
from .common import guard_output, positive_int


def register(sub):
    from ..onnx.export import DEFAULT_OPSET, SUPPORTED_OPSETS

    summary = sub.add_parser("summary", help="a model's layers: output shapes, parameters, multiply-adds, memory",
                             description="Print MODEL's layer table (a zoo model name or a checkpoint file); "
                             "with --explain, each layer's arithmetic, receptive field and jump.")
    summary.add_argument("model", metavar="MODEL", help="model name (e.g. resnet50) or checkpoint path")
    summary.add_argument("--input-size", type=positive_int, nargs="+", metavar="N",
                         help="one input's shape, e.g. 3 224 224 (default: the checkpoint's, else one the model takes)")
    summary.add_argument("--batch-size", type=positive_int, default=1, help="default 1")
    summary.add_argument("--explain", action="store_true", help="show each layer's arithmetic instead of the table")
    summary.add_argument("--variant", metavar="NAME",
                         help="the zoo model's variant, e.g. classic or modern for lenet5 (default: the one "
                         "`convgrad train` uses), cifar or imagenet for nin")

    export = sub.add_parser("export", help="export a checkpoint to ONNX",
                            description="Rebuild CHECKPOINT's model and write it as an ONNX file (needs the onnx "
                            "package); the batch dimension stays dynamic.")
    export.add_argument("checkpoint", metavar="CHECKPOINT")
    export.add_argument("--onnx", metavar="OUT", required=True, help="the .onnx file to write")
    export.add_argument("--input-size", type=positive_int, nargs="+", metavar="N",
                        help="one input's shape, e.g. 1 28 28 (default: the checkpoint's)")
    export.add_argument("--opset", type=positive_int, default=DEFAULT_OPSET,
                        help=f"ONNX opset version, {SUPPORTED_OPSETS[0]} to {SUPPORTED_OPSETS[-1]} (default "
                        f"{DEFAULT_OPSET})")
    export.add_argument("--force", action="store_true", help="replace OUT if it exists (never the checkpoint itself)")
    summary.set_defaults(handler=run_summary)
    export.set_defaults(handler=run_export)


def run_summary(args):
    from ..inspect.summary import default_input_size, explain, load_model, summary

    kwargs = {} if args.variant is None else {"variant": args.variant}
    model, recorded = load_model(args.model, **kwargs)
    size = tuple(args.input_size or recorded or default_input_size(model))
    show = explain if args.explain else summary
    print(show(model, size, batch_size=args.batch_size))
    return 0


def run_export(args):
    from ..onnx import export_checkpoint

    if os.path.isfile(args.checkpoint):  # else export_checkpoint says what is wrong with it
        guard_output(args.onnx, inputs=[args.checkpoint], force=args.force, what="--onnx")
    try:
        proto, size = export_checkpoint(args.checkpoint, args.onnx, input_size=args.input_size,
                                        opset_version=args.opset)
    except ImportError as exc:  # the optional onnx package
        raise ConvgradError(str(exc)) from None
    print(f"wrote {args.onnx}: {len(proto.graph.node)} nodes, opset {args.opset}, input (batch, "
          f"{', '.join(str(s) for s in size)})")
    return 0
