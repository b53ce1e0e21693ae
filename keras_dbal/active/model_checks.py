"""What a model must be before a learner may score with it.

Acquisition functions read class probabilities `(T, N, C)`. A model that
ends in logits, or in one sigmoid unit, would still give numbers, and
BALD of those numbers is meaningless: these checks refuse such a model
when the learner is built, not after a round of wasted labels.
"""

import keras
import numpy as np

import keras_dbal.batch_acquisition.registry as acquisitions
from keras_dbal import acquisition as acquisition_lib
from keras_dbal.layers.mask_scope import MaskScope
from keras_dbal.sampling import model_io

__all__ = ["check_acquisition", "check_model", "classifier_signature"]

# Probe rows: a sum of random logits lands within the tolerance of 1 by
# chance with probability about 1e-2 per row; four rows make that 1e-8.
_PROBE_ROWS = 4
_SUM_TOLERANCE = 1e-2


def check_model(model):
    """`model`, if it is a compiled, built `keras.Model` with one input
    and one output."""
    if not isinstance(model, keras.Model):
        raise ValueError(
            "Invalid value received for argument `model`. Expected a "
            f"keras.Model. Received: {type(model).__name__}"
        )
    if not getattr(model, "compiled", False):
        raise ValueError(
            "The model must be compiled (model.compile(...)) before it is "
            "given to ActiveLearner."
        )
    if not model.built:
        raise ValueError(
            "The model must be built (created with keras.Input or called "
            "once) before it is given to ActiveLearner."
        )
    return model_io.check_one_input_one_output(model)


def check_acquisition(acquisition, sampler, allow_deterministic):
    """Refuse an acquisition that measures model uncertainty on a model
    without `MCDropout`, where every score is 0, unless allowed."""
    name = acquisitions.name_of(acquisition)
    if (
        acquisitions.scores_with(acquisition) in acquisition_lib.BAYESIAN
        and not sampler.is_stochastic
        and not allow_deterministic
    ):
        raise ValueError(
            f"Acquisition {name!r} measures model uncertainty, but the "
            "model has no MCDropout layer, so all "
            f"{sampler.mc_samples} passes agree and every score is 0. Use "
            "a Bayesian model (gal_cnn(bayesian=True)), another "
            "acquisition function, or allow_deterministic=True."
        )


def input_item_shape(model):
    """The shape of one input item, `None` entries for free dimensions
    (see `keras_dbal.sampling.model_io.input_item_shape`).

    Raises:
        ValueError: the model has no input shape to read.
    """
    item_shape = model_io.input_item_shape(model)
    if item_shape is None:
        raise ValueError(
            "Invalid value received for argument `model`: cannot tell its "
            "input shape. Build it first, e.g. model.build((None, 28, 28, "
            "1)) or by calling it on a batch of images."
        )
    return item_shape


def classifier_signature(model, from_logits=False):
    """`(item_shape, num_classes)` of a classifier, its output checked.

    Runs the model once on a few random images with every `MCDropout` off
    (no random state is used) and checks that it returns `(batch, C)`
    with C >= 2, and class probabilities (non-negative rows that sum to
    1) unless `from_logits`.

    Raises:
        ValueError: the output is not what acquisition functions read; the
            message says what was found and what to do.
    """
    item_shape = input_item_shape(model)
    if any(size is None for size in item_shape):
        # Free dimensions (e.g. any image size): nothing to probe with.
        return item_shape, _declared_classes(model)
    probe = np.random.default_rng(0).random(
        (_PROBE_ROWS,) + item_shape, dtype="float32"
    )
    with MaskScope(_identity):
        outputs = model(probe, training=False)
    outputs = np.asarray(keras.ops.convert_to_numpy(outputs), "float64")
    if outputs.ndim != 2 or outputs.shape[1] < 2:
        raise ValueError(
            "Invalid value received for argument `model`. Expected class "
            f"scores of shape (batch, C) with C >= 2. Received output shape "
            f"{('batch',) + outputs.shape[1:]}. For a binary task, end the "
            "model in Dense(2, activation='softmax') rather than one "
            "sigmoid unit."
        )
    sums = outputs.sum(axis=1)
    look_like_probabilities = bool(
        (outputs >= 0).all()
        and np.allclose(sums, 1.0, atol=_SUM_TOLERANCE)
    )
    if not from_logits and not look_like_probabilities:
        raise ValueError(
            "Invalid value received for argument `model`. Expected class "
            "probabilities (rows >= 0 that sum to 1). Received rows summing "
            f"to {np.round(sums, 3).tolist()} with minimum "
            f"{outputs.min():.3g}. End the model in a softmax, or pass "
            "from_logits=True if it outputs logits."
        )
    if from_logits and look_like_probabilities:
        raise ValueError(
            "Invalid value received for argument `from_logits`: the model "
            "already outputs probabilities (rows >= 0 that sum to 1); a "
            "second softmax would flatten them. Use from_logits=False."
        )
    return item_shape, int(outputs.shape[1])


def _declared_classes(model):
    try:
        classes = model.outputs[0].shape[-1]
    except (AttributeError, IndexError, TypeError):
        classes = None
    if classes is None:
        raise ValueError(
            "Invalid value received for argument `model`: cannot tell its "
            "number of classes."
        )
    return int(classes)


def _identity(layer, inputs):
    return inputs
