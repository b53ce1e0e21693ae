"""Each run's fit in compiled code, one run after another."""

import keras_dbal.training.compiled_fit as compiled_fit
from keras_dbal.training.strategies import FitStrategy
from keras_dbal.training.strategies import register

__all__ = ["Compiled"]


class Compiled(FitStrategy):
    """Each model's fit in compiled code (`CompiledFit`): a call per epoch,
    or per batch under JAX on a CPU, without the rest of `model.fit`'s
    Python. Runs of one architecture share a compiled step under JAX
    (`fit_in_turn`): K runs compile once."""

    name = "compiled"

    def refusal(self, models, fit_kwargs):
        return compiled_fit.refusal(models, fit_kwargs)

    def fit(self, models, xs, ys, seeds, fit_kwargs):
        orders, batch_size = compiled_fit.plan(xs, seeds, fit_kwargs)
        for group in compiled_fit.same_model_groups(models):
            self.fit_group(
                [models[i] for i in group], [xs[i] for i in group],
                [ys[i] for i in group], [orders[i] for i in group],
                batch_size,
            )

    def fit_group(self, models, xs, ys, orders, batch_size):
        """Fit models of one architecture (a group one compiled step
        serves), each on its labelled set in its epoch orders."""
        compiled_fit.fit_in_turn(models, xs, ys, orders, batch_size)


register(Compiled())
