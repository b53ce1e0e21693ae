"""`bayesian_head`: MC dropout and a classifier on any Keras backbone."""

import keras

from keras_dbal.layers import MCDropout

__all__ = ["bayesian_head"]

_POOLING = {
    "avg": keras.layers.GlobalAveragePooling2D,
    "max": keras.layers.GlobalMaxPooling2D,
}


def bayesian_head(backbone, num_classes, *, dense_units=None, rate=0.5,
                  pooling="avg", input_scale=1.0, trainable_backbone=False,
                  seed=None, name=None):
    """A Bayesian classifier on a pretrained backbone.

    The backbone (`keras.applications`, keras-hub, or any Keras model
    with one image input) runs in inference mode (batch normalization
    keeps its statistics), its feature map is pooled, and the head is
    `MCDropout`, an optional dense ReLU layer with its own `MCDropout`,
    and a softmax: the Bayesian part is the head, as in the fine-tuned
    VGG16 of Gal et al. (2017, Section 5.4).

    With the backbone frozen (the default), `ActiveLearner` computes the
    backbone's features for a `Pool` once and reuses them while its
    weights stay the same, so a round's scoring costs only the head's T
    passes. Unfrozen, it is fine-tuned with the head and its features are
    computed afresh every query.

    Args:
        backbone: A built Keras model taking images `(H, W, C)`, e.g.
            `keras.applications.MobileNetV3Small(include_top=False,
            weights="imagenet", input_shape=(224, 224, 3))`.
        num_classes: Number of classes, at least 2.
        dense_units: Units of a dense ReLU layer between the two dropouts,
            or None for dropout then the softmax layer.
        rate: Dropout rate of the head's `MCDropout` layers.
        pooling: `"avg"` or `"max"` pooling of a `(H, W, C)` feature map.
        input_scale: Pool images (keras_dbal gives them in [0, 1]) are
            multiplied by this before the backbone: 255 for
            `keras.applications` models, which expect 0..255 pixels.
        trainable_backbone: Whether fitting also trains the backbone.
        seed: Integer seed of the dropout masks.
        name: The model's name (default: `bayesian_<backbone name>`).

    Returns:
        An uncompiled functional `keras.Model`.
    """
    if not isinstance(backbone, keras.Model) or not backbone.built:
        raise ValueError(
            "Invalid value received for argument `backbone`. Expected a "
            f"built keras.Model. Received: {type(backbone).__name__}"
        )
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or (
        num_classes < 2
    ):
        raise ValueError(
            "Invalid value received for argument `num_classes`. Expected an "
            f"integer >= 2. Received: num_classes={num_classes!r}"
        )
    if pooling not in _POOLING:
        raise ValueError(
            "Invalid value received for argument `pooling`. Expected one of "
            f"{sorted(_POOLING)}. Received: pooling={pooling!r}"
        )
    if not 0 < rate < 1:
        raise ValueError(
            "Invalid value received for argument `rate`. Expected a float "
            f"value between 0 and 1. Received: rate={rate}"
        )
    backbone.trainable = bool(trainable_backbone)
    seeds = [None, None] if seed is None else [seed, seed + 1]
    inputs = keras.Input(shape=backbone.input_shape[1:])
    features = inputs
    if input_scale != 1.0:
        features = keras.layers.Rescaling(input_scale)(features)
    features = backbone(features, training=False)
    if len(features.shape) == 4:
        features = _POOLING[pooling]()(features)
    elif len(features.shape) != 2:
        features = keras.layers.Flatten()(features)
    hidden = MCDropout(rate, seed=seeds[0])(features)
    if dense_units:
        hidden = keras.layers.Dense(dense_units, activation="relu")(hidden)
        hidden = MCDropout(rate, seed=seeds[1])(hidden)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(hidden)
    return keras.Model(inputs, outputs,
                       name=name or f"bayesian_{backbone.name}")
