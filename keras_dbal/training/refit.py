"""Getting a model ready for its next fit on a grown labelled set.

Gal et al. (2017) retrain from scratch after every acquisition: the weights
go back to their initial values and the optimizer starts fresh. The weight
decay of the Bayesian CNN is `c / N` with N the number of labels
(`LabelScaledL2`), so it changes with every acquisition too, and Keras's
own train step holds the old coefficient under JAX. `prepare_fit` does all
of this.
"""

import keras
import numpy as np

from keras_dbal import backend
from keras_dbal.regularizers import label_scaled_penalties
from keras_dbal.training.compiled_fit import epoch_orders
from keras_dbal.utils.variables import assign_values
from keras_dbal.utils.variables import variable_values

__all__ = [
    "equal_batch_size", "fit", "prepare_fit", "reseed_dropout",
    "snapshot", "sync_weight_decay",
]

# fit() arguments that need arrays, or that set the batches themselves.
_NEEDS_ARRAYS = frozenset(
    {"validation_split", "sample_weight", "class_weight", "steps_per_epoch"}
)


def snapshot(model):
    """`(weights, optimizer variables)` of `model` now, its optimizer
    built first: what every fit from scratch returns to."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return model.get_weights(), variable_values(model.optimizer.variables)


def sync_weight_decay(model, num_labelled):
    """Set N of every `LabelScaledL2` in `model` to `num_labelled`.

    Returns:
        Whether any coefficient changed.
    """
    num_labelled = max(int(num_labelled), 1)
    changed = False
    for regularizer in label_scaled_penalties(model):
        if regularizer.num_labelled != num_labelled:
            regularizer.num_labelled = num_labelled
            changed = True
    return changed


def equal_batch_size(num_items, batch_size):
    """The batch size that cuts `num_items` into as many batches as
    `batch_size` does, all of (nearly) one size: 130 items at 128 are two
    batches of 65, not 128 and 2. A last batch of a few images, the last
    step of every epoch, costs the protocol of Gal et al. (2017) its dip
    at 130 labels (README, "The dip at 130 labels").

    Args:
        num_items: The labelled set's size.
        batch_size: The batch size asked for.
    """
    batches = -(-num_items // batch_size)
    return -(-num_items // batches)


def reseed_dropout(model, seed):
    """Start every dropout layer's generator of `model` from `seed`.

    A fit's dropout masks then depend on its seed alone, not on how many
    fits and steps came before it: fitting the same labelled set with the
    same seed gives the same weights again, which is how a resumed
    experiment refits its last round (`keras_dbal.experiments`).

    Args:
        model: A Keras model; every `SeedGenerator` state in its variables
            (`MCDropout`, `Dropout`, nested models' too) is set, each to
            its own seed drawn from `seed`.
        seed: Integer seed, or None to leave the generators as they are.
    """
    states = [
        variable for variable in model.variables
        if variable.path.endswith("seed_generator_state")
    ]
    if seed is None or not states:
        return
    entropy = np.random.SeedSequence([int(seed), len(states)])
    values = entropy.generate_state(len(states)) >> 1
    for variable, value in zip(states, values, strict=True):
        variable.assign(np.array([value, 0], dtype=variable.dtype))


def prepare_fit(model, num_labelled, *, initial_weights=None,
                initial_optimizer_state=None):
    """Ready a compiled `model` for a fit on `num_labelled` labels.

    Args:
        model: A compiled Keras model with a built optimizer.
        num_labelled: Size of the labelled set the fit will see.
        initial_weights: If given (with `initial_optimizer_state`), the
            fit starts from scratch: these weights and that optimizer
            state. If None, it continues from the current ones.
        initial_optimizer_state: The optimizer variables of a fresh start,
            as from `variable_values(model.optimizer.variables)`.
    """
    from_scratch = initial_weights is not None
    if (
        sync_weight_decay(model, num_labelled)
        and not all(decay.reads_when_run
                    for decay in label_scaled_penalties(model))
        and model.train_function is not None
    ):
        # Keras's own train step (JAX) was traced with the old c / N as a
        # constant: compile again, keeping the optimizer state. (Only
        # dropping `train_function` is not enough under JAX: a resumed
        # learner then drifts from an uninterrupted one.) keras_dbal's
        # compiled fits pass c / N to their step instead (`fit_steps`).
        state = (
            initial_optimizer_state
            if from_scratch
            else variable_values(model.optimizer.variables)
        )
        model.compile_from_config(model.get_compile_config())
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        assign_values(model.optimizer.variables, state)
    elif from_scratch:
        # A fresh optimizer without recompiling.
        assign_values(model.optimizer.variables, initial_optimizer_state)
    if from_scratch:
        model.set_weights(initial_weights)


def fit(model, x, y, fit_kwargs, *, seed):
    """`model.fit` on `(x, y)`, each epoch in an order drawn from `seed`.

    Call `prepare_fit` first. The epoch orders are `epoch_orders(seed,
    len(x), epochs)`, the ones the lockstep engine trains on, so a learner
    and an engine run with the same seeds fit the same weights. Arguments
    that need arrays (`validation_split`, `sample_weight`, `class_weight`,
    `steps_per_epoch`) or `shuffle=False` leave the batches to Keras.

    Args:
        model: The compiled model.
        x, y: The labelled images and labels.
        fit_kwargs: Arguments of `model.fit`.
        seed: Integer seed of the Keras global RNG and the epoch orders,
            or None.

    Returns:
        The `History` of `model.fit`.
    """
    if seed is not None:
        keras.utils.set_random_seed(seed)
    kwargs = dict(fit_kwargs)
    if not _in_given_order(kwargs, model):
        return model.fit(x, y, **kwargs)
    kwargs.pop("shuffle", None)
    orders = epoch_orders(seed, len(x), kwargs.get("epochs", 1))
    batch_size = kwargs.pop("batch_size", None) or 32
    inputs = backend.fit_inputs(x, y, orders, batch_size)
    return model.fit(**inputs, **kwargs)


def _in_given_order(fit_kwargs, model):
    """Whether `fit` draws the epoch orders itself for these arguments
    (not with arguments that need arrays, `shuffle=False`, or a model
    compiled to run several steps per call, which would take batches
    across epochs)."""
    return not (
        fit_kwargs.keys() & _NEEDS_ARRAYS
        or fit_kwargs.get("shuffle") is False
        or getattr(model, "steps_per_execution", 1) != 1
    )
