"""Layers for Bayesian deep learning with Monte Carlo dropout."""

from keras_dbal.layers.mask_scope import MaskScope
from keras_dbal.layers.mask_scope import current_scope
from keras_dbal.layers.mc_dropout import MCDropout

__all__ = ["MCDropout", "MaskScope", "current_scope"]
