"""An epoch's batches at a few fixed sizes, for backends that trace per shape.

A JAX step is traced once per input shape. An epoch of N labels at batch
size B ends with a batch of `N % B` images, a new shape nearly every
round of an experiment, so every round would trace and compile the train
step again. Here the last batch is padded up to a multiple of a quarter
of B (at most four sizes for any N) with copies of one labelled image
weighted 0, and the real images are weighted so the batch's loss is the
mean over them alone, as unpadded:

    sum_i w_i * loss_i / padded_size = sum_real loss_i / real_size

for `w_i = padded_size / real_size` (Keras's default loss reduction,
"sum_over_batch_size", divides by the padded size). Dropout draws the
same masks for the real images either way: both backends draw a batch's
noise in row order, so the first rows of a padded batch get the first
rows' noise. A padded fit is the unpadded one up to float rounding
(tests/test_padded_fits.py).

Padding is refused (`weighting` returns None) where it would change the
fit: a layer whose training output depends on the other images of the
batch (batch normalization), or a loss whose reduction this module does
not know.
"""

import keras
import numpy as np

__all__ = ["padded_size", "plan", "weighting"]

# Reductions whose padded loss equals the unpadded one with weights of
# `weight(real, padded)` on the real rows and 0 on the padding.
_WEIGHTS = {
    "sum_over_batch_size": lambda real, padded: padded / real,
    "mean": lambda real, padded: padded / real,
    "sum": lambda real, padded: 1.0,
    "mean_with_sample_weight": lambda real, padded: 1.0,
}


def padded_size(size, batch_size):
    """`size` rounded up to a multiple of a quarter of `batch_size`
    (never above it): 20 of 128 -> 32, 70 -> 96, 128 -> 128.

    Args:
        size: The batch's number of images, 1 to `batch_size`.
        batch_size: The full batch's size.
    """
    quantum = -(-batch_size // 4)
    return min(batch_size, -(-size // quantum) * quantum)


def weighting(model):
    """`weight(real, padded)`, the weight of a real image in a padded
    batch of `model`'s fit, or None where padding would change the fit.

    Args:
        model: A compiled Keras model.
    """
    from keras_dbal.sampling.model_split import all_layers

    if any(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in all_layers(model)
    ):
        return None
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        return _WEIGHTS["sum_over_batch_size"]
    if isinstance(loss, keras.losses.Loss):
        return _WEIGHTS.get(loss.reduction)
    if callable(loss):  # Keras wraps a function with the default reduction
        return _WEIGHTS["sum_over_batch_size"]
    return None


def plan(order, batch_size, weight=None):
    """The batches of one epoch, in `order`: `[(positions, weights)]`.

    Every batch but the last holds `batch_size` positions. Without
    `weight`, the last holds the rest and `weights` is None throughout.
    With it, the last is padded to `padded_size` with position
    `order[0]` weighted 0, and every batch has weights (1 for a full
    batch).

    Args:
        order: `(N,)` positions of the labelled set, one epoch's order.
        batch_size: Images per step.
        weight: A `weighting` result, or None for no padding.
    """
    order = np.asarray(order, dtype="int32")
    batches = []
    for start in range(0, len(order), batch_size):
        positions = order[start:start + batch_size]
        if weight is None:
            batches.append((positions, None))
            continue
        real = len(positions)
        padded = real if real == batch_size else padded_size(real, batch_size)
        weights = np.zeros(padded, dtype="float32")
        weights[:real] = 1.0 if real == padded else weight(real, padded)
        positions = np.concatenate(
            [positions, np.full(padded - real, order[0], dtype="int32")]
        )
        batches.append((positions, weights))
    return batches
