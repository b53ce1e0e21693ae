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

A checkpoint of an older format is read by that format's reader and
upgraded (`keras_dbal.saving.formats`); `load_checkpoint` then writes the
upgraded checkpoint as the newest, as any save does, so the directory is
upgraded in place: a crash at any point leaves the old checkpoint or the
new one current, and the old one stays as the fallback until the next
save prunes it. One of a format newer than this release is refused.

This module saves and reads *state*: a model, JSON settings, a JSON record
and named arrays. It knows nothing of `ActiveLearner`, which builds itself
from what `load_checkpoint` returns (see `ActiveLearner.load`).
"""

import dataclasses
import os
import shutil
import warnings

import keras_dbal.saving.folders as folders
import keras_dbal.saving.formats as formats
from keras_dbal.saving.atomic import fsync_dir
from keras_dbal.saving.atomic import write_atomically
from keras_dbal.saving.errors import CheckpointError
from keras_dbal.saving.errors import CheckpointWarning
from keras_dbal.saving.errors import DamagedCheckpointError
from keras_dbal.saving.formats import numbered
from keras_dbal.saving.formats import unnumbered
from keras_dbal.saving.locking import lock_directory

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "CheckpointWarning",
    "load_checkpoint",
    "numbered",
    "peek_checkpoint",
    "records",
    "save_checkpoint",
    "unnumbered",
]

LATEST = folders.LATEST
_KEEP = 2


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
    clash = sorted(record.keys() & formats.OWN_FIELDS)
    if clash:
        raise ValueError(f"Record fields {clash} are the checkpoint's own.")
    os.makedirs(directory, exist_ok=True)
    folders.remove_temporaries(directory)
    name = f"ckpt-{folders.next_number(directory):08d}"
    temporary = folders.temporary_folder(directory)
    os.makedirs(temporary)
    try:
        formats.write(
            temporary, model, settings=settings, record=record,
            arrays=arrays, needs_fit=needs_fit,
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


def load_checkpoint(directory, *, required=(), describe=None):
    """The newest intact checkpoint in `directory`, its lock held.

    The lock is taken over from an older holder in this process, or held
    read-only where the directory cannot be written. A damaged newest
    checkpoint is moved aside (`CheckpointWarning`) and the one before it
    read; `LATEST` is repaired when it lags behind. A checkpoint of an
    older format is upgraded, and written back as the newest checkpoint
    (in memory only where the directory is read-only). The caller
    releases `checkpoint.lock` when it is done (or hands it on).

    Args:
        directory: The state directory.
        required: Record fields the caller needs: a checkpoint without one
            counts as damaged.
        describe: Optional function `(record, arrays) -> str` that says
            what a checkpoint holds, for the warning about a damaged one.

    Returns:
        A `Checkpoint`.

    Raises:
        CheckpointError: no checkpoint, none intact, or a format this
            release does not read; the message says exactly what.
        StateLockedError: another process is using the directory.
    """
    directory = os.fspath(directory)
    if not folders.checkpoints(directory):
        raise CheckpointError(f"No checkpoint in {directory}.")
    lock = lock_directory(directory, take_over=True, allow_read_only=True)
    try:
        name, contents = _read_newest_intact(
            directory, lock, required, describe
        )
        if lock.owned and contents.saved_format != formats.FORMAT:
            name = os.path.basename(save_checkpoint(
                directory, contents.model, settings=contents.settings,
                record=contents.record, arrays=contents.arrays,
                needs_fit=contents.needs_fit,
            ))
        elif lock.owned and folders.pointer(directory) != name:
            # A crash after the folder was renamed into place, before
            # LATEST was written.
            write_atomically(os.path.join(directory, LATEST), name)
    except BaseException:
        lock.release()
        raise
    return Checkpoint(
        directory=directory,
        name=name,
        model=contents.model,
        settings=contents.settings,
        record=contents.record,
        arrays=contents.arrays,
        needs_fit=contents.needs_fit,
        lock=lock,
    )


def peek_checkpoint(directory, keys=(), *, required=()):
    """The newest intact checkpoint's record and some of its arrays.

    Read without the model, without the lock and without moving anything
    (a damaged newest checkpoint is passed over, as `load_checkpoint`
    would; one of an older format is upgraded in memory only): what a
    status display needs while another process may be writing a newer
    checkpoint beside it.

    Args:
        directory: The state directory.
        keys: The arrays to read.
        required: Record fields the caller needs (see `load_checkpoint`).

    Returns:
        A `Checkpoint` without `model` and `lock` (both None).

    Raises:
        CheckpointError: no checkpoint, none intact, or a format this
            release does not read.
    """
    directory = os.fspath(directory)
    reasons = []
    for name in reversed(folders.checkpoints(directory)):
        folder = os.path.join(directory, name)
        try:
            contents = formats.read(
                folder, required=required, keys=keys, model=False
            )
        except (DamagedCheckpointError, FileNotFoundError) as error:
            # FileNotFoundError: pruned by a writer while being read.
            reasons.append(str(error))
            continue
        return Checkpoint(
            directory=directory, name=name, model=None,
            settings=contents.settings, record=contents.record,
            arrays=contents.arrays, needs_fit=contents.needs_fit,
            lock=None,
        )
    raise CheckpointError(
        f"No intact checkpoint in {directory}"
        + (": " + " ".join(reasons) if reasons else ".")
    )


def records(directory):
    """The record of every checkpoint folder in `directory`, oldest first.

    Damaged folders count too, and none is checked against its recorded
    sizes and checksums: what a caller needs before it deletes a directory
    it is not sure holds nothing of value. Each is read as the current
    format (an older one upgraded in memory), without the model or the
    lock, and nothing is moved.

    Returns:
        A list with each folder's record (see `Checkpoint.record`), or
        None for one that cannot be read.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        return []
    found = []
    for name in folders.numbered_folders(directory):
        try:
            contents = formats.read(
                os.path.join(directory, name), keys=(), model=False,
                verify=False,
            )
        except (CheckpointError, OSError):
            found.append(None)
        else:
            found.append(contents.record)
    return found


def _read_newest_intact(directory, lock, required, describe):
    """`(name, contents)` of the newest intact checkpoint."""
    damaged = []
    for name in reversed(folders.checkpoints(directory)):
        try:
            contents = formats.read(
                os.path.join(directory, name), required=required
            )
        except DamagedCheckpointError as error:
            damaged.append((name, str(error)))
            continue
        held = ""
        if describe is not None:
            held = f" ({describe(contents.record, contents.arrays)})"
        for bad_name, reason in damaged:
            moved = folders.set_aside(directory, bad_name, lock)
            warnings.warn(
                f"{reason} {moved}; continuing from {name}{held}.",
                CheckpointWarning,
                stacklevel=5,
            )
        return name, contents
    raise CheckpointError(
        f"No intact checkpoint in {directory}: "
        + " ".join(reason for _, reason in damaged)
    )
