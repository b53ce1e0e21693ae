"""The runs' fits side by side, a compiled call per epoch for all."""

import keras_dbal.training.compiled_fit as compiled_fit
from keras_dbal.training.compiled import Compiled
from keras_dbal.training.strategies import register

__all__ = ["Lockstep"]


class Lockstep(Compiled):
    """The K fits of one architecture together (`LockstepFit`): under JAX
    one `jax.vmap` over the K stacked states, the way to fill a GPU with
    the small batches of active learning; under TensorFlow the K train
    steps side by side in one `tf.function`. It takes what `Compiled`
    takes, grouped as `Compiled` groups."""

    name = "lockstep"

    def __init__(self):
        self._fits = compiled_fit.FitCache()

    def fit_group(self, models, xs, ys, orders, batch_size):
        fit = self._fits.get(models, batch_size, compiled_fit.LockstepFit)
        fit(xs, ys, orders)


register(Lockstep())
