"""Training a model for all its epochs in one compiled call.

`model.fit` runs Python around every epoch and batch: on the small
labelled sets of active learning that overhead is most of a fit, and it
keeps runs from being trained together. `CompiledFit` runs Keras's own
`train_step` (so the maths is the model's: its compiled loss with the
regularization losses, its optimizer's update, `MCDropout`'s training
masks from the layers' seed generators) for every batch of every epoch
inside one `jax.jit` (a scan over epochs and batches) or one
`tf.function` (a loop over them).

The batch order is explicit: `epoch_orders(seed, n, epochs)` draws one
permutation per epoch from the seed, so a fit is reproducible whatever
Keras's own shuffling does. Each epoch runs its full batches and then its
partial last batch, as `model.fit` does.

`LockstepFit` trains K models of one architecture together, each on its
own labelled set of the same size and its own batch orders (the runs of
an experiment, which all hold the same number of labels at each round):
under JAX one `jax.vmap` of the scan over the K stacked states, under
TensorFlow the K train steps side by side in one `tf.function`.
"""

import keras
import numpy as np

from keras_dbal import backend
from keras_dbal.sampling.model_split import all_layers
from keras_dbal.utils import validation

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
    """Fits a compiled model for all epochs of given batch orders at once.

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
        x = np.asarray(x, dtype=keras.backend.floatx())
        y = np.asarray(y)
        orders = np.asarray(orders, dtype="int32")
        if orders.ndim != 2 or orders.shape[1] != len(x) or len(y) != len(x):
            raise ValueError(
                "Invalid value received for argument `orders`: expected "
                f"(epochs, {len(x)}) positions for {len(x)} images and "
                f"{len(y)} labels. Received shape {orders.shape}."
            )
        _prepare(self.model, x, y)
        key = _trace_key([self.model])
        if self._function is None or key != self._key:
            self._key = key
            self._function = (
                _jax_fit(self.model, self.batch_size)
                if backend.name() == "jax"
                else _tensorflow_fit(self.model, self.batch_size)
            )
        self._function(x, y, orders)


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


def _jax_epochs(model, batch_size):
    """The pure function `(state, x, y, orders) -> state` of one fit."""
    import jax

    def epochs(state, x, y, orders):
        full, last = _batches(x.shape[0], batch_size)

        def step(state, batch):
            return model.train_step(state, batch)[1], None

        def epoch(state, order):
            xs, ys = x[order], y[order]
            if full:
                cut = full * batch_size
                state, _ = jax.lax.scan(step, state, (
                    xs[:cut].reshape((full, batch_size) + xs.shape[1:]),
                    ys[:cut].reshape((full, batch_size) + ys.shape[1:]),
                ))
            if last:
                state, _ = step(state, (xs[-last:], ys[-last:]))
            return state, None

        state, _ = jax.lax.scan(epoch, state, orders)
        return state

    return epochs


def _groups(model):
    """The variables of a JAX train step's state, in its order."""
    return (
        model.trainable_variables,
        model.non_trainable_variables,
        model.optimizer.variables,
        model.metrics_variables,
    )


def _jax_fit(model, batch_size):
    import jax

    jitted = jax.jit(_jax_epochs(model, batch_size))

    def fit(x, y, orders):
        groups = _groups(model)
        state = tuple([v.value for v in group] for group in groups)
        _assign(groups, jitted(state, x, y, orders))

    return fit


def _jax_lockstep(models, batch_size):
    import jax
    import jax.numpy as jnp

    # The first model's step is pure: it serves every run's state.
    jitted = jax.jit(jax.vmap(_jax_epochs(models[0], batch_size)))

    def fit(xs, ys, orders):
        states = [
            tuple([v.value for v in group] for group in _groups(model))
            for model in models
        ]
        stacked = jax.tree_util.tree_map(
            lambda *values: jnp.stack(values), *states
        )
        stacked = jitted(stacked, xs, ys, orders)
        for index, model in enumerate(models):
            _assign(_groups(model), jax.tree_util.tree_map(
                lambda value, index=index: value[index], stacked
            ))

    return fit


def _assign(groups, values):
    for group, group_values in zip(groups, values, strict=True):
        for variable, value in zip(group, group_values, strict=True):
            variable.assign(value)


def _tensorflow_fit(model, batch_size):
    import tensorflow as tf

    backend.quiet_retracing_notes()

    @tf.function(reduce_retracing=True)
    def fit(x, y, orders):
        num_items = tf.shape(x)[0]
        for epoch in tf.range(tf.shape(orders)[0]):
            order = orders[epoch]
            for start in tf.range(0, num_items, batch_size):
                positions = order[start:start + batch_size]
                model.train_step(
                    (tf.gather(x, positions), tf.gather(y, positions))
                )

    return fit


def _tensorflow_lockstep(models, batch_size):
    import tensorflow as tf

    backend.quiet_retracing_notes()

    @tf.function(reduce_retracing=True)
    def fit(xs, ys, orders):
        num_items = tf.shape(xs)[1]
        for epoch in tf.range(tf.shape(orders)[1]):
            for start in tf.range(0, num_items, batch_size):
                # The K steps are independent: TensorFlow may run them
                # side by side.
                for index, model in enumerate(models):
                    positions = orders[index, epoch, start:start + batch_size]
                    model.train_step((
                        tf.gather(xs[index], positions),
                        tf.gather(ys[index], positions),
                    ))

    return fit
