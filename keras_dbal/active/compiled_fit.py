"""Training a model for all its epochs in compiled code.

`model.fit` runs Python around every epoch and batch: on the small
labelled sets of active learning that overhead is most of a fit, and it
keeps runs from being trained together. `CompiledFit` runs Keras's own
`train_step` (so the maths is the model's: its compiled loss with the
regularization losses, its optimizer's update, `MCDropout`'s training
masks from the layers' seed generators) for every batch of every epoch
in compiled code: one `tf.function` call per epoch (a loop over its
batches), or under JAX one `jax.jit` call per epoch (a scan over its
batches) on an accelerator and one jitted train step per batch on a CPU,
where XLA runs convolutions inside a scan about ten times slower. Ctrl-C
stops a long fit between two epochs (`keras_dbal.utils.interrupts`).

The batch order is explicit: `epoch_orders(seed, n, epochs)` draws one
permutation per epoch from the seed, so a fit is reproducible whatever
Keras's own shuffling does. Each epoch runs its full batches and then its
partial last batch, as `model.fit` does.

`LockstepFit` trains K models of one architecture together, each on its
own labelled set of the same size and its own batch orders (the runs of
an experiment, which all hold the same number of labels at each round):
under JAX one `jax.vmap` of the epoch's scan over the K stacked states,
under TensorFlow the K train steps side by side in one `tf.function`.
"""

import keras
import numpy as np

from keras_dbal import backend
from keras_dbal.sampling.model_split import all_layers
from keras_dbal.utils import validation
from keras_dbal.utils.interrupts import deferred_interrupt

__all__ = ["CompiledFit", "LockstepFit", "epoch_orders"]


def epoch_orders(seed, num_items, epochs):
    """`(epochs, num_items)` int32 permutations, one per epoch.

    Args:
        seed: Integer seed, or None for fresh entropy.
        num_items: Size of the labelled set.
        epochs: Number of epochs.
    """
    rng = np.random.default_rng(seed)
    orders = np.empty((epochs, num_items), dtype="int32")
    for epoch in range(epochs):
        orders[epoch] = rng.permutation(num_items)
    return orders


class CompiledFit:
    """Fits a compiled model in compiled code, epoch by epoch.

    Args:
        model: A compiled, built Keras model. It is trained in place: its
            weights, non-trainable state (seed generators included) and
            optimizer variables are those after the fit.
        batch_size: Images per step; the last batch of an epoch is
            smaller when the labelled set does not divide evenly.

    Example:

    >>> fit = CompiledFit(model, batch_size=128)
    >>> fit(x_labelled, y_labelled, epoch_orders(seed, len(x_labelled), 50))
    """

    def __init__(self, model, batch_size):
        backend.check_supported()
        self.model = model
        self.batch_size = validation.positive_int(batch_size, "batch_size")
        self._function = self._key = None

    def __call__(self, x, y, orders):
        """Train on `x[orders[e]]`, epoch e after epoch e - 1.

        Args:
            x: The labelled images, `(N, ...)`.
            y: Their labels, `(N,)`.
            orders: `(epochs, N)` permutations (see `epoch_orders`).
        """
        self._fit_as(self.model, x, y, orders)

    def _fit_as(self, model, x, y, orders):
        """Train `model` with this fit's compiled step. Another model than
        `self.model` only under JAX, where the step is a pure function of
        the state, and only one built and compiled as `self.model` was
        (the lockstep engine's groups): K runs then compile once."""
        x = np.asarray(x, dtype=keras.backend.floatx())
        y = np.asarray(y)
        orders = np.asarray(orders, dtype="int32")
        if orders.ndim != 2 or orders.shape[1] != len(x) or len(y) != len(x):
            raise ValueError(
                "Invalid value received for argument `orders`: expected "
                f"(epochs, {len(x)}) positions for {len(x)} images and "
                f"{len(y)} labels. Received shape {orders.shape}."
            )
        if model is not self.model:
            if backend.name() != "jax":
                raise ValueError(
                    "A TensorFlow compiled fit trains its own model only."
                )
            _prepare(self.model, x, y)  # whose step trains `model`
        _prepare(model, x, y)
        key = _trace_key([self.model])
        if self._function is None or key != self._key:
            self._key = key
            self._function = (
                _jax_fit(self.model, self.batch_size)
                if backend.name() == "jax"
                else _tensorflow_fit(self.model, self.batch_size)
            )
        self._function(model, x, y, orders)


class LockstepFit:
    """Fits K compiled models of one architecture together.

    Args:
        models: K compiled, built Keras models with the same layers and
            optimizer (e.g. the same constructor called with K seeds);
            each is trained in place.
        batch_size: Images per step.
    """

    def __init__(self, models, batch_size):
        backend.check_supported()
        self.models = list(models)
        if not self.models:
            raise ValueError("Received no models to fit.")
        self.batch_size = validation.positive_int(batch_size, "batch_size")
        self._function = self._key = None

    def __call__(self, xs, ys, orders):
        """Train model k on `xs[k][orders[k, e]]`, all k at once.

        Args:
            xs: `(K, N, ...)` labelled images, one set per model.
            ys: `(K, N)` labels.
            orders: `(K, epochs, N)` permutations.
        """
        xs = np.asarray(xs, dtype=keras.backend.floatx())
        ys = np.asarray(ys)
        orders = np.asarray(orders, dtype="int32")
        count = len(self.models)
        if (
            len(xs) != count or len(ys) != count or len(orders) != count
            or orders.ndim != 3 or orders.shape[2] != xs.shape[1]
        ):
            raise ValueError(
                f"Expected one labelled set and one (epochs, N) order per "
                f"model ({count}). Received xs {xs.shape}, ys {ys.shape}, "
                f"orders {orders.shape}."
            )
        for model, x, y in zip(self.models, xs, ys, strict=True):
            _prepare(model, x, y)
        key = _trace_key(self.models)
        if self._function is None or key != self._key:
            self._key = key
            self._function = (
                _jax_lockstep(self.models, self.batch_size)
                if backend.name() == "jax"
                else _tensorflow_lockstep(self.models, self.batch_size)
            )
        self._function(xs, ys, orders)


def _prepare(model, x, y):
    """Build what a first `model.fit` would, without drawing randomness."""
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    # Keras builds the compiled loss and metrics on a symbolic batch at the
    # start of fit; do the same (a private Keras method, present since 3.0).
    model._symbolic_build(data_batch=(x[:1], y[:1]))


def _trace_key(models):
    """What a traced fit holds as constants: the optimizer object (a
    recompile replaces it) and every regularizer's settings (the c / N of
    `LabelScaledL2` changes with the labelled count). A change traces a
    new function instead of training with stale ones."""
    return [
        (
            id(model.optimizer),
            [
                repr(layer.kernel_regularizer.get_config())
                for layer in all_layers(model)
                if getattr(layer, "kernel_regularizer", None) is not None
            ],
        )
        for model in models
    ]


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
    one jitted train step. XLA:CPU runs convolutions inside a scan about
    ten times slower than the same step called alone (one 20-label fit of
    the paper's CNN: 14.6 s as a scan, 1.2 s as this loop; README,
    "Fitting many runs"), so on a CPU the loop is the faster compiled
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


def _jax_fit(model, batch_size):
    import jax
    import jax.numpy as jnp

    if backend.has_accelerator():
        epoch = jax.jit(_jax_epoch(model, batch_size))
    else:
        epoch = _jax_stepper(model, batch_size)

    def fit(target, x, y, orders):
        state = _jax_state(target)
        x, y = jnp.asarray(x), jnp.asarray(y)
        # Epoch by epoch, each waited for (JAX would queue many ahead):
        # Ctrl-C is heard between two, and the model keeps the epochs it
        # finished, as under TensorFlow.
        with deferred_interrupt() as stop:
            try:
                for order in orders:
                    stop.check()
                    state = jax.block_until_ready(epoch(state, x, y, order))
            finally:
                _assign(_groups(target), state)

    return fit


def _jax_lockstep(models, batch_size):
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
        with deferred_interrupt() as stop:
            try:
                for index in range(orders.shape[1]):
                    stop.check()
                    stacked = jax.block_until_ready(
                        epoch(stacked, xs, ys, orders[:, index])
                    )
            finally:
                for index, model in enumerate(models):
                    _assign(_groups(model), jax.tree_util.tree_map(
                        lambda value, index=index: value[index], stacked
                    ))

    return fit


def _assign(groups, values):
    for group, group_values in zip(groups, values, strict=True):
        for variable, value in zip(group, group_values, strict=True):
            variable.assign(value)


def _by_epoch(epoch, x, y, orders):
    """One call of the traced `epoch` per epoch, Ctrl-C honoured between
    them. The concrete function skips the signature matching of a
    `tf.function` call: 50 epochs cost 11% more than one call of them all
    at 20 labels, 1% at 200 (benchmarks/engine.py's CNN, 2 CPU cores)."""
    import tensorflow as tf

    if not len(orders):
        return
    step = epoch.get_concrete_function(x, y, tf.constant(orders[0]))
    with deferred_interrupt() as stop:
        for order in orders:
            stop.check()
            step(x, y, tf.constant(order))


def _tensorflow_fit(model, batch_size):
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


def _tensorflow_lockstep(models, batch_size):
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
