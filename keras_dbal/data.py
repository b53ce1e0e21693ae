"""Datasets and pool bookkeeping.

Loaders return `((x_train, y_train), (x_test, y_test))` with images as
float32 `(N, height, width, channels)` in [0, 1] and integer labels.
"""

import hashlib
import os

import numpy as np

from keras_dbal import validation

__all__ = [
    "DATASETS",
    "Pool",
    "balanced_indices",
    "load_dataset",
    "load_digits",
    "load_npz",
]

DATASETS = ("digits", "mnist", "fashion_mnist")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


class DataError(ValueError):
    """A data file or data set that cannot be used, with the reason."""


def load_digits(test_size=360, seed=0):
    """The 8x8 digits embedded in scikit-learn (1,797 images, 10 classes).

    Needs no network. The split is stratified and seeded.

    Args:
        test_size: Number of images held out for testing.
        seed: Integer seed of the split.

    Returns:
        `((x_train, y_train), (x_test, y_test))`, images `(N, 8, 8, 1)`.
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    digits = sklearn_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        images,
        digits.target.astype("int64"),
        test_size=test_size,
        stratify=digits.target,
        random_state=seed,
    )
    return (x_train, y_train), (x_test, y_test)


def load_npz(path):
    """Images from an `.npz` file with the keys of Keras's `mnist.npz`.

    The file holds `x_train`, `y_train`, `x_test`, `y_test`; images are
    `(N, height, width)` or `(N, height, width, channels)`, integers in
    [0, 255] or floats in [0, 1].

    Raises:
        DataError: the file is missing, unreadable or malformed; the
            message says which.
    """
    path = os.fspath(path)

    def missing(keys, found):
        return (
            f"Data file {path} lacks the keys {keys}; expected "
            f"{list(NPZ_KEYS)} as in Keras's mnist.npz."
        )

    arrays = _read_npz(path, NPZ_KEYS, missing)
    splits = []
    for split in ("train", "test"):
        x = scale_images(arrays[f"x_{split}"], f"Data file {path}: x_{split}")
        y = arrays[f"y_{split}"]
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(
                f"Data file {path}: y_{split} has shape {y.shape}; expected "
                f"({len(x)},) to match x_{split}."
            )
        if not np.issubdtype(y.dtype, np.integer) or (y < 0).any():
            raise DataError(
                f"Data file {path}: y_{split} must hold non-negative integer "
                "class labels."
            )
        splits.append((x, y.astype("int64")))
    return tuple(splits)


def load_npz_array(path, key):
    """One array of an `.npz` file, as it is stored.

    Raises:
        DataError: the file is missing or unreadable, or has no `key`.
    """
    path = os.fspath(path)

    def missing(keys, found):
        return (
            f"{path} has no array {key!r}; it has {sorted(found)}. Choose "
            "one with --key."
        )

    return _read_npz(path, (key,), missing)[key]


def _read_npz(path, keys, missing_message):
    if not os.path.isfile(path):
        raise DataError(f"Data file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in keys if key not in archive.files]
            if missing:
                raise DataError(missing_message(missing, archive.files))
            return {key: archive[key] for key in keys}
    except DataError:
        raise
    except Exception as error:  # zipfile, pickle and OS errors alike
        raise DataError(
            f"Data file {path} is not a readable .npz archive ({error})."
        ) from None


def scale_images(x, source, max_value=None):
    """Images as float32 `(N, height, width, channels)` in [0, 1].

    Integer images are read as 8-bit (white = 255), float images as already
    in [0, 1], unless `max_value` says what white is. Values outside that
    range are refused rather than silently mis-scaled; so are integer
    images that never go above 31, which are almost surely on another
    scale (the 0..16 of scikit-learn's digits, say) and would come out
    nearly black.

    Args:
        x: `(N, height, width)` or `(N, height, width, channels)` images.
        source: What the images are, for error messages.
        max_value: The pixel value that means white, e.g. 16 or 4095; the
            images are divided by it.

    Raises:
        DataError: a shape or values that are not images on that scale.
    """
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or len(x) == 0:
        raise DataError(
            f"{source} has shape {x.shape}; expected "
            "(N, height, width) or (N, height, width, channels)."
        )
    is_integer = np.issubdtype(x.dtype, np.integer)
    if not is_integer and not (
        np.issubdtype(x.dtype, np.floating) and np.isfinite(x).all()
    ):
        raise DataError(f"{source} must hold finite numbers.")
    low, high = x.min(), x.max()
    found = f"found values in [{low:.4g}, {high:.4g}]"
    if max_value is not None:
        if not max_value > 0:
            raise DataError(
                f"Invalid value received for argument `max_value`. Expected "
                f"a positive number. Received: max_value={max_value!r}"
            )
        if low < 0 or high > max_value:
            raise DataError(
                f"{source}: {found}, outside [0, max_value={max_value}]."
            )
        if high < max_value / 8:
            raise DataError(
                f"{source}: {found}, which max_value={max_value} would turn "
                "nearly black. Is max_value the value that means white?"
            )
        return (x / max_value).astype("float32")
    if is_integer:
        if low < 0 or high > 255:
            raise DataError(
                f"{source}: integer images are read as 8-bit, in [0, 255]; "
                f"{found}. Say what white is with max_value (--max-value)."
            )
        if high < 32:
            raise DataError(
                f"{source}: integer images are read as 8-bit, in [0, 255], "
                f"but {found}, which would come out nearly black. Say what "
                f"white is with max_value (--max-value), e.g. {high}."
            )
        return (x / 255.0).astype("float32")
    if low < 0 or high > 1:
        raise DataError(
            f"{source}: float images must be in [0, 1]; {found}. Say what "
            "white is with max_value (--max-value)."
        )
    return x.astype("float32")


def load_dataset(name="digits", path=None, seed=0):
    """Load a data set by name, or from a local `.npz` file.

    Args:
        name: `"digits"` (embedded, offline), `"mnist"` or
            `"fashion_mnist"` (through `keras.datasets`, which downloads on
            first use).
        path: A local `.npz` file (see `load_npz`); when given, `name` only
            labels the results.
        seed: Seed of the digits train/test split.
    """
    if path is not None:
        return load_npz(path)
    if name == "digits":
        return load_digits(seed=seed)
    if name in ("mnist", "fashion_mnist"):
        import keras

        loader = getattr(keras.datasets, name)
        try:
            (x_train, y_train), (x_test, y_test) = loader.load_data()
        except Exception as error:  # network and cache failures alike
            raise DataError(
                f"Could not load {name} through keras.datasets ({error}). "
                "Offline, pass a local copy with --data FILE.npz."
            ) from None
        return (
            (scale_images(x_train, f"Data file {name}: x_train"),
             y_train.astype("int64")),
            (scale_images(x_test, f"Data file {name}: x_test"),
             y_test.astype("int64")),
        )
    raise DataError(
        f"Unknown dataset {name!r}; expected one of {list(DATASETS)}."
    )


def balanced_indices(y, per_class, seed=None):
    """Positions of `per_class` randomly chosen items of every class.

    Gal et al. (2017) start from 20 labelled MNIST images, 2 per class.

    Raises:
        ValueError: a class has fewer than `per_class` items.
    """
    per_class = validation.positive_int(per_class, "per_class")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        if len(members) < per_class:
            raise ValueError(
                f"Class {label} has {len(members)} items; cannot draw "
                f"per_class={per_class}."
            )
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen))


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

    Attributes:
        labels_: int64 `(N,)`, the label taught for each image, -1 if none.
    """

    def __init__(self, x, y=None):
        self.x = validation.images(x, "x")
        if y is not None:
            y = np.asarray(y)
            if y.shape != (len(self.x),):
                raise ValueError(
                    "Invalid value received for argument `y`. Expected shape "
                    f"({len(self.x)},). Received shape {y.shape}."
                )
        self.y = y
        self.labels_ = np.full(len(self.x), -1, dtype="int64")
        self._fingerprint = None

    def __len__(self):
        return len(self.x)

    @property
    def labelled_mask(self):
        """Boolean `(N,)`: which images are labelled."""
        return self.labels_ >= 0

    @property
    def labelled_indices(self):
        return np.flatnonzero(self.labelled_mask)

    @property
    def unlabelled_indices(self):
        return np.flatnonzero(~self.labelled_mask)

    def check_unlabelled(self, indices, name="indices"):
        """Validated positions of images that are not labelled yet."""
        indices = validation.indices(indices, name, len(self))
        already = indices[self.labelled_mask[indices]]
        if len(already):
            raise ValueError(
                f"Invalid value received for argument `{name}`: pool "
                f"positions {already[:10].tolist()} are already labelled."
            )
        return indices

    def mark_labelled(self, indices, labels):
        """Record labels; positions must be valid and not labelled yet."""
        indices = self.check_unlabelled(indices)
        self.labels_[indices] = labels

    def restore_labels(self, indices, labels):
        """Mark labels a learner recorded for this pool (idempotent).

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
        """The true labels of some images (simulated experiments only)."""
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
