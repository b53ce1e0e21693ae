"""Traces per experiment do not grow with its rounds.

A layer that counts the Python calls of its `call` sees one per trace (a
compiled fit, a sampler, Keras's own train function) and one per eager
call: the count of an experiment of 5 rounds must equal that of 2.
"""

import keras
import numpy as np
import pytest

from keras_dbal import ActiveLearner
from keras_dbal import LabelScaledL2
from keras_dbal import MCDropout
from keras_dbal import Pool
from keras_dbal.experiments import simulate_together


class _Counting(keras.layers.Layer):
    calls = 0

    def call(self, inputs):
        _Counting.calls += 1
        return inputs


def _learner(digits, seed):
    (x, y), _ = digits
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        _Counting(),
        keras.layers.Flatten(),
        MCDropout(0.25, seed=seed),
        keras.layers.Dense(10, activation="softmax",
                           kernel_regularizer=LabelScaledL2(3.5, 20)),
    ])
    model.compile("adam", "sparse_categorical_crossentropy")
    learner = ActiveLearner(
        model, acquisition="bald", mc_samples=3, seed=seed,
        fit_kwargs={"epochs": 2, "batch_size": 8, "verbose": 0},
        pool_subset=100,
    )
    pool = Pool(x, y)
    learner.teach(pool, y[:20], indices=np.arange(20), fit=False)
    return learner, pool


def _calls(digits, rounds, strategy):
    _Counting.calls = 0
    learners, pools = zip(
        *[_learner(digits, seed) for seed in (0, 1)], strict=True
    )
    _, (x_test, y_test) = digits
    simulate_together(learners, pools, rounds, n=5, x_test=x_test,
                      y_test=y_test, strategy=strategy, progress=False)
    return _Counting.calls


@pytest.mark.slow
@pytest.mark.jax
@pytest.mark.parametrize("strategy", ["lockstep", "compiled", "sequential"])
def test_traces_do_not_grow_with_rounds(digits, strategy):
    # The weight decay's c / N changes every round, and the labelled set's
    # size. Under TensorFlow neither traces anew (the coefficient is a
    # variable, shapes are relaxed); under JAX, whose jitted shapes are
    # static, the compiled fits pass the coefficient to their step and pad
    # the last batch to one of four sizes (here 2, 4, 6 and 8 images).
    if strategy == "sequential" and keras.backend.backend() == "jax":
        pytest.skip("Keras's own JAX model.fit traces each new shape")
    assert _calls(digits, 5, strategy) == _calls(digits, 2, strategy)
