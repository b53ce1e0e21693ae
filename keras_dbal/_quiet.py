"""Keep TensorFlow's start-up log lines off our commands' stderr.

Importing TensorFlow and letting it look for devices prints notes such as
"Could not find cuda drivers" and "failed call to cuInit: ... CUDA error"
on every machine without a GPU, and not all of them obey
`TF_CPP_MIN_LOG_LEVEL`. On a command's stderr they read as failures. When
keras_dbal is the program, it starts its backend with stderr captured,
then passes on every captured line except those in the C++ log format at
levels I, W and E (and absl's note about them): fatal lines and anything
Python printed get through. After start-up stderr is left alone. A user who
sets `TF_CPP_MIN_LOG_LEVEL` sees TensorFlow's lines as they are; importing
keras_dbal as a library changes nothing.
"""

import contextlib
import os
import re
import sys
import tempfile

_START_UP_NOTE = re.compile(
    rb"^(?:[IWE]\d{4} [\d:.]+ +\d+ [^\]\n]*\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|To enable the following instructions: )"
)


def started_as_command():
    """Whether keras_dbal's own program runs: `keras-dbal`, `-m keras_dbal`
    or one of the repository's `-m benchmarks.NAME`."""
    if sys.argv and os.path.basename(sys.argv[0]) == "keras-dbal":
        return True
    argv = getattr(sys, "orig_argv", [])
    return any(
        flag == "-m" and (
            module == "keras_dbal"
            or module.startswith("benchmarks.") and _our_benchmarks()
        )
        for flag, module in zip(argv, argv[1:], strict=False)
    )


def _our_benchmarks():
    """Whether the `benchmarks` package being run is keras_dbal's: the one
    beside this package, not a user's own of the same name."""
    path = getattr(sys.modules.get("benchmarks"), "__file__", None)
    if not path:
        return False
    ours = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.dirname(os.path.dirname(os.path.abspath(path))) == ours


def start_backend_quietly():
    """Import Keras and let TensorFlow find its devices, notes filtered."""
    with _start_up_notes_dropped():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            # Device discovery is where the CUDA probe complains; do it now.
            tf.config.list_physical_devices()


@contextlib.contextmanager
def _start_up_notes_dropped():
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        capture = tempfile.TemporaryFile()
        os.dup2(capture.fileno(), 2)
    except (OSError, ValueError):
        yield  # no stderr to speak of: nothing to keep clean
        return
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        capture.seek(0)
        kept = keep_lines(capture.read())
        capture.close()
        if kept:
            try:
                os.write(2, kept)
            except OSError:
                pass


def keep_lines(data):
    """`data` without TensorFlow's start-up notes."""
    return b"".join(
        line for line in data.splitlines(keepends=True)
        if not _START_UP_NOTE.match(line)
    )
