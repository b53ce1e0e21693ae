"""keras_dbal: deep Bayesian active learning for Keras 3."""

__version__ = "0.1.0.dev0"

from keras_dbal import acquisition
from keras_dbal import layers
from keras_dbal import models
from keras_dbal.layers import MCDropout
from keras_dbal.models import gal_cnn
from keras_dbal.regularizers import LabelScaledL2
from keras_dbal.sampling import MCSampler

__all__ = [
    "LabelScaledL2",
    "MCDropout",
    "MCSampler",
    "__version__",
    "acquisition",
    "gal_cnn",
    "layers",
    "models",
]
