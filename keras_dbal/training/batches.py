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
fit: a layer whose training output or penalty depends on the other images
of the batch (batch normalization, an activity regularizer), a loss that
is not one of Keras's own per-image losses with a known reduction, or
dropout noise not drawn in row order. A custom `add_loss` term computed
from the batch is not detected: fit such a model with the `sequential`
strategy (`model.fit`). The compiled metrics count the padding rows
(unweighted metrics ignore sample weights); the fit's weights do not.
"""

import keras
import numpy as np

__all__ = ["layout", "padded_size", "take", "weighting"]

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

    if not _masks_come_in_row_order():
        return None
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization) or (
            getattr(layer, "activity_regularizer", None) is not None
        ):  # both see the whole batch, padding included
            return None
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):  # one of Keras's, per image
        return _WEIGHTS["sum_over_batch_size"]
    if (
        isinstance(loss, keras.losses.Loss)
        and type(loss).__module__.startswith("keras.")
        and getattr(loss, "ignore_class", None) is None
    ):
        return _WEIGHTS.get(loss.reduction)
    # A function or a loss of one's own may reduce over the batch itself;
    # a loss that ignores a class divides by the rows it keeps.
    return None


def _masks_come_in_row_order():
    """Whether the backend draws a batch's dropout noise so that its
    first rows get the same noise in a larger batch: both do (TensorFlow's
    Philox, JAX's partitionable threefry, its default since 0.5)."""
    if keras.backend.backend() != "jax":
        return True
    import jax

    return bool(
        jax.config.jax_threefry_partitionable
        and jax.config.jax_default_prng_impl == "threefry2x32"
    )


def layout(num_items, batch_size, weight=None):
    """Every epoch's batches of `num_items` labels: `[(start, stop,
    weights)]`, the same for every epoch (only the order changes), so a
    fit computes it once.

    Every batch but the last holds `batch_size` positions of the order.
    Without `weight`, the last holds the rest and `weights` is None
    throughout. With it, the last is padded to `padded_size` (see
    `take`), and every batch has weights: 1 for a full batch, the
    `weight` of a real image and 0 for padding in the last.

    Args:
        num_items: The labelled set's size.
        batch_size: Images per step.
        weight: A `weighting` result, or None for no padding.
    """
    batches = []
    for start in range(0, num_items, batch_size):
        stop = min(start + batch_size, num_items)
        weights = None
        if weight is not None:
            real = stop - start
            padded = (real if real == batch_size
                      else padded_size(real, batch_size))
            weights = np.zeros(padded, dtype="float32")
            weights[:real] = 1.0 if real == padded else weight(real, padded)
        batches.append((start, stop, weights))
    return batches


def take(order, start, stop, weights):
    """One batch's positions of an epoch's `order`: `order[start:stop]`,
    padded to `len(weights)` with `order[0]` (weighted 0).

    Args:
        order: `(N,)` positions of the labelled set, one epoch's order.
        start, stop, weights: One entry of `layout`.
    """
    positions = order[start:stop]
    if weights is None or len(weights) == len(positions):
        return positions
    return np.concatenate([
        positions,
        np.full(len(weights) - len(positions), order[0], positions.dtype),
    ])
