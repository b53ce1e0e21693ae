"""Training a model for all its epochs in compiled code.

`model.fit` runs Python around every epoch and batch: on the small
labelled sets of active learning that overhead is most of a fit, and it
keeps runs from being trained together. `CompiledFit` runs Keras's own
`train_step` (so the maths is the model's: its compiled loss with the
regularization losses, its optimizer's update, `MCDropout`'s training
masks from the layers' seed generators) for every batch of every epoch
in compiled code: one `tf.function` call per epoch (a loop over its
batches), or under JAX one jitted train step per batch, traced for a few
batch sizes only (`keras_dbal.training.batches`). Ctrl-C stops a long fit
between two epochs (`keras_dbal.utils.interrupts`).

The batch order is explicit: `epoch_orders(seed, n, epochs)` draws one
permutation per epoch from the seed, so a fit is reproducible whatever
Keras's own shuffling does. Each epoch runs its full batches and then its
partial last batch, as `model.fit` does.

`LockstepFit` trains K models of one architecture together, each on its
own labelled set of the same size and its own batch orders (the runs of
an experiment, which all hold the same number of labels at each round):
under JAX one `jax.vmap` of the train step over the K stacked states,
under TensorFlow the K train steps side by side in one `tf.function`.
"""

import collections
import functools
import json

import keras
import numpy as np

import keras_dbal.training.fit_steps as fit_steps
from keras_dbal import backend
from keras_dbal.regularizers import LabelScaledL2
from keras_dbal.sampling.model_split import all_layers
from keras_dbal.utils import validation

__all__ = [
    "CompiledFit",
    "FitCache",
    "LockstepFit",
    "epoch_orders",
    "fit_in_turn",
    "plan",
    "refusal",
    "same_model_groups",
]


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
                fit_steps.jax_fit(self.model, self.batch_size)
                if backend.name() == "jax"
                else fit_steps.tensorflow_fit(self.model, self.batch_size)
            )
        self._function(model, x, y, orders)


class FitCache:
    """The compiled fits of the last few model groups, kept from one round
    to the next: a fit's traced function is reused when the same models
    are fitted again, so an experiment traces once, not once per round.

    A cached fit holds its models, so no other model can take their
    `id`s while it is cached; at most `size` groups are kept.
    """

    def __init__(self, size=8):
        self.size = size
        self._fits = collections.OrderedDict()

    def get(self, models, batch_size, make):
        """The cached fit of `models` at `batch_size`, or `make(models,
        batch_size)`, cached."""
        key = (tuple(id(model) for model in models), batch_size)
        fit = self._fits.pop(key, None)
        if fit is None:
            fit = make(list(models), batch_size)
        self._fits[key] = fit
        while len(self._fits) > self.size:
            self._fits.popitem(last=False)
        return fit


_IN_TURN = FitCache(size=64)


def fit_in_turn(models, xs, ys, orders, batch_size):
    """Fit K compiled models of one architecture one after another, model
    k on `xs[k]` in `orders[k]`, each by a compiled fit. Under JAX, where
    a train step is a pure function of the state, the first model's step
    trains all K and compiles once; under TensorFlow each model traces its
    own.

    Args:
        models: K compiled, built Keras models with the same layers and
            optimizer; each is trained in place.
        xs, ys, orders: Per model, as for `CompiledFit`.
        batch_size: Images per step.
    """
    models = list(models)
    if backend.name() == "jax":
        shared = _IN_TURN.get(
            models, batch_size,
            lambda group, size: CompiledFit(group[0], size),
        )
        fits = [functools.partial(shared._fit_as, model) for model in models]
    else:
        fits = [
            _IN_TURN.get(
                [model], batch_size,
                lambda group, size: CompiledFit(group[0], size),
            )
            for model in models
        ]
    for fit, x, y, order in zip(fits, xs, ys, orders, strict=True):
        fit(x, y, order)


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
                fit_steps.jax_lockstep(self.models, self.batch_size)
                if backend.name() == "jax"
                else fit_steps.tensorflow_lockstep(self.models, self.batch_size)
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
    recompile replaces it) and every regularizer's settings but those of
    `LabelScaledL2`, whose c / N changes with the labelled count and
    which a compiled fit reads when it runs (TensorFlow) or passes to its
    step (JAX). A change traces a new function instead of training with
    stale ones."""
    return [
        (
            id(model.optimizer),
            [
                repr(layer.kernel_regularizer.get_config())
                for layer in all_layers(model)
                if getattr(layer, "kernel_regularizer", None) is not None
                and not isinstance(layer.kernel_regularizer, LabelScaledL2)
            ],
        )
        for model in models
    ]


# What a compiled fit reproduces of `model.fit`; anything else (callbacks,
# validation data, initial_epoch, ...) only `model.fit` does.
_COMPILABLE = frozenset({"epochs", "batch_size", "verbose", "shuffle"})


def refusal(models, fit_kwargs):
    """Why compiled fits cannot train these models with these `model.fit`
    arguments, or None."""
    first = fit_kwargs[0]
    for model, kwargs in zip(models, fit_kwargs, strict=True):
        extra = sorted(set(kwargs) - _COMPILABLE)
        if extra:
            return f"their fit_kwargs hold {extra}."
        if kwargs.get("shuffle", True) is not True:
            return "their fit_kwargs hold shuffle=False."
        if getattr(model, "steps_per_execution", 1) != 1:
            return "a model is compiled with steps_per_execution > 1."
        for name, default in (("epochs", 1), ("batch_size", None)):
            if kwargs.get(name, default) != first.get(name, default):
                return (
                    f"they need one `{name}`; received "
                    f"{kwargs.get(name, default)} and "
                    f"{first.get(name, default)}."
                )
    validation.positive_int(first.get("epochs", 1), "epochs")
    if first.get("batch_size") is not None:
        validation.positive_int(first["batch_size"], "batch_size")
    return None


def plan(xs, seeds, fit_kwargs):
    """`(orders, batch_size)` of compiled fits: each run's epoch orders
    from its seed, as `model.fit` would get them (`refit.fit`).

    Keras's global generator is left seeded with the last run's seed, as
    the last of the runs' own `model.fit` calls would leave it.
    """
    epochs = fit_kwargs[0].get("epochs", 1)
    batch_size = fit_kwargs[0].get("batch_size") or 32
    orders = [
        epoch_orders(seed, len(x), epochs)
        for x, seed in zip(xs, seeds, strict=True)
    ]
    if seeds[-1] is not None:
        keras.utils.set_random_seed(seeds[-1])
    return orders, batch_size


def same_model_groups(models):
    """Positions of models one train step serves: the same layers, shapes
    and settings (seeds and names aside), the same loss and optimizer
    settings. Under JAX a group runs its first model's step for all."""
    groups = {}
    for position, model in enumerate(models):
        try:
            key = json.dumps(
                [_without_seeds(model.get_config()),
                 _without_seeds(model.get_compile_config()),
                 [tuple(v.shape) for v in model.variables]],
                sort_keys=True, default=repr,
            )
        except (NotImplementedError, TypeError, ValueError):
            # A subclassed model without a config: only itself for sure.
            key = ("alone", position)
        groups.setdefault(key, []).append(position)
    return list(groups.values())


def _without_seeds(config):
    """A Keras config with every `seed` and `name` entry dropped."""
    if isinstance(config, dict):
        return {
            key: _without_seeds(value) for key, value in config.items()
            if key not in ("seed", "name")
        }
    if isinstance(config, list | tuple):
        return [_without_seeds(value) for value in config]
    return config
