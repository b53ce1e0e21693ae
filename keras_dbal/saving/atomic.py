"""Files replaced whole: a crash leaves the old version or the new one.

Every file keras_dbal writes for a person to keep (checkpoint pointers,
pending rounds, label templates, results) is written to a temporary file
beside it, fsynced, and renamed over the old one, so no reader ever sees
half of it. A failure (a full disk) removes the temporary file and leaves
the old version in place.
"""

import contextlib
import os
import uuid

__all__ = ["fsync_dir", "replacing", "write_atomically"]


@contextlib.contextmanager
def replacing(path, mode="w"):
    """Yield a file open on a temporary path that replaces `path` on exit.

    Args:
        path: The file to replace (or create).
        mode: `"w"` for text (no newline translation, as `csv` wants) or
            `"wb"` for bytes.
    """
    path = os.fspath(path)
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
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
