"""A pool held as a Ray Dataset, scored by an actor pool; its top n merged.

`top_n_on_ray(dataset, model, "bald", n)` maps the dataset's batches
(`Dataset.map_batches`) over `workers` Ray actors, each holding one
`MCSampler` built once from the model, and keeps a running top n of the
`(position, score)` pairs they emit (`RunningTopN`), so the driver never
holds the pool or all its scores. Dropout masks are keyed by the seed and
each image's pool position (`MCSampler.score(..., keys=)`), so the scores
do not depend on how the pool is split into batches or actors: they are
those `MCSampler.score` gives the whole pool in one process.

The dataset has a column `image` (one array per image, the model's input
shape) and a column `position` (the image's position in the pool, an
int below 2**31); `pool_dataset(images)` makes one from an array.
`images_at(dataset, positions)` fetches the chosen images (to show an
oracle, or to sample them again) without collecting the pool.
"""

import logging
import os
import tempfile

import numpy as np

from keras_dbal.distributed.ray_support import connect
from keras_dbal.distributed.ray_support import worker_options
from keras_dbal.sampling.ranking import RunningTopN
from keras_dbal.utils import validation

__all__ = [
    "check_columns", "driver_sampler", "images_at", "pool_dataset",
    "top_n_of", "top_n_on_ray",
]


def pool_dataset(images, *, block_size=1024, address="auto"):
    """A Ray Dataset of `images` with their positions: columns `image`
    and `position`, in blocks of `block_size` images (the units Ray hands
    to different workers).

    Args:
        images: Array `(N, ...)` of images.
        block_size: Images per block.
        address: The Ray cluster (`ray_support.connect`).
    """
    import pyarrow
    from ray.data.extensions import ArrowTensorArray

    block_size = validation.positive_int(block_size, "block_size")
    ray = connect(address)
    images = np.asarray(images)
    return ray.data.from_arrow([
        pyarrow.table({
            "image": ArrowTensorArray.from_numpy(
                images[start:start + block_size]),
            "position": pyarrow.array(np.arange(
                start, min(start + block_size, len(images)), dtype="int64")),
        })
        for start in range(0, len(images), block_size)
    ])


def top_n_on_ray(dataset, model, acquisition, n, *, mc_samples=20, seed=0,
                 workers=1, batch_size=1024, chunk_size=None,
                 consistent_masks=False, from_logits=False,
                 input_range=None, address="auto"):
    """The n highest-scoring images of a pool held as a Ray Dataset.

    Everything is checked in this process before the pool is read: the
    arguments, the model (loaded here too when given as a path), and that
    an acquisition measuring model uncertainty has an `MCDropout` model
    to measure (as `ActiveLearner` checks).

    Args:
        dataset: A Ray Dataset with columns `image` and `position`.
        model: A built Keras model, or the path of a `.keras` file. The
            actors load it from a file: on a cluster of several machines,
            give a path every worker reaches.
        acquisition: An acquisition name or function `(T, N, C) -> (N,)`
            (see `keras_dbal.acquisition`).
        n: Number of images to return.
        mc_samples: T, the stochastic passes per image.
        seed: Integer seed of the masks (None: one drawn here).
        workers: Ray actors scoring batches, each with one sampler (and
            one GPU where the cluster has GPUs).
        batch_size: Images per batch an actor scores.
        chunk_size: Images per compiled call within a batch, or None.
        consistent_masks: One mask per layer and sample for all images
            (see `MCSampler`).
        from_logits: The model outputs logits (see `MCSampler`).
        input_range: `(low, high)` every image must lie in, or None.
        address: The Ray cluster (`ray_support.connect`).

    Returns:
        `(positions, scores)` of the chosen images, best first.
    """
    n = validation.positive_int(n, "n")
    sampler = driver_sampler(
        dataset, model, acquisition, mc_samples=mc_samples, seed=seed,
        chunk_size=chunk_size, consistent_masks=consistent_masks,
        from_logits=from_logits, input_range=input_range,
    )
    return top_n_of(dataset, model, sampler, acquisition, n,
                    workers=workers, batch_size=batch_size, address=address)


def top_n_of(dataset, model, sampler, acquisition, n, *, workers, batch_size,
             address):
    """`top_n_on_ray` once `driver_sampler` has checked its arguments:
    every actor's sampler is the driver's `sampler` again (its seed
    resolved once here), and `model` is what the caller gave (a path is
    passed on)."""
    workers = validation.positive_int(workers, "workers")
    batch_size = validation.positive_int(batch_size, "batch_size")
    seed = sampler.resolve_seed()
    ray = connect(address)
    # Ray Data logs its progress every few seconds, a screen of lines.
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        if isinstance(model, str | os.PathLike):
            path = os.fspath(model)
        else:
            path = os.path.join(folder, "model.keras")
            sampler.model.save(path)
        scored = dataset.map_batches(
            _Scorer,
            fn_constructor_kwargs={
                "path": os.path.abspath(path),
                "acquisition": acquisition,
                "config": {**sampler.get_config(), "seed": seed},
            },
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            **worker_options(ray),
        )
        best = RunningTopN(n, np.random.default_rng([seed, 1]))
        try:
            for batch in scored.iter_batches(batch_format="numpy",
                                             batch_size=None):
                best.add(batch["position"], batch["score"])
        except ray.exceptions.RayError as error:
            _raise_checks_failure(error)
            raise
    return best.positions, best.scores


def check_columns(dataset, item_shape):
    """Refuse a dataset without the columns `image` (fixed-shape arrays of
    `item_shape`, None where any size goes) and `position` (integers),
    as far as its schema says, before any worker reads it."""
    import pyarrow

    if not callable(getattr(dataset, "schema", None)):
        raise ValueError(
            "Invalid value received for argument `dataset`. Expected a Ray "
            f"Dataset (see `pool_dataset`). Received: {type(dataset).__name__}"
        )
    schema = dataset.schema()
    if schema is None:  # not known without reading it
        return
    columns = dict(zip(schema.names, schema.types, strict=True))
    missing = [name for name in ("image", "position") if name not in columns]
    if missing:
        raise ValueError(
            "Invalid value received for argument `dataset`: it has no "
            f"column {missing[0]!r} (it has {sorted(columns)}); see "
            "`pool_dataset`."
        )
    if not pyarrow.types.is_integer(columns["position"]):
        raise ValueError(
            "Invalid value received for argument `dataset`: its column "
            f"'position' holds {columns['position']}, not integers."
        )
    shape = getattr(columns["image"], "shape", None)
    if shape is None:
        raise ValueError(
            "Invalid value received for argument `dataset`: its column "
            f"'image' holds {columns['image']}, not arrays of one shape "
            "(give numpy arrays, as `pool_dataset` does)."
        )
    validation.batch_shape((None, *shape), "dataset", item_shape)


def _raise_checks_failure(error):
    """A worker's own `ValueError` (images outside `input_range`, a
    position twice) as the `ValueError` it was, not Ray's wrapper."""
    for line in reversed(str(error).splitlines()):
        if line.startswith("ValueError: "):
            raise ValueError(line[len("ValueError: "):]) from None


def driver_sampler(dataset, model, acquisition, *, seed, **settings):
    """This process's `MCSampler` of `model` (a `keras.Model` or a path,
    loaded) with `seed` and `settings` (its other arguments): built to
    check them, the model, `acquisition` and the dataset's columns
    (`check_columns`) before any worker starts."""
    import keras

    from keras_dbal import acquisition as acquisitions
    from keras_dbal.active.model_checks import check_acquisition
    from keras_dbal.active.model_checks import classifier_signature
    from keras_dbal.sampling import MCSampler

    if isinstance(model, str | os.PathLike):
        if not os.path.isfile(model) or not os.fspath(model).endswith(
            ".keras"
        ):
            raise ValueError(
                "Invalid value received for argument `model`. Expected a "
                "keras.Model or the path of a `.keras` file. Received: "
                f"model={os.fspath(model)!r}"
            )
        model = keras.saving.load_model(model)
    sampler = MCSampler(model, seed=validation.seed(seed), **settings)
    # Logits read as probabilities would score silently (the learner's
    # check: one pass on a few random images).
    classifier_signature(model, sampler.from_logits)
    if isinstance(acquisition, str):
        acquisition = acquisitions.get(acquisition)
    check_acquisition(acquisition, sampler, allow_deterministic=False)
    check_columns(dataset, sampler.item_shape)
    return sampler


def images_at(dataset, positions):
    """The images of a Ray Dataset at some pool positions, in their order.

    One pass over the dataset keeps the rows whose `position` is wanted
    (`Dataset.map_batches`, in Ray's workers); only those reach this
    process.

    Args:
        dataset: A Ray Dataset with columns `image` and `position`.
        positions: Distinct integer positions.

    Returns:
        Array `(len(positions), ...)` of images.

    Raises:
        ValueError: a position is not in the dataset, or is there twice.
    """
    positions = validation.indices(positions, "positions", None)
    if not positions.size:
        raise ValueError(
            "Invalid value received for argument `positions`: it is empty."
        )
    wanted = np.unique(positions)
    logging.getLogger("ray.data").setLevel(logging.WARNING)

    def rows_at(table):
        # Defined here, so that Ray's workers unpickle it without
        # importing keras_dbal (and Keras). Arrow filters the block as it
        # is: an empty part needs no conversion.
        import pyarrow
        import pyarrow.compute

        return table.filter(pyarrow.compute.is_in(
            table["position"], value_set=pyarrow.array(wanted)))

    parts = [
        batch for batch in dataset.map_batches(
            rows_at, batch_format="pyarrow"
        ).iter_batches(batch_format="numpy", batch_size=None)
        if len(batch["position"])
    ]
    found = np.concatenate(
        [np.asarray(batch["position"]) for batch in parts]
        or [np.zeros(0, "int64")]
    )
    validation.indices(found, "dataset", None)  # no position twice
    missing = np.setdiff1d(wanted, found)
    if missing.size:
        raise ValueError(
            f"Invalid value received for argument `positions`: "
            f"{missing[:10].tolist()} are not in the dataset."
        )
    images = np.concatenate([np.asarray(batch["image"]) for batch in parts])
    if images.dtype == object:
        raise ValueError(
            "Invalid value received for argument `dataset`: its images "
            "differ in shape (or are not arrays); every image must have "
            "the model's input shape."
        )
    return images[np.argsort(found)][np.searchsorted(wanted, positions)]


class _Scorer:
    """One Ray actor's sampler: a batch of images in, their scores out."""

    def __init__(self, path, acquisition, config):
        import keras

        from keras_dbal import acquisition as acquisitions
        from keras_dbal.sampling import MCSampler

        model = keras.saving.load_model(path)
        self.sampler = MCSampler(model, **config)
        self.acquisition = acquisitions.get(acquisition)

    def __call__(self, batch):
        # A fixed-shape tensor column arrives as one array, no copy.
        images = np.asarray(batch["image"])
        keys = np.asarray(batch["position"])
        local, scores = self.sampler.score(images, self.acquisition,
                                           keys=keys)
        return {"position": keys[local].astype("int64"), "score": scores}
