"""
Title: Batches and ensembles
Author: keras_dbal developers
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Top-n BALD's duplicates, BatchBALD, PowerBALD and deep ensembles.
"""

"""
## Introduction

Acquiring the ten images with the highest BALD scores assumes their
information adds up. It does not when the pool holds near-duplicates: the
copies of one confusing image are all uncertain for the same reason, so
top-10 BALD spends several labels on what one label would teach. This
tutorial shows it on a pool where every digit appears three times, then
the two remedies of `keras_dbal.batch_acquisition`:

- `BatchBALD` (Kirsch, van Amersfoort & Gal, 2019) picks the batch
  greedily by its *joint* mutual information with the model, so a second
  copy of a chosen image adds almost nothing and is passed over;
- `StochasticBatch` / `"power_bald"` (Kirsch et al., 2023) draws the batch
  at random in proportion to the scores, which breaks up clusters at the
  cost of top-n.

Last, a deep ensemble (Beluch et al., 2018): five independently
initialised CNNs whose disagreement stands in for MC dropout's.

Run it with `python tutorials/batches_and_ensembles.py`; it uses the 8x8
digits shipped with scikit-learn. `KERAS_DBAL_TUTORIAL_QUICK=1` shrinks it
to a smoke test; `KERAS_DBAL_TUTORIAL_OUT` says where figures go (default
`tutorials/figures`).
"""

"""
## Setup
"""

# keras_dbal first: it starts TensorFlow with TensorFlow's start-up
# notes kept off stderr, which it cannot do once TensorFlow is imported.
import keras_dbal

# isort: split

import os
import time

import keras
import numpy as np
from matplotlib import pyplot

from keras_dbal.batch_acquisition import BatchBALD

QUICK = os.environ.get("KERAS_DBAL_TUTORIAL_QUICK") == "1"
OUT = os.environ.get(
    "KERAS_DBAL_TUTORIAL_OUT",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"),
)
os.makedirs(OUT, exist_ok=True)
EPOCHS = 5 if QUICK else 100
MC_SAMPLES = 10 if QUICK else 100
ROUNDS = 1 if QUICK else 8
started = time.perf_counter()

"""
## A pool of triplicates

Each training digit appears three times, each copy with its own faint
noise, and `original` remembers which digit a pool image is a copy of.
"""

(x_train, y_train), (x_test, y_test) = keras_dbal.datasets.load_digits()
if QUICK:
    x_train, y_train = x_train[:200], y_train[:200]
rng = np.random.default_rng(0)
copies = 3
x_pool = np.concatenate([x_train] * copies)
x_pool = np.clip(x_pool + rng.normal(0, 0.05, x_pool.shape), 0, 1)
x_pool = x_pool.astype("float32")
y_pool = np.tile(y_train, copies)
original = np.tile(np.arange(len(x_train)), copies)
initial = keras_dbal.active.balanced_indices(y_pool, per_class=3, seed=0)
print(f"{len(x_pool)} pool images: {len(x_train)} digits x {copies}")

"""
## What top-n BALD picks

We train the Bayesian CNN on 30 labels, then ask BALD, BatchBALD and
PowerBALD for 10 images each from the same model. T is 100 here: the T
samples are all BatchBALD knows of the posterior, and a batch's joint
information cannot exceed log T, so a small T makes its last picks noise.
"""


def make_learner(acquisition, model=None, mc_samples=MC_SAMPLES):
    keras.utils.set_random_seed(0)
    if model is None:
        model = keras_dbal.gal_cnn(x_pool.shape[1:], 10, seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return keras_dbal.ActiveLearner(
        model, acquisition, mc_samples, seed=0,
        fit_kwargs={"epochs": EPOCHS, "batch_size": 32},
    )


learner = make_learner("bald")
pool = keras_dbal.Pool(x_pool, y_pool)
learner.teach(pool, y_pool[initial], indices=initial)

"""
`learner.query` would use the learner's own acquisition; to compare three
on one trained model we call what it calls: the sampler's `top_n` for
BALD, and each batch acquisition's `select`.
"""

unlabelled = pool.unlabelled_indices
batches = {
    "bald": learner.sampler.top_n(
        x_pool, keras_dbal.acquisition.bald, 10, indices=unlabelled, seed=0
    )[0],
}
gains = None
for acquisition in (BatchBALD(num_candidates=200),
                    keras_dbal.batch_acquisition.get("power_bald")):
    batches[acquisition.name], scores = acquisition.select(
        learner.sampler, x_pool, unlabelled, 10, exclude=None, seed=0,
        verbose=0,
    )
    if acquisition.name == "batchbald":
        gains = scores
for name, chosen in batches.items():
    repeats = len(chosen) - len(set(original[chosen].tolist()))
    print(f"{name:>10}: {repeats} of 10 picks are copies of another pick")
print("BatchBALD's gain of each pick (nats):",
      " ".join(f"{gain:.3f}" for gain in gains))
print(f"Their sum, the batch's joint information: {np.sum(gains):.2f} "
      f"nats; with T = {MC_SAMPLES} it cannot pass log T = "
      f"{np.log(MC_SAMPLES):.2f}")

"""
Copies show up as the same digit in a row; each picture is titled by the
digit it copies.
"""

figure, axes = pyplot.subplots(len(batches), 10, figsize=(10, 3.4))
for row, (name, chosen) in zip(axes, batches.items(), strict=True):
    counts = np.bincount(original[chosen], minlength=len(x_train))
    for axis, position in zip(row, chosen, strict=True):
        axis.imshow(x_pool[position, ..., 0], cmap="gray")
        duplicate = counts[original[position]] > 1
        axis.set_title(f"#{original[position]}", fontsize=7,
                       color="red" if duplicate else "black")
        axis.axis("off")
    row[0].text(-0.2, 0.5, name, fontsize=9, ha="right", va="center",
                transform=row[0].transAxes)
figure.subplots_adjust(left=0.12, right=0.99, top=0.82, wspace=0.1)
figure.suptitle("One batch of 10 from the same model (red: a copy chosen "
                "twice or more)", fontsize=9)
figure.savefig(os.path.join(OUT, "batches_duplicates.png"), dpi=100)

"""
![The three batches](figures/batches_duplicates.png)

## Deep ensembles

`Ensemble.from_builder` builds K copies of a network, each from its own
seed, as one Keras model whose prediction is their mean. Trained, each
member minimises its own loss; sampled, each member gives one
prediction (deterministic members), and BALD measures how much they
disagree. Everything that takes a model takes an ensemble.
`ExperimentConfig(ensembles=...)` runs acquisition functions on one, so
a few rounds compare it with MC dropout at the same label budget.
"""

config = keras_dbal.ExperimentConfig(
    acquisitions=("bald", "random"), ensembles=("bald",), ensemble_size=5,
    seeds=(0,), rounds=ROUNDS, query_size=10, initial_per_class=2,
    mc_samples=20, epochs=EPOCHS, pool_subset=400 if QUICK else 1000,
)
results = keras_dbal.run_experiment(
    ((x_train, y_train), (x_test, y_test)), config, progress=False,
)
keras_dbal.tools.plot_learning_curves(
    keras_dbal.experiments.summarize(results),
    os.path.join(OUT, "batches_ensembles.png"),
    title="Digits: MC dropout (T = 20) vs an ensemble of 5",
)

"""
![Learning curves](figures/batches_ensembles.png)

## What we saw

Our run (TensorFlow backend, 2 x86_64 CPU cores, 133 s while another
benchmark shared the cores) did not tell the textbook story. Of the 10
picks, BALD took 2 copies of another pick, BatchBALD 3, and PowerBALD
none. BatchBALD's gains stayed well above zero (0.42 down to 0.18 nats,
2.74 in all, under log T = 4.61), so the model treated the noisy copies
as different images: the copies here differ by their noise, and at 8x8
pixels that noise is visible. On exact duplicates (the test suite's
constructed pool) BatchBALD takes one copy; the README's Repeated MNIST
benchmark measures the effect over whole runs. In the short experiment
the ensemble of 5 ended ahead (test error 0.111 with 100 labels, against
0.172 for BALD with MC dropout and 0.144 for random). One seed on the
digits is an anecdote.
"""

print(f"Done in {time.perf_counter() - started:.0f} s; figures in {OUT}")
