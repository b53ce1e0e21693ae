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


def images(x, name, item_shape=None, value_range=None):
    """A finite numeric array of images whose item shape matches the model
    (see `batch_shape`) and whose values lie in `value_range` (see
    `within`)."""
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
    batch_shape(array.shape, name, item_shape)
    if np.issubdtype(array.dtype, np.floating):
        bad = ~np.isfinite(array.reshape(len(array), -1)).all(axis=1)
        if bad.any():
            raise ValueError(
                f"Invalid value received for argument `{name}`: items "
                f"{np.flatnonzero(bad)[:10].tolist()} contain NaN or inf."
            )
    within(array, name, value_range)
    return array


def batch_shape(shape, name, item_shape):
    """Refuse a batch whose items are not of the model's `item_shape`.

    Every entry point of the API (arrays, `Pool`s, datasets, each chunk
    the sampler reads) raises this one message, before the model sees
    the batch: a wrong shape found inside a compiled function surfaces as
    the backend's traceback, with shapes the user never passed.

    Args:
        shape: The batch's shape `(N, ...)`; None entries are unknown.
        name: The argument's name in the message.
        item_shape: The shape of one item, None entries for free
            dimensions; None accepts any shape.
    """
    shape = tuple(shape)
    if item_shape is None or _shape_matches(shape[1:], item_shape):
        return shape
    # One image without its batch axis: the commonest slip.
    one = item_shape is not None and _shape_matches(shape, item_shape)
    raise ValueError(
        f"Invalid value received for argument `{name}`. Expected items "
        f"of shape {tuple(item_shape)}. Received shape {shape}"
        + (
            f": one image; pass a batch of one, {name}[None]."
            if one else "."
        )
    )


def dataset(data, name, item_shape):
    """Refuse a `tf.data.Dataset` whose elements cannot be images of
    `item_shape`, from its `element_spec`, before it is read.

    Elements are images or `(images, labels)` pairs, batched or not (see
    `keras_dbal.sampling.chunks.iter_chunks`). Dimensions the spec leaves
    unknown are checked chunk by chunk as the pool is read.
    """
    spec = data.element_spec
    if isinstance(spec, (tuple, list)) and spec:
        spec = spec[0]
    if isinstance(spec, dict):
        raise ValueError(
            f"Invalid value received for argument `{name}`. A dataset pool "
            "must yield images or (images, labels) pairs, not dicts."
        )
    shape = getattr(spec, "shape", None)
    if item_shape is None or shape is None or shape.rank is None:
        return data
    shape = tuple(shape)
    # An unbatched element is one item: give it a batch axis of unknown
    # size, so both forms read as a batch in the message.
    batch = (None,) + shape if len(shape) == len(item_shape) else shape
    if len(batch) == len(item_shape) + 1 and all(
        size is None or expected is None or size == expected
        for size, expected in zip(batch[1:], item_shape, strict=True)
    ):
        return data
    raise ValueError(
        f"Invalid value received for argument `{name}`. Expected items "
        f"of shape {tuple(item_shape)}. Received shape {batch} (the "
        "dataset's elements)."
    )


def input_range(value, name="input_range"):
    """`(low, high)` as floats with low < high, or None."""
    if value is None:
        return None
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError  # iterable, but not two numbers
        low, high = (float(bound) for bound in value)
    except (TypeError, ValueError):
        low = high = float("nan")
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected "
            "(low, high) with low < high, or None. Received: "
            f"{name}={value!r}"
        )
    return (low, high)


def within(array, name, value_range):
    """Refuse images with values outside `value_range` (None: any).

    The classic silent mistake is 8-bit images (0..255) given to a model
    trained on [0, 1]: nothing fails, the model just learns nothing, so
    the message says how to scale, and how to turn the check off for a
    model that takes other values.
    """
    if value_range is None or array.size == 0:
        return array
    low, high = value_range
    found_low, found_high = float(array.min()), float(array.max())
    if found_low >= low and found_high <= high:
        return array
    raise ValueError(
        f"Invalid value received for argument `{name}`. Expected image "
        f"values in [{low:g}, {high:g}]. Received values in "
        f"[{found_low:g}, {found_high:g}]. Scale the images first (8-bit "
        "images: x / 255, as keras_dbal.datasets does), or, for a model "
        "that takes other values (one that normalises its own inputs), "
        "give its range as `input_range`, or input_range=None to check "
        "nothing."
    )


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
