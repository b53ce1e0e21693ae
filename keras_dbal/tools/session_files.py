"""Files of a labelling session's directory, written atomically."""

import json
import os
import shutil

import numpy as np

from keras_dbal.saving.atomic import replacing
from keras_dbal.saving.atomic import write_atomically
from keras_dbal.saving.locking import lock_directory
from keras_dbal.tools.label_files import LabelFileError

__all__ = [
    "next_round",
    "read_json",
    "remove_unfinished_init",
    "save_array",
    "write_json",
]


def next_round(directory):
    """One past the highest round folder in `directory/rounds`."""
    folder = os.path.join(directory, "rounds")
    numbers = [
        int(name.rsplit("-", 1)[1]) for name in (
            os.listdir(folder) if os.path.isdir(folder) else []
        ) if name.startswith("round-") and name.rsplit("-", 1)[1].isdigit()
    ]
    return max(numbers, default=-1) + 1


def remove_unfinished_init(learner_dir):
    """Remove what an init that stopped part way left, if it holds no label.

    Without session.json no query or teach can have run here, so such a
    learner holds no label; one that does (a folder of the user's own) is
    refused, never deleted.
    """
    if not os.path.isdir(learner_dir):
        return
    with lock_directory(learner_dir):
        for name in os.listdir(learner_dir):
            path = os.path.join(learner_dir, name, "state.json")
            if ".tmp-" in name or not os.path.isfile(path):
                continue
            try:
                with open(path) as file:
                    labelled = json.load(file).get("num_labelled")
            except (OSError, ValueError, AttributeError):
                labelled = None
            if labelled != 0:
                raise ValueError(
                    f"{learner_dir} holds a learner with labels but "
                    f"{os.path.dirname(learner_dir)} has no session.json; "
                    "it is not deleted. Restore session.json, or choose "
                    "another directory."
                )
        shutil.rmtree(learner_dir)


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
