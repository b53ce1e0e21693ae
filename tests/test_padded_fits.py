"""A last batch padded with zero-weighted rows trains as the unpadded one.

Under JAX compiled fits pad an epoch's last batch to one of a few sizes
(`keras_dbal.training.batches`), so a step is traced once per size, not
once per labelled count. The reference here is Keras's own
`train_on_batch` on the unpadded batches; the padded fit runs the same
calls on padded batches with the plan's weights, under either backend.
"""

import keras
import numpy as np
import pytest

import keras_dbal
from keras_dbal.training import batches
from keras_dbal.training.compiled_fit import CompiledFit
from keras_dbal.training.compiled_fit import epoch_orders
from tests.conftest import requires_backend

BATCH = 8


@pytest.mark.parametrize(("size", "batch_size", "padded"), [
    (1, 128, 32), (20, 128, 32), (32, 128, 32), (33, 128, 64),
    (70, 128, 96), (127, 128, 128), (128, 128, 128),
    (1, 8, 2), (3, 8, 4), (5, 8, 6), (7, 8, 8), (1, 1, 1), (2, 5, 2),
])
def test_padded_sizes_are_quarters_of_the_batch(size, batch_size, padded):
    assert batches.padded_size(size, batch_size) == padded


def test_layout_pads_the_last_batch_with_zero_weights():
    order = np.array([4, 0, 6, 1, 5, 2, 3, 8, 7, 9, 10])  # 11 = 8 + 3
    weight = batches.weighting(_cnn(11))
    (start, stop, ones), last = batches.layout(11, BATCH, weight)
    np.testing.assert_array_equal(
        batches.take(order, start, stop, ones), order[:8])
    np.testing.assert_array_equal(ones, np.ones(8))
    # 3 real rows padded to 4: each real row weighs 4 / 3, so the
    # padded batch's mean loss (divided by 4) is the mean of the three.
    np.testing.assert_array_equal(batches.take(order, *last), [7, 9, 10, 4])
    np.testing.assert_allclose(last[2], [4 / 3, 4 / 3, 4 / 3, 0])
    unpadded = batches.layout(11, BATCH)
    assert [(start, stop) for start, stop, _ in unpadded] == [(0, 8), (8, 11)]
    assert all(weights is None for _, _, weights in unpadded)
    assert len(batches.take(order, 8, 11, None)) == 3


def _cnn(num_labelled, loss="sparse_categorical_crossentropy"):
    keras.utils.set_random_seed(0)
    model = keras_dbal.gal_cnn(
        (8, 8, 1), seed=0, weight_decay=3.5, num_labelled=num_labelled
    )
    model.compile(optimizer="adam", loss=loss)
    return model


def _train(model, x, y, orders, weight):
    for order in orders:
        for start, stop, weights in batches.layout(len(x), BATCH, weight):
            positions = batches.take(order, start, stop, weights)
            model.train_on_batch(x[positions], y[positions],
                                 sample_weight=weights)


def _assert_close(model, reference):
    for ours, theirs in zip(model.trainable_variables,
                            reference.trainable_variables, strict=True):
        np.testing.assert_allclose(
            np.asarray(ours), np.asarray(theirs), rtol=0, atol=1e-5,
            err_msg=ours.path,
        )


@pytest.mark.parametrize("loss", [
    "sparse_categorical_crossentropy",
    keras.losses.SparseCategoricalCrossentropy(reduction="sum"),
])
def test_padded_batches_fit_the_unpadded_weights(digits, loss):
    # 21 labels: two full batches of 8 and a last one of 5, padded to 6;
    # dropout and the weight decay included.
    (x, y), _ = digits
    x, y = x[:21], y[:21]
    orders = epoch_orders(3, 21, epochs=3)
    padded, reference = _cnn(21, loss), _cnn(21, loss)
    _train(padded, x, y, orders, batches.weighting(padded))
    _train(reference, x, y, orders, None)
    _assert_close(padded, reference)
    # Not vacuous: the weights matter. Real rows weighted 1 in a padded
    # batch (its loss divided by 6, not 5) train other weights.
    wrong = _cnn(21, loss)
    _train(wrong, x, y, orders, lambda real, padded: 1.0)
    if not isinstance(loss, keras.losses.Loss):  # "sum" weighs 1 anyway
        assert not np.allclose(
            np.asarray(wrong.trainable_variables[-2]),
            np.asarray(reference.trainable_variables[-2]), atol=1e-5,
        )


@requires_backend("jax")
def test_jax_compiled_fit_pads_and_equals_keras_unpadded(digits):
    (x, y), _ = digits
    reference = _cnn(21)
    model = _cnn(21)
    orders = epoch_orders(5, 21, epochs=2)
    CompiledFit(model, BATCH)(x[:21], y[:21], orders)
    _train(reference, x[:21], y[:21], orders, None)
    _assert_close(model, reference)


def test_padding_is_refused_where_it_would_change_the_fit():
    normalized = keras.Sequential([
        keras.Input((4,)), keras.layers.BatchNormalization(),
        keras.layers.Dense(2, activation="softmax"),
    ])
    normalized.compile("adam", "sparse_categorical_crossentropy")
    assert batches.weighting(normalized) is None
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    dense.compile("adam", {"dense": "mse"})  # a structure: unknown
    assert batches.weighting(dense) is None
    dense.compile("adam", keras.losses.MeanSquaredError(reduction=None))
    assert batches.weighting(dense) is None
    dense.compile("adam", keras.losses.MeanSquaredError(reduction="sum"))
    assert batches.weighting(dense)(3, 4) == 1.0
    # A function may reduce over the batch itself; an ignored class
    # changes the divisor; an activity penalty sees the padding rows.
    dense.compile("adam", keras.losses.mean_squared_error)
    assert batches.weighting(dense) is None
    dense.compile("adam", keras.losses.SparseCategoricalCrossentropy(
        ignore_class=0))
    assert batches.weighting(dense) is None
    dense.compile("adam", "mse")
    assert batches.weighting(dense)(3, 4) == pytest.approx(4 / 3)
    penalized = keras.Sequential([
        keras.Input((4,)), keras.layers.Dense(2, activity_regularizer="l2"),
    ])
    penalized.compile("adam", "mse")
    assert batches.weighting(penalized) is None
