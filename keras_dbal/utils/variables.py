"""Snapshots of Keras variables as numpy arrays, and their restoration."""

import keras

__all__ = ["assign_values", "variable_values"]


def variable_values(variables):
    """The values of `variables` as numpy arrays, in order."""
    return [
        keras.ops.convert_to_numpy(variable.value) for variable in variables
    ]


def assign_values(variables, values):
    """Assign `values` (as from `variable_values`) to `variables`."""
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
