"""The loaders behind `keras_dbal.datasets` (see there)."""

import os

import numpy as np

__all__ = [
    "DATASETS",
    "DataError",
    "load_dataset",
    "load_digits",
    "load_npz",
    "load_npz_array",
    "scale_images",
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

    Args:
        path: The file.

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

    Args:
        path: The file.
        key: The array's name in it.

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
