"""Start-up as a user sees it: stderr, --help, Ctrl-C."""

import ast
import itertools
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import pytest

from keras_dbal import _quiet
from keras_dbal.tools import cli

# Commands and processes, not numbers: CI runs this module under
# TensorFlow only, and its subprocesses choose their own backend.
pytestmark = pytest.mark.backend_independent

ROOT = pathlib.Path(__file__).parents[1]
BACKENDS = ("tensorflow", "jax")
# Unset, everything shown, nothing shown: TensorFlow 2.21 prints its
# start-up notes at every level.
LEVELS = (None, "0", "3")

START_UP = (
    b"WARNING: All log messages before absl::InitializeLog() is called are "
    b"written to STDERR\n"
    b"I0000 00:00:1796664595.024444    2157 port.cc:153] oneDNN custom "
    b"operations are on.\n"
    b"I0000 00:00:1795823564.596450    4693 cudart_stub.cc:31] Could not "
    b"find cuda drivers on your machine, GPU will not be used.\n"
    b"To enable the following instructions: AVX2 FMA, in other operations\n"
    b"W0000 00:00:1.5    12 tf_trt.cc:3] TF-TRT Warning: no TensorRT\n"
)
CUDA_PROBE = (
    b"E0000 00:00:1795824495.127288    8365 cuda_platform.cc:52] failed call "
    b"to cuInit: INTERNAL: CUDA error\n"
)
KEPT = (
    b"F0000 00:00:1.5    12 check.cc:3] Check failed: x\n"
    b"E0000 00:00:1.5    12 session.cc:9] Out of memory\n"
    b"Traceback (most recent call last):\n"
    b"keras-dbal: error: something the user must see\n"
)


def test_start_up_notes_are_dropped_and_the_rest_kept():
    assert _quiet.keep_lines(START_UP + CUDA_PROBE + KEPT) == KEPT
    assert _quiet.keep_lines(b"no newline at the end") == (
        b"no newline at the end"
    )


def test_warnings_and_the_cuda_probe_are_kept_where_there_is_a_gpu(
    monkeypatch,
):
    # There they may be why the GPU goes unused.
    monkeypatch.setattr(_quiet, "_NVIDIA_DEVICES", (str(ROOT),))
    warning = START_UP.splitlines(keepends=True)[-1]
    assert warning.startswith(b"W0000")
    assert _quiet.keep_lines(START_UP + CUDA_PROBE) == warning + CUDA_PROBE


@pytest.mark.parametrize(
    "argv, orig_argv, ours",
    [
        (["keras-dbal", "run"], ["python", "keras-dbal", "run"], True),
        (["-m"], ["python", "-m", "keras_dbal", "run"], True),
        # Every other program imports keras_dbal as a library.
        (["-m"], ["python", "-m", "benchmarks.engine", "--runs", "2"], False),
        (["train.py"], ["python", "train.py"], False),
    ],
)
def test_our_command_is_told_from_other_programs(
    argv, orig_argv, ours, monkeypatch
):
    monkeypatch.setattr("sys.argv", argv)
    monkeypatch.setattr("sys.orig_argv", orig_argv)
    assert _quiet.started_as_command() is ours


def _run(args, backend, level, **options):
    env = {key: value for key, value in os.environ.items()
           if key not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")}
    env.update(KERAS_BACKEND=backend, PYTHONPATH=str(ROOT))
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    return subprocess.run(
        args, capture_output=True, text=True, env=env, timeout=300,
        cwd=ROOT, **options,
    )


@pytest.mark.slow
def test_a_crash_inside_the_filter_still_shows_its_fatal_line():
    code = (
        "import os\n"
        "from keras_dbal import _quiet\n"
        "with _quiet.start_up_notes_dropped():\n"
        f"    os.write(2, {START_UP + KEPT[:52]!r})\n"
        "    os.abort()\n"
    )
    result = _run([sys.executable, "-c", code], "tensorflow", None)
    assert result.returncode == -signal.SIGABRT
    assert result.stderr == KEPT[:52].decode()


def _console_script():
    return str(pathlib.Path(sys.executable).parent / "keras-dbal")


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend, level, form",
    [
        (backend, level, form)
        for (backend, level), form in zip(
            itertools.product(BACKENDS, LEVELS),
            itertools.cycle(["keras-dbal", "python -m keras_dbal"]),
            strict=False,
        )
    ],
    ids=str,
)
def test_the_command_starts_with_nothing_on_stderr(backend, level, form,
                                                   tmp_path):
    command = (
        [_console_script()] if form == "keras-dbal"
        else [sys.executable, "-m", "keras_dbal"]
    )
    # `query` on a missing session starts the backend, then fails: its
    # stderr is the one line of the error.
    result = _run(
        command + ["query", "--state", str(tmp_path / "absent")],
        backend, level,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-dbal: error:"), (
        result.stderr[-3000:]
    )


TUTORIALS = sorted((ROOT / "tutorials").glob("*.py"))


def _imports_of(path):
    """The source of a file's top-level imports, in their order."""
    source = path.read_text()
    return "\n".join(
        ast.get_source_segment(source, node)
        for node in ast.parse(source).body
        if isinstance(node, ast.Import | ast.ImportFrom)
    )


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "level"), [("tensorflow", None),
                                                ("jax", "0")])
def test_the_tutorials_start_with_nothing_on_stderr(backend, level):
    # One process per backend runs every tutorial's imports, each
    # tutorial's in its order (keras_dbal first: checked below), as one
    # process per tutorial would take a minute and a half.
    imports = "\n".join(_imports_of(path) for path in TUTORIALS)
    result = _run([sys.executable, "-c", imports], backend, level)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_tutorials_and_benchmarks_import_keras_dbal_first():
    # Imported after TensorFlow, keras_dbal cannot keep its notes off.
    for path in TUTORIALS + [ROOT / "benchmarks" / "__init__.py"]:
        first = _imports_of(path).splitlines()[0]
        assert first == "import keras_dbal", path.name


BENCHMARKS = sorted(
    path.stem for path in (ROOT / "benchmarks").glob("*.py")
    if "argparse" in path.read_text()
)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_benchmarks_start_with_nothing_on_stderr(backend):
    # One process per benchmark would take minutes: each starts through
    # the `benchmarks` package (checked above), then imports its own.
    for name, level in zip(BENCHMARKS[:1], LEVELS, strict=False):
        result = _run([sys.executable, "-m", f"benchmarks.{name}", "--help"],
                      backend, level)
        assert result.returncode == 0 and result.stderr == "", result.stderr
    imports = "; ".join(f"import benchmarks.{name}" for name in BENCHMARKS)
    result = _run([sys.executable, "-c", imports], backend, "3")
    assert result.returncode == 0 and result.stderr == "", result.stderr


HEAVY = ("tensorflow", "jax", "keras")


@pytest.mark.slow
@pytest.mark.parametrize(
    "command", [None, "run", "init", "query", "teach", "status"], ids=str
)
def test_help_starts_no_backend(command):
    args = [sys.executable, "-X", "importtime", "-m", "keras_dbal"]
    args += [command, "--help"] if command else ["--help"]
    result = _run(args, "tensorflow", None)
    assert result.returncode == 0 and "usage: keras-dbal" in result.stdout
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_every_option_says_its_default():
    parser, commands = cli._parser()
    for name, command in commands.items():
        for action in command._actions:
            if not action.option_strings or action.dest == "help":
                continue
            text = action.help or ""
            assert "default:" in text or action.required, (
                name, action.option_strings
            )
            if action.required:
                assert text, (name, action.option_strings)
        assert command.description, name


@pytest.mark.parametrize("text", ["+3", " 3", "3_000", "3.0", "0x3"])
def test_counts_are_digits_only(text, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["query", "--state", "s", "--n", text])
    assert exit_info.value.code == 2
    assert "expected a whole number" in capsys.readouterr().err


def test_library_argument_names_are_told_as_options():
    _, commands = cli._parser()
    message = (
        "Invalid value received for argument `n`. Expected at most 5. "
        "Received: n=100"
    )
    assert cli.in_option_terms(message, commands["query"]) == (
        "Invalid value received for option --n. Expected at most 5. "
        "Received: --n=100"
    )
    # Names that are not this command's options stay as they are.
    assert cli.in_option_terms(
        "argument `pool_subset`", commands["query"]
    ) == "argument `pool_subset`"
    assert cli.in_option_terms(
        "Received: mc_samples=0", commands["init"]
    ) == "Received: --mc-samples=0"


def test_a_missing_pool_is_named_as_such(tmp_path, capsys):
    status = cli.main(["init", "--state", str(tmp_path / "s"), "--pool",
                       str(tmp_path / "photos"), "--num-classes", "2"])
    assert status == 2
    error = capsys.readouterr().err
    assert "photos: no such file or folder" in error
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.15, 1.0, 2.5])
def test_ctrl_c_during_start_up_is_one_line(delay, tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key != "TF_CPP_MIN_LOG_LEVEL"}
    with subprocess.Popen(
        [sys.executable, "-m", "keras_dbal", "query", "--state",
         str(tmp_path / "absent")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # As in a terminal: a background job starts with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as process:
        try:
            time.sleep(delay)  # inside the imports: they take seconds
            process.send_signal(signal.SIGINT)
            _, err = process.communicate(timeout=120)
        finally:
            process.kill()
    assert process.returncode == 130, err[-3000:]
    # One line: before the command could start anything, or after.
    assert re.fullmatch(
        r"keras-dbal: error: interrupted; (nothing was done|what was saved "
        r"before is intact)\.\n", err
    ), err
