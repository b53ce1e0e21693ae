"""The labelled set's bookkeeping: which pool position each label is for.

A learner records the identity of the `Pool` it was taught from and, for
every label, its position there (-1 for an image taught directly). That
record is the truth: a `Pool` of the same images is brought in line with
it before it is queried or taught, so no labelled position is offered or
accepted twice.
"""

import numpy as np

from keras_dbal.active.pool import Pool
from keras_dbal.utils import validation

__all__ = ["empty", "extend", "incoming", "sync_pool"]


def empty(item_shape):
    """`(images, labels, positions)` of a learner taught nothing yet."""
    return (
        np.empty((0,) + tuple(item_shape), dtype="float32"),
        np.empty(0, dtype="int64"),
        np.empty(0, dtype="int64"),
    )


def extend(taught, new):
    """`taught` `(images, labels, positions)` with `new` appended."""
    images, labels, positions = taught
    return (
        np.concatenate([images, new[0].astype(images.dtype)]),
        np.concatenate([labels, new[1]]),
        np.concatenate([positions, new[2]]),
    )


def incoming(x, y, indices, *, item_shape, num_classes, record):
    """Validate what `teach` was given.

    Args:
        x: Images, or a `Pool` with `indices`.
        y: Labels.
        indices: Pool positions, with a `Pool` only.
        item_shape, num_classes: The learner's model's.
        record: The learner's pool identity, or None.

    Returns:
        `(images, labels, positions, pool)`: positions -1 and pool None for
        images given directly.
    """
    if not isinstance(x, Pool):
        if indices is not None:
            raise ValueError(
                "`indices` is only meaningful when `x` is a Pool."
            )
        images = validation.images(x, "x", item_shape)
        labels = validation.labels(y, "y", len(images), num_classes)
        return images, labels, np.full(len(labels), -1), None
    if indices is None:
        raise ValueError(
            "Teaching from a Pool needs `indices`: the pool positions that "
            "`y` labels."
        )
    pool = x
    if record is not None and pool.identity() != record:
        raise ValueError(
            "Invalid value received for argument `x`: this learner was "
            "taught from another Pool; positions of two pools cannot be "
            "told apart."
        )
    indices = pool.check_unlabelled(indices)
    images = pool.x[indices]
    labels = validation.labels(y, "y", len(images), num_classes)
    return images, labels, indices, pool


def sync_pool(pool, record, pool_indices, labels):
    """Mark in `pool` every position the record has labels for.

    Nothing happens if `pool` is not the pool of `record` (an identity as
    `Pool.identity()`, or None).

    Raises:
        ValueError: the pool already carries another label somewhere.
    """
    if record is None or pool.identity() != record:
        return
    from_pool = pool_indices >= 0
    pool.restore_labels(pool_indices[from_pool], labels[from_pool])
