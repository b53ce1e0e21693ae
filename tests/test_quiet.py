import pytest

from keras_dbal import _quiet

# File formats, commands and checks that do not depend on the Keras
# backend: CI runs this module under TensorFlow only.
pytestmark = pytest.mark.backend_independent

START_UP = (
    b"WARNING: All log messages before absl::InitializeLog() is called are "
    b"written to STDERR\n"
    b"I0000 00:00:1795823564.596450    4693 cudart_stub.cc:31] Could not "
    b"find cuda drivers on your machine, GPU will not be used.\n"
    b"E0000 00:00:1795824495.127288    8365 cuda_platform.cc:52] failed call "
    b"to cuInit: INTERNAL: CUDA error\n"
    b"To enable the following instructions: AVX2 FMA, in other operations\n"
)


def test_start_up_notes_are_dropped_and_the_rest_kept():
    kept = (
        b"F0000 00:00:1.5    12 check.cc:3] Check failed: x\n"
        b"Traceback (most recent call last):\n"
        b"keras-dbal: error: something the user must see\n"
    )
    assert _quiet.keep_lines(START_UP + kept) == kept
    assert _quiet.keep_lines(b"no newline at the end") == (
        b"no newline at the end"
    )


@pytest.mark.parametrize(
    "argv, orig_argv, ours",
    [
        (["keras-dbal", "run"], ["python", "keras-dbal", "run"], True),
        (["-m"], ["python", "-m", "keras_dbal", "run"], True),
        # (`benchmarks` is the repository's own here: tests import it.)
        (["-m"], ["python", "-m", "benchmarks.engine", "--runs", "2"], True),
        # A user's own program, -m of another package: theirs, left alone.
        (["train.py"], ["python", "train.py"], False),
        (["-m"], ["python", "-m", "mybenchmarks.engine"], False),
    ],
)
def test_our_commands_are_told_from_a_users_program(
    argv, orig_argv, ours, monkeypatch
):
    import benchmarks  # noqa: F401

    monkeypatch.setattr("sys.argv", argv)
    monkeypatch.setattr("sys.orig_argv", orig_argv)
    assert _quiet.started_as_command() is ours



def test_a_users_own_benchmarks_package_is_left_alone(monkeypatch, tmp_path):
    import types

    theirs = types.ModuleType("benchmarks")
    theirs.__file__ = str(tmp_path / "benchmarks" / "__init__.py")
    monkeypatch.setitem(__import__("sys").modules, "benchmarks", theirs)
    monkeypatch.setattr("sys.argv", ["-m"])
    monkeypatch.setattr("sys.orig_argv", ["python", "-m", "benchmarks.run"])
    assert _quiet.started_as_command() is False
