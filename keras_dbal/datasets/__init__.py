"""Data set loaders: embedded digits, Keras's MNIST, local `.npz` files,
folders of images, TensorFlow Datasets splits.

Loaders return `((x_train, y_train), (x_test, y_test))` with images as
float32 `(N, height, width, channels)` in [0, 1] and integer labels.
"""

from keras_dbal.datasets.image_folders import ImageFolder
from keras_dbal.datasets.image_folders import load_image_folder
from keras_dbal.datasets.loaders import DATASETS
from keras_dbal.datasets.loaders import DataError
from keras_dbal.datasets.loaders import load_dataset
from keras_dbal.datasets.loaders import load_digits
from keras_dbal.datasets.loaders import load_npz
from keras_dbal.datasets.loaders import load_npz_array
from keras_dbal.datasets.loaders import scale_images
from keras_dbal.datasets.tfds import load_tfds

__all__ = [
    "DATASETS",
    "DataError",
    "ImageFolder",
    "load_dataset",
    "load_digits",
    "load_image_folder",
    "load_npz",
    "load_npz_array",
    "load_tfds",
    "scale_images",
]
