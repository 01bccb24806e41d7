"""What every tutorial shares: its command-line options, its output directory, matplotlib if installed.

Each tutorial takes ``--out DIR`` (default ``tutorial_output/NN/``) and ``--quick`` (small data, few
epochs: what the tests run). Pictures need matplotlib (``pip install convgrad[viz]``); without it a
tutorial prints its numbers only.
"""
import argparse
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shared_data_dir():
    """``../shared/data`` beside the repository (CI's layout), else ``$CONVGRAD_SHARED/data``, else
    ``/work/shared/data`` -- the same order as ``tests/oracle.py``."""
    candidates = [os.path.join(REPO, "..", "shared", "data")]
    if os.environ.get("CONVGRAD_SHARED"):
        candidates.insert(0, os.path.join(os.environ["CONVGRAD_SHARED"], "data"))
    candidates.append("/work/shared/data")
    for path in candidates:
        if os.path.isdir(path):
            return os.path.normpath(path)
    return os.path.normpath(candidates[0])


def setup(number, doc, data=False, extra=None):
    """Parse the tutorial's options and create its output directory; return the options.

    ``extra(parser)`` may add the tutorial's own options."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0].lstrip("# "))
    parser.add_argument("--out", default=os.path.join("tutorial_output", f"{number:02d}"),
                        help="directory for the pictures (default: tutorial_output/%(default)s)")
    parser.add_argument("--quick", action="store_true", help="small data and few epochs (what the tests run)")
    if data:
        parser.add_argument("--data", default=shared_data_dir(),
                            help="the shared datasets directory (default: ../shared/data beside the repository)")
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    return args


def pyplot():
    """``matplotlib.pyplot`` (non-interactive backend), or None with a one-line note."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed (pip install convgrad[viz]); numbers only, no pictures")
        return None
    return plt


def save(plt, fig, args, name):
    """Write ``fig`` as ``args.out/name`` and say so."""
    path = os.path.join(args.out, name)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {path}")
    return path
