"""What goes into and comes out of a model the sampler runs.

Acquisition functions read one `(T, N, C)` tensor of class probabilities
for one batch of images: a model with several inputs or several outputs
has no such reading. It is refused when a sampler or learner is built,
before anything is compiled; found later, it surfaces as an error from
inside a traced function.
"""

import keras

from keras_dbal.models.ensemble import Ensemble

__all__ = ["check_one_input_one_output", "input_dtype", "input_item_shape"]


def input_item_shape(model):
    """The shape of one input item, `None` entries for free dimensions,
    or None when the model does not say.

    Functional and Sequential models declare it; a subclassed model
    records the shape it was built or first called with.
    """
    inputs = _declared(model, "inputs")
    if inputs:
        return tuple(inputs[0].shape[1:])
    shapes = _build_shapes(model)
    if len(shapes) == 1 and _is_shape(shapes[0]):
        return tuple(shapes[0][1:])
    return None


def check_one_input_one_output(model):
    """Refuse a model with several inputs or several outputs.

    Args:
        model: A built Keras model (an `Ensemble`: each of its members).

    Raises:
        ValueError: naming what was found.
    """
    if isinstance(model, Ensemble):
        for member in model.members:
            check_one_input_one_output(member)
        return model
    inputs = _declared(model, "inputs")
    shapes = _build_shapes(model)
    if inputs:
        num_inputs = len(inputs)
    elif shapes:
        # A subclassed model called on a list of tensors records a list
        # of shapes; one built with two shape arguments, two entries.
        num_inputs = len(shapes) if len(shapes) > 1 else (
            1 if _is_shape(shapes[0]) else len(shapes[0])
        )
    else:
        num_inputs = 1  # not known: nothing to refuse
    num_outputs = _count_outputs(model)
    if num_inputs == 1 and num_outputs == 1:
        return model
    raise ValueError(
        "Invalid value received for argument `model`. Expected a model "
        "with one input (a batch of images) and one output (class "
        f"probabilities or logits). Received {_count(num_inputs, 'input')} "
        f"and {_count(num_outputs, 'output')}. Wrap the model so that it "
        "takes and returns one tensor, e.g. keras.Model(inputs, outputs[0])."
    )


def _count(number, noun):
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _count_outputs(model):
    outputs = _declared(model, "outputs")
    if outputs:
        return len(outputs)
    item_shape = input_item_shape(model)
    if item_shape is None:
        return 1  # not known: nothing to refuse
    try:
        # A subclassed model: trace its call symbolically (no compute).
        spec = model.compute_output_spec(
            keras.KerasTensor((None,) + item_shape)
        )
    except Exception:
        return 1  # whatever failed, the count is only not known
    return len(keras.tree.flatten(spec))


def _declared(model, attribute):
    """`model.inputs` or `model.outputs` of a functional model, else None
    (a subclassed model has none, or raises)."""
    try:
        return getattr(model, attribute, None)
    except (AttributeError, ValueError):
        return None


def _build_shapes(model):
    """The shapes a subclassed model was built with, one per argument."""
    return list((getattr(model, "_build_shapes_dict", None) or {}).values())


def _is_shape(value):
    """Whether `value` is one shape, not a list of shapes."""
    return value is not None and not any(
        isinstance(size, (list, tuple, dict)) for size in value
    )


def input_dtype(model):
    """The dtype `model` takes its images in (Keras's float type when the
    model does not say)."""
    try:
        return keras.backend.standardize_dtype(model.inputs[0].dtype)
    except (AttributeError, ValueError, TypeError, IndexError):
        return keras.backend.floatx()
