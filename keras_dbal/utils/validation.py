"""Input checks shared by the public API: fail early, name the argument."""

import numbers

import numpy as np


def positive_int(value, name):
    """`value` as an int, or a `ValueError` naming `name`."""
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < 1
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a "
            f"positive integer. Received: {name}={value!r}"
        )
    return int(value)


def seed(value, name="seed"):
    """`value` if it is an integer seed or None, else a `ValueError`."""
    if value is not None and (
        not isinstance(value, numbers.Integral) or isinstance(value, bool)
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected an "
            f"integer or None. Received: {name}={value!r}"
        )
    return value


def images(x, name, item_shape=None):
    """A finite float array of images whose item shape matches the model."""
    try:
        array = np.asarray(x)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Invalid value received for argument `{name}`: it is not an "
            f"array ({error})."
        ) from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a "
            f"numeric array. Received dtype {array.dtype}."
        )
    if array.ndim < 2 or len(array) == 0:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a "
            f"non-empty batch of items. Received shape {array.shape}."
        )
    if item_shape is not None and not _shape_matches(
        array.shape[1:], item_shape
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected items "
            f"of shape {tuple(item_shape)}. Received shape {array.shape}."
        )
    if np.issubdtype(array.dtype, np.floating):
        bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
        if bad.any():
            raise ValueError(
                f"Invalid value received for argument `{name}`: items "
                f"{np.flatnonzero(bad)[:10].tolist()} contain NaN or inf."
            )
    return array


def labels(y, name, num_items, num_classes):
    """Integer class labels `(num_items,)` in `[0, num_classes)`.

    One-hot rows are accepted and turned into class indices.
    """
    try:
        array = np.asarray(y)
    except (TypeError, ValueError):
        array = np.asarray([], dtype=object)
    if array.ndim == 2 and array.shape[1] == num_classes and array.size:
        rows_are_one_hot = np.all((array == 0) | (array == 1)) and np.all(
            array.sum(axis=1) == 1
        )
        if not rows_are_one_hot:
            raise ValueError(
                f"Invalid value received for argument `{name}`. A 2D label "
                "array must hold one-hot rows."
            )
        array = array.argmax(axis=1)
    if array.ndim != 1 or not (
        np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected integer "
            f"class labels of shape ({num_items},). Received shape "
            f"{array.shape}, dtype {array.dtype}."
        )
    if len(array) != num_items:
        raise ValueError(
            f"Invalid value received for argument `{name}`: {len(array)} "
            f"labels for {num_items} items."
        )
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(
                f"Invalid value received for argument `{name}`. Expected "
                "integer class labels; received non-integer values."
            )
    outside = (array < 0) | (array >= num_classes)
    if outside.any():
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected labels "
            f"in [0, {num_classes}). Received: "
            f"{np.unique(array[outside])[:10].tolist()}"
        )
    return array.astype("int64")


def indices(values, name, size):
    """Distinct integer positions in `[0, size)`, as int64.

    `size=None` (a dataset pool, whose length is not known up front) only
    rules out negative positions.
    """
    array = np.asarray(values)
    if array.ndim != 1 or not (
        np.issubdtype(array.dtype, np.integer) or array.size == 0
    ):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a 1D "
            f"array of integer positions. Received shape {array.shape}, "
            f"dtype {array.dtype}."
        )
    array = array.astype("int64")
    outside = array < 0
    if size is not None:
        outside |= array >= size
    if outside.any():
        expected = "[0, inf)" if size is None else f"[0, {size})"
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected "
            f"positions in {expected}. Received: "
            f"{array[outside][:10].tolist()}"
        )
    values, counts = np.unique(array, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"Invalid value received for argument `{name}`: positions "
            f"{values[counts > 1][:10].tolist()} appear more than once."
        )
    return array


def _shape_matches(shape, expected):
    if len(shape) != len(expected):
        return False
    pairs = zip(shape, expected, strict=True)
    return all(e is None or s == e for s, e in pairs)
