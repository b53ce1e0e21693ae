import keras
import numpy as np
import pytest

from keras_dbal import backend
from keras_dbal.layers import MCDropout
from keras_dbal.layers.mask_scope import MaskScope
from tests.conftest import requires_backend
from tests.layer_testing import run_layer_test

UNITS = 200_000


def test_layer_contract():
    run_layer_test(
        MCDropout,
        {"rate": 0.5, "noise_shape": (2, 1), "seed": 7},
        input_shape=(2, 3),
        expected_output_shape=(2, 3),
        expected_num_seed_generators=1,
    )


def test_stochastic_at_inference():
    model = keras.Sequential([keras.Input((64,)), MCDropout(0.5)])
    x = np.ones((4, 64), "float32")
    first = model.predict(x, verbose=0)
    second = model.predict(x, verbose=0)
    assert not np.array_equal(first, second)
    assert not np.array_equal(
        model(x, training=False), model(x, training=False)
    )


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropped_fraction_and_expectation(rate):
    outputs = keras.ops.convert_to_numpy(
        MCDropout(rate, seed=3)(np.ones((1, UNITS), "float32"))
    )
    dropped = np.mean(outputs == 0)
    # Binomial(UNITS, rate): 6 standard deviations is a 1e-9 false alarm.
    bound = 6 * np.sqrt(rate * (1 - rate) / UNITS)
    assert abs(dropped - rate) < bound
    # Kept units are 1 / (1 - rate), so the mean of the output is 1 with
    # standard deviation sqrt(rate / ((1 - rate) * UNITS)).
    assert abs(outputs.mean() - 1.0) < 6 * np.sqrt(rate / ((1 - rate) * UNITS))
    np.testing.assert_allclose(outputs.max(), 1 / (1 - rate), rtol=1e-6)


def test_rate_zero_is_identity():
    x = np.random.default_rng(0).random((3, 5)).astype("float32")
    np.testing.assert_array_equal(MCDropout(0.0)(x), x)


def test_same_seed_same_masks():
    x = np.ones((8, 32), "float32")
    first = MCDropout(0.5, seed=11)
    second = MCDropout(0.5, seed=11)
    np.testing.assert_array_equal(first(x), second(x))
    np.testing.assert_array_equal(first(x), second(x))
    assert not np.array_equal(first(x), MCDropout(0.5, seed=12)(x))


def test_noise_shape_broadcasts():
    outputs = keras.ops.convert_to_numpy(
        MCDropout(0.5, noise_shape=(None, 1), seed=0)(
            np.ones((64, 10), "float32")
        )
    )
    # One draw per row: every row is all zeros or all twos.
    assert np.all(outputs.min(axis=1) == outputs.max(axis=1))


def test_keras_round_trip_keeps_behaviour(tmp_path):
    inputs = keras.Input((16,))
    outputs = keras.layers.Dense(4)(MCDropout(0.5, seed=5)(inputs))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[1], MCDropout)
    assert loaded.layers[1].get_config() == model.layers[1].get_config()
    x = np.ones((2, 16), "float32")
    assert not np.array_equal(
        loaded.predict(x, verbose=0), loaded.predict(x, verbose=0)
    )
    weights = zip(model.get_weights(), loaded.get_weights(), strict=True)
    for original, revived in weights:
        np.testing.assert_array_equal(original, revived)


def test_works_in_subclassed_model():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dropout = MCDropout(0.5)

        def call(self, x):
            return self.dropout(x)

    net = Net()
    x = np.ones((4, 100), "float32")
    assert not np.array_equal(net(x), net(x))


@requires_backend("tensorflow")
def test_works_inside_tf_function():
    import tensorflow as tf

    layer = MCDropout(0.5, seed=1)
    function = tf.function(lambda x: layer(x, training=False))
    x = tf.ones((4, 100))
    assert not np.array_equal(function(x), function(x))


def test_mask_scope_takes_over():
    def halve(layer, inputs):
        return inputs * 0.5

    x = np.ones((2, 3), "float32")
    with MaskScope(halve):
        np.testing.assert_array_equal(MCDropout(0.9)(x), x * 0.5)


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, "0.5", None, True])
def test_invalid_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        MCDropout(rate)


def test_invalid_seed():
    with pytest.raises(ValueError, match="seed"):
        MCDropout(0.5, seed=1.5)


def test_backend_is_supported():
    backend.check_supported()
