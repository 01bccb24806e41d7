"""Train the 16-d convolutional autoencoder behind the README's "Codes without labels" table.

No labels are used: the autoencoder learns to reconstruct the 5,000 bundled training digits and,
with ``--unlabeled``, the 10,000 official test images too (the lecture's "encode all the images I
have"; their labels are never read). Then the 10-NN leave-one-out table is measured on the test
images::

    PYTHONPATH=src python examples/codes_autoencoder.py --unlabeled --epochs 20 --out ae16.npz

Recipe knobs: ``--augment`` (random rotation / shift / zoom of the inputs), ``--noise S`` (denoising:
Gaussian noise of std S on the input, the clean image as the target).
"""
import argparse
import time

import numpy as np

import convgrad as cg
from convgrad import models, optim
from convgrad.codes import knn_agreement_table
from convgrad.data import MNIST, DataLoader, open_data
from convgrad.data.datasets import ArrayDataset
from convgrad.data.transforms import Compose, RandomAffine, ToTensor
from convgrad.io import save_checkpoint
from convgrad.kernels.blas import blas_threads
from convgrad.nn import functional as F

# the bundled sample's own description, with inputs in [0, 1] (mean 0, std 1) like the targets
PREPROCESSING = dict(open_data(None).preprocessing, mean=[0.0], std=[1.0])


def train(images, epochs, batch_size, lr, augment, noise, seed, log=print):
    """A conv autoencoder fitted to uint8 ``images`` (N, 28, 28) with MSE; returns the model."""
    cg.manual_seed(seed)
    model = models.get_model("conv_autoencoder", code_dim=16)
    steps = [ToTensor()] + ([RandomAffine(degrees=10, translate=2, scale=(0.9, 1.1))] if augment else [])
    loader = DataLoader(ArrayDataset(images, np.zeros(len(images), np.int64), Compose(steps)),
                        batch_size=batch_size, shuffle=True, seed=seed)
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader))
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        t0, total = time.perf_counter(), 0.0
        for x, _ in loader:
            target = x
            if noise:
                x = cg.from_numpy(np.clip(x.numpy() + rng.normal(0, noise, x.shape).astype(np.float32), 0, 1))
            loss = F.mse_loss(model(x), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.item()) * len(target)
        log(f"epoch {epoch + 1}/{epochs}  mse {total / len(images):.5f}  {time.perf_counter() - t0:.1f} s")
    return model.eval()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--unlabeled", action="store_true", help="also train on the 10,000 test images (no labels)")
    p.add_argument("--augment", action="store_true")
    p.add_argument("--noise", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="ae16.npz")
    args = p.parse_args()
    train_set, test_set = MNIST(train=True), MNIST(train=False)
    images = np.concatenate([train_set.data, test_set.data]) if args.unlabeled else train_set.data
    with blas_threads(1):
        model = train(images, args.epochs, args.batch_size, args.lr, args.augment, args.noise, args.seed,
                      log=lambda line: print(line, flush=True))
        recipe = {k: v for k, v in vars(args).items() if k != "out"}
        save_checkpoint(args.out, model, preprocessing=PREPROCESSING, extra={"recipe": recipe})
        x = test_set.data.astype(np.float32)[:, None] / 255
        with cg.no_grad():
            codes = np.concatenate([model.encode(cg.from_numpy(x[s:s + 500])).numpy() for s in range(0, len(x), 500)])
    for row in knn_agreement_table(x.reshape(len(x), -1), test_set.targets, codes, k=10):
        print(f"{row['name']:<28} d={row['dim']:<4} {row['agreement']:.4f}", flush=True)


if __name__ == "__main__":
    main()
