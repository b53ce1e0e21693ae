"""Reference architectures."""

from keras_dbal.models.bayesian_head import bayesian_head
from keras_dbal.models.ensemble import Ensemble
from keras_dbal.models.gal_cnn import VARIANTS
from keras_dbal.models.gal_cnn import gal_cnn

__all__ = ["Ensemble", "VARIANTS", "bayesian_head", "gal_cnn"]
