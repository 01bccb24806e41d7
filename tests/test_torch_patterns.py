"""The calls nine well-known PyTorch programs make, written here as short tests with
``import convgrad as torch`` (pytorch/examples: mnist, vae, dcgan, mnist_forward_forward; the
tutorials: 60-minute blitz tensors/autograd/neural networks, quickstart, buildmodel, autogradqs).

Not copies of the programs: each test makes the same kinds of calls on the bundled MNIST sample
placed in torchvision's layout, briefly, and checks what the program relies on (shapes, dtypes,
a falling loss, reloadable checkpoints, gradients equal to PyTorch's).
"""
import os
import shutil

import numpy as np
import pytest
import torch as real_torch

import convgrad as torch
import convgrad.nn as nn
import convgrad.nn.functional as F
import convgrad.optim as optim
import convgrad.backends.cudnn as cudnn
from convgrad.data.datasets import BUNDLED_DIR
from convgrad.optim.lr_scheduler import StepLR
from convgrad.utils.data import DataLoader, Subset
from convgrad.vision import datasets, transforms
from convgrad.vision.utils import save_image


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """The bundled sample where torchvision's download would leave MNIST (and, standing in for
    Zalando's set, FashionMNIST: same file format)."""
    root = tmp_path_factory.mktemp("data")
    for name in ("MNIST", "FashionMNIST"):
        raw = root / name / "raw"
        raw.mkdir(parents=True)
        for f in os.listdir(BUNDLED_DIR):
            if f.endswith(".gz"):
                shutil.copy(os.path.join(BUNDLED_DIR, f), raw / f)
    return str(root)


def _some(n, total=5000):
    """n random sample indices (the bundled training sample is sorted by class)."""
    return torch.randperm(total)[:n].tolist()


def _device():
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class MnistNet(nn.Module):
    """pytorch/examples mnist's shape of network: conv, conv, pool, dropout, linear, log_softmax."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(16 * 12 * 12, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return F.log_softmax(self.fc2(x), dim=1)


def test_examples_mnist_pattern(root, tmp_path):
    torch.manual_seed(1)
    device = _device()
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_set = Subset(datasets.MNIST(root, train=True, download=True, transform=transform), _some(1024))
    test_set = Subset(datasets.MNIST(root, train=False, transform=transform), range(500))
    kwargs = {"num_workers": 1, "pin_memory": True, "shuffle": True}
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=64, **kwargs)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=250)
    model = MnistNet().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=1.0) if hasattr(optim, "Adadelta") else \
        optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    for epoch in range(1, 3):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
            if batch_idx % 10 == 0:
                line = "Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                    epoch, batch_idx * len(data), len(train_loader.dataset), 100.0 * batch_idx / len(train_loader),
                    loss.item())
                assert line.startswith("Train Epoch")
        scheduler.step()
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    assert correct / len(test_loader.dataset) > 0.6  # 32 steps on 1,024 images
    torch.save(model.state_dict(), tmp_path / "mnist_cnn.pt")
    again = MnistNet()
    again.load_state_dict(torch.load(tmp_path / "mnist_cnn.pt", weights_only=True))
    x = next(iter(test_loader))[0]
    with torch.no_grad():
        np.testing.assert_array_equal(again.eval()(x).numpy(), model(x).numpy())


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 64), nn.Linear(64, 8), nn.Linear(64, 8)
        self.fc3, self.fc4 = nn.Linear(8, 64), nn.Linear(64, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.clamp(torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), min=1e-4, max=1.0 - 1e-4)

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def test_examples_vae_pattern(root, tmp_path):
    torch.manual_seed(1)
    loader = torch.utils.data.DataLoader(
        Subset(datasets.MNIST(root, train=True, download=True, transform=transforms.ToTensor()), _some(512)),
        batch_size=128, shuffle=True)
    model = VAE().to(torch.device("cpu"))
    optimizer = optim.Adam(model.parameters(), lr=1e-3)

    def loss_function(recon_x, x, mu, logvar):
        bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
        lam = recon_x
        cut = torch.where(torch.max(torch.le(lam, 0.49), torch.gt(lam, 0.51)), lam, 0.49 * torch.ones_like(lam))
        log_norm = torch.log(torch.abs(2.0 * 0.5 * (torch.log(1.0 + (1 - 2.0 * cut)) - torch.log(1.0 - (1 - 2.0 * cut)))))
        taylor = torch.log(torch.tensor(2.0)) + 4.0 / 3.0 * torch.pow(lam - 0.5, 2)
        nlnc = -torch.sum(torch.where(torch.max(torch.le(lam, 0.49), torch.gt(lam, 0.51)), log_norm, taylor))
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce + nlnc + kld

    losses = []
    for epoch in range(3):
        train_loss = 0
        for data, _ in loader:
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            loss = loss_function(recon, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        losses.append(train_loss / len(loader.dataset))
    assert losses[-1] < losses[0]
    with torch.no_grad():
        n = 8
        comparison = torch.cat([data[:n], recon.view(data.size(0), 1, 28, 28)[:n]])
        save_image(comparison.cpu(), tmp_path / "reconstruction.png", nrow=n)
        sample = model.decode(torch.randn(64, 8).to("cpu")).cpu()
        save_image(sample.view(64, 1, 28, 28), tmp_path / "sample.png")
    assert os.path.getsize(tmp_path / "reconstruction.png") > 0 and os.path.getsize(tmp_path / "sample.png") > 0


def test_examples_dcgan_pattern(root, tmp_path):
    torch.manual_seed(1)
    cudnn.benchmark = True
    nz, ngf, ndf, nc = 8, 8, 8, 1
    dataset = datasets.MNIST(root=root, download=True, transform=transforms.Compose([
        transforms.Resize(16), transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]))
    dataloader = torch.utils.data.DataLoader(Subset(dataset, _some(64)), batch_size=32, shuffle=True, num_workers=2)
    device = torch.device("cpu")

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            torch.nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            torch.nn.init.normal_(m.weight, 1.0, 0.02)
            torch.nn.init.zeros_(m.bias)

    netG = nn.Sequential(nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                         nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
                         nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()).to(device)
    netD = nn.Sequential(nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                         nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2),
                         nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
                         nn.Sigmoid()).to(device)
    netG.apply(weights_init)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    fixed_noise = torch.randn(32, nz, 1, 1, device=device)
    optimizerD = optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    for i, data in enumerate(dataloader, 0):
        netD.zero_grad()
        real_cpu = data[0].to(device)
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), 1, dtype=real_cpu.dtype, device=device)
        output = netD(real_cpu).view(-1, 1).squeeze(1)
        errD_real = criterion(output, label)
        errD_real.backward()
        noise = torch.randn(batch_size, nz, 1, 1, device=device)
        fake = netG(noise)
        label.fill_(0)
        output = netD(fake.detach()).view(-1, 1).squeeze(1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        errD = errD_real + errD_fake
        optimizerD.step()
        netG.zero_grad()
        label.fill_(1)
        output = netD(fake).view(-1, 1).squeeze(1)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()
        assert np.isfinite(errD.item()) and np.isfinite(errG.item()) and 0 < output.mean().item() < 1
    save_image(real_cpu, tmp_path / "real_samples.png", normalize=True)
    save_image(netG(fixed_noise).detach(), tmp_path / "fake_samples.png", normalize=True)
    torch.save(netG.state_dict(), tmp_path / "netG_epoch_0.pth")
    netG.load_state_dict(torch.load(tmp_path / "netG_epoch_0.pth"))


def test_examples_forward_forward_pattern(root):
    torch.manual_seed(1)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,)),
                                    transforms.Lambda(lambda x: torch.flatten(x))])
    loader = DataLoader(Subset(datasets.MNIST(root, train=True, download=True, transform=transform), _some(300)),
                        batch_size=300)
    x, y = next(iter(loader))
    assert x.shape == (300, 784)  # flattened per image, then batched

    def overlay_y_on_x(x, y):
        x_ = x.clone()
        x_[:, :10] *= 0.0
        x_[range(x.shape[0]), y] = x.max()
        return x_

    y_neg = y.clone()
    for idx, y_samp in enumerate(y):
        allowed = list(range(10))
        allowed.remove(y_samp.item())
        y_neg[idx] = torch.tensor(allowed)[torch.randint(len(allowed), size=(1,))].item()
    assert not (y_neg == y).any()
    x_pos, x_neg = overlay_y_on_x(x, y), overlay_y_on_x(x, y_neg)
    assert float(x_pos[0, :10].sum()) == float(x.max())

    class Layer(nn.Linear):
        def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
            super().__init__(in_features, out_features, bias, device, dtype)
            self.relu = torch.nn.ReLU()
            self.opt = optim.Adam(self.parameters(), lr=0.03)

        def forward(self, x):
            x_direction = x / (x.norm(2, 1, keepdim=True) + 1e-4)
            return self.relu(torch.mm(x_direction, self.weight.T) + self.bias.unsqueeze(0))

        def train(self, x_pos, x_neg):
            losses = []
            for _ in range(15):
                g_pos = self.forward(x_pos).pow(2).mean(1)
                g_neg = self.forward(x_neg).pow(2).mean(1)
                loss = torch.log1p(torch.exp(torch.cat([-g_pos + 2.0, g_neg - 2.0]))).mean()
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
                losses.append(loss.item())
            return losses

    layer = Layer(784, 50)
    losses = layer.train(x_pos, x_neg)
    assert losses[-1] < losses[0]
    goodness = sum([layer(overlay_y_on_x(x, label)).pow(2).mean(1).unsqueeze(1) for label in range(2)])
    assert goodness.shape == (300, 1)


def test_quickstart_and_buildmodel_tutorial_patterns(root, tmp_path):
    torch.manual_seed(0)
    training_data = datasets.FashionMNIST(root=root, train=True, download=True, transform=transforms.ToTensor())
    test_data = datasets.FashionMNIST(root=root, train=False, download=True, transform=transforms.ToTensor())
    train_dataloader = DataLoader(Subset(training_data, _some(640)), batch_size=64)
    test_dataloader = DataLoader(Subset(test_data, range(320)), batch_size=64)
    for X, y in test_dataloader:
        assert X.shape == torch.Size([64, 1, 28, 28]) and y.dtype == torch.int64
        break
    device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    assert device == "cpu"

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                                                   nn.Linear(64, 10))

        def forward(self, x):
            return self.linear_relu_stack(self.flatten(x))

    model = NeuralNetwork().to(device)
    X = torch.rand(1, 28, 28, device=device)
    pred_probab = nn.Softmax(dim=1)(model(X))
    assert pred_probab.argmax(1).shape == (1,)
    for name, param in model.named_parameters():
        text = f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \n"
        assert "Size: convgrad.Size([" in text
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-1)

    def accuracy():
        model.eval()
        correct = 0
        with torch.no_grad():
            for X, y in test_dataloader:
                correct += (model(X).argmax(1) == y).type(torch.float).sum().item()
        return correct / len(test_dataloader.dataset)

    before = accuracy()
    for _ in range(8):
        model.train()
        for batch, (X, y) in enumerate(train_dataloader):
            loss = loss_fn(model(X), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            loss, current = loss.item(), (batch + 1) * len(X)
    assert accuracy() > max(before, 0.5)
    torch.save(model.state_dict(), tmp_path / "model.pth")
    model2 = NeuralNetwork().to(device)
    model2.load_state_dict(torch.load(tmp_path / "model.pth", weights_only=True))
    model2.eval()
    x, y = test_data[0][0], test_data[0][1]
    with torch.no_grad():
        x = x.to(device)
        assert model2(x).shape == (1, 10) and isinstance(test_data.classes[y], str)


def test_autogradqs_tutorial_pattern():
    x = torch.ones(5)
    y = torch.zeros(3)
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    assert "Backward" in f"Gradient function for z = {z.grad_fn}" and loss.grad_fn.name().endswith("Backward0")
    loss.backward()
    tw, tb = real_torch.tensor(w.numpy(), requires_grad=True), real_torch.tensor(b.numpy(), requires_grad=True)
    real_torch.nn.functional.binary_cross_entropy_with_logits(real_torch.ones(5) @ tw + tb, real_torch.zeros(3)).backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-7)
    with torch.no_grad():
        assert not (torch.matmul(x, w) + b).requires_grad
    assert not z.detach().requires_grad
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    first = inp.grad.numpy().copy()
    out.backward(torch.ones_like(out), retain_graph=True)
    np.testing.assert_array_equal(inp.grad.numpy(), 2 * first)  # gradients accumulate
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    np.testing.assert_array_equal(inp.grad.numpy(), first)


def test_blitz_tensors_autograd_and_neural_networks_patterns():
    data = [[1, 2], [3, 4]]
    x_data = torch.tensor(data)
    x_np = torch.from_numpy(np.array(data))
    assert torch.ones_like(x_data).dtype == torch.long and torch.rand_like(x_data, dtype=torch.float).dtype == torch.float
    tensor = torch.rand(3, 4)
    assert tensor.shape == (3, 4) and tensor.dtype == torch.float32 and str(tensor.device) == "cpu"
    tensor = torch.ones(4, 4)
    tensor[:, 1] = 0
    assert torch.cat([tensor, tensor, tensor], dim=1).shape == (4, 12)
    y1 = tensor @ tensor.T
    np.testing.assert_array_equal(y1.numpy(), tensor.matmul(tensor.T).numpy())
    assert (tensor.mul(tensor) == tensor * tensor).all()
    agg = tensor.sum()
    assert agg.item() == 12.0
    tensor.add_(5)
    assert tensor[0, 0].item() == 6 and tensor[0, 1].item() == 5
    t = torch.ones(5)
    n = t.numpy()
    t.add_(1)
    assert n[0] == 2  # shared memory
    n = np.ones(5)
    t = torch.from_numpy(n)
    np.add(n, 1, out=n)
    assert t[0].item() == 2
    assert x_np.tolist() == data

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = torch.flatten(x, 1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    net = Net()
    params = list(net.parameters())
    assert len(params) == 10 and params[0].size() == (6, 1, 5, 5)
    inp = torch.randn(1, 1, 32, 32)
    out = net(inp)
    net.zero_grad()
    out.backward(torch.randn(1, 10))
    output = net(inp)
    target = torch.randn(10).view(1, -1)
    loss = nn.MSELoss()(output, target)
    assert loss.grad_fn.name() == "MseLossBackward0" or "Mse" in loss.grad_fn.name()
    assert loss.grad_fn.next_functions[0][0] is not None
    net.zero_grad()
    assert net.conv1.bias.grad is None
    loss.backward()
    assert net.conv1.bias.grad.shape == (6,)
    before = net.conv1.bias.numpy().copy()
    learning_rate = 0.01
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)  # the tutorial's hand-written SGD step
    np.testing.assert_allclose(net.conv1.bias.numpy(), before - learning_rate * net.conv1.bias.grad.numpy(), rtol=1e-6)
    optimizer = optim.SGD(net.parameters(), lr=0.01)
    optimizer.zero_grad()
    loss = nn.MSELoss()(net(inp), target)
    loss.backward()
    optimizer.step()
    # the autograd chapter: a vector-Jacobian product and requires_grad_
    a = torch.tensor([2.0, 3.0], requires_grad=True)
    b = torch.tensor([6.0, 4.0], requires_grad=True)
    Q = 3 * a ** 3 - b ** 2
    Q.backward(gradient=torch.tensor([1.0, 1.0]))
    assert (9 * a ** 2 == a.grad).all() and (-2 * b == b.grad).all()
    frozen, trained = torch.rand(5, 5), torch.rand(5, 5, requires_grad=True)
    assert not (frozen + frozen).requires_grad and (frozen + trained).requires_grad
