"""An `ActiveLearner`'s state into and out of a checkpoint.

`keras_dbal.saving` stores a model, JSON settings, a JSON record and named
arrays, and knows nothing of the learner; this module says which of the
learner's attributes go where, and rebuilds a learner through its own
constructor.
"""

import json
import os

import keras_dbal.batch_acquisition.registry as acquisitions
from keras_dbal import acquisition as acquisition_lib
from keras_dbal.saving.checkpoint import CheckpointError
from keras_dbal.saving.checkpoint import load_checkpoint
from keras_dbal.saving.checkpoint import numbered
from keras_dbal.saving.checkpoint import peek_checkpoint
from keras_dbal.saving.checkpoint import records
from keras_dbal.saving.checkpoint import save_checkpoint
from keras_dbal.saving.checkpoint import unnumbered
from keras_dbal.saving.folders import latest
from keras_dbal.saving.locking import lock_directory

__all__ = ["Store", "holds_labels", "load", "peek", "save"]


class Store:
    """A learner's own state directory, and the lock it holds on it.

    Args:
        directory: The state directory.
        lock: Its held `StateLock`.
    """

    def __init__(self, directory, lock):
        self.directory = directory
        self.lock = lock

    @classmethod
    def claim(cls, directory):
        """The store of a new learner; `directory` must not hold a
        checkpoint yet."""
        _check_no_checkpoint(directory)
        lock = lock_directory(directory)
        try:
            # Again under the lock: another process may have saved.
            _check_no_checkpoint(directory)
        except ValueError:
            lock.release()
            raise
        return cls(directory, lock)

    def check(self):
        """Raise if the lock was taken over (see `StateLock.check`)."""
        self.lock.check()

    def write(self, learner, *, needs_fit=False):
        """A new checkpoint of `learner`; returns its path."""
        self.lock.check()
        return _save(learner, self.directory, needs_fit)

    def owns(self, directory):
        """Whether `directory` is this store's."""
        return os.path.realpath(directory) == os.path.realpath(
            self.directory
        )

    def close(self):
        """Release the lock."""
        self.lock.release()


def _check_no_checkpoint(directory):
    if latest(directory):
        raise ValueError(
            "Invalid value received for argument `checkpoint_dir`: "
            f"{directory} already holds a checkpoint. Continue it with "
            "ActiveLearner.load(checkpoint_dir), or choose an empty "
            "directory."
        )


def save(learner, directory, *, needs_fit=False, store=None):
    """Write `learner` into `directory`; see `ActiveLearner.save`.

    Into the learner's own `store`, under the lock it holds; anywhere
    else, under that directory's lock, taken for the save.
    """
    if store is not None and store.owns(directory):
        return store.write(learner, needs_fit=needs_fit)
    with lock_directory(directory):
        return _save(learner, directory, needs_fit)


def _save(learner, directory, needs_fit):
    arrays = {
        "x_labelled": learner.x_labelled_,
        "y_labelled": learner.y_labelled_,
        "pool_indices": learner.pool_indices_,
        **numbered("initial", learner.initial_weights_),
        **numbered("fresh_optimizer", learner.initial_optimizer_state_),
    }
    record = {
        "num_fits": learner.num_fits_,
        "num_labelled": learner.num_labelled,
        "pool": learner.pool_,
        "history": learner.history_,
    }
    return save_checkpoint(
        directory,
        learner.model,
        settings=_settings(learner),
        record=record,
        arrays=arrays,
        needs_fit=needs_fit,
    )


def load(cls, directory, *, pool, acquisition, overrides):
    """A learner of class `cls` from the newest intact checkpoint; see
    `ActiveLearner.load`."""
    if "checkpoint_dir" in overrides:
        raise ValueError(
            "ActiveLearner.load continues the state directory it loads; "
            "to write elsewhere, save(directory) into a new one and load "
            "that."
        )
    checkpoint = load_checkpoint(
        directory, required=_RECORD, describe=_describe
    )
    try:
        settings = _constructor_arguments(
            checkpoint, acquisition, dict(overrides)
        )
        learner = cls(checkpoint.model, **settings)
        arrays, record = checkpoint.arrays, checkpoint.record
        learner._restore(
            {
                "x_labelled_": arrays["x_labelled"],
                "y_labelled_": arrays["y_labelled"],
                "pool_indices_": arrays["pool_indices"],
                "initial_weights_": unnumbered(arrays, "initial"),
                "initial_optimizer_state_": unnumbered(
                    arrays, "fresh_optimizer"
                ),
                "history_": record["history"],
                "num_fits_": record["num_fits"],
                "pool_": record["pool"],
            },
            Store(checkpoint.directory, checkpoint.lock),
        )
    except BaseException:
        checkpoint.lock.release()
        raise
    try:
        if pool is not None:
            _restore_pool(learner, pool, checkpoint.directory)
        if checkpoint.needs_fit:
            # Saved between adding labels and fitting.
            learner.fit()
            learner.checkpoint()
    except BaseException:
        learner.close()  # the lock now, not when the error is collected
        raise
    return learner


def peek(directory):
    """What a learner's newest intact checkpoint holds, read without
    loading it or taking its lock (see `peek_checkpoint`).

    Returns:
        `{"y_labelled", "pool_indices", "history", "acquisition",
        "seed"}`: the attributes `y_labelled_`, `pool_indices_` and
        `history_`, the acquisition's name and the seed.
    """
    checkpoint = peek_checkpoint(
        directory, ("y_labelled", "pool_indices"), required=_RECORD
    )
    return {
        "y_labelled": checkpoint.arrays["y_labelled"],
        "pool_indices": checkpoint.arrays["pool_indices"],
        "history": checkpoint.record["history"],
        "acquisition": checkpoint.settings["acquisition"],
        "seed": checkpoint.settings["seed"],
    }


def holds_labels(directory):
    """Whether a checkpoint in `directory` may hold a label: any of them,
    damaged ones too, and one that cannot be read counts as holding some
    (see `records`)."""
    return any(
        record is None or record.get("num_labelled") != 0
        for record in records(directory)
    )


# The record fields `load` reads; a checkpoint without one is damaged.
_RECORD = ("num_fits", "history", "pool")


def _describe(record, arrays):
    return (
        f"{len(arrays['y_labelled'])} labels, "
        f"{len(record['history'])} queries"
    )


def _settings(learner):
    name = learner.acquisition_name
    batch = None
    if acquisitions.is_batch(learner.acquisition_fn):
        # A batch acquisition is saved with its settings; a custom class
        # must be given again.
        batch = acquisitions.settings(learner.acquisition_fn)
        custom = batch is None
    else:
        custom = (
            name not in acquisition_lib.names()
            or acquisition_lib.get(name) is not learner.acquisition_fn
        )
    fit_kwargs, unsaved = {}, []
    for key, value in learner.fit_kwargs.items():
        if _survives_json(value):
            fit_kwargs[key] = value
        else:
            unsaved.append(key)
    return {
        "acquisition": learner.acquisition_name,
        "acquisition_is_custom": custom,
        "batch_acquisition": batch,
        "mc_samples": learner.mc_samples,
        "reset_weights": learner.reset_weights,
        "fit_kwargs": fit_kwargs,
        "unsaved_fit_kwargs": sorted(unsaved),
        "pool_subset": learner.pool_subset,
        "equal_batches": learner.equal_batches,
        "chunk_size": learner.sampler.chunk_size,
        "consistent_masks": learner.consistent_masks,
        "from_logits": learner.from_logits,
        "allow_deterministic": learner.allow_deterministic,
        "seed": None if learner.seed is None else int(learner.seed),
        "verbose": learner.verbose,
        "input_range": (
            None if learner.input_range is None else list(learner.input_range)
        ),
    }


def _survives_json(value):
    """Whether `value` reads back from JSON as itself: callbacks, arrays,
    tuples and dicts with integer keys (`class_weight`) do not."""
    try:
        return json.loads(json.dumps(value)) == value
    except (TypeError, ValueError):
        return False


def _constructor_arguments(checkpoint, acquisition, overrides):
    settings = dict(checkpoint.settings)
    # Saved before the learner checked value ranges: it was taught
    # without the check, and goes on so (its images may be 0..255 for a
    # model that scales them itself).
    settings.setdefault("input_range", None)
    # Saved before equal batches were an option: model.fit's batches.
    settings.setdefault("equal_batches", False)
    directory = checkpoint.directory
    batch = settings.pop("batch_acquisition", None)
    if batch is not None:
        settings["acquisition"] = acquisitions.from_settings(batch)
    if settings.pop("acquisition_is_custom"):
        if acquisition is None:
            raise CheckpointError(
                f"The learner in {directory} used the custom acquisition "
                f"function {settings['acquisition']!r}; pass it again as "
                "ActiveLearner.load(..., acquisition=function)."
            )
        settings["acquisition"] = acquisition
    elif acquisition is not None:
        settings["acquisition"] = acquisition
    unsaved = settings.pop("unsaved_fit_kwargs", [])
    given = overrides.pop("fit_kwargs", None) or {}
    missing = [key for key in unsaved if key not in given]
    if missing:
        raise CheckpointError(
            f"The learner in {directory} was fitted with fit_kwargs "
            f"{missing}, which cannot be saved (they are not plain JSON); "
            "pass them again, e.g. ActiveLearner.load(..., fit_kwargs="
            f"{{{missing[0]!r}: ...}}), or as None to fit without them."
        )
    settings["fit_kwargs"] = {**settings["fit_kwargs"], **given}
    settings.update(overrides)
    return settings


def _restore_pool(learner, pool, directory):
    saved = learner.pool_
    unknown = CheckpointError(
        "The pool given has labels the checkpoint does not know of; pass "
        "a fresh Pool to ActiveLearner.load."
    )
    if saved is None and learner.num_labelled == 0:
        # Nothing taught yet: this is the pool it will be taught from.
        if len(pool.labelled_indices):
            raise unknown
        learner._sync_pool(pool, adopt=True)
        return
    if saved is None:
        raise CheckpointError(
            f"The learner in {directory} was never taught from a Pool; "
            "load it without `pool`."
        )
    if pool.identity() != saved:
        raise CheckpointError(
            f"The learner in {directory} was taught from a pool of "
            f"{saved['size']} images with fingerprint "
            f"{saved['fingerprint'][:12]}; the pool given has {len(pool)} "
            f"images with fingerprint {pool.fingerprint()[:12]}."
        )
    try:
        learner._sync_pool(pool)
    except ValueError as error:
        raise CheckpointError(
            f"{error} Pass a fresh Pool to ActiveLearner.load."
        ) from None
    if pool.labelled_mask.sum() != (learner.pool_indices_ >= 0).sum():
        raise unknown
