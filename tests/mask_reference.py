"""An independent numpy rebuild of `keras_dbal.sampling.masks.keep_mask`."""

import keras
import numpy as np

from keras_dbal import backend


def reference_masks(seed_pair, layer_index, rate, bits, num_samples, shape):
    """keep_mask's documented layout, rebuilt in numpy from its raw words.

    Sample t reads the k-bit field t % P of word t // P, counting fields
    from the top bit; the unit is kept when the field is >= rate * 2**k.
    """
    layer_seed = backend.fold_in(np.array(seed_pair, "int32"), layer_index)
    per_word = 32 // bits
    num_words = -(-num_samples // per_word)
    used = -(-num_samples // num_words)
    words = keras.ops.convert_to_numpy(
        backend.stateless_bits((num_words, 1) + shape, layer_seed)
    )[:, 0].astype("uint64")
    keep = []
    for sample in range(num_samples):
        word = words[sample // used]
        top = 32 - bits * (sample % used + 1)
        field = (word >> np.uint64(top)) & np.uint64(2**bits - 1)
        keep.append(field >= rate * 2**bits)
    return np.stack(keep)
