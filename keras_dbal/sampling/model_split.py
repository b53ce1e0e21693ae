"""Where a model becomes stochastic, and the cut the sampler makes there.

The sampler runs a model's deterministic prefix once per chunk of the pool
and only the stochastic rest T times. These functions find the first layer
that holds an `MCDropout` and cut a functional or Sequential model there.
"""

import keras

from keras_dbal.layers import MCDropout

__all__ = [
    "all_layers",
    "split_model",
    "split_off_dropout",
    "stochastic_layers",
]


def stochastic_layers(model):
    """All `MCDropout` layers of a model or layer, nested ones included."""
    return [
        layer for layer in all_layers(model) if isinstance(layer, MCDropout)
    ]


def all_layers(layer):
    """A layer and every layer nested in it."""
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is not None:
        return list(flatten(include_self=True, recursive=True))
    return [layer] + [
        inner for sub in getattr(layer, "layers", []) for inner in
        all_layers(sub)
    ]


def split_model(model):
    """Split a model at its first stochastic layer.

    Args:
        model: A built Keras model.

    Returns:
        `(prefix, suffix)`: `prefix` maps the input to the input of the
        first layer that holds an `MCDropout` (`None` when that layer comes
        first), and `suffix` maps that tensor to the output. For a model
        with no stochastic layer, `(model, None)`. For a model that cannot
        be split (subclassed, several inputs, a branch that skips the split
        point), `(None, model)`.
    """
    try:
        inputs, outputs = model.inputs, model.outputs
        layers = model.layers
    except (AttributeError, ValueError):
        return None, model
    if not inputs or len(inputs) != 1 or len(outputs) != 1:
        return None, model
    stochastic = {id(layer) for layer in stochastic_layers(model)}
    if not stochastic:
        return model, None
    for _position, layer in enumerate(layers):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if not any(id(inner) in stochastic for inner in all_layers(layer)):
            continue
        try:
            split_tensor = layer.input
            if isinstance(split_tensor, (list, tuple, dict)):
                return None, model
            if split_tensor is inputs[0]:
                return None, model
            prefix = keras.Model(inputs, split_tensor)
            suffix = keras.Model(split_tensor, outputs)
        except (ValueError, AttributeError, TypeError):
            # A Sequential loaded from a .keras file: its layers were
            # called twice, so `layer.input` is ambiguous. Chain them anew.
            if isinstance(model, keras.Sequential):
                return _chained(model, layer, inputs[0])
            return None, model
        if {id(lyr) for lyr in stochastic_layers(suffix)} != stochastic:
            return None, model
        return prefix, suffix
    return None, model


def _chained(model, first, model_input):
    """`(prefix, suffix)` of a Sequential, cut before layer `first`, each
    built by calling the model's own layers (weights shared) in order."""
    layers = [layer for layer in model.layers
              if not isinstance(layer, keras.layers.InputLayer)]
    cut = layers.index(first)
    if cut == 0:
        return None, model
    inputs = keras.Input(model_input.shape[1:], dtype=model_input.dtype)
    hidden = inputs
    for layer in layers[:cut]:
        hidden = layer(hidden)
    split_input = keras.Input(hidden.shape[1:], dtype=hidden.dtype)
    outputs = split_input
    for layer in layers[cut:]:
        outputs = layer(outputs)
    return (keras.Model(inputs, hidden),
            keras.Model(split_input, outputs))


def split_off_dropout(model, suffix):
    """`(dropout, rest)` when `suffix` starts with a lone `MCDropout`.

    `rest` maps the dropout's output to the model's output. `None` when the
    first stochastic layer is not a top-level `MCDropout` used once, or when
    its input also feeds other layers.
    """
    stochastic = {id(layer) for layer in stochastic_layers(suffix)}
    for layer in model.layers:
        if not any(id(inner) in stochastic for inner in all_layers(layer)):
            continue
        if not isinstance(layer, MCDropout):
            return None
        try:
            rest = keras.Model(layer.output, model.outputs)
        except (ValueError, AttributeError, TypeError):
            return None
        if {id(lyr) for lyr in stochastic_layers(rest)} != stochastic - {
            id(layer)
        }:
            return None
        return layer, rest
    return None
