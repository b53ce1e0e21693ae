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
