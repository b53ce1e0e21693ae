"""The round waiting for labels: `pending.json`, checked, and found again
from what else a session holds.

`pending.json` lists the pool positions the waiting round asked for.
Damaged, or missing while the newest round's CSV still lists unlabelled
positions (deleted by hand), it is rebuilt from that CSV, which lists the
same positions: a person's filled CSV is never orphaned. Damaged with no
such CSV, its round was never shown (the command was killed first) and
it is removed. A query killed
after its checkpoint (which records the query) and before `pending.json`
left its choice in the learner's history: asking again shows that choice,
as an uninterrupted run would, instead of choosing anew with the next
query's seed.
"""

import os

import numpy as np

from keras_dbal.tools.label_files import LabelFileError
from keras_dbal.tools.label_files import read_template
from keras_dbal.tools.session_files import PENDING
from keras_dbal.tools.session_files import next_round
from keras_dbal.tools.session_files import read_json
from keras_dbal.tools.session_files import round_folder

__all__ = ["find_waiting", "read_pending", "unwritten_query"]


def read_pending(directory, size):
    """The round `pending.json` holds, and what is wrong with it.

    Args:
        directory: The session's state directory.
        size: The number of images in the pool.

    Returns:
        `(pending, problem)`: the round `{"round", "indices"}`, or None
        if `pending.json` is missing or damaged; `problem` says what is
        damaged (None otherwise).
    """
    path = os.path.join(directory, PENDING)
    if not os.path.isfile(path):
        return None, None
    try:
        pending = read_json(path)
        problem = _problem(pending, size)
    except LabelFileError as error:
        problem = str(error)
    return (pending, None) if problem is None else (None, problem)


def find_waiting(directory, labelled):
    """The round waiting for labels, wherever the session keeps it.

    `pending.json`; if it is missing or damaged, the newest round when
    its CSV lists an unlabelled position.

    Args:
        directory: The session's state directory.
        labelled: Boolean `(N,)`, which pool images are labelled.

    Returns:
        `(pending, problem)`: the round, or None if none waits; `problem`
        (None if `pending.json` holds the round) says what was found
        instead: write the round back, or remove `pending.json` if there
        is none. The round may be labelled in full: taught, but stopped
        before `pending.json` was removed.
    """
    path = os.path.join(directory, PENDING)
    pending, problem = read_pending(directory, len(labelled))
    if pending is not None:
        return pending, None
    rebuilt, source = _newest_round(directory, len(labelled))
    if rebuilt is not None and labelled[rebuilt["indices"]].all():
        rebuilt = None
    if problem is None:  # no pending.json
        return rebuilt, None if rebuilt is None else (
            f"{path} was missing but round {rebuilt['round']} still waits "
            f"for labels; it was rebuilt from {source}."
        )
    if rebuilt is None:
        # Its round was never written (killed before its CSV was): the
        # learner's record still holds it (see `unwritten_query`).
        return None, (
            f"{path} was damaged ({problem}) and no round's CSV lists a "
            "round still waiting for labels; it was removed. `keras-dbal "
            "query` shows the round the learner chose last, if it was "
            "never taught."
        )
    return rebuilt, (
        f"{path} was damaged ({problem}); the waiting round "
        f"{rebuilt['round']} was rebuilt from {source}."
    )


def unwritten_query(history, num_labelled, labelled):
    """The positions of a query recorded but never shown, or None.

    The learner's last query chose them with nothing taught since, and
    none is labelled, yet no round waits for them: its command was killed
    between its checkpoint and `pending.json`.

    Args:
        history: The learner's `history_`.
        num_labelled: The learner's `num_labelled`.
        labelled: Boolean `(N,)`, which pool images are labelled.
    """
    if not history or history[-1]["num_labelled"] != num_labelled:
        return None
    indices = np.asarray(history[-1]["indices"], "int64")
    if (
        len(indices) == 0
        or indices.min() < 0
        or indices.max() >= len(labelled)
        or labelled[indices].any()
    ):
        return None
    return indices


def _newest_round(directory, size):
    """`(pending, path)` from the newest round's CSV; pending None if it
    cannot be read as that round's."""
    number = next_round(directory) - 1
    path = os.path.join(round_folder(directory, number), "labels.csv")
    try:
        round_number, indices = read_template(path)
    except LabelFileError:
        return None, path
    pending = {"round": number, "indices": indices}
    if round_number != number or _problem(pending, size) is not None:
        return None, path
    return pending, path


def _problem(pending, size):
    """What is wrong with a pending round, or None."""
    indices = pending.get("indices") if isinstance(pending, dict) else None
    if (
        not isinstance(indices, list)
        or not _is_int(pending.get("round"))
        or not all(_is_int(index) for index in indices)
    ):
        return 'it does not hold {"round": int, "indices": [int, ...]}'
    if (
        not indices
        or min(indices) < 0
        or max(indices) >= size
        or len(set(indices)) != len(indices)
    ):
        return f"its positions must be distinct and in [0, {size})"
    return None


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)
