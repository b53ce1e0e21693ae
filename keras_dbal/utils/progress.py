"""Progress over the rounds of an experiment, for a person to read.

On a terminal it is one line, rewritten in place; anywhere else (a log
file, a pipe, CI) one plain line per step, with no escape codes or
backspaces in the file. Counts show as integers, metrics with three
decimals, and the time so far and the time left close the line.
"""

import numbers
import sys
import time


class Progress:
    """Steps done out of `total`, with the latest values.

    Args:
        total: The number of steps.
        unit: What a step is, e.g. `"round"`.
        enabled: False shows nothing.
        stream: Where to write (default: `sys.stdout`, read at each write,
            so pytest's capture and redirections are honoured).
    """

    def __init__(self, total, unit, *, enabled=True, stream=None,
                 initial=0):
        self.total, self.unit, self.enabled = total, unit, enabled
        self.initial = initial
        self._stream = stream
        self._start = time.monotonic()
        self._width = 0
        self._open = False

    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stdout

    def update(self, done, values=()):
        """Show `done` steps and `values`, `(name, value)` pairs; a value
        may be a number or a sequence of numbers (one per run)."""
        if not self.enabled:
            return
        line = format_line(
            done, self.total, self.unit, values,
            time.monotonic() - self._start, initial=self.initial,
        )
        stream = self.stream
        if _is_terminal(stream):
            padding = " " * max(0, self._width - len(line))
            self._width = len(line)
            end = "\n" if done >= self.total else ""
            stream.write(f"\r{line}{padding}{end}")
            self._open = not end
        else:
            stream.write(line + "\n")
        stream.flush()

    def finish(self):
        """End a line left open on a terminal (work stopped early)."""
        if self.enabled and self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


def format_line(done, total, unit, values, seconds, initial=0):
    """`round 3/20  labelled 50  accuracy 0.912 0.887  41 s, ~4 min left`."""
    parts = [f"{unit} {done}/{total}"]
    for name, value in values:
        shown = value if isinstance(value, list | tuple) else [value]
        parts.append(f"{name} " + " ".join(_number(item) for item in shown))
    timing = _duration(seconds)
    if initial < done < total:
        per_step = seconds / (done - initial)
        timing += f", ~{_duration(per_step * (total - done))} left"
    parts.append(timing)
    return "  ".join(parts)


def _number(value):
    if isinstance(value, numbers.Integral):
        return str(int(value))
    return f"{float(value):.3f}"


def _duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
