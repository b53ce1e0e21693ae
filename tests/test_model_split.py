import keras
import numpy as np
import pytest

from keras_dbal import MCDropout
from keras_dbal import gal_cnn
from keras_dbal.sampling.model_split import split_model


@pytest.fixture
def cnn():
    return gal_cnn((8, 8, 1), num_classes=4, seed=0)


def test_gal_cnn_splits_after_pooling(cnn):
    prefix, suffix = split_model(cnn)
    assert [type(layer).__name__ for layer in prefix.layers[1:]] == [
        "Conv2D", "Conv2D", "MaxPooling2D",
    ]
    assert isinstance(suffix.layers[1], MCDropout)


def test_models_without_a_graph_are_not_split(cnn):
    class Wrapper(keras.Model):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def call(self, x):
            return self.inner(x)

    wrapper = Wrapper(cnn)
    wrapper(np.zeros((1, 8, 8, 1), "float32"))
    assert split_model(wrapper) == (None, wrapper)
    deterministic = gal_cnn((8, 8, 1), bayesian=False)
    assert split_model(deterministic) == (deterministic, None)


def test_a_sequential_loaded_from_a_keras_file_still_splits(cnn, tmp_path):
    # Loading calls a Sequential's layers twice, so `layer.input` is
    # ambiguous; unsplit, the convolutions ran T times per image and a
    # resumed labelling session at 64x64 ran out of memory.
    from keras_dbal import MCSampler

    path = tmp_path / "model.keras"
    cnn.save(path)
    loaded = keras.saving.load_model(path)
    prefix, suffix = split_model(loaded)
    assert prefix is not None and suffix is not None
    assert prefix.output_shape == split_model(cnn)[0].output_shape
    x = np.random.default_rng(0).uniform(size=(6,) + cnn.input_shape[1:])
    np.testing.assert_allclose(
        MCSampler(loaded, 4, seed=3).sample(x.astype("float32")),
        MCSampler(cnn, 4, seed=3).sample(x.astype("float32")), atol=1e-6,
    )
