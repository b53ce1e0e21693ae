"""BatchBALD over a pool held as a Ray Dataset.

The pool's BALD scores are what costs: one pass of T samples over every
image. That pass runs on Ray's actor pool (as `top_n_on_ray`), which keeps
the `num_candidates` best; only their images reach this process
(`images_at`), where they are sampled again under consistent masks and
the greedy step of `BatchBALD` chooses the batch, as
`ActiveLearner.query` does in one process. The batch is the one
`BatchBALD().select` chooses from the whole pool in one process with the
same seed: the masks depend on the seed and each image's pool position
only.
"""

import numpy as np

from keras_dbal.batch_acquisition import BatchBALD
from keras_dbal.batch_acquisition import greedy_batchbald
from keras_dbal.distributed.scoring import driver_sampler
from keras_dbal.distributed.scoring import images_at
from keras_dbal.distributed.scoring import top_n_of
from keras_dbal.utils import validation

__all__ = ["batchbald_on_ray"]


def batchbald_on_ray(dataset, model, n, *, acquisition=None, mc_samples=100,
                     seed=0, workers=1, batch_size=1024, chunk_size=None,
                     from_logits=False, input_range=None, address="auto"):
    """A BatchBALD batch of n images from a pool held as a Ray Dataset.

    The pool is read twice: once by the actors scoring BALD, once to
    fetch the candidates' images (`images_at`), so a dataset must give
    the same images each time it is read. Everything is checked in this
    process before the pool is read (see `top_n_on_ray`).

    Args:
        dataset: A Ray Dataset with columns `image` and `position` (see
            `pool_dataset`).
        model: A built Keras model, or the path of a `.keras` file (on a
            cluster of several machines, one every worker reaches).
        n: Batch size.
        acquisition: A `BatchBALD` (or `"batchbald"`), whose
            `num_candidates` (which must be set) and `num_configurations`
            are used; None for `BatchBALD()`.
        mc_samples: T, the stochastic passes per image (BatchBALD wants
            100 or more: see `BatchBALD`).
        seed: Integer seed of the masks, draws and tie breaks (None: one
            drawn here).
        workers: Ray actors scoring the pool's BALD.
        batch_size: Images per batch an actor scores.
        chunk_size: Images per compiled call, or None.
        from_logits: The model outputs logits (see `MCSampler`).
        input_range: `(low, high)` every image must lie in, or None.
        address: The Ray cluster (`ray_support.connect`).

    Returns:
        `(positions, gains)`: the batch's pool positions in the order
        chosen, and each image's gain in the batch's BatchBALD score when
        it was added (the first is its BALD).
    """
    n = validation.positive_int(n, "n")
    if acquisition is None or acquisition == "batchbald":
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
    sampler = driver_sampler(
        dataset, model, acquisition, mc_samples=mc_samples, seed=seed,
        chunk_size=chunk_size, from_logits=from_logits,
        input_range=input_range,
    )
    # One seed for the pre-selection, the candidates' samples and the
    # greedy step's draws, resolved here once.
    sampler = sampler.replace(seed=sampler.resolve_seed())
    positions, _ = top_n_of(
        dataset, model, sampler, "bald", max(n, acquisition.num_candidates),
        workers=workers, batch_size=batch_size, address=address,
    )
    positions = np.sort(positions)
    probs = sampler.replace(consistent_masks=True).sample(
        images_at(dataset, positions)
    )
    chosen, gains = greedy_batchbald(
        probs, n, num_configurations=acquisition.num_configurations,
        seed=sampler.seed,
    )
    return positions[chosen], gains
