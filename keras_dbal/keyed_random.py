"""Random numbers keyed by a seed and an item's position.

A counter-based hash, not a generator: the words of an item are a function
of the seed, the item's key (its position in the pool) and the word's
place, so they do not depend on which items share its batch, how a pool
is cut into chunks, or on which worker it is scored. The sampler's dropout
masks (`keras_dbal.sampling.masks`) and random acquisition's scores
(`keras_dbal.acquisition.random`) are drawn this way.
"""

import numpy as np
from keras import ops

__all__ = ["keyed_uniform", "keyed_words"]

# The 32-bit odd constants of the mixing function (Wellons's lowbias32)
# and a golden-ratio increment that spreads consecutive counters.
_MIX_1, _MIX_2, _GOLDEN = 0x7FEB352D, 0x846CA68B, 0x9E3779B9


def keyed_words(shape, seed, positions=None):
    """Random uint32 words, each a hash of `seed`, a position and its
    place: `(W, 1, B, ...)` words for the B items at `positions`.

    Word `[w, 0, b, u...]` is `mix(mix(mix(p + s0) ^ s1) ^ mix(c * G +
    s0))`, where `p = positions[b]`, `(s0, s1)` is the seed pair as uint32,
    `c` the word's flat index within one item's words (`w` major), `G` the
    golden-ratio constant and `mix` Wellons's lowbias32 (`x ^= x >> 16;
    x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16`), all
    modulo 2**32. An item's words depend on its position, never on the
    other items of its batch.

    Args:
        shape: `(W, 1, B) + item_shape`; B is 1 for masks shared by every
            item (then `positions` is unused).
        seed: int32 seed pair `(2,)`.
        positions: int32 `(B,)` keys, or None for `0, ..., B - 1`.
    """
    shape = tuple(shape)
    seed = ops.cast(seed, "uint32")
    counters = np.arange(
        np.prod((shape[0],) + shape[3:], dtype="int64"), dtype="uint64"
    )
    counters = (counters * _GOLDEN % 2**32).astype("uint32")
    counters = ops.convert_to_tensor(
        counters.reshape((shape[0], 1, 1) + shape[3:])
    )
    place = _mix(counters + seed[0])
    if positions is None:
        positions = ops.arange(shape[2], dtype="int32")
    keys = ops.cast(positions, "uint32")
    item = _mix(_mix(keys + seed[0]) ^ seed[1])
    item = ops.reshape(item, (1, 1, shape[2]) + (1,) * len(shape[3:]))
    return _mix(ops.bitwise_xor(item, place))


def keyed_uniform(seed, positions):
    """One float32 in [0, 1) per position: the top 24 bits of its single
    word (`keyed_words`), divided by 2**24.

    Args:
        seed: int32 seed pair `(2,)`.
        positions: int32 `(N,)` keys.

    Returns:
        float32 `(N,)`.
    """
    num_items = ops.shape(positions)[0]
    words = ops.reshape(keyed_words((1, 1, num_items), seed, positions),
                        (num_items,))
    bits = ops.right_shift(words, ops.convert_to_tensor(np.uint32(8)))
    return ops.cast(bits, "float32") * (1.0 / (1 << 24))


def _mix(x):
    """Wellons's lowbias32 on uint32 tensors."""
    x = ops.bitwise_xor(x, ops.right_shift(x, _u32(16)))
    x = x * _u32(_MIX_1)
    x = ops.bitwise_xor(x, ops.right_shift(x, _u32(15)))
    x = x * _u32(_MIX_2)
    return ops.bitwise_xor(x, ops.right_shift(x, _u32(16)))


def _u32(value):
    return ops.convert_to_tensor(np.uint32(value))
