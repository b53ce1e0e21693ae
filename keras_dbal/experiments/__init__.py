"""Simulated experiments: their settings, the runs, and their curves.

An oracle labels what each learner queries (Gal et al., 2017, Section 5):
`simulate` runs one learner, `simulate_together` many in lockstep with
their fits computed together, and `run_experiment` every acquisition
function and seed of an `ExperimentConfig`. The names below load on first
use, so that `keras-dbal --help` reads `ExperimentConfig`'s defaults
without starting a Keras backend.
"""

import importlib

# Each public name, and the module of this package that defines it.
_HOMES = {
    "POINT_MASS_FORMS": "config",
    "ExperimentConfig": "config",
    "curve_name": "curves",
    "labels_to_reach": "curves",
    "run_experiment": "runner",
    "simulate": "simulation",
    "simulate_together": "simulation",
    "summarize": "curves",
}

__all__ = sorted(_HOMES)


def __getattr__(name):
    if name not in _HOMES:
        raise AttributeError(
            f"module 'keras_dbal.experiments' has no attribute {name!r}"
        )
    module = importlib.import_module(f"keras_dbal.experiments.{_HOMES[name]}")
    return getattr(module, name)


def __dir__():
    return sorted(set(globals()) | set(__all__))
