"""Data: the MNIST IDX reader, datasets, the DataLoader, batch transforms, user images.

    from convgrad.data import MNIST, DataLoader, mnist_transforms
    train = MNIST(train=True, transform=mnist_transforms(augment=True))   # the bundled sample
    for images, labels in DataLoader(train, batch_size=64, shuffle=True, seed=0):
        ...   # images: float32 (64, 1, 28, 28) tensor, labels: int64 (64,)
"""
from .datasets import BUNDLED_DIR, MNIST, ArrayDataset, bundled_mnist, mnist_transforms
from .images import MAX_IMAGE_PIXELS, ImageError, digit_from_array, load_digit, open_image, read_image
from .loader import DataLoader
from .mnist import MNIST_MEAN, MNIST_STD, DatasetNotFoundError, load_mnist_arrays, read_idx
from .transforms import Compose, Normalize, RandomAffine, ToTensor, Transform
