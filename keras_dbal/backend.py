"""The one module that knows which Keras backend is running.

Everything else in keras_dbal is written with `keras.ops`. What cannot be:
compiling a function (`tf.function` under TensorFlow, `jax.jit` under JAX),
drawing random bits from a seed that is itself a tensor, so that a
compiled function takes a new seed per call without being traced again,
and telling a traced tensor from one whose values are known.
TensorFlow is imported only under the TensorFlow backend.
"""

import keras
import numpy as np


def name():
    """The name of the active Keras backend."""
    return keras.backend.backend()


def check_supported():
    """Raise if the active backend cannot run the compiled sampler."""
    if name() not in ("tensorflow", "jax"):
        raise ValueError(
            "keras_dbal's sampler runs under the 'tensorflow' and 'jax' "
            f"Keras backends. Received: KERAS_BACKEND={name()!r}"
        )


def has_accelerator():
    """Whether the backend computes on a GPU (or other accelerator)."""
    if name() == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    if name() == "jax":
        import jax

        return jax.default_backend() != "cpu"
    return False


def compile_function(function, variables):
    """Compile `function(*tensors)`, which reads the given Keras variables.

    Under TensorFlow the function becomes a `tf.function`, which reads the
    variables at call time. Under JAX it becomes a `jax.jit` whose
    arguments include the variables' current values, so weights changed by
    later training are seen without tracing again.

    Args:
        function: Python function of tensors, free of side effects on the
            variables.
        variables: The Keras variables the function reads.

    Returns:
        A callable taking the same arguments as `function`.
    """
    check_supported()
    if name() == "tensorflow":
        import tensorflow as tf

        quiet_retracing_notes()
        return tf.function(function)
    import jax

    variables = list(variables)

    def pure(values, *args):
        mapping = list(zip(variables, values, strict=True))
        with keras.StatelessScope(state_mapping=mapping):
            return function(*args)

    jitted = jax.jit(pure)

    def call(*args):
        return jitted([variable.value for variable in variables], *args)

    return call


class _RetracingNotes:
    """Drops TensorFlow's "triggered tf.function retracing" warnings about
    keras_dbal's own compiled functions: each learner, and each fit on a
    new labelled count, traces its own by design (other warnings pass)."""

    ours = ("FoldedForward", "_tensorflow_fit", "_tensorflow_lockstep")

    def filter(self, record):
        message = record.getMessage()
        return not (
            "triggered tf.function retracing" in message
            and any(name in message for name in self.ours)
        )


def quiet_retracing_notes():
    """Install `_RetracingNotes` on TensorFlow's logger, once."""
    import logging

    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _RetracingNotes) for f in logger.filters):
        logger.addFilter(_RetracingNotes())


def fold_in(seed, data):
    """A new seed pair from an int32 seed pair `(2,)` and an integer."""
    if name() == "tensorflow":
        import tensorflow as tf

        return tf.random.experimental.stateless_fold_in(seed, data)
    import jax

    key = keras.ops.cast(seed, "uint32")
    return keras.ops.cast(jax.random.fold_in(key, data), "int32")


def known_values(x):
    """`x` as a numpy array when its values are known (an array, or an
    eager tensor), None inside a traced function."""
    if not keras.ops.is_tensor(x):
        return np.asarray(x)
    if name() == "tensorflow":
        import tensorflow as tf

        return tf.get_static_value(x)
    import jax

    return None if isinstance(x, jax.core.Tracer) else np.asarray(x)


def stateless_bits(shape, seed):
    """Random uint32 words fully determined by an int32 seed pair `(2,)`."""
    if name() == "tensorflow":
        import tensorflow as tf

        return tf.random.stateless_uniform(
            shape, seed=seed, minval=None, maxval=None, dtype=tf.uint32
        )
    import jax

    key = keras.ops.cast(seed, "uint32")
    return jax.random.bits(key, shape, dtype="uint32")


def fit_inputs(x, y, orders, batch_size):
    """Keyword arguments for `model.fit` that visit `(x, y)` in given orders.

    Epoch e trains on `x[orders[e]]` in batches of `batch_size`, the last
    one smaller when the labelled set does not divide evenly, exactly as
    `CompiledFit` does; `model.fit` gets them with `epochs=len(orders)`.
    One stream carries every epoch's batches and `steps_per_epoch` cuts it
    into epochs, so Keras never rebuilds the pipeline (for numpy arrays its
    TensorFlow trainer does so every epoch, about 25 ms on 2 CPU cores,
    most of a fit on the small labelled sets of active learning).

    Args:
        x, y: The labelled images and labels.
        orders: `(epochs, N)` permutations of `range(N)`.
        batch_size: Images per step.
    """
    num_items = len(x)
    steps = -(-num_items // batch_size)
    if name() == "tensorflow":
        import tensorflow as tf

        x, y = tf.constant(x), tf.constant(y)
        positions = tf.data.Dataset.from_tensor_slices(orders).flat_map(
            lambda order: tf.data.Dataset.from_tensor_slices(order).batch(
                batch_size
            )
        )
        batches = positions.map(
            lambda chosen: (tf.gather(x, chosen), tf.gather(y, chosen))
        )
        return {"x": batches, "steps_per_epoch": steps, "shuffle": False}

    # An indexable dataset, not a generator: Keras may read a batch to
    # build the model and then start the stream again.
    batches = _OrderedBatches(x, y, orders, batch_size, steps)
    # Already in order: Keras would only warn that it ignores `shuffle`.
    return {"x": batches, "steps_per_epoch": steps, "shuffle": False}


class _OrderedBatches(keras.utils.PyDataset):
    """Batch i: step i % steps of epoch i // steps (see `fit_inputs`)."""

    def __init__(self, x, y, orders, batch_size, steps):
        super().__init__()
        self.x, self.y, self.orders = x, y, orders
        self.batch_size, self.steps = batch_size, steps

    def __len__(self):
        return len(self.orders) * self.steps

    def __getitem__(self, index):
        epoch, step = divmod(index, self.steps)
        start = step * self.batch_size
        chosen = self.orders[epoch][start:start + self.batch_size]
        return self.x[chosen], self.y[chosen]
