"""keras_dbal: deep Bayesian active learning for Keras 3.

The public API is every name in `__all__` here and in the `__all__` of the
subpackages listed there (see the API table in the README). Modules inside
the subpackages are internal and may change without notice.
"""

# ruff: noqa: F401 (`_load_public_api` imports what `__all__` exports)

import importlib
import importlib.util

from keras_dbal import _quiet
from keras_dbal.version import __version__

__all__ = [
    "ActiveLearner",
    "ChanceLevelWarning",
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
    "acquisition_registry",
    "active",
    "batch_acquisition",
    "datasets",
    "distributed",
    "experiments",
    "gal_cnn",
    "layers",
    "models",
    "regularizers",
    "run_experiment",
    "sampling",
    "saving",
    "tools",
    "training",
]


def _load_public_api():
    """Import what `__all__` names into this package."""
    # One block, run at import or, under `keras-dbal`, on first use.
    from keras_dbal import acquisition
    from keras_dbal import acquisition_registry
    from keras_dbal import active
    from keras_dbal import batch_acquisition
    from keras_dbal import datasets
    from keras_dbal import distributed
    from keras_dbal import experiments
    from keras_dbal import layers
    from keras_dbal import models
    from keras_dbal import regularizers
    from keras_dbal import sampling
    from keras_dbal import saving
    from keras_dbal import tools
    from keras_dbal import training
    from keras_dbal.active import ActiveLearner
    from keras_dbal.active import ChanceLevelWarning
    from keras_dbal.active import NotFittedError
    from keras_dbal.active import Pool
    from keras_dbal.experiments import ExperimentConfig
    from keras_dbal.experiments import run_experiment
    from keras_dbal.layers import MCDropout
    from keras_dbal.models import Ensemble
    from keras_dbal.models import gal_cnn
    from keras_dbal.regularizers import LabelScaledL2
    from keras_dbal.sampling import MCSampler
    from keras_dbal.saving import CheckpointError
    from keras_dbal.saving import CheckpointWarning
    from keras_dbal.saving import StateLockedError

    globals().update(
        (name, value) for name, value in locals().items() if name in __all__
    )


if _quiet.started_as_command():
    _quiet.hear_interrupts_early()

    # `keras-dbal` answers --help and checks its arguments before it starts
    # a backend (seconds): the public names load on first use.
    def __getattr__(name):
        if name not in __all__:
            raise AttributeError(
                f"module 'keras_dbal' has no attribute {name!r}"
            )
        if importlib.util.find_spec(f"keras_dbal.{name}") is not None:
            # A subpackage starts what it needs itself (`from keras_dbal
            # import tools` asks for it here first).
            return importlib.import_module(f"keras_dbal.{name}")
        _quiet.start_backend_quietly()
        _load_public_api()
        return globals()[name]
else:
    _quiet.start_backend_quietly()
    _load_public_api()
