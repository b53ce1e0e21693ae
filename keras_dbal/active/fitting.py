"""Fitting an `ActiveLearner`: its own `fit`, and the hooks a training
engine calls around a fit it runs (`keras_dbal.training.fit_together`).

Every fit is from the same start (Gal et al., 2017, retrain from scratch
after each acquisition), with the weight decay of its labelled count and a
seed of its own; every fit ends in `end_fit`, which counts it and checks
that the model learned something from its labels.
"""

import keras_dbal.active.prediction as prediction
import keras_dbal.active.selection as selection
import keras_dbal.training.refit as refit

__all__ = ["Fitting"]


class Fitting:
    """The fit methods of `ActiveLearner` (see there)."""

    def fit(self, **fit_kwargs):
        """Fit the model on the labelled set.

        Resets to the initial weights first if `reset_weights`; updates the
        N of every `LabelScaledL2` weight decay to the labelled count. Each
        epoch's order, and the dropout masks of the fit, are drawn from a
        seed of the fit's own (see `refit.fit`, `refit.reseed_dropout`):
        the same labelled set is fitted to the same weights again.

        Args:
            **fit_kwargs: Override the learner's `fit_kwargs` for this fit.

        Returns:
            The `History` of `model.fit`.
        """
        seed, kwargs = self.begin_fit(**fit_kwargs)
        x, y = self.x_labelled_, self.y_labelled_
        history = refit.fit(self.model, x, y, kwargs, seed=seed)
        self.end_fit()
        return history

    def begin_fit(self, **fit_kwargs):
        """Ready the model for a fit that someone else runs.

        The hook of the training engine (`keras_dbal.training`), which fits
        many learners' models together: the model is reset, its weight
        decay set and its dropout generators seeded exactly as `fit` does
        it, and the fit's seed and
        arguments returned. Train `self.model` on `x_labelled_` /
        `y_labelled_` in the epoch orders `epoch_orders(seed, N, epochs)`,
        then call `end_fit`.

        Args:
            **fit_kwargs: Override the learner's `fit_kwargs` for this fit.

        Returns:
            `(seed, fit_kwargs)`: the integer seed of the fit (its epoch
            orders and Keras's global generator), and the `model.fit`
            arguments.

        Raises:
            NotFittedError: nothing is labelled yet.
        """
        self._check_taught()
        start = (self.initial_weights_, self.initial_optimizer_state_)
        if not self.reset_weights:
            start = (None, None)  # warm start from the current weights
        refit.prepare_fit(self.model, self.num_labelled,
                          initial_weights=start[0],
                          initial_optimizer_state=start[1])
        seed = selection.derive_seed(self.seed, "fit", self.num_fits_)
        refit.reseed_dropout(self.model, seed)
        return seed, self.fit_arguments(**fit_kwargs)

    def fit_arguments(self, **fit_kwargs):
        """The `model.fit` arguments of the next fit: `fit_kwargs` over
        the learner's, the batch size made equal if `equal_batches`.

        Args:
            **fit_kwargs: Override the learner's `fit_kwargs`.
        """
        kwargs = {**self.fit_kwargs, **fit_kwargs}
        if self.equal_batches and kwargs.get("batch_size"):
            kwargs["batch_size"] = refit.equal_batch_size(
                self.num_labelled, kwargs["batch_size"]
            )
        return kwargs

    def end_fit(self):
        """Record a finished fit begun with `begin_fit`.

        Every way of fitting a learner ends here (`fit`, and the shared
        fits of `keras_dbal.training.fit_together`): the fit is counted (so
        a fit that failed is retried with its seed) and checked for a model
        left at chance on its own labels (`ChanceLevelWarning`).
        """
        self.num_fits_ += 1  # once trained: a failed fit keeps its seed
        if self._warned_at_chance:
            return
        # One pass without dropout: deterministic, and no random state used.
        probs = self.sampler.predict_without_dropout(self.x_labelled_)
        self._warned_at_chance = prediction.warn_if_at_chance(
            probs, self.y_labelled_, stacklevel=3
        )
