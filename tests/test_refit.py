import keras
import numpy as np

from keras_dbal import gal_cnn
from keras_dbal.training.refit import prepare_fit
from keras_dbal.training.refit import sync_weight_decay
from keras_dbal.training.refit import variable_values


def compiled_cnn(weight_decay=3.5):
    model = gal_cnn((8, 8, 1), 3, weight_decay=weight_decay, seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    return model


def decay_strengths(model):
    return [
        layer.kernel_regularizer.strength
        for layer in model.layers
        if getattr(layer, "kernel_regularizer", None) is not None
    ]


def assert_state(model, weights, optimizer_state):
    for value, expected in zip(model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(value, expected)
    for value, expected in zip(
        variable_values(model.optimizer.variables), optimizer_state,
        strict=True,
    ):
        np.testing.assert_array_equal(value, expected)


def test_weight_decay_follows_the_labelled_count():
    model = compiled_cnn(weight_decay=3.5)
    assert not sync_weight_decay(model, 20)  # gal_cnn starts at N = 20
    assert sync_weight_decay(model, 30)
    assert decay_strengths(model) == [3.5 / 30]
    assert not sync_weight_decay(model, 30)
    # An empty labelled set counts as one label, never a division by 0.
    assert sync_weight_decay(model, 0)
    assert decay_strengths(model) == [3.5]
    assert not sync_weight_decay(compiled_cnn(weight_decay=None), 20)


def test_from_scratch_returns_to_the_initial_state(rng):
    model = compiled_cnn()
    weights = model.get_weights()
    optimizer_state = variable_values(model.optimizer.variables)
    x = rng.random((16, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 16)
    model.fit(x, y, epochs=2, verbose=0)
    assert not np.allclose(model.get_weights()[0], weights[0])
    prepare_fit(model, 16, initial_weights=weights,
                initial_optimizer_state=optimizer_state)
    assert_state(model, weights, optimizer_state)
    assert decay_strengths(model) == [3.5 / 16]


def test_warm_start_keeps_weights_and_optimizer_state(rng):
    model = compiled_cnn()
    x = rng.random((16, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 16)
    model.fit(x, y, epochs=1, verbose=0)
    weights = model.get_weights()
    optimizer_state = variable_values(model.optimizer.variables)
    # The decay changes, so the model is compiled again: the optimizer
    # state must survive that.
    prepare_fit(model, 26)
    assert decay_strengths(model) == [3.5 / 26]
    assert_state(model, weights, optimizer_state)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) > 0
