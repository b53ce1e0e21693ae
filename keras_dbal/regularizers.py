"""Weight decay whose strength follows the size of the labelled set."""

import keras

__all__ = ["LabelScaledL2"]


@keras.saving.register_keras_serializable(package="keras_dbal")
class LabelScaledL2(keras.regularizers.Regularizer):
    """L2 penalty `c / N * sum(w ** 2)` with N the number of labelled images.

    Gal et al. (2017) set the weight decay of the Bayesian CNN's dense layer
    to `c / N` and recompute it each time the training set grows, the
    prior-length-scale argument of Gal & Ghahramani (2016). `ActiveLearner`
    updates `num_labelled` before every fit.

    Args:
        c: Non-negative float, the constant (3.5 in the authors' code).
        num_labelled: Positive int, the current number of labelled images.
    """

    def __init__(self, c=3.5, num_labelled=1):
        if not c >= 0:
            raise ValueError(
                "Invalid value received for argument `c`. Expected a "
                f"non-negative float. Received: c={c!r}"
            )
        if int(num_labelled) != num_labelled or num_labelled < 1:
            raise ValueError(
                "Invalid value received for argument `num_labelled`. "
                "Expected a positive integer. "
                f"Received: num_labelled={num_labelled!r}"
            )
        self.c = float(c)
        self.num_labelled = int(num_labelled)

    @property
    def strength(self):
        """The current coefficient `c / N`."""
        return self.c / self.num_labelled

    def __call__(self, x):
        return self.strength * keras.ops.sum(keras.ops.square(x))

    def get_config(self):
        return {"c": self.c, "num_labelled": self.num_labelled}
