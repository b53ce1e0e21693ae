"""The reference strategy: each run's own `model.fit`, one after another."""

import keras_dbal.training.refit as refit
from keras_dbal.training.strategies import FitStrategy
from keras_dbal.training.strategies import register

__all__ = ["Sequential"]


class Sequential(FitStrategy):
    """Each model's `model.fit`, in turn, as `ActiveLearner.fit` calls it
    (`refit.fit`): any `model.fit` arguments, any model."""

    name = "sequential"

    def fit(self, models, xs, ys, seeds, fit_kwargs):
        for model, x, y, seed, kwargs in zip(
            models, xs, ys, seeds, fit_kwargs, strict=True
        ):
            refit.fit(model, x, y, kwargs, seed=seed)


register(Sequential())
