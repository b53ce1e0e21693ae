import numbers

import keras

from keras_dbal.layers.mask_scope import current_scope


@keras.saving.register_keras_serializable(package="keras_dbal")
class MCDropout(keras.layers.Layer):
    """Dropout that stays on at prediction time (Monte Carlo dropout).

    A standard `Dropout` layer is the identity outside training. `MCDropout`
    drops units in training *and* inference, so repeated predictions on the
    same input are samples from the approximate posterior predictive of a
    Bayesian neural network (Gal & Ghahramani, 2016). Each input unit is set
    to 0 with probability `rate` and the kept units are scaled by
    `1 / (1 - rate)`, so the expected activation is unchanged.

    Masks come from the layer's own `SeedGenerator`; inside
    `keras_dbal.sampling` they come from the sampler instead, which lets it
    fold the T Monte Carlo samples into one batch and share masks across
    pool items when asked to.

    Args:
        rate: Float in [0, 1). Fraction of the input units to drop.
        noise_shape: 1D tuple of ints, the shape of the binary mask that is
            broadcast against the input, e.g. `(batch, 1, 1, channels)` to
            drop whole feature maps. `None` entries take the input's size.
        seed: Integer seed for the layer's random number generator.

    Call arguments:
        inputs: Input tensor of any rank.
        training: Ignored: the layer is stochastic in both modes. Accepted
            so the layer drops into any model.

    Example:

    >>> layer = MCDropout(0.5, seed=0)
    >>> x = keras.ops.ones((2, 4))
    >>> y1, y2 = layer(x), layer(x)  # two different masks

    Reference:
        - [Gal & Ghahramani, 2016](https://arxiv.org/abs/1506.02142)
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not _is_real(rate) or not 0 <= rate < 1:
            raise ValueError(
                "Invalid value received for argument `rate`. Expected a "
                f"float value in [0, 1). Received: rate={rate!r}"
            )
        if seed is not None and not _is_int(seed):
            raise ValueError(
                "Invalid value received for argument `seed`. Expected an "
                f"integer or None. Received: seed={seed!r}"
            )
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=None):
        scope = current_scope()
        if scope is not None:
            return scope.apply(self, inputs)
        if self.rate == 0:
            return inputs
        return keras.random.dropout(
            inputs,
            self.rate,
            noise_shape=self.noise_shape,
            seed=self.seed_generator,
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        base_config = super().get_config()
        config = {
            "rate": self.rate,
            "noise_shape": self.noise_shape,
            "seed": self.seed,
        }
        return {**base_config, **config}


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
