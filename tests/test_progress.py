import io

import numpy as np
import pytest

from keras_dbal.utils.progress import Progress
from keras_dbal.utils.progress import format_line

pytestmark = pytest.mark.backend_independent


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_counts_show_as_integers_and_metrics_with_three_decimals():
    line = format_line(
        3, 20, "round",
        [("labelled", np.int64(50)), ("accuracy", [np.float32(1.0), 0.8874])],
        41.2,
    )
    # 41.2 s for 3 rounds: 17 rounds left take 233.5 s, about 4 min.
    assert line == (
        "round 3/20  labelled 50  accuracy 1.000 0.887  41 s, ~4 min left"
    )
    assert format_line(20, 20, "round", [], 5400.0) == "round 20/20  1.5 h"


def test_a_log_file_gets_plain_lines():
    stream = io.StringIO()
    progress = Progress(2, "round", stream=stream)
    progress.update(1, [("labelled", 30)])
    progress.update(2, [("labelled", 40)])
    lines = stream.getvalue().split("\n")
    assert [line.split("  ")[:2] for line in lines[:2]] == [
        ["round 1/2", "labelled 30"], ["round 2/2", "labelled 40"],
    ]
    assert lines[2] == ""
    assert not any(code in stream.getvalue() for code in "\r\b\x1b")


def test_a_terminal_gets_one_line_rewritten_in_place():
    stream = Terminal()
    progress = Progress(2, "round", stream=stream)
    progress.update(1, [("labelled", 1000)])
    progress.update(2, [("labelled", 9)])
    text = stream.getvalue()
    first, second = text.split("\r")[1:]
    assert first.startswith("round 1/2  labelled 1000")
    # The shorter second line blanks what is left of the first one, and
    # ends the line once every step is done.
    assert second.startswith("round 2/2  labelled 9")
    assert len(second) == len(first) + 1 and second.endswith(" \n")
    assert "\x1b" not in text


def test_disabled_progress_writes_nothing():
    stream = io.StringIO()
    Progress(2, "round", enabled=False, stream=stream).update(1)
    assert stream.getvalue() == ""
