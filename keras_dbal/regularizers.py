"""Weight decay whose strength follows the size of the labelled set."""

import contextlib

import keras

__all__ = ["LabelScaledL2", "label_scaled_penalties"]


@keras.saving.register_keras_serializable(package="keras_dbal")
class LabelScaledL2(keras.regularizers.Regularizer):
    """L2 penalty `c / N * sum(w ** 2)` with N the number of labelled images.

    Gal et al. (2017) set the weight decay of the Bayesian CNN's dense layer
    to `c / N` and recompute it each time the training set grows, the
    prior-length-scale argument of Gal & Ghahramani (2016). `ActiveLearner`
    updates `num_labelled` before every fit.

    Under TensorFlow the coefficient lives in a variable that compiled
    train steps read when they run, so a new N needs no new trace (nor a
    recompile): an experiment's fits trace once, not once per round. Under
    JAX it is a constant of Keras's own traces (`reads_when_run` is
    False), and an input of keras_dbal's compiled fits, which pass it to
    their traced step (`reading`).

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
        self._num_labelled = int(num_labelled)
        self._variable = None  # the coefficient, read when a step runs
        self._input = None  # the coefficient as a traced step's input

    @property
    def num_labelled(self):
        """N, the number of labelled images; setting it updates the
        coefficient every compiled step reads."""
        return self._num_labelled

    @num_labelled.setter
    def num_labelled(self, value):
        self._num_labelled = int(value)
        if self._variable is not None:
            self._variable.assign(self.strength)

    @property
    def strength(self):
        """The current coefficient `c / N`."""
        return self.c / self.num_labelled

    @property
    def reads_when_run(self):
        """Whether a traced step reads the coefficient when it runs (a
        TensorFlow variable), not when it is traced."""
        return keras.backend.backend() == "tensorflow"

    @contextlib.contextmanager
    def reading(self, value):
        """While active, the coefficient is `value` (an input of the step
        being traced), not the current `c / N`: the step then serves
        every N without tracing again.

        Args:
            value: A scalar tensor, the coefficient the step is given.
        """
        self._input = value
        try:
            yield
        finally:
            self._input = None

    def __call__(self, x):
        penalty = keras.ops.sum(keras.ops.square(x))
        if self._input is not None:
            return keras.ops.cast(self._input, penalty.dtype) * penalty
        if not self.reads_when_run:
            return self.strength * penalty
        if self._variable is None:
            import tensorflow as tf

            with tf.init_scope():  # made once, outside any trace
                self._variable = tf.Variable(
                    self.strength, trainable=False, dtype="float32",
                    name="label_scaled_l2_strength",
                )
        return keras.ops.cast(self._variable, penalty.dtype) * penalty

    def get_config(self):
        return {"c": self.c, "num_labelled": self.num_labelled}


def label_scaled_penalties(model):
    """Every `LabelScaledL2` of `model`'s layers (nested models included),
    in layer order.

    Args:
        model: A Keras model.
    """
    from keras_dbal.sampling.model_split import all_layers

    return [
        layer.kernel_regularizer for layer in all_layers(model)
        if isinstance(getattr(layer, "kernel_regularizer", None),
                      LabelScaledL2)
    ]
