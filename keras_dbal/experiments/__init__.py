"""Simulated experiments: their settings, the runs, and their curves.

An oracle labels what each learner queries (Gal et al., 2017, Section 5):
`simulate` runs one learner, `simulate_together` many in lockstep with
their fits computed together, and `run_experiment` every acquisition
function and seed of an `ExperimentConfig`. The names below load on first
use, so that `keras-dbal --help` reads `ExperimentConfig`'s defaults
without starting a Keras backend.
"""

from keras_dbal.utils import lazy

# Each public name, and the module of this package that defines it.
_HOMES = {
    "POINT_MASS_FORMS": "config",
    "ExperimentConfig": "config",
    "UnfinishedExperimentError": "state",
    "curve_name": "curves",
    "labels_to_reach": "curves",
    "run_experiment": "runner",
    "simulate": "simulation",
    "simulate_together": "simulation",
    "summarize": "curves",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy.exports(__name__, _HOMES)
