import os
import types
from importlib.machinery import ModuleSpec

import pytest

from keras_dbal.saving.locking import LOCK_FILE
from keras_dbal.saving.locking import StateLockedError
from keras_dbal.saving.locking import describe_command
from keras_dbal.saving.locking import lock_directory

# File formats, commands and checks that do not depend on the Keras
# backend: CI runs this module under TensorFlow only.
pytestmark = pytest.mark.backend_independent


def test_second_handle_in_one_process_is_refused(tmp_path):
    first = lock_directory(tmp_path / "s")
    with pytest.raises(StateLockedError, match="in use by another"):
        lock_directory(tmp_path / "s")
    first.release()
    with lock_directory(tmp_path / "s") as again:
        assert again.owned


def test_take_over_retires_the_older_handle(tmp_path):
    older = lock_directory(tmp_path)
    newer = lock_directory(tmp_path, take_over=True)
    assert newer.owned and not older.owned
    with pytest.raises(StateLockedError, match="taken over"):
        older.check()
    older.release()  # a retired handle gives nothing back
    assert newer.owned
    newer.check()
    newer.release()
    assert not newer.owned


def test_lock_is_released_when_the_handle_is_collected(tmp_path):
    lock_directory(tmp_path)  # dropped at once
    assert lock_directory(tmp_path).owned


def test_lock_file_names_the_holder(tmp_path):
    with lock_directory(tmp_path):
        text = (tmp_path / LOCK_FILE).read_text()
    assert f'"pid": {os.getpid()}' in text


def refuse_lock_files(monkeypatch):
    """Make every lock file unopenable, as in a directory this user
    cannot write."""
    real_open = os.open

    def read_only(path, flags, *args):
        if str(path).endswith(LOCK_FILE):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)


def test_unwritable_directory_gives_a_read_only_handle(tmp_path, monkeypatch):
    refuse_lock_files(monkeypatch)
    with pytest.raises(PermissionError):
        lock_directory(tmp_path)
    handle = lock_directory(tmp_path, allow_read_only=True)
    with pytest.raises(StateLockedError, match="read-only"):
        handle.check()


def test_the_holder_is_named_as_its_command_was_typed():
    def main_module(name):
        return types.SimpleNamespace(__spec__=ModuleSpec(name, None))

    assert describe_command(
        ["/x/keras_dbal/__main__.py", "teach", "--state", "s", "l.csv"],
        main_module("keras_dbal.__main__"),
    ) == "keras-dbal teach --state s l.csv"
    assert describe_command(
        ["/x/tool/__main__.py", "go"], main_module("tool.__main__")
    ) == "python -m tool go"
    assert describe_command(
        ["/venv/bin/keras-dbal", "query"], main_module("__main__")
    ) == "keras-dbal query"
