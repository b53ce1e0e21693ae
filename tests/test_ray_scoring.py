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


@pytest.mark.parametrize(("workers", "batch_size"),
                         [(1, 100), (2, 100), (2, 256)])
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
