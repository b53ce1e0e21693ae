"""Data set loaders: embedded digits, Keras's MNIST, local `.npz` files.

Loaders return `((x_train, y_train), (x_test, y_test))` with images as
float32 `(N, height, width, channels)` in [0, 1] and integer labels.
"""

from keras_dbal.datasets.loaders import DATASETS
from keras_dbal.datasets.loaders import DataError
from keras_dbal.datasets.loaders import load_dataset
from keras_dbal.datasets.loaders import load_digits
from keras_dbal.datasets.loaders import load_npz
from keras_dbal.datasets.loaders import load_npz_array
from keras_dbal.datasets.loaders import scale_images

__all__ = [
    "DATASETS",
    "DataError",
    "load_dataset",
    "load_digits",
    "load_npz",
    "load_npz_array",
    "scale_images",
]
