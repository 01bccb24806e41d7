"""The VAE and the DCGAN against plain-torch.nn references written here, and the objectives' losses
against the same formulas in torch (forward value and every parameter's gradient)."""
import numpy as np
import pytest
import torch
from torch import nn as tnn
from torch.nn import functional as TF

import convgrad as cg
import convgrad.models as models
from convgrad.training import GAN, VAE, Reconstruction
from oracle import assert_close

RTOL = 1e-4


class TorchVAE(tnn.Module):
    def __init__(self, c=1, latent=16, w=(32, 64), pad_mid=(1, 1), pad_out=(1, 1), code=(64, 7, 7)):
        super().__init__()
        flat = code[0] * code[1] * code[2]
        self.code = code
        self.encoder = tnn.Sequential(tnn.Conv2d(c, w[0], 3, 2, 1), tnn.ReLU(), tnn.Conv2d(w[0], w[1], 3, 2, 1),
                                      tnn.ReLU(), tnn.Flatten())
        self.fc_mu, self.fc_logvar = tnn.Linear(flat, latent), tnn.Linear(flat, latent)
        self.decoder_fc = tnn.Sequential(tnn.Linear(latent, flat), tnn.ReLU())
        self.decoder = tnn.Sequential(tnn.ConvTranspose2d(w[1], w[0], 3, 2, 1, output_padding=pad_mid), tnn.ReLU(),
                                      tnn.ConvTranspose2d(w[0], c, 3, 2, 1, output_padding=pad_out), tnn.Sigmoid())

    def decode(self, z):
        return self.decoder(self.decoder_fc(z).reshape(z.shape[0], *self.code))

    def forward(self, x):
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)


class TorchDCGAN(tnn.Module):
    """DCGAN for 28x28 (s0 = 7, two stride-2 stages) with the names of convgrad's dcgan."""

    def __init__(self, latent=8, c=1, w=4):
        super().__init__()
        self.generator = tnn.Module()
        self.generator.main = tnn.Sequential(
            tnn.ConvTranspose2d(latent, 2 * w, 7, 1, 0, bias=False), tnn.BatchNorm2d(2 * w), tnn.ReLU(),
            tnn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), tnn.BatchNorm2d(w), tnn.ReLU(),
            tnn.ConvTranspose2d(w, c, 4, 2, 1, bias=False), tnn.Tanh())
        self.discriminator = tnn.Module()
        self.discriminator.main = tnn.Sequential(
            tnn.Conv2d(c, w, 4, 2, 1, bias=False), tnn.LeakyReLU(0.2),
            tnn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), tnn.BatchNorm2d(2 * w), tnn.LeakyReLU(0.2),
            tnn.Conv2d(2 * w, 1, 7, 1, 0, bias=False), tnn.Flatten())

    def gen(self, z):
        return self.generator.main(z.reshape(z.shape[0], -1, 1, 1))

    def disc(self, x):
        return self.discriminator.main(x)


def load(torch_model, cg_model):
    state = {k: torch.from_numpy(np.array(v)) for k, v in cg_model.state_dict().items()}
    torch_model.load_state_dict(state, strict=True)
    return torch_model


def grads(model):
    return {name: p.grad.numpy() for name, p in model.named_parameters()}


def test_vae_matches_torch_and_its_elbo_gradients():
    cg.manual_seed(0)
    model = models.vae(latent_dim=6)
    ref = load(TorchVAE(latent=6), model)
    x = np.random.default_rng(0).random((5, 1, 28, 28)).astype(np.float32)
    mu, logvar = model.encode_stats(cg.tensor(x))
    tmu, tlogvar = ref(torch.from_numpy(x))
    assert_close(mu.numpy(), tmu.detach().numpy(), RTOL, "mu")
    assert_close(logvar.numpy(), tlogvar.detach().numpy(), RTOL, "logvar")
    assert_close(model(cg.tensor(x)).numpy(), ref.decode(tmu).detach().numpy(), RTOL, "reconstruction")
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in ref.parameters())
    # the ELBO with a fixed eps: same loss and gradients as the formula in torch
    eps = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    cg_eps = iter([cg.tensor(eps)])
    import convgrad.creation as creation

    objective = VAE()
    original = creation.randn_like
    creation.randn_like = lambda t, dtype=None: next(cg_eps)
    try:
        captured = {}
        objective.train_step(model, cg.tensor(x), None, lambda loss, key: captured.setdefault("loss", loss).backward()
                             or float(loss.item()))
    finally:
        creation.randn_like = original
    tmu, tlogvar = ref(torch.from_numpy(x))
    z = tmu + torch.exp(0.5 * tlogvar) * torch.from_numpy(eps)
    recon = TF.binary_cross_entropy(ref.decode(z), torch.from_numpy(x), reduction="sum") / 5
    kl = -0.5 * torch.sum(1 + tlogvar - tmu ** 2 - tlogvar.exp()) / 5
    (recon + kl).backward()
    assert abs(float(captured["loss"].item()) - (recon + kl).item()) < 1e-4 * (recon + kl).item()
    cg_grads = {name: p.grad.numpy() for name, p in model.named_parameters()}
    for name, g in grads(ref).items():
        assert_close(cg_grads[name], g, 1e-3, name)


@pytest.mark.parametrize("training", [False, True])
def test_dcgan_matches_torch(training):
    cg.manual_seed(0)
    model = models.dcgan(latent_dim=8, width=4)
    ref = load(TorchDCGAN(), model)
    model.train(training)
    ref.train(training)
    z = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    x = np.random.default_rng(1).uniform(-1, 1, (6, 1, 28, 28)).astype(np.float32)
    assert_close(model.generate(cg.tensor(z)).numpy(), ref.gen(torch.from_numpy(z)).detach().numpy(), RTOL, "G")
    assert_close(model.discriminator(cg.tensor(x)).numpy(), ref.disc(torch.from_numpy(x)).detach().numpy(), RTOL, "D")
    for key, value in ref.state_dict().items():  # running statistics after the forward passes
        assert_close(model.state_dict()[key], value.numpy(), RTOL, key)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in ref.parameters())


def test_dcgan_sizes_and_initialisation():
    cg.manual_seed(0)
    for size, channels in ((28, 1), (32, 3), (64, 3)):
        gan = models.dcgan(latent_dim=16, in_channels=channels, image_size=size)
        images = gan.generate(cg.randn(2, 16))
        assert images.shape == (2, channels, size, size) and np.abs(images.numpy()).max() <= 1
        assert gan.discriminator(images).shape == (2, 1)
    w = models.dcgan().generator.main[0].weight.numpy()
    assert abs(w.std() - 0.02) < 0.002 and abs(w.mean()) < 0.002  # DCGAN's N(0, 0.02)
    with pytest.raises(ValueError, match="image_size"):
        models.dcgan(image_size=30)


def test_gan_losses_match_torch():
    """One GAN step: the discriminator's and the generator's losses and gradients equal the
    non-saturating DCGAN losses computed in torch on the same latent vectors."""
    cg.manual_seed(0)
    model = models.dcgan(latent_dim=8, width=4)
    ref = load(TorchDCGAN(), model)
    x01 = np.random.default_rng(2).random((4, 1, 28, 28)).astype(np.float32)
    cg.manual_seed(5)  # the objective draws z from convgrad's generator: replay it
    from convgrad import backend

    state = backend.get_rng_state()
    zs = backend.get_rng().standard_normal((4, 8)).astype(np.float32)
    backend.set_rng_state(state)
    seen = {}

    def update(loss, key):
        net = getattr(model, key)
        for p in net.parameters():
            p.grad = None
        loss.backward()
        seen[key] = (float(loss.item()), {n: p.grad.numpy().copy() for n, p in net.named_parameters()})
        return float(loss.item())

    GAN().train_step(model, cg.tensor(x01), None, update)
    real = torch.from_numpy(x01 * 2 - 1)
    fake = ref.gen(torch.from_numpy(zs))
    ones, zeros = torch.ones(4, 1), torch.zeros(4, 1)
    d_loss = TF.binary_cross_entropy_with_logits(ref.disc(real), ones) + \
        TF.binary_cross_entropy_with_logits(ref.disc(fake.detach()), zeros)
    d_grads = torch.autograd.grad(d_loss, list(ref.discriminator.parameters()))
    g_loss = TF.binary_cross_entropy_with_logits(ref.disc(fake), ones)
    g_grads = torch.autograd.grad(g_loss, list(ref.generator.parameters()))
    assert abs(seen["discriminator"][0] - d_loss.item()) < 1e-5
    assert abs(seen["generator"][0] - g_loss.item()) < 1e-5
    for (name, _), g in zip(ref.discriminator.named_parameters(), d_grads):
        assert_close(seen["discriminator"][1][name], g.numpy(), 1e-3, name)
    for (name, _), g in zip(ref.generator.named_parameters(), g_grads):
        assert_close(seen["generator"][1][name], g.numpy(), 1e-3, name)


def test_reconstruction_losses_match_torch():
    cg.manual_seed(0)
    model = models.conv_autoencoder(code_dim=4)
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    for loss in ("bce", "mse"):
        got = Reconstruction(loss).evaluate(model, [(cg.tensor(x), cg.tensor(np.zeros(3, np.int64)))])
        out = torch.from_numpy(model.eval()(cg.tensor(x)).numpy())
        want = TF.binary_cross_entropy(out, torch.from_numpy(x)) if loss == "bce" else TF.mse_loss(out, torch.from_numpy(x))
        assert abs(got["loss"] - float(want)) < 1e-5
