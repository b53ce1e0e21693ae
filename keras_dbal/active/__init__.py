"""The active-learning loop: the pool and the learner.

Simulated experiments built on them are in `keras_dbal.experiments`.
"""

from keras_dbal.active.learner import ActiveLearner
from keras_dbal.active.learner import NotFittedError
from keras_dbal.active.pool import Pool
from keras_dbal.active.prediction import ChanceLevelWarning
from keras_dbal.active.selection import balanced_indices

__all__ = [
    "ActiveLearner",
    "ChanceLevelWarning",
    "NotFittedError",
    "Pool",
    "balanced_indices",
]
