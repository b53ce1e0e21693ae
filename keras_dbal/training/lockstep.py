"""The runs' fits side by side, a compiled call per epoch for all."""

import keras_dbal.training.compiled_fit as compiled_fit
from keras_dbal.training.strategies import FitStrategy
from keras_dbal.training.strategies import register

__all__ = ["Lockstep"]


class Lockstep(FitStrategy):
    """The K fits of one architecture together (`LockstepFit`): under JAX
    one `jax.vmap` over the K stacked states, the way to fill a GPU with
    the small batches of active learning; under TensorFlow the K train
    steps side by side in one `tf.function`."""

    name = "lockstep"

    def refusal(self, models, fit_kwargs):
        return compiled_fit.refusal(models, fit_kwargs)

    def fit(self, models, xs, ys, seeds, fit_kwargs):
        orders, batch_size = compiled_fit.plan(xs, seeds, fit_kwargs)
        for group in compiled_fit.same_model_groups(models):
            compiled_fit.LockstepFit(
                [models[i] for i in group], batch_size
            )([xs[i] for i in group], [ys[i] for i in group],
              [orders[i] for i in group])


register(Lockstep())
