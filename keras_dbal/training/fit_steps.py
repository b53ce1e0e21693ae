"""The compiled epochs behind `CompiledFit` and `LockstepFit`, per backend.

Each builder returns `fit(...)`, which trains for the given epoch orders:
under TensorFlow one `tf.function` call per epoch (a loop over the
epoch's batches, shapes relaxed), under JAX one jitted train step per
batch, the last batch padded to one of a few sizes (`batches`). Ctrl-C
is heard between two epochs (`keras_dbal.utils.interrupts`).
"""

import contextlib

import numpy as np

import keras_dbal.training.batches as batches
from keras_dbal import backend
from keras_dbal.regularizers import label_scaled_penalties
from keras_dbal.utils.interrupts import deferred_interrupt

__all__ = ["jax_fit", "jax_lockstep", "tensorflow_fit", "tensorflow_lockstep"]


def _jax_step(model):
    """The pure function `(state, strengths, x, y, weights) -> state` of
    one train step. `strengths` are the coefficients of the model's
    `LabelScaledL2` penalties, inputs of the step rather than constants
    of its trace, so one trace serves every labelled count."""
    penalties = label_scaled_penalties(model)

    def step(state, strengths, x, y, weights):
        with contextlib.ExitStack() as stack:
            for index, penalty in enumerate(penalties):
                stack.enter_context(penalty.reading(strengths[index]))
            data = (x, y) if weights is None else (x, y, weights)
            return model.train_step(state, data)[1]

    return step


def _strengths(model):
    return np.asarray(
        [penalty.strength for penalty in label_scaled_penalties(model)],
        dtype="float32",
    )


def _groups(model):
    """The variables of a JAX train step's state, in its order."""
    return (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )


def _jax_state(model):
    return tuple([v.value for v in group] for group in _groups(model))


# Under JAX every epoch is a Python loop over one jitted train step, each
# batch gathered here and its last one padded to one of a few sizes
# (`batches`), so the step is traced once per batch size, whatever the
# labelled count: not once per round. (XLA:CPU also runs convolutions
# inside a `lax.scan` of the steps far slower than the same step called
# alone; the README's "Fitting many runs" has the figures.) Each epoch is
# waited for, so Ctrl-C is heard between two.


def jax_fit(model, batch_size):
    import jax

    step = jax.jit(_jax_step(model))
    weight = batches.weighting(model)

    def fit(target, x, y, orders):
        state, strengths = _jax_state(target), _strengths(target)
        layout = batches.layout(len(x), batch_size, weight)

        def run(order):
            nonlocal state
            for start, stop, weights in layout:
                positions = batches.take(order, start, stop, weights)
                state = step(
                    state, strengths, x[positions], y[positions], weights
                )
            state = jax.block_until_ready(state)

        _each_epoch(run, orders, lambda: _assign(_groups(target), state))

    return fit


def jax_lockstep(models, batch_size):
    import jax
    import jax.numpy as jnp

    # The first model's step is pure: it serves every run's state.
    # One batch layout, so one set of weights for all K runs.
    step = jax.jit(jax.vmap(_jax_step(models[0]),
                            in_axes=(0, 0, 0, 0, None)))
    weight = batches.weighting(models[0])

    def fit(xs, ys, orders):
        stacked = jax.tree_util.tree_map(
            lambda *values: jnp.stack(values),
            *[_jax_state(model) for model in models],
        )
        strengths = np.stack([_strengths(model) for model in models])
        runs = np.arange(len(models))[:, None]
        layout = batches.layout(xs.shape[1], batch_size, weight)

        def run(order):
            nonlocal stacked
            for start, stop, weights in layout:
                positions = np.stack([
                    batches.take(one, start, stop, weights) for one in order
                ])
                stacked = step(
                    stacked, strengths, xs[runs, positions],
                    ys[runs, positions], weights,
                )
            stacked = jax.block_until_ready(stacked)

        def finish():
            for index, model in enumerate(models):
                _assign(_groups(model), jax.tree_util.tree_map(
                    lambda value, index=index: value[index], stacked
                ))

        _each_epoch(run, np.moveaxis(orders, 1, 0), finish)

    return fit


def _assign(groups, values):
    for group, group_values in zip(groups, values, strict=True):
        for variable, value in zip(group, group_values, strict=True):
            variable.assign(value)


def _each_epoch(run, orders, finish=None):
    """`run(order)` for each epoch's order, Ctrl-C heard between two
    epochs, then `finish()`, stopped or not, while Ctrl-C is still held
    (so a model is never left half assigned). The model keeps the epochs
    it finished."""
    with deferred_interrupt() as stop:
        try:
            for order in orders:
                stop.check()
                run(order)
        finally:
            if finish is not None:
                finish()


def _by_epoch(epoch, x, y, orders):
    """One call of the traced `epoch` per epoch (see `_each_epoch`). The
    concrete function skips the signature matching of a `tf.function`
    call, which keeps a call per epoch close to one call of them all (the
    README's "Fitting many runs" has the cost)."""
    import tensorflow as tf

    if not len(orders):
        return
    step = epoch.get_concrete_function(x, y, tf.constant(orders[0]))
    _each_epoch(lambda order: step(x, y, tf.constant(order)), orders)


def tensorflow_fit(model, batch_size):
    import tensorflow as tf

    backend.quiet_retracing_notes()

    @tf.function(reduce_retracing=True)
    def epoch(x, y, order):
        for start in tf.range(0, tf.shape(x)[0], batch_size):
            positions = order[start:start + batch_size]
            model.train_step(
                (tf.gather(x, positions), tf.gather(y, positions))
            )

    def fit(target, x, y, orders):
        x, y = tf.convert_to_tensor(x), tf.convert_to_tensor(y)
        _by_epoch(epoch, x, y, orders)

    return fit


def tensorflow_lockstep(models, batch_size):
    import tensorflow as tf

    backend.quiet_retracing_notes()

    @tf.function(reduce_retracing=True)
    def epoch(xs, ys, orders):
        for start in tf.range(0, tf.shape(xs)[1], batch_size):
            # The K steps are independent: TensorFlow may run them
            # side by side.
            for index, model in enumerate(models):
                positions = orders[index, start:start + batch_size]
                model.train_step((
                    tf.gather(xs[index], positions),
                    tf.gather(ys[index], positions),
                ))

    def fit(xs, ys, orders):
        xs, ys = tf.convert_to_tensor(xs), tf.convert_to_tensor(ys)
        _by_epoch(epoch, xs, ys, np.moveaxis(orders, 1, 0))

    return fit
