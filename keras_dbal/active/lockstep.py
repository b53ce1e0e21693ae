"""Many active-learning runs of one experiment, advanced in lockstep.

In the protocol of Gal et al. (2017) every run of an experiment (each
acquisition function, Bayesian CNN or deterministic twin, seed) holds the
same number of labels at the same round. So one round of all K runs can
be trained together: `fit_together` refits the K learners' models in one
of three ways, all on the same epoch orders and so to the same weights
(up to float rounding):

- `"sequential"`: each learner's own `model.fit`, one after another (the
  reference, and the fastest way under JAX on a CPU);
- `"compiled"`: each model's whole fit in one compiled call
  (`CompiledFit`), which removes Keras's per-batch Python;
- `"lockstep"`: the K fits as one compiled call (`LockstepFit`): under JAX
  one `jax.vmap` over the K stacked states, the way to fill a GPU with the
  small batches of active learning.

`"auto"` picks by device from what `benchmarks/engine.py` measured (see
`STRATEGY_BY_DEVICE`). `simulate_together` is `simulate` for K learners:
each keeps its own labelled set, seeds, history and curve; only the fits
are shared.
"""

import keras

import keras_dbal.active.refit as refit
from keras_dbal import backend
from keras_dbal.active.compiled_fit import CompiledFit
from keras_dbal.active.compiled_fit import LockstepFit
from keras_dbal.active.compiled_fit import epoch_orders
from keras_dbal.sampling.model_split import all_layers

__all__ = ["STRATEGIES", "STRATEGY_BY_DEVICE", "choose", "fit_together"]

STRATEGIES = ("sequential", "compiled", "lockstep")

# One round's fit of K runs, each strategy against K sequential `model.fit`
# calls, measured by benchmarks/engine.py (README, "Training many runs").
# 2 CPU cores: TensorFlow's compiled fit 1.86x faster at 20 labels and 1.27x
# at 200, its lockstep fit slower than either at 200; under JAX the
# compiled fit is 10x slower than `model.fit` on XLA:CPU. A GPU runs the
# K small fits side by side only in lockstep.
STRATEGY_BY_DEVICE = {
    ("cpu", "tensorflow"): "compiled",
    ("cpu", "jax"): "sequential",
    ("gpu", "tensorflow"): "lockstep",
    ("gpu", "jax"): "lockstep",
}


def choose(strategy="auto"):
    """The strategy `fit_together` uses on this device.

    Args:
        strategy: `"auto"` or one of `STRATEGIES`.
    """
    if strategy == "auto":
        device = "gpu" if backend.has_accelerator() else "cpu"
        return STRATEGY_BY_DEVICE.get((device, backend.name()), "sequential")
    if strategy not in STRATEGIES:
        raise ValueError(
            "Invalid value received for argument `strategy`: expected "
            f"'auto' or one of {STRATEGIES}. Received: strategy={strategy!r}"
        )
    return strategy


def fit_together(learners, strategy="auto"):
    """Refit K learners, each on its own labelled set of one common size.

    Each learner is reset and its weight decay set as its own `fit` would
    (see `ActiveLearner.fit`), with the same seed, so its model ends where
    its own `fit` would have taken it.

    Args:
        learners: `ActiveLearner`s taught the same number of labels, with
            `fit_kwargs` of the same `epochs` and `batch_size` and nothing
            that needs Keras's own batching (see `refit.in_given_order`).
        strategy: `"auto"` or one of `STRATEGIES`.
    """
    strategy = choose(strategy)
    learners = list(learners)
    plans = [learner._start_fit({}) for learner in learners]
    _check_common(learners, [kwargs for _, kwargs in plans])
    if strategy == "sequential":
        for learner, (seed, kwargs) in zip(learners, plans, strict=True):
            refit.fit(learner.model, learner.x_labelled_,
                      learner.y_labelled_, kwargs, seed=seed)
        return
    kwargs = plans[0][1]
    epochs, batch_size = kwargs.get("epochs", 1), kwargs.get("batch_size", 32)
    num_labelled = learners[0].num_labelled
    orders = [epoch_orders(seed, num_labelled, epochs) for seed, _ in plans]
    if plans[-1][0] is not None:
        # The global seed as the last sequential fit leaves it.
        keras.utils.set_random_seed(plans[-1][0])
    if strategy == "compiled":
        for learner, order in zip(learners, orders, strict=True):
            CompiledFit(learner.model, batch_size)(
                learner.x_labelled_, learner.y_labelled_, order
            )
        return
    for group in _same_architecture(range(len(learners)), learners):
        LockstepFit([learners[i].model for i in group], batch_size)(
            [learners[i].x_labelled_ for i in group],
            [learners[i].y_labelled_ for i in group],
            [orders[i] for i in group],
        )


def _check_common(learners, fit_kwargs):
    counts = {learner.num_labelled for learner in learners}
    if len(counts) > 1:
        raise ValueError(
            "Runs fitted together must hold the same number of labels. "
            f"Received counts {sorted(counts)}."
        )
    for kwargs in fit_kwargs:
        if not refit.in_given_order(kwargs):
            raise ValueError(
                "Runs fitted together draw their own batches; fit_kwargs "
                "with validation_split, sample_weight, class_weight, "
                f"steps_per_epoch or shuffle=False cannot. Received: {kwargs}"
            )
        for name, default in (("epochs", 1), ("batch_size", 32)):
            if kwargs.get(name, default) != fit_kwargs[0].get(name, default):
                raise ValueError(
                    f"Runs fitted together need one `{name}`. Received "
                    f"{kwargs.get(name, default)} and "
                    f"{fit_kwargs[0].get(name, default)}."
                )


def _same_architecture(positions, learners):
    """Positions grouped by model architecture (layer kinds and shapes)."""
    groups = {}
    for position in positions:
        model = learners[position].model
        key = (
            tuple(type(layer).__name__ for layer in all_layers(model)),
            tuple(tuple(v.shape) for v in model.variables),
        )
        groups.setdefault(key, []).append(position)
    return list(groups.values())
