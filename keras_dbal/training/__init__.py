"""Training: a learner's fit from scratch, and many runs' fits together.

`fit_together` refits the learners of K runs by a registered strategy
(`STRATEGIES`): `"sequential"` (each run's own `model.fit`, the
reference), `"compiled"` (each fit in compiled code) or `"lockstep"` (the
K fits side by side); `choose("auto")` picks the fastest this device has
measured. All train on the epoch orders `epoch_orders` draws from each
run's seed, and so fit the same weights up to float rounding.
"""

# The built-in strategies register themselves on import.
from keras_dbal.training import compiled  # noqa: F401
from keras_dbal.training import lockstep  # noqa: F401
from keras_dbal.training import sequential  # noqa: F401
from keras_dbal.training.compiled_fit import epoch_orders
from keras_dbal.training.strategies import STRATEGIES
from keras_dbal.training.strategies import STRATEGY_BY_DEVICE
from keras_dbal.training.strategies import FitStrategy
from keras_dbal.training.strategies import choose
from keras_dbal.training.strategies import register
from keras_dbal.training.together import fit_together

__all__ = [
    "STRATEGIES",
    "STRATEGY_BY_DEVICE",
    "FitStrategy",
    "choose",
    "epoch_orders",
    "fit_together",
    "register",
]
