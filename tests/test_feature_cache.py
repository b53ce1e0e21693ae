"""`bayesian_head` on a backbone, and its frozen features cached per pool."""

import keras
import numpy as np
import pytest

from keras_dbal import ActiveLearner
from keras_dbal import MCDropout
from keras_dbal import Pool
from keras_dbal.active import selection
from keras_dbal.models import bayesian_head
from keras_dbal.sampling import feature_cache


def backbone():
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    hidden = keras.layers.BatchNormalization()(hidden)
    return keras.Model(inputs, hidden, name="tiny")


def test_head_layers_and_validation():
    model = bayesian_head(backbone(), 3, dense_units=8, seed=0)
    assert model.output_shape == (None, 3)
    assert sum(isinstance(layer, MCDropout) for layer in model.layers) == 2
    assert not model.get_layer("tiny").trainable
    assert not model.get_layer("tiny").trainable_weights
    scaled = bayesian_head(backbone(), 3, input_scale=255.0)
    assert any(isinstance(layer, keras.layers.Rescaling)
               for layer in scaled.layers)
    for kwargs, match in (
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": 3, "pooling": "mean"}, "pooling"),
        ({"num_classes": 3, "rate": 1.0}, "rate"),
    ):
        with pytest.raises(ValueError, match=match):
            bayesian_head(backbone(), **kwargs)
    with pytest.raises(ValueError, match="backbone"):
        bayesian_head(keras.layers.Dense(3), 3)


@pytest.fixture
def learner_and_pool(rng):
    model = bayesian_head(backbone(), 3, dense_units=8, seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    pool = Pool(rng.uniform(size=(60, 8, 8, 1)).astype("float32"),
                rng.integers(0, 3, 60))
    learner = ActiveLearner(model, "bald", mc_samples=4, seed=0,
                            fit_kwargs={"epochs": 2, "batch_size": 8})
    first = np.arange(10)
    learner.teach(pool, pool.oracle(first), indices=first)
    return learner, pool


def count_prefix_images(cache, monkeypatch):
    """Spy on the one call that runs the backbone for the cache."""
    seen = []
    original = cache.prefix.predict

    def predict(x, **kwargs):
        seen.append(len(x))
        return original(x, **kwargs)

    monkeypatch.setattr(cache.prefix, "predict", predict)
    return seen


def test_a_frozen_backbone_runs_once_per_pool_image(learner_and_pool,
                                                    monkeypatch):
    learner, pool = learner_and_pool
    cache = feature_cache.for_sampler(learner.sampler)
    assert cache is not None
    seen = count_prefix_images(cache, monkeypatch)
    chosen = learner.query(pool, n=5)
    assert sum(seen) == 50  # every unlabelled image, once
    learner.teach(pool, pool.oracle(chosen), indices=chosen)
    learner.query(pool, n=5)
    assert sum(seen) == 50  # the second round reuses them all
    # New backbone weights: every image it is asked about runs again.
    layer = learner.model.get_layer("tiny")
    layer.set_weights([w * 1.5 for w in layer.get_weights()])
    cached = learner.query(pool, n=5)
    assert sum(seen) == 50 + 45
    # And the cached features give the queries the whole model gives.
    learner.history_.pop()
    monkeypatch.setattr(selection.feature_cache, "for_sampler",
                        lambda sampler, pool: None)
    np.testing.assert_array_equal(learner.query(pool, n=5), cached)


def test_an_unfrozen_backbone_is_never_served_cached_features(
    learner_and_pool,
):
    learner, pool = learner_and_pool
    assert feature_cache.for_sampler(learner.sampler) is not None
    learner.model.get_layer("tiny").trainable = True
    # Fine-tuned with the head, its features may change with every fit.
    assert feature_cache.for_sampler(learner.sampler) is None


def test_a_pool_whose_features_overflow_the_cap_is_not_cached(
    learner_and_pool, monkeypatch,
):
    learner, pool = learner_and_pool
    assert feature_cache.for_sampler(learner.sampler, pool) is not None
    # 60 images x 4 features... x 4 bytes: a cap below that refuses.
    monkeypatch.setattr(feature_cache, "MAX_BYTES", 4 * len(pool) * 3)
    assert feature_cache.for_sampler(learner.sampler, pool) is None


def test_the_gal_cnn_is_never_cached():
    from keras_dbal import MCSampler
    from keras_dbal import gal_cnn

    model = gal_cnn((8, 8, 1), 10)
    assert feature_cache.for_sampler(MCSampler(model, 3)) is None


@pytest.mark.parametrize("acquisition", ["max_entropy", "batchbald"])
def test_cached_queries_equal_the_whole_model_with_subsets_and_batches(
    rng, acquisition, monkeypatch
):
    from keras_dbal.batch_acquisition import BatchBALD

    model = bayesian_head(backbone(), 3, dense_units=8, seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    pool = Pool(rng.uniform(size=(80, 8, 8, 1)).astype("float32"),
                rng.integers(0, 3, 80))
    chosen_by = BatchBALD(num_candidates=20, num_configurations=200) if (
        acquisition == "batchbald") else acquisition
    learner = ActiveLearner(model, chosen_by, mc_samples=6, seed=0,
                            pool_subset=40, fit_kwargs={"epochs": 1})
    learner.teach(pool, pool.oracle(np.arange(10)), indices=np.arange(10))
    assert feature_cache.for_sampler(learner.sampler) is not None
    cached = learner.query(pool, n=4)
    learner.history_.pop()
    monkeypatch.setattr(selection.feature_cache, "for_sampler",
                        lambda sampler, pool: None)
    np.testing.assert_array_equal(learner.query(pool, n=4), cached)
    assert set(cached.tolist()) <= set(pool.unlabelled_indices.tolist())
