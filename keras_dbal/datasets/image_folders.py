"""Images from a folder on disk, read as Keras reads them."""

import dataclasses
import os
import re

import numpy as np

from keras_dbal.datasets.loaders import DataError

__all__ = ["ImageFolder", "load_image_folder"]

_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
# ITU-R BT.601 luma, as PIL converts to "L": grey stays the same grey.
_LUMA = np.array([[0.299], [0.587], [0.114]], "float32")


@dataclasses.dataclass(frozen=True)
class ImageFolder:
    """The images of a folder, in a fixed order (`load_image_folder`).

    Args:
        images: float32 `(N, height, width, channels)` in [0, 1].
        labels: int64 `(N,)` class of each image (the index of its
            subfolder in `class_names`), or None for unlabelled files.
        file_names: Each image's path relative to the folder, `/`
            separated: what a person looks for, and what labels files name.
        class_names: The subfolder names, in label order (empty without
            labels).
    """

    images: np.ndarray
    labels: np.ndarray
    file_names: tuple
    class_names: tuple


def load_image_folder(directory, *, labels="inferred", image_size=(256, 256),
                      color_mode="rgb", interpolation="bilinear",
                      crop_to_aspect_ratio=False, batch_size=256):
    """Read a folder of images as `keras.utils.image_dataset_from_directory`.

    With `labels="inferred"` every subfolder is a class (in alphanumeric
    order, as Keras orders them) and its images are that class's; with
    `labels=None` every image in the folder and its subfolders is read,
    unlabelled. Files are read in alphanumeric order of their paths, so
    the same folder always gives the same positions. Images are resized to
    `image_size` and scaled to [0, 1], as every keras_dbal loader gives
    them. TensorFlow decodes BMP and GIF files in colour only: in
    `"grayscale"`, a folder holding one is read in colour and converted
    (ITU-R BT.601 luma, as PIL converts to "L").

    The whole folder is read into memory. For more images than memory
    holds, give the learner a `tf.data.Dataset` instead.

    Args:
        directory: The folder.
        labels: `"inferred"` or None.
        image_size: `(height, width)` every image is resized to.
        color_mode: `"grayscale"`, `"rgb"` or `"rgba"`.
        interpolation: How images are resized (see Keras's function).
        crop_to_aspect_ratio: Crop instead of distorting the aspect ratio.
        batch_size: Images decoded at a time (memory only).

    Returns:
        An `ImageFolder`.

    Raises:
        DataError: the folder is missing, holds no image (of a class,
            with `labels="inferred"`), or a file that cannot be decoded
            (the message names it and says why).
    """
    if labels not in ("inferred", None):
        raise ValueError(
            "Invalid value received for argument `labels`. Expected "
            f"'inferred' or None. Received: labels={labels!r}"
        )
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise DataError(f"Image folder not found: {directory}")
    options = {
        "labels": labels, "image_size": tuple(image_size),
        "interpolation": interpolation,
        "crop_to_aspect_ratio": crop_to_aspect_ratio,
        "batch_size": batch_size,
    }
    try:
        return _load(directory, color_mode, **options)
    except _ColourOnly:
        folder = _load(directory, "rgb", **options)
        return dataclasses.replace(folder, images=folder.images @ _LUMA)


class _ColourOnly(Exception):
    """A file TensorFlow decodes in colour only (BMP, GIF)."""


def _load(directory, color_mode, *, labels, image_size, interpolation,
          crop_to_aspect_ratio, batch_size):
    import keras

    try:
        dataset = keras.utils.image_dataset_from_directory(
            directory, labels=labels, label_mode="int" if labels else None,
            color_mode=color_mode, batch_size=batch_size,
            image_size=image_size, shuffle=False,
            interpolation=interpolation,
            crop_to_aspect_ratio=crop_to_aspect_ratio, verbose=False,
        )
    except ValueError as error:  # Keras's "No images found ..." and kin
        raise DataError(f"Image folder {directory}: {error}") from None
    file_names = tuple(
        os.path.relpath(path, directory).replace(os.sep, "/")
        for path in dataset.file_paths
    )
    try:
        images, classes = _read(dataset, labels)
    except Exception:  # TensorFlow's decoding errors
        path, reason = _undecodable(
            dataset.file_paths, _CHANNELS[color_mode]
        )
        if color_mode == "grayscale" and path is not None and (
            _undecodable([path], 3)[0] is None
        ):
            raise _ColourOnly from None
        raise DataError(
            f"Image folder {directory}: cannot decode "
            f"{path or 'an image'} ({reason or 'unknown error'}). "
            "Remove or repair it (a macOS '._' file, say)."
        ) from None
    class_names = tuple(dataset.class_names or ())
    classes = np.concatenate(classes).astype("int64") if labels else None
    if classes is not None:
        empty = [name for index, name in enumerate(class_names)
                 if not (classes == index).any()]
        if empty:
            raise DataError(
                f"Image folder {directory}: the class folders {empty} hold "
                "no image."
            )
    # Resizing (bicubic, lanczos) may overshoot 0..255 a little.
    scaled = np.clip(np.concatenate(images) / 255.0, 0.0, 1.0)
    return ImageFolder(
        images=scaled.astype("float32"), labels=classes,
        file_names=file_names, class_names=class_names,
    )


def _read(dataset, labels):
    """The dataset's images (0..255) and classes, as lists of batches."""
    images, classes = [], []
    for batch in dataset.as_numpy_iterator():
        if labels:
            batch, batch_labels = batch
            classes.append(batch_labels)
        images.append(batch)
    return images, classes


def _undecodable(paths, channels):
    """`(path, reason)` of the first file TensorFlow cannot decode into
    `channels` channels, as Keras decodes it, or `(None, None)`."""
    import tensorflow as tf

    for path in paths:
        try:
            tf.image.decode_image(
                tf.io.read_file(path), channels=channels,
                expand_animations=False,
            )
        except Exception as error:  # the same errors, one file at a time
            text = getattr(error, "message", None) or str(error)
            # Without TensorFlow's "{{function_node ...}}" and "[Op:...]".
            text = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:.*$", "", text,
                          flags=re.DOTALL)
            return path, text.strip()
    return None, None
