"""An independent numpy rebuild of `keras_dbal.sampling.masks.keep_mask`
and of the words it cuts its masks from (`keyed_words`)."""

import keras
import numpy as np

from keras_dbal import backend

_MASK = np.uint64(2**32 - 1)


def _mix(x):
    """lowbias32 in uint64 arithmetic, reduced modulo 2**32."""
    x = x & _MASK
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & _MASK
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & _MASK
    x ^= x >> np.uint64(16)
    return x


def reference_words(seed_pair, positions, num_words, item_shape):
    """`(num_words, B) + item_shape` words as `keyed_words` documents
    them: mix(mix(mix(p + s0) ^ s1) ^ mix(c * G + s0)), modulo 2**32."""
    s0, s1 = (np.uint64(int(value) & 0xFFFFFFFF) for value in seed_pair)
    size = int(np.prod(item_shape, dtype="int64"))
    counters = np.arange(num_words * size, dtype="uint64")
    counters = counters.reshape((num_words, 1) + tuple(item_shape))
    place = _mix(counters * np.uint64(0x9E3779B9) + s0)
    keys = np.asarray(positions, dtype="uint64")
    item = _mix(_mix(keys + s0) ^ s1)
    item = item.reshape((1, len(keys)) + (1,) * len(item_shape))
    return _mix(item ^ place)


def reference_masks(seed_pair, layer_index, rate, bits, num_samples, shape,
                    positions=None):
    """keep_mask's documented layout, rebuilt in numpy from its words.

    Sample t reads the k-bit field t % P of word t // P, counting fields
    from the top bit; the unit is kept when the field is >= rate * 2**k.
    `shape` is `(B,) + item_shape`; `positions` the items' keys (None:
    0, ..., B - 1).
    """
    layer_seed = keras.ops.convert_to_numpy(
        backend.fold_in(np.array(seed_pair, "int32"), layer_index)
    )
    per_word = 32 // bits
    num_words = -(-num_samples // per_word)
    used = -(-num_samples // num_words)
    if positions is None:
        positions = np.arange(shape[0], dtype="int64")
    words = reference_words(layer_seed, positions, num_words, shape[1:])
    keep = []
    for sample in range(num_samples):
        word = words[sample // used]
        top = 32 - bits * (sample % used + 1)
        field = (word >> np.uint64(top)) & np.uint64(2**bits - 1)
        keep.append(field >= rate * 2**bits)
    return np.stack(keep)
