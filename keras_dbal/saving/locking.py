"""One writer per state directory: an exclusive lock held while in use.

A state directory (an `ActiveLearner`'s checkpoints, a labelling session)
has one writer at a time. The lock is `fcntl.flock` on the file `.lock`
inside it, so the kernel releases it when its process ends, SIGKILL
included: a dead holder never leaves a stale lock behind. The file also
names its last holder (process id, host, command), which is what the error
tells a second process that finds the directory in use.

Within one process, a newer holder of the same directory takes the lock
over from an older one (a notebook that loads the same learner twice);
the older handle can no longer write, and says so.
"""

import errno
import json
import os
import socket
import sys
import threading
import uuid
import weakref

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

__all__ = ["StateLockedError", "describe_command", "lock_directory"]

LOCK_FILE = ".lock"

# realpath -> _Held, for the directories this process has locked.
_held = {}
_held_guard = threading.Lock()


class StateLockedError(ValueError):
    """A state directory is in use by another process or handle."""


class _Held:
    """One process-wide lock: its file descriptor and current owner."""

    def __init__(self, descriptor, owner):
        self.descriptor = descriptor
        self.owner = owner


class StateLock:
    """A handle on the lock of one state directory.

    Created by `lock_directory`; `check()` before every write, `release()`
    when done (also run when the handle is garbage collected).
    """

    def __init__(self, directory, path, held, token, read_only=False):
        self.directory = directory
        self.read_only = read_only
        self._path = path
        self._held = held
        self._token = token
        self._finalizer = weakref.finalize(self, _release, path, held, token)

    @property
    def owned(self):
        """Whether this handle may write into the directory now."""
        return (
            not self.read_only
            and self._held is not None
            and self._held.owner == self._token
            and _held.get(self._path) is self._held
        )

    def check(self):
        """Raise unless this handle may write into the directory."""
        if self.read_only:
            raise StateLockedError(
                f"{self.directory} could not be opened for writing (it is "
                "on a read-only file system or not writable by this user); "
                "nothing can be saved there."
            )
        if not self.owned:
            raise StateLockedError(
                f"{self.directory} was taken over by a newer learner or "
                "session in this process (loaded or created after this "
                "one); use that one. Nothing was written."
            )

    def release(self):
        """Give the lock back (if this handle still owns it)."""
        self._finalizer()

    def discard(self):
        """Delete the lock file, then give the lock back: for a directory
        being removed. Only the holder can, so no other process is using
        the directory meanwhile."""
        self.check()
        os.remove(os.path.join(self._path, LOCK_FILE))
        self.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()


def lock_directory(directory, *, take_over=False, allow_read_only=False):
    """Take the exclusive lock of a state directory.

    Args:
        directory: The state directory (created if missing).
        take_over: If another handle in this process holds the lock, take
            it over (that handle can no longer write) instead of raising.
        allow_read_only: On a directory that cannot be written, return a
            read-only handle (whose `check()` raises) instead of raising.

    Returns:
        A `StateLock`.

    Raises:
        StateLockedError: another process holds the lock (the message
            names it), or another handle in this process does and
            `take_over` is False.
    """
    directory = os.fspath(directory)
    try:
        os.makedirs(directory, exist_ok=True)
        path = os.path.realpath(directory)
    except OSError as error:
        if allow_read_only and _is_read_only(error) and os.path.isdir(
            directory
        ):
            return StateLock(directory, None, None, None, read_only=True)
        raise
    token = uuid.uuid4().hex
    with _held_guard:
        held = _held.get(path)
        if held is not None:
            if not take_over:
                raise StateLockedError(
                    f"{directory} is in use by another learner or session "
                    "in this process; close() it first."
                )
            held.owner = token
            return StateLock(directory, path, held, token)
        try:
            descriptor = os.open(
                os.path.join(path, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644
            )
        except OSError as error:
            if allow_read_only and _is_read_only(error):
                return StateLock(directory, None, None, None, read_only=True)
            raise
        try:
            _lock(descriptor)
        except BlockingIOError:
            holder = _describe_holder(descriptor)
            os.close(descriptor)
            raise StateLockedError(
                f"{directory} is in use by {holder}. Wait for it to finish "
                "(two writers would overwrite each other's work); if that "
                "process has ended, the lock is already free: try again."
            ) from None
        except BaseException:
            os.close(descriptor)
            raise
        _write_holder(descriptor)
        held = _Held(descriptor, token)
        _held[path] = held
    return StateLock(directory, path, held, token)


def _release(path, held, token):
    if held is None:
        return
    with _held_guard:
        if held.owner != token or _held.get(path) is not held:
            return
        del _held[path]
        # Closing the descriptor releases the flock.
        os.close(held.descriptor)


def _lock(descriptor):
    if fcntl is not None:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    import msvcrt

    try:
        msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
    except OSError:
        raise BlockingIOError from None


def _write_holder(descriptor):
    # No time stamp: the same process writes the same bytes every time.
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": describe_command(sys.argv, sys.modules.get("__main__")),
    }
    data = json.dumps(holder).encode()
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, data, 0)
    except (OSError, AttributeError):  # no pwrite on Windows
        pass  # who holds it is a courtesy, not part of the lock


def describe_command(argv, main_module):
    """The command line as its user typed it, for the lock's holder.

    `python -m package` puts the path of the package's `__main__.py` in
    `argv[0]`; it is named as typed (`python -m package`), and our own
    package by its console script, `keras-dbal`.
    """
    if not argv:
        return ""
    program = os.path.basename(argv[0])
    spec = getattr(main_module, "__spec__", None)
    if program == "__main__.py" and spec is not None and spec.name:
        package = spec.name.removesuffix(".__main__")
        program = (
            "keras-dbal" if package == __name__.split(".")[0]
            else f"python -m {package}"
        )
    return " ".join([program, *argv[1:]])


def _describe_holder(descriptor):
    try:
        holder = json.loads(os.pread(descriptor, 4096, 0))
        return (
            f"process {holder['pid']} on {holder['host']} "
            f"({holder['command']!r})"
        )
    except (OSError, AttributeError, ValueError, KeyError, TypeError):
        return "another process"


def _is_read_only(error):
    return error.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
