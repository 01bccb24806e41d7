"""torchvision-style datasets read from torchvision's on-disk layout, never from the network.

    train = MNIST("data", train=True, download=True, transform=transforms.ToTensor())
    image, label = train[0]          # a (1, 28, 28) float32 tensor and an int

``MNIST(root)`` reads ``root/MNIST/raw/train-images-idx3-ubyte[.gz]`` and the three other IDX
files, exactly where torchvision's ``download=True`` puts them (``FashionMNIST`` and ``KMNIST``
under ``root/FashionMNIST/raw`` and ``root/KMNIST/raw``). ``download=True`` is accepted when the
files are there; when they are not, one error says where to put them (convgrad never
downloads). ``ImageFolder(root)`` reads ``root/<class>/<image>`` with classes sorted by name.

Samples are PIL images (``mode "L"`` for the MNIST family, ``"RGB"`` for folders) passed through
``transform`` one at a time, as in torchvision; ``.data`` and ``.targets`` hold the whole set
as uint8 / int64 tensors.
"""
import os

import numpy as np

from ..data.mnist import DatasetNotFoundError, load_mnist_arrays
from ..errors import ArgumentError
from ..tensor import Tensor
from ..utils.data import Dataset

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class VisionDataset(Dataset):
    """Base class: ``root``, ``transform`` (for the image), ``target_transform`` (for the label)."""

    def __init__(self, root, transform=None, target_transform=None, transforms=None):
        self.root = os.path.expanduser(os.fspath(root)) if root is not None else None
        if transforms is not None and (transform is not None or target_transform is not None):
            raise ArgumentError("give either transforms or transform/target_transform, not both")
        self.transform, self.target_transform, self.transforms = transform, target_transform, transforms

    def _apply(self, image, target):
        if self.transforms is not None:
            return self.transforms(image, target)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self):
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)


class MNIST(VisionDataset):
    """The MNIST digits from ``root/MNIST/raw`` (torchvision's layout).

    Args:
        root: the directory that holds ``MNIST/raw`` (torchvision's ``root``).
        train: the 60,000 training images (``train-*``), else the 10,000 test images (``t10k-*``).
        transform: applied to each PIL image (``mode "L"``, 28x28).
        target_transform: applied to each label (an int).
        download: accepted; the files must already be there (convgrad never downloads).

    Raises:
        DatasetNotFoundError: when the IDX files are missing, saying where to put them.

    Example:
        >>> ds = MNIST("data", train=False, transform=ToTensor())  # doctest: +SKIP
        >>> ds[0][0].shape  # doctest: +SKIP
        convgrad.Size([1, 28, 28])
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]
    files = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
             "t10k-labels-idx1-ubyte.gz")

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform, target_transform)
        self.train = bool(train)
        raw = self.raw_folder
        try:
            images, labels = load_mnist_arrays(raw, train=self.train)
        except DatasetNotFoundError:
            want = ", ".join(self.files[:2] if self.train else self.files[2:])
            hint = " (download=True cannot fetch them: convgrad never uses the network)" if download else ""
            raise DatasetNotFoundError(f"{type(self).__name__}: no {'training' if self.train else 'test'} files in "
                                       f"'{raw}'{hint}; put {want} (or the same names without .gz) there, as "
                                       f"torchvision's download does") from None
        self.data = Tensor._wrap(images)
        self.targets = Tensor._wrap(labels.astype(np.int64))

    @property
    def raw_folder(self):
        """``root/<ClassName>/raw``, where torchvision's download puts the IDX files."""
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self):
        """``{class name: label}``."""
        return {name: i for i, name in enumerate(self.classes)}

    def __len__(self):
        return len(self.targets._data)

    def __getitem__(self, index):
        from PIL import Image

        image = Image.fromarray(self.data._data[int(index)], mode="L")
        return self._apply(image, int(self.targets._data[int(index)]))

    def extra_repr(self):
        """``Split: Train`` or ``Split: Test`` (torchvision's repr line)."""
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST from ``root/FashionMNIST/raw`` (same files and format as MNIST)."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


class KMNIST(MNIST):
    """Kuzushiji-MNIST from ``root/KMNIST/raw`` (same files and format as MNIST)."""

    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


def pil_loader(path):
    """Open an image file as an RGB PIL image (EXIF orientation applied)."""
    from PIL import Image, ImageOps

    with open(path, "rb") as f:
        image = Image.open(f)
        image = ImageOps.exif_transpose(image)
        return image.convert("RGB")


default_loader = pil_loader


def has_file_allowed_extension(filename, extensions):
    """True if ``filename`` ends with one of ``extensions`` (case-insensitive)."""
    return filename.lower().endswith(tuple(extensions))


class DatasetFolder(VisionDataset):
    """Samples arranged as ``root/<class>/<file>``; classes are the sorted sub-directory names.

    Args:
        root: the directory of class folders.
        loader: ``loader(path) -> sample``.
        extensions: the file endings to take (or ``is_valid_file``).
        transform, target_transform: applied to each sample / label.
        is_valid_file: ``is_valid_file(path) -> bool``, instead of ``extensions``.
        allow_empty: accept class folders without valid files.

    Raises:
        DatasetNotFoundError: if ``root`` has no class folders or a class folder has no files.
    """

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None, is_valid_file=None,
                 allow_empty=False):
        super().__init__(root, transform, target_transform)
        if not os.path.isdir(self.root):
            raise DatasetNotFoundError(f"{type(self).__name__}: '{self.root}' is not a directory")
        self.classes, self.class_to_idx = self.find_classes(self.root)
        if (extensions is None) == (is_valid_file is None):
            raise ArgumentError(f"{type(self).__name__}: give exactly one of extensions and is_valid_file")
        valid = is_valid_file or (lambda p: has_file_allowed_extension(p, extensions))
        self.samples = []
        for name in self.classes:
            found = []
            for dirpath, _, filenames in sorted(os.walk(os.path.join(self.root, name), followlinks=True)):
                for fname in sorted(filenames):
                    path = os.path.join(dirpath, fname)
                    if valid(path):
                        found.append((path, self.class_to_idx[name]))
            if not found and not allow_empty:
                raise DatasetNotFoundError(f"{type(self).__name__}: class folder '{name}' in '{self.root}' has no "
                                           f"valid files (extensions {tuple(extensions or ())})")
            self.samples.extend(found)
        self.loader, self.extensions = loader, extensions
        self.targets = [t for _, t in self.samples]

    @staticmethod
    def find_classes(directory):
        """``(sorted class folder names, {name: index})`` of ``directory``."""
        classes = sorted(e.name for e in os.scandir(directory) if e.is_dir())
        if not classes:
            raise DatasetNotFoundError(f"no class folders in '{directory}' (expected '{directory}/<class>/<image>')")
        return classes, {name: i for i, name in enumerate(classes)}

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)


class ImageFolder(DatasetFolder):
    """Images arranged as ``root/<class>/<image>`` (torchvision's ``ImageFolder``): RGB PIL images."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader, is_valid_file=None,
                 allow_empty=False):
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None, transform,
                         target_transform, is_valid_file, allow_empty)
        self.imgs = self.samples
