"""An active-learning loop that checkpoints and resumes; killed by tests.

Usage: python -m tests.resume_worker STATE_DIR JOURNAL ROUNDS

Starts fresh, or continues the latest checkpoint in STATE_DIR. After each
`teach` returns, the taught pool positions are appended to JOURNAL (and
fsynced), so a test knows which labels the loop was told were safe. Prints
the final labelled positions and all queries as JSON.
"""

import json
import os
import sys

import keras
import numpy as np

import keras_dbal
from keras_dbal.active.pool import Pool
from keras_dbal.datasets.loaders import load_digits
from keras_dbal.saving.folders import latest


def journal(path, positions):
    with open(path, "a") as file:
        file.write(json.dumps([int(p) for p in positions]) + "\n")
        file.flush()
        os.fsync(file.fileno())


def start_or_continue(state, pool, epochs):
    """The learner in `state`, or a new one taught pool positions 0..9.

    Returns:
        `(learner, first)`: `first` the positions taught now, or None.
    """
    if os.path.isdir(state) and latest(state):
        return keras_dbal.ActiveLearner.load(state, pool=pool), None
    keras.utils.set_random_seed(0)
    model = keras_dbal.gal_cnn((8, 8, 1), seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    learner = keras_dbal.ActiveLearner(
        model, "bald", mc_samples=3, seed=0, checkpoint_dir=state,
        fit_kwargs={"epochs": epochs, "batch_size": 32},
    )
    first = np.arange(10)
    learner.teach(pool, pool.oracle(first), indices=first)
    return learner, first


def main(state, journal_path, rounds):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    (x, y), _ = load_digits()
    pool = Pool(x[:300], y[:300])
    learner, first = start_or_continue(state, pool, epochs=2)
    if first is not None:
        journal(journal_path, first)
    while learner.round < rounds:
        chosen = learner.query(pool, n=5)
        learner.teach(pool, pool.oracle(chosen), indices=chosen)
        journal(journal_path, chosen)
    print(json.dumps({
        "labelled": learner.pool_indices_.tolist(),
        "labels": learner.y_labelled_.tolist(),
        "queries": [entry["indices"] for entry in learner.history_],
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
