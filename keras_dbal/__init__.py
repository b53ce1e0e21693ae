"""keras_dbal: deep Bayesian active learning for Keras 3."""

__version__ = "0.1.0.dev0"

from keras_dbal import _quiet

if _quiet.started_as_command():
    _quiet.start_backend_quietly()

from keras_dbal import acquisition
from keras_dbal import backend
from keras_dbal import data
from keras_dbal import layers
from keras_dbal import models
from keras_dbal.data import Pool
from keras_dbal.layers import MCDropout
from keras_dbal.learner import ActiveLearner
from keras_dbal.learner import NotFittedError
from keras_dbal.models import gal_cnn
from keras_dbal.regularizers import LabelScaledL2
from keras_dbal.sampling import MCSampler

__all__ = [
    "ActiveLearner",
    "LabelScaledL2",
    "MCDropout",
    "MCSampler",
    "NotFittedError",
    "Pool",
    "__version__",
    "acquisition",
    "backend",
    "data",
    "gal_cnn",
    "layers",
    "models",
]
