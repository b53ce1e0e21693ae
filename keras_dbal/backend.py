"""The one module that knows which Keras backend is running.

Everything else in keras_dbal is written with `keras.ops`. What cannot be:
compiling a function (`tf.function` under TensorFlow, `jax.jit` under JAX)
and drawing random bits from a seed that is itself a tensor, so that a
compiled function takes a new seed per call without being traced again.
TensorFlow is imported only under the TensorFlow backend.
"""

import keras


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


def fold_in(seed, data):
    """A new seed pair from an int32 seed pair `(2,)` and an integer."""
    if name() == "tensorflow":
        import tensorflow as tf

        return tf.random.experimental.stateless_fold_in(seed, data)
    import jax

    key = keras.ops.cast(seed, "uint32")
    return keras.ops.cast(jax.random.fold_in(key, data), "int32")


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


def fit_inputs(x, y, batch_size, seed):
    """Keyword arguments for `model.fit` on in-memory arrays.

    Keras's TensorFlow trainer rebuilds an elaborate input pipeline for
    numpy arrays every epoch (about 25 ms on 2 CPU cores), which dominates
    training on the small labelled sets of active learning. A plain
    shuffled `tf.data` pipeline built once gives the same batches at about
    a sixth of the cost. Other backends take the arrays as they are.

    Args:
        x, y: The labelled images and labels.
        batch_size: Batch size (Keras's default, 32, when None).
        seed: Integer seed of the per-epoch shuffle, or None.
    """
    batch_size = 32 if batch_size is None else batch_size
    if name() != "tensorflow":
        return {"x": x, "y": y, "batch_size": batch_size, "shuffle": True}
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    dataset = dataset.shuffle(
        len(x), seed=seed, reshuffle_each_iteration=True
    )
    # Already shuffled: Keras would only warn that it ignores `shuffle`.
    return {"x": dataset.batch(batch_size), "shuffle": False}
