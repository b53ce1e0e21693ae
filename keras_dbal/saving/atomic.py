"""Files replaced whole: a crash leaves the old version or the new one.

Every file keras_dbal writes for a person to keep (checkpoint pointers,
pending rounds, label templates, results) is written to a temporary file
beside it, fsynced, and renamed over the old one, so no reader ever sees
half of it. A failure (a full disk) removes the temporary file and leaves
the old version in place; a killed process leaves it behind, named
`<file>.tmp-<32 hex digits>`, and `remove_temporaries` removes exactly
those names, never a person's file that merely looks alike.
"""

import contextlib
import os
import re
import shutil
import uuid

__all__ = [
    "fsync_dir",
    "remove_temporaries",
    "replacing",
    "temporary_of",
    "temporary_path",
    "write_atomically",
]

_TEMPORARY = re.compile(r"^(.*)\.tmp-[0-9a-f]{32}$", re.DOTALL)


@contextlib.contextmanager
def replacing(path, mode="w"):
    """Yield a file open on a temporary path that replaces `path` on exit.

    A crash or an exception inside the context leaves `path` as it was
    (its temporary is removed, or cleaned up later by exact name); a
    reader at any moment sees the old file or the new one, whole.

    Args:
        path: The file to replace (or create).
        mode: `"w"` for text (no newline translation, as `csv` wants) or
            `"wb"` for bytes.
    """
    path = os.fspath(path)
    temporary = temporary_path(path)
    try:
        with open(
            temporary, mode, newline=None if "b" in mode else ""
        ) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    fsync_dir(os.path.dirname(path) or ".")


def write_atomically(path, text):
    """Replace the file at `path` with `text`."""
    with replacing(path) as file:
        file.write(text)


def fsync_dir(path):
    """Make a rename inside the folder `path` durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def temporary_path(path):
    """A new temporary name beside `path` (a file or a folder to become
    `path`); `path` may end in a separator for an anonymous one."""
    return f"{os.fspath(path)}.tmp-{uuid.uuid4().hex}"


def temporary_of(name):
    """The name whose temporary `name` is (`""` for an anonymous one), or
    None if `name` is not a temporary's."""
    match = _TEMPORARY.match(name)
    return None if match is None else match.group(1)


def remove_temporaries(folder, targets):
    """Remove what killed writers left in `folder`: the temporaries of
    `targets`.

    Args:
        folder: The folder to clean (nothing happens if it is missing).
        targets: Which names' temporaries to remove: a collection of
            names, or a function `name -> bool`. The empty name stands for
            anonymous temporaries (`.tmp-<hex>`).
    """
    if not os.path.isdir(folder):
        return
    wanted = targets if callable(targets) else targets.__contains__
    for name in os.listdir(folder):
        target = temporary_of(name)
        if target is None or not wanted(target):
            continue
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
