"""A pool run through a compiled per-chunk function, one chunk in flight.

The sampler's every method is one scan: the pool cut into chunks of one
size (the last padded, so the function is traced once), each chunk's
images, seed and mask keys (the images' pool positions: see
`keras_dbal.sampling.masks`) handed to the compiled function, and the
next chunk dispatched before the last result is fetched, so that an
asynchronous backend (JAX, a GPU) overlaps the host's slicing and copying
with the device's work.
"""

import keras
import numpy as np
from keras import ops

from keras_dbal.sampling.chunks import array_positions
from keras_dbal.sampling.chunks import chunk_size_for
from keras_dbal.sampling.chunks import iter_chunks
from keras_dbal.sampling.chunks import padded_chunk
from keras_dbal.sampling.chunks import pool_length
from keras_dbal.sampling.chunks import unpadded
from keras_dbal.utils import interrupts

__all__ = ["scan"]


def scan(function, pool, *, seed, chunk_size, indices, exclude, item_shape,
         input_range, dtype, pool_axis, verbose, keys=None):
    """Yield `(positions, result)` per chunk, `result` trimmed to the
    chunk's images along `pool_axis`.

    Args:
        function: Compiled `(images, seed, keys) -> result`.
        pool: Images (see `keras_dbal.sampling.chunks.iter_chunks`).
        seed: Integer seed; every chunk gets the pair `[seed, 0]`.
        chunk_size: Images per call, or None for the automatic size.
        indices, exclude: Positions to scan, and to skip.
        item_shape: The shape of one image the model takes.
        input_range: `(low, high)` every image must lie in, or None.
        dtype: The model's input dtype.
        pool_axis: The axis of `result` along the chunk's images.
        verbose: 1 shows a progress bar.
        keys: Optional int `(len(pool),)`: the position each item's masks
            are keyed by (default: its position in `pool`).
    """
    length = pool_length(pool)
    if length is not None:
        # An array's length is known: resolve `exclude` once, up front,
        # so the progress bar knows its total.
        indices = array_positions(length, indices, exclude)
        exclude = None
    total = len(indices) if indices is not None else length
    chunk_size = chunk_size_for(total, chunk_size)
    progress = (
        keras.utils.Progbar(total, unit_name="image") if verbose else None
    )
    item_ndim = None if item_shape is None else len(item_shape)
    pending = None
    chunk_seed = np.array([seed, 0], dtype="int32")
    for positions, images in iter_chunks(
        pool, chunk_size, indices, item_ndim, exclude
    ):
        interrupts.check()  # a long scan stops between chunks
        images = padded_chunk(
            images, positions, chunk_size, dtype, item_shape, input_range,
        )
        # Masks are keyed by (seed, pool position), never by the chunk.
        chunk_keys = np.zeros(len(images), dtype="int32")
        chunk_keys[:len(positions)] = (
            positions if keys is None else keys[positions]
        )
        result = function(images, chunk_seed, chunk_keys)
        if pending is not None:
            yield _fetch(pending, pool_axis, progress)
        pending = (positions, result)
    if pending is not None:
        yield _fetch(pending, pool_axis, progress)


def _fetch(pending, pool_axis, progress):
    positions, result = pending
    result = unpadded(ops.convert_to_numpy(result), len(positions), pool_axis)
    if progress is not None:
        progress.add(len(positions))
    return positions, result
