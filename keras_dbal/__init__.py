"""keras_dbal: deep Bayesian active learning for Keras 3.

The public API is every name in `__all__` here and in the `__all__` of the
subpackages listed there (see the API table in the README). Modules inside
the subpackages are internal and may change without notice.
"""

from keras_dbal import _quiet

if _quiet.started_as_command():
    _quiet.start_backend_quietly()

from keras_dbal import acquisition
from keras_dbal import active
from keras_dbal import batch_acquisition
from keras_dbal import datasets
from keras_dbal import layers
from keras_dbal import models
from keras_dbal import regularizers
from keras_dbal import sampling
from keras_dbal import saving
from keras_dbal import tools
from keras_dbal.active import ActiveLearner
from keras_dbal.active import ExperimentConfig
from keras_dbal.active import NotFittedError
from keras_dbal.active import Pool
from keras_dbal.active import run_experiment
from keras_dbal.layers import MCDropout
from keras_dbal.models import Ensemble
from keras_dbal.models import gal_cnn
from keras_dbal.regularizers import LabelScaledL2
from keras_dbal.sampling import MCSampler
from keras_dbal.saving import CheckpointError
from keras_dbal.saving import CheckpointWarning
from keras_dbal.saving import StateLockedError
from keras_dbal.version import __version__

__all__ = [
    "ActiveLearner",
    "CheckpointError",
    "CheckpointWarning",
    "Ensemble",
    "ExperimentConfig",
    "LabelScaledL2",
    "MCDropout",
    "MCSampler",
    "NotFittedError",
    "Pool",
    "StateLockedError",
    "__version__",
    "acquisition",
    "active",
    "batch_acquisition",
    "datasets",
    "gal_cnn",
    "layers",
    "models",
    "regularizers",
    "run_experiment",
    "sampling",
    "saving",
    "tools",
]
