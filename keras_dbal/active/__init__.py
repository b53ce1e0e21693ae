"""The active-learning loop: the pool, the learner, and experiments."""

from keras_dbal.active.curves import labels_to_reach
from keras_dbal.active.curves import summarize
from keras_dbal.active.experiment import ExperimentConfig
from keras_dbal.active.experiment import run_experiment
from keras_dbal.active.learner import ActiveLearner
from keras_dbal.active.learner import NotFittedError
from keras_dbal.active.pool import Pool
from keras_dbal.active.selection import balanced_indices
from keras_dbal.active.simulation import simulate
from keras_dbal.active.simulation import simulate_together

__all__ = [
    "ActiveLearner",
    "ExperimentConfig",
    "NotFittedError",
    "Pool",
    "balanced_indices",
    "labels_to_reach",
    "run_experiment",
    "simulate",
    "simulate_together",
    "summarize",
]
