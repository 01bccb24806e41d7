"""Generate the name lists of docs/PYTORCH.md from the code: which PyTorch names convgrad has.

    python scripts/pytorch_map.py            # rewrite the generated blocks of docs/PYTORCH.md
    python scripts/pytorch_map.py --check    # exit 1 if the file is out of date (for CI)

Each section lists PyTorch names (checked to exist in the installed PyTorch, and torchvision names
by their documented spelling) and looks each one up in convgrad: "yes" when convgrad has it under
the same path, "no" otherwise, with a note where convgrad's behaviour differs. A section's table
lives in docs/PYTORCH.md between ``<!-- BEGIN generated: NAME -->`` and ``<!-- END generated: NAME -->``,
so several sections (each engineer's) can be regenerated without touching the prose around them.
"""
import argparse
import importlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
DOC = os.path.join(ROOT, "docs", "PYTORCH.md")

# (PyTorch name, convgrad name or None for the same path with torch -> convgrad, note)
SECTIONS = {
    "package": [
        ("torch.tensor", None, ""), ("torch.from_numpy", None, "shares memory, as in PyTorch"),
        ("torch.zeros", None, ""), ("torch.ones", None, ""), ("torch.empty", None, ""), ("torch.full", None, ""),
        ("torch.zeros_like", None, ""), ("torch.ones_like", None, ""), ("torch.empty_like", None, ""),
        ("torch.full_like", None, ""), ("torch.rand", None, ""), ("torch.randn", None, ""),
        ("torch.rand_like", None, ""), ("torch.randn_like", None, ""), ("torch.randint", None, ""),
        ("torch.randperm", None, ""), ("torch.arange", None, ""), ("torch.linspace", None, ""),
        ("torch.eye", None, ""), ("torch.manual_seed", None, "seeds convgrad's one NumPy generator"),
        ("torch.Generator", None, "a NumPy generator of its own"), ("torch.no_grad", None, ""),
        ("torch.enable_grad", None, ""), ("torch.set_grad_enabled", None, ""), ("torch.Size", None, ""),
        ("torch.device", None, "'cpu' only; 'cuda'/'mps' raise DeviceError"),
        ("torch.cuda.is_available", None, "always False"), ("torch.accelerator.is_available", None, "always False"),
        ("torch.accelerator.current_accelerator", None, "None"), ("torch.backends.mps.is_available", None, "False"),
        ("torch.backends.cudnn.benchmark", None, "accepted, no effect"), ("torch.save", None, "no pickle: npz + JSON"),
        ("torch.load", None, "never unpickles; map_location/weights_only accepted"),
        ("torch.float", None, "= float32"), ("torch.float32", None, ""), ("torch.float64", None, ""),
        ("torch.double", None, ""), ("torch.long", None, ""), ("torch.int64", None, ""), ("torch.int32", None, ""),
        ("torch.int", None, ""), ("torch.bool", None, ""), ("torch.uint8", None, ""),
        ("torch.float16", None, "raises DTypeError: convgrad computes in float32/float64"),
        ("torch.half", None, "raises DTypeError: convgrad computes in float32/float64"),
    ],
    "ops": [
        ("torch.matmul", None, ""), ("torch.mm", None, "2-D only, as in PyTorch"), ("torch.bmm", None, ""),
        ("torch.add", None, ""), ("torch.sub", None, ""), ("torch.mul", None, ""), ("torch.div", None, ""),
        ("torch.pow", None, ""), ("torch.exp", None, ""), ("torch.log", None, ""), ("torch.log1p", None, ""),
        ("torch.expm1", None, ""), ("torch.sqrt", None, ""), ("torch.abs", None, ""), ("torch.clamp", None, ""),
        ("torch.sigmoid", None, ""), ("torch.tanh", None, ""), ("torch.softmax", None, ""),
        ("torch.sum", None, ""), ("torch.mean", None, ""), ("torch.std", None, ""), ("torch.var", None, ""),
        ("torch.max", None, "also max(a, b) = maximum"), ("torch.min", None, ""), ("torch.argmax", None, ""),
        ("torch.norm", None, "vector norms (p, dim, keepdim); no matrix norms"),
        ("torch.sort", None, "always stable"), ("torch.argsort", None, ""), ("torch.topk", None, ""),
        ("torch.cumsum", None, ""), ("torch.gather", None, ""), ("torch.scatter", None, "no reduce="),
        ("torch.scatter_add", None, ""), ("torch.masked_fill", None, ""), ("torch.where", None, ""),
        ("torch.nonzero", None, ""), ("torch.cat", None, ""), ("torch.stack", None, ""),
        ("torch.flatten", None, ""), ("torch.reshape", None, ""), ("torch.eq", None, ""), ("torch.le", None, ""),
        ("torch.gt", None, ""), ("torch.logical_and", None, ""), ("torch.isnan", None, ""),
        ("torch.allclose", None, ""), ("torch.any", None, ""), ("torch.all", None, ""),
    ],
    "tensor": [
        ("torch.Tensor.data", None, "a tensor sharing storage, outside the graph"),
        ("torch.Tensor.grad_fn", None, "a node: name(), next_functions, <AddBackward0>"),
        ("torch.Tensor.numpy", None, "the array itself (shared)"), ("torch.Tensor.item", None, ""),
        ("torch.Tensor.tolist", None, ""), ("torch.Tensor.size", None, "a Size"), ("torch.Tensor.shape", None, ""),
        ("torch.Tensor.dim", None, ""), ("torch.Tensor.numel", None, ""), ("torch.Tensor.view", None, ""),
        ("torch.Tensor.view_as", None, ""), ("torch.Tensor.reshape", None, ""), ("torch.Tensor.permute", None, ""),
        ("torch.Tensor.to", None, "dtype conversions; devices: the CPU only"), ("torch.Tensor.cpu", None, ""),
        ("torch.Tensor.cuda", None, "raises DeviceError"), ("torch.Tensor.device", None, "always cpu"),
        ("torch.Tensor.is_cuda", None, "False"), ("torch.Tensor.detach", None, ""),
        ("torch.Tensor.requires_grad_", None, ""), ("torch.Tensor.backward", None, ""),
        ("torch.Tensor.retain_grad", None, ""), ("torch.Tensor.register_hook", None, ""),
        ("torch.Tensor.norm", None, ""), ("torch.Tensor.add_", None, "PyTorch's leaf and version rules"),
        ("torch.Tensor.sub_", None, ""), ("torch.Tensor.mul_", None, ""), ("torch.Tensor.div_", None, ""),
        ("torch.Tensor.clamp_", None, ""), ("torch.Tensor.zero_", None, ""), ("torch.Tensor.fill_", None, ""),
        ("torch.Tensor.normal_", None, ""), ("torch.Tensor.uniform_", None, ""), ("torch.Tensor.copy_", None, ""),
        ("torch.Tensor.masked_fill_", None, ""), ("torch.Tensor.sort", None, ""), ("torch.Tensor.topk", None, ""),
        ("torch.Tensor.gather", None, ""), ("torch.Tensor.scatter", None, ""), ("torch.Tensor.cumsum", None, ""),
        ("torch.Tensor.eq", None, ""), ("torch.Tensor.any", None, ""), ("torch.Tensor.type", None, ""),
        ("torch.Tensor.float", None, ""), ("torch.Tensor.long", None, ""), ("torch.Tensor.double", None, ""),
        ("torch.Tensor.resize_", None, "not provided: reshape() or a new tensor"),
    ],
    "data": [
        ("torch.utils.data.Dataset", None, ""), ("torch.utils.data.IterableDataset", None, ""),
        ("torch.utils.data.TensorDataset", None, ""), ("torch.utils.data.Subset", None, ""),
        ("torch.utils.data.ConcatDataset", None, ""), ("torch.utils.data.random_split", None, ""),
        ("torch.utils.data.DataLoader", None, "num_workers/pin_memory accepted; loads in the main process"),
        ("torch.utils.data.Sampler", None, ""), ("torch.utils.data.SequentialSampler", None, ""),
        ("torch.utils.data.RandomSampler", None, ""), ("torch.utils.data.SubsetRandomSampler", None, ""),
        ("torch.utils.data.WeightedRandomSampler", None, ""), ("torch.utils.data.BatchSampler", None, ""),
        ("torch.utils.data.default_collate", None, ""), ("torch.utils.data.get_worker_info", None, "None"),
        ("torch.utils.data.distributed.DistributedSampler", None, "see convgrad.distributed"),
    ],
    "vision": [
        ("torchvision.datasets.MNIST", "convgrad.vision.datasets.MNIST", "reads root/MNIST/raw; never downloads"),
        ("torchvision.datasets.FashionMNIST", "convgrad.vision.datasets.FashionMNIST", ""),
        ("torchvision.datasets.KMNIST", "convgrad.vision.datasets.KMNIST", ""),
        ("torchvision.datasets.ImageFolder", "convgrad.vision.datasets.ImageFolder", ""),
        ("torchvision.datasets.DatasetFolder", "convgrad.vision.datasets.DatasetFolder", ""),
        ("torchvision.datasets.CIFAR10", "convgrad.vision.datasets.CIFAR10", "not provided"),
        ("torchvision.transforms.Compose", "convgrad.vision.transforms.Compose", ""),
        ("torchvision.transforms.ToTensor", "convgrad.vision.transforms.ToTensor", ""),
        ("torchvision.transforms.PILToTensor", "convgrad.vision.transforms.PILToTensor", ""),
        ("torchvision.transforms.ToPILImage", "convgrad.vision.transforms.ToPILImage", ""),
        ("torchvision.transforms.Normalize", "convgrad.vision.transforms.Normalize", ""),
        ("torchvision.transforms.Lambda", "convgrad.vision.transforms.Lambda", ""),
        ("torchvision.transforms.Resize", "convgrad.vision.transforms.Resize", "Pillow resampling"),
        ("torchvision.transforms.CenterCrop", "convgrad.vision.transforms.CenterCrop", ""),
        ("torchvision.transforms.RandomCrop", "convgrad.vision.transforms.RandomCrop", ""),
        ("torchvision.transforms.RandomHorizontalFlip", "convgrad.vision.transforms.RandomHorizontalFlip", ""),
        ("torchvision.transforms.RandomVerticalFlip", "convgrad.vision.transforms.RandomVerticalFlip", ""),
        ("torchvision.transforms.RandomRotation", "convgrad.vision.transforms.RandomRotation", ""),
        ("torchvision.transforms.Grayscale", "convgrad.vision.transforms.Grayscale", ""),
        ("torchvision.transforms.Pad", "convgrad.vision.transforms.Pad", ""),
        ("torchvision.transforms.ColorJitter", "convgrad.vision.transforms.ColorJitter", "not provided"),
        ("torchvision.utils.make_grid", "convgrad.vision.utils.make_grid", ""),
        ("torchvision.utils.save_image", "convgrad.vision.utils.save_image", ""),
        ("torchvision.models.resnet18", "convgrad.vision.models.resnet18", "weights= must be None (no download)"),
        ("torchvision.models.vgg16", "convgrad.vision.models.vgg16", ""),
        ("torchvision.models.alexnet", "convgrad.vision.models.alexnet", ""),
        ("torchvision.models.googlenet", "convgrad.vision.models.googlenet", ""),
    ],
}


def lookup(path):
    """The object at a dotted path (importing modules along the way), or None."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        except Exception:  # noqa: BLE001  (a module that fails to import counts as absent)
            return None
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        except Exception:  # noqa: BLE001  (e.g. convgrad.float16 raises DTypeError on purpose)
            return "raises"
        return obj
    return None


def has(path):
    if path.startswith("convgrad.Tensor."):
        import convgrad
        return hasattr(convgrad.Tensor, path.rsplit(".", 1)[1])
    return lookup(path) is not None


def table(name):
    rows = ["| PyTorch | convgrad | | notes |", "|---|---|---|---|"]
    for torch_name, cg_name, note in SECTIONS[name]:
        cg_name = cg_name or "convgrad" + torch_name[len("torch"):]
        there = has(cg_name)
        if torch_name.startswith("torch.") and lookup(torch_name) is None:
            raise SystemExit(f"pytorch_map: {torch_name} does not exist in the installed PyTorch")
        mark = "yes" if there else "no"
        if there and lookup(cg_name) == "raises":
            mark = "error"
        rows.append(f"| `{torch_name}` | `{cg_name}` | {mark} | {note} |")
    have = sum(r.split(" | ")[2] in ("yes", "error") for r in rows[2:])
    rows.append("")
    rows.append(f"{have} of {len(SECTIONS[name])} names present.")
    return "\n".join(rows)


def render(text):
    for name in SECTIONS:
        begin, end = f"<!-- BEGIN generated: {name} -->", f"<!-- END generated: {name} -->"
        if begin not in text or end not in text:
            raise SystemExit(f"pytorch_map: {DOC} has no block for section {name!r} ({begin} ... {end})")
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + begin + "\n" + table(name) + "\n" + end + tail
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/PYTORCH.md is out of date")
    args = parser.parse_args()
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    new = render(text)
    if args.check:
        if new != text:
            print(f"{DOC} is out of date: run python scripts/pytorch_map.py", file=sys.stderr)
            return 1
        return 0
    with open(DOC, "w", encoding="utf-8") as f:
        f.write(new)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
