"""Batch acquisition: choosing n images that are informative together.

`ActiveLearner(acquisition=...)` takes, besides the single-image functions
of `keras_dbal.acquisition`, a batch acquisition: an object with a
`select` method, or one of the names in `names()`:

- `"batchbald"`: `BatchBALD()`, greedy joint mutual information;
- `"power_bald"`, `"softmax_bald"`, `"softrank_bald"`:
  `StochasticBatch("bald", mode)`, a batch sampled from BALD scores.

`StochasticBatch` turns any single-image function into a batch one.
"""

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
    "BatchBALD",
    "StochasticBatch",
    "all_names",
    "get",
    "greedy_batchbald",
    "joint_entropy",
    "names",
    "stochastic_top_n",
]
