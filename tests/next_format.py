"""A hypothetical next checkpoint format, to test upgrades before one exists.

Format N + 1 holds what the current format N holds, plus the record field
`num_queries` (the history's length) and the array `labels_per_class`
(how many labels of each class). `pretend` makes this process's
keras_dbal a release that writes format N + 1 and reads N by upgrading
it: what a real format change does, with its reader unchanged.
"""

import numpy as np

from keras_dbal.saving import formats


def add_counts(state, arrays):
    """The upgrade from format N to N + 1."""
    state["num_queries"] = len(state.get("history", []))
    if "y_labelled" in arrays:
        arrays["labels_per_class"] = np.bincount(
            arrays["y_labelled"], minlength=10
        )
    return state, arrays


def pretend(monkeypatch):
    """Make keras_dbal one checkpoint format newer until `monkeypatch`
    undoes it (a `pytest.MonkeyPatch`)."""
    current = formats.FORMAT
    monkeypatch.setattr(formats, "FORMAT", current + 1)
    monkeypatch.setitem(formats.READERS, current + 1, formats.READERS[current])
    monkeypatch.setitem(formats.UPGRADES, current, add_counts)
