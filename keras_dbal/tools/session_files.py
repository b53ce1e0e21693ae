"""Files of a labelling session's directory: written atomically, and
only ours removed.

Everything a session writes has a fixed name (see `keras_dbal.tools.
labelling`), so what a killed command leaves (temporaries, an init that
stopped part way) is removed by those exact names, never a person's file
that merely looks alike.
"""

import json
import os
import re

import numpy as np

from keras_dbal.active import learner_state
from keras_dbal.saving import folders
from keras_dbal.saving.atomic import remove_temporaries as remove_leftovers
from keras_dbal.saving.atomic import replacing
from keras_dbal.saving.atomic import write_atomically
from keras_dbal.saving.locking import lock_directory
from keras_dbal.tools.label_files import LabelFileError

__all__ = [
    "LEARNER",
    "NAMES",
    "PENDING",
    "POOL",
    "SESSION",
    "first_missing",
    "next_round",
    "read_json",
    "read_session",
    "remove_made",
    "remove_temporaries",
    "remove_unfinished_init",
    "round_folder",
    "save_array",
    "write_json",
]

SESSION = "session.json"
POOL = "pool.npy"
NAMES = "names.json"
PENDING = "pending.json"
LEARNER = "learner"
_ROUND = re.compile(r"^round-(\d+)$")
_IMAGE = re.compile(r"^pool-\d{7,}\.png$")


def round_folder(directory, number):
    """The folder of round `number`."""
    return os.path.join(directory, "rounds", f"round-{number:04d}")


def next_round(directory):
    """One past the highest round folder in `directory/rounds`."""
    return max(_round_numbers(directory), default=-1) + 1


def _round_numbers(directory):
    folder = os.path.join(directory, "rounds")
    names = os.listdir(folder) if os.path.isdir(folder) else []
    return [int(match.group(1)) for match in map(_ROUND.match, names)
            if match]


def remove_temporaries(directory):
    """Remove the temporaries killed commands left in a session."""
    remove_leftovers(directory, {SESSION, POOL, NAMES, PENDING})
    for number in _round_numbers(directory):
        folder = round_folder(directory, number)
        remove_leftovers(folder, {"labels.csv", "contact_sheet.png"})
        remove_leftovers(os.path.join(folder, "images"), _IMAGE.match)


def remove_unfinished_init(directory):
    """Remove what an init that stopped part way wrote, by name.

    Without session.json no query or teach can have run here, so such a
    learner holds no label; one that does is refused, never deleted. A
    person's own files in the directory (or in `learner/`) stay.
    """
    learner_dir = os.path.join(directory, LEARNER)
    if os.path.isdir(learner_dir):
        with lock_directory(learner_dir) as lock:
            if learner_state.holds_labels(learner_dir):
                raise ValueError(
                    f"{learner_dir} holds a learner with labels but "
                    f"{directory} has no {SESSION}; it is not deleted. Run "
                    f"`keras-dbal query --state {directory}` to rebuild "
                    f"{SESSION} from it, or choose another directory."
                )
            folders.remove_checkpoints(learner_dir, lock)
        _remove_if_empty(learner_dir)
    for name in (POOL, NAMES):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            os.remove(path)
    remove_temporaries(directory)


def _remove_if_empty(folder):
    try:
        os.rmdir(folder)
    except OSError:
        pass  # a person's files are in it


def read_session(directory):
    """`(session, problem)`: session.json's settings, or None and why
    they cannot be used."""
    path = os.path.join(directory, SESSION)
    try:
        session = read_json(path)
    except LabelFileError as error:
        return None, f"{error}."
    if not isinstance(session, dict):
        session = {}
    pool = session.get("pool")
    if not (
        isinstance(session.get("num_classes"), int)
        and session["num_classes"] > 0
        and isinstance(session.get("seed", 0), int | None)
        and isinstance(pool, dict)
        and isinstance(pool.get("size"), int)
        and isinstance(pool.get("fingerprint"), str)
    ):
        return None, f"{path} does not hold a labelling session's settings."
    return session, None


def first_missing(directory):
    """The outermost folder of `directory` that does not exist, or None."""
    directory = os.path.abspath(directory)
    missing = None
    while not os.path.exists(directory):
        missing = directory
        directory = os.path.dirname(directory)
    return missing


def remove_made(directory, made):
    """Remove the folders down to `directory` that init made, if empty."""
    if made is None:
        return
    folder = os.path.abspath(directory)
    while True:
        try:
            os.rmdir(folder)
        except OSError:
            return  # not empty: someone else's files
        if folder == made:
            return
        folder = os.path.dirname(folder)


def read_json(path):
    """The JSON in `path`, or a `LabelFileError` saying why not."""
    try:
        with open(path) as file:
            return json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LabelFileError(f"Cannot read {path}: {error}") from None


def save_array(path, array):
    """`np.save` into `path`, atomically."""
    with replacing(path, "wb") as file:
        np.save(file, array)


def write_json(path, payload):
    """`payload` as JSON into `path`, atomically."""
    write_atomically(path, json.dumps(payload, indent=1))
