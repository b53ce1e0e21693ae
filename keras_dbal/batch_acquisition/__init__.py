"""Batch acquisition: choosing n images that are informative together.

`ActiveLearner(acquisition=...)` takes, besides the single-image functions
of `keras_dbal.acquisition`, a batch acquisition, by name (`names()`):

- `"batchbald"`: `BatchBALD()`, greedy joint mutual information;
- `"power_bald"`, `"softmax_bald"`, `"softrank_bald"`:
  `StochasticBatch("bald", mode)`, a batch sampled from BALD scores;

or as an object: `BatchBALD(...)`, `StochasticBatch(...)` (which turns any
single-image function into a batch one), or your own: a subclass of
`BatchAcquisition` (a `name`, `get_config`, and `select(sampler, images,
positions, n, *, exclude, seed, verbose)` returning `(positions, scores)`
in the order chosen), or any object with such a `select` and, optionally,
a `name` (used in results; default: the class name) and `scores_with`
(the registered name of the single-image score it reads, which says
whether it needs a Bayesian model). Names are registered in
`keras_dbal.acquisition_registry`.
"""

from keras_dbal.batch_acquisition.base import BatchAcquisition
from keras_dbal.batch_acquisition.batchbald import BatchBALD
from keras_dbal.batch_acquisition.batchbald import greedy_batchbald
from keras_dbal.batch_acquisition.joint_entropy import joint_entropy
from keras_dbal.batch_acquisition.registry import all_names
from keras_dbal.batch_acquisition.registry import get
from keras_dbal.batch_acquisition.registry import names
from keras_dbal.batch_acquisition.stochastic import MODES
from keras_dbal.batch_acquisition.stochastic import StochasticBatch
from keras_dbal.batch_acquisition.stochastic import stochastic_top_n

__all__ = [
    "MODES",
    "BatchAcquisition",
    "BatchBALD",
    "StochasticBatch",
    "all_names",
    "get",
    "greedy_batchbald",
    "joint_entropy",
    "names",
    "stochastic_top_n",
]
