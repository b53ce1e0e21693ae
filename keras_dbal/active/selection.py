"""Which images a query may choose from, and the seeds of every choice.

Every random choice of an `ActiveLearner` draws from a seed derived from
the learner's seed, what the choice is for, and a counter (the round, the
fit), so the same seed gives the same queries whatever else ran before.
"""

import numpy as np
from keras import ops

import keras_dbal.batch_acquisition.registry as acquisitions
from keras_dbal import acquisition as acquisition_lib
from keras_dbal import acquisition_registry
from keras_dbal.active.pool import Pool
from keras_dbal.sampling import feature_cache
from keras_dbal.utils import validation

__all__ = [
    "balanced_indices",
    "candidates",
    "choose",
    "derive_seed",
    "model_free_query",
    "random_query",
    "subset",
]

_PURPOSES = {"fit": 0, "query": 1, "predict": 2}


def derive_seed(seed, purpose, counter):
    """A 31-bit seed for one random choice, fixed by (seed, purpose, counter).

    Returns None when `seed` is None, so the choice is not reproducible.
    """
    if seed is None:
        return None
    entropy = [int(seed), _PURPOSES[purpose], counter]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] >> 1)


def choose(
    pool, n, *, exclude, sampler, acquisition, pool_subset, item_shape,
    seed, verbose,
):
    """The n pool positions to label next, and their scores, best first
    (a batch acquisition: in the order it chose them).

    Args:
        pool: A `Pool`, or images (array, tensor, `tf.data.Dataset`).
        n: Number of positions.
        exclude: Positions never to propose (not with a `Pool`).
        sampler: The `MCSampler` that scores.
        acquisition: The acquisition function, or a batch acquisition
            (see `keras_dbal.batch_acquisition`).
        pool_subset: Score a random subset of this many candidates, or
            all of them (None).
        item_shape: The shape of one image the model takes.
        seed: Integer seed of the subset, the masks and the tie breaks.
        verbose: 1 shows a progress bar while scoring.

    Raises:
        ValueError: n is more than the unlabelled images, or than
            `pool_subset`.
    """
    n = validation.positive_int(n, "n")
    if pool_subset is not None and n > pool_subset:
        raise ValueError(
            f"Invalid value received for argument `n`: n={n} is more "
            f"than pool_subset={pool_subset}, the number of images a "
            "query scores."
        )
    images, positions, exclude = candidates(pool, exclude, item_shape)
    if positions is not None and n > len(positions):
        raise ValueError(
            f"Invalid value received for argument `n`: asked for {n} "
            f"images but only {len(positions)} are unlabelled."
        )
    positions = subset(positions, pool_subset, seed)
    cache = None
    model_free = not acquisition_registry.needs_model(acquisition)
    if isinstance(pool, Pool) and not model_free:
        # A frozen backbone's features, computed once per pool image.
        cache = feature_cache.for_sampler(sampler, pool)
    if cache is not None:
        # Pool-sized, scored at the pool positions: the same masks.
        images, sampler = cache.pool_features(pool, positions), cache.head
    if model_free:
        chosen, scores = model_free_query(acquisition, positions, n, seed)
    elif acquisitions.is_batch(acquisition):
        chosen, scores = acquisition.select(
            sampler, images, positions, n, exclude=exclude, seed=seed,
            verbose=verbose,
        )
    else:
        chosen, scores = sampler.top_n(
            images,
            acquisition,
            n,
            indices=positions,
            exclude=exclude,
            seed=seed,
            verbose=verbose,
        )
    if len(chosen) < n:
        raise ValueError(
            f"Invalid value received for argument `n`: asked for {n} "
            f"images but the pool offered only {len(chosen)}."
        )
    return chosen, scores


def candidates(pool, exclude, item_shape):
    """`(images, positions, exclude)` a query scores.

    `positions` is None for a `tf.data.Dataset`, whose length is known
    only once it has been read: the sampler then skips `exclude` as it
    streams the pool.
    """
    if isinstance(pool, Pool):
        if exclude is not None:
            raise ValueError(
                "`exclude` is not used with a Pool: it already knows "
                "which images are labelled."
            )
        return pool.x, pool.unlabelled_indices, None
    if hasattr(pool, "as_numpy_iterator"):
        if exclude is not None:
            exclude = validation.indices(exclude, "exclude", None)
        return pool, None, exclude
    images = validation.images(pool, "pool", item_shape)
    positions = np.arange(len(images))
    if exclude is not None:
        exclude = validation.indices(exclude, "exclude", len(images))
        positions = np.setdiff1d(positions, exclude)
    return images, positions, None


def subset(positions, size, seed):
    """`size` of `positions` chosen at random (all of them if fewer),
    sorted, as the authors' code scores a random pool subset."""
    if size is None or positions is None or len(positions) <= size:
        return positions
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(positions, size, replace=False))


def random_query(positions, n, seed):
    """n of `positions` by `keras_dbal.acquisition.random` scores (a
    labelling session's first round)."""
    return model_free_query(acquisition_lib.random, positions, n, seed)


def model_free_query(score, positions, n, seed):
    """n of `positions` by the scores of a function that reads no
    prediction (`random`), without running the model: it is called on a
    placeholder `(1, N, 1)` and the seed.

    Returns:
        `(chosen, scores)`, highest score first.
    """
    if positions is None:
        raise ValueError(
            "Random acquisition needs a Pool or an array pool, whose "
            "size is known."
        )
    placeholder = np.zeros((1, len(positions), 1), dtype="float32")
    scores = ops.convert_to_numpy(score(placeholder, seed))
    order = np.argsort(-scores, kind="stable")[:n]
    return positions[order], scores[order]


def balanced_indices(y, per_class, seed=None):
    """Positions of `per_class` randomly chosen items of every class.

    Gal et al. (2017) start from 20 labelled MNIST images, 2 per class.

    Args:
        y: Labels of the items.
        per_class: Items to choose per class.
        seed: Integer seed.

    Raises:
        ValueError: a class has fewer than `per_class` items.
    """
    per_class = validation.positive_int(per_class, "per_class")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        if len(members) < per_class:
            raise ValueError(
                f"Class {label} has {len(members)} items; cannot draw "
                f"per_class={per_class}."
            )
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen))
