"""Saving and restoring an `ActiveLearner`: no label is ever lost.

A state directory holds numbered checkpoints and a `LATEST` file naming
the current one:

    state/
      LATEST              "ckpt-00000007"
      ckpt-00000006/      the previous checkpoint, kept as a fallback
      ckpt-00000007/
        model.keras       architecture, weights, optimizer, compile config
        arrays.npz        labelled images and labels, their pool positions,
                          initial weights, every model and optimizer
                          variable (seed generator states included)
        state.json        settings, history, counters, pool fingerprint

A checkpoint is written into a temporary folder, every file is fsynced,
the folder is renamed into place, and only then is `LATEST` replaced
(write, fsync, `os.replace`). A crash at any point leaves `LATEST` naming a
complete checkpoint, so loading never sees a half-written state.
"""

import json
import os
import shutil
import uuid

import keras
import numpy as np

import keras_dbal
from keras_dbal import acquisition as acquisition_lib
from keras_dbal.refit import assign_values
from keras_dbal.refit import variable_values

__all__ = ["CheckpointError", "latest", "load_learner", "save_learner"]

FORMAT = 1
LATEST = "LATEST"
_KEEP = 2


class CheckpointError(ValueError):
    """A state directory that cannot be used, and exactly why."""


def save_learner(learner, directory, *, needs_fit=False):
    """Write a new checkpoint of `learner` into `directory` atomically.

    Args:
        learner: The `ActiveLearner`.
        directory: The state directory (created if missing).
        needs_fit: Record that labels were added but the model was not
            refitted yet; `load_learner` then refits.

    Returns:
        The path of the new checkpoint folder.
    """
    os.makedirs(directory, exist_ok=True)
    _remove_temporaries(directory)
    current = latest(directory)
    number = 0 if current is None else int(current.rsplit("-", 1)[1]) + 1
    name = f"ckpt-{number:08d}"
    temporary = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
    os.makedirs(temporary)
    model = learner.model
    if model.optimizer is not None and not model.optimizer.built:
        # Saved unbuilt, its 2 variables would not match the built
        # optimizer that loading creates, and Keras would skip them.
        model.optimizer.build(model.trainable_variables)
    model.save(os.path.join(temporary, "model.keras"))
    arrays = {
        "x_labelled": learner.x_labelled_,
        "y_labelled": learner.y_labelled_,
        "pool_indices": learner.pool_indices_,
    }
    arrays.update(_numbered("initial", learner.initial_weights_))
    arrays.update(
        _numbered("fresh_optimizer", learner.initial_optimizer_state_)
    )
    arrays.update(_numbered("variable", variable_values(model.variables)))
    if model.optimizer is not None:
        arrays.update(
            _numbered("optimizer", variable_values(model.optimizer.variables))
        )
    np.savez(os.path.join(temporary, "arrays.npz"), **arrays)
    state = {
        "format": FORMAT,
        "keras_dbal_version": keras_dbal.__version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "settings": _settings(learner),
        "num_fits": learner.num_fits_,
        "needs_fit": bool(needs_fit),
        "num_labelled": learner.num_labelled,
        "pool": learner.pool_,
        "history": learner.history_,
    }
    with open(os.path.join(temporary, "state.json"), "w") as file:
        json.dump(state, file, indent=1)
    for filename in os.listdir(temporary):
        _fsync_file(os.path.join(temporary, filename))
    _fsync_dir(temporary)
    final = os.path.join(directory, name)
    os.rename(temporary, final)
    _fsync_dir(directory)
    write_atomically(os.path.join(directory, LATEST), name)
    _prune(directory, keep=_KEEP)
    return final


def latest(directory):
    """The name of the current checkpoint in `directory`, or None."""
    path = os.path.join(directory, LATEST)
    if not os.path.isfile(path):
        return None
    with open(path) as file:
        name = file.read().strip()
    if not name.startswith("ckpt-") or not os.path.isdir(
        os.path.join(directory, name)
    ):
        raise CheckpointError(
            f"{path} names {name!r}, which is not a checkpoint folder in "
            f"{directory}."
        )
    return name


def load_learner(directory, *, pool=None, acquisition=None, **overrides):
    """Rebuild an `ActiveLearner` from its latest checkpoint.

    Args:
        directory: The state directory.
        pool: The `Pool` the labels came from, if any. Its fingerprint must
            match the one saved; its labels are restored from the state.
        acquisition: Needed only if the learner used a custom acquisition
            function, which cannot be saved.
        **overrides: Constructor arguments to change (e.g. `verbose`).

    Returns:
        The learner, refitted if the checkpoint was taken between adding
        labels and fitting.

    Raises:
        CheckpointError: no checkpoint, an unknown format, or a pool that
            does not match; the message says exactly what.
    """
    from keras_dbal.learner import ActiveLearner

    name = latest(directory)
    if name is None:
        raise CheckpointError(f"No checkpoint in {directory} (no {LATEST}).")
    folder = os.path.join(directory, name)
    state = _read_state(folder)
    settings = dict(state["settings"])
    if settings.pop("acquisition_is_custom"):
        if acquisition is None:
            raise CheckpointError(
                f"The learner in {directory} used the custom acquisition "
                f"function {settings['acquisition']!r}; pass it again as "
                "load_learner(..., acquisition=function)."
            )
        settings["acquisition"] = acquisition
    settings.update(overrides)
    model = keras.models.load_model(os.path.join(folder, "model.keras"))
    with np.load(os.path.join(folder, "arrays.npz")) as archive:
        arrays = {key: archive[key] for key in archive.files}
    learner = ActiveLearner(model, **settings)
    _assign(model.variables, _unnumbered(arrays, "variable"), folder)
    optimizer_values = _unnumbered(arrays, "optimizer")
    if optimizer_values:
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        _assign(model.optimizer.variables, optimizer_values, folder)
    learner.initial_weights_ = _unnumbered(arrays, "initial")
    learner.initial_optimizer_state_ = _unnumbered(arrays, "fresh_optimizer")
    learner.x_labelled_ = arrays["x_labelled"]
    learner.y_labelled_ = arrays["y_labelled"]
    learner.pool_indices_ = arrays["pool_indices"]
    learner.history_ = state["history"]
    learner.num_fits_ = state["num_fits"]
    learner.pool_ = state["pool"]
    learner.checkpoint_dir = directory
    if pool is not None:
        _restore_pool(learner, pool, directory)
    if state["needs_fit"]:
        learner.fit()
        learner.checkpoint()
    return learner


def _settings(learner):
    name = learner.acquisition_name
    custom = (
        name not in acquisition_lib.names()
        or acquisition_lib.get(name) is not learner.acquisition_fn
    )
    fit_kwargs = {}
    for key, value in learner.fit_kwargs.items():
        if isinstance(value, (bool, int, float, str, type(None))):
            fit_kwargs[key] = value
    return {
        "acquisition": learner.acquisition_name,
        "acquisition_is_custom": custom,
        "mc_samples": learner.mc_samples,
        "reset_weights": learner.reset_weights,
        "fit_kwargs": fit_kwargs,
        "pool_subset": learner.pool_subset,
        "chunk_size": learner.sampler.chunk_size,
        "consistent_masks": learner.consistent_masks,
        "allow_deterministic": learner.allow_deterministic,
        "seed": None if learner.seed is None else int(learner.seed),
        "verbose": learner.verbose,
    }


def _read_state(folder):
    path = os.path.join(folder, "state.json")
    try:
        with open(path) as file:
            state = json.load(file)
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"Cannot read {path}: {error}") from None
    found = state.get("format")
    if found != FORMAT:
        newer = isinstance(found, int) and found > FORMAT
        raise CheckpointError(
            f"{path} has checkpoint format {found!r}, saved by keras_dbal "
            f"{state.get('keras_dbal_version', 'unknown')}; this keras_dbal "
            f"({keras_dbal.__version__}) reads format {FORMAT}. "
            + ("Upgrade keras_dbal to load it." if newer else
               "Load it with the keras_dbal version that saved it.")
        )
    required = {"settings", "num_fits", "needs_fit", "history", "pool"}
    missing = sorted(required - state.keys())
    if missing:
        raise CheckpointError(f"{path} lacks the fields {missing}.")
    return state


def _restore_pool(learner, pool, directory):
    saved = learner.pool_
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
    from_pool = learner.pool_indices_ >= 0
    positions = learner.pool_indices_[from_pool]
    labels = learner.y_labelled_[from_pool]
    already = pool.labels_ >= 0
    if already.any() and not np.array_equal(
        np.flatnonzero(already), np.sort(positions)
    ):
        raise CheckpointError(
            "The pool given already has labels that differ from the "
            "checkpoint's; pass a fresh Pool to load_learner."
        )
    pool.labels_[positions] = labels


def _numbered(prefix, values):
    return {f"{prefix}_{i:05d}": value for i, value in enumerate(values)}


def _unnumbered(arrays, prefix):
    keys = sorted(key for key in arrays if key.startswith(prefix + "_"))
    return [arrays[key] for key in keys]


def _assign(variables, values, folder):
    variables = list(variables)
    if len(variables) != len(values):
        raise CheckpointError(
            f"The model in {folder} has {len(variables)} variables but the "
            f"checkpoint holds {len(values)}."
        )
    assign_values(variables, values)


def write_atomically(path, text):
    """Replace the file at `path` with `text`: written, fsynced, renamed."""
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    with open(temporary, "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _fsync_dir(os.path.dirname(path) or ".")


def _fsync_file(path):
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def _fsync_dir(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _remove_temporaries(directory):
    for name in os.listdir(directory):
        if ".tmp-" in name:
            path = os.path.join(directory, name)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)


def _prune(directory, keep):
    current = latest(directory)
    names = sorted(
        name for name in os.listdir(directory) if name.startswith("ckpt-")
    )
    for name in names[:-keep]:
        if name != current:
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
