"""Keep TensorFlow's C++ log lines off the `keras-dbal` command's stderr.

Imported TensorFlow prints notes such as "Could not find cuda drivers"
and "failed call to cuInit: ... CUDA error" on every machine without a
GPU, and not all of them obey `TF_CPP_MIN_LOG_LEVEL`. On a command's
stderr they read as failures. When keras_dbal is the program, stderr runs
through a pipe that drops lines in the C++ log format (and absl's note
about them) and passes everything else on, Python's own errors included.
A user who sets `TF_CPP_MIN_LOG_LEVEL` gets TensorFlow's lines as they
are; importing keras_dbal as a library changes nothing.
"""

import atexit
import os
import re
import sys
import threading

_NATIVE_LOG_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} [\d:.]+ +\d+ [^\]\n]*\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|To enable the following instructions: )"
)


def started_as_command():
    """Whether keras_dbal is the program: `keras-dbal` or `-m keras_dbal`."""
    if sys.argv and os.path.basename(sys.argv[0]) == "keras-dbal":
        return True
    argv = getattr(sys, "orig_argv", [])
    return any(
        flag == "-m" and module == "keras_dbal"
        for flag, module in zip(argv, argv[1:], strict=False)
    )


def filter_native_logs():
    """Route file descriptor 2 through the filter until the process ends."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        return
    try:
        original = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:
        return  # no stderr to speak of: nothing to keep clean
    pump = threading.Thread(
        target=_pump, args=(read_end, original), daemon=True
    )
    pump.start()

    def restore():
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        # fd 2 was the pipe's only writer: the pump reads to its end.
        os.dup2(original, 2)
        pump.join(timeout=10)

    atexit.register(restore)


def _pump(read_end, original):
    pending = b""
    while True:
        try:
            chunk = os.read(read_end, 65536)
        except OSError:
            break
        if not chunk:
            break
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        kept = [line + b"\n" for line in lines
                if not _NATIVE_LOG_LINE.match(line)]
        if pending and not _NATIVE_LOG_LINE.match(pending):
            # A prompt or a progress bar: pass it on without waiting.
            kept.append(pending)
            pending = b""
        if kept:
            os.write(original, b"".join(kept))
    if pending and not _NATIVE_LOG_LINE.match(pending):
        os.write(original, pending)
    os.close(read_end)
