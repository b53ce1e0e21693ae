"""Streaming a pool in chunks of images.

A pool is a numpy array, a tensor, or a `tf.data.Dataset` of images (or of
`(images, labels)` pairs, batched or not). The sampler reads it through
`iter_chunks`, so memory depends on the chunk size, not on the pool.
"""

import numpy as np
from keras import ops

from keras_dbal.utils import validation

__all__ = [
    "check_pool",
    "chunk_size_for",
    "padded_chunk",
    "unpadded",
    "array_positions",
    "automatic_chunk_size",
    "iter_chunks",
    "pool_length",
]

# Rows of the folded (T * chunk) batch that the automatic chunk size aims at:
# large enough to keep a CPU's or GPU's matmul units busy, small enough that
# a chunk's activations stay well inside memory.
FOLDED_ROWS = 8192
# ... and fewer when a chunk's largest layer output, with its input, would
# pass this (large images, a model whose convolutions run T-fold): 8192
# rows of 224x224 feature maps would not fit any machine.
ACTIVATION_BYTES = 1 << 30


def automatic_chunk_size(samples_per_item, bytes_per_item=None):
    """Pool items per compiled call: `FOLDED_ROWS // samples_per_item`
    (T, or K x T for an ensemble of K, see
    `FoldedForward.samples_per_item`), fewer when `bytes_per_item` (the
    largest layer output and its input for one item, see
    `FoldedForward.bytes_per_item`) times the chunk would pass
    `ACTIVATION_BYTES`; at least 1."""
    chunk_size = FOLDED_ROWS // samples_per_item
    if bytes_per_item:
        chunk_size = min(chunk_size, ACTIVATION_BYTES // bytes_per_item)
    return max(1, chunk_size)


def iter_chunks(pool, chunk_size, indices=None, item_ndim=None, exclude=None):
    """Yield `(positions, images)` numpy chunks of at most `chunk_size` items.

    Args:
        pool: numpy array or tensor `(N, ...)`, or a `tf.data.Dataset` of
            images, of `(images, labels)` pairs, batched or not.
        chunk_size: Maximum number of items per chunk.
        indices: Optional positions in the pool to visit, in the order
            they should come; `None` for all of them.
        item_ndim: Rank of one image (3 for `(28, 28, 1)`); tells a batched
            dataset from an unbatched one. `None` treats its elements as
            batches.
        exclude: Optional positions to skip.

    Yields:
        `positions`, int64 `(b,)`, and the images at those positions.
    """
    if hasattr(pool, "as_numpy_iterator"):
        yield from _iter_dataset(
            pool, chunk_size, indices, item_ndim, exclude
        )
        return
    images = pool if isinstance(pool, np.ndarray) else ops.convert_to_numpy(
        pool
    )
    indices = array_positions(len(images), indices, exclude)
    if indices is None:
        for start in range(0, len(images), chunk_size):
            stop = min(start + chunk_size, len(images))
            yield np.arange(start, stop), images[start:stop]
        return
    for start in range(0, len(indices), chunk_size):
        positions = indices[start:start + chunk_size]
        yield positions, images[positions]


def array_positions(length, indices=None, exclude=None):
    """The positions of an array pool of `length` images to visit.

    `indices` (all positions when None) less `exclude`, as int64; None
    when both are None, meaning every position in order.
    """
    if indices is None and exclude is None:
        return None
    visit = np.arange(length) if indices is None else np.asarray(
        indices, dtype="int64"
    )
    if exclude is not None:
        visit = visit[~np.isin(visit, exclude)]
    return visit


def _iter_dataset(dataset, chunk_size, indices, item_ndim, exclude):
    wanted = None if indices is None else np.unique(indices)
    skipped = None if exclude is None else np.unique(exclude)
    buffer, buffer_positions, seen, buffered = [], [], 0, 0
    for element in dataset.as_numpy_iterator():
        if isinstance(element, (tuple, list)):
            element = element[0]
        if isinstance(element, dict):
            raise ValueError(
                "A dataset pool must yield images or (images, labels) "
                "pairs, not dicts."
            )
        element = np.asarray(element)
        if item_ndim is not None and element.ndim == item_ndim:
            element = element[None]
        positions = np.arange(seen, seen + len(element))
        seen += len(element)
        keep = np.ones(len(positions), dtype=bool)
        if wanted is not None:
            keep &= np.isin(positions, wanted)
        if skipped is not None:
            keep &= ~np.isin(positions, skipped)
        if not keep.all():
            element, positions = element[keep], positions[keep]
        buffer.append(element)
        buffer_positions.append(positions)
        buffered += len(element)
        while buffered >= chunk_size:
            images = np.concatenate(buffer)
            positions = np.concatenate(buffer_positions)
            yield positions[:chunk_size], images[:chunk_size]
            buffer = [images[chunk_size:]]
            buffer_positions = [positions[chunk_size:]]
            buffered -= chunk_size
    if buffered:
        yield np.concatenate(buffer_positions), np.concatenate(buffer)
    for name, given in (("indices", wanted), ("exclude", skipped)):
        if given is not None and len(given) and given[-1] >= seen:
            raise ValueError(
                f"Invalid value received for argument `{name}`: positions "
                f"{given[given >= seen][:10].tolist()} are past the end of "
                f"the dataset pool, which holds {seen} images."
            )


def pool_length(pool):
    """Number of images in an array pool; None for a dataset."""
    if hasattr(pool, "as_numpy_iterator"):
        return None  # a dataset's cardinality counts batches, not images
    return len(pool)


def check_pool(pool, item_shape):
    """Refuse a pool whose images cannot be of `item_shape`, before any is
    read: a dataset by its `element_spec`, anything else by its shape."""
    if hasattr(pool, "as_numpy_iterator"):
        validation.dataset(pool, "pool", item_shape)
    else:
        validation.batch_shape(np.shape(pool), "pool", item_shape)


def chunk_size_for(total, chunk_size):
    """Items per compiled call for a pool of `total` items (None: not
    known before it is read), at most `chunk_size`."""
    if total is None or total >= chunk_size:
        return chunk_size
    # A pool smaller than one chunk is padded to the next power of two,
    # not to the whole chunk (8192 images for T = 1), so a pool that
    # shrinks round by round is traced again only a few times.
    return min(chunk_size, 1 << max(total - 1, 0).bit_length())


def padded_chunk(images, positions, chunk_size, dtype, item_shape,
                 value_range):
    """One chunk's images checked (shape, finite values, range), cast to
    `dtype` and padded with zeros to `chunk_size` rows, one traced shape
    for every chunk. A dataset's unknown dimensions and values are known
    only here."""
    count = len(positions)
    validation.batch_shape(images.shape, "pool", item_shape)
    images = np.asarray(images, dtype=dtype)
    finite = np.isfinite(images.reshape(count, -1)).all(axis=1)
    if not finite.all():
        raise ValueError(
            "Invalid value received for argument `pool`: images at "
            f"positions {positions[~finite][:10].tolist()} contain NaN or "
            "inf."
        )
    validation.within(images, "pool", value_range)
    if count < chunk_size:
        padding = np.zeros((chunk_size - count,) + images.shape[1:], dtype)
        images = np.concatenate([images, padding])
    return images


def unpadded(result, count, pool_axis):
    """A chunk's result without the rows of its padding."""
    return result[:, :count] if pool_axis == 1 else result[:count]
