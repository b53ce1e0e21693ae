"""Simulated experiments: their settings, runs and results.

`ExperimentConfig` lives here; `run_experiment` and the curves' helpers
are in `keras_dbal.active` until they move here (see the README's API
table).
"""

from keras_dbal.experiments.config import POINT_MASS_FORMS
from keras_dbal.experiments.config import ExperimentConfig

__all__ = ["POINT_MASS_FORMS", "ExperimentConfig"]
