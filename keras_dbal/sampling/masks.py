"""Monte Carlo dropout masks inside the sampler's folded forward pass.

The sampler runs the T stochastic passes as one batch of T * B rows and
hands `MCDropout` its masks through a `MaskScope`. The masks of each layer
are drawn from a seed tensor, so a compiled function takes a new seed per
call without tracing again, and are cut from random 32-bit words with as
few bits per unit as the rate needs (`keep_mask`): drawing noise was the
largest cost of sampling when every unit took a uniform float.

Each image's words are a hash of the seed, the layer, the image's position
in the pool and the word's place (`keyed_words`): an image's masks depend
on `(seed, position)` alone, never on the chunk it falls in, the chunk
size or which images share its batch, so the same seed gives the same
scores however the pool is split.
"""

import itertools

import numpy as np
from keras import ops

from keras_dbal import backend
from keras_dbal.keyed_random import keyed_words

__all__ = [
    "concrete_noise_shape", "field_bits", "keep_mask", "masker",
]


def masker(seed, num_samples, batch, consistent=False, positions=None):
    """The function `MCDropout` calls inside a folded forward pass.

    The i-th MCDropout call of a pass draws its masks from
    `fold_in(seed, i)` with `keep_mask`, shaped (T, B, ...) for
    independent masks, keyed by each item's `positions` entry, and
    (T, 1, ...) for consistent ones, which broadcast over the B items of
    each sample. Inputs come folded, (T * B, ...), or, with
    `folded=False`, as (B, ...) features that the masks broadcast to the
    T samples.

    Args:
        seed: int32 seed pair `(2,)`.
        num_samples: T.
        batch: B.
        consistent: One mask per sample for all items.
        positions: int32 `(B,)` pool positions of the items, the keys of
            their masks; None for `0, ..., B - 1`.
    """
    if positions is None:
        positions = ops.arange(batch, dtype="int32")
    counter = itertools.count()

    def apply(layer, inputs, folded=True):
        layer_seed = backend.fold_in(seed, next(counter))
        shape = tuple(inputs.shape)
        item_shape = shape[1:]
        if folded:
            inputs = ops.reshape(inputs, (num_samples, batch) + item_shape)
        else:
            inputs = inputs[None]
        if layer.rate > 0:
            noise_shape = concrete_noise_shape(
                layer.noise_shape, (batch,) + item_shape
            )
            if consistent:
                noise_shape = (1,) + noise_shape[1:]
            # Masks shared by the batch (consistent, or a noise_shape that
            # fixes the batch axis) take key 0.
            declared = layer.noise_shape is not None and (
                layer.noise_shape[0] is not None
            )
            keys = None if consistent or declared else positions
            keep = keep_mask(
                layer.rate, num_samples, noise_shape, layer_seed, keys
            )
            scaled = inputs * ops.cast(1.0 / (1.0 - layer.rate), inputs.dtype)
            inputs = ops.where(keep, scaled, ops.zeros((), scaled.dtype))
        else:
            inputs = ops.broadcast_to(inputs, (num_samples, batch) + item_shape)
        return ops.reshape(inputs, (num_samples * batch,) + item_shape)

    return apply


def field_bits(rate):
    """Bits per unit that express a dropout rate exactly, at most 32.

    1 for 0.5, 2 for 0.25 or 0.75, 3 for 0.125 or 0.375, and so on; a rate
    that no 32-bit fraction expresses (0.1, say) gets 32 bits, which
    rounds it to the nearest multiple of 2**-32.
    """
    for bits in range(1, 32):
        if float(rate) * 2**bits == int(float(rate) * 2**bits):
            return bits
    return 32


def keep_mask(rate, num_samples, shape, seed, positions=None):
    """Dropout keep masks for T samples, cut from random 32-bit words.

    With k = `field_bits(rate)`, each word holds `32 // k` fields of k
    bits. Fields are dealt out evenly: `W = ceil(T / (32 // k))` words per
    unit and `P = ceil(T / W)` fields used in each. Sample t reads field
    `t % P` of word `t // P`, that is the top k bits of that word shifted
    left by `k * (t % P)`, and keeps the unit when those shifted bits,
    as an unsigned integer, are at least `round(rate * 2**32)`. The unit is
    dropped with probability exactly `rate` (to 2**-32 when k = 32), and
    different samples read disjoint bits, so their masks are independent.

    Args:
        rate: Dropout rate in (0, 1).
        num_samples: T.
        shape: Shape of the mask of one sample, `(B,) + item_shape`.
        seed: int32 seed pair `(2,)` of the words.
        positions: int32 `(B,)` keys of the items' words (`keyed_words`),
            or None for `0, ..., B - 1`.

    Returns:
        Boolean tensor `(T,) + shape`, True where a unit is kept.
    """
    bits = field_bits(rate)
    words_per_unit = -(-num_samples // (32 // bits))
    fields_per_word = -(-num_samples // words_per_unit)
    words = keyed_words((words_per_unit, 1) + tuple(shape), seed, positions)
    shifts = np.arange(fields_per_word, dtype="uint32") * bits
    shifts = shifts.reshape((1, fields_per_word) + (1,) * len(shape))
    fields = ops.left_shift(words, ops.convert_to_tensor(shifts))
    fields = ops.reshape(
        fields, (words_per_unit * fields_per_word,) + tuple(shape)
    )
    if words_per_unit * fields_per_word > num_samples:
        fields = fields[:num_samples]
    threshold = min(round(float(rate) * 2**32), 2**32 - 1)
    return ops.greater_equal(
        fields, ops.convert_to_tensor(np.uint32(threshold))
    )


def concrete_noise_shape(noise_shape, shape):
    """A layer's `noise_shape` with its `None` entries taken from `shape`."""
    if noise_shape is None:
        return shape
    return tuple(
        size if declared is None else declared
        for declared, size in zip(noise_shape, shape, strict=True)
    )
