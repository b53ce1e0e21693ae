"""A small stand-in for `keras.src.testing.TestCase.run_layer_test`.

Keras's own helper is private, so we keep our own: the config round trip,
output shapes, the number of seed generators, and a `.keras` round trip of a
model that holds the layer.
"""

import os
import tempfile

import keras
import numpy as np


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_shape,
    expected_output_shape,
    expected_num_seed_generators=0,
):
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for name, value in init_kwargs.items():
        assert config[name] == value, (name, config[name], value)
    revived = layer_cls.from_config(config)
    assert revived.get_config() == config

    x = np.random.default_rng(0).random(input_shape).astype("float32")
    y = layer(x)
    assert tuple(y.shape) == tuple(expected_output_shape)
    assert tuple(layer.compute_output_shape(input_shape)) == tuple(
        expected_output_shape
    )
    assert len(getattr(layer, "_seed_generators", [])) == (
        expected_num_seed_generators
    )

    inputs = keras.Input(shape=input_shape[1:])
    model = keras.Model(inputs, layer_cls(**init_kwargs)(inputs))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    loaded_layer = loaded.layers[-1]
    assert isinstance(loaded_layer, layer_cls)
    assert loaded_layer.get_config() == model.layers[-1].get_config()
    return loaded
