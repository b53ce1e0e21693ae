"""Many active-learning runs of one experiment, advanced in lockstep.

In the protocol of Gal et al. (2017) every run of an experiment (each
acquisition function, Bayesian CNN or deterministic twin, seed) holds the
same number of labels at the same round. So one round of all K runs can
be trained together: `fit_together` refits the K learners' models in one
of three ways, all on the same epoch orders and so to the same weights
(up to float rounding):

- `"sequential"`: each learner's own `model.fit`, one after another (the
  reference);
- `"compiled"`: each model's fit in compiled code, a call per epoch (per
  batch under JAX on a CPU) (`CompiledFit`), without the rest of
  `model.fit`'s Python (the fastest way under JAX on a CPU);
- `"lockstep"`: the K fits together, a call per epoch (`LockstepFit`):
  under JAX one `jax.vmap` over the K stacked states, the way to fill a
  GPU with the small batches of active learning; under TensorFlow the K
  train steps side by side (the fastest way on a CPU).

`"auto"` picks by device from what `benchmarks/engine.py` measured (see
`STRATEGY_BY_DEVICE`). `simulate_together` is `simulate` for K learners:
each keeps its own labelled set, seeds, history and curve; only the fits
are shared.
"""

import json

import keras

import keras_dbal.active.refit as refit
from keras_dbal import backend
from keras_dbal.active.compiled_fit import LockstepFit
from keras_dbal.active.compiled_fit import epoch_orders
from keras_dbal.active.compiled_fit import fit_in_turn
from keras_dbal.utils import validation

__all__ = ["STRATEGIES", "STRATEGY_BY_DEVICE", "choose", "fit_together"]

STRATEGIES = ("sequential", "compiled", "lockstep")

# One round's fit of K = 8 runs, each strategy against 8 `model.fit` calls,
# measured by benchmarks/engine.py on 2 CPU cores, first calls (which every
# round pays) at 20 / 200 labels (README, "Fitting many runs"): under
# TensorFlow lockstep 1.64x / 2.03x, compiled 1.49x / 1.81x; under JAX
# compiled 1.97x / 1.15x, lockstep 0.75x at 20 (XLA:CPU's vmapped
# convolutions are slow). The GPU choice is not measured yet: lockstep is
# what a GPU needs to run the small fits side by side, and
# benchmarks/device_run.sh measures before it chooses.
STRATEGY_BY_DEVICE = {
    ("cpu", "tensorflow"): "lockstep",
    ("cpu", "jax"): "compiled",
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
    (see `ActiveLearner.fit`), with the same seed, so its model is trained
    on the same batches as its own `fit` would train it. A learner with a
    `checkpoint_dir` then checkpoints, as after `teach`.

    Args:
        learners: `ActiveLearner`s taught the same number of labels.
        strategy: `"auto"` or one of `STRATEGIES`. The compiled strategies
            need every learner's `fit_kwargs` to hold only `epochs`,
            `batch_size` (the same for all), `verbose` and `shuffle=True`,
            and models compiled with `steps_per_execution=1`; otherwise
            `"auto"` fits them sequentially and the others raise.

    Raises:
        ValueError: no learners, one twice, different label counts, or a
            compiled strategy the learners' fit arguments do not allow.
    """
    learners = list(learners)
    _check_common(learners)
    requested, strategy = strategy, choose(strategy)
    refusal = strategy != "sequential" and _not_compilable(learners)
    if refusal:
        if requested != "auto":
            raise ValueError(
                f"strategy={strategy!r} cannot fit these runs: {refusal} "
                "Use strategy='sequential' (each learner's own model.fit)."
            )
        strategy = "sequential"
    plans = [learner._start_fit({}) for learner in learners]
    if strategy == "sequential":
        for learner, (seed, kwargs) in zip(learners, plans, strict=True):
            refit.fit(learner.model, learner.x_labelled_,
                      learner.y_labelled_, kwargs, seed=seed)
    else:
        _compiled_fits(learners, plans, strategy)
    for learner in learners:
        # Counted once trained, so a failed fit is retried with its seed;
        # and checked for a model left at chance, as its own fit is.
        learner._finish_fit()
        if learner._store is not None:
            learner._store.write(learner)


def _compiled_fits(learners, plans, strategy):
    kwargs = plans[0][1]
    epochs = kwargs.get("epochs", 1)
    batch_size = kwargs.get("batch_size") or 32
    num_labelled = learners[0].num_labelled
    orders = [epoch_orders(seed, num_labelled, epochs) for seed, _ in plans]
    if plans[-1][0] is not None:
        # The global seed as the last sequential fit leaves it.
        keras.utils.set_random_seed(plans[-1][0])
    for group in _same_model(learners):
        models = [learners[i].model for i in group]
        xs = [learners[i].x_labelled_ for i in group]
        ys = [learners[i].y_labelled_ for i in group]
        group_orders = [orders[i] for i in group]
        if strategy == "compiled":
            fit_in_turn(models, xs, ys, group_orders, batch_size)
        else:
            LockstepFit(models, batch_size)(xs, ys, group_orders)


def _check_common(learners):
    if not learners:
        raise ValueError("Received no learners to fit.")
    if len({id(learner) for learner in learners}) < len(learners):
        raise ValueError("Received the same learner more than once.")
    for learner in learners:
        learner._check_taught()
    counts = {learner.num_labelled for learner in learners}
    if len(counts) > 1:
        raise ValueError(
            "Runs fitted together must hold the same number of labels. "
            f"Received counts {sorted(counts)}."
        )


# What a compiled fit reproduces of `model.fit`; anything else (callbacks,
# validation data, initial_epoch, ...) only `model.fit` does.
_COMPILABLE = frozenset({"epochs", "batch_size", "verbose", "shuffle"})


def _not_compilable(learners):
    """Why the compiled strategies cannot fit these learners, or None."""
    first = learners[0].fit_kwargs
    for learner in learners:
        kwargs = learner.fit_kwargs
        extra = sorted(set(kwargs) - _COMPILABLE)
        if extra:
            return f"their fit_kwargs hold {extra}."
        if kwargs.get("shuffle", True) is not True:
            return "their fit_kwargs hold shuffle=False."
        if getattr(learner.model, "steps_per_execution", 1) != 1:
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


def _same_model(learners):
    """Positions of learners whose models one train step serves: the same
    layers, shapes and settings (seeds and names aside), the same loss
    and optimizer settings. Under JAX a lockstep group runs its first
    model's step for all."""
    groups = {}
    for position, learner in enumerate(learners):
        model = learner.model
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
