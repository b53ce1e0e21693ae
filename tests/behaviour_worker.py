"""A small seeded active-learning loop whose queries and errors are pinned.

Usage: python -m tests.behaviour_worker [--write]

Runs, under the current Keras backend and with deterministic ops, a few
rounds of several acquisition functions on the embedded digits, and
prints the queries and test errors as JSON (with --write, stores them in
tests/data/behaviour-<backend>.json). `test_behaviour.py` compares a fresh
run with the stored file, so a refactor that claims "behaviour unchanged"
is checked against what the code did before it.
"""

import json
import pathlib
import sys

import keras

import keras_dbal
from keras_dbal.active.pool import Pool
from keras_dbal.active.selection import balanced_indices
from keras_dbal.datasets.loaders import load_digits

ACQUISITIONS = ("bald", "max_entropy", "variation_ratios")
STORE = pathlib.Path(__file__).parent / "data"


def run_loop(acquisition, x, y, x_test, y_test):
    keras.utils.set_random_seed(0)
    model = keras_dbal.gal_cnn((8, 8, 1), seed=0)
    model.compile("adam", "sparse_categorical_crossentropy")
    learner = keras_dbal.ActiveLearner(
        model, acquisition, mc_samples=4, seed=0, pool_subset=150,
        fit_kwargs={"epochs": 3, "batch_size": 16},
    )
    pool = Pool(x, y)
    initial = balanced_indices(y, 1, seed=0)
    learner.teach(pool, y[initial], indices=initial)
    curve = keras_dbal.experiments.simulate(
        learner, pool, rounds=2, n=5, x_test=x_test, y_test=y_test,
        progress=False,
    )
    return {
        "queries": [entry["indices"] for entry in learner.history_],
        "error": [point["error"] for point in curve],
        "nll": [point["nll"] for point in curve],
    }


def main(write):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    (x, y), (x_test, y_test) = load_digits()
    record = {
        name: run_loop(name, x[:300], y[:300], x_test[:100], y_test[:100])
        for name in ACQUISITIONS
    }
    text = json.dumps(record, indent=1)
    if write:
        path = STORE / f"behaviour-{keras.backend.backend()}.json"
        path.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main("--write" in sys.argv[1:])
