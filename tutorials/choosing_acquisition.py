"""
Title: Choosing an acquisition function
Author: keras_dbal developers
Date created: 2026/11/28
Last modified: 2026/11/28
Description: Every acquisition function side by side, and the images each picks.
"""

"""
## Introduction

An acquisition function turns the T stochastic predictions of each pool
image, `probs` of shape `(T, N, C)`, into one score: higher means label
first. With `p_bar = mean_t p_t` and `H[p] = -sum_c p_c log p_c`,
keras_dbal has the functions of Gal, Islam & Ghahramani (2017) and two
classics:

| name | score | measures |
|---|---|---|
| `max_entropy` | `H[p_bar]` | all uncertainty |
| `bald` | `H[p_bar] - mean_t H[p_t]` | model uncertainty |
| `variation_ratios` | `1 - (votes of the modal class) / T` | vote split |
| `mean_std` | `mean_c std_t p_t[c]` | spread of the passes |
| `margin` | `-(p_bar[first] - p_bar[second])` | closeness of the top two |
| `least_confidence` | `1 - max_c p_bar[c]` | lack of confidence |
| `random` | uniform | the baseline |

This tutorial scores one pool with every function from the same model,
shows the images each would label next, and runs a short experiment with
each. Run it with `python tutorials/choosing_acquisition.py`; it uses the
8x8 digits shipped with scikit-learn. `KERAS_DBAL_TUTORIAL_QUICK=1`
shrinks it to a smoke test; `KERAS_DBAL_TUTORIAL_OUT` says where figures
go (default `tutorials/figures`).
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

QUICK = os.environ.get("KERAS_DBAL_TUTORIAL_QUICK") == "1"
OUT = os.environ.get(
    "KERAS_DBAL_TUTORIAL_OUT",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures"),
)
os.makedirs(OUT, exist_ok=True)
EPOCHS = 5 if QUICK else 100
ROUNDS = 1 if QUICK else 10
FUNCTIONS = ("bald", "max_entropy", "variation_ratios", "mean_std",
             "margin", "least_confidence", "random")
started = time.perf_counter()

"""
## One model, every function

The Bayesian CNN, trained on 30 labels; then T = 20 passes over the pool,
and every function's score for every pool image.
"""

(x_pool, y_pool), (x_test, y_test) = keras_dbal.datasets.load_digits()
labelled = keras_dbal.active.balanced_indices(y_pool, 3, seed=0)
keras.utils.set_random_seed(0)
model = keras_dbal.gal_cnn((8, 8, 1), 10, seed=0, num_labelled=30)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x_pool[labelled], y_pool[labelled], epochs=EPOCHS, batch_size=32,
          verbose=0)
unlabelled = np.setdiff1d(np.arange(len(x_pool)), labelled)
probs = keras_dbal.MCSampler(model, 20, seed=0).sample(x_pool[unlabelled])
scores = {
    name: np.asarray(keras_dbal.acquisition.get(name)(probs))
    for name in FUNCTIONS if name != "random"
}
ranks = {name: np.argsort(np.argsort(-score)) for name, score in
         scores.items()}
names = list(scores)
agreement = np.array([[np.corrcoef(ranks[a], ranks[b])[0, 1]
                       for b in names] for a in names])
print("Rank correlation of the scores (Spearman):")
print(" " * 17 + "".join(f"{name[:8]:>9}" for name in names))
for name, row in zip(names, agreement, strict=True):
    print(f"{name:>17}" + "".join(f"{value:>9.2f}" for value in row))

"""
Each function's top 8 from the same model, as a grid: the functions that
measure the same thing pick many of the same images.
"""

figure, axes = pyplot.subplots(len(names), 8, figsize=(8, 1.2 * len(names)))
for row, name in zip(axes, names, strict=True):
    top = unlabelled[np.argsort(-scores[name])[:8]]
    for axis, position in zip(row, top, strict=True):
        axis.imshow(x_pool[position, ..., 0], cmap="gray")
        axis.set_title(str(y_pool[position]), fontsize=7)
        axis.axis("off")
    row[0].text(-0.2, 0.5, name, fontsize=8, ha="right", va="center",
                transform=row[0].transAxes)
figure.subplots_adjust(left=0.2, right=0.99, top=0.93, hspace=0.5)
figure.suptitle("Top 8 by each function (titles: true digit)", fontsize=9)
figure.savefig(os.path.join(OUT, "choosing_top_images.png"), dpi=100)

"""
![Top images](figures/choosing_top_images.png)

## Every function in a short experiment

`run_experiment` runs every function (one seed here; the README's
benchmarks use more) from 20 labels, 10 acquired a round, and records the
test accuracy after each round.
"""

config = keras_dbal.ExperimentConfig(
    acquisitions=FUNCTIONS, seeds=(0,), rounds=ROUNDS, epochs=EPOCHS,
    mc_samples=20, pool_subset=400 if QUICK else 1000,
)
results = keras_dbal.run_experiment(
    ((x_pool, y_pool), (x_test, y_test)), config, progress=False,
)
keras_dbal.tools.plot_learning_curves(
    keras_dbal.experiments.summarize(results),
    os.path.join(OUT, "choosing_curves.png"),
    title="Every acquisition function, digits, one seed",
)

"""
![Learning curves](figures/choosing_curves.png)

## What we saw

Our run (TensorFlow backend, 2 x86_64 CPU cores, 177 s, while another
benchmark shared the cores). BALD and mean STD ranked the pool almost
alike (rank correlation 0.95), as did max entropy and least confidence
(0.95), while BALD and max entropy barely agreed (0.10): they measure
different things. After 10 rounds (120 labels) the test error was 0.050
(least confidence), 0.067 (margin), 0.069 (variation ratios), 0.075 (max
entropy and mean STD), 0.119 (random) and 0.142 (BALD). One seed on the
8x8 digits is an anecdote, not a ranking: the README's benchmarks use
several seeds on MNIST, where BALD and variation ratios led in the paper.
"""

print(f"Done in {time.perf_counter() - started:.0f} s; figures in {OUT}")
