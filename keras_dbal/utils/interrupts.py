"""Ctrl-C during a long compiled computation.

Python raises `KeyboardInterrupt` at whatever line runs when Ctrl-C
arrives. Between the compiled calls of a long fit that line is often
inside TensorFlow's own Python (a finalizer, a callback), which reports
the exception as "unraisable" and carries on: the fit ignores Ctrl-C to
its end. `deferred_interrupt` hears Ctrl-C instead and lets the loop raise
it where it is safe, between two calls.
"""

import contextlib
import signal
import threading


class _Heard:
    def __init__(self):
        self.interrupted = False

    def check(self):
        """Raise `KeyboardInterrupt` if Ctrl-C came since the start."""
        if self.interrupted:
            raise KeyboardInterrupt

    def _hear(self, signum, frame):
        if self.interrupted:
            # Ctrl-C twice: the user will not wait for the call to end.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.interrupted = True


# The deferral in force (the outermost; only the main thread has one).
_active = None


@contextlib.contextmanager
def deferred_interrupt():
    """A context whose `check()` raises `KeyboardInterrupt` once Ctrl-C
    (SIGINT) has come, as does leaving it; a second Ctrl-C raises at once,
    wherever Python is. Only where Python's own handler is installed, in
    the main thread; elsewhere SIGINT is left as it was and `check()`
    never raises. Nested in another, it shares the outer one's hearing."""
    global _active
    if _active is not None:
        yield _active
        return
    heard = _Heard()
    ours = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if ours:
        signal.signal(signal.SIGINT, heard._hear)
        _active = heard
    try:
        yield heard
    finally:
        if ours:
            _active = None
            if signal.getsignal(signal.SIGINT) == heard._hear:
                signal.signal(signal.SIGINT, signal.default_int_handler)
    heard.check()


def check():
    """Raise `KeyboardInterrupt` if the deferral in force heard Ctrl-C:
    for loops that a deferral's owner calls (the sampler's chunks)."""
    if _active is not None:
        _active.check()
