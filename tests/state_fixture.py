"""A small learner state directory, kept under tests/data/ for good.

Usage:
    python -m tests.state_fixture tests/data/state-format-N
        Writes the state directory (if it does not exist yet) in the
        current checkpoint format N, then records what a load of it must
        give in tests/data/state-format-N.json: the labelled positions,
        labels and queries, and the next query under the running Keras
        backend. Run it once more under each other backend
        (KERAS_BACKEND=jax) to record that backend's next query.

A state directory written in one format is never written again: it is
what the labelling sessions of that release hold on people's disks, and
`tests/test_checkpoint_formats.py` checks that every later release loads
it (and upgrades it in place). After a format change, write one of the
new format too, with this command.

What it holds: a small `gal_cnn` (8 kernels, 16 dense units, about 1,500
weights) taught the digits' pool positions 0..9, then one BALD query of
5 and its labels; two checkpoints (the one before the last fit and the
one after), about 90 KB.
"""

import json
import os
import pathlib
import shutil
import sys
import tempfile

import keras
import numpy as np

import keras_dbal
from keras_dbal.active.pool import Pool
from keras_dbal.datasets.loaders import load_digits
from keras_dbal.saving.locking import LOCK_FILE


def pool():
    """The pool the state was taught from."""
    (x, y), _ = load_digits()
    return Pool(x[:150], y[:150])


def write(directory):
    keras.utils.set_random_seed(0)
    model = keras_dbal.gal_cnn((8, 8, 1), seed=0, filters=8, dense_units=16)
    model.compile("adam", "sparse_categorical_crossentropy")
    digits = pool()
    with keras_dbal.ActiveLearner(
        model, "bald", mc_samples=3, seed=0, checkpoint_dir=directory,
        fit_kwargs={"epochs": 2, "batch_size": 16},
    ) as learner:
        first = np.arange(10)
        learner.teach(digits, digits.oracle(first), indices=first)
        chosen = learner.query(digits, n=5)
        learner.teach(digits, digits.oracle(chosen), indices=chosen)
    # Whoever made it, not part of the state.
    os.remove(os.path.join(directory, LOCK_FILE))


def record(directory):
    """What a load of `directory` gives, the next query included."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = shutil.copytree(directory, os.path.join(scratch, "state"))
        digits = pool()
        with keras_dbal.ActiveLearner.load(copy, pool=digits) as learner:
            return {
                "labelled": learner.pool_indices_.tolist(),
                "labels": learner.y_labelled_.tolist(),
                "queries": [entry["indices"] for entry in learner.history_],
                "next_query": learner.query(digits, n=5).tolist(),
            }


def main(directory):
    directory = pathlib.Path(directory)
    if not directory.exists():
        write(directory)
    found = record(directory)
    path = directory.with_suffix(".json")
    stored = json.loads(path.read_text()) if path.exists() else {}
    next_query = stored.pop("next_query", {})
    next_query[keras.backend.backend()] = found.pop("next_query")
    if stored and stored != found:
        raise SystemExit(f"{directory} does not load as {path} says.")
    path.write_text(
        json.dumps({**found, "next_query": next_query}, indent=1) + "\n"
    )
    print(path.read_text())


if __name__ == "__main__":
    main(sys.argv[1])
