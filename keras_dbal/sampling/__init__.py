"""Scoring a pool: T Monte Carlo dropout passes per image, compiled.

`MCSampler` is the public entry point; masks, chunking and the model split
are its internal parts.
"""

from keras_dbal.sampling.sampler import MCSampler

__all__ = ["MCSampler"]
