"""`Pool`: the images to label, and which of them are labelled."""

import hashlib

import numpy as np

from keras_dbal.utils import validation

__all__ = ["Pool"]


class Pool:
    """Unlabelled images and the record of which of them are labelled.

    Give a `Pool` to `ActiveLearner.query` and it never proposes an image
    that is already labelled; give it to `ActiveLearner.teach` with the
    queried positions and it refuses to label one twice. Positions always
    refer to the original array.

    Args:
        x: Images `(N, ...)`.
        y: Optional true labels `(N,)`, the oracle of simulated experiments.
            They are never shown to the learner until `oracle` is asked.
        names: Optional name of each image (its file, say), shown to a
            person who labels it.

    Attributes:
        labels_: int64 `(N,)`, the label taught for each image, -1 if none.
        class_names: The classes' names when known (`from_directory`).
    """

    def __init__(self, x, y=None, *, names=None):
        self.x = validation.images(x, "x")
        if y is not None:
            y = np.asarray(y)
            if y.shape != (len(self.x),):
                raise ValueError(
                    "Invalid value received for argument `y`. Expected shape "
                    f"({len(self.x)},). Received shape {y.shape}."
                )
        if names is not None:
            names = tuple(str(name) for name in names)
            if len(names) != len(self.x):
                raise ValueError(
                    "Invalid value received for argument `names`. Expected "
                    f"{len(self.x)} names, one per image. Received "
                    f"{len(names)}."
                )
        self.y = y
        self.names = names
        self.class_names = None
        self.labels_ = np.full(len(self.x), -1, dtype="int64")
        self._fingerprint = None

    @classmethod
    def from_directory(cls, directory, *, labels="inferred", **kwargs):
        """A pool of the images in a folder, named by their files.

        Read by `keras_dbal.datasets.load_image_folder` (Keras's
        `image_dataset_from_directory` conventions): with
        `labels="inferred"` each subfolder is a class and becomes the
        oracle `y` (a simulated experiment, or a check of a person's
        labels); with `labels=None` the images are unlabelled. Positions
        follow the files' alphanumeric order, the same every time.

        Args:
            directory: The folder.
            labels: `"inferred"` or None.
            **kwargs: `image_size`, `color_mode`, ... of
                `load_image_folder`.
        """
        from keras_dbal.datasets.image_folders import load_image_folder

        folder = load_image_folder(directory, labels=labels, **kwargs)
        pool = cls(folder.images, folder.labels, names=folder.file_names)
        pool.class_names = folder.class_names or None
        return pool

    @classmethod
    def from_tfds(cls, name, split="train", **kwargs):
        """A pool of one TensorFlow Datasets split, its labels the oracle.

        Read whole by `keras_dbal.datasets.load_tfds`, in the split's own
        (fixed) order.

        Args:
            name: The data set's TFDS name, e.g. `"mnist"`.
            split: The split, with TFDS slicing (`"train[:2000]"`).
            **kwargs: `data_dir`, `download`, `image_key`, `label_key`,
                `max_value` of `load_tfds`.
        """
        from keras_dbal.datasets.tfds import load_tfds

        return cls(*load_tfds(name, split, **kwargs))

    def __len__(self):
        return len(self.x)

    @property
    def labelled_mask(self):
        """Boolean `(N,)`: which images are labelled."""
        return self.labels_ >= 0

    @property
    def labelled_indices(self):
        """Positions of the labelled images."""
        return np.flatnonzero(self.labelled_mask)

    @property
    def unlabelled_indices(self):
        """Positions of the images not labelled yet."""
        return np.flatnonzero(~self.labelled_mask)

    def check_unlabelled(self, indices, name="indices"):
        """Validated positions of images that are not labelled yet.

        Args:
            indices: Pool positions.
            name: The argument's name in error messages.

        Raises:
            ValueError: a position is out of range, repeated or labelled.
        """
        indices = validation.indices(indices, name, len(self))
        already = indices[self.labelled_mask[indices]]
        if len(already):
            raise ValueError(
                f"Invalid value received for argument `{name}`: pool "
                f"positions {already[:10].tolist()} are already labelled."
            )
        return indices

    def mark_labelled(self, indices, labels):
        """Record labels; positions must be valid and not labelled yet.

        Args:
            indices: Pool positions.
            labels: Their integer labels.
        """
        indices = self.check_unlabelled(indices)
        self.labels_[indices] = labels

    def restore_labels(self, indices, labels):
        """Mark labels a learner recorded for this pool (idempotent).

        Args:
            indices: Pool positions.
            labels: Their integer labels.

        Raises:
            ValueError: a position already carries a different label.
        """
        indices = np.asarray(indices, dtype="int64")
        labels = np.asarray(labels, dtype="int64")
        current = self.labels_[indices]
        clash = (current >= 0) & (current != labels)
        if clash.any():
            raise ValueError(
                f"Pool positions {indices[clash][:10].tolist()} carry labels "
                f"{current[clash][:10].tolist()} in this Pool but "
                f"{labels[clash][:10].tolist()} in the learner's record."
            )
        self.labels_[indices] = labels

    def oracle(self, indices):
        """The true labels of some images (simulated experiments only).

        Args:
            indices: Pool positions.
        """
        if self.y is None:
            raise ValueError(
                "This pool has no oracle labels: create it as Pool(x, y)."
            )
        return self.y[np.asarray(indices, dtype="int64")]

    def fingerprint(self):
        """SHA-256 of the images' bytes, shape and dtype.

        Computed once: the images of a pool must not change.
        """
        if self._fingerprint is None:
            digest = hashlib.sha256()
            digest.update(repr((self.x.shape, str(self.x.dtype))).encode())
            digest.update(np.ascontiguousarray(self.x).tobytes())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def identity(self):
        """`{"size", "fingerprint"}`: what a learner records of its pool."""
        return {"size": len(self), "fingerprint": self.fingerprint()}
