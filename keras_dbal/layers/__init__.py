"""Layers for Bayesian deep learning with Monte Carlo dropout."""

from keras_dbal.layers.mc_dropout import MCDropout

__all__ = ["MCDropout"]
