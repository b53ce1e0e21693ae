"""Saving and restoring an `ActiveLearner`: no label is ever lost.

A state directory holds numbered checkpoints:

    state/
      .lock               held by the one process writing here
      LATEST              "ckpt-00000007", for people and older versions
      ckpt-00000006/      the previous checkpoint, kept as a fallback
      ckpt-00000007/
        model.keras       architecture, weights, optimizer, compile config
        arrays.npz        labelled images and labels, their pool positions,
                          initial weights, every model and optimizer
                          variable (seed generator states included)
        state.json        settings, history, counters, pool fingerprint,
                          and the size and SHA-256 of the two files above

A checkpoint is written into a temporary folder, every file is fsynced,
and the folder is renamed into place: a `ckpt-*` folder is complete by
construction. The current checkpoint is the newest complete one, so the
numbering and the current checkpoint cannot disagree: a crash between the
rename and the update of `LATEST` only leaves `LATEST` one behind, and the
next load continues from the newer folder and repairs it. A save never
reuses a number. A checkpoint whose files no longer match their recorded
sizes and checksums (a truncated file, a bad disk) is moved aside to
`damaged-ckpt-*` with a `CheckpointWarning`, and loading continues from
the newest intact one. Saving and loading hold the directory's lock (see
`keras_dbal.locking`), so a second process gets a clear error instead of
interleaving its checkpoints with the first's.
"""

import json
import os
import shutil
import uuid
import warnings

import keras
import numpy as np

import keras_dbal
from keras_dbal import acquisition as acquisition_lib
from keras_dbal import checkpoint_folders as folders
from keras_dbal.atomic import fsync_dir
from keras_dbal.atomic import write_atomically
from keras_dbal.checkpoint_folders import latest
from keras_dbal.locking import lock_directory
from keras_dbal.refit import assign_values
from keras_dbal.refit import variable_values

__all__ = [
    "CheckpointError",
    "CheckpointWarning",
    "latest",
    "load_learner",
    "save_learner",
]

FORMAT = 1
LATEST = folders.LATEST
_KEEP = 2
_CHECKSUMMED = ("model.keras", "arrays.npz")


class CheckpointError(ValueError):
    """A state directory that cannot be used, and exactly why."""


class CheckpointWarning(UserWarning):
    """A damaged checkpoint was set aside and an older one loaded."""


class _Damaged(CheckpointError):
    """A checkpoint whose files cannot be read back as they were saved."""


def save_learner(learner, directory, *, needs_fit=False):
    """Write a new checkpoint of `learner` into `directory` atomically.

    The caller holds the directory's lock (`ActiveLearner.save` does).

    Args:
        learner: The `ActiveLearner`.
        directory: The state directory (created if missing).
        needs_fit: Record that labels were added but the model was not
            refitted yet; `load_learner` then refits.

    Returns:
        The path of the new checkpoint folder.
    """
    os.makedirs(directory, exist_ok=True)
    folders.remove_temporaries(directory)
    name = f"ckpt-{folders.next_number(directory):08d}"
    temporary = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
    os.makedirs(temporary)
    try:
        _write_checkpoint(learner, temporary, needs_fit)
        final = os.path.join(directory, name)
        os.rename(temporary, final)
    except BaseException:
        # A full disk or an interrupt: free the space now; what was there
        # before is untouched.
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    fsync_dir(directory)
    write_atomically(os.path.join(directory, LATEST), name)
    folders.prune(directory, keep=_KEEP)
    return final


def _write_checkpoint(learner, folder, needs_fit):
    model = learner.model
    if model.optimizer is not None and not model.optimizer.built:
        # Saved unbuilt, its 2 variables would not match the built
        # optimizer that loading creates, and Keras would skip them.
        model.optimizer.build(model.trainable_variables)
    model.save(os.path.join(folder, "model.keras"))
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
    np.savez(os.path.join(folder, "arrays.npz"), **arrays)
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
        "files": {
            filename: folders.describe_file(os.path.join(folder, filename))
            for filename in _CHECKSUMMED
        },
    }
    with open(os.path.join(folder, "state.json"), "w") as file:
        json.dump(state, file, indent=1)
    for filename in os.listdir(folder):
        folders.fsync_file(os.path.join(folder, filename))
    fsync_dir(folder)


def load_learner(directory, *, pool=None, acquisition=None, **overrides):
    """Rebuild an `ActiveLearner` from its latest checkpoint.

    The learner holds the directory's lock until it is closed; a learner
    loaded later in the same process takes the lock over. A damaged newest
    checkpoint is moved aside (`CheckpointWarning`) and the one before it
    is loaded.

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
        CheckpointError: no checkpoint, none intact, an unknown format, or
            a pool that does not match; the message says exactly what.
        StateLockedError: another process is using the directory.
    """
    from keras_dbal.learner import ActiveLearner

    directory = os.fspath(directory)
    if not folders.checkpoints(directory):
        raise CheckpointError(f"No checkpoint in {directory}.")
    lock = lock_directory(directory, take_over=True, allow_read_only=True)
    try:
        name, state, model, arrays = _read_newest_intact(directory, lock)
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
        learner = ActiveLearner(model, **settings)
        folder = os.path.join(directory, name)
        _assign(model.variables, _unnumbered(arrays, "variable"), folder)
        optimizer_values = _unnumbered(arrays, "optimizer")
        if optimizer_values:
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            _assign(model.optimizer.variables, optimizer_values, folder)
    except BaseException:
        lock.release()
        raise
    learner.initial_weights_ = _unnumbered(arrays, "initial")
    learner.initial_optimizer_state_ = _unnumbered(arrays, "fresh_optimizer")
    learner.x_labelled_ = arrays["x_labelled"]
    learner.y_labelled_ = arrays["y_labelled"]
    learner.pool_indices_ = arrays["pool_indices"]
    learner.history_ = state["history"]
    learner.num_fits_ = state["num_fits"]
    learner.pool_ = state["pool"]
    learner.checkpoint_dir = directory
    learner._lock = lock
    if lock.owned and folders.pointer(directory) != name:
        # A crash after the folder was renamed into place, before LATEST.
        write_atomically(os.path.join(directory, LATEST), name)
    if pool is not None:
        _restore_pool(learner, pool, directory)
    if state["needs_fit"]:
        learner.fit()
        learner.checkpoint()
    return learner


def _read_newest_intact(directory, lock):
    """`(name, state, model, arrays)` of the newest intact checkpoint."""
    damaged = []
    for name in reversed(folders.checkpoints(directory)):
        folder = os.path.join(directory, name)
        try:
            state, model, arrays = _read_checkpoint(folder)
        except _Damaged as error:
            damaged.append((name, str(error)))
            continue
        for bad_name, reason in damaged:
            moved = folders.set_aside(directory, bad_name, lock)
            warnings.warn(
                f"{reason} {moved}; continuing from {name} "
                f"({len(arrays['y_labelled'])} labels, "
                f"{len(state['history'])} queries).",
                CheckpointWarning,
                stacklevel=4,
            )
        return name, state, model, arrays
    raise CheckpointError(
        f"No intact checkpoint in {directory}: "
        + " ".join(reason for _, reason in damaged)
    )


def _read_checkpoint(folder):
    """State, model and arrays of one checkpoint.

    Damage (`_Damaged`: the folder may be set aside) is only what the
    checkpoint's own record proves: a file missing, or not the size and
    SHA-256 it was saved with, or an unreadable `state.json`. A file that
    matches its record but still fails to load (out of memory, a custom
    layer not imported) is a `CheckpointError`, and nothing is moved.
    Checkpoints of earlier builds have no record; a file of theirs that
    cannot be read counts as damage.
    """
    state = _read_state(folder)
    recorded = state.get("files")
    for filename, expected in (recorded or {}).items():
        found = folders.describe_file(os.path.join(folder, filename))
        if found != expected:
            raise _Damaged(
                f"{os.path.join(folder, filename)} is damaged: "
                f"{folders.difference(found, expected)}."
            )
    failure = CheckpointError if recorded else _Damaged
    path = os.path.join(folder, "model.keras")
    try:
        model = keras.models.load_model(path)
    except Exception as error:  # zip, HDF5 and deserialization errors
        raise failure(f"Cannot load {path}: {error}") from None
    path = os.path.join(folder, "arrays.npz")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except Exception as error:  # zip, format and OS errors alike
        raise failure(f"Cannot read {path}: {error}") from None
    return state, model, arrays


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
        "from_logits": learner.from_logits,
        "allow_deterministic": learner.allow_deterministic,
        "seed": None if learner.seed is None else int(learner.seed),
        "verbose": learner.verbose,
    }


def _read_state(folder):
    path = os.path.join(folder, "state.json")
    try:
        with open(path) as file:
            state = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _Damaged(f"Cannot read {path}: {error}") from None
    if not isinstance(state, dict):
        raise _Damaged(f"{path} does not hold a checkpoint's state.")
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
        raise _Damaged(f"{path} lacks the fields {missing}.")
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
    try:
        learner._sync_pool(pool)
    except ValueError as error:
        raise CheckpointError(
            f"{error} Pass a fresh Pool to load_learner."
        ) from None
    if pool.labelled_mask.sum() != (learner.pool_indices_ >= 0).sum():
        raise CheckpointError(
            "The pool given has labels the checkpoint does not know of; "
            "pass a fresh Pool to load_learner."
        )


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


