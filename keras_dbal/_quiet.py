"""Keep TensorFlow's start-up notes off stderr.

Importing TensorFlow and letting it look for devices prints notes such as
"Could not find cuda drivers", "oneDNN custom operations are on" and,
on every machine without a GPU, "failed call to cuInit: ... CUDA error".
They ignore `TF_CPP_MIN_LOG_LEVEL` (TensorFlow 2.21 prints them at level
3 too), and on a command's stderr a user reads them as failures.

So keras_dbal starts its backend (Keras, TensorFlow when it is installed,
and the devices of TensorFlow and JAX) with stderr passed through a filter,
whatever the Keras backend and whatever `TF_CPP_MIN_LOG_LEVEL` says. The
filter drops, while the backend starts and only then:

- TensorFlow's C++ log lines at level I (info), and absl's notes;
- on a machine with no NVIDIA device only, where they say nothing new,
  its W (warning) lines and the CUDA probe's errors (`cuInit`,
  cuDNN/cuFFT/cuBLAS factories): where there is a GPU, they may be why it
  goes unused.

Everything else passes as it comes: fatal lines, other errors, whatever
Python prints. A user who imports TensorFlow before keras_dbal sees its
notes as TensorFlow prints them.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys

_C_LOG_LINE = re.compile(rb"^([IWEF])\d{4} [\d:.]+ +\d+ [^\]\n]*\] ?(.*)")
_ABSL_NOTES = (
    b"WARNING: All log messages before absl::InitializeLog()",
    b"To enable the following instructions: ",
)
_CUDA_PROBE_ERRORS = re.compile(
    rb"failed call to cuInit|Unable to register cu(DNN|FFT|BLAS) factory"
    rb"|computation placer already registered"
)
_NVIDIA_DEVICES = ("/dev/nvidiactl", "/proc/driver/nvidia")


def started_as_command():
    """Whether keras_dbal's own command runs: `keras-dbal` or `python -m
    keras_dbal`. It parses its arguments (and answers `--help`) before it
    starts a backend."""
    if sys.argv and os.path.basename(sys.argv[0]) == "keras-dbal":
        return True
    argv = getattr(sys, "orig_argv", [])
    return any(
        flag == "-m" and module == "keras_dbal"
        for flag, module in zip(argv, argv[1:], strict=False)
    )


_heard_early = []


def _note_interrupt(signum, frame):
    _heard_early.append(signum)


def hear_interrupts_early():
    """Under `keras-dbal`, from its first import on: Ctrl-C is noted, not
    raised inside an import (a traceback, or lost in a callback); the
    command asks `interrupted_early` once it can answer."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _note_interrupt)


def interrupted_early():
    """Whether Ctrl-C came since `hear_interrupts_early`; Python's own
    handler is back from here on."""
    if signal.getsignal(signal.SIGINT) is _note_interrupt:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return bool(_heard_early)


def start_backend_quietly():
    """Import Keras and TensorFlow, and find devices, notes filtered.

    Does nothing more than importing Keras once TensorFlow is imported:
    its notes have been printed already.
    """
    if "tensorflow" in sys.modules:
        # Its import notes are printed; its device discovery, where the
        # CUDA probe complains, may be still to come.
        with start_up_notes_dropped():
            import keras  # noqa: F401

            sys.modules["tensorflow"].config.list_physical_devices()
        return
    with start_up_notes_dropped():
        import keras

        # Keras imports TensorFlow under every backend when it is
        # installed (for tf.data), and device discovery is where the CUDA
        # probe complains: both now, inside the filter.
        try:
            import tensorflow as tf
        except ImportError:  # JAX alone: nothing of TensorFlow to start
            pass
        else:
            tf.config.list_physical_devices()
        if keras.backend.backend() == "jax":
            import jax

            jax.devices()  # XLA's client logs its devices as it starts


@contextlib.contextmanager
def start_up_notes_dropped():
    """Within the context, fd 2 passes through `keep_lines`, line by line,
    as the lines come.

    The filter is a small process of its own (this file, run by the same
    Python), so what was written before a crash (a fatal line, then
    SIGABRT) still reaches stderr. It runs in its own session: Ctrl-C at
    the terminal is this process's to handle, not the filter's.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield  # no stderr to speak of: nothing to keep clean
        return
    try:
        filter_process = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        os.close(saved)
        yield  # no process to filter with: leave stderr as it is
        return
    os.dup2(filter_process.stdin.fileno(), 2)
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        filter_process.stdin.close()  # the filter reads to the end, exits
        with contextlib.suppress(subprocess.TimeoutExpired):
            filter_process.wait(timeout=10)


def _filter(source, out):
    """Copy `source` to `out` (binary files), dropping start-up notes."""
    pending = b""
    while chunk := source.read1(65536):
        *lines, pending = (pending + chunk).split(b"\n")
        out.write(keep_lines(b"".join(line + b"\n" for line in lines)))
        out.flush()
    out.write(keep_lines(pending))
    out.flush()


def keep_lines(data):
    """`data` without TensorFlow's start-up notes (see the module doc)."""
    no_gpu = not any(os.path.exists(path) for path in _NVIDIA_DEVICES)
    return b"".join(
        line for line in data.splitlines(keepends=True)
        if not is_start_up_note(line, no_gpu=no_gpu)
    )


def is_start_up_note(line, *, no_gpu=True):
    """Whether `line` is a start-up note the filter drops."""
    if line.startswith(_ABSL_NOTES):
        return True
    match = _C_LOG_LINE.match(line)
    if match is None:
        return False
    level, message = match.groups()
    if level == b"I":
        return True
    if not no_gpu:
        # Where there is a GPU, a warning may be why it is not used.
        return False
    return level == b"W" or level == b"E" and bool(
        _CUDA_PROBE_ERRORS.search(message)
    )


if __name__ == "__main__":
    # The filter process of `start_up_notes_dropped`.
    _filter(sys.stdin.buffer, sys.stderr.buffer)
