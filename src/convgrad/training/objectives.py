"""Objectives: what one training step computes, so one ``fit`` loop trains every kind of model.

    fit(model, loader, optimizer, epochs=10)                                  # Classification()
    fit(autoencoder, loader, optimizer, epochs=10, objective=Reconstruction("bce"))
    fit(vae, loader, optimizer, epochs=10, objective=VAE())
    fit(gan, loader, Optimizers({"discriminator": opt_d, "generator": opt_g}), epochs=10, objective=GAN())

An objective has a ``name``, the names of the networks it updates (``optimizer_keys``: one
optimizer per name, ``("model",)`` for a single network), and three methods:

- ``train_step(model, images, labels, update)`` computes the loss(es) of one batch and hands each
  one to ``update(loss, key)``, which the loop provides: it checks the loss is finite, zeroes the
  gradients of optimizer ``key``, back-propagates and steps it, and returns the loss as a float.
  ``train_step`` returns the batch's numbers for the progress bar and the metrics file: ``"loss"``
  (a mean per sample), optionally ``"correct"`` (a count, for the accuracy), and any other means
  (``"recon_loss"``, ``"kl"``, ``"d_loss"``, ``"g_loss"`` ...).
- ``evaluate(model, loader)``: the numbers measured on a held-out loader (eval mode, no graph),
  e.g. ``{"accuracy": 0.98}`` or ``{"loss": 0.07}``.
- ``describe()``: a JSON-able dict stored in checkpoints (``{"name": "gan", ...}``), so a command
  can tell a classifier from a generator.

Image targets of the generative objectives: the data pipeline hands out *normalised* images
(``(pixel / 255 - mean) / std``); the networks take those as input, and the reconstruction
targets are the images back in [0, 1] (``mean``/``std`` given to the objective, from the data's
preprocessing). A GAN's generator draws in [-1, 1] (tanh), and its discriminator sees real images
mapped to [-1, 1] too.

Random numbers (the VAE's reparameterisation noise, the GAN's latent vectors) come from convgrad's
global generator, which checkpoints save: a resumed run draws exactly the same numbers.
"""
import numpy as np

from ..errors import ArgumentError
from ..tensor import Tensor, no_grad
from .metrics import correct_count

GAN_KEYS = ("discriminator", "generator")


def _F():
    from .. import functional

    return functional


class Objective:
    """Base class. Subclasses set ``name`` and implement :meth:`train_step`."""

    name = None
    optimizer_keys = ("model",)
    #: the epoch record's accuracy comes from ``"correct"`` counts (classification only)
    has_accuracy = False

    def parameters(self, model, key="model"):
        """The parameters the optimizer named ``key`` updates."""
        return model.parameters()

    def train_step(self, model, images, labels, update):
        """One optimisation step on a batch; subclasses implement it.

        Args:
            model: the model being trained.
            images, labels: the batch (tensors).
            update: ``update(loss, key) -> float`` backpropagates ``loss`` and steps the optimizer named ``key``.

        Returns:
            A dict of the step's numbers, at least ``{"loss": float}``.
        """
        raise NotImplementedError

    def evaluate(self, model, loader):
        """Numbers on a held-out loader; the base class measures none."""
        return {}

    def describe(self):
        """A JSON-able description of the objective (stored in the run's config and checkpoint)."""
        return {"name": self.name}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.describe().items() if k != "name")
        return f"{type(self).__name__}({args})"


def _mean_over(model, loader, batch_numbers):
    """Sample-weighted means of ``batch_numbers(images, labels) -> {name: mean}`` over ``loader``,
    in eval mode without a graph; the model's mode is restored."""
    was_training = model.training
    model.eval()
    sums, seen = {}, 0
    try:
        with no_grad():
            for images, labels in loader:
                n = len(labels)
                for key, value in batch_numbers(images, labels).items():
                    sums[key] = sums.get(key, 0.0) + float(value) * n
                seen += n
    finally:
        model.train(was_training)
    if seen == 0:
        raise ArgumentError("evaluate: the loader yielded no samples")
    return {key: value / seen for key, value in sums.items()}


# ----------------------------------------------------------------------------------------------
# Classification
# ----------------------------------------------------------------------------------------------
def main_logits(output):
    """The logits of a model's output: the output itself, or ``output.logits`` for models that
    return several heads in training mode (GoogLeNet's ``GoogLeNetOutputs``)."""
    return getattr(output, "logits", output)


def default_classification_loss(output, labels):
    """Cross-entropy; for outputs with auxiliary heads (GoogLeNet) the paper's weighted sum."""
    if hasattr(output, "logits"):
        from ..models.googlenet import googlenet_loss

        return googlenet_loss(output, labels)
    return _F().cross_entropy(output, labels)


class Classification(Objective):
    """Cross-entropy on logits; reports the loss and the top-1 accuracy.

    Args:
        loss_fn: ``loss_fn(output, labels) -> scalar tensor``; default cross-entropy (with
            GoogLeNet's auxiliary heads added at weight 0.3 when the model returns them).

    Example::

        >>> history = fit(model, loader, optimizer, epochs=5, objective=Classification())  # doctest: +SKIP
        >>> history[-1]["accuracy"]  # doctest: +SKIP
    """

    name = "classification"
    has_accuracy = True

    def __init__(self, loss_fn=None):
        self.loss_fn = loss_fn or default_classification_loss

    def train_step(self, model, images, labels, update):
        """Cross-entropy on the batch, one optimizer step; returns ``{"loss", "correct"}``."""
        output = model(images)
        loss_value = update(self.loss_fn(output, labels), "model")
        return {"loss": loss_value, "correct": correct_count(main_logits(output).numpy(), labels.numpy())}

    def evaluate(self, model, loader):
        """Top-1 accuracy on ``loader``: ``{"accuracy": float}``."""
        from .fit import evaluate

        return {"accuracy": evaluate(model, loader)}


# ----------------------------------------------------------------------------------------------
# Reconstruction (autoencoders)
# ----------------------------------------------------------------------------------------------
class _ImageTargets:
    """Maps the pipeline's normalised images back to [0, 1] with the data's mean and std."""

    def __init__(self, mean=None, std=None):
        if (mean is None) != (std is None):
            raise ArgumentError("objective: give both mean and std of the data's normalisation, or neither")
        self.mean = None if mean is None else [float(m) for m in np.atleast_1d(mean)]
        self.std = None if std is None else [float(s) for s in np.atleast_1d(std)]

    def unit(self, images):
        """The images in [0, 1] (a new tensor without a graph: a target, not an input)."""
        x = images.numpy() if isinstance(images, Tensor) else np.asarray(images)
        if self.mean is not None:
            shape = (1, -1) + (1,) * (x.ndim - 2)
            mean = np.asarray(self.mean, dtype=x.dtype).reshape(shape)
            std = np.asarray(self.std, dtype=x.dtype).reshape(shape)
            x = x * std + mean
        return Tensor(np.clip(x, 0.0, 1.0).astype(x.dtype, copy=False))

    def describe(self):
        return {"mean": self.mean, "std": self.std} if self.mean is not None else {}


RECONSTRUCTION_LOSSES = ("bce", "mse")


class Reconstruction(Objective):
    """An autoencoder learns to give back its input: ``loss(model(x), x01)``.

    Args:
        loss: ``"bce"`` (binary cross-entropy, for a sigmoid output; the default) or ``"mse"``;
            a mean per pixel.
        mean, std: the data's normalisation, to turn the input batch back into [0, 1] targets
            (None: the images already are in [0, 1]).

    Reports ``loss`` (and, on a held-out loader, ``loss`` and ``mse``).
    """

    name = "reconstruction"

    def __init__(self, loss="bce", mean=None, std=None):
        if loss not in RECONSTRUCTION_LOSSES:
            raise ArgumentError(f"Reconstruction: loss must be one of {RECONSTRUCTION_LOSSES}, got {loss!r}")
        self.loss = loss
        self.targets = _ImageTargets(mean, std)

    def _loss(self, output, target):
        F = _F()
        return F.binary_cross_entropy(output, target) if self.loss == "bce" else F.mse_loss(output, target)

    def train_step(self, model, images, labels, update):
        """Mean squared error between the reconstruction and the image, one optimizer step; returns ``{"loss"}``."""
        target = self.targets.unit(images)
        return {"loss": update(self._loss(model(images), target), "model")}

    def evaluate(self, model, loader):
        """Mean loss and mean squared error of the reconstructions on ``loader``: ``{"loss", "mse"}``."""
        def numbers(images, labels):
            target = self.targets.unit(images)
            output = model(images)
            out = {"loss": float(self._loss(output, target).item())}
            out["mse"] = float(np.mean((output.numpy() - target.numpy()) ** 2))
            return out
        return _mean_over(model, loader, numbers)

    def describe(self):
        """A JSON-able description (name, loss, output range [0, 1] and the image targets' scaling)."""
        return {"name": self.name, "loss": self.loss, "output_range": [0, 1], **self.targets.describe()}


# ----------------------------------------------------------------------------------------------
# Variational autoencoder
# ----------------------------------------------------------------------------------------------
class VAE(Objective):
    """The negative evidence lower bound of a variational autoencoder (Kingma & Welling, 2014).

    ``mu, logvar = model.encode_stats(x)``; ``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)``;
    ``loss = recon_loss + beta * kl`` per image, where ``recon_loss`` is the binary cross-entropy of
    ``model.decode(z)`` against the image in [0, 1] summed over its pixels, and ``kl`` is
    ``KL(N(mu, exp(logvar)) || N(0, I)) = -1/2 sum(1 + logvar - mu^2 - exp(logvar))``.

    Args:
        beta: weight of the KL term (1 is the ELBO).
        mean, std: the data's normalisation (see :class:`Reconstruction`).

    Reports ``loss``, ``recon_loss`` and ``kl`` (means per image). On a held-out loader ``z = mu``
    (no noise), so the figure is deterministic.
    """

    name = "vae"

    def __init__(self, beta=1.0, mean=None, std=None):
        if not isinstance(beta, (int, float)) or isinstance(beta, bool) or not beta >= 0:
            raise ArgumentError(f"VAE: beta must be a number >= 0, got {beta!r}")
        self.beta = float(beta)
        self.targets = _ImageTargets(mean, std)

    def _terms(self, model, images, sample):
        from ..creation import randn_like

        F = _F()
        n = images.shape[0]
        target = self.targets.unit(images)
        mu, logvar = model.encode_stats(images)
        z = mu + (logvar * 0.5).exp() * randn_like(mu) if sample else mu
        recon = model.decode(z)
        recon_loss = F.binary_cross_entropy(recon, target, reduction="sum") / n
        kl = ((mu * mu + logvar.exp() - logvar - 1.0).sum() * 0.5) / n
        return recon_loss, kl

    def train_step(self, model, images, labels, update):
        """The negative ELBO (reconstruction + KL) on the batch, one optimizer step; returns ``{"loss", "recon_loss",
        "kl"}``."""
        recon_loss, kl = self._terms(model, images, sample=True)
        loss = update(recon_loss + kl * self.beta, "model")
        return {"loss": loss, "recon_loss": float(recon_loss.item()), "kl": float(kl.item())}

    def evaluate(self, model, loader):
        """The mean negative ELBO and its two terms on ``loader``: ``{"loss", "recon_loss", "kl"}``."""
        def numbers(images, labels):
            recon_loss, kl = self._terms(model, images, sample=False)
            r, k = float(recon_loss.item()), float(kl.item())
            return {"loss": r + self.beta * k, "recon_loss": r, "kl": k}
        return _mean_over(model, loader, numbers)

    def describe(self):
        """A JSON-able description (name, KL weight ``beta``, output range and the image targets' scaling)."""
        return {"name": self.name, "beta": self.beta, "output_range": [0, 1], **self.targets.describe()}


# ----------------------------------------------------------------------------------------------
# GAN
# ----------------------------------------------------------------------------------------------
class GAN(Objective):
    """A generative adversarial network (Goodfellow et al., 2014) trained as DCGAN (Radford et al.,
    2016): two networks, two optimizers, one discriminator step then one generator step per batch,
    with the non-saturating generator loss.

    The model has ``generator`` (latent ``(N, latent_dim)`` -> images in [-1, 1]) and
    ``discriminator`` (images -> one logit each) submodules and a ``latent_dim``. Per batch of real
    images ``x`` (mapped to [-1, 1]) and ``z ~ N(0, I)``:

    - discriminator: ``d_loss = BCE(D(x), 1) + BCE(D(G(z)), 0)`` (G(z) detached), then its step;
    - generator: ``g_loss = BCE(D(G(z)), 1)`` (the non-saturating loss: maximise log D(G(z))
      rather than minimise log(1 - D(G(z))), whose gradient vanishes while D wins), then its step.

    The optimizer given to ``fit`` is an :class:`~convgrad.training.groups.Optimizers` with the keys
    ``"discriminator"`` and ``"generator"``. Reports ``loss`` (= d_loss + g_loss), ``d_loss``,
    ``g_loss``, and ``d_real`` / ``d_fake``: the discriminator's mean probability of "real" on real
    and on generated images.

    Args:
        mean, std: the data's normalisation (see :class:`Reconstruction`).
    """

    name = "gan"
    optimizer_keys = GAN_KEYS

    def __init__(self, mean=None, std=None):
        self.targets = _ImageTargets(mean, std)

    def parameters(self, model, key="generator"):
        """The parameters of the ``generator`` or the ``discriminator`` (one optimizer each)."""
        if key not in GAN_KEYS:
            raise ArgumentError(f"GAN: the optimizers are {GAN_KEYS}, not {key!r}")
        return getattr(model, key).parameters()

    def train_step(self, model, images, labels, update):
        """One discriminator step (real vs generated images), then one generator step; returns ``{"loss", "d_loss",
        "g_loss", "d_real", "d_fake"}``."""
        from ..creation import ones, randn, zeros

        F = _F()
        n = images.shape[0]
        real = self.targets.unit(images) * 2.0 - 1.0
        fake = model.generator(randn(n, model.latent_dim, dtype=images.dtype))
        real_ones, fake_zeros = ones(n, 1, dtype=images.dtype), zeros(n, 1, dtype=images.dtype)
        d_real = model.discriminator(real)
        d_fake = model.discriminator(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(d_real, real_ones) + \
            F.binary_cross_entropy_with_logits(d_fake, fake_zeros)
        d_value = update(d_loss, "discriminator")
        g_loss = F.binary_cross_entropy_with_logits(model.discriminator(fake), real_ones)
        g_value = update(g_loss, "generator")
        sigmoid = lambda t: float(np.mean(1.0 / (1.0 + np.exp(-t.numpy().astype(np.float64)))))  # noqa: E731
        return {"loss": d_value + g_value, "d_loss": d_value, "g_loss": g_value, "d_real": sigmoid(d_real),
                "d_fake": sigmoid(d_fake)}

    def describe(self):
        """A JSON-able description (name, output range [-1, 1] and the image targets' scaling)."""
        return {"name": self.name, "output_range": [-1, 1], **self.targets.describe()}


OBJECTIVES = {cls.name: cls for cls in (Classification, Reconstruction, VAE, GAN)}


def objective_for_model(name):
    """The objective name a zoo model trains with by default: ``conv_autoencoder`` ->
    ``"reconstruction"``, ``vae`` -> ``"vae"``, ``dcgan`` -> ``"gan"``, anything else ->
    ``"classification"``."""
    return {"conv_autoencoder": "reconstruction", "vae": "vae", "dcgan": "gan"}.get(name, "classification")


def make_objective(name, **kwargs):
    """An objective by its name (``"classification"``, ``"reconstruction"``, ``"vae"``, ``"gan"``)."""
    if name not in OBJECTIVES:
        raise ArgumentError(f"unknown objective {name!r}; objectives are {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name](**kwargs)
