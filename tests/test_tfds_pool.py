"""Pools from TensorFlow Datasets, offline (TFDS's own mock data)."""

import keras
import numpy as np
import pytest

from keras_dbal import ActiveLearner
from keras_dbal import Pool
from keras_dbal import gal_cnn
from keras_dbal.datasets import DataError
from keras_dbal.datasets import load_tfds
from tests.conftest import requires_backend

tfds = pytest.importorskip("tensorflow_datasets")

# TFDS reads through tf.data, which needs TensorFlow whatever the backend.
pytestmark = [pytest.mark.backend_independent, requires_backend("tensorflow")]


def learner_taught(pool, seed=0):
    keras.utils.set_random_seed(seed)
    model = gal_cnn(pool.x.shape[1:], 10, seed=seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    learner = ActiveLearner(model, "bald", mc_samples=3, seed=seed,
                            fit_kwargs={"epochs": 1, "batch_size": 8})
    first = np.arange(10)
    return learner.teach(pool, pool.oracle(first), indices=first)


def test_a_tfds_split_queries_as_its_images_do_as_an_array():
    with tfds.testing.mock_data(num_examples=40):
        pool = Pool.from_tfds("mnist", "train")
        # The same split read independently, example by example.
        examples = list(tfds.as_numpy(tfds.load("mnist", split="train")))
    images = np.stack([e["image"] for e in examples]).astype("float32")
    images /= 255.0
    labels = np.array([e["label"] for e in examples])
    np.testing.assert_allclose(pool.x, images, atol=1e-7)
    np.testing.assert_array_equal(pool.y, labels)
    array_pool = Pool(images, labels)
    chosen = learner_taught(pool).query(pool, n=5)
    again = learner_taught(array_pool).query(array_pool, n=5)
    np.testing.assert_array_equal(chosen, again)


def test_unusable_splits_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="Could not load"):
        load_tfds("mnist", data_dir=str(tmp_path), download=False)
    with tfds.testing.mock_data(num_examples=4):
        with pytest.raises(DataError, match="no feature"):
            load_tfds("mnist", image_key="picture")
        x, y = load_tfds("mnist", label_key=None)
    assert y is None and x.shape == (4, 28, 28, 1)
