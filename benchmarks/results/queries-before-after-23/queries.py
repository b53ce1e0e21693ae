"""Queries of fixed seeds, to compare two versions of keras_dbal."""

import keras_dbal  # first: it keeps TensorFlow's start-up notes off stderr

# isort: split
import json
import sys

import keras

from keras_dbal.datasets import load_digits

try:
    from keras_dbal.experiments import simulate_together
except ImportError:
    from keras_dbal.active import simulate_together

keras.utils.set_random_seed(0)  # gal_cnn(seed=...) seeds only its masks
(x, y), (xt, yt) = load_digits()
out = {}


def learner(acquisition, seed):
    model = keras_dbal.gal_cnn((8, 8, 1), num_classes=10, seed=seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return keras_dbal.ActiveLearner(
        model, acquisition, mc_samples=8, seed=seed,
        fit_kwargs={"epochs": 40, "batch_size": 16},
    )


for acquisition in ("bald", "random", "max_entropy", "batchbald",
                    "power_bald"):
    ln = learner(acquisition, 3)
    pool = keras_dbal.Pool(x, y)
    initial = keras_dbal.active.balanced_indices(y, 2, seed=3)
    ln.teach(pool, y[initial], indices=initial)
    out[acquisition] = [int(i) for i in ln.query(pool, n=10)]

learners, pools = [], []
for acquisition in ("bald", "random"):
    for seed in (0, 1):
        ln = learner(acquisition, seed)
        pool = keras_dbal.Pool(x, y)
        initial = keras_dbal.active.balanced_indices(y, 2, seed=seed)
        ln.teach(pool, y[initial], indices=initial, fit=False)
        learners.append(ln)
        pools.append(pool)
curves = simulate_together(learners, pools, 2, 10, x_test=xt, y_test=yt,
                           progress=False)
out["together_labelled"] = [[int(i) for i in ln.pool_indices_]
                            for ln in learners]
out["together_error"] = [[round(p["error"], 6) for p in c] for c in curves]
json.dump(out, sys.stdout)
