"""Checkpoints of a learner's state: no label is ever lost.

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
`keras_dbal.saving.locking`), so a second process gets a clear error instead of
interleaving its checkpoints with the first's.

This module saves and reads *state*: a model, JSON settings, a JSON record
and named arrays. It knows nothing of `ActiveLearner`, which builds itself
from what `load_checkpoint` returns (see `ActiveLearner.load`).
"""

import dataclasses
import json
import os
import shutil
import warnings

import keras
import numpy as np

import keras_dbal.saving.folders as folders
from keras_dbal.saving.atomic import fsync_dir
from keras_dbal.saving.atomic import write_atomically
from keras_dbal.saving.locking import lock_directory
from keras_dbal.utils.variables import assign_values
from keras_dbal.utils.variables import variable_values
from keras_dbal.version import __version__

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "CheckpointWarning",
    "load_checkpoint",
    "numbered",
    "peek_checkpoint",
    "save_checkpoint",
    "unnumbered",
]

FORMAT = 1
LATEST = folders.LATEST
_KEEP = 2
_CHECKSUMMED = ("model.keras", "arrays.npz")
# The fields of state.json this module writes; the rest is the record.
_OWN_FIELDS = frozenset({
    "format", "keras_dbal_version", "keras_version", "backend", "settings",
    "needs_fit", "files",
})


class CheckpointError(ValueError):
    """A state directory that cannot be used, and exactly why."""


class CheckpointWarning(UserWarning):
    """A damaged checkpoint was set aside and an older one loaded."""


class _Damaged(CheckpointError):
    """A checkpoint whose files cannot be read back as they were saved."""


@dataclasses.dataclass
class Checkpoint:
    """What `load_checkpoint` read back, with the directory's lock.

    Attributes:
        directory: The state directory.
        name: The checkpoint's folder name, `ckpt-NNNNNNNN`.
        model: The model, with its and its optimizer's variables restored.
        settings: The JSON settings saved with it.
        record: Every other JSON field saved with it (history, counters).
        arrays: The named arrays saved with it.
        needs_fit: Whether labels were added after the last fit.
        lock: The directory's `StateLock`, held (or read-only).
    """

    directory: str
    name: str
    model: object
    settings: dict
    record: dict
    arrays: dict
    needs_fit: bool
    lock: object


def save_checkpoint(
    directory, model, *, settings, record, arrays, needs_fit=False
):
    """Write a new checkpoint into `directory` atomically.

    The caller holds the directory's lock.

    Args:
        directory: The state directory (created if missing).
        model: The Keras model; its and its optimizer's variables are
            saved as arrays too (seed generator states included).
        settings: JSON-serializable settings.
        record: JSON-serializable fields of the caller's own, stored beside
            the settings (not named as one of this module's fields).
        arrays: Named numpy arrays (`numbered` turns a list into names).
        needs_fit: Record that labels were added but the model was not
            refitted yet.

    Returns:
        The path of the new checkpoint folder.
    """
    clash = sorted(record.keys() & _OWN_FIELDS)
    if clash:
        raise ValueError(f"Record fields {clash} are the checkpoint's own.")
    os.makedirs(directory, exist_ok=True)
    folders.remove_temporaries(directory)
    name = f"ckpt-{folders.next_number(directory):08d}"
    temporary = folders.temporary_folder(directory)
    os.makedirs(temporary)
    try:
        _write_checkpoint(
            temporary, model, settings, record, arrays, needs_fit
        )
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


def _write_checkpoint(folder, model, settings, record, arrays, needs_fit):
    if model.optimizer is not None and not model.optimizer.built:
        # Saved unbuilt, its 2 variables would not match the built
        # optimizer that loading creates, and Keras would skip them.
        model.optimizer.build(model.trainable_variables)
    model.save(os.path.join(folder, "model.keras"))
    arrays = dict(arrays)
    arrays.update(numbered("variable", variable_values(model.variables)))
    if model.optimizer is not None:
        arrays.update(
            numbered("optimizer", variable_values(model.optimizer.variables))
        )
    np.savez(os.path.join(folder, "arrays.npz"), **arrays)
    state = {
        "format": FORMAT,
        "keras_dbal_version": __version__,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "settings": settings,
        **record,
        "needs_fit": bool(needs_fit),
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


def load_checkpoint(directory, *, required=(), describe=None):
    """The newest intact checkpoint in `directory`, its lock held.

    The lock is taken over from an older holder in this process, or held
    read-only where the directory cannot be written. A damaged newest
    checkpoint is moved aside (`CheckpointWarning`) and the one before it
    read; `LATEST` is repaired when it lags behind. The caller releases
    `checkpoint.lock` when it is done (or hands it on).

    Args:
        directory: The state directory.
        required: Record fields the caller needs: a checkpoint without one
            counts as damaged.
        describe: Optional function `(record, arrays) -> str` that says
            what a checkpoint holds, for the warning about a damaged one.

    Returns:
        A `Checkpoint`.

    Raises:
        CheckpointError: no checkpoint, none intact, or an unknown format;
            the message says exactly what.
        StateLockedError: another process is using the directory.
    """
    directory = os.fspath(directory)
    if not folders.checkpoints(directory):
        raise CheckpointError(f"No checkpoint in {directory}.")
    lock = lock_directory(directory, take_over=True, allow_read_only=True)
    try:
        name, state, model, arrays = _read_newest_intact(
            directory, lock, required, describe
        )
        folder = os.path.join(directory, name)
        _assign(model.variables, unnumbered(arrays, "variable"), folder)
        optimizer_values = unnumbered(arrays, "optimizer")
        if optimizer_values:
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            _assign(model.optimizer.variables, optimizer_values, folder)
        if lock.owned and folders.pointer(directory) != name:
            # A crash after the folder was renamed into place, before
            # LATEST was written.
            write_atomically(os.path.join(directory, LATEST), name)
    except BaseException:
        lock.release()
        raise
    return Checkpoint(
        directory=directory,
        name=name,
        model=model,
        settings=dict(state["settings"]),
        record={k: v for k, v in state.items() if k not in _OWN_FIELDS},
        arrays={
            key: value for key, value in arrays.items()
            if not key.startswith(("variable_", "optimizer_"))
        },
        needs_fit=bool(state["needs_fit"]),
        lock=lock,
    )


def peek_checkpoint(directory, keys=(), *, required=()):
    """The newest intact checkpoint's record and some of its arrays.

    Read without the model, without the lock and without moving anything
    (a damaged newest checkpoint is passed over, as `load_checkpoint`
    would): what a status display needs while another process may be
    writing a newer checkpoint beside it.

    Args:
        directory: The state directory.
        keys: The arrays to read.
        required: Record fields the caller needs (see `load_checkpoint`).

    Returns:
        A `Checkpoint` without `model` and `lock` (both None).

    Raises:
        CheckpointError: no checkpoint, or none intact.
    """
    directory = os.fspath(directory)
    reasons = []
    for name in reversed(folders.checkpoints(directory)):
        folder = os.path.join(directory, name)
        try:
            state = _read_state(folder, required)
            _check_files(folder, state)
            with np.load(
                os.path.join(folder, "arrays.npz"), allow_pickle=False
            ) as archive:
                arrays = {key: archive[key] for key in keys}
        except (_Damaged, FileNotFoundError) as error:
            # FileNotFoundError: pruned by a writer while being read.
            reasons.append(str(error))
            continue
        return Checkpoint(
            directory=directory, name=name, model=None,
            settings=dict(state["settings"]),
            record={k: v for k, v in state.items() if k not in _OWN_FIELDS},
            arrays=arrays, needs_fit=bool(state["needs_fit"]), lock=None,
        )
    raise CheckpointError(
        f"No intact checkpoint in {directory}"
        + (": " + " ".join(reasons) if reasons else ".")
    )


def _read_newest_intact(directory, lock, required, describe):
    """`(name, state, model, arrays)` of the newest intact checkpoint."""
    damaged = []
    for name in reversed(folders.checkpoints(directory)):
        folder = os.path.join(directory, name)
        try:
            state, model, arrays = _read_checkpoint(folder, required)
        except _Damaged as error:
            damaged.append((name, str(error)))
            continue
        held = ""
        if describe is not None:
            record = {k: v for k, v in state.items() if k not in _OWN_FIELDS}
            held = f" ({describe(record, arrays)})"
        for bad_name, reason in damaged:
            moved = folders.set_aside(directory, bad_name, lock)
            warnings.warn(
                f"{reason} {moved}; continuing from {name}{held}.",
                CheckpointWarning,
                stacklevel=5,
            )
        return name, state, model, arrays
    raise CheckpointError(
        f"No intact checkpoint in {directory}: "
        + " ".join(reason for _, reason in damaged)
    )


def _read_checkpoint(folder, required):
    """State, model and arrays of one checkpoint.

    Damage (`_Damaged`: the folder may be set aside) is only what the
    checkpoint's own record proves: a file missing, or not the size and
    SHA-256 it was saved with, or an unreadable `state.json`. A file that
    matches its record but still fails to load (out of memory, a custom
    layer not imported) is a `CheckpointError`, and nothing is moved.
    Checkpoints of earlier builds have no record; a file of theirs that
    cannot be read counts as damage.
    """
    state = _read_state(folder, required)
    recorded = _check_files(folder, state)
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


def _check_files(folder, state):
    """The recorded files, each checked against its size and SHA-256."""
    recorded = state.get("files")
    for filename, expected in (recorded or {}).items():
        found = folders.describe_file(os.path.join(folder, filename))
        if found != expected:
            raise _Damaged(
                f"{os.path.join(folder, filename)} is damaged: "
                f"{folders.difference(found, expected)}."
            )
    return recorded


def _read_state(folder, required):
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
            f"({__version__}) reads format {FORMAT}. "
            + ("Upgrade keras_dbal to load it." if newer else
               "Load it with the keras_dbal version that saved it.")
        )
    missing = sorted({"settings", "needs_fit", *required} - state.keys())
    if missing:
        raise _Damaged(f"{path} lacks the fields {missing}.")
    return state


def numbered(prefix, values):
    """`{prefix_00000: values[0], ...}`: a list of arrays as named arrays."""
    return {f"{prefix}_{i:05d}": value for i, value in enumerate(values)}


def unnumbered(arrays, prefix):
    """The list `numbered(prefix, ...)` stored, in order."""
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


