"""Model zoo: parameter counts against the published figures, the lecture's ZF Net shapes,
small-image variants, return_layers, GoogLeNet's auxiliary outputs and loss, and the registry.

Large models are built once each (construction allocates the weights, no forward pass needed for
a parameter count); forward passes use small inputs where the architecture allows.
"""
import gc

import numpy as np
import pytest

import convgrad as cg
import convgrad.models as models
from convgrad.errors import ArgumentError
from convgrad.models.googlenet import INCEPTION_SPECS


def count(model):
    return sum(p.numel() for p in model.parameters())


def conv_params(cin, cout, k, bias=True):
    return (k * k * cin + bias) * cout


def linear_params(fin, fout):
    return (fin + 1) * fout


@pytest.fixture
def skip_random_init(monkeypatch):
    """Parameter counts and shapes do not depend on the weights' values: fill zeros instead of
    drawing ~10^8 random numbers for VGG's classifier (tens of seconds on a busy machine)."""
    def fill_zeros(tensor, *args, **kwargs):
        tensor.data[...] = 0
        return tensor
    for name in ("uniform_", "normal_", "trunc_normal_"):
        monkeypatch.setattr(cg.nn.init, name, fill_zeros)


# torchvision's published figures (weights' metadata "num_params")
TORCHVISION_COUNTS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840, "vgg16_bn": 138_365_992,
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032, "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}


@pytest.mark.parametrize("name", sorted(TORCHVISION_COUNTS))
def test_parameter_count_matches_torchvision(name, skip_random_init):
    model = models.get_model(name)
    assert count(model) == TORCHVISION_COUNTS[name]
    del model
    gc.collect()


def test_googlenet_parameter_count_with_and_without_aux_heads(skip_random_init):
    assert count(models.googlenet(aux_logits=False)) == 6_624_904
    assert count(models.googlenet(aux_logits=True)) == 13_004_888


def test_paper_alexnet_parameter_count(skip_random_init):
    # the paper's two-GPU network (Caffe's bvlc_alexnet): conv2/4/5 see half of the previous maps
    model = models.alexnet(lrn=True, groups=2)
    assert count(model) == 60_965_224
    kinds = [type(m).__name__ for m in model.features]
    assert kinds.count("LocalResponseNorm") == 2 and kinds.index("LocalResponseNorm") == 2
    single_tower = models.alexnet(lrn=True)
    expected = (conv_params(3, 96, 11) + conv_params(96, 256, 5) + conv_params(256, 384, 3)
                + conv_params(384, 384, 3) + conv_params(384, 256, 3)
                + linear_params(9216, 4096) + linear_params(4096, 4096) + linear_params(4096, 1000))
    assert count(single_tower) == expected


def vgg_expected(convs, num_classes=1000):
    """convs: (in, out, kernel) of each conv of a configuration, from the paper's Table 1."""
    return (sum(conv_params(i, o, k) for i, o, k in convs) + linear_params(25088, 4096)
            + linear_params(4096, 4096) + linear_params(4096, num_classes))


def test_vgg_paper_configurations_c_and_a_lrn(skip_random_init):
    c_convs = [(3, 64, 3), (64, 64, 3), (64, 128, 3), (128, 128, 3), (128, 256, 3), (256, 256, 3), (256, 256, 1),
               (256, 512, 3), (512, 512, 3), (512, 512, 1), (512, 512, 3), (512, 512, 3), (512, 512, 1)]
    model = models.vgg("C", num_classes=10)
    assert count(model) == vgg_expected(c_convs, num_classes=10)
    kernels = [m.kernel_size for m in model.features if isinstance(m, cg.nn.Conv2d)]
    assert len(kernels) == 13 and sum(tuple(k) == (1, 1) for k in kernels) == 3
    del model
    lrn = models.vgg("A-LRN", num_classes=10)
    plain = sum(conv_params(i, o, 3) for i, o in [(3, 64), (64, 128), (128, 256), (256, 256), (256, 512),
                                                   (512, 512), (512, 512), (512, 512)])
    assert count(lrn) == plain + vgg_expected([], num_classes=10)
    assert type(lrn.features[2]).__name__ == "LocalResponseNorm"
    with pytest.raises(ArgumentError, match="unknown configuration"):
        models.vgg("F")


def test_zfnet_shapes_as_the_lecture_computes_them(skip_random_init):
    model = models.zfnet().eval()
    convs = [i for i, m in enumerate(model.features) if isinstance(m, cg.nn.Conv2d)]
    pools = [i for i, m in enumerate(model.features) if isinstance(m, cg.nn.MaxPool2d)]
    names = [f"features.{i}" for i in convs + pools]
    with cg.no_grad():
        acts = model(cg.randn(1, 3, 224, 224), return_layers=names)
    shapes = [acts[f"features.{i}"].shape[1:] for i in convs + pools]
    assert shapes == [(96, 110, 110), (256, 26, 26), (384, 13, 13), (384, 13, 13), (256, 13, 13),
                      (96, 55, 55), (256, 13, 13), (256, 6, 6)]
    assert acts["output"].shape == (1, 1000)
    assert count(model) == (conv_params(3, 96, 7) + conv_params(96, 256, 5) + conv_params(256, 384, 3)
                            + conv_params(384, 384, 3) + conv_params(384, 256, 3) + linear_params(256 * 6 * 6, 4096)
                            + linear_params(4096, 4096) + linear_params(4096, 1000))
    assert conv_params(3, 96, 7) == 14_208


def test_nin_variants(skip_random_init):
    imagenet = models.nin()
    expected = sum(conv_params(i, o, k) for i, o, k in [
        (3, 96, 11), (96, 96, 1), (96, 96, 1), (96, 256, 5), (256, 256, 1), (256, 256, 1),
        (256, 384, 3), (384, 384, 1), (384, 384, 1), (384, 1024, 3), (1024, 1024, 1), (1024, 1000, 1)])
    assert count(imagenet) == expected
    assert imagenet.stage_names() == ["block1", "pool1", "dropout1", "block2", "pool2", "dropout2", "block3",
                                      "pool3", "dropout3", "block4", "avgpool"]
    cifar = models.nin(variant="cifar", num_classes=10).eval()
    assert count(cifar) == sum(conv_params(i, o, k) for i, o, k in [
        (3, 192, 5), (192, 160, 1), (160, 96, 1), (96, 192, 5), (192, 192, 1), (192, 192, 1),
        (192, 192, 3), (192, 192, 1), (192, 10, 1)])
    with cg.no_grad():
        acts = cifar(cg.randn(2, 3, 32, 32), return_layers=["block1", "pool1", "pool2", "block3"])
    assert acts["block1"].shape == (2, 96, 32, 32)
    assert acts["pool1"].shape == (2, 96, 16, 16)
    assert acts["pool2"].shape == (2, 192, 8, 8)
    assert acts["block3"].shape == (2, 10, 8, 8)
    # global average pooling head: the class score is the mean of the class's map
    np.testing.assert_allclose(acts["output"].numpy(), acts["block3"].numpy().mean(axis=(2, 3)), rtol=1e-5)
    with pytest.raises(ArgumentError, match="unknown variant"):
        models.nin(variant="mnist")


def test_cifar_resnets_and_small_input_resnet18_on_mnist_sized_images():
    for depth in (20, 32, 44, 56):
        model = models.get_model(f"resnet{depth}")
        n = (depth - 2) // 6
        assert [len(getattr(model, f"layer{i}")) for i in (1, 2, 3)] == [n, n, n]
        # option B: 1x1 conv + BN shortcuts where the shape changes (16->32, 32->64)
        expected = conv_params(3, 16, 3, bias=False) + 2 * 16 + linear_params(64, 10)
        for cin, cout in [(16, 16), (16, 32), (32, 64)]:
            first = conv_params(cin, cout, 3, False) + conv_params(cout, cout, 3, False) + 4 * cout
            if cin != cout:
                first += conv_params(cin, cout, 1, False) + 2 * cout
            rest = (n - 1) * (2 * conv_params(cout, cout, 3, False) + 4 * cout)
            expected += first + rest
        assert count(model) == expected
    assert count(models.resnet20()) == 272_474
    model = models.resnet20(in_channels=1).eval()
    with cg.no_grad():
        acts = model(cg.randn(2, 1, 28, 28), return_layers=["layer1", "layer2", "layer3"])
    assert [acts[k].shape for k in ("layer1", "layer2", "layer3", "output")] == [
        (2, 16, 28, 28), (2, 32, 14, 14), (2, 64, 7, 7), (2, 10)]
    small = models.resnet18(num_classes=10, in_channels=1, small_input=True).eval()
    assert small.maxpool is None and tuple(small.conv1.kernel_size) == (3, 3)
    with cg.no_grad():
        acts = small(cg.randn(2, 1, 28, 28), return_layers=["conv1", "layer4"])
    assert acts["conv1"].shape == (2, 64, 28, 28) and acts["layer4"].shape == (2, 512, 4, 4)
    assert acts["output"].shape == (2, 10)
    with pytest.raises(ArgumentError, match="6n \\+ 2"):
        models.cifar_resnet(21)


def test_global_pooling_heads_accept_any_input_size():
    model = models.resnet18(num_classes=7).eval()
    with cg.no_grad():
        for size in [(40, 40), (57, 33)]:
            assert model(cg.randn(1, 3, *size)).shape == (1, 7)


def test_return_layers_convention():
    cg.manual_seed(0)
    model = models.resnet20(num_classes=10).eval()
    x = cg.randn(2, 3, 32, 32)
    with cg.no_grad():
        plain = model(x)
        acts = model(x, return_layers=["layer2", "conv1", "layer3.0.conv1", "layer2"])
        stem = model.relu(model.bn1(model.conv1(x)))
        manual_layer2 = model.layer2(model.layer1(stem))
    assert list(acts) == ["layer2", "conv1", "layer3.0.conv1", "output"]  # asked order, repeats dropped
    np.testing.assert_array_equal(acts["output"].numpy(), plain.numpy())
    np.testing.assert_allclose(acts["layer2"].numpy(), manual_layer2.numpy(), rtol=1e-6)
    np.testing.assert_allclose(acts["conv1"].numpy(), model.conv1(x).numpy(), rtol=1e-6)
    assert acts["layer3.0.conv1"].shape == (2, 64, 8, 8)
    assert not any(h for _, m in model.named_modules() for h in m._forward_hooks)  # hooks removed
    assert model(x, return_layers="layer1")["layer1"].shape == (2, 16, 32, 32)
    with pytest.raises(ArgumentError, match="unknown layer 'layer9'.*layer1"):
        model(x, return_layers=["layer9"])
    with pytest.raises(ArgumentError, match="always returned"):
        model(x, return_layers=["output"])


def test_return_layers_keep_the_graph():
    cg.manual_seed(0)
    model = models.resnet20(num_classes=10).train()
    acts = model(cg.randn(2, 3, 16, 16), return_layers=["layer1"])
    acts["layer1"].sum().backward()
    assert model.conv1.weight.grad is not None and np.abs(model.conv1.weight.grad.numpy()).sum() > 0
    assert model.fc.weight.grad is None and model.layer2[0].conv1.weight.grad is None


def test_googlenet_aux_outputs_and_loss():
    cg.manual_seed(0)
    model = models.googlenet(num_classes=5)
    x = cg.randn(2, 3, 64, 64)
    target = cg.tensor(np.array([1, 3]))
    out = model.train()(x)
    assert isinstance(out, models.GoogLeNetOutputs) and out._fields == ("logits", "aux_logits2", "aux_logits1")
    assert all(o.shape == (2, 5) for o in out)
    F = cg.nn.functional
    loss = models.googlenet_loss(out, target)
    expected = (F.cross_entropy(out.logits, target) + 0.3 * F.cross_entropy(out.aux_logits1, target)
                + 0.3 * F.cross_entropy(out.aux_logits2, target))
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-6)
    loss.backward()
    assert model.aux1.fc2.weight.grad is not None and model.aux2.fc2.weight.grad is not None
    with pytest.raises(ArgumentError, match="did not run"):
        model.eval()(x, return_layers=["aux1"])
    with cg.no_grad():
        logits = model.eval()(x)
    assert isinstance(logits, cg.Tensor) and logits.shape == (2, 5)
    np.testing.assert_allclose(models.googlenet_loss(logits, target).item(),
                               F.cross_entropy(logits, target).item(), rtol=1e-6)
    no_aux = models.googlenet(num_classes=5, aux_logits=False).train()
    assert isinstance(no_aux(x), cg.Tensor)
    assert "aux1" not in no_aux.stage_names()


def test_googlenet_paper_5x5_branch(skip_random_init):
    model = models.googlenet(aux_logits=False, paper_5x5=True)
    assert tuple(model.inception3a.branch3[1].conv.kernel_size) == (5, 5)
    extra = sum((25 - 9) * spec[4] * spec[5] for spec in INCEPTION_SPECS.values())
    assert count(model) == 6_624_904 + extra


def test_in_channels_and_num_classes_everywhere(skip_random_init):
    cases = [("alexnet", {}, 63), ("alexnet", {"lrn": True, "groups": 2}, 63), ("zfnet", {"lrn": True}, 63),
             ("nin", {}, 64), ("googlenet", {}, 32), ("resnet18", {}, 32), ("resnet20", {}, 28),
             ("vgg11", {}, 32), ("lenet5", {}, 28), ("conv_autoencoder", {}, 28)]
    for name, kwargs, size in cases:
        if name == "conv_autoencoder":
            model = models.get_model(name, in_channels=1).eval()
            expected = (1, 1, size, size)
        else:
            model = models.get_model(name, num_classes=3, in_channels=1, **kwargs).eval()
            expected = (1, 3)
        with cg.no_grad():
            assert model(cg.randn(1, 1, size, size)).shape == expected, name
        assert model.model_config["name"] == name
        del model
        gc.collect()


def test_registry():
    names = models.list_models()
    assert names == sorted(names)
    for expected in ["alexnet", "zfnet", "nin", "googlenet", "vgg11", "vgg19_bn", "resnet18", "resnet152",
                     "resnet20", "resnet56"]:
        assert expected in names
    model = models.get_model("resnet20", num_classes=4)
    assert isinstance(model, models.ResNet)
    assert model.model_config == {"name": "resnet20", "kwargs": {"num_classes": 4}}
    assert models.alexnet(10, 1).model_config == {"name": "alexnet", "kwargs": {"num_classes": 10, "in_channels": 1}}
    with pytest.raises(ValueError, match="unknown model 'resnet19'.*resnet18"):
        models.get_model("resnet19")
    with pytest.raises(TypeError):
        models.get_model("resnet20", no_such_option=1)


@pytest.mark.parametrize("size,inner", [(28, (7, 7)), (32, (8, 8)), ((30, 21), (8, 6))])
def test_autoencoder_shapes_and_parameters(size, inner):
    model = models.conv_autoencoder(code_dim=8, input_size=size, in_channels=2).eval()
    h, w = (size, size) if isinstance(size, int) else size
    x = cg.rand(3, 2, h, w)
    with cg.no_grad():
        z = model.encode(x)
        y = model(x)
        acts = model(x, return_layers=["encoder", "decoder_fc"])
    assert z.shape == (3, 8) and y.shape == (3, 2, h, w)
    assert model.code_shape == (64, *inner)
    np.testing.assert_allclose(model.decode(z).numpy(), y.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(acts["encoder"].numpy(), z.numpy())
    assert float(y.numpy().min()) >= 0 and float(y.numpy().max()) <= 1  # sigmoid output
    flat = 64 * inner[0] * inner[1]
    assert count(model) == (conv_params(2, 32, 3) + conv_params(32, 64, 3) + linear_params(flat, 8)
                            + linear_params(8, flat) + conv_params(64, 32, 3) + conv_params(32, 2, 3))
    with pytest.raises(cg.errors.ShapeError, match="expected images of size"):
        model.encode(cg.rand(1, 2, h + 2, w))


def test_autoencoder_learns_mnist_codes_that_find_similar_digits():
    from convgrad.data import BUNDLED_DIR, load_mnist_arrays

    images, labels = load_mnist_arrays(BUNDLED_DIR, train=True)
    pick = np.random.default_rng(1).choice(len(images), 384, replace=False)  # the file is sorted by label
    x = images[pick, None].astype(np.float32) / 255
    labels = labels[pick]
    cg.manual_seed(0)
    model = models.conv_autoencoder(code_dim=16, widths=(16, 32))
    opt = cg.optim.Adam(model.parameters(), lr=5e-3)
    F = cg.nn.functional
    rng = np.random.default_rng(0)
    with cg.no_grad():
        start = F.mse_loss(model(cg.tensor(x)), cg.tensor(x)).item()
    for _ in range(5):
        for idx in np.array_split(rng.permutation(len(x)), len(x) // 32):
            batch = cg.tensor(x[idx])
            loss = F.mse_loss(model(batch), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with cg.no_grad():
        end = F.mse_loss(model(cg.tensor(x)), cg.tensor(x)).item()
        codes = model.encode(cg.tensor(x)).numpy()
    assert end < 0.4 * start, (start, end)
    # the nearest neighbour in code space shares the label far more often than chance (~10%)
    d = ((codes[:, None, :] - codes[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    agreement = float((labels[d.argmin(1)] == labels).mean())
    assert agreement > 0.25, agreement
