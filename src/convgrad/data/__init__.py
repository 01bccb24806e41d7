"""Data: datasets that describe themselves, the DataLoader, batch transforms, user images.

    from convgrad.data import open_data, DataLoader
    bundle = open_data("pets/")        # image folder, .ts directory, .npz, CSV, IDX; None = bundled MNIST
    print(bundle.description)          # image folder: 2 classes (cat, dog), 1,204 train / 301 validation ...
    for images, labels in DataLoader(bundle.train, batch_size=64, shuffle=True, seed=0):
        ...   # images: float32 (64, 3, 64, 64) tensor, labels: int64 (64,)

One family per file: ``mnist`` (IDX files), ``datasets`` (arrays in memory, MNIST), ``folders``
(class subfolders of images), ``arrays`` (.npz, CSV), ``timeseries`` (UCR/UEA .ts), ``images``
(decoding pictures, digits), ``bundle`` (``open_data``, ``load_input``), ``loader``, ``transforms``.
"""
from .arrays import label_indices, read_csv, read_npz
from .bundle import KINDS, DataBundle, detect_kind, load_input, load_inputs, open_data, stratified_split
from .datasets import BUNDLED_DIR, MNIST, ArrayDataset, bundled_mnist, mnist_transforms
from .folders import IMAGE_EXTENSIONS, EmptyClassError, ImageFolder, resize_crop
from .images import MAX_IMAGE_PIXELS, ImageError, digit_from_array, load_digit, open_image, read_image
from .loader import DataLoader
from .mnist import MNIST_MEAN, MNIST_STD, DatasetNotFoundError, load_mnist_arrays, read_idx
from .timeseries import TimeSeriesData, find_ts_files, read_ts, read_ts_unlabelled, znormalize
from .transforms import Compose, Normalize, RandomAffine, ToTensor, Transform
