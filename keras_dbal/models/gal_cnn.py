import keras

from keras_dbal.layers import MCDropout
from keras_dbal.regularizers import LabelScaledL2

# Kernel and pooling sizes of the two published descriptions of the model.
# "paper": Gal, Islam & Ghahramani (2017), Section 5.1, which describes the
# model as convolution-relu-convolution-relu-max pooling-dropout-dense-relu-
# dropout-dense-softmax with 32 convolution kernels of size 4x4 and 2x2
# pooling. "code": the authors' released Keras 1 scripts, which use 3x3
# kernels and 5x5 pooling.
VARIANTS = {
    "paper": {"kernel_size": 4, "pool_size": 2},
    "code": {"kernel_size": 3, "pool_size": 5},
}


def gal_cnn(
    input_shape=(28, 28, 1),
    num_classes=10,
    *,
    bayesian=True,
    variant="paper",
    filters=32,
    dense_units=128,
    weight_decay=3.5,
    num_labelled=20,
    seed=None,
    name=None,
):
    """The Bayesian CNN of Gal, Islam & Ghahramani (2017).

    It follows the Keras MNIST CNN example: two convolutions with ReLU, max
    pooling, dropout 0.25, a dense ReLU layer, dropout 0.5 and a softmax
    output. With `bayesian=True` both dropouts are `MCDropout`, so the
    network stays stochastic at prediction time; `bayesian=False` gives the
    deterministic twin with ordinary `Dropout`, for the paper's comparison
    of Bayesian and deterministic acquisition.

    The dense layer carries the weight decay `c / N` of the authors' code
    (`LabelScaledL2`); `ActiveLearner` updates N as the labelled set grows.
    Train with Adam, batch size 128 and 50 epochs to follow the authors'
    code.

    Args:
        input_shape: Shape of one image, `(height, width, channels)`.
        num_classes: Number of output classes.
        bayesian: Whether dropout stays on at prediction time.
        variant: `"paper"` (4x4 kernels, 2x2 pooling, as in the paper's
            text) or `"code"` (3x3 kernels, 5x5 pooling, as in the authors'
            released code).
        filters: Number of kernels of each convolution.
        dense_units: Width of the hidden dense layer.
        weight_decay: The constant c of the `c / N` weight decay on the
            dense layer; 0 or `None` for none.
        num_labelled: Initial N of that weight decay.
        seed: Integer seed for the dropout masks.
        name: Name of the model.

    Returns:
        An uncompiled `keras.Sequential` model.

    Reference:
        - [Gal, Islam & Ghahramani, 2017](https://arxiv.org/abs/1703.02910)
    """
    if variant not in VARIANTS:
        raise ValueError(
            "Invalid value received for argument `variant`. Expected one of "
            f"{sorted(VARIANTS)}. Received: variant={variant!r}"
        )
    if len(input_shape) != 3:
        raise ValueError(
            "Invalid value received for argument `input_shape`. Expected "
            f"(height, width, channels). Received: input_shape={input_shape}"
        )
    if int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(
            "Invalid value received for argument `num_classes`. Expected an "
            f"integer >= 2. Received: num_classes={num_classes!r}"
        )
    kernel_size = VARIANTS[variant]["kernel_size"]
    pool_size = VARIANTS[variant]["pool_size"]
    height, width = input_shape[0], input_shape[1]
    pooled = [(size - 2 * (kernel_size - 1)) // pool_size
              for size in (height, width)]
    if min(pooled) < 1:
        raise ValueError(
            f"Invalid value received for argument `input_shape`. The "
            f"{variant!r} variant needs images of at least "
            f"{2 * (kernel_size - 1) + pool_size} pixels a side. "
            f"Received: input_shape={tuple(input_shape)}"
        )
    dropout = MCDropout if bayesian else keras.layers.Dropout
    seeds = [None, None] if seed is None else [seed, seed + 1]
    regularizer = (
        LabelScaledL2(weight_decay, num_labelled) if weight_decay else None
    )
    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            keras.layers.Conv2D(filters, kernel_size, activation="relu"),
            keras.layers.Conv2D(filters, kernel_size, activation="relu"),
            keras.layers.MaxPooling2D(pool_size),
            dropout(0.25, seed=seeds[0]),
            keras.layers.Flatten(),
            keras.layers.Dense(
                dense_units,
                activation="relu",
                kernel_regularizer=regularizer,
            ),
            dropout(0.5, seed=seeds[1]),
            keras.layers.Dense(num_classes, activation="softmax"),
        ],
        name=name or ("gal_cnn" if bayesian else "gal_cnn_deterministic"),
    )
