"""A pool scored on Ray Data: the same top n and scores as in one process,
however it is split into batches and actors.

Skipped without the ray extra; one local cluster of 2 CPUs per module.
"""


import keras
import numpy as np
import pytest

import keras_dbal
from keras_dbal.acquisition import bald
from keras_dbal.sampling import MCSampler

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow

SEED, SAMPLES, N = 3, 5, 10


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return keras_dbal.gal_cnn((8, 8, 1), seed=0)


# One actor and two, and two batch sizes: each case starts its actors.
@pytest.mark.parametrize(("workers", "batch_size"), [(1, 256), (2, 100)])
def test_ray_scores_equal_one_process(ray_cluster, digits, model, workers,
                                      batch_size):
    from keras_dbal.distributed import pool_dataset
    from keras_dbal.distributed import top_n_on_ray

    (x, _), _ = digits
    sampler = MCSampler(model, SAMPLES, seed=SEED)
    positions, scores = sampler.top_n(x, bald, N)
    dataset = pool_dataset(x, address=ray_cluster)
    got_positions, got_scores = top_n_on_ray(
        dataset, model, "bald", N, mc_samples=SAMPLES, seed=SEED,
        workers=workers, batch_size=batch_size, address=ray_cluster,
    )
    np.testing.assert_array_equal(got_positions, positions)
    np.testing.assert_allclose(got_scores, scores, rtol=1e-5, atol=1e-6)


def test_images_at_returns_the_images_in_the_order_asked(ray_cluster, digits):
    from keras_dbal.distributed import images_at
    from keras_dbal.distributed import pool_dataset

    (x, _), _ = digits
    dataset = pool_dataset(x, block_size=100, address=ray_cluster)
    wanted = np.array([5, 1_000, 0, 299, 17])
    np.testing.assert_array_equal(images_at(dataset, wanted), x[wanted])
    with pytest.raises(ValueError, match=r"\[100000\] are not in"):
        images_at(dataset, [3, 100_000])


def test_images_at_refuses_a_dataset_with_a_position_twice(ray_cluster,
                                                           digits):
    from keras_dbal.distributed import images_at

    (x, _), _ = digits
    twice = ray.data.from_items([
        {"image": x[0], "position": 4}, {"image": x[1], "position": 4},
    ])
    with pytest.raises(ValueError, match=r"positions \[4\] appear more"):
        images_at(twice, [4])


def test_ray_batchbald_equals_one_process(ray_cluster, digits, model):
    from keras_dbal.batch_acquisition import BatchBALD
    from keras_dbal.distributed import batchbald_on_ray
    from keras_dbal.distributed import pool_dataset

    (x, _), _ = digits
    batchbald = BatchBALD(num_candidates=40, num_configurations=500)
    # What ActiveLearner.query chooses from the whole pool in one process.
    positions, gains = batchbald.select(
        MCSampler(model, SAMPLES), x, np.arange(len(x)), 4, exclude=None,
        seed=SEED, verbose=0,
    )
    got_positions, got_gains = batchbald_on_ray(
        pool_dataset(x, address=ray_cluster), model, 4,
        acquisition=batchbald, mc_samples=SAMPLES, seed=SEED,
        workers=2, batch_size=100, address=ray_cluster,
    )
    np.testing.assert_array_equal(got_positions, positions)
    np.testing.assert_allclose(got_gains, gains, rtol=1e-5, atol=1e-6)


def test_a_dataset_the_model_cannot_read_is_refused_as_such(ray_cluster,
                                                           digits, model):
    from keras_dbal.distributed import pool_dataset
    from keras_dbal.distributed import top_n_on_ray

    (x, _), _ = digits
    dataset = pool_dataset(x[:300], address=ray_cluster)
    cases = [
        # Told by the schema, before any worker starts.
        (dataset.drop_columns(["position"]), "no column 'position'"),
        (pool_dataset(np.zeros((20, 6, 6, 1), "float32")),
         r"Expected items of shape \(8, 8, 1\)"),
        (ray.data.from_items([{"image": [0.0] * 64, "position": 0}]),
         "not arrays of one shape"),
    ]
    for bad, match in cases:
        with pytest.raises(ValueError, match=match):
            top_n_on_ray(bad, model, "bald", 3, mc_samples=2,
                         address=ray_cluster)
    # Told by a worker: its own ValueError, not Ray's wrapper.
    with pytest.raises(ValueError, match="Scale the images"):
        top_n_on_ray(pool_dataset(x[:300] * 16, address=ray_cluster), model,
                     "bald", 3, mc_samples=2, input_range=(0, 1),
                     address=ray_cluster)
