"""Train FCN (or ResNet-1D) with convgrad on the UCR/UEA sets in ../shared/data/ucr_sktime and
print test accuracy and wall time next to the published figures of Fawaz et al. (2019).

    PYTHONPATH=src python scripts/ucr_baselines.py                       # all four, FCN
    PYTHONPATH=src python scripts/ucr_baselines.py GunPoint --model resnet1d --epochs 300

Setting: Adam, batch 16, a one-cycle learning-rate schedule (peak ``--lr``) over ``--epochs``
epochs (the paper: Adam lr 1e-3, up to 2,000 epochs, which is too long for this machine), the
test split evaluated once at the end with the final weights (no model selection on the test set).
"""
import argparse
import json
import os
import sys
import time

import convgrad as cg
from convgrad.data import DataLoader, open_data
from convgrad.models import build_for_data
from convgrad.optim import Adam
from convgrad.optim.lr_scheduler import OneCycleLR
from convgrad.training import fit
from convgrad.training.fit import evaluate

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("CONVGRAD_SHARED", os.path.join(HERE, "..", "..", "shared"))
if not os.path.isdir(os.path.join(SHARED, "data")):
    SHARED = "/work/shared"
UCR = os.path.join(SHARED, "data", "ucr_sktime")

# Fawaz et al. 2019, mean of 5 runs on the test split (../shared/data/README.md); None = not listed
PUBLISHED = {"GunPoint": {"fcn1d": 1.000, "resnet1d": 0.991},
             "ItalyPowerDemand": {"fcn1d": 0.963, "resnet1d": 0.962},
             "OSULeaf": {"fcn1d": 0.979, "resnet1d": 0.980},
             "BasicMotions": {"fcn1d": None, "resnet1d": None}}
EPOCHS = {"GunPoint": 200, "ItalyPowerDemand": 200, "OSULeaf": 200, "BasicMotions": 200}  # measured setting


def run(name, model_name, epochs, lr, seed, batch_size=16):
    bundle = open_data(os.path.join(UCR, name))
    cg.manual_seed(seed)
    model, _ = build_for_data(model_name, bundle.input_shape, bundle.num_classes)
    loader = DataLoader(bundle.train, batch_size=batch_size, shuffle=True, seed=seed)
    test_loader = DataLoader(bundle.test, batch_size=256)
    opt = Adam(model.parameters(), lr=lr)
    sched = OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(loader))
    start = time.perf_counter()
    history = fit(model, loader, opt, epochs, scheduler=sched, scheduler_interval="step", progress=False)
    seconds = time.perf_counter() - start
    acc = evaluate(model, test_loader)
    return {"dataset": name, "model": model_name, "epochs": epochs, "lr": lr, "seed": seed,
            "test_accuracy": acc, "train_accuracy": history[-1].get("accuracy"), "final_loss": history[-1]["loss"],
            "seconds": seconds, "published": PUBLISHED[name][model_name], "description": bundle.description}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("datasets", nargs="*", default=list(EPOCHS))
    p.add_argument("--model", default="fcn1d", choices=["fcn1d", "resnet1d"])
    p.add_argument("--epochs", type=int, default=None, help="default: per dataset (see EPOCHS)")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--json", help="append one JSON line per run to this file")
    args = p.parse_args(argv)
    print(f"{'dataset':18s} {'model':9s} {'epochs':>6s} {'seed':>4s} {'test acc':>8s} {'published':>9s} "
          f"{'train s':>8s}", flush=True)
    for name in args.datasets:
        for seed in args.seeds:
            r = run(name, args.model, args.epochs or EPOCHS[name], args.lr, seed)
            pub = "-" if r["published"] is None else f"{r['published']:.3f}"
            print(f"{name:18s} {args.model:9s} {r['epochs']:6d} {seed:4d} {r['test_accuracy']:8.3f} {pub:>9s} "
                  f"{r['seconds']:8.1f}", flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    sys.exit(main())
