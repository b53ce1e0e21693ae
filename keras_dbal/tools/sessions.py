"""Opening a labelling session's state directory: its lock, session.json,
pool and learner, and the round waiting for labels, each checked and,
where it is damaged, rebuilt from what else the directory holds (see
`keras_dbal.tools.labelling`)."""

import contextlib
import os
import warnings

import numpy as np

from keras_dbal.active import learner_state
from keras_dbal.active.learner import ActiveLearner
from keras_dbal.active.pool import Pool
from keras_dbal.datasets.loaders import DataError
from keras_dbal.saving.locking import lock_directory
from keras_dbal.tools import pending_rounds
from keras_dbal.tools.label_files import LabelFileError
from keras_dbal.tools.label_files import LabelFileWarning
from keras_dbal.tools.session_files import LEARNER
from keras_dbal.tools.session_files import NAMES
from keras_dbal.tools.session_files import PENDING
from keras_dbal.tools.session_files import POOL
from keras_dbal.tools.session_files import SESSION
from keras_dbal.tools.session_files import read_json
from keras_dbal.tools.session_files import read_session
from keras_dbal.tools.session_files import remove_temporaries
from keras_dbal.tools.session_files import write_json

__all__ = [
    "check_session_exists",
    "labelled_mask",
    "load_pool",
    "locked",
    "open_session",
    "read_names",
    "session_id",
    "session_or_error",
    "waiting_round",
]


@contextlib.contextmanager
def locked(directory, create=False):
    if not create:
        check_session_exists(directory)  # before making anything
    with lock_directory(directory) as lock:
        remove_temporaries(directory)
        yield lock


def session_id(session):
    return session["pool"]["fingerprint"][:12]


def open_session(directory):
    """`(session, pool, learner)`; a damaged session.json is rebuilt."""
    session, problem = read_session(directory)
    pool = load_pool(directory, session)
    learner = ActiveLearner.load(os.path.join(directory, LEARNER), pool=pool)
    if problem is not None:
        # Everything it held but the source is in the checkpoint (which
        # checked pool.npy against its own record when it holds labels).
        session = {"num_classes": learner.num_classes, "source": None,
                   "seed": learner.seed, "pool": pool.identity()}
        write_json(os.path.join(directory, SESSION), session)
        warnings.warn(
            f"{problem} It was rebuilt from {os.path.join(directory, LEARNER)}"
            f" and {os.path.join(directory, POOL)}.",
            LabelFileWarning, stacklevel=3,
        )
    return session, pool, learner


def session_or_error(directory):
    session, problem = read_session(directory)
    if session is None:
        check_session_exists(directory)
        raise LabelFileError(
            f"{problem} Run `keras-dbal query --state {directory}` (or "
            "teach) to rebuild it from the learner's checkpoint."
        )
    return session


def check_session_exists(directory):
    """A clear error for a directory that never held a session (a
    mistyped --state); one whose session.json is lost while its learner
    holds labels still counts as a session."""
    if not os.path.isfile(os.path.join(directory, SESSION)) and not (
        learner_state.holds_labels(os.path.join(directory, LEARNER))
    ):
        raise ValueError(
            f"{directory} holds no labelling session: create one with "
            "`keras-dbal init`."
        )


def read_names(directory, session):
    if session is not None and session.get("names") is not None:
        return session["names"]  # a session made before names.json
    path = os.path.join(directory, NAMES)
    return read_json(path) if os.path.isfile(path) else None


def load_pool(directory, session):
    path = os.path.join(directory, POOL)
    source = (session or {}).get("source") or (
        "the images given to keras-dbal init"
    )
    try:
        pool = Pool(
            np.load(path, allow_pickle=False),
            names=read_names(directory, session),
        )
    except Exception as error:  # truncated, missing or not an array
        raise DataError(
            f"Cannot read {path} ({error}). It is a copy of {source}; "
            "restore it from there."
        ) from None
    if session is not None and pool.identity() != session["pool"]:
        raise DataError(
            f"{path} is not the pool this session was created with (its "
            f"fingerprint differs). It is a copy of {source}; restore it "
            "from there."
        )
    return pool


def labelled_mask(directory, size, state=None):
    """Boolean `(size,)`: the images the learner's checkpoint labels."""
    if state is None:
        state = learner_state.peek(os.path.join(directory, LEARNER))
    labelled = np.zeros(size, bool)
    positions = state["pool_indices"]
    labelled[positions[(positions >= 0) & (positions < size)]] = True
    return labelled


def waiting_round(directory, pool):
    """The round waiting for labels, repaired on disk; None if none."""
    path = os.path.join(directory, PENDING)
    pending, problem = pending_rounds.find_waiting(
        directory, pool.labelled_mask
    )
    if problem is not None:
        # Said once, and mended for good.
        warnings.warn(problem, LabelFileWarning, stacklevel=4)
        if pending is not None:
            write_json(path, pending)
    if pending is None or pool.labelled_mask[pending["indices"]].all():
        # Taught, but stopped before the pending note was removed (or
        # damaged, its round never shown).
        if os.path.exists(path):
            os.remove(path)
        return None
    return pending
