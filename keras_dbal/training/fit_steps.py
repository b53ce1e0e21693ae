"""The compiled epochs behind `CompiledFit` and `LockstepFit`, per backend.

Each builder returns `fit(...)`, which trains for the given epoch orders,
one compiled call per epoch: under TensorFlow one `tf.function` call (a
loop over the epoch's batches), under JAX one `jax.jit` call (a scan over
them) on an accelerator and one jitted train step per batch on a CPU.
Ctrl-C is heard between two epochs (`keras_dbal.utils.interrupts`).
"""

import numpy as np

from keras_dbal import backend
from keras_dbal.utils.interrupts import deferred_interrupt

__all__ = ["jax_fit", "jax_lockstep", "tensorflow_fit", "tensorflow_lockstep"]


def _batches(num_items, batch_size):
    """`(full, last)`: full batches per epoch, and the last one's size."""
    return num_items // batch_size, num_items % batch_size


def _jax_epoch(model, batch_size):
    """The pure function `(state, x, y, order) -> state` of one epoch."""
    import jax

    def epoch(state, x, y, order):
        full, last = _batches(x.shape[0], batch_size)

        def step(state, batch):
            return model.train_step(state, batch)[1], None

        xs, ys = x[order], y[order]
        if full:
            cut = full * batch_size
            state, _ = jax.lax.scan(step, state, (
                xs[:cut].reshape((full, batch_size) + xs.shape[1:]),
                ys[:cut].reshape((full, batch_size) + ys.shape[1:]),
            ))
        if last:
            state, _ = step(state, (xs[-last:], ys[-last:]))
        return state

    return epoch


def _jax_stepper(model, batch_size):
    """`(state, x, y, order) -> state` of one epoch as a Python loop over
    one jitted train step. XLA:CPU runs convolutions inside a scan far
    slower than the same step called alone (the README's "Fitting many
    runs" has the figures), so on a CPU the loop is the faster compiled
    fit."""
    import jax

    @jax.jit
    def step(state, x, y, positions):
        return model.train_step(state, (x[positions], y[positions]))[1]

    def epoch(state, x, y, order):
        for start in range(0, len(order), batch_size):
            state = step(state, x, y, order[start:start + batch_size])
        return state

    return epoch


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


def jax_fit(model, batch_size):
    import jax
    import jax.numpy as jnp

    if backend.has_accelerator():
        epoch = jax.jit(_jax_epoch(model, batch_size))
    else:
        epoch = _jax_stepper(model, batch_size)

    def fit(target, x, y, orders):
        state = _jax_state(target)
        x, y = jnp.asarray(x), jnp.asarray(y)

        def run(order):
            nonlocal state
            # Waited for: JAX would queue many epochs ahead of Ctrl-C.
            state = jax.block_until_ready(epoch(state, x, y, order))

        _each_epoch(run, orders, lambda: _assign(_groups(target), state))

    return fit


def jax_lockstep(models, batch_size):
    import jax
    import jax.numpy as jnp

    # The first model's step is pure: it serves every run's state.
    epoch = jax.jit(jax.vmap(_jax_epoch(models[0], batch_size)))

    def fit(xs, ys, orders):
        stacked = jax.tree_util.tree_map(
            lambda *values: jnp.stack(values),
            *[_jax_state(model) for model in models],
        )
        xs, ys = jnp.asarray(xs), jnp.asarray(ys)

        def run(order):
            nonlocal stacked
            stacked = jax.block_until_ready(epoch(stacked, xs, ys, order))

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
