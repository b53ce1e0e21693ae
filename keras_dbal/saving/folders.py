"""The layout of a checkpoint directory: numbered folders and their files.

Which `ckpt-*` folders are complete, the next number to use (never one
used before), the size and SHA-256 a file was saved with, setting a
damaged folder aside, and pruning old ones so that a crash never leaves
half a checkpoint. `keras_dbal.saving.checkpoint` reads and writes the contents.
"""

import hashlib
import os
import re
import shutil

import keras_dbal.saving.atomic as atomic
from keras_dbal.saving.atomic import fsync_dir
from keras_dbal.saving.locking import LOCK_FILE

__all__ = [
    "DAMAGED",
    "LATEST",
    "checkpoints",
    "describe_file",
    "difference",
    "fsync_file",
    "latest",
    "next_number",
    "numbered_folders",
    "own_entries",
    "pointer",
    "prune",
    "remove_checkpoints",
    "remove_temporaries",
    "set_aside",
    "temporary_folder",
]

LATEST = "LATEST"
DAMAGED = "damaged-"
_NUMBERED = re.compile(r"^(?:damaged-)?ckpt-(\d{8})$")


def latest(directory):
    """The name of the current (newest complete) checkpoint, or None."""
    names = checkpoints(directory)
    return names[-1] if names else None


def checkpoints(directory):
    """Complete checkpoint folders of `directory`, oldest first."""
    if not os.path.isdir(directory):
        return []
    return sorted(
        name for name in os.listdir(directory)
        if _NUMBERED.match(name) and not name.startswith(DAMAGED)
        and os.path.isdir(os.path.join(directory, name))
    )


def numbered_folders(directory):
    """Every `ckpt-*` folder of `directory`, damaged ones too, by name."""
    return sorted(
        name for name in os.listdir(directory) if _NUMBERED.match(name)
    )


def own_entries(directory):
    """The names in `directory` that saving wrote: checkpoints (damaged
    ones too), `LATEST`, the lock file and temporaries of killed saves;
    never a file of anyone else's."""
    return sorted(
        name for name in os.listdir(directory)
        if _NUMBERED.match(name) or name in (LATEST, LOCK_FILE)
        or atomic.temporary_of(name) in ("", LATEST)
    )


def remove_checkpoints(directory, lock):
    """Remove every entry saving wrote in `directory` (`own_entries`),
    the lock file last, while `lock` still holds it; a person's own files
    stay.

    Args:
        directory: The state directory.
        lock: Its held `StateLock`; released here.
    """
    lock.check()
    for name in own_entries(directory):
        if name == LOCK_FILE:
            continue
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    lock.discard()


def next_number(directory):
    """One past every number ever used here, `LATEST`'s included."""
    numbers = [
        int(match.group(1)) for match in map(
            _NUMBERED.match, os.listdir(directory)
        ) if match
    ]
    try:
        with open(os.path.join(directory, LATEST)) as file:
            match = _NUMBERED.match(file.read().strip())
        if match:
            numbers.append(int(match.group(1)))
    except OSError:
        pass
    return max(numbers, default=-1) + 1


def describe_file(path):
    """`{"size", "sha256"}` of a file, or None if there is none.

    Raises:
        OSError: the file exists but cannot be read (not damage).
    """
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    return {"size": os.path.getsize(path), "sha256": digest.hexdigest()}


def difference(found, expected):
    if found is None:
        return "the file is missing"
    if found["size"] != expected["size"]:
        return (
            f"{found['size']} bytes where {expected['size']} were saved"
        )
    return "its contents changed since it was saved (SHA-256 differs)"


def set_aside(directory, name, lock):
    if not lock.owned:
        return "(left in place: the directory is read-only)"
    target = os.path.join(directory, DAMAGED + name)
    os.rename(os.path.join(directory, name), target)
    fsync_dir(directory)
    return f"It was moved aside to {target}"


def pointer(directory):
    try:
        with open(os.path.join(directory, LATEST)) as file:
            return file.read().strip()
    except OSError:
        return None


def fsync_file(path):
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def remove_temporaries(directory):
    """Remove the half-written checkpoints and `LATEST`s of killed saves."""
    atomic.remove_temporaries(directory, {"", LATEST})


def temporary_folder(directory):
    """A new name for a checkpoint being written or deleted."""
    return atomic.temporary_path(os.path.join(directory, ""))


def prune(directory, keep):
    for name in checkpoints(directory)[:-keep]:
        # Renamed first, so a crash part way through deleting leaves a
        # temporary (removed by the next save), never a half checkpoint.
        doomed = temporary_folder(directory)
        os.rename(os.path.join(directory, name), doomed)
        shutil.rmtree(doomed, ignore_errors=True)
