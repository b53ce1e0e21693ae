"""Reference architectures."""

from keras_dbal.models.gal_cnn import VARIANTS
from keras_dbal.models.gal_cnn import gal_cnn

__all__ = ["VARIANTS", "gal_cnn"]
