"""BatchBALD over a pool held as a Ray Dataset.

The pool's BALD scores are what costs: one pass of T samples over every
image. That pass runs on Ray's actor pool (`top_n_on_ray`), which keeps
the `num_candidates` best; only their images reach this process
(`images_at`), where they are sampled again under consistent masks and
the greedy step of `BatchBALD` chooses the batch, as
`ActiveLearner.query` does in one process. The batch is the one
`BatchBALD().select` chooses from the whole pool in one process with the
same seed: the masks depend on the seed and each image's pool position
only.
"""

import os

import keras
import numpy as np

from keras_dbal.batch_acquisition import BatchBALD
from keras_dbal.batch_acquisition import greedy_batchbald
from keras_dbal.distributed.scoring import images_at
from keras_dbal.distributed.scoring import top_n_on_ray
from keras_dbal.sampling import MCSampler
from keras_dbal.utils import validation

__all__ = ["batchbald_on_ray"]


def batchbald_on_ray(dataset, model, n, *, acquisition=None, mc_samples=100,
                     seed=0, workers=1, batch_size=1024, chunk_size=None,
                     input_range=None, address="auto"):
    """A BatchBALD batch of n images from a pool held as a Ray Dataset.

    Args:
        dataset: A Ray Dataset with columns `image` and `position` (see
            `pool_dataset`).
        model: A built Keras model, or the path of a `.keras` file (on a
            cluster of several machines, one every worker reaches).
        n: Batch size.
        acquisition: A `BatchBALD`, whose `num_candidates` (which must be
            set) and `num_configurations` are used; None for
            `BatchBALD()`.
        mc_samples: T, the stochastic passes per image (BatchBALD wants
            100 or more: see `BatchBALD`).
        seed: Integer seed of the masks, draws and tie breaks.
        workers: Ray actors scoring the pool's BALD.
        batch_size: Images per batch an actor scores.
        chunk_size: Images per compiled call, or None.
        input_range: `(low, high)` every image must lie in, or None.
        address: The Ray cluster (`ray_support.connect`).

    Returns:
        `(positions, gains)`: the batch's pool positions in the order
        chosen, and each image's gain in the batch's BatchBALD score when
        it was added (the first is its BALD).
    """
    n = validation.positive_int(n, "n")
    if acquisition is None:
        acquisition = BatchBALD()
    if not isinstance(acquisition, BatchBALD):
        raise ValueError(
            "Invalid value received for argument `acquisition`. Expected a "
            f"BatchBALD or None. Received: acquisition={acquisition!r}"
        )
    if acquisition.num_candidates is None:
        raise ValueError(
            "Invalid value received for argument `acquisition`: on Ray, "
            "BatchBALD needs `num_candidates` (it would otherwise sample "
            "the whole pool in this process). Received: "
            f"acquisition={acquisition!r}"
        )
    positions, _ = top_n_on_ray(
        dataset, model, "bald",
        max(n, acquisition.num_candidates), mc_samples=mc_samples,
        seed=seed, workers=workers, batch_size=batch_size,
        chunk_size=chunk_size, input_range=input_range, address=address,
    )
    positions = np.sort(positions)
    if isinstance(model, str | os.PathLike):
        model = keras.saving.load_model(model)
    sampler = MCSampler(model, mc_samples, chunk_size=chunk_size,
                        consistent_masks=True, input_range=input_range)
    probs = sampler.sample(images_at(dataset, positions), seed=seed)
    chosen, gains = greedy_batchbald(
        probs, n, num_configurations=acquisition.num_configurations,
        seed=seed,
    )
    return positions[chosen], gains
