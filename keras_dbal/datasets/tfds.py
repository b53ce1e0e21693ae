"""Splits of TensorFlow Datasets, read into memory as keras_dbal images."""

import numpy as np

from keras_dbal.datasets.loaders import DataError
from keras_dbal.datasets.loaders import scale_images

__all__ = ["load_tfds"]


def load_tfds(name, split="train", *, data_dir=None, download=True,
              image_key="image", label_key="label", max_value=None):
    """The images and labels of one TFDS split, in the split's order.

    `tensorflow_datasets.load(name, split=split, data_dir=data_dir)`, read
    whole: images scaled to [0, 1] as every keras_dbal loader gives them
    (see `scale_images`), labels as int64. The split's order is the
    builder's, the same on every read, so pool positions are stable. For
    a split larger than memory, give the learner the `tf.data.Dataset`
    that `tensorflow_datasets.load` returns (mapped to images) instead.

    Args:
        name: The data set's TFDS name, e.g. `"mnist"` or `"mnist:3.0.1"`.
        split: The split, with TFDS slicing (`"train[:2000]"`).
        data_dir: Where the prepared data lives (TFDS's default if None).
        download: Whether TFDS may download and prepare it; False to use
            only what `data_dir` holds.
        image_key: The feature holding the images.
        label_key: The feature holding the labels, or None for none.
        max_value: The pixel value that means white (see `scale_images`).

    Returns:
        `(images, labels)`; `labels` is None when `label_key` is None.

    Raises:
        DataError: TFDS cannot load the split, or it lacks a key.
    """
    import tensorflow_datasets as tfds

    try:
        dataset = tfds.load(name, split=split, data_dir=data_dir,
                            download=download)
    except Exception as error:  # unknown names, missing data, network
        raise DataError(
            f"Could not load the TFDS split {name!r} {split!r} ({error})."
        ) from None
    features = dataset.element_spec
    keys = [key for key in (image_key, label_key) if key is not None]
    missing = [key for key in keys if key not in features]
    if missing:
        raise DataError(
            f"The TFDS split {name!r} {split!r} has no feature {missing}; "
            f"it has {sorted(features)}."
        )
    images, labels = [], []
    for example in tfds.as_numpy(dataset.batch(1024)):
        images.append(example[image_key])
        if label_key is not None:
            labels.append(example[label_key])
    if not images:
        raise DataError(f"The TFDS split {name!r} {split!r} is empty.")
    x = scale_images(np.concatenate(images), f"TFDS {name} {split}",
                     max_value=max_value)
    y = np.concatenate(labels).astype("int64") if labels else None
    return x, y
